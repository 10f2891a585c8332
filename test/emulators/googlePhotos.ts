import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { seededRandom } from '../support/faulty-provider';
import { OAuthTokens, tokenForm, type IssuedToken, type OAuthClientCredentials } from './core/oauth';
import { decodeToken, encodeToken, pageOf } from './core/paging';
import { EmulatorServer, readBody, sendBody, type FaultRule, type RequestContext } from './core/server';

/**
 * A Google Photos Library API emulator as the API stands since 2025-03-31, after
 * shared/reference/icloud-and-google-photos.md §4: raw uploads answering a plain-text upload token
 * valid for a day, mediaItems:batchCreate answering 200 with a status per item (more than 50 items is
 * a 400), identical bytes mapping to the item they first made, albums and items visible only to the
 * app that created them, the daily request quota and its 429, and Google's error envelope. Unconfirmed
 * facts (§7) are options: whether an upload token may be used twice, and both wordings of the daily
 * quota error. Not emulated: resumable uploads, baseUrl downloads, enrichments, sharing.
 */

const DAY = 86_400_000;
export const DAILY_QUOTA = 10_000;
const MAX_CREATE = 50;
const ALBUM_CAPACITY = 20_000;
const SCOPE = 'https://www.googleapis.com/auth/photoslibrary.appendonly https://www.googleapis.com/auth/photoslibrary.readonly.appcreateddata';
/** The two wordings of the daily quota seen in the wild (rclone#3736; mrworf/photoframe#137). */
const DAILY_QUOTA_MESSAGES = {
	legacy: "Quota exceeded for quota metric 'All requests' and limit 'All requests per day' of service 'photoslibrary.googleapis.com' for consumer 'project_number:1'.",
	metric: "Quota exceeded for quota metric 'photoslibrary.googleapis.com/all_requests' and limit 'ApiCallsPerProjectPerDay' of service 'photoslibrary.googleapis.com' for consumer 'project_number:1'.",
};

export interface StoredMediaItem {
	id: string;
	filename: string;
	description?: string;
	mimeType: string;
	sha256: string;
	size: number;
	/** Items from a phone are not the app's: lists, searches and albums never show them to it. */
	appCreated: boolean;
	createdAt: number;
}

export interface StoredAlbum {
	id: string;
	title: string;
	appCreated: boolean;
	/** Media item ids in album order; an item is in an album once. */
	items: string[];
}

interface Upload {
	sha256: string;
	size: number;
	mimeType: string;
	fileName?: string;
	bytes: Buffer;
	expiresAt: number;
	used: boolean;
}

/** A per-item failure batchCreate reports inside its 200 answer. */
export interface ItemFault {
	/** google.rpc.Code: 3 INVALID_ARGUMENT (BAD_IMAGE), 6 ALREADY_EXISTS, 13 INTERNAL... */
	code: number;
	message: string;
	probability?: number;
	times?: number;
	/** Only items whose file name matches. */
	fileName?: RegExp;
}

export interface GooglePhotosEmulatorOptions {
	seed?: number;
	tokenLifetimeSeconds?: number;
	/** Requests a day before the quota's 429 (default 10,000). */
	dailyQuota?: number;
	quotaWording?: keyof typeof DAILY_QUOTA_MESSAGES;
	/** [unconfirmed] Whether an upload token already made into an item may be used again (it answers that item); refused: INVALID_ARGUMENT. */
	tokenReuse?: 'accept' | 'refuse';
	now?: () => number;
}

class PhotosApiError extends Error {
	constructor(
		readonly status: number,
		readonly googleStatus: string,
		message: string,
		readonly headers: Record<string, string> = {},
	) {
		super(message);
	}
}

const envelope = (error: PhotosApiError) => ({ error: { code: error.status, message: error.message, status: error.googleStatus } });
const invalid = (message: string) => new PhotosApiError(400, 'INVALID_ARGUMENT', message);

function renderFault(fault: FaultRule, response: ServerResponse): void {
	const retryAfter = { 'retry-after': String(fault.retryAfterSeconds ?? 1) };
	const errors: Record<string, PhotosApiError> = {
		'rate-limit': new PhotosApiError(429, 'RESOURCE_EXHAUSTED', "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user' of service 'photoslibrary.googleapis.com'.", retryAfter),
		'quota-rate-limit': new PhotosApiError(429, 'RESOURCE_EXHAUSTED', "Quota exceeded for quota metric 'All requests' and limit 'All requests per minute' of service 'photoslibrary.googleapis.com'.", retryAfter),
		unavailable: new PhotosApiError(503, 'UNAVAILABLE', 'The service is currently unavailable.', fault.retryAfterSeconds === undefined ? {} : retryAfter),
		'server-error': new PhotosApiError(500, 'INTERNAL', 'Internal error encountered.'),
	};
	const error = errors[fault.kind] ?? errors['server-error'];
	const text = JSON.stringify(envelope(error));
	response.writeHead(error.status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...error.headers });
	response.end(text);
}

export class GooglePhotosEmulator {
	readonly server: EmulatorServer;
	/** Requests the API counted today; the 429 comes once it reaches the quota. */
	requestsToday = 0;
	dailyQuota: number;
	readonly items = new Map<string, StoredMediaItem>();
	readonly albums = new Map<string, StoredAlbum>();
	/** batchCreate calls, with how many items each asked for. */
	readonly creates: number[] = [];
	private readonly byHash = new Map<string, string>();
	private readonly uploads = new Map<string, Upload>();
	private readonly tokens: OAuthTokens;
	private readonly itemFaults: Array<ItemFault & { used: number }> = [];
	private readonly random: () => number;
	private counter = 0;

	constructor(private readonly options: GooglePhotosEmulatorOptions = {}) {
		this.server = new EmulatorServer((request, response, context) => this.handle(request, response, context), renderFault, options.seed);
		this.tokens = new OAuthTokens(options.tokenLifetimeSeconds ?? 3600, () => `ya29.${randomBytes(32).toString('base64url')}`);
		this.dailyQuota = options.dailyQuota ?? DAILY_QUOTA;
		this.random = seededRandom((options.seed ?? 1) + 7);
	}

	get baseUrl(): string {
		return this.server.baseUrl;
	}

	start(): Promise<string> {
		return this.server.start();
	}

	stop(): Promise<void> {
		return this.server.stop();
	}

	private now(): number {
		return this.options.now?.() ?? Date.now();
	}

	// -------------------------------------------------------------------------------------------
	// Test helpers

	addOAuthClient(): OAuthClientCredentials {
		return this.tokens.addClient({
			clientId: `${++this.counter}-emulator.apps.googleusercontent.com`,
			clientSecret: `GOCSPX-${randomBytes(18).toString('base64url')}`,
			refreshToken: `1//${randomBytes(36).toString('base64url')}`,
		});
	}

	expireAccessTokens(): void {
		this.tokens.expireAll();
	}

	revokeRefreshToken(refreshToken: string): void {
		this.tokens.revoke(refreshToken);
	}

	issuedAccessTokens(): string[] {
		return this.tokens.issued();
	}

	/** The next day: the quota counter starts again. */
	resetQuota(): void {
		this.requestsToday = 0;
	}

	failItems(fault: ItemFault): void {
		this.itemFaults.push({ ...fault, used: 0 });
	}

	clearItemFaults(): void {
		this.itemFaults.length = 0;
	}

	/** A photo the user took on a phone: in the library, but not the app's. */
	addPhoneItem(bytes: Buffer, filename: string): string {
		return this.store(bytes, filename, 'image/jpeg', undefined, false).id;
	}

	/** An album the user made in the Photos app: the app may neither see it nor add to it. */
	addUserAlbum(title: string): string {
		const id = this.newId('album');
		this.albums.set(id, { id, title, appCreated: false, items: [] });
		return id;
	}

	albumNamed(title: string): StoredAlbum | undefined {
		return [...this.albums.values()].find((album) => album.appCreated && album.title === title);
	}

	/** The bytes of an item, to check what arrived. */
	bytesOf(id: string): Buffer | undefined {
		const item = this.items.get(id);
		return item && [...this.uploads.values()].find((upload) => upload.sha256 === item.sha256)?.bytes;
	}

	private newId(kind: string): string {
		return `${kind === 'album' ? 'A' : 'M'}${randomBytes(30).toString('base64url')}`;
	}

	// -------------------------------------------------------------------------------------------
	// HTTP

	private async handle(request: IncomingMessage, response: ServerResponse, context: RequestContext): Promise<void> {
		let status = 200;
		let body: unknown;
		let text: string | undefined;
		try {
			const answer = await this.route(request, context.url);
			if (typeof answer === 'string') text = answer;
			else body = answer;
		} catch (error) {
			if (!(error instanceof PhotosApiError)) throw error;
			await readBody(request).catch(() => undefined);
			status = error.status;
			body = (error as { oauth?: boolean }).oauth ? { error: error.googleStatus, error_description: error.message } : envelope(error);
			if (!response.headersSent) {
				const json = JSON.stringify(body);
				response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(json), ...error.headers });
				response.end(json);
			}
			return;
		}
		// Through sendBody, so that a dropped connection comes after the work was done, as on a real network.
		if (text !== undefined) sendBody(response, context, status, { 'content-type': 'text/plain; charset=UTF-8' }, Buffer.from(text));
		else sendBody(response, context, status, { 'content-type': 'application/json; charset=UTF-8' }, Buffer.from(JSON.stringify(body)));
	}

	private async route(request: IncomingMessage, url: URL): Promise<unknown> {
		const method = request.method ?? 'GET';
		const path = url.pathname;
		if (path === '/token' && method === 'POST') return this.token(request, url);
		this.authorize(request);
		if (this.requestsToday >= this.dailyQuota) {
			throw new PhotosApiError(429, 'RESOURCE_EXHAUSTED', DAILY_QUOTA_MESSAGES[this.options.quotaWording ?? 'legacy']);
		}
		this.requestsToday++;
		if (path === '/v1/uploads' && method === 'POST') return this.upload(request);
		if (path === '/v1/mediaItems:batchCreate' && method === 'POST') return this.batchCreate(await this.json(request));
		if (path === '/v1/mediaItems:search' && method === 'POST') return this.search(await this.json(request));
		if (path === '/v1/mediaItems' && method === 'GET') return this.listItems(url.searchParams, undefined);
		const item = /^\/v1\/mediaItems\/([^/:]+)$/.exec(path);
		if (item && method === 'GET') return this.apiItem(this.visibleItem(decodeURIComponent(item[1])));
		if (path === '/v1/albums' && method === 'POST') return this.createAlbum(await this.json(request));
		if (path === '/v1/albums' && method === 'GET') return this.listAlbums(url.searchParams);
		const album = /^\/v1\/albums\/([^/:]+)$/.exec(path);
		if (album && method === 'GET') return this.apiAlbum(this.visibleAlbum(decodeURIComponent(album[1])));
		if (/^\/v1\/(albums|sharedAlbums)/.test(path) && /:(share|join|leave|unshare)$/.test(path)) {
			throw new PhotosApiError(403, 'PERMISSION_DENIED', 'Request had insufficient authentication scopes.');
		}
		throw new PhotosApiError(404, 'NOT_FOUND', `Method not found: ${method} ${path}`);
	}

	private authorize(request: IncomingMessage): void {
		if (this.tokens.check(request.headers.authorization) === 'valid') return;
		throw new PhotosApiError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.', {
			'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"',
		});
	}

	private async json(request: IncomingMessage): Promise<Record<string, unknown>> {
		const text = (await readBody(request)).toString('utf8');
		try {
			const value = JSON.parse(text || '{}') as unknown;
			if (value && typeof value === 'object') return value as Record<string, unknown>;
		} catch {
			// Answered below.
		}
		throw invalid('Invalid JSON payload received.');
	}

	private async token(request: IncomingMessage, url: URL): Promise<unknown> {
		const form = tokenForm(request, url, await readBody(request));
		const result = this.tokens.refresh(form);
		if ('accessToken' in result) return this.tokenAnswer(result);
		const refusal = result.error === 'invalid_client' ? [401, 'Unauthorized'] : result.error === 'invalid_grant' ? [400, result.revoked ? 'Token has been expired or revoked.' : 'Bad Request'] : [400, 'Invalid grant_type'];
		// The token endpoint speaks OAuth's shape, not the API envelope.
		throw Object.assign(new PhotosApiError(refusal[0] as number, result.error, refusal[1] as string), { oauth: true });
	}

	private tokenAnswer(token: IssuedToken) {
		return { access_token: token.accessToken, expires_in: token.expiresIn, scope: SCOPE, token_type: 'Bearer' };
	}

	// -------------------------------------------------------------------------------------------
	// Uploads and media items

	private async upload(request: IncomingMessage): Promise<string> {
		const protocol = String(request.headers['x-goog-upload-protocol'] ?? 'raw');
		if (protocol !== 'raw') {
			await readBody(request);
			throw invalid(`Upload protocol "${protocol}" is not emulated; use raw.`);
		}
		const bytes = await readBody(request);
		if (bytes.length === 0) throw invalid('The upload is empty.');
		const token = `CAIS${randomBytes(48).toString('base64url')}`;
		this.uploads.set(token, {
			bytes,
			size: bytes.length,
			sha256: createHash('sha256').update(bytes).digest('hex'),
			mimeType: String(request.headers['x-goog-upload-content-type'] ?? 'application/octet-stream'),
			fileName: request.headers['x-goog-upload-file-name'] ? String(request.headers['x-goog-upload-file-name']) : undefined,
			expiresAt: this.now() + DAY,
			used: false,
		});
		return token;
	}

	private store(bytes: Buffer, filename: string, mimeType: string, description: string | undefined, appCreated: boolean): StoredMediaItem {
		const sha256 = createHash('sha256').update(bytes).digest('hex');
		const known = this.byHash.get(sha256);
		if (known) return this.items.get(known)!;
		const item: StoredMediaItem = { id: this.newId('item'), filename, description, mimeType, sha256, size: bytes.length, appCreated, createdAt: this.now() };
		this.items.set(item.id, item);
		this.byHash.set(sha256, item.id);
		return item;
	}

	private itemFault(fileName: string): ItemFault | undefined {
		for (const fault of this.itemFaults) {
			if (fault.fileName && !fault.fileName.test(fileName)) continue;
			if (fault.times !== undefined && fault.used >= fault.times) continue;
			if (fault.probability !== undefined && this.random() >= fault.probability) continue;
			fault.used++;
			return fault;
		}
		return undefined;
	}

	private batchCreate(body: Record<string, unknown>): unknown {
		const newItems = body.newMediaItems;
		if (!Array.isArray(newItems) || newItems.length === 0) throw invalid('newMediaItems must not be empty.');
		if (newItems.length > MAX_CREATE) throw invalid('Request must have less than 50 items.');
		let album: StoredAlbum | undefined;
		if (body.albumId !== undefined) {
			album = this.albums.get(String(body.albumId));
			if (!album) throw invalid('Invalid album ID.');
			if (!album.appCreated) throw invalid('No permission to add media items to this album.');
		}
		this.creates.push(newItems.length);
		const results = (newItems as Array<{ description?: unknown; simpleMediaItem?: { uploadToken?: unknown; fileName?: unknown } }>).map((newItem) => {
			const uploadToken = String(newItem.simpleMediaItem?.uploadToken ?? '');
			const upload = this.uploads.get(uploadToken);
			const status = (code: number, message: string) => ({ uploadToken, status: { code, message } });
			if (!upload || upload.expiresAt <= this.now()) return status(3, 'INVALID_ARGUMENT: The upload token is invalid or has expired.');
			if (upload.used && this.options.tokenReuse === 'refuse') return status(3, 'INVALID_ARGUMENT: The upload token was already used.');
			const fileName = String(newItem.simpleMediaItem?.fileName ?? upload.fileName ?? 'upload');
			const description = typeof newItem.description === 'string' ? newItem.description : undefined;
			if (fileName.length > 255) return status(3, 'INVALID_ARGUMENT: fileName is too long.');
			if (description && description.length > 1000) return status(3, 'INVALID_ARGUMENT: description is too long.');
			const fault = this.itemFault(fileName);
			if (fault) return status(fault.code, fault.message);
			if (album && album.items.length >= ALBUM_CAPACITY) return status(3, 'INVALID_ARGUMENT: The album is full.');
			upload.used = true;
			const item = this.store(upload.bytes, fileName, upload.mimeType, description, true);
			// Bytes already in the library from a phone: [unconfirmed] what happens; here the app gets the item.
			item.appCreated = true;
			if (album && !album.items.includes(item.id)) album.items.push(item.id);
			return { uploadToken, status: { message: 'Success' }, mediaItem: this.apiItem(item) };
		});
		return { newMediaItemResults: results };
	}

	private apiItem(item: StoredMediaItem) {
		const kind = item.mimeType.startsWith('video/') ? { video: { status: 'READY' } } : { photo: {} };
		return {
			id: item.id,
			description: item.description,
			productUrl: `https://photos.google.com/lr/photo/${item.id}`,
			baseUrl: `https://lh3.googleusercontent.com/lr/${item.id}`,
			mimeType: item.mimeType,
			mediaMetadata: { creationTime: new Date(item.createdAt).toISOString(), width: '4032', height: '3024', ...kind },
			filename: item.filename,
		};
	}

	private visibleItem(id: string): StoredMediaItem {
		const item = this.items.get(id);
		if (!item || !item.appCreated) throw new PhotosApiError(404, 'NOT_FOUND', 'Requested entity was not found.');
		return item;
	}

	private pageSize(value: unknown, fallback: number, max: number): number {
		if (value === undefined || value === null || value === '') return fallback;
		const size = Number(value);
		if (!Number.isInteger(size) || size < 1) throw invalid('pageSize must be positive.');
		return Math.min(size, max);
	}

	private pageFrom(token: unknown, kind: string): number {
		if (token === undefined || token === null || token === '') return 0;
		const state = decodeToken<{ kind: string; start: number }>(token, (value) => value.kind === kind && typeof value.start === 'number');
		if (!state) throw invalid('Invalid page token.');
		return state.start;
	}

	private listItems(params: URLSearchParams | Record<string, unknown>, albumId: string | undefined) {
		const get = (key: string) => (params instanceof URLSearchParams ? (params.get(key) ?? undefined) : params[key]);
		const ids = albumId ? this.visibleAlbum(albumId).items : [...this.items.values()].filter((item) => item.appCreated).map((item) => item.id);
		const page = pageOf(ids, this.pageFrom(get('pageToken'), `items:${albumId ?? ''}`), this.pageSize(get('pageSize'), 25, 100));
		return {
			mediaItems: page.items.map((id) => this.apiItem(this.items.get(id)!)),
			...(page.next !== undefined ? { nextPageToken: encodeToken({ kind: `items:${albumId ?? ''}`, start: page.next }) } : {}),
		};
	}

	private search(body: Record<string, unknown>) {
		if (body.albumId !== undefined && body.filters !== undefined) throw invalid('albumId and filters cannot both be set.');
		return this.listItems(body, body.albumId === undefined ? undefined : String(body.albumId));
	}

	// -------------------------------------------------------------------------------------------
	// Albums

	private createAlbum(body: Record<string, unknown>) {
		const title = (body.album as { title?: unknown } | undefined)?.title;
		if (typeof title !== 'string' || title === '' || title.length > 500) throw invalid('album.title must be 1 to 500 characters.');
		const album: StoredAlbum = { id: this.newId('album'), title, appCreated: true, items: [] };
		this.albums.set(album.id, album);
		return this.apiAlbum(album);
	}

	private visibleAlbum(id: string): StoredAlbum {
		const album = this.albums.get(id);
		if (!album || !album.appCreated) throw new PhotosApiError(404, 'NOT_FOUND', 'Requested entity was not found.');
		return album;
	}

	private apiAlbum(album: StoredAlbum) {
		return {
			id: album.id,
			title: album.title,
			productUrl: `https://photos.google.com/lr/album/${album.id}`,
			isWriteable: true,
			// A string, as Google sends int64s.
			mediaItemsCount: String(album.items.length),
		};
	}

	private listAlbums(params: URLSearchParams) {
		const albums = [...this.albums.values()].filter((album) => album.appCreated);
		const page = pageOf(albums, this.pageFrom(params.get('pageToken'), 'albums'), this.pageSize(params.get('pageSize'), 20, 50));
		return { albums: page.items.map((album) => this.apiAlbum(album)), ...(page.next !== undefined ? { nextPageToken: encodeToken({ kind: 'albums', start: page.next }) } : {}) };
	}
}
