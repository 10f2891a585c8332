import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Dropbox, DropboxAuth, DropboxRequestOptions, DropboxResponseError, files } from 'dropbox';
import type { Capabilities, Change, ChangePage, DeleteOptions, Entry, HashType, Hashes, ListOptions, Provider, ReadOptions, RootLocation, UploadIdentity, UploadSessionStore, WriteOptions } from '../core/types';
import {
	AlreadyExistsError,
	AuthenticationError,
	ChangedSincePlannedError,
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
import { bufferFetch, ChunkReader, nodeBodyOf, CommitBatcher, dropboxSdk, emptyStream, OAuthTokens, ParentsFirst, Remote, requestSignal, ResumableUploads, type Ticket } from './kit';
import { createHasher } from '../core/hashing';
import { chunksOf } from '../core/streams';
import { baseName, hasControlCharacter, joinPath, matchKey, normalizeRelativePath, parentPath, writablePath } from '../core/paths';

const MiB = 1024 * 1024;
/** content_hash blocks, and the unit upload-session chunks must be a multiple of. */
const BLOCK = 4 * MiB;
/** Dropbox refuses a request that carries more than 150 MiB. */
const MAX_REQUEST_BYTES = 150 * MiB;
const DEFAULT_CHUNK = 8 * MiB;
/** Dropbox keeps an upload session 7 days; a day less, so a session is not resumed as it ends. */
const SESSION_LIFETIME_MS = 6 * 24 * 3600 * 1000;
/** Bytes one download request asks for: bodies are streamed, so this bounds only what one request's timeout covers (a request cut off goes on from its last byte). */
const DEFAULT_DOWNLOAD_CHUNK = 64 * MiB;
/** A read gives up after this many broken download bodies in a row that brought no byte. */
const MAX_FRUITLESS_BODIES = 5;
const CONTENT_DOWNLOAD_URL = 'https://content.dropboxapi.com/2/files/download';
/** list_folder's largest page. */
const LIST_PAGE = 2000;
/** upload_session/finish_batch_v2 takes at most 1000 entries. */
const MAX_BATCH = 1000;
/** A batch waits this long for another write to join it... */
const DEFAULT_BATCH_WINDOW_MS = 100;
/** ...but no longer than this in all. */
const MAX_BATCH_WAIT_MS = 1000;
/** The SDK refreshes 300 s before expiry; refreshing a little earlier lets concurrent calls share one refresh. */
const TOKEN_MARGIN_MS = 310_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 5 * 60_000;
const DROPBOX_HOST = /(^|\.)dropboxapi\.com$/;

export interface DropboxCredentials {
	/** The app key. */
	clientId: string;
	/** The app secret. */
	clientSecret: string;
	refreshToken: string;
	/** A current access token, to spare the first refresh. */
	accessToken?: string;
	/** When `accessToken` expires, in ms since the epoch; without it the token is refreshed before the first call. */
	accessTokenExpiresAt?: number;
}

export interface DropboxProviderOptions {
	auth: DropboxCredentials;
	/** Folder of the Dropbox that is the provider's root, such as '/Backups'; '' (the default) is the whole Dropbox. */
	root?: string;
	/**
	 * Sends every API, content and token request to this base URL instead of https://*.dropboxapi.com.
	 * Off unless set; for protocol emulators and tests only.
	 */
	apiBaseUrl?: string;
	pacer?: Pacer;
	/** Bytes per upload-session request, a multiple of 4 MiB; files up to this size go up in one request. */
	chunkSize?: number;
	/** The most bytes one download request asks for; the bytes are streamed, so memory does not depend on it. */
	downloadChunkSize?: number;
	/** Small files written concurrently are committed together, in batches of up to `maxEntries`. */
	batch?: { maxEntries?: number; windowMs?: number };
	requestTimeoutMs?: number;
}

type Metadata = files.FileMetadataReference | files.FolderMetadataReference | files.DeletedMetadataReference;
type Listed = files.FileMetadataReference | files.FolderMetadataReference;

interface CallContext {
	/** The provider-relative path errors are reported for. */
	path: string;
	/** The destination of a move or copy, for errors about it. */
	to?: string;
	signal?: AbortSignal;
}

/** A download request whose body is not read yet: the file it reads (absent when the range starts at or past its end) and its bytes up to `last`. */
interface OpenRange {
	file?: { size: number; rev: string };
	/** The body's chunks as they arrive, uncopied. */
	body?: AsyncGenerator<Buffer>;
	/** Bytes at the head of the body that were not asked for: a server that ignores Range sends the file from its start. */
	skip: number;
	/** The last byte asked for (inclusive). */
	last: number;
	/** Ends the request (if still going) and its timer. */
	close(): void;
}

/** The SDK's encoding of the Dropbox-API-Arg header: JSON with every non-ASCII character escaped. */
function headerSafeJson(value: unknown): string {
	return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A refused download as the SDK throws it for any other call, so that tokens, retries and errors are handled alike. */
async function downloadRefusal(response: Response): Promise<DropboxResponseError<unknown>> {
	const text = await response.text();
	let body: unknown = text;
	try {
		body = JSON.parse(text);
	} catch {
		// Kept as text: some errors (400s) are plain text.
	}
	return new (dropboxSdk().DropboxResponseError)(response.status, response.headers, body);
}

function dropboxTime(ms: number): string {
	return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function contentHashOf(data: Buffer): string {
	const hasher = createHasher('dropbox');
	hasher.update(data);
	return hasher.digest();
}

function isTagged(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && '.tag' in value;
}

/** The tags of a Dropbox error union from the outside in: ['path', 'conflict', 'file']. */
function tagsOf(error: unknown): string[] {
	const tags: string[] = [];
	let node = error;
	while (isTagged(node)) {
		const tag = String(node['.tag']);
		tags.push(tag);
		node = isTagged(node[tag]) ? node[tag] : node.reason;
	}
	return tags;
}

interface ErrorBody {
	error_summary?: string;
	error?: unknown;
	error_description?: string;
}

/** An answer of Dropbox's API the SDK threw; reading the class loads the SDK, which any call has loaded already. */
export function isDropboxResponseError(error: unknown): error is DropboxResponseError<unknown> {
	return error instanceof dropboxSdk().DropboxResponseError;
}

function bodyOf(error: DropboxResponseError<unknown>): ErrorBody {
	return typeof error.error === 'object' && error.error !== null ? (error.error as ErrorBody) : {};
}

/** The tags of a route or auth error the SDK threw, [] for anything else. */
function responseTags(error: unknown): string[] {
	return isDropboxResponseError(error) ? tagsOf(bodyOf(error).error) : [];
}

function retryAfterOfError(error: DropboxResponseError<unknown>): number | undefined {
	return retryAfterOf(error.headers, (bodyOf(error).error as { retry_after?: unknown } | undefined)?.retry_after);
}

/** The fetch the SDK is given: one that sends what it addresses to *.dropboxapi.com (always https) to `baseUrl` instead, when given one. */
export function redirectingFetch(baseUrl: string | undefined): typeof fetch {
	if (baseUrl === undefined) return bufferFetch;
	const base = baseUrl.replace(/\/+$/, '');
	return (input, init) => {
		const url = new URL(typeof input === 'string' || input instanceof URL ? String(input) : input.url);
		return bufferFetch(DROPBOX_HOST.test(url.hostname) ? `${base}${url.pathname}${url.search}` : url, init);
	};
}

/** The offset an upload session holds, from its incorrect_offset refusal. */
function correctOffsetOf(error: unknown): number | undefined {
	const body = isDropboxResponseError(error) ? (bodyOf(error).error as { correct_offset?: number } | undefined) : undefined;
	return body?.correct_offset;
}

/** Dropbox no longer knows the upload session a commit named: it expired, or an earlier attempt committed it. */
class LostUploadSessionError extends CloudSyncError {
	constructor(
		readonly path: string,
		summary: string,
		cause: unknown,
	) {
		super(`The upload session for ${path} was lost (${summary})`, { cause, hint: 'Run the sync again: the file is uploaded anew.' });
	}
}

/** Maps a route error (the union under a 409, or a failed batch entry) to the engine's typed errors. */
function routeError(failure: unknown, context: CallContext, cause: unknown): Error {
	const tags = tagsOf(failure);
	const summary = tags.join('/');
	const has = (...wanted: string[]) => wanted.some((tag) => tags.includes(tag));
	const path = tags[0] === 'to' && context.to !== undefined ? context.to : context.path;
	if (has('reset')) {
		return new CursorExpiredError('The Dropbox change cursor is no longer valid', { cause });
	}
	if (has('lookup_failed', 'incorrect_offset', 'not_closed')) return new LostUploadSessionError(path, summary, cause);
	if (has('too_many_write_operations', 'too_many_requests')) return new RateLimitError(`Dropbox is busy with other writes to this account (${path})`, { cause });
	if (has('not_found', 'not_folder')) return new NotFoundError(path, { cause });
	if (has('not_file')) return new CloudSyncError(`Cannot read a folder as a file: ${path}`, { cause });
	if (has('cant_move_folder_into_itself')) return new InvalidPathError(path, 'a folder cannot be moved into itself');
	if (has('conflict')) return new AlreadyExistsError(path, { cause });
	if (has('insufficient_space', 'insufficient_quota', 'team_folder_insufficient_quota', 'member_folder_insufficient_quota')) {
		return new StorageFullError(`The Dropbox account is full: cannot write ${path}`, { cause });
	}
	if (has('no_write_permission', 'access_restricted', 'restricted_content', 'team_folder', 'cant_transfer_ownership')) {
		return new PermissionError(`Dropbox does not allow this account to change ${path} (${summary})`, { cause });
	}
	if (has('malformed_path', 'disallowed_name')) {
		return new InvalidNameError(path, `Dropbox does not accept this name (${summary}); it refuses names such as desktop.ini, names ending in a space, and backslashes`, { cause });
	}
	if (has('content_hash_mismatch')) return new VerificationError(`The bytes Dropbox received for ${path} do not match what was sent`, { cause });
	return new CloudSyncError(`Dropbox refused the operation on ${path} (${summary || 'unknown error'})`, { cause });
}

/** Maps an error the SDK threw for an HTTP answer to the engine's typed errors. */
function responseError(error: DropboxResponseError<unknown>, context: CallContext, redact: (text: string) => string): Error {
	const body = bodyOf(error);
	const status = error.status;
	if (status === 409) return routeError(body.error, context, error);
	if (status === 401) {
		const tag = tagsOf(body.error)[0] ?? 'unauthorized';
		const hint =
			tag === 'missing_scope'
				? { hint: 'The Dropbox app lacks a permission it needs (files.metadata.read/write, files.content.read/write): enable it in the App Console, then reconnect the credential.' }
				: {};
		return new AuthenticationError(`Dropbox refused the access token (${tag})`, { cause: error, ...hint });
	}
	if (status === 400 && typeof body.error === 'string') {
		// The token endpoint answers in OAuth's shape: {"error": "invalid_grant", "error_description": ...}.
		const hint = body.error === 'invalid_client' ? { hint: 'Check the app key and app secret of the Dropbox credential.' } : {};
		return new AuthenticationError(`Dropbox refused to renew the access token (${body.error})`, { cause: error, ...hint });
	}
	if (status === 429) {
		const reason = tagsOf((body.error as { reason?: unknown } | undefined)?.reason)[0] ?? 'too_many_requests';
		return new RateLimitError(`Dropbox asked to slow down (${reason}) at ${context.path || '/'}`, { cause: error, retryAfterMs: retryAfterOfError(error) });
	}
	if (status === 403) return new PermissionError(`Dropbox denied access to ${context.path || '/'} (${tagsOf(body.error).join('/') || 'forbidden'})`, { cause: error });
	if (status >= 500) return new TransientError(`Dropbox failed with HTTP ${status} at ${context.path || '/'}`, { cause: error, retryAfterMs: retryAfterOfError(error) });
	const text = typeof error.error === 'string' ? error.error : (body.error_summary ?? JSON.stringify(error.error));
	return new CloudSyncError(`Dropbox rejected the request for ${context.path || '/'} (HTTP ${status}): ${redact(text).slice(0, 300)}`, { cause: error });
}

/** What a failed call becomes: Dropbox's answers by their status and tags, anything else by whether a retry may help. */
function mapDropboxError(error: unknown, context: CallContext, redact: (text: string) => string): Error {
	if (error instanceof CloudSyncError) return error;
	if (isDropboxResponseError(error)) return responseError(error, context, redact);
	if ((error as Error)?.name === 'TimeoutError') return new TransientError(`Dropbox did not answer in time (${context.path || '/'})`, { cause: error });
	// Errors of Node's own fetch may come from another realm, where `instanceof Error` does not hold.
	const message = redact(typeof (error as Error)?.message === 'string' ? (error as Error).message : String(error));
	const code = (error as { cause?: { code?: unknown } })?.cause?.code;
	if (classifyError(error).retryable) {
		return new TransientError(`Dropbox could not be reached, or the connection broke (${typeof code === 'string' ? code : message}) at ${context.path || '/'}`, {
			cause: error,
		});
	}
	return new CloudSyncError(message, { cause: error });
}

/** A Dropbox account, or one folder of it, through the official SDK. */
export class DropboxProvider implements Provider {
	readonly name = 'dropbox';
	readonly capabilities: Capabilities = {
		hashTypes: ['dropbox'],
		listedHashTypes: ['dropbox'],
		// client_modified is stored in whole seconds.
		modTimePrecisionMs: 1000,
		canSetModTime: true,
		caseInsensitive: true,
		// "Files uploaded through the API must be 350 GB or smaller."
		maxFileSize: 350e9,
		emptyFolders: true,
	};
	private readonly client: Dropbox;
	private readonly auth: DropboxAuth;
	/** The fetch the SDK is given, used directly for downloads so that their bodies can be streamed. */
	private readonly fetcher: typeof fetch;
	readonly pacer: Pacer;
	private readonly rootPath: string;
	private readonly rootDepth: number;
	private readonly chunkSize: number;
	private readonly downloadChunkSize: number;
	private readonly timeoutMs: number;
	private readonly batcher: CommitBatcher<files.UploadSessionFinishArg, files.UploadSessionFinishBatchResultEntry>;
	private readonly remote: Remote<CallContext>;
	/** Unfinished upload sessions, kept between runs when the caller gives a store; a session of another account is simply not found there. */
	private readonly sessions = new ResumableUploads(() => `dropbox:${this.rootPath}`);

	constructor(options: DropboxProviderOptions) {
		const { clientId, clientSecret, refreshToken, accessToken, accessTokenExpiresAt } = options.auth;
		// Upload chunks go out uncopied (bufferFetch).
		const redirected = redirectingFetch(options.apiBaseUrl);
		this.fetcher = redirected;
		const { Dropbox, DropboxAuth } = dropboxSdk();
		this.auth = new DropboxAuth({
			clientId,
			clientSecret,
			refreshToken,
			accessToken,
			accessTokenExpiresAt: accessTokenExpiresAt === undefined ? undefined : new Date(accessTokenExpiresAt),
			fetch: redirected,
		});
		this.client = new Dropbox({ auth: this.auth, fetch: redirected });
		this.pacer = options.pacer ?? new Pacer();
		const tokens = new OAuthTokens(
			{
				token: () => this.auth.getAccessToken(),
				expiresAt: () => this.auth.getAccessTokenExpiresAt()?.getTime(),
				refresh: () => this.auth.refreshAccessToken(),
				secrets: () => [clientSecret, refreshToken],
			},
			TOKEN_MARGIN_MS,
		);
		this.remote = new Remote<CallContext>({
			pacer: this.pacer,
			tokens,
			unauthorized: (error) => {
				const tag = isDropboxResponseError(error) && error.status === 401 ? responseTags(error)[0] : undefined;
				return tag === 'expired_access_token' || tag === 'invalid_access_token';
			},
			mapError: (error, context, redact) => mapDropboxError(error, context, redact),
		});
		const root = normalizeRelativePath((options.root ?? '').replace(/^\/+/, ''));
		this.rootPath = root === '' ? '' : `/${root}`;
		this.rootDepth = root === '' ? 0 : root.split('/').length;
		this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
		if (this.chunkSize % BLOCK !== 0 || this.chunkSize <= 0 || this.chunkSize > MAX_REQUEST_BYTES) {
			throw new CloudSyncError(`The Dropbox chunk size must be a multiple of 4 MiB up to 148 MiB, not ${this.chunkSize} bytes`);
		}
		this.downloadChunkSize = options.downloadChunkSize ?? DEFAULT_DOWNLOAD_CHUNK;
		this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
		this.batcher = new CommitBatcher((entries) => this.finishBatch(entries), {
			maxEntries: Math.min(MAX_BATCH, options.batch?.maxEntries ?? MAX_BATCH),
			windowMs: options.batch?.windowMs ?? DEFAULT_BATCH_WINDOW_MS,
			maxWaitMs: MAX_BATCH_WAIT_MS,
		});
	}

	// -----------------------------------------------------------------------------------------
	// Calls, tokens and errors

	/** One API call through the provider kit's Remote: pacer, fresh token, one renewal on a refused token, typed errors. */
	private call<T>(context: CallContext, request: (options: DropboxRequestOptions, attempt: number) => Promise<{ result: T }>): Promise<T> {
		return this.remote.call(
			context,
			async (attempt) => {
				// Not the SDK's timeout: its AbortSignal.timeout would keep each request's signal, and the
				// fetch listening to it, alive for the whole timeout after the answer.
				const timed = requestSignal(this.timeoutMs, context.signal);
				try {
					return (await request({ signal: timed.signal }, attempt)).result;
				} finally {
					timed.clear();
				}
			},
			context.signal,
		);
	}


	// -----------------------------------------------------------------------------------------
	// Paths and entries

	private toRemote(relative: string): string {
		return relative === '' ? this.rootPath : `${this.rootPath}/${relative}`;
	}

	/** The provider-relative path of a Dropbox path: the root's own segments are dropped, whatever their case. */
	private relativeOf(pathDisplay: string): string {
		return pathDisplay.split('/').slice(1 + this.rootDepth).join('/');
	}

	private entryOf(metadata: Listed): Entry {
		const path = this.relativeOf(metadata.path_display ?? `/${metadata.name}`);
		if (metadata['.tag'] === 'folder') return { path, isDir: true, size: 0, modTime: 0, hashes: {}, id: metadata.id };
		return {
			path,
			isDir: false,
			size: metadata.size,
			modTime: Date.parse(metadata.client_modified),
			hashes: metadata.content_hash ? { dropbox: metadata.content_hash } : {},
			id: metadata.id,
			version: metadata.rev,
		};
	}

	/** A path that may be written: not the root. */

	// -----------------------------------------------------------------------------------------
	// Listing and metadata

	async *list(path: string, options: ListOptions = {}): AsyncIterable<Entry> {
		const relative = normalizeRelativePath(path);
		const folder = this.toRemote(relative);
		const context = { path: relative, signal: options.signal };
		const order = new ParentsFirst(relative, true);
		let page = await this.call(context, (o) =>
			this.client.filesListFolder({ path: folder, recursive: options.recursive ?? false, limit: LIST_PAGE, include_deleted: false }, o),
		);
		for (;;) {
			for (const metadata of page.entries) {
				// A recursive listing names the listed folder itself too.
				if (metadata['.tag'] === 'deleted' || matchKey(metadata.path_lower ?? '', true) === matchKey(folder, true)) continue;
				yield* order.accept(this.entryOf(metadata));
			}
			if (!page.has_more) break;
			const cursor = page.cursor;
			page = await this.call(context, (o) => this.client.filesListFolderContinue({ cursor }, o));
		}
		yield* order.rest();
	}

	async stat(path: string): Promise<Entry> {
		const relative = normalizeRelativePath(path);
		// get_metadata does not answer for the root of the Dropbox.
		if (relative === '' && this.rootPath === '') return { path: '', isDir: true, size: 0, modTime: 0, hashes: {} };
		const metadata: Metadata = await this.call({ path: relative }, (o) => this.client.filesGetMetadata({ path: this.toRemote(relative) }, o));
		if (metadata['.tag'] === 'deleted') throw new NotFoundError(relative);
		return this.entryOf(metadata);
	}

	/**
	 * Dropbox has no batch get_metadata: several names of one folder are found in the first page of
	 * that folder's listing (one call instead of one each); what a longer folder's first page leaves
	 * out is asked for one by one.
	 */
	async statMany(paths: string[], options: { signal?: AbortSignal } = {}): Promise<Map<string, Entry>> {
		const found = new Map<string, Entry>();
		// Names that differ only in case or Unicode form are one item here: each spelling asked for is answered.
		const byFolder = new Map<string, Map<string, string[]>>();
		for (const path of paths.map(normalizeRelativePath)) {
			if (path === '') {
				found.set('', await this.stat(''));
				continue;
			}
			const folder = parentPath(path);
			const wanted = byFolder.get(folder) ?? new Map<string, string[]>();
			const key = matchKey(baseName(path), true);
			byFolder.set(folder, wanted.set(key, [...(wanted.get(key) ?? []), path]));
		}
		for (const [folder, wanted] of byFolder) {
			if (wanted.size > 1) {
				const context = { path: folder, signal: options.signal };
				const page = await this.call(context, async (o) => {
					try {
						return await this.client.filesListFolder({ path: this.toRemote(folder), recursive: false, limit: LIST_PAGE, include_deleted: false }, o);
					} catch (error) {
						// No such folder, or a file: nothing below it.
						if (responseTags(error).some((tag) => tag === 'not_found' || tag === 'not_folder')) return { result: undefined };
						throw error;
					}
				});
				if (!page) continue;
				for (const metadata of page.entries) {
					const key = matchKey(metadata.name, true);
					if (!wanted.has(key) || metadata['.tag'] === 'deleted') continue;
					for (const path of wanted.get(key)!) found.set(path, this.entryOf(metadata));
					wanted.delete(key);
				}
				if (!page.has_more) continue;
			}
			for (const path of [...wanted.values()].flat()) {
				try {
					found.set(path, await this.stat(path));
				} catch (error) {
					if (!(error instanceof NotFoundError)) throw error;
				}
			}
		}
		return found;
	}

	/** Names Dropbox refuses, known before a write is tried. */
	nameProblem(name: string): string | undefined {
		if (name.endsWith(' ')) return 'Dropbox does not allow a name ending in a space';
		if (name.includes('\\')) return 'Dropbox does not allow a backslash in a name';
		if (hasControlCharacter(name)) return 'Dropbox does not allow control characters in a name';
		if (name === '.' || name === '..') return `"${name}" is not a file name on Dropbox`;
		return undefined;
	}

	recovery(): string {
		return "deleted and replaced files can be restored from Dropbox's deleted files and version history (30 days, longer on some plans)";
	}

	/** The account and the root's path: Dropbox compares names without case. */
	async locate(): Promise<RootLocation> {
		const account = await this.call({ path: '' }, (o) => this.client.usersGetCurrentAccount(o));
		const names = this.rootPath.split('/').filter(Boolean);
		return { namespace: `dropbox:${account.account_id}`, chain: names, names, caseInsensitive: true };
	}

	async hash(path: string, types: HashType[]): Promise<Hashes> {
		const entry = await this.stat(path);
		if (entry.isDir) throw new CloudSyncError(`Cannot hash a folder: ${entry.path}`);
		return types.includes('dropbox') && entry.hashes.dropbox ? { dropbox: entry.hashes.dropbox } : {};
	}

	// -----------------------------------------------------------------------------------------
	// Reading

	async read(path: string, options: ReadOptions = {}): Promise<Readable> {
		const relative = normalizeRelativePath(path);
		const start = options.start ?? 0;
		if (options.end !== undefined && options.end <= start) return emptyStream();
		const context = { path: relative, signal: options.signal };
		// The first range is opened now, so a missing file fails here rather than in the stream.
		const first = await this.openRange(context, this.toRemote(relative), start, options.end);
		if (!first.file) return emptyStream();
		const stop = Math.min(options.end ?? Number.POSITIVE_INFINITY, first.file.size);
		return Readable.from(this.rangeBodies(context, first, start, stop), { objectMode: false, highWaterMark: 1 });
	}

	/**
	 * The bytes of a read as they arrive, range after range, by revision, so every range comes from the
	 * version the first one came from. Nothing is held beyond the chunk in hand: the SDK's own download
	 * reads a whole range into one Buffer (16 MiB ranges took a 300 MiB download to 250 MiB of RSS).
	 * A body that breaks off or ends short is asked for again from the byte it stopped at.
	 */
	private async *rangeBodies(context: CallContext, first: OpenRange, start: number, stop: number): AsyncGenerator<Buffer> {
		const revision = `rev:${first.file!.rev}`;
		let offset = start;
		let range: OpenRange | undefined = first;
		let fruitless = 0;
		try {
			while (offset < stop) {
				range ??= await this.openRange(context, revision, offset, stop);
				if (!range.body) throw new CloudSyncError(`${context.path} changed while it was being read`);
				const before = offset;
				let broken: unknown;
				try {
					for (;;) {
						const next = await range.body.next();
						if (next.done) break;
						let chunk = next.value;
						if (range.skip > 0) {
							const dropped = Math.min(range.skip, chunk.length);
							range.skip -= dropped;
							chunk = chunk.subarray(dropped);
						}
						chunk = chunk.subarray(0, range.last + 1 - offset);
						if (chunk.length > 0) {
							offset += chunk.length;
							yield chunk;
						}
						if (offset > range.last) break;
					}
				} catch (error) {
					if (context.signal?.aborted) throw error;
					broken = error;
				}
				if (offset <= range.last) {
					fruitless = offset > before ? 0 : fruitless + 1;
					if (fruitless >= MAX_FRUITLESS_BODIES) {
						throw new TransientError(`The download of ${context.path} broke off at byte ${offset} ${fruitless} times in a row`, { cause: broken });
					}
				}
				range.close();
				range = undefined;
			}
		} finally {
			range?.close();
		}
	}

	/** Opens a request for bytes from `start` up to `end` (exclusive), at most one download chunk; the body is left unread. */
	private openRange(context: CallContext, source: string, start: number, end: number | undefined): Promise<OpenRange> {
		const last = Math.min(end ?? Number.POSITIVE_INFINITY, start + this.downloadChunkSize) - 1;
		return this.call(context, async (): Promise<{ result: OpenRange }> => {
			// The timeout covers the body too, as it did when the SDK read it: a stalled body is asked for again from where it stopped.
			const { signal, clear } = requestSignal(this.timeoutMs, context.signal);
			try {
				const response = await this.fetcher(CONTENT_DOWNLOAD_URL, {
					method: 'POST',
					headers: { authorization: `Bearer ${this.auth.getAccessToken()}`, 'dropbox-api-arg': headerSafeJson({ path: source }), range: `bytes=${start}-${last}` },
					signal,
				});
				// The range starts at or past the end of the file: nothing to read.
				if (response.status === 416) {
					nodeBodyOf(response)?.destroy();
					clear();
					return { result: { skip: 0, last, close: () => undefined } };
				}
				if (!response.ok) throw await downloadRefusal(response);
				const { size, rev } = JSON.parse(response.headers.get('dropbox-api-result') ?? '{}') as files.FileMetadata;
				// Read as a node stream: a web stream over it (`response.body`) copies every chunk.
				const stream = nodeBodyOf(response)!;
				const body = chunksOf(stream);
				const close = () => {
					clear();
					stream.destroy();
					void body.return(undefined);
				};
				return { result: { file: { size, rev }, body, skip: response.status === 206 ? 0 : start, last: Math.min(last, size - 1), close } };
			} catch (error) {
				clear();
				throw error;
			}
		});
	}

	// -----------------------------------------------------------------------------------------
	// Writing

	async write(path: string, content: Readable, options: WriteOptions = {}): Promise<Entry> {
		const relative = writablePath(path, 'write over');
		const context = { path: relative, signal: options.signal };
		const commit: files.CommitInfo = {
			path: this.toRemote(relative),
			mode: { '.tag': 'overwrite' },
			autorename: false,
			client_modified: options.modTime === undefined ? undefined : dropboxTime(options.modTime),
		};
		const identity = this.sessions.identityOf(relative, options, this.chunkSize);
		// Before `content` is touched: a resumed upload reads the source from where the session ends instead.
		const resumed = await this.resume(identity, commit, options);
		// The caller compares the stored content_hash with the source's: this side saw only the rest.
		if (resumed) return this.written(relative, resumed, { bytes: options.size!, hashes: {} });
		// Each chunk is sent, retries included, before the next is read.
		const reader = new ChunkReader(content, { reuse: true, measure: { hashTypes: [...(options.hashTypes ?? []), 'dropbox'], size: options.size } });
		const ticket = this.batcher.join();
		try {
			const first = await reader.read(this.chunkSize);
			let metadata: files.FileMetadata;
			if (await reader.atEnd()) {
				metadata = await this.uploadSmall(context, first, commit, ticket);
			} else {
				ticket.leave();
				metadata = await this.uploadSession(context, reader, first, commit, identity);
			}
			return this.written(relative, metadata, reader);
		} catch (error) {
			reader.close();
			if (error instanceof LostUploadSessionError) return this.committedAnyway(relative, reader, commit, error);
			throw error;
		} finally {
			ticket.leave();
		}
	}

	async readVersioned(path: string): Promise<{ bytes: Buffer; version: string } | undefined> {
		const relative = normalizeRelativePath(path);
		try {
			return await this.call({ path: relative }, async (o) => {
				const { result } = await this.client.filesDownload({ path: this.toRemote(relative) }, o);
				const binary = result.fileBinary!;
				return { result: { bytes: Buffer.from(binary.buffer, binary.byteOffset, binary.byteLength), version: result.rev } };
			});
		} catch (error) {
			if (error instanceof NotFoundError) return undefined;
			throw error;
		}
	}

	/** files/upload in mode add (no file yet) or update (this rev), strict: a conflict is the other write that came first. */
	async writeIfUnchanged(path: string, bytes: Buffer, version: string | undefined): Promise<string | undefined> {
		const relative = writablePath(path, 'write over');
		const mode: files.WriteMode = version === undefined ? { '.tag': 'add' } : { '.tag': 'update', update: version };
		try {
			const written = await this.call({ path: relative }, (o) =>
				this.client.filesUpload({ path: this.toRemote(relative), mode, autorename: false, strict_conflict: true, contents: bytes, content_hash: contentHashOf(bytes) }, o),
			);
			return written.rev;
		} catch (error) {
			if (error instanceof AlreadyExistsError) return undefined;
			throw error;
		}
	}

	/** A file that fits in one request: alone it goes up with files/upload, among others it joins a batch commit. */
	private async uploadSmall(context: CallContext, data: Buffer, commit: files.CommitInfo, ticket: Ticket): Promise<files.FileMetadata> {
		const content_hash = contentHashOf(data);
		if (this.batcher.alone()) {
			ticket.leave();
			return this.call(context, (o) => this.client.filesUpload({ ...commit, contents: data, content_hash }, o));
		}
		const { session_id } = await this.call(context, (o) => this.client.filesUploadSessionStart({ close: true, contents: data, content_hash }, o));
		const entry: files.UploadSessionFinishArg = { cursor: { session_id, offset: data.length }, commit };
		// A file the batch could not commit (too_many_write_operations) joins the next batch through the pacer.
		// A failed batch call was retried by the pacer already, so its error ends the write.
		const outcome = await this.pacer.run(async (): Promise<{ metadata: files.FileMetadata } | { error: unknown }> => {
			let result: files.UploadSessionFinishBatchResultEntry;
			try {
				result = await this.batcher.commit(ticket, entry);
			} catch (error) {
				return { error };
			}
			if (result['.tag'] === 'failure') throw routeError(result.failure, context, undefined);
			return { metadata: result };
		}, context.signal);
		if ('error' in outcome) throw outcome.error;
		return outcome.metadata;
	}

	private finishBatch(entries: files.UploadSessionFinishArg[]): Promise<files.UploadSessionFinishBatchResultEntry[]> {
		return this.call({ path: `${entries.length} files` }, async (o) => {
			const response = await this.client.filesUploadSessionFinishBatchV2({ entries }, o);
			return { result: response.result.entries };
		});
	}

	/** A file larger than one chunk, streamed through an upload session one chunk at a time. */
	private async uploadSession(context: CallContext, reader: ChunkReader, first: Buffer, commit: files.CommitInfo, identity?: UploadIdentity): Promise<files.FileMetadata> {
		const { session_id } = await this.call(context, (o) =>
			this.client.filesUploadSessionStart({ close: false, contents: first, content_hash: contentHashOf(first) }, o),
		);
		await this.sessions.begin(identity, session_id, first.length, Date.now() + SESSION_LIFETIME_MS);
		const metadata = await this.sendSession(context, session_id, reader, first.length, commit, identity);
		this.sessions.end(identity);
		return metadata;
	}

	/** Appends the rest of `reader` to a session holding `offset` bytes, then commits it with the last chunk. */
	private async sendSession(context: CallContext, session_id: string, reader: ChunkReader, offset: number, commit: files.CommitInfo, identity?: UploadIdentity): Promise<files.FileMetadata> {
		for (;;) {
			const chunk = await reader.read(this.chunkSize);
			if (chunk.length < this.chunkSize || (await reader.atEnd())) {
				const cursor = { session_id, offset };
				return this.call(context, (o) => this.client.filesUploadSessionFinish({ cursor, commit, contents: chunk, content_hash: contentHashOf(chunk) }, o));
			}
			await this.append(context, { session_id, offset }, chunk);
			offset += chunk.length;
			this.sessions.advance(identity, offset);
		}
	}

	keepUploads(store: UploadSessionStore): void {
		this.sessions.keep(store);
	}

	/** Goes on with the session an earlier run saved for this very source, from the offset Dropbox confirms. */
	private resume(identity: UploadIdentity | undefined, commit: files.CommitInfo, options: WriteOptions): Promise<files.FileMetadata | undefined> {
		return this.sessions.resume(identity, options, {
			confirmed: (saved) => this.confirmedOffset({ path: saved.path, signal: options.signal }, saved.session, saved.offset),
			send: (saved, reader, offset) => this.sendSession({ path: saved.path, signal: options.signal }, saved.session, reader, offset, commit, identity),
			gone: (error) => error instanceof LostUploadSessionError || error instanceof NotFoundError,
		});
	}

	/**
	 * How many bytes a session holds: an empty append at the offset last saved is either right, or
	 * refused with incorrect_offset and the offset Dropbox has.
	 */
	private confirmedOffset(context: CallContext, session_id: string, saved: number): Promise<number> {
		return this.call(context, async (o) => {
			try {
				await this.client.filesUploadSessionAppendV2({ cursor: { session_id, offset: saved }, close: false, contents: Buffer.alloc(0) }, o);
				return { result: saved };
			} catch (error) {
				const correct = correctOffsetOf(error);
				if (correct === undefined) throw error;
				return { result: correct };
			}
		});
	}

	private append(context: CallContext, cursor: files.UploadSessionCursor, chunk: Buffer): Promise<void> {
		return this.call(context, async (o) => {
			try {
				await this.client.filesUploadSessionAppendV2({ cursor, close: false, contents: chunk, content_hash: contentHashOf(chunk) }, o);
			} catch (error) {
				// An earlier attempt landed but its answer was lost: Dropbox already holds this chunk.
				if (correctOffsetOf(error) !== cursor.offset + chunk.length) throw error;
			}
			return { result: undefined };
		});
	}

	/**
	 * A commit whose answer was lost is retried, and the retry finds its session gone: the file is in
	 * place when the path now holds exactly the bytes that were sent.
	 */
	private async committedAnyway(relative: string, measured: Pick<ChunkReader, 'bytes' | 'hashes'>, commit: files.CommitInfo, lost: LostUploadSessionError): Promise<Entry> {
		const entry = await this.stat(relative).catch(() => undefined);
		const sameBytes = entry !== undefined && !entry.isDir && entry.size === measured.bytes && entry.hashes.dropbox === measured.hashes.dropbox;
		const sameTime = commit.client_modified === undefined || entry?.modTime === Date.parse(commit.client_modified);
		if (!sameBytes || !sameTime) throw lost;
		return { ...entry, hashes: { ...measured.hashes, ...entry.hashes } };
	}

	/** The entry of a committed file, once its size and content_hash are those of the bytes that were read. */
	private written(relative: string, metadata: files.FileMetadata, measured: Pick<ChunkReader, 'bytes' | 'hashes'>): Entry {
		const local = measured.hashes;
		if (metadata.size !== measured.bytes || (metadata.content_hash !== undefined && local.dropbox !== undefined && metadata.content_hash !== local.dropbox)) {
			throw new VerificationError(
				`Dropbox stored ${relative} with ${metadata.size} bytes and content_hash ${metadata.content_hash}, but ${measured.bytes} bytes with ${local.dropbox} were sent`,
			);
		}
		const entry = this.entryOf({ '.tag': 'file', ...metadata });
		return { ...entry, hashes: { ...local, ...entry.hashes } };
	}

	// -----------------------------------------------------------------------------------------
	// Folders, deletion, moves and copies

	async mkdir(path: string): Promise<void> {
		const relative = normalizeRelativePath(path);
		if (relative === '') return;
		await this.call({ path: relative }, async (o) => {
			try {
				await this.client.filesCreateFolderV2({ path: this.toRemote(relative), autorename: false }, o);
			} catch (error) {
				// A folder that is already there is what was asked for.
				if (responseTags(error).join('/') !== 'path/conflict/folder') throw error;
			}
			return { result: undefined };
		});
	}

	async delete(path: string, options: DeleteOptions = {}): Promise<void> {
		const relative = writablePath(path, 'delete');
		// Only a file takes parent_rev; a file known to be one needs no check that it is an empty folder.
		const rev = options.planned && !options.planned.isDir ? options.planned.version : undefined;
		// Dropbox deletes a folder with everything in it, so an empty folder is checked for first.
		if (!options.recursive && rev === undefined) await this.refuseNonEmpty(relative);
		const outcome = await this.call({ path: relative }, async (o, attempt) => {
			try {
				await this.client.filesDeleteV2({ path: this.toRemote(relative), parent_rev: rev }, o);
			} catch (error) {
				const tags = responseTags(error);
				// [unconfirmed] A rev that is no longer the file's is answered as a write conflict, or as not_found.
				if (rev !== undefined && tags.includes('conflict')) return { result: 'changed' as const };
				if (!tags.includes('not_found')) throw error;
				if (rev !== undefined) return { result: attempt === 0 ? ('not found' as const) : ('not found on a retry' as const) };
				// An earlier attempt deleted it, and its answer was lost.
				if (attempt === 0) throw error;
			}
			return { result: 'deleted' as const };
		});
		if (outcome === 'deleted') return;
		const current = outcome === 'changed' ? undefined : await this.stat(relative).catch((error: unknown) => {
			if (error instanceof NotFoundError) return undefined;
			throw error;
		});
		if (outcome === 'changed' || (current && current.version !== rev)) throw new ChangedSincePlannedError(relative, 'deleted');
		if (current) throw new TransientError(`Dropbox answered not_found for ${relative}, yet still holds it at rev ${rev}`);
		if (outcome === 'not found') throw new NotFoundError(relative);
	}

	private async refuseNonEmpty(relative: string): Promise<void> {
		const listing = await this.call({ path: relative }, async (o) => {
			try {
				return await this.client.filesListFolder({ path: this.toRemote(relative), limit: 1 }, o);
			} catch (error) {
				// A file: nothing to check.
				if (responseTags(error).includes('not_folder')) return { result: undefined };
				throw error;
			}
		});
		if (listing && listing.entries.length > 0) throw new NotEmptyError(relative);
	}

	async move(from: string, to: string): Promise<Entry> {
		const source = writablePath(from, 'move');
		const target = writablePath(to, 'move onto');
		if (source === target) return this.stat(source);
		if (matchKey(source, true) === matchKey(target, true)) return this.renameCase(source, target);
		return this.relocate('move', source, target);
	}

	async copy(from: string, to: string): Promise<Entry> {
		const source = writablePath(from, 'copy');
		const target = writablePath(to, 'copy onto');
		// On a case-insensitive cloud that is the file itself.
		if (matchKey(source, true) === matchKey(target, true)) return this.stat(source);
		return this.relocate('copy', source, target);
	}

	/** Dropbox does not rename by case alone, so the entry goes through a temporary name. */
	private async renameCase(source: string, target: string): Promise<Entry> {
		const temporary = joinPath(parentPath(source), `.cloudsync-rename-${randomBytes(6).toString('hex')}-${baseName(source)}`);
		await this.relocate('move', source, temporary);
		try {
			return await this.relocate('move', temporary, target);
		} catch (error) {
			await this.relocate('move', temporary, source).catch(() => undefined);
			throw error;
		}
	}

	/** Moves or copies; like a rename on a disk, a file replaces a file that is in the way. */
	private async relocate(kind: 'move' | 'copy', source: string, target: string): Promise<Entry> {
		const arg: files.RelocationArg = { from_path: this.toRemote(source), to_path: this.toRemote(target), autorename: false };
		const send = () =>
			this.call({ path: source, to: target }, async (o, attempt): Promise<{ result: files.RelocationResult }> => {
				if (kind === 'copy') return this.client.filesCopyV2(arg, o);
				try {
					return await this.client.filesMoveV2(arg, o);
				} catch (error) {
					// An earlier attempt moved it, and its answer was lost: the entry is at the target now.
					if (attempt === 0 || responseTags(error).join('/') !== 'from_lookup/not_found') throw error;
					return { result: { metadata: (await this.client.filesGetMetadata({ path: arg.to_path }, o)).result } };
				}
			});
		try {
			return this.entryOf((await send()).metadata as Listed);
		} catch (error) {
			if (!(error instanceof AlreadyExistsError) || error.path !== target || !(await this.bothFiles(source, target))) throw error;
			await this.call({ path: target }, (o) => this.client.filesDeleteV2({ path: this.toRemote(target) }, o));
			return this.entryOf((await send()).metadata as Listed);
		}
	}

	private async bothFiles(source: string, target: string): Promise<boolean> {
		const [from, to] = await Promise.all([this.stat(source), this.stat(target)]);
		return !from.isDir && !to.isDir;
	}

	// -----------------------------------------------------------------------------------------
	// Changes

	async changeCursor(): Promise<string> {
		const { cursor } = await this.call({ path: '' }, (o) =>
			this.client.filesListFolderGetLatestCursor({ path: this.rootPath, recursive: true, include_deleted: false }, o),
		);
		return cursor;
	}

	/**
	 * Dropbox reports what each changed path holds now: a deletion, or the current file or folder. It
	 * does not say whether a file is new or changed, so files are 'modified', folders (which only show
	 * up when they appear) 'added', and a move is a deletion plus the entry at its new place. A deleted
	 * folder is reported once, for the folder: what was in it is gone too.
	 */
	async changesSince(cursor: string, options: { signal?: AbortSignal } = {}): Promise<ChangePage> {
		const changes: Change[] = [];
		let next = cursor;
		let hasMore = true;
		while (hasMore) {
			const from = next;
			const page = await this.call({ path: '', signal: options.signal }, (o) => this.client.filesListFolderContinue({ cursor: from }, o));
			for (const metadata of page.entries) {
				const change = this.changeOf(metadata);
				if (change) changes.push(change);
			}
			next = page.cursor;
			hasMore = page.has_more;
		}
		return { changes, cursor: next };
	}

	private changeOf(metadata: Metadata): Change | undefined {
		const path = this.relativeOf(metadata.path_display ?? metadata.path_lower ?? '');
		if (path === '') return undefined;
		if (metadata['.tag'] === 'deleted') return { kind: 'deleted', path, isDir: false };
		const entry = this.entryOf(metadata);
		return { kind: entry.isDir ? 'added' : 'modified', path: entry.path, entry, isDir: entry.isDir };
	}
}
