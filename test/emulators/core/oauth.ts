import type { IncomingMessage } from 'node:http';

/** What a client is given to sign in with: its app's id and secret, and the user's refresh token. */
export interface OAuthClientCredentials {
	clientId: string;
	clientSecret: string;
	refreshToken: string;
}

export interface IssuedToken {
	accessToken: string;
	expiresIn: number;
}

/** Why the token endpoint refused a refresh, as OAuth 2 names it; each cloud words and codes the answer its own way. */
export interface GrantRefusal {
	error: 'unsupported_grant_type' | 'invalid_client' | 'invalid_grant';
	/** For invalid_grant: the token was known, and revoked. */
	revoked?: boolean;
}

/** How a request's bearer token stands. */
export type TokenStanding = 'valid' | 'unknown' | 'revoked' | 'expired';

interface AccessToken {
	expiresAt: number;
	revoked: boolean;
	refreshToken?: string;
}

/**
 * The state behind an OAuth 2 token endpoint and the bearer check of every API call: clients,
 * refresh tokens, access tokens that expire, and revocation. Grants other than refresh_token (Google's
 * service-account assertions) stay with their cloud and call `issue`.
 */
export class OAuthTokens {
	private readonly accessTokens = new Map<string, AccessToken>();
	private readonly refreshTokens = new Map<string, { clientId: string; clientSecret: string; revoked: boolean }>();

	constructor(
		private readonly lifetimeSeconds: number,
		/** Access tokens look like the cloud's own (Google's `ya29.`, Dropbox's `sl.`), since clients may log or redact them by shape. */
		private readonly newAccessToken: () => string,
	) {}

	addClient(credentials: OAuthClientCredentials): OAuthClientCredentials {
		this.refreshTokens.set(credentials.refreshToken, { clientId: credentials.clientId, clientSecret: credentials.clientSecret, revoked: false });
		return credentials;
	}

	issue(refreshToken?: string, lifetimeSeconds = this.lifetimeSeconds): IssuedToken {
		const accessToken = this.newAccessToken();
		this.accessTokens.set(accessToken, { expiresAt: Date.now() + lifetimeSeconds * 1000, revoked: false, refreshToken });
		return { accessToken, expiresIn: lifetimeSeconds };
	}

	/** Answers a token request's form (see `tokenForm`): a grant_type=refresh_token one is the only kind handled here. */
	refresh(form: URLSearchParams): IssuedToken | GrantRefusal {
		if (form.get('grant_type') !== 'refresh_token') return { error: 'unsupported_grant_type' };
		const refreshToken = form.get('refresh_token') ?? '';
		const record = this.refreshTokens.get(refreshToken);
		if (!record) return { error: 'invalid_grant' };
		if (record.clientId !== form.get('client_id') || record.clientSecret !== form.get('client_secret')) return { error: 'invalid_client' };
		if (record.revoked) return { error: 'invalid_grant', revoked: true };
		return this.issue(refreshToken);
	}

	/** The standing of the bearer token in an Authorization header. */
	check(authorization: string | undefined): TokenStanding {
		const bearer = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
		const token = bearer === undefined ? undefined : this.accessTokens.get(bearer);
		if (!token) return 'unknown';
		if (token.revoked) return 'revoked';
		return token.expiresAt > Date.now() ? 'valid' : 'expired';
	}

	/** Every access token issued so far stops working, as when their hour has passed. */
	expireAll(): void {
		for (const token of this.accessTokens.values()) token.expiresAt = 0;
	}

	/** The user took the app's access back: one refresh token and what was issued from it, or (with none named) every token. */
	revoke(refreshToken?: string): void {
		for (const [token, record] of this.refreshTokens) if (refreshToken === undefined || token === refreshToken) record.revoked = true;
		for (const token of this.accessTokens.values()) if (refreshToken === undefined || token.refreshToken === refreshToken) token.revoked = true;
	}

	/** Every access token issued, valid or not, for tests that check that none leaks. */
	issued(): string[] {
		return [...this.accessTokens.keys()];
	}
}

/** A token request's parameters wherever the client put them: query string, form body, or HTTP Basic for the client's id and secret. */
export function tokenForm(request: IncomingMessage, url: URL, body: Buffer): URLSearchParams {
	const form = new URLSearchParams(url.search);
	for (const [key, value] of new URLSearchParams(body.toString('utf8'))) form.set(key, value);
	const basic = /^Basic (.+)$/.exec(request.headers.authorization ?? '')?.[1];
	if (basic) {
		const [id, secret] = Buffer.from(basic, 'base64').toString('utf8').split(':');
		form.set('client_id', id);
		form.set('client_secret', secret);
	}
	return form;
}
