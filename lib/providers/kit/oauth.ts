import { OAuthTokens, SignInError, type TokenSource } from './remote';
import { bufferFetch } from './bufferFetch';

export interface RefreshGrantOptions {
	/** The token endpoint the refresh-token grant is posted to. */
	tokenUrl: string;
	clientId: string;
	clientSecret?: string;
	refreshToken: string;
	accessToken?: string;
	/** When `accessToken` expires, in ms since the epoch; without it the token is refreshed before the first call. */
	accessTokenExpiresAt?: number;
	/** Scopes to ask for again (Microsoft wants them on every refresh; Google keeps those granted). */
	scope?: string;
	/** Who issues the tokens, as SignInError words it ('Google', 'Microsoft'). */
	issuer: string;
	/** Refreshing this long before expiry lets concurrent calls share one refresh instead of meeting a 401 each. */
	marginMs: number;
	timeoutMs: number;
	/** What a 5xx or 429 of the token endpoint becomes: the cloud's own retryable error, not a refused credential. */
	serverError(response: Response): Promise<Error>;
	/** Some issuers (Microsoft) hand out a new refresh token with each access token: it is used from then on, and told here. */
	onRefreshToken?(refreshToken: string): void;
}

/**
 * An OAuth2 access token kept fresh with the refresh-token grant (RFC 6749 §6), for a cloud whose
 * client is a thin one on fetch. A refresh token the issuer rotates replaces the one given for the
 * rest of the run; both stay among the secrets that must not reach an error.
 */
export class RefreshGrant implements TokenSource {
	private accessToken?: string;
	private expiresAt?: number;
	private refreshToken: string;
	private readonly tokens: OAuthTokens;

	constructor(private readonly options: RefreshGrantOptions) {
		this.accessToken = options.accessToken;
		this.expiresAt = options.accessTokenExpiresAt;
		this.refreshToken = options.refreshToken;
		const given = options.refreshToken;
		this.tokens = new OAuthTokens(
			{
				token: () => this.accessToken,
				expiresAt: () => this.expiresAt,
				refresh: () => this.refresh(),
				secrets: () => [options.clientSecret ?? '', given, this.refreshToken],
			},
			options.marginMs,
		);
	}

	/** The access token to send, once `prepare` made sure of one. */
	get token(): string | undefined {
		return this.accessToken;
	}

	prepare(): Promise<string | undefined> {
		return this.tokens.prepare();
	}

	renew(used: string | undefined): Promise<void> {
		return this.tokens.renew(used);
	}

	secrets(): string[] {
		return this.tokens.secrets();
	}

	private async refresh(): Promise<void> {
		const { clientId, clientSecret, scope, issuer } = this.options;
		if (!this.refreshToken) throw new SignInError('invalid_grant', 'the credential holds no refresh token', issuer);
		const form = new URLSearchParams({ client_id: clientId, grant_type: 'refresh_token', refresh_token: this.refreshToken });
		if (clientSecret) form.set('client_secret', clientSecret);
		if (scope) form.set('scope', scope);
		const response = await bufferFetch(this.options.tokenUrl, {
			method: 'POST',
			headers: { 'content-type': 'application/x-www-form-urlencoded' },
			body: form,
			signal: AbortSignal.timeout(this.options.timeoutMs),
		});
		const body = (await response.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; refresh_token?: string; error?: string; error_description?: string };
		if (!response.ok || !body.access_token) {
			if (response.status >= 500 || response.status === 429) throw await this.options.serverError(response);
			throw new SignInError(body.error ?? `http${response.status}`, body.error_description ?? '', issuer);
		}
		this.accessToken = body.access_token;
		this.expiresAt = Date.now() + (body.expires_in ?? 3600) * 1000;
		if (body.refresh_token && body.refresh_token !== this.refreshToken) {
			this.refreshToken = body.refresh_token;
			this.options.onRefreshToken?.(body.refresh_token);
		}
	}
}
