import type { Readable } from 'node:stream';
import {
	AuthenticationError,
	CloudSyncError,
	NotFoundError,
	PermissionError,
	QuotaExhaustedError,
	RateLimitError,
	StorageFullError,
	TransientError,
} from '../core/errors';
import { Pacer, classifyError, retryAfterOf } from '../core/pacer';
import { baseName } from '../core/paths';
import { bufferFetch, RefreshGrant, Remote, SignInError } from './kit';

/**
 * What the 2025 Library API still lets an app do [doc] developers.google.com/photos/support/updates:
 * add media and albums (appendonly) and read back only what this app created (readonly.appcreateddata).
 */
export const GOOGLE_PHOTOS_SCOPES = [
	'https://www.googleapis.com/auth/photoslibrary.appendonly',
	'https://www.googleapis.com/auth/photoslibrary.readonly.appcreateddata',
];
/** mediaItems:batchCreate refuses more ("Request must have less than 50 items."): gphotospy#6. */
export const MAX_ITEMS_PER_CREATE = 50;
/** An album holds at most 20,000 items [doc] mediaItems/batchCreate. */
export const ALBUM_CAPACITY = 20_000;
/** batchCreate descriptions are at most 1,000 characters, file names 255. */
const MAX_DESCRIPTION = 1000;
const MAX_FILE_NAME = 255;
const API = 'https://photoslibrary.googleapis.com';
const TOKEN_URL = 'https://oauth2.googleapis.com/token';
const TOKEN_MARGIN_MS = 5 * 60_000;
const DEFAULT_TIMEOUT_MS = 10 * 60_000;
/** Google's best practice: 429s are retried after at least 30 s when the server names no time [doc] best practices. */
const RATE_LIMIT_WAIT_MS = 30_000;
const MB = 1024 * 1024;

/** What Google Photos takes, by extension [doc] /photos/library/guides/upload-media (RAW: the common camera formats). */
const PHOTO_TYPES: Record<string, string> = {
	avif: 'image/avif',
	bmp: 'image/bmp',
	gif: 'image/gif',
	heic: 'image/heic',
	heif: 'image/heif',
	ico: 'image/x-icon',
	jpg: 'image/jpeg',
	jpeg: 'image/jpeg',
	png: 'image/png',
	tif: 'image/tiff',
	tiff: 'image/tiff',
	webp: 'image/webp',
	dng: 'image/x-adobe-dng',
	cr2: 'image/x-canon-cr2',
	cr3: 'image/x-canon-cr3',
	nef: 'image/x-nikon-nef',
	arw: 'image/x-sony-arw',
	orf: 'image/x-olympus-orf',
	rw2: 'image/x-panasonic-rw2',
	raf: 'image/x-fuji-raf',
};
const VIDEO_TYPES: Record<string, string> = {
	'3gp': 'video/3gpp',
	'3g2': 'video/3gpp2',
	asf: 'video/x-ms-asf',
	avi: 'video/x-msvideo',
	divx: 'video/divx',
	m2t: 'video/mp2t',
	m2ts: 'video/mp2t',
	m4v: 'video/x-m4v',
	mkv: 'video/x-matroska',
	mmv: 'video/mmv',
	mod: 'video/mpeg',
	mov: 'video/quicktime',
	mp4: 'video/mp4',
	mpg: 'video/mpeg',
	mts: 'video/mp2t',
	tod: 'video/mpeg',
	wmv: 'video/x-ms-wmv',
};
const PHOTO_MAX_BYTES = 200 * MB;
const VIDEO_MAX_BYTES = 20 * 1024 * MB;

const extensionOf = (name: string) => {
	const dot = name.lastIndexOf('.');
	return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
};

/** The media type Google Photos is told a file has; undefined when it takes no file of this kind. */
export function photosMediaType(name: string): string | undefined {
	const extension = extensionOf(baseName(name));
	return PHOTO_TYPES[extension] ?? VIDEO_TYPES[extension];
}

/** Why Google Photos will not take this file (its kind or size); undefined when it will. */
export function photosRefusal(name: string, size: number): string | undefined {
	const extension = extensionOf(baseName(name));
	if (size === 0) return 'it is empty';
	if (PHOTO_TYPES[extension]) return size > PHOTO_MAX_BYTES ? `photos are at most 200 MB in Google Photos; this one is ${size} bytes` : undefined;
	if (VIDEO_TYPES[extension]) return size > VIDEO_MAX_BYTES ? `videos are at most 20 GB in Google Photos; this one is ${size} bytes` : undefined;
	return `Google Photos takes only photos and videos, not ${extension ? `.${extension}` : 'files without an extension'}`;
}

export interface GooglePhotosCredentials {
	clientId: string;
	clientSecret: string;
	refreshToken: string;
	accessToken?: string;
	/** When `accessToken` expires, in ms since the epoch; without it the token is refreshed before the first call. */
	accessTokenExpiresAt?: number;
}

export interface GooglePhotosOptions {
	auth: GooglePhotosCredentials;
	/** The Library API's base URL (an emulator in tests; token refreshes go there too); unset, Google's. */
	apiBaseUrl?: string;
	pacer?: Pacer;
	requestTimeoutMs?: number;
}

export interface PhotosAlbum {
	id: string;
	title: string;
	productUrl?: string;
	/** How many items the album holds, as Google counts them. */
	mediaItemsCount: number;
}

export interface PhotosMediaItem {
	id: string;
	filename?: string;
	description?: string;
	productUrl?: string;
}

export interface NewMediaItem {
	uploadToken: string;
	fileName: string;
	description?: string;
}

/** One item of a batchCreate as Google answered it: HTTP 200 says nothing about each item. */
export type CreateResult =
	| { ok: true; uploadToken: string; mediaItem: PhotosMediaItem }
	| { ok: false; uploadToken: string; code: number; message: string; transient: boolean };

/** Status codes of a failed item worth trying again: ABORTED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE (google.rpc.Code). */
const TRANSIENT_ITEM_CODES = new Set([4, 8, 10, 13, 14]);

/** A Library API answer other than 2xx: Google's status (RESOURCE_EXHAUSTED...) and message, never the request. */
export class PhotosResponseError extends Error {
	constructor(
		readonly status: number,
		readonly googleStatus: string,
		readonly googleMessage: string,
		readonly headers: Headers,
	) {
		super(`Google Photos answered HTTP ${status} ${googleStatus}: ${googleMessage}`);
	}
}

async function photosError(response: Response): Promise<PhotosResponseError> {
	const text = await response.text().catch(() => '');
	let status = `http${response.status}`;
	let message = text.slice(0, 300);
	try {
		const body = JSON.parse(text) as { error?: { status?: string; message?: string } };
		status = body.error?.status ?? status;
		message = body.error?.message ?? message;
	} catch {
		// Not Google's JSON (a proxy's page): the status alone decides.
	}
	return new PhotosResponseError(response.status, status, message, response.headers);
}

/**
 * The daily quota answers 429 RESOURCE_EXHAUSTED like the per-minute one; only its words tell them
 * apart, and two wordings are seen: "limit 'All requests per day'" and "limit 'ApiCallsPerProjectPerDay'"
 * (rclone#3736, mrworf/photoframe#137).
 */
export const isDailyQuota = (message: string) => /per\s*day|perday|daily/i.test(message);

/** What a failed call becomes in the engine's typed errors; Google's status and message only. */
export function mapPhotosError(error: unknown, what: string, redact: (text: string) => string = (text) => text): Error {
	if (error instanceof CloudSyncError) return error;
	if (error instanceof SignInError) {
		const hint =
			error.code === 'invalid_client' || error.code === 'unauthorized_client'
				? { hint: 'Check the client id and client secret of the Google Photos credential, then reconnect it.' }
				: {};
		return new AuthenticationError(`Google refused to renew the Google Photos access token (${error.code}: ${redact(error.description).slice(0, 160)})`, hint);
	}
	if (error instanceof PhotosResponseError) {
		const detail = `${error.googleStatus}: ${redact(error.googleMessage).slice(0, 300)}`;
		const { status } = error;
		if (status === 401) return new AuthenticationError(`Google Photos refused the access token (${detail})`);
		if (status === 429 && isDailyQuota(error.googleMessage)) return new QuotaExhaustedError(`Google Photos' daily request quota is used up (${detail})`, { cause: error });
		if (status === 429) return new RateLimitError(`Google Photos asked to slow down while ${what} (${detail})`, { cause: error, retryAfterMs: retryAfterOf(error.headers) ?? RATE_LIMIT_WAIT_MS });
		if (status === 403 && /storage|quota/i.test(error.googleMessage)) return new StorageFullError(`The Google account's storage is full: ${what} failed (${detail})`, { cause: error });
		if (status === 403) {
			return new PermissionError(`Google Photos refused ${what} (${detail})`, {
				cause: error,
				hint: 'Reconnect the Google Photos credential and grant both Photos permissions it asks for; an album must have been created by this app (Google lets apps add only to their own albums since March 2025).',
			});
		}
		if (status === 404) return new NotFoundError(what, { cause: error });
		if (status === 408 || status >= 500) return new TransientError(`Google Photos failed with HTTP ${status} while ${what} (${detail})`, { cause: error, retryAfterMs: retryAfterOf(error.headers) });
		return new CloudSyncError(`Google Photos refused ${what} (HTTP ${status} ${detail})`, { cause: error });
	}
	if ((error as Error)?.name === 'TimeoutError') return new TransientError(`Google Photos did not answer in time while ${what}`, { cause: error });
	const message = redact(typeof (error as Error)?.message === 'string' ? (error as Error).message : String(error));
	const code = (error as { cause?: { code?: unknown } })?.cause?.code;
	if (classifyError(error).retryable || (error as Error)?.name === 'TypeError') {
		return new TransientError(`Google Photos could not be reached, or the connection broke (${typeof code === 'string' ? code : message}) while ${what}`, { cause: error });
	}
	return new CloudSyncError(message, { cause: error });
}

/**
 * Google Photos through the Library API as it stands since March 2025, as a thin typed client on
 * Node's fetch and the provider kit (no per-API `@googleapis/photoslibrary` package is published, the
 * whole `googleapis` is far too large for six JSON calls, and the byte upload is driven by hand in any
 * case): it uploads bytes, creates media items into albums this app made, and reads back only those. It is no Provider: it cannot list a library, read a photo's
 * original bytes, replace or delete anything, so the engine drives it through the add-only mode.
 */
export class GooglePhotosLibrary {
	readonly name = 'google-photos';
	readonly pacer: Pacer;
	/** Library API requests sent, retries included: each counts against the daily quota (token refreshes go to Google's OAuth endpoint and do not). */
	requests = 0;
	private readonly api: string;
	private readonly timeoutMs: number;
	private readonly remote: Remote<string>;
	private readonly tokens: RefreshGrant;

	constructor(options: GooglePhotosOptions) {
		const base = options.apiBaseUrl?.replace(/\/+$/, '');
		this.api = base ?? API;
		this.pacer = options.pacer ?? new Pacer();
		this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
		this.tokens = new RefreshGrant({
			...options.auth,
			tokenUrl: base ? `${base}/token` : TOKEN_URL,
			issuer: 'Google',
			marginMs: TOKEN_MARGIN_MS,
			timeoutMs: this.timeoutMs,
			serverError: photosError,
		});
		this.remote = new Remote<string>({
			pacer: this.pacer,
			tokens: this.tokens,
			unauthorized: (error) => error instanceof PhotosResponseError && error.status === 401,
			mapError: (error, what, redact) => mapPhotosError(error, what, redact),
		});
	}

	private async send(method: string, path: string, init: { json?: unknown; body?: AsyncIterable<Buffer>; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
		const headers: Record<string, string> = { ...init.headers, authorization: `Bearer ${this.tokens.token ?? ''}` };
		let body: string | AsyncIterable<Buffer> | undefined = init.body;
		if (init.json !== undefined) {
			headers['content-type'] = 'application/json';
			body = JSON.stringify(init.json);
		}
		const timeout = AbortSignal.timeout(this.timeoutMs);
		this.requests++;
		const response = await bufferFetch(`${this.api}${path}`, {
			method,
			headers,
			body: body as RequestInit['body'],
			...(init.body ? { duplex: 'half' } : {}),
			signal: init.signal ? AbortSignal.any([init.signal, timeout]) : timeout,
		} as RequestInit);
		if (response.ok) return response;
		throw await photosError(response);
	}

	private json<T>(what: string, method: string, path: string, json?: unknown, signal?: AbortSignal): Promise<T> {
		return this.remote.call(what, async () => (await (await this.send(method, path, { json, signal })).json()) as T, signal);
	}

	/**
	 * Sends one file's bytes (the raw protocol: one request, the body is the file) and returns its
	 * upload token, valid for a day. `open` is called for each attempt, since a stream read once is gone.
	 */
	upload(open: () => Promise<Readable>, file: { path: string; size: number }, signal?: AbortSignal): Promise<string> {
		const what = `uploading ${file.path}`;
		return this.remote.call(
			what,
			async () => {
				const content = await open();
				let sent = 0;
				const counted = (async function* () {
					for await (const chunk of content) {
						const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
						sent += bytes.length;
						yield bytes;
					}
				})();
				try {
					const response = await this.send('POST', '/v1/uploads', {
						body: counted,
						headers: {
							'content-type': 'application/octet-stream',
							'x-goog-upload-content-type': photosMediaType(file.path) ?? 'application/octet-stream',
							'x-goog-upload-protocol': 'raw',
						},
						signal,
					});
					const token = (await response.text()).trim();
					if (!token) throw new TransientError(`Google Photos answered the upload of ${file.path} without an upload token`);
					if (sent !== file.size) throw new CloudSyncError(`${file.path} changed while it was uploaded: ${sent} bytes were read, the listing said ${file.size}`, { hint: 'Run the sync again once the file is no longer being written.' });
					return token;
				} finally {
					content.destroy();
				}
			},
			signal,
		);
	}

	/**
	 * Creates media items from upload tokens (at most 50), in `albumId` when given. Google answers 200
	 * whatever happened to each item, so each item's own status is returned: a failed one is a failure.
	 */
	async createItems(items: NewMediaItem[], albumId?: string, signal?: AbortSignal): Promise<CreateResult[]> {
		if (items.length === 0) return [];
		if (items.length > MAX_ITEMS_PER_CREATE) throw new CloudSyncError(`At most ${MAX_ITEMS_PER_CREATE} media items are created at once, not ${items.length}`);
		const request = {
			...(albumId ? { albumId } : {}),
			newMediaItems: items.map((item) => ({
				...(item.description ? { description: item.description.slice(0, MAX_DESCRIPTION) } : {}),
				simpleMediaItem: { uploadToken: item.uploadToken, fileName: item.fileName.slice(0, MAX_FILE_NAME) },
			})),
		};
		const answer = await this.json<{ newMediaItemResults?: Array<{ uploadToken?: string; status?: { code?: number; message?: string }; mediaItem?: PhotosMediaItem }> }>(
			`creating ${items.length} media item(s)`,
			'POST',
			'/v1/mediaItems:batchCreate',
			request,
			signal,
		);
		const results = answer.newMediaItemResults ?? [];
		// One result per item, said to be in order; matched by token first, in case the order is not kept.
		const byToken = new Map(results.filter((result) => result.uploadToken).map((result) => [result.uploadToken!, result]));
		return items.map((item, index) => {
			const result = byToken.get(item.uploadToken) ?? (results[index]?.uploadToken === undefined ? results[index] : undefined);
			if (!result) return { ok: false, uploadToken: item.uploadToken, code: 13, message: 'Google Photos answered without a result for this item', transient: true };
			const code = result.status?.code ?? 0;
			if (code === 0 && result.mediaItem?.id) return { ok: true, uploadToken: item.uploadToken, mediaItem: result.mediaItem };
			const message = result.status?.message ?? 'no media item was created';
			return { ok: false, uploadToken: item.uploadToken, code, message, transient: code === 0 || TRANSIENT_ITEM_CODES.has(code) };
		});
	}

	async createAlbum(title: string, signal?: AbortSignal): Promise<PhotosAlbum> {
		return albumOf(await this.json<RawAlbum>(`creating the album "${title}"`, 'POST', '/v1/albums', { album: { title } }, signal));
	}

	async album(id: string, signal?: AbortSignal): Promise<PhotosAlbum> {
		return albumOf(await this.json<RawAlbum>('reading the album', 'GET', `/v1/albums/${encodeURIComponent(id)}`, undefined, signal));
	}

	/** The albums this app created (the only ones it may see since March 2025). */
	async *albums(signal?: AbortSignal): AsyncIterable<PhotosAlbum> {
		let pageToken: string | undefined;
		do {
			const query = new URLSearchParams({ pageSize: '50', excludeNonAppCreatedData: 'true', ...(pageToken ? { pageToken } : {}) });
			const page = await this.json<{ albums?: RawAlbum[]; nextPageToken?: string }>('listing albums', 'GET', `/v1/albums?${query}`, undefined, signal);
			for (const album of page.albums ?? []) yield albumOf(album);
			pageToken = page.nextPageToken;
		} while (pageToken);
	}

	/** The items of an album this app created, 100 a page. */
	async *albumItems(albumId: string, signal?: AbortSignal): AsyncIterable<PhotosMediaItem> {
		let pageToken: string | undefined;
		do {
			const page = await this.json<{ mediaItems?: PhotosMediaItem[]; nextPageToken?: string }>(
				'listing the album',
				'POST',
				'/v1/mediaItems:search',
				{ albumId, pageSize: 100, ...(pageToken ? { pageToken } : {}) },
				signal,
			);
			yield* page.mediaItems ?? [];
			pageToken = page.nextPageToken;
		} while (pageToken);
	}
}

interface RawAlbum {
	id: string;
	title?: string;
	productUrl?: string;
	mediaItemsCount?: string | number;
}

const albumOf = (album: RawAlbum): PhotosAlbum => ({ id: album.id, title: album.title ?? '', productUrl: album.productUrl, mediaItemsCount: Number(album.mediaItemsCount ?? 0) });
