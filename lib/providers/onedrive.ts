import type { Readable } from 'node:stream';
import type { Capabilities, Change, ChangePage, UnplacedChange, Entry, HashType, Hashes, ListOptions, Provider, ReadOptions, RootLocation, UploadIdentity, UploadSessionStore, WriteOptions } from '../core/types';
import {
	AlreadyExistsError,
	AuthenticationError,
	CloudSyncError,
	CursorExpiredError,
	InvalidNameError,
	InvalidPathError,
	NotEmptyError,
	NotFoundError,
	PermissionError,
	RateLimitError,
	StorageFullError,
	TransientError,
	VerificationError,
} from '../core/errors';
import { Pacer, classifyError, retryAfterOf } from '../core/pacer';
import { bufferFetch, nodeBodyOf, ChunkReader, DirCache, RefreshGrant, Remote, requestSignal, ResumableUploads, SignInError, SliceStream, bodyStream, emptyStream, insideOrSame, spool, type Spooled } from './kit';
import { hashStream, measure, sameHash } from '../core/hashing';
import { baseName, hasControlCharacter, joinPath, matchKey, normalizeRelativePath, parentPath, writablePath } from '../core/paths';
import { inStateFolder } from '../core/filters';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Upload fragments must be multiples of 320 KiB, except the last [doc] driveitem-createuploadsession. */
export const ONEDRIVE_FRAGMENT_UNIT = 320 * KiB;
/** rclone's default; under 60 MiB per request, and well under SharePoint's "request message is too big". */
const DEFAULT_CHUNK = 32 * ONEDRIVE_FRAGMENT_UNIT;
/** When a session's answer names no expiry: Graph's sessions have lasted days, and a probe finds out either way. */
const DEFAULT_SESSION_LIFETIME_MS = 24 * 3600 * 1000;
const MAX_CHUNK = 180 * ONEDRIVE_FRAGMENT_UNIT;
const PAGE = 1000;
const GRAPH = 'https://graph.microsoft.com';
const LOGIN = 'https://login.microsoftonline.com';
export const ONEDRIVE_SCOPE = 'offline_access Files.ReadWrite.All';
export const SHAREPOINT_SCOPE = 'offline_access Files.ReadWrite.All Sites.ReadWrite.All';
/** Refreshing a few minutes early lets concurrent calls share one refresh instead of meeting a 401 each. */
const TOKEN_MARGIN_MS = 5 * 60_000;
const DEFAULT_TIMEOUT_MS = 5 * 60_000;
/** SharePoint stores these again with its own properties in them [code] rclone docs/content/onedrive.md "Troubleshooting". */
const OFFICE = /\.(docx?|xlsx?|pptx?|vsdx|one)$/i;

/**
 * Characters OneDrive refuses in a name, and the full-width look-alikes they are stored as (rclone's
 * encoding), so that a file named `a"b` still syncs. Names holding a look-alike already are reported
 * by nameProblem instead: read back, they could not be told from the encoded ones.
 */
const LOOK_ALIKES: Record<string, string> = { '"': '＂', '*': '＊', ':': '：', '<': '＜', '>': '＞', '?': '？', '\\': '＼', '|': '｜' };
const UNLOOK: Record<string, string> = Object.fromEntries(Object.entries(LOOK_ALIKES).map(([ascii, wide]) => [wide, ascii]));
const FORBIDDEN = /["*:<>?\\|]/g;
const WIDE = /[＂＊：＜＞？＼｜]/g;
const HAS_WIDE = /[＂＊：＜＞？＼｜]/;
/** [unconfirmed] Microsoft's "Restrictions and limitations in OneDrive and SharePoint", as secondary pages quote it. */
const RESERVED = /^(\.lock|con|prn|aux|nul|com\d|lpt\d|desktop\.ini)$/i;

export const encodeName = (name: string) => name.replace(FORBIDDEN, (c) => LOOK_ALIKES[c]);
export const decodeName = (name: string) => name.replace(WIDE, (c) => UNLOOK[c]);

export interface OneDriveCredentials {
	/** The app (client) id of the Entra ID app registration. */
	clientId: string;
	clientSecret?: string;
	refreshToken: string;
	accessToken?: string;
	/** When `accessToken` expires, in ms since the epoch; without it the token is refreshed before the first call. */
	accessTokenExpiresAt?: number;
}

export interface OneDriveProviderOptions {
	auth: OneDriveCredentials;
	/** Who may sign in: 'common' (any account), 'organizations' (work and school), 'consumers', or a tenant id. */
	tenant?: string;
	/** The drive: the signed-in user's OneDrive when neither is set; a drive id; or a SharePoint site's web address (its default document library). */
	driveId?: string;
	siteUrl?: string;
	/** Folder of the drive that is the provider's root, such as '/Backups'; '' is the whole drive. */
	root?: string;
	/** Scopes asked for when the token is refreshed; SharePoint needs Sites.ReadWrite.All as well. */
	scope?: string;
	/** Graph's base URL (national clouds, or an emulator in tests); the default is https://graph.microsoft.com. */
	apiBaseUrl?: string;
	/** The sign-in base URL; the default is https://login.microsoftonline.com (the emulator's in tests). */
	loginBaseUrl?: string;
	pacer?: Pacer;
	/** Bytes per upload fragment, a multiple of 320 KiB under 60 MiB. */
	chunkSize?: number;
	/** Microsoft hands out a new refresh token with each access token: persist it where the credential lives. */
	onRefreshToken?: (refreshToken: string) => void;
	requestTimeoutMs?: number;
}

interface GraphItem {
	id: string;
	name?: string;
	size?: number;
	createdDateTime?: string;
	lastModifiedDateTime?: string;
	fileSystemInfo?: { createdDateTime?: string; lastModifiedDateTime?: string };
	parentReference?: { driveId?: string; driveType?: string; id?: string; path?: string };
	file?: { mimeType?: string; hashes?: { quickXorHash?: string; sha1Hash?: string; sha256Hash?: string } };
	folder?: { childCount?: number };
	package?: { type?: string };
	deleted?: { state?: string };
	root?: object;
	'@microsoft.graph.downloadUrl'?: string;
}

interface Page<T> {
	value: T[];
	'@odata.nextLink'?: string;
	'@odata.deltaLink'?: string;
}

interface UploadStatus {
	nextExpectedRanges?: string[];
	NextExpectedRanges?: string[];
}

interface CallContext {
	path: string;
	/** The destination of a move or copy, for errors about it. */
	to?: string;
	signal?: AbortSignal;
}

/** A Graph answer other than 2xx, with Graph's error code; never the request (it carries the token). */
export class GraphResponseError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		readonly graphMessage: string,
		readonly innerCode: string | undefined,
		readonly headers: Headers,
	) {
		super(`Microsoft Graph answered HTTP ${status} ${code}: ${graphMessage}`);
	}
}

/** The upload session is gone: it expired, or an earlier attempt committed it and the answer was lost. */
class SessionGoneError extends CloudSyncError {}

/** The first byte an upload session still expects, from its nextExpectedRanges ("26-", "26-99"). */
function expectedFrom(status: UploadStatus): number | undefined {
	const first = /^(\d+)-/.exec((status.nextExpectedRanges ?? status.NextExpectedRanges ?? [])[0] ?? '');
	return first ? Number(first[1]) : undefined;
}

async function graphError(response: Response): Promise<GraphResponseError> {
	const text = await response.text().catch(() => '');
	let code = `http${response.status}`;
	let message = text.slice(0, 200);
	let inner: string | undefined;
	try {
		const body = JSON.parse(text) as { error?: { code?: string; message?: string; innerError?: { code?: string }; innererror?: { code?: string } } };
		code = body.error?.code ?? code;
		message = body.error?.message ?? message;
		inner = body.error?.innerError?.code ?? body.error?.innererror?.code;
	} catch {
		// Not Graph's JSON (a proxy's page): the status alone decides.
	}
	return new GraphResponseError(response.status, code, message, inner, response.headers);
}

/** What a failed call becomes in the engine's typed errors; only Graph's code and message are kept. */
export function mapGraphError(error: unknown, context: CallContext, redact: (text: string) => string = (text) => text): Error {
	if (error instanceof CloudSyncError) return error;
	const where = context.path || '/';
	if (error instanceof SignInError) {
		const hint =
			error.code === 'invalid_client' || error.code === 'unauthorized_client'
				? { hint: 'Check the client id and client secret of the OneDrive credential (the secret may have expired in Entra ID), then reconnect it.' }
				: {};
		return new AuthenticationError(`Microsoft refused to renew the OneDrive access token (${error.code}: ${redact(error.description).slice(0, 160)})`, hint);
	}
	if (error instanceof GraphResponseError) {
		const detail = `${error.code}${error.innerCode ? `/${error.innerCode}` : ''}: ${redact(error.graphMessage).slice(0, 200)}`;
		const retryAfterMs = retryAfterOf(error.headers);
		const { status } = error;
		if (status === 401) return new AuthenticationError(`OneDrive refused the access token (${detail})`);
		if (status === 404) return new NotFoundError(where, { cause: error });
		if (status === 409) return new AlreadyExistsError(context.to ?? context.path, { cause: error });
		if (status === 410) return new CursorExpiredError(`OneDrive no longer accepts the change cursor (${detail})`, { cause: error });
		if (status === 429) return new RateLimitError(`OneDrive is throttling this account (${detail}) at ${where}`, { cause: error, retryAfterMs });
		if (status === 507) return new StorageFullError(`The OneDrive is full: cannot write ${where}`, { cause: error });
		if (status === 403) {
			return new PermissionError(`OneDrive denied access to ${where} (${detail})`, {
				cause: error,
				hint: 'Check that the credential was granted Files.ReadWrite.All (and Sites.ReadWrite.All for SharePoint), and that this account may edit the folder.',
			});
		}
		if (status === 400 && error.innerCode === 'pathIsTooLong') return new InvalidNameError(context.to ?? context.path, 'OneDrive paths must be shorter than 400 characters', { cause: error });
		if (status === 400 && /invalid character|reserved|cannot begin|cannot end/i.test(error.graphMessage)) {
			return new InvalidNameError(context.to ?? context.path, `OneDrive does not accept this name (${error.graphMessage})`, { cause: error });
		}
		if (status === 408 || status >= 500) return new TransientError(`OneDrive failed with HTTP ${status} (${detail}) at ${where}`, { cause: error, retryAfterMs });
		return new CloudSyncError(`OneDrive refused the request for ${where} (HTTP ${status} ${detail})`, { cause: error });
	}
	if ((error as Error)?.name === 'TimeoutError') return new TransientError(`OneDrive did not answer in time (${where})`, { cause: error });
	const message = redact(typeof (error as Error)?.message === 'string' ? (error as Error).message : String(error));
	const code = (error as { cause?: { code?: unknown } })?.cause?.code;
	if (classifyError(error).retryable || (error as Error)?.name === 'TypeError') {
		return new TransientError(`OneDrive could not be reached, or the connection broke (${typeof code === 'string' ? code : message}) at ${where}`, { cause: error });
	}
	return new CloudSyncError(message, { cause: error });
}

const brokeOff = (path: string, cause: unknown) => new TransientError(`The download of ${path} broke off`, { cause });
const graphTime = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** The drive path in a parentReference.path (`/drive/root:/a/b`, `/drives/{id}/root:`), as the drive spells it. */
function drivePathOf(reference: string | undefined): string | undefined {
	const match = /root:(.*)$/.exec(reference ?? '');
	if (!match) return undefined;
	return match[1]
		.split('/')
		.filter(Boolean)
		.map((segment) => decodeURIComponent(segment))
		.join('/');
}

/**
 * OneDrive Personal, OneDrive for Business and SharePoint document libraries through Microsoft Graph,
 * with a thin typed client on Node's fetch and the provider kit (the Graph JS SDK is heading for
 * deprecation, adds nothing to upload sessions or delta that we do not drive ourselves, and only
 * authenticates https hosts it knows). Items are addressed by path below the root's id; folders are
 * created once through DirCache; a whole tree is listed through one `delta` feed.
 */
export class OneDriveProvider implements Provider {
	readonly name = 'onedrive';
	/** The delta names a moved item only where it is now: a new process knows no item's former path. */
	readonly feedNamesById = true;
	readonly capabilities: Capabilities = {
		// SHA-1 is gone on Personal and was never on Business: quickXorHash is the one hash every drive gives.
		hashTypes: ['quickxor'],
		listedHashTypes: ['quickxor'],
		// fileSystemInfo keeps whole seconds.
		modTimePrecisionMs: 1000,
		canSetModTime: true,
		caseInsensitive: true,
		maxFileSize: 250 * 1024 ** 3,
		emptyFolders: true,
	};
	readonly pacer: Pacer;
	private readonly api: string;
	private readonly login: string;
	private readonly chunkSize: number;
	private readonly timeoutMs: number;
	private readonly remote: Remote<CallContext>;
	private readonly tokens: RefreshGrant;
	private driveId = '';
	private driveType = 'personal';
	private rootId = '';
	/** Unfinished upload sessions, kept between runs when the caller gives a store; known by the drive and the root folder's id in it. */
	private readonly sessions = new ResumableUploads(() => `onedrive:${this.driveId}:${this.rootId}`);
	/** The root's path from the top of the drive, as the drive spells it. */
	private rootPath = '';
	private readonly folders = new DirCache(() => this.rootId, (path, create) => this.findFolder(path, create));
	/** Id → path of what listings and lookups saw, to name the targets of changes. */
	private readonly known = new Map<string, { path: string; isDir: boolean }>();
	/** Folders found to lie outside the root, so a drive-wide feed asks about each once. */
	private readonly outside = new Set<string>();

	private constructor(private readonly options: OneDriveProviderOptions) {
		this.api = `${(options.apiBaseUrl ?? GRAPH).replace(/\/+$/, '')}/v1.0`;
		// An emulator answers sign-ins too; a national cloud names its own login host.
		this.login = (options.loginBaseUrl ?? options.apiBaseUrl ?? LOGIN).replace(/\/+$/, '');
		this.pacer = options.pacer ?? new Pacer();
		this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
		if (this.chunkSize <= 0 || this.chunkSize % ONEDRIVE_FRAGMENT_UNIT !== 0 || this.chunkSize > MAX_CHUNK) {
			throw new CloudSyncError(`The OneDrive chunk size must be a multiple of 320 KiB (327,680 bytes) up to 56.25 MiB, not ${this.chunkSize} bytes`, {
				hint: 'Leave the chunk size empty, or give a multiple of 327680.',
			});
		}
		this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
		this.tokens = new RefreshGrant({
			...options.auth,
			tokenUrl: `${this.login}/${encodeURIComponent(options.tenant || 'common')}/oauth2/v2.0/token`,
			scope: options.scope ?? ONEDRIVE_SCOPE,
			issuer: 'Microsoft',
			marginMs: TOKEN_MARGIN_MS,
			timeoutMs: this.timeoutMs,
			serverError: graphError,
			onRefreshToken: options.onRefreshToken,
		});
		this.remote = new Remote<CallContext>({
			pacer: this.pacer,
			tokens: this.tokens,
			unauthorized: (error) => error instanceof GraphResponseError && error.status === 401,
			mapError: (error, context, redact) => mapGraphError(error, context, redact),
		});
	}

	/** Opens the provider on its drive and root folder; fails when the root is missing or a file. */
	static async open(options: OneDriveProviderOptions): Promise<OneDriveProvider> {
		const provider = new OneDriveProvider(options);
		await provider.resolveRoot();
		return provider;
	}

	/** SharePoint sites whose name holds `search` ('' for all the account may see), for a site picker; needs Sites.Read(Write).All. */
	static async sites(options: Omit<OneDriveProviderOptions, 'root' | 'driveId' | 'siteUrl'>, search: string): Promise<Array<{ name: string; webUrl: string }>> {
		const provider = new OneDriveProvider(options);
		const found: Array<{ name: string; webUrl: string }> = [];
		for await (const site of provider.pages<{ displayName?: string; name?: string; webUrl: string }>({ path: '' }, `/sites?search=${encodeURIComponent(search.trim() || '*')}`)) {
			found.push({ name: site.displayName ?? site.name ?? site.webUrl, webUrl: site.webUrl });
		}
		return found;
	}

	/** The drive the provider works in, once opened. */
	get drive(): { id: string; type: string } {
		return { id: this.driveId, type: this.driveType };
	}

	// -----------------------------------------------------------------------------------------
	// Requests

	/** One HTTP request; anything but 2xx (and the statuses in `accept`) becomes a GraphResponseError. */
	private async send(
		method: string,
		url: string,
		init: { json?: unknown; body?: Buffer; headers?: Record<string, string>; auth?: boolean; signal?: AbortSignal; accept?: number[]; redirect?: 'manual' | 'follow' } = {},
	): Promise<Response> {
		const headers: Record<string, string> = { ...init.headers };
		// Upload and download URLs are pre-authenticated; a bearer token there may be refused.
		if (init.auth !== false && this.tokens.token) headers.authorization = `Bearer ${this.tokens.token}`;
		let body: string | Buffer | undefined;
		if (init.json !== undefined) {
			headers['content-type'] = 'application/json';
			body = JSON.stringify(init.json);
		} else if (init.body) body = init.body;
		// The timeout runs until the answer's head is in; a download's body lasts as long as its bytes do.
		// Not AbortSignal.timeout: that signal and the request listening to it would outlive the request
		// by the whole timeout, and such garbage, kept through young collections, grew the heap per file.
		const request = requestSignal(this.timeoutMs, init.signal);
		let response: Response;
		try {
			// Upload fragments go out uncopied (bufferFetch).
			response = await bufferFetch(url.startsWith('http') ? url : `${this.api}${url}`, { method, headers, body, redirect: init.redirect, signal: request.signal });
		} finally {
			request.clear();
		}
		if (response.ok || init.accept?.includes(response.status)) return response;
		throw await graphError(response);
	}

	private call<T>(context: CallContext, request: (attempt: number) => Promise<T>): Promise<T> {
		return this.remote.call(context, request, context.signal);
	}

	private json<T>(context: CallContext, method: string, url: string, init: Parameters<OneDriveProvider['send']>[2] = {}): Promise<T> {
		return this.call(context, async () => (await (await this.send(method, url, { ...init, signal: context.signal })).json()) as T);
	}

	private get drivePrefix(): string {
		return `/drives/${encodeURIComponent(this.driveId)}`;
	}

	/** The URL of the item at `relative` below the root: path addressing on the root's id. */
	private itemUrl(relative: string, suffix = ''): string {
		if (relative === '') return `${this.drivePrefix}/items/${this.rootId}${suffix}`;
		const encoded = relative
			.split('/')
			.map((name) => encodeURIComponent(encodeName(name)))
			.join('/');
		return `${this.drivePrefix}/items/${this.rootId}:/${encoded}:${suffix}`;
	}

	private async resolveRoot(): Promise<void> {
		const { driveId, siteUrl } = this.options;
		let drive: { id: string; driveType?: string };
		if (siteUrl) {
			const url = new URL(siteUrl);
			const path = url.pathname.replace(/\/+$/, '');
			const site = await this.json<{ id: string }>({ path: '' }, 'GET', `/sites/${url.hostname}${path ? `:${path}` : ''}`).catch((error: unknown) => {
				if (error instanceof NotFoundError) throw new InvalidPathError(siteUrl, 'no SharePoint site has this address', "Copy the site's address from the browser, such as https://contoso.sharepoint.com/sites/Team.");
				throw error;
			});
			drive = await this.json({ path: '' }, 'GET', `/sites/${encodeURIComponent(site.id)}/drive`);
		} else {
			drive = await this.json({ path: '' }, 'GET', driveId ? `/drives/${encodeURIComponent(driveId)}` : '/me/drive');
		}
		this.driveId = drive.id;
		this.driveType = drive.driveType ?? 'personal';
		const root = normalizeRelativePath((this.options.root ?? '').replace(/^\/+/, ''));
		const rootUrl = root === '' ? `${this.drivePrefix}/root` : `${this.drivePrefix}/root:/${root.split('/').map((name) => encodeURIComponent(encodeName(name))).join('/')}:`;
		const item = await this.json<GraphItem>({ path: root }, 'GET', rootUrl).catch((error: unknown) => {
			if (error instanceof NotFoundError) throw new NotFoundError(root);
			throw error;
		});
		if (!item.folder) throw new InvalidPathError(root, 'it is a file, not a folder', 'Choose a folder as the root.');
		this.rootId = item.id;
		this.rootPath = item.root ? '' : joinPath(drivePathOf(item.parentReference?.path) ?? '', item.name ?? '');
	}

	// -----------------------------------------------------------------------------------------
	// Entries

	/** Office files in a SharePoint library, whose bytes SharePoint rewrites after upload. */
	private rewrites(name: string): boolean {
		return this.driveType === 'documentLibrary' && OFFICE.test(name);
	}

	private entryOf(item: GraphItem, parent: string): Entry {
		const path = joinPath(parent, decodeName(item.name ?? ''));
		const modTime = Date.parse(item.fileSystemInfo?.lastModifiedDateTime ?? item.lastModifiedDateTime ?? '') || 0;
		if (item.folder || item.root || item.package) return { path, isDir: true, size: 0, modTime, hashes: {}, id: item.id };
		const hashes: Hashes = {};
		const quickXor = item.file?.hashes?.quickXorHash;
		if (quickXor) hashes.quickxor = quickXor;
		const entry: Entry = { path, isDir: false, size: item.size ?? 0, modTime, hashes, id: item.id, mimeType: item.file?.mimeType };
		if (this.rewrites(path)) entry.rewritten = true;
		return entry;
	}

	private remember(entry: Entry): void {
		if (!entry.id) return;
		this.known.set(entry.id, { path: entry.path, isDir: entry.isDir });
		if (entry.isDir) this.folders.put(entry.path, entry.id);
	}

	private forget(path: string): void {
		this.folders.forget(path);
		for (const [id, known] of this.known) if (insideOrSame(matchKey(known.path, true), matchKey(path, true))) this.known.delete(id);
	}


	/** The item at `relative`; NotFoundError when there is none. */
	private item(relative: string, signal?: AbortSignal): Promise<GraphItem> {
		return this.json<GraphItem>({ path: relative, signal }, 'GET', this.itemUrl(relative));
	}

	private async findFolder(path: string, create: boolean): Promise<string> {
		try {
			const item = await this.item(path);
			if (!item.folder) throw new AlreadyExistsError(path);
			return item.id;
		} catch (error) {
			if (!(error instanceof NotFoundError) || !create) throw error instanceof NotFoundError ? new NotFoundError(path) : error;
		}
		const parentId = await this.folders.id(parentPath(path), true);
		const url = `${this.drivePrefix}/items/${parentId}/children`;
		const made = await this.call({ path }, async () => {
			try {
				const response = await this.send('POST', url, { json: { name: encodeName(baseName(path)), folder: {}, '@microsoft.graph.conflictBehavior': 'fail' } });
				return (await response.json()) as GraphItem;
			} catch (error) {
				// Another writer (or an earlier attempt whose answer was lost) made it: use that one.
				if (!(error instanceof GraphResponseError) || error.status !== 409) throw error;
				const existing = (await (await this.send('GET', this.itemUrl(path))).json()) as GraphItem;
				if (!existing.folder) throw new AlreadyExistsError(path);
				return existing;
			}
		});
		this.remember(this.entryOf(made, parentPath(path)));
		return made.id;
	}

	// -----------------------------------------------------------------------------------------
	// Listing and metadata

	async *list(path: string, options: ListOptions = {}): AsyncIterable<Entry> {
		const relative = normalizeRelativePath(path);
		const context = { path: relative, signal: options.signal };
		const folder = relative === '' ? { id: this.rootId, folder: {} } : await this.item(relative, options.signal);
		if (!folder.folder) throw new NotFoundError(relative);
		if (!options.recursive) {
			for await (const item of this.pages(context, `${this.drivePrefix}/items/${folder.id}/children?$top=${PAGE}`)) {
				const entry = this.entryOf(item, relative);
				this.remember(entry);
				yield entry;
			}
			return;
		}
		try {
			yield* this.listDelta(context, folder.id);
		} catch (error) {
			// Personal answers delta only at the drive's root [code] rclone onedrive.go:422: walk the folders instead.
			if (!(error instanceof CloudSyncError) || !(error.cause instanceof GraphResponseError) || error.cause.status !== 400) throw error;
			yield* this.walk(context, folder.id);
		}
	}

	private async *pages<T = GraphItem>(context: CallContext, first: string, last?: (link: string) => void): AsyncIterable<T> {
		let link: string | undefined = first;
		while (link) {
			const url: string = link;
			const page: Page<T> = await this.json<Page<T>>(context, 'GET', url);
			yield* page.value;
			link = page['@odata.nextLink'];
			if (!link && page['@odata.deltaLink']) last?.(page['@odata.deltaLink']);
		}
	}

	/**
	 * The whole tree below a folder through one delta feed. Delta pages come in no promised order and
	 * without paths, so items are placed by their parent's id: one whose folder has not come yet waits.
	 */
	private async *listDelta(context: CallContext, folderId: string): AsyncIterable<Entry> {
		const paths = new Map<string, string>([[folderId, context.path]]);
		const waiting = new Map<string, GraphItem[]>();
		const seen = new Set<string>();
		for await (const item of this.pages(context, `${this.drivePrefix}/items/${folderId}/delta?$top=${PAGE}`)) {
			if (item.id === folderId || item.deleted || seen.has(item.id)) continue;
			const parent = item.parentReference?.id ?? '';
			if (!paths.has(parent)) {
				waiting.set(parent, [...(waiting.get(parent) ?? []), item]);
				continue;
			}
			const pending = [item];
			while (pending.length > 0) {
				const next = pending.pop()!;
				seen.add(next.id);
				const entry = this.entryOf(next, paths.get(next.parentReference?.id ?? '')!);
				this.remember(entry);
				yield entry;
				if (!entry.isDir) continue;
				paths.set(next.id, entry.path);
				pending.push(...(waiting.get(next.id) ?? []));
				waiting.delete(next.id);
			}
		}
	}

	private async *walk(context: CallContext, folderId: string): AsyncIterable<Entry> {
		const frontier = [{ id: folderId, path: context.path }];
		while (frontier.length > 0) {
			const folder = frontier.shift()!;
			for await (const item of this.pages(context, `${this.drivePrefix}/items/${folder.id}/children?$top=${PAGE}`)) {
				const entry = this.entryOf(item, folder.path);
				this.remember(entry);
				yield entry;
				if (entry.isDir) frontier.push({ id: item.id, path: entry.path });
			}
		}
	}

	async stat(path: string): Promise<Entry> {
		const relative = normalizeRelativePath(path);
		if (relative === '') return { path: '', isDir: true, size: 0, modTime: 0, hashes: {}, id: this.rootId };
		const entry = this.entryOf(await this.item(relative), parentPath(relative));
		this.remember(entry);
		return entry;
	}

	async hash(path: string, types: HashType[]): Promise<Hashes> {
		const relative = normalizeRelativePath(path);
		const entry = await this.stat(relative);
		if (entry.isDir) throw new CloudSyncError(`A folder has no hash: ${relative}`);
		if (!types.includes('quickxor')) return {};
		// Graph may leave a hash out until the file has been downloaded once [doc] hashes.md.
		if (entry.hashes.quickxor) return { quickxor: entry.hashes.quickxor };
		return { quickxor: (await hashStream(await this.read(relative), ['quickxor'])).hashes.quickxor! };
	}

	nameProblem(name: string): string | undefined {
		if (HAS_WIDE.test(name)) return 'it holds a full-width character (＂＊：＜＞？＼｜) that stands in for a character OneDrive forbids, so it could not be told apart from one';
		if (RESERVED.test(name)) return 'OneDrive reserves this name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, .lock, desktop.ini)';
		if (name.startsWith('~$')) return 'OneDrive does not allow names starting with ~$ (Office lock files)';
		if (name.toLowerCase().includes('_vti_')) return 'OneDrive does not allow "_vti_" in a name';
		if (name.startsWith(' ') || name.endsWith(' ')) return 'OneDrive does not allow a name to start or end with a space';
		if (name.endsWith('.')) return 'OneDrive does not allow a name to end with a period';
		if (hasControlCharacter(name)) return 'OneDrive does not allow control characters in a name';
		if (name.length > 255) return 'OneDrive names are at most 255 characters long';
		return undefined;
	}

	recovery(): string {
		return this.driveType === 'personal'
			? "deleted files are in the OneDrive recycle bin (30 days); replaced files keep their earlier versions in OneDrive's version history"
			: 'deleted files are in the OneDrive or SharePoint recycle bin (93 days, first and second stage); replaced files keep their earlier versions in the version history';
	}

	/** The drive and the root's path in it: OneDrive compares names without case. */
	async locate(): Promise<RootLocation> {
		const names = this.rootPath.split('/').filter(Boolean);
		return { namespace: `onedrive:${this.driveId.toLowerCase()}`, chain: names, names, caseInsensitive: true };
	}

	// -----------------------------------------------------------------------------------------
	// Reading

	async read(path: string, options: ReadOptions = {}): Promise<Readable> {
		const relative = normalizeRelativePath(path);
		const context = { path: relative, signal: options.signal };
		let item = await this.item(relative, options.signal);
		if (item.folder) throw new CloudSyncError(`Cannot read a folder as a file: ${relative}`);
		const size = item.size ?? 0;
		const start = options.start ?? 0;
		const end = Math.min(options.end ?? size, size);
		if (end <= start) return emptyStream();
		const whole = start === 0 && end === size;
		const body = await this.call(context, async (attempt) => {
			// A download URL lives a few minutes: a retry asks for a fresh one.
			if (attempt > 0 || !item['@microsoft.graph.downloadUrl']) item = (await (await this.send('GET', this.itemUrl(relative), { signal: options.signal })).json()) as GraphItem;
			const url = item['@microsoft.graph.downloadUrl'];
			const response = url
				? await this.send('GET', url, { auth: false, headers: whole ? {} : { range: `bytes=${start}-${end - 1}` }, signal: options.signal })
				: await this.send('GET', this.itemUrl(relative, '/content'), { headers: whole ? {} : { range: `bytes=${start}-${end - 1}` }, signal: options.signal });
			// A server may ignore Range and send the whole file.
			const slice = !whole && response.status === 200 ? new SliceStream(start, end) : undefined;
			return bodyStream(nodeBodyOf(response), (cause) => brokeOff(relative, cause), slice);
		});
		// A short download fails at its end instead of passing as the file.
		return measure(body, [], { size: end - start });
	}

	// -----------------------------------------------------------------------------------------
	// Writing

	async write(path: string, content: Readable, options: WriteOptions = {}): Promise<Entry> {
		const relative = writablePath(path, 'write over');
		const context = { path: relative, signal: options.signal };
		// A file of one fragment has nothing to resume: only larger ones are kept.
		const identity = this.sessions.identityOf(relative, options, this.chunkSize);
		// Before `content` is touched: a resumed upload reads the source from where the session ends instead.
		const resumed = await this.resume(identity, options);
		// The caller compares the stored quickXorHash with the source's: this side saw only the rest.
		if (resumed) return this.written(relative, resumed, { bytes: options.size!, hashes: {} });
		// Fragments are sent one after the other; only the spooling below (a stream of unknown size) hands chunks to a file stream that may still hold one when the next is read.
		const measured = new ChunkReader(content, { reuse: options.size !== undefined, measure: { hashTypes: ['quickxor', ...(options.hashTypes ?? [])], size: options.size } });
		let reader = measured;
		let spooled: Spooled | undefined;
		try {
			// The first chunk is read before anything is created, so a source that fails early leaves no trace.
			const first = await reader.read(this.chunkSize);
			const done = await reader.atEnd();
			let total = done ? first.length : options.size;
			let chunk = first;
			if (total === undefined) {
				// Graph wants the total size in every fragment: a stream of unknown length is spooled to disk first.
				spooled = await spool(this.rest(first, reader), { prefix: 'onedrive' });
				total = measured.bytes;
				reader = new ChunkReader(spooled.read({ highWaterMark: MiB }), { reuse: true });
				chunk = await reader.read(this.chunkSize);
			}
			const parentId = await this.folders.id(parentPath(relative), true);
			const item = total === 0 ? await this.uploadEmpty(context, parentId, options.modTime) : await this.uploadSession(context, parentId, reader, chunk, total, options.modTime, measured, identity);
			return this.written(relative, item, measured);
		} finally {
			reader.close();
			measured.close();
			await spooled?.dispose();
		}
	}

	private async *rest(first: Buffer, reader: ChunkReader): AsyncIterable<Buffer> {
		yield first;
		for (;;) {
			const chunk = await reader.read(this.chunkSize);
			if (chunk.length === 0) return;
			yield chunk;
		}
	}

	/** Fragments cannot be empty: a zero-byte file is a simple PUT, its time set after (rclone does the same). */
	private async uploadEmpty(context: CallContext, parentId: string, modTime: number | undefined): Promise<GraphItem> {
		const url = `${this.drivePrefix}/items/${parentId}:/${encodeURIComponent(encodeName(baseName(context.path)))}:/content?@microsoft.graph.conflictBehavior=replace`;
		const item = await this.json<GraphItem>(context, 'PUT', url, { body: Buffer.alloc(0), headers: { 'content-type': 'application/octet-stream' } });
		if (modTime === undefined) return item;
		return this.json<GraphItem>(context, 'PATCH', `${this.drivePrefix}/items/${item.id}`, { json: { fileSystemInfo: { lastModifiedDateTime: graphTime(modTime) } } });
	}

	/**
	 * Every non-empty file goes through an upload session, with its modification time in the session's
	 * fileSystemInfo: a simple PUT needs a later PATCH for the time, which on Business makes a second
	 * version and doubles the storage used [code] rclone onedrive.go:142-156. The file is replaced when
	 * the last fragment lands, so readers see the old bytes or the new ones.
	 */
	private async uploadSession(
		context: CallContext,
		parentId: string,
		reader: ChunkReader,
		first: Buffer,
		total: number,
		modTime: number | undefined,
		measured: Pick<ChunkReader, 'bytes' | 'hashes'>,
		identity?: UploadIdentity,
	): Promise<GraphItem> {
		const name = encodeName(baseName(context.path));
		const item: Record<string, unknown> = { '@microsoft.graph.conflictBehavior': 'replace', name, fileSize: total };
		if (modTime !== undefined) item.fileSystemInfo = { lastModifiedDateTime: graphTime(modTime) };
		const url = `${this.drivePrefix}/items/${parentId}:/${encodeURIComponent(name)}:/createUploadSession`;
		const session = await this.json<{ uploadUrl: string; expirationDateTime?: string }>(context, 'POST', url, { json: { item } });
		await this.sessions.begin(identity, session.uploadUrl, 0, Date.parse(session.expirationDateTime ?? '') || Date.now() + DEFAULT_SESSION_LIFETIME_MS);
		try {
			return await this.sendFragments(context, session.uploadUrl, reader, first, 0, total, identity);
		} catch (error) {
			const { sent } = error as { sent?: number };
			if (error instanceof SessionGoneError && sent !== undefined && sent >= total) {
				// The last fragment landed but its answer was lost: the file is in place when it holds the bytes sent.
				const stored = await this.item(context.path).catch(() => undefined);
				if (stored && !stored.folder && stored.size === total && stored.file?.hashes?.quickXorHash === measured.hashes.quickxor) return stored;
			}
			if (error instanceof SessionGoneError) throw new TransientError(`The upload session of ${context.path} expired; the file is uploaded anew on the next try`, { cause: error });
			// A session kept for a later run stays; any other is dropped so the server can free what it holds.
			if (!identity) await this.send('DELETE', session.uploadUrl, { auth: false, accept: [404] }).catch(() => undefined);
			throw error;
		}
	}

	/**
	 * Sends the file from `offset` on, fragment by fragment from `reader` (`first` already read), and
	 * tells the store what OneDrive confirmed. A failure carries `sent`, the end of the fragment it was
	 * sending, so a lost answer to the last one can be told from a session that ran out.
	 */
	private async sendFragments(context: CallContext, uploadUrl: string, reader: ChunkReader, first: Buffer | undefined, offset: number, total: number, identity?: UploadIdentity): Promise<GraphItem> {
		let chunk = first ?? (await reader.read(this.chunkSize));
		try {
			for (;;) {
				if (chunk.length === 0) throw new VerificationError(`The source of ${context.path} ended after ${offset} of ${total} bytes`);
				const done = await this.sendFragment(context, uploadUrl, chunk, offset, total);
				if (done) {
					this.sessions.end(identity);
					return done;
				}
				offset += chunk.length;
				this.sessions.advance(identity, offset);
				if (offset >= total) throw new TransientError(`OneDrive kept every byte of ${context.path} but did not commit it`);
				chunk = await reader.read(this.chunkSize);
			}
		} catch (error) {
			if (error instanceof SessionGoneError) this.sessions.end(identity);
			if (error instanceof Error) Object.assign(error, { sent: offset + chunk.length });
			throw error;
		}
	}

	keepUploads(store: UploadSessionStore): void {
		this.sessions.keep(store);
	}

	/**
	 * Goes on with the session an earlier run saved for this very source, from the first range OneDrive
	 * still expects. A session saved for another version of the file is deleted, so OneDrive frees what it holds.
	 */
	private resume(identity: UploadIdentity | undefined, options: WriteOptions): Promise<GraphItem | undefined> {
		return this.sessions.resume(identity, options, {
			cancel: async (stale) => void (await this.send('DELETE', stale.session, { auth: false, accept: [404] })),
			confirmed: (saved) =>
				this.call({ path: saved.path, signal: options.signal }, async () => {
					const status = await this.send('GET', saved.session, { auth: false, accept: [404] });
					return status.status === 404 ? undefined : expectedFrom((await status.json()) as UploadStatus);
				}),
			send: (saved, reader, offset) =>
				this.sendFragments({ path: saved.path, signal: options.signal }, saved.session, reader, undefined, offset, saved.size, identity).catch((error: unknown) => {
					if (error instanceof SessionGoneError) throw new TransientError(`The upload session of ${saved.path} expired; the file is uploaded anew on the next try`, { cause: error });
					throw error;
				}),
			gone: (error) => error instanceof SessionGoneError,
		});
	}

	/**
	 * Sends `chunk`, which starts at `offset`. A retry (or a 416, "already have that") first asks the
	 * session what it still expects and sends only that, as the protocol's nextExpectedRanges says.
	 * Returns the item once the last byte is in.
	 */
	private sendFragment(context: CallContext, uploadUrl: string, chunk: Buffer, offset: number, total: number): Promise<GraphItem | undefined> {
		let resync = false;
		return this.call(context, async (attempt) => {
			let from = offset;
			if (attempt > 0 || resync) {
				const status = await this.send('GET', uploadUrl, { auth: false, accept: [404] });
				if (status.status === 404) throw new SessionGoneError(`The upload session of ${context.path} is gone`);
				from = expectedFrom((await status.json()) as UploadStatus) ?? offset;
				if (from < offset || from > offset + chunk.length) {
					throw new CloudSyncError(`The upload session of ${context.path} expects byte ${from}, outside the fragment at ${offset}`);
				}
				if (from === offset + chunk.length) return undefined;
			}
			const body = chunk.subarray(from - offset);
			const response = await this.send('PUT', uploadUrl, {
				auth: false,
				body,
				headers: { 'content-range': `bytes ${from}-${from + body.length - 1}/${total}`, 'content-type': 'application/octet-stream' },
				accept: [404, 416],
			});
			if (response.status === 404) throw new SessionGoneError(`The upload session of ${context.path} is gone`);
			if (response.status === 416) {
				resync = true;
				throw new TransientError(`OneDrive already holds part of the fragment at ${from} of ${context.path}`);
			}
			if (response.status === 202) return undefined;
			return (await response.json()) as GraphItem;
		});
	}

	/** The entry of a stored file, once its size and quickXorHash are those of the bytes that were read. */
	private written(relative: string, item: GraphItem, measured: Pick<ChunkReader, 'bytes' | 'hashes'>): Entry {
		const entry = this.entryOf(item, parentPath(relative));
		const sent = measured.hashes.quickxor;
		const stored = entry.hashes.quickxor;
		// SharePoint stores Office files again with its own properties: their size and hash change by design.
		if (!this.rewrites(relative) && (entry.size !== measured.bytes || (stored && sent && !sameHash('quickxor', stored, sent)))) {
			throw new VerificationError(`OneDrive stored ${relative} with ${entry.size} bytes and quickXorHash ${stored}, but ${measured.bytes} bytes with ${sent} were sent`);
		}
		this.remember(entry);
		return { ...entry, size: measured.bytes, hashes: { ...entry.hashes, ...measured.hashes } };
	}

	// -----------------------------------------------------------------------------------------
	// Folders, deletion, moves and copies

	async mkdir(path: string): Promise<void> {
		const relative = normalizeRelativePath(path);
		if (relative === '') return;
		await this.folders.id(relative, true);
	}

	async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
		const relative = writablePath(path, 'delete');
		const item = await this.item(relative);
		if (item.folder && !options.recursive && (item.folder.childCount ?? 0) > 0) throw new NotEmptyError(relative);
		await this.call({ path: relative }, async (attempt) => {
			try {
				await this.send('DELETE', `${this.drivePrefix}/items/${item.id}`);
			} catch (error) {
				// An earlier attempt deleted it, and its answer was lost.
				if (attempt === 0 || !(error instanceof GraphResponseError) || error.status !== 404) throw error;
			}
		});
		this.forget(relative);
	}

	async move(from: string, to: string): Promise<Entry> {
		const source = writablePath(from, 'move');
		const target = writablePath(to, 'move onto');
		const item = await this.item(source);
		if (source === target) return this.entryOf(item, parentPath(source));
		const sameKey = matchKey(source, true) === matchKey(target, true);
		if (item.folder && !sameKey && insideOrSame(matchKey(target, true), matchKey(source, true))) {
			throw new InvalidPathError(to, `cannot move the folder ${source} into itself`);
		}
		const parentId = await this.folders.id(parentPath(target), true);
		// A move without fileSystemInfo resets the modification time [code] rclone onedrive.go:1900: it is sent along.
		const patch = {
			name: encodeName(baseName(target)),
			parentReference: { id: parentId },
			fileSystemInfo: { lastModifiedDateTime: item.fileSystemInfo?.lastModifiedDateTime },
		};
		const send = () => this.json<GraphItem>({ path: source, to: target }, 'PATCH', `${this.drivePrefix}/items/${item.id}`, { json: patch });
		let moved: GraphItem;
		try {
			moved = await send();
		} catch (error) {
			// Like a rename on a disk, a file replaces a file that is in the way.
			if (!(error instanceof AlreadyExistsError) || item.folder || (await this.item(target)).folder) throw error;
			await this.delete(target);
			moved = await send();
		}
		this.forget(source);
		const entry = this.entryOf(moved, parentPath(target));
		this.remember(entry);
		return entry;
	}

	async copy(from: string, to: string): Promise<Entry> {
		const source = writablePath(from, 'copy');
		const target = writablePath(to, 'copy onto');
		const item = await this.item(source);
		if (item.folder) throw new CloudSyncError(`Copying folders is not supported: ${source}`);
		if (matchKey(source, true) === matchKey(target, true)) return this.entryOf(item, parentPath(source));
		const parentId = await this.folders.id(parentPath(target), true);
		let copied: GraphItem;
		try {
			copied = await this.copyItem(item, parentId, target);
		} catch (error) {
			// Personal may ignore conflictBehavior on copy [issue] onedrive-api-docs#981: the file in the way goes first.
			if (!(error instanceof AlreadyExistsError) || (await this.item(target)).folder) throw error;
			await this.delete(target);
			copied = await this.copyItem(item, parentId, target);
		}
		const wanted = item.fileSystemInfo?.lastModifiedDateTime;
		if (wanted && copied.fileSystemInfo?.lastModifiedDateTime !== wanted) {
			copied = await this.json<GraphItem>({ path: target }, 'PATCH', `${this.drivePrefix}/items/${copied.id}`, { json: { fileSystemInfo: { lastModifiedDateTime: wanted } } });
		}
		const entry = this.entryOf(copied, parentPath(target));
		this.remember(entry);
		return entry;
	}

	/** A server-side copy: Graph answers 202 with a monitor URL, polled (without the token) until the copy is done. */
	private async copyItem(item: GraphItem, parentId: string, target: string): Promise<GraphItem> {
		const context = { path: target };
		const monitor = await this.call(context, async () => {
			const response = await this.send('POST', `${this.drivePrefix}/items/${item.id}/copy?@microsoft.graph.conflictBehavior=replace`, {
				json: { parentReference: { driveId: this.driveId, id: parentId }, name: encodeName(baseName(target)), '@microsoft.graph.conflictBehavior': 'replace' },
				headers: { prefer: 'respond-async' },
			});
			const location = response.headers.get('location');
			if (!location) throw new TransientError(`OneDrive started no copy monitor for ${target}`);
			return location;
		});
		for (let wait = 20; ; wait = Math.min(1000, wait * 2)) {
			const status = await this.call(context, async () => {
				const response = await this.send('GET', monitor, { auth: false, accept: [202, 303], redirect: 'manual' });
				if (response.status === 303) return { status: 'completed', resourceId: /items\/([^/?]+)/.exec(response.headers.get('location') ?? '')?.[1] };
				return (await response.json()) as { status?: string; resourceId?: string; error?: { code?: string }; errorCode?: string };
			});
			if (status.status === 'completed' && status.resourceId) return this.json<GraphItem>(context, 'GET', `${this.drivePrefix}/items/${status.resourceId}`);
			if (status.status === 'failed' || status.status === 'deleteFailed' || status.status === 'cancelled') {
				const code = ('error' in status ? status.error?.code : undefined) ?? ('errorCode' in status ? status.errorCode : undefined) ?? 'unknown';
				if (code === 'nameAlreadyExists') throw new AlreadyExistsError(target);
				if (code === 'quotaLimitReached') throw new StorageFullError(`The OneDrive is full: cannot copy to ${target}`);
				throw new CloudSyncError(`OneDrive could not copy to ${target} (${code})`);
			}
			await new Promise((resolve) => setTimeout(resolve, wait));
		}
	}

	// -----------------------------------------------------------------------------------------
	// Changes

	/** A delta link for "now" on the root folder, with the time it was asked for (a file created after it is 'added'). */
	async changeCursor(): Promise<string> {
		const asked = Date.now();
		const latest = async (folder: string) => {
			let link: string | undefined;
			// token=latest answers with no items, only the link to follow next time.
			for await (const item of this.pages({ path: '' }, `${folder}/delta?token=latest`, (delta) => (link = delta))) if (item.id === undefined) break;
			return link;
		};
		let link: string | undefined;
		try {
			link = await latest(`${this.drivePrefix}/items/${this.rootId}`);
		} catch (error) {
			// Personal answers delta only at the drive's root: that feed is read, and what lies outside the root is left out.
			if (!(error instanceof CloudSyncError) || !(error.cause instanceof GraphResponseError) || error.cause.status !== 400) throw error;
			link = await latest(`${this.drivePrefix}/root`);
		}
		if (!link) throw new TransientError('OneDrive returned no delta link');
		return `${asked}|${link}`;
	}

	/**
	 * What changed since the cursor, from the delta feed. Delta gives items without paths and
	 * reports the folders above a change too: paths come from this provider's memory, the page
	 * itself, or one lookup per unknown folder. A deletion is named only when its path is known
	 * (Business sends deletions without a name).
	 */
	async changesSince(cursor: string, options: { signal?: AbortSignal } = {}): Promise<ChangePage> {
		const bar = cursor.indexOf('|');
		const since = Number(cursor.slice(0, bar));
		const first = cursor.slice(bar + 1);
		if (bar < 0 || !Number.isFinite(since) || !first.startsWith('http')) throw new CursorExpiredError('This is not a OneDrive change cursor');
		const asked = Date.now();
		const context = { path: '', signal: options.signal };
		const latest = new Map<string, GraphItem>();
		let next: string | undefined;
		for await (const item of this.pages(context, first, (link) => (next = link))) {
			// The same item may come more than once: the last one is its state now [doc].
			latest.delete(item.id);
			latest.set(item.id, item);
		}
		if (!next) throw new TransientError('OneDrive ended the delta feed without a new link');
		// What was known before this page: folders named while placing the page's files are not "seen before".
		const before = new Map([...latest.keys()].map((id) => [id, this.known.get(id)] as const));
		const changes: Change[] = [];
		const unplaced: UnplacedChange[] = [];
		for (const item of latest.values()) {
			if (item.id === this.rootId) continue;
			const change = await this.changeOf(item, before.get(item.id), latest, since, unplaced, options.signal);
			// Several nameless deletions in one folder are that folder once.
			if (change && !changes.some((known) => known.kind === change.kind && known.path === change.path && known.isDir === change.isDir)) changes.push(change);
		}
		return { changes, cursor: `${asked}|${next}`, unplaced: unplaced.length, unplacedChanges: unplaced };
	}

	private async changeOf(
		item: GraphItem,
		before: { path: string; isDir: boolean } | undefined,
		page: Map<string, GraphItem>,
		since: number,
		unplaced: UnplacedChange[],
		signal?: AbortSignal,
	): Promise<Change | undefined> {
		const parent = item.deleted ? undefined : await this.folderPath(item.parentReference?.id, page, signal);
		if (item.deleted || parent === undefined) {
			// Gone, or moved out of the root.
			const path = before?.path ?? (item.deleted && item.name ? await this.deletedPath(item, page, signal) : undefined);
			if (path === undefined) return item.deleted ? this.somethingDeletedIn(item, page, signal) : undefined;
			this.forget(path);
			this.known.delete(item.id);
			return { kind: 'deleted', path, id: item.id, isDir: before?.isDir ?? item.folder !== undefined };
		}
		const entry = this.entryOf(item, parent);
		this.remember(entry);
		if (before && before.path !== entry.path) {
			if (before.isDir) this.folders.relocate(before.path, entry.path);
			return { kind: 'moved', path: entry.path, previousPath: before.path, entry, id: item.id, isDir: entry.isDir };
		}
		const created = Date.parse(item.createdDateTime ?? '') >= since;
		if (created && !before) return { kind: 'added', path: entry.path, entry, id: item.id, isDir: entry.isDir };
		// An older item this provider never saw may have been edited in place or moved here (a folder with all it holds): the delta does not say from where.
		if (!before && !inStateFolder(entry.path)) unplaced.push({ id: item.id, path: entry.path, isDir: entry.isDir });
		// A folder's own time changes with its contents, which have changes of their own.
		return entry.isDir ? undefined : { kind: 'modified', path: entry.path, entry, id: item.id, isDir: false };
	}

	/**
	 * Business and SharePoint send a deletion without a name: what is known is the folder it was in,
	 * which is reported as modified, so a sync of the changed paths goes over that folder and removes
	 * what is gone from it.
	 */
	private async somethingDeletedIn(item: GraphItem, page: Map<string, GraphItem>, signal?: AbortSignal): Promise<Change | undefined> {
		const folder = await this.folderPath(item.parentReference?.id, page, signal).catch(() => undefined);
		return folder === undefined ? undefined : { kind: 'modified', path: folder, isDir: true };
	}

	private async deletedPath(item: GraphItem, page: Map<string, GraphItem>, signal?: AbortSignal): Promise<string | undefined> {
		const parent = await this.folderPath(item.parentReference?.id, page, signal).catch(() => undefined);
		return parent === undefined ? undefined : joinPath(parent, decodeName(item.name ?? ''));
	}

	/** The path of folder `id` below the root: from memory, the page, or one lookup; undefined outside the root. */
	private async folderPath(id: string | undefined, page: Map<string, GraphItem>, signal?: AbortSignal): Promise<string | undefined> {
		if (!id || this.outside.has(id)) return undefined;
		if (id === this.rootId) return '';
		const known = this.known.get(id);
		if (known?.isDir) return known.path;
		const listed = page.get(id);
		if (listed && !listed.deleted && listed.parentReference?.id) {
			const parent = await this.folderPath(listed.parentReference.id, page, signal);
			if (parent === undefined) {
				this.outside.add(id);
				return undefined;
			}
			const path = joinPath(parent, decodeName(listed.name ?? ''));
			this.remember({ path, isDir: true, size: 0, modTime: 0, hashes: {}, id });
			return path;
		}
		let folder: GraphItem;
		try {
			folder = await this.json<GraphItem>({ path: '', signal }, 'GET', `${this.drivePrefix}/items/${encodeURIComponent(id)}`);
		} catch (error) {
			if (error instanceof NotFoundError) return undefined;
			throw error;
		}
		const drivePath = folder.root ? '' : joinPath(drivePathOf(folder.parentReference?.path) ?? '', folder.name ?? '');
		const root = matchKey(this.rootPath, true);
		const key = matchKey(drivePath, true);
		if (root !== '' && (drivePath === '' || !insideOrSame(key, root))) {
			this.outside.add(id);
			return undefined;
		}
		const relative = (root === '' ? drivePath : drivePath.slice(this.rootPath.length + 1))
			.split('/')
			.filter(Boolean)
			.map(decodeName)
			.join('/');
		this.remember({ path: relative, isDir: true, size: 0, modTime: 0, hashes: {}, id });
		return relative;
	}
}
