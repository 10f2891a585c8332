import type { Pacer } from '../../core/pacer';

/** How a cloud's access token is kept fresh; the Remote asks before each call and after a refusal. */
export interface TokenSource {
	/** Makes sure a usable token is at hand; returns it (or undefined when the client keeps it itself). */
	prepare(): Promise<string | undefined>;
	/** The server refused `used`: get another one (shared by every call that held the same one). */
	renew(used: string | undefined): Promise<void>;
	/** Tokens and secrets that must never appear in an error. */
	secrets(): string[];
}

export interface RemoteOptions<C> {
	pacer: Pacer;
	tokens: TokenSource;
	/** Whether the server refused the access token (it ran out or was replaced before its announced expiry). */
	unauthorized(error: unknown): boolean;
	/** What a failed call becomes in the engine's typed errors; `redact` takes secrets out of any text kept. */
	mapError(error: unknown, context: C, redact: (text: string) => string): Error;
}

/**
 * One remote call as every cloud makes it: through the cloud's pacer (retries, Retry-After), with a
 * fresh access token, one renewal and one more try when the server refuses the token, and whatever
 * failed mapped to a typed error with no secret in it.
 */
export class Remote<C> {
	constructor(private readonly options: RemoteOptions<C>) {}

	call<T>(context: C, request: (attempt: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
		const { pacer, tokens, unauthorized, mapError } = this.options;
		return pacer.run(async (attempt) => {
			try {
				const used = await tokens.prepare();
				try {
					return await request(attempt);
				} catch (error) {
					if (!unauthorized(error)) throw error;
					await tokens.renew(used);
					return await request(attempt);
				}
			} catch (error) {
				throw mapError(error, context, (text) => this.redact(text));
			}
		}, signal);
	}

	redact(text: string): string {
		return this.options.tokens
			.secrets()
			.filter((secret) => secret.length >= 8)
			.reduce((clean, secret) => clean.split(secret).join('[redacted]'), text);
	}
}

/**
 * OAuth access tokens refreshed a margin before they expire, so concurrent calls share one refresh
 * instead of each meeting an expired token; a refused token is renewed once for all who held it.
 */
export class OAuthTokens implements TokenSource {
	private refreshing?: Promise<void>;

	constructor(
		private readonly client: {
			token(): string | undefined;
			/** Milliseconds since the epoch; undefined when unknown. */
			expiresAt(): number | undefined;
			refresh(): Promise<void>;
			secrets(): string[];
		},
		private readonly marginMs: number,
	) {}

	async prepare(): Promise<string | undefined> {
		const token = this.client.token();
		const expiresAt = this.client.expiresAt();
		if (!token || expiresAt === undefined || expiresAt - Date.now() <= this.marginMs) await this.renew(token);
		return this.client.token();
	}

	renew(stale: string | undefined): Promise<void> {
		if (this.refreshing) return this.refreshing;
		if (stale && this.client.token() !== stale) return Promise.resolve();
		this.refreshing = this.client.refresh().finally(() => (this.refreshing = undefined));
		return this.refreshing;
	}

	secrets(): string[] {
		return [...this.client.secrets(), this.client.token() ?? ''];
	}
}

/** A token endpoint refused to renew an access token (invalid_grant, invalid_client...); each cloud words it as an AuthenticationError. */
export class SignInError extends Error {
	constructor(
		readonly code: string,
		readonly description: string,
		issuer: string,
	) {
		super(`${issuer} refused to renew the access token (${code})`);
	}
}
