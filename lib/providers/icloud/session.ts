/**
 * The signed-in iCloud web session every iCloud provider (Drive, Photos) works through.
 *
 * `ICloudSession` is what `signIn` / `completeSignIn` (auth.ts) hand back: the account's `dsid`, the
 * `webservices` URLs accountLogin gave (`drivews`, `docws`, `ckdatabasews`, `uploadimagews`…), and
 * `request`, which sends one call with the session's cookies and Apple's web headers and keeps the
 * cookies the answer sets. Cookies, tokens and the password never leave this object: a provider only
 * ever sees URLs and responses, and `secrets()` lists what its error redaction must strip.
 *
 * When Apple ends the web session (401, 421 "Missing X-APPLE-WEBAUTH-TOKEN cookie", 450), `request`
 * signs in again once with the password and the saved trust token, without a person, and repeats the
 * call; when the trust token no longer works that sign-in fails with `ICloudSignInError` kind
 * `code-needed`, which tells the person to enter a new code.
 *
 * Usage (a provider):
 *   const drivews = session.serviceUrl('drivews');
 *   const response = await session.request(`${drivews}/retrieveItemDetailsInFolders`, { method: 'POST', json: [...] });
 */

/** One of accountLogin's `webservices` entries. */
export interface WebService {
	url: string;
	status?: string;
	pcsRequired?: boolean;
	uploadUrl?: string;
}

export type WebServices = Record<string, WebService | undefined>;

/** What a credential keeps between runs: enough to sign in again without a person while Apple trusts it. */
export interface SavedSession {
	/** Apple's `X-Apple-TwoSV-Trust-Token`: lets a sign-in skip the code for about 30 days. */
	trustToken: string;
	/** When the person entered the code (ms since the epoch): the trust's 30 days count from here. */
	trustedAt: number;
	/** The iCloud web cookies of the last sign-in, reused while Apple accepts them (saves a sign-in per run). */
	cookies?: Record<string, string>;
	accountCountry?: string;
}

export interface ICloudRequestInit {
	method?: string;
	/** Sent as JSON (drivews, docws, setup). */
	json?: unknown;
	/** Raw body and its type (uploads, CloudKit's text/plain JSON). */
	body?: Buffer | string | ReadableStream | NodeJS.ReadableStream;
	contentType?: string;
	headers?: Record<string, string>;
	signal?: AbortSignal;
	/** Fetch's `duplex: 'half'`, needed for a streamed body. */
	streamed?: boolean;
}

export interface ICloudSession {
	readonly dsid: string;
	readonly webservices: WebServices;
	/** The URL of a web service; throws a clear error when the account does not have it active. */
	serviceUrl(key: string): string;
	/** Sends one authenticated call; re-signs in once (no person needed) when Apple ended the web session. */
	request(url: string, init?: ICloudRequestInit): Promise<Response>;
	/** Makes the account's PCS cookies available for an app (`iclouddrive`, `photos`) when Advanced Data Protection asks for them. */
	requestPcs(appName: string): Promise<void>;
	/** Values that must never appear in an error or log. */
	secrets(): string[];
	/** The state to keep in the credential after the run (the trust token, the current cookies). */
	saved(): SavedSession;
}

/** Apple's web client presents itself as Safari; a changed UA once cured 400/421 answers (rclone#8587). */
export const USER_AGENT =
	'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3.1 Safari/605.1.15';
export const WEB_ORIGIN = 'https://www.icloud.com';

/** Cookies by name; Apple's hosts share one `.icloud.com` jar, so domains and paths are not told apart. */
export class CookieJar {
	readonly values = new Map<string, string>();

	constructor(initial?: Record<string, string>) {
		for (const [name, value] of Object.entries(initial ?? {})) this.values.set(name, value);
	}

	absorb(response: Response): void {
		const headers = response.headers as Headers & { getSetCookie?: () => string[] };
		for (const line of headers.getSetCookie?.() ?? []) {
			const [pair, ...attributes] = line.split(';');
			const at = pair.indexOf('=');
			if (at <= 0) continue;
			const name = pair.slice(0, at).trim();
			const value = pair.slice(at + 1).trim();
			const expires = attributes.map((part) => part.trim()).find((part) => /^expires=/i.test(part) || /^max-age=/i.test(part));
			const gone = value === '' || (expires !== undefined && (/^max-age=0$/i.test(expires) || Date.parse(expires.slice(8)) < Date.now()));
			if (gone) this.values.delete(name);
			else this.values.set(name, value);
		}
	}

	header(): string {
		return [...this.values].map(([name, value]) => `${name}=${value}`).join('; ');
	}

	has(name: string): boolean {
		return this.values.has(name);
	}

	toJSON(): Record<string, string> {
		return Object.fromEntries(this.values);
	}
}

/** Builds fetch's init for one call with the web client's headers. */
export function webRequest(cookies: CookieJar, init: ICloudRequestInit = {}): RequestInit & { duplex?: 'half' } {
	const headers: Record<string, string> = {
		Origin: WEB_ORIGIN,
		Referer: `${WEB_ORIGIN}/`,
		'User-Agent': USER_AGENT,
		Accept: 'application/json, text/plain, */*',
		...init.headers,
	};
	const cookie = cookies.header();
	if (cookie) headers.Cookie = cookie;
	let body: RequestInit['body'];
	if (init.json !== undefined) {
		headers['Content-Type'] = init.contentType ?? 'application/json';
		body = JSON.stringify(init.json);
	} else if (init.body !== undefined) {
		if (init.contentType) headers['Content-Type'] = init.contentType;
		body = init.body as RequestInit['body'];
	}
	return { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, signal: init.signal, redirect: 'manual', ...(init.streamed ? { duplex: 'half' as const } : {}) };
}

/** Statuses with which Apple says the web session is over (rclone re-authenticates on 401/421; 450 is pyicloud's re-auth status). */
export const SESSION_ENDED = new Set([401, 421, 450]);
