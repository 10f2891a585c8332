import { sign } from 'node:crypto';
import type { drive_v3 } from '@googleapis/drive';
import type { Readable } from 'node:stream';
import { bufferFetch, nodeBodyOf, OAuthTokens, requestSignal, SignInError } from './kit';

/**
 * The Drive API v3 calls this package makes, as a thin client on the kit's fetch: the same methods,
 * parameters and `{ data }` answers as `@googleapis/drive`, whose types it keeps, without loading it.
 * The SDK, google-auth-library and gaxios cost a Drive run about 26 MiB of RSS (gaxios builds a fetch
 * Headers object per request, which loads Node's bundled undici); Drive is REST with JSON, the
 * resumable upload was already driven by hand, and the pacer was already the one place that retries.
 */

/** The response headers read here (a fetch Headers object or a lighter one with `get`). */
export interface ResponseHeaders {
	get(name: string): string | null;
}

/**
 * A Drive or token-endpoint answer other than the ones asked for, or no answer at all (`status`
 * undefined). It holds the status, the headers (Retry-After) and the parsed error body; never the
 * request, which carries the access token.
 */
export class DriveHttpError extends Error {
	constructor(
		message: string,
		readonly status?: number,
		readonly headers?: ResponseHeaders,
		/** The answer's body: Google's JSON error envelope when it parses, its text otherwise. */
		readonly body?: unknown,
		options?: ErrorOptions,
	) {
		super(message, options);
		this.name = 'DriveHttpError';
	}
}

function parsed(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return text;
	}
}

/** The error a refused answer stands for; its body is read for Google's reason and message. */
export async function driveHttpError(response: Response): Promise<DriveHttpError> {
	const text = await response.text().catch(() => '');
	return new DriveHttpError(`Google answered HTTP ${response.status}`, response.status, response.headers, parsed(text));
}

export interface DriveAnswer<T> {
	data: T;
	status: number;
	headers: ResponseHeaders;
}

export interface CallOptions {
	signal?: AbortSignal;
	headers?: Record<string, string>;
}

export interface RawRequest extends CallOptions {
	/** Absolute (an upload session), or below the API root. */
	url: string;
	method: string;
	params?: object;
	/** An object is sent as JSON; a Buffer as it is. */
	data?: object | Buffer;
	/** Statuses answered as data rather than as a DriveHttpError; 2xx when not given. */
	accept?: (status: number) => boolean;
}

/** The SDK's parameters without the ones only the SDK reads (its auth client, its media upload). */
type Params<P> = Omit<P, 'auth' | 'media'>;

const isOk = (status: number) => status >= 200 && status < 300;
/** Who is calling, for Google's request logs (the SDK named itself, google-api-nodejs-client). */
const USER_AGENT = 'n8n-nodes-cloudsync';

/** The access token the client sends; the Remote around each call makes sure it is fresh. */
export interface AccessToken {
	readonly token: string | undefined;
}

/** How long a call may wait for its answer (a download's body, which lasts as long as its bytes, is not timed). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5 * 60_000;

export class DriveApi {
	constructor(
		/** Ends with '/': Google's https://www.googleapis.com/ or an emulator's. */
		private readonly rootUrl: string,
		private readonly credentials: AccessToken,
		private readonly timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
	) {}

	/** One request; the answer's JSON (or text, '' when it has none) as `data`. */
	async request<T>(request: RawRequest): Promise<DriveAnswer<T>> {
		// The timer covers the answer's body too (a listing page may be streamed): a stalled call is asked again.
		const timing = requestSignal(this.timeoutMs, request.signal);
		try {
			const response = await this.send({ ...request, signal: timing.signal });
			const text = await response.text().catch((cause: unknown) => {
				throw new DriveHttpError('The answer from Google Drive broke off', undefined, undefined, undefined, { cause });
			});
			return { data: (text === '' ? '' : parsed(text)) as T, status: response.status, headers: response.headers };
		} finally {
			timing.clear();
		}
	}

	/** One request whose answer's body is a stream of bytes (a download or an export), as node:http delivers it. */
	async stream(request: RawRequest): Promise<DriveAnswer<Readable>> {
		// Timed until the answer's head is in; the body then answers to the caller's signal alone.
		const timing = requestSignal(this.timeoutMs, request.signal);
		try {
			const response = await this.send({ ...request, signal: timing.signal });
			timing.clearTimer();
			const body = nodeBodyOf(response);
			if (!body) throw new DriveHttpError('Google answered a download without a body', response.status, response.headers);
			body.once('close', timing.clear);
			return { data: body, status: response.status, headers: response.headers };
		} catch (error) {
			timing.clear();
			throw error;
		}
	}

	private async send({ url, method, params, data, headers: given, accept = isOk, signal }: RawRequest): Promise<Response> {
		const target = new URL(/^https?:/.test(url) ? url : `${this.rootUrl}${url}`);
		for (const [name, value] of Object.entries(params ?? {})) {
			if (value !== undefined && value !== null && typeof value !== 'object') target.searchParams.set(name, String(value));
		}
		// Plain objects: no fetch Headers, Request or Response is made here (see the top of this file).
		const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...given };
		if (this.credentials.token) headers.authorization = `Bearer ${this.credentials.token}`;
		let body: string | Buffer | undefined;
		if (Buffer.isBuffer(data)) body = data;
		else if (data !== undefined) {
			if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json; charset=UTF-8';
			body = JSON.stringify(data);
		}
		let response: Response;
		try {
			response = await bufferFetch(target, { method, headers, body, signal });
		} catch (cause) {
			// No answer: a dropped or refused connection, or the caller's abort (which the pacer tells apart).
			throw new DriveHttpError('The connection to Google Drive failed', undefined, undefined, undefined, { cause });
		}
		if (accept(response.status)) return response;
		throw await driveHttpError(response);
	}

	private json<T>(method: string, url: string, params: object, options: CallOptions = {}, data?: object): Promise<DriveAnswer<T>> {
		return this.request<T>({ url, method, params, data, ...options });
	}

	readonly files = {
		get: ({ fileId, ...params }: Params<drive_v3.Params$Resource$Files$Get>, options?: CallOptions) =>
			this.json<drive_v3.Schema$File>('GET', `drive/v3/files/${encodeURIComponent(fileId!)}`, params, options),
		/** files.get with alt=media: the file's bytes. */
		download: ({ fileId, ...params }: Params<drive_v3.Params$Resource$Files$Get>, options: CallOptions = {}) =>
			this.stream({ url: `drive/v3/files/${encodeURIComponent(fileId!)}`, method: 'GET', params: { ...params, alt: 'media' }, ...options }),
		export: ({ fileId, ...params }: Params<drive_v3.Params$Resource$Files$Export>, options: CallOptions = {}) =>
			this.stream({ url: `drive/v3/files/${encodeURIComponent(fileId!)}/export`, method: 'GET', params, ...options }),
		list: (params: Params<drive_v3.Params$Resource$Files$List>, options?: CallOptions) => this.json<drive_v3.Schema$FileList>('GET', 'drive/v3/files', params, options),
		create: ({ requestBody, ...params }: Params<drive_v3.Params$Resource$Files$Create>, options?: CallOptions) =>
			this.json<drive_v3.Schema$File>('POST', 'drive/v3/files', params, options, requestBody ?? {}),
		update: ({ fileId, requestBody, ...params }: Params<drive_v3.Params$Resource$Files$Update>, options?: CallOptions) =>
			this.json<drive_v3.Schema$File>('PATCH', `drive/v3/files/${encodeURIComponent(fileId!)}`, params, options, requestBody ?? {}),
		copy: ({ fileId, requestBody, ...params }: Params<drive_v3.Params$Resource$Files$Copy>, options?: CallOptions) =>
			this.json<drive_v3.Schema$File>('POST', `drive/v3/files/${encodeURIComponent(fileId!)}/copy`, params, options, requestBody ?? {}),
		delete: ({ fileId, ...params }: Params<drive_v3.Params$Resource$Files$Delete>, options?: CallOptions) =>
			this.json<void>('DELETE', `drive/v3/files/${encodeURIComponent(fileId!)}`, params, options),
		generateIds: (params: Params<drive_v3.Params$Resource$Files$Generateids>, options?: CallOptions) =>
			this.json<drive_v3.Schema$GeneratedIds>('GET', 'drive/v3/files/generateIds', params, options),
	};

	readonly about = {
		get: (params: Params<drive_v3.Params$Resource$About$Get>, options?: CallOptions) => this.json<drive_v3.Schema$About>('GET', 'drive/v3/about', params, options),
	};

	readonly changes = {
		getStartPageToken: (params: Params<drive_v3.Params$Resource$Changes$Getstartpagetoken>, options?: CallOptions) =>
			this.json<drive_v3.Schema$StartPageToken>('GET', 'drive/v3/changes/startPageToken', params, options),
		list: (params: Params<drive_v3.Params$Resource$Changes$List>, options?: CallOptions) => this.json<drive_v3.Schema$ChangeList>('GET', 'drive/v3/changes', params, options),
	};
}

// ---------------------------------------------------------------------------------------------
// Service accounts

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** The audience Google wants in an assertion, wherever it is posted (an emulator included). */
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
/** Google accepts assertions valid for at most an hour. */
const ASSERTION_SECONDS = 3600;

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** A service account's signed assertion for the JWT bearer grant (RFC 7523), RS256 with its private key. */
export function serviceAccountAssertion(clientEmail: string, privateKeyPem: string, scope: string, now = Date.now()): string {
	const issuedAt = Math.floor(now / 1000);
	const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
	const claims = base64url(JSON.stringify({ iss: clientEmail, scope, aud: GOOGLE_TOKEN_URL, iat: issuedAt, exp: issuedAt + ASSERTION_SECONDS }));
	const signature = sign('RSA-SHA256', Buffer.from(`${header}.${claims}`), privateKeyPem);
	return `${header}.${claims}.${base64url(signature)}`;
}

export interface ServiceAccountGrantOptions {
	clientEmail: string;
	/** A PEM that signs (checked before). */
	privateKeyPem: string;
	scope: string;
	tokenUrl: string;
	marginMs: number;
	timeoutMs: number;
}

/**
 * Access tokens for a service account, from signed assertions (Google's server-to-server OAuth).
 * A refusal is a SignInError, as a refresh-token grant's is; a 5xx or 429 a DriveHttpError to retry.
 */
export class ServiceAccountGrant extends OAuthTokens {
	private readonly current: { token?: string; expiresAt?: number };

	constructor(options: ServiceAccountGrantOptions) {
		const current: { token?: string; expiresAt?: number } = {};
		super(
			{
				token: () => current.token,
				expiresAt: () => current.expiresAt,
				refresh: async () => void Object.assign(current, await ServiceAccountGrant.signIn(options)),
				secrets: () => [],
			},
			options.marginMs,
		);
		this.current = current;
	}

	/** The access token to send, once `prepare` made sure of one. */
	get token(): string | undefined {
		return this.current.token;
	}

	private static async signIn(options: ServiceAccountGrantOptions): Promise<{ token: string; expiresAt: number }> {
		const { clientEmail, privateKeyPem, scope, tokenUrl, timeoutMs } = options;
		const form = new URLSearchParams({ grant_type: JWT_BEARER, assertion: serviceAccountAssertion(clientEmail, privateKeyPem, scope) });
		const request = requestSignal(timeoutMs, undefined);
		let response: Response;
		let text: string;
		try {
			response = await bufferFetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(), signal: request.signal });
			text = await response.text();
		} catch (cause) {
			throw new DriveHttpError('The connection to Google Drive failed', undefined, undefined, undefined, { cause });
		} finally {
			request.clear();
		}
		const body = parsed(text) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
		if (!response.ok || typeof body !== 'object' || !body?.access_token) {
			if (response.status >= 500 || response.status === 429) throw new DriveHttpError(`Google answered HTTP ${response.status}`, response.status, response.headers, body);
			throw new SignInError(body?.error ?? `http${response.status}`, body?.error_description ?? '', 'Google');
		}
		return { token: body.access_token, expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000 };
	}
}
