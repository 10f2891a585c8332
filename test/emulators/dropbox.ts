import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { auth, files, users } from 'dropbox';
import { createHasher } from '../../lib/core/hashing';
import { Journal } from './core/journal';
import { OAuthTokens, tokenForm, type OAuthClientCredentials } from './core/oauth';
import { decodeToken, encodeToken, pageOf } from './core/paging';
import { sendContent } from './core/ranges';
import { EmulatorServer, readBody, sendJson, type FaultRule, type LoggedRequest, type RequestContext } from './core/server';
import { digestOf, Tree, type Item } from './core/tree';
import { Spool } from './core/spool';

/**
 * A Dropbox API v2 emulator that the unmodified `dropbox` SDK talks to, once its fetch is pointed at
 * this server. Shapes follow shared/reference/cloud-apis.md §2 and the SDK's own types, which every
 * response and route error is checked against at compile time; facts marked [unconfirmed] there are
 * emulated as described and noted where they matter. Not emulated: upload_session/finish_batch (the
 * asynchronous one) and finish_batch/check, concurrent upload sessions, list_folder/longpoll, ids
 * as paths, shared folders and team spaces.
 */

const MiB = 1024 * 1024;
/** "Do not use this to upload a file larger than 150 MiB" holds for every request that carries bytes. */
const MAX_REQUEST_BYTES = 150 * MiB;
const MAX_SESSION_BYTES = 2 ** 41 - 2 ** 22;
const MAX_LIST_LIMIT = 2000;
const MAX_BATCH_ENTRIES = 1000;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
/** Names the Dropbox client ignores and the API refuses. */
const DISALLOWED_NAMES = new Set(['desktop.ini', 'thumbs.db', '.ds_store', 'icon\r', '.dropbox', '.dropbox.attr']);

/** Dropbox keeps nothing beyond the shared tree: paths are names from the root, rev is the content revision, server_modified the stored time. */
type Node = Item<null>;
type Tagged = files.FileMetadataReference | files.FolderMetadataReference;
type Listed = Tagged | files.DeletedMetadataReference;

interface Session {
	chunks: Spool;
	length: number;
	closed: boolean;
}

/** What a list_folder cursor encodes: the folder, and either a place in the first listing or in the change journal. */
interface Cursor {
	epoch: number;
	root: string;
	recursive: boolean;
	limit: number;
	/** Journal position the listing started from, or the last one already reported. */
	seq: number;
	/** While the first listing is paged: the last path_lower returned. */
	after?: string;
}

export interface DropboxEmulatorOptions {
	/** Account size in bytes; commits beyond it fail with insufficient_space. */
	quotaBytes?: number;
	/** expires_in of the access tokens the token endpoint issues. */
	tokenLifetimeSeconds?: number;
	/**
	 * How long each commit (upload, finish, batch finish, delete, move, copy, create folder) holds the
	 * account's write lock; a commit arriving meanwhile gets 429 too_many_write_operations. 0: never.
	 */
	writeLockMs?: number;
	/** Retry-After of those 429s, in seconds. */
	contentionRetryAfterSeconds?: number;
	/**
	 * list_folder promises no order. Sorted listings put every folder before what it holds; with this on,
	 * entries come in a stable pseudo-random order instead, files often before their folders.
	 */
	unorderedListings?: boolean;
	seed?: number;
	/**
	 * How delete_v2 refuses a parent_rev that is not the file's latest rev (a folder has none): the
	 * reference leaves the error unconfirmed, so tests run both plausible answers.
	 */
	staleParentRev?: 'path_lookup/not_found' | 'path_write/conflict/file';
}

export type DropboxAppCredentials = OAuthClientCredentials;

/** A route error: HTTP 409 with `error_summary` and the route's typed error union. */
class RouteError extends Error {
	constructor(readonly error: object) {
		super(summaryOf(error));
	}
}

/** Any other answer that ends a request early, such as 400, 401 or 429. */
class HttpError extends Error {
	constructor(
		readonly status: number,
		readonly body: string | object,
		readonly headers: Record<string, string> = {},
	) {
		super(typeof body === 'string' ? body : JSON.stringify(body));
	}
}

/** A failed path lookup; each route wraps it in its own error union. */
class LookupFailure extends Error {
	constructor(readonly error: files.LookupError) {
		super(error['.tag']);
	}
}

/** A refused write; each route wraps it in its own error union. */
class WriteFailure extends Error {
	constructor(readonly error: files.WriteError) {
		super(error['.tag']);
	}
}

function routeError<T extends object>(error: T): RouteError {
	return new RouteError(error);
}

function isTagged(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && '.tag' in value;
}

/** The tag chain joined by '/', with the trailing "/.." Dropbox adds so nobody parses it. */
function summaryOf(error: unknown): string {
	const tags: string[] = [];
	let node: unknown = error;
	while (isTagged(node)) {
		const tag = String(node['.tag']);
		tags.push(tag);
		node = isTagged(node[tag]) ? node[tag] : node.reason;
	}
	return `${tags.join('/')}/..`;
}

/** JSON that fits in an HTTP header: every character from U+007F up as a \uXXXX escape, as the SDK writes it. */
function headerSafeJson(value: unknown): string {
	return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function dropboxTime(ms: number): string {
	return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function contentHash(content: Buffer): string {
	return digestOf(content, 'dropbox', (bytes) => {
		const hasher = createHasher('dropbox');
		hasher.update(bytes);
		return hasher.digest();
	});
}

function hasControlCharacter(name: string): boolean {
	for (let i = 0; i < name.length; i++) {
		const code = name.charCodeAt(i);
		if (code < 0x20 || code === 0x7f) return true;
	}
	return false;
}

function lower(path: string): string {
	return path.toLowerCase();
}

function leafName(path: string): string {
	return path.slice(path.lastIndexOf('/') + 1);
}

function rateLimited(reason: 'too_many_requests' | 'too_many_write_operations', retryAfterSeconds: number): HttpError {
	const body: { error_summary: string; error: auth.RateLimitError } = {
		error_summary: `${reason}/..`,
		error: { reason: { '.tag': reason }, retry_after: retryAfterSeconds },
	};
	return new HttpError(429, body, { 'retry-after': String(retryAfterSeconds) });
}

function authFailure(tag: 'invalid_access_token' | 'expired_access_token'): HttpError {
	const error: auth.AuthError = { '.tag': tag };
	return new HttpError(401, { error_summary: `${tag}/..`, error });
}

function badRequest(route: string, detail: string): HttpError {
	return new HttpError(400, `Error in call to API function "${route}": ${detail}`);
}

function writeHttpError(response: ServerResponse, error: HttpError): void {
	if (typeof error.body !== 'string') {
		sendJson(response, error.status, error.body, error.headers);
		return;
	}
	response.writeHead(error.status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(error.body), ...error.headers });
	response.end(error.body);
}

/** Under a `short-listing` fault a listing page keeps 60% of its entries and says there is no more. */
function cutShort<R>(call: Call, result: R): R {
	if (call.context.fault?.kind !== 'short-listing' || !result || typeof result !== 'object' || !('has_more' in result)) return result;
	const page = result as unknown as files.ListFolderResult;
	return { ...page, entries: page.entries.slice(0, Math.ceil(page.entries.length * 0.6)), has_more: false } as unknown as R;
}

/** HTTP-level faults in Dropbox's documented shapes. */
function renderFault(fault: FaultRule, response: ServerResponse): void {
	const retryAfter = fault.retryAfterSeconds ?? 1;
	switch (fault.kind) {
		case 'rate-limit':
			return writeHttpError(response, rateLimited('too_many_requests', retryAfter));
		case 'quota-rate-limit':
			return writeHttpError(response, rateLimited('too_many_write_operations', retryAfter));
		case 'unavailable':
			return writeHttpError(
				response,
				new HttpError(503, 'Service Unavailable', fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfter) }),
			);
		default:
			return writeHttpError(response, new HttpError(500, 'Internal Server Error'));
	}
}

interface Call {
	route: string;
	request: IncomingMessage;
	response: ServerResponse;
	context: RequestContext;
	body: Buffer;
}

type RouteHandler = (call: Call) => Promise<void>;

export class DropboxEmulator {
	readonly server: EmulatorServer;
	readonly credentials: DropboxAppCredentials;
	/** One emulator is one account. */
	readonly accountId = `dbid:${token(20)}`;
	/** 429 too_many_write_operations answers caused by write contention (not by injected faults). */
	contentionRejections = 0;
	/** Paths are case-insensitive: names are compared in lower case, and shown as they were first written. */
	private readonly tree = new Tree<null>({ newId: () => `id:${randomBytes(16).toString('base64url')}`, fold: lower });
	private readonly root = this.tree.add({ name: '', folder: true, meta: null });
	private readonly journal = new Journal<Listed>();
	private readonly sessions = new Map<string, Session>();
	private readonly tokens: OAuthTokens;
	private readonly readOnly = new Set<string>();
	private readonly routes: Record<string, RouteHandler>;
	private readonly writeLockMs: number;
	private readonly contentionRetryAfterSeconds: number;
	private readonly unorderedListings: boolean;
	private readonly staleParentRev: NonNullable<DropboxEmulatorOptions['staleParentRev']>;
	private epoch = 1;
	private writeLocked = false;

	private constructor(options: DropboxEmulatorOptions) {
		this.server = new EmulatorServer((request, response, context) => this.handle(request, response, context), renderFault, options.seed);
		this.tokens = new OAuthTokens(options.tokenLifetimeSeconds ?? 14_400, () => `sl.${token(32)}`);
		this.credentials = this.tokens.addClient({ clientId: `app-${token(8)}`, clientSecret: `secret-${token(16)}`, refreshToken: `refresh-${token(24)}` });
		this.tree.quotaBytes = options.quotaBytes ?? Number.POSITIVE_INFINITY;
		this.writeLockMs = options.writeLockMs ?? 0;
		this.contentionRetryAfterSeconds = options.contentionRetryAfterSeconds ?? 1;
		this.unorderedListings = options.unorderedListings ?? false;
		this.staleParentRev = options.staleParentRev ?? 'path_lookup/not_found';
		this.routes = {
			'users/get_current_account': this.rpc((): Pick<users.FullAccount, 'account_id' | 'email' | 'country'> => ({ account_id: this.accountId, email: 'user@example.invalid', country: 'US' })),
			'files/list_folder': this.rpc((arg: files.ListFolderArg): files.ListFolderResult => this.listFolder(arg)),
			'files/list_folder/continue': this.rpc((arg: files.ListFolderContinueArg): files.ListFolderResult => this.listContinue(arg)),
			'files/list_folder/get_latest_cursor': this.rpc(
				(arg: files.ListFolderArg): files.ListFolderGetLatestCursorResult => this.latestCursor(arg),
			),
			'files/get_metadata': this.rpc((arg: files.GetMetadataArg): Tagged => this.getMetadata(arg)),
			'files/download': (call) => this.download(call),
			'files/upload': this.upload((arg: files.UploadArg, body): Promise<files.FileMetadata> => this.committing(() => this.uploadFile(arg, body))),
			'files/upload_session/start': this.upload((arg: files.UploadSessionStartArg, body): files.UploadSessionStartResult => this.startSession(arg, body)),
			'files/upload_session/append_v2': this.upload((arg: files.UploadSessionAppendArg, body): null => this.appendSession(arg, body)),
			'files/upload_session/finish': this.upload(
				(arg: files.UploadSessionFinishArg, body): Promise<files.FileMetadata> => this.committing(() => this.finishSession(arg, body)),
			),
			'files/upload_session/finish_batch_v2': this.rpc(
				(arg: files.UploadSessionFinishBatchArg): Promise<files.UploadSessionFinishBatchResult> => this.committing(() => this.finishBatch(arg)),
			),
			'files/delete_v2': this.rpc((arg: files.DeleteArg): Promise<files.DeleteResult> => this.committing(() => this.deletePath(arg))),
			'files/move_v2': this.rpc((arg: files.RelocationArg): Promise<files.RelocationResult> => this.committing(() => this.relocate(arg, 'move'))),
			'files/copy_v2': this.rpc((arg: files.RelocationArg): Promise<files.RelocationResult> => this.committing(() => this.relocate(arg, 'copy'))),
			'files/create_folder_v2': this.rpc(
				(arg: files.CreateFolderArg): Promise<files.CreateFolderResult> => this.committing(() => this.createFolder(arg)),
			),
		};
	}

	static async start(options: DropboxEmulatorOptions = {}): Promise<DropboxEmulator> {
		const emulator = new DropboxEmulator(options);
		await emulator.server.start();
		return emulator;
	}

	get baseUrl(): string {
		return this.server.baseUrl;
	}

	/** Account size in bytes; commits beyond it fail with insufficient_space. */
	get quotaBytes(): number {
		return this.tree.quotaBytes;
	}

	set quotaBytes(bytes: number) {
		this.tree.quotaBytes = bytes;
	}

	get usedBytes(): number {
		return this.tree.usedBytes;
	}

	stop(): Promise<void> {
		return this.server.stop();
	}

	// -----------------------------------------------------------------------------------------
	// Helpers for tests: they change the account as another Dropbox client would, journal included.

	seedFile(path: string, content: Buffer | string, options: { clientModified?: number } = {}): files.FileMetadata {
		const data = typeof content === 'string' ? Buffer.from(content) : content;
		const clientModified = options.clientModified === undefined ? undefined : dropboxTime(options.clientModified);
		return this.unwrapped(() => this.commitFile({ path, mode: { '.tag': 'overwrite' }, client_modified: clientModified }, data));
	}

	seedFolder(path: string): files.FolderMetadata {
		return this.unwrapped(() => this.makeFolder(path, true));
	}

	/** Deletes a file or a folder with everything in it. */
	remove(path: string): void {
		this.unwrapped(() => this.removeTree(this.lookup(path)));
	}

	rename(from: string, to: string): Tagged {
		return this.unwrapped(() => this.relocateNode(this.lookup(from), to, 'move'));
	}

	stat(path: string): Tagged | undefined {
		const node = this.find(path);
		return node && this.tagged(node);
	}

	content(path: string): Buffer | undefined {
		return this.find(path)?.content;
	}

	/** Paths (as displayed) of everything below `path`, sorted. */
	paths(path = ''): string[] {
		const folder = path === '' ? this.root : this.find(path);
		return folder ? this.descendants(folder, true).map((node) => this.displayPath(node)) : [];
	}

	requests(route?: string): LoggedRequest[] {
		return route === undefined ? this.server.log : this.server.log.filter((entry) => entry.path === `/2/${route}`);
	}

	/** Requests to one API route ('files/upload'), to the token endpoint ('oauth2/token'), or all. */
	requestCount(route?: string): number {
		if (route === 'oauth2/token') return this.server.log.filter((entry) => entry.path === '/oauth2/token').length;
		return this.requests(route).length;
	}

	/** A new access token, as the token endpoint would issue it. */
	issueAccessToken(lifetimeSeconds?: number): string {
		return this.tokens.issue(undefined, lifetimeSeconds).accessToken;
	}

	/** Every access token issued so far, for tests that check none of them leaks. */
	get issuedAccessTokens(): string[] {
		return this.tokens.issued();
	}

	/** Every access token issued so far expires now; the next call with one gets 401 expired_access_token. */
	expireAccessTokens(): void {
		this.tokens.expireAll();
	}

	/** The user disconnected the app: access and refresh tokens stop working. */
	revokeAccess(): void {
		this.tokens.revoke();
	}

	/** Cursors issued so far become stale: list_folder/continue answers them with `reset`. */
	resetCursors(): void {
		this.epoch++;
	}

	/** Writes at or below `path` fail with no_write_permission, as in a read-only shared folder. */
	denyWrites(path: string): void {
		this.readOnly.add(lower(path));
	}

	allowWrites(path: string): void {
		this.readOnly.delete(lower(path));
	}

	// -----------------------------------------------------------------------------------------
	// HTTP plumbing

	private async handle(request: IncomingMessage, response: ServerResponse, context: RequestContext): Promise<void> {
		// The body is always drained first, so an early answer never leaves an upload half-sent.
		const body = await readBody(request);
		const path = context.url.pathname;
		const route = path.replace(/^\/2\//, '');
		try {
			if (path === '/oauth2/token') {
				sendJson(response, 200, this.issueToken(tokenForm(request, context.url, body)));
				return;
			}
			const handler = path.startsWith('/2/') ? this.routes[route] : undefined;
			if (!handler) throw new HttpError(400, `Unknown API function: "${route}"`);
			this.authorize(request.headers.authorization);
			await handler({ route, request, response, context, body });
		} catch (error) {
			if (response.headersSent) response.destroy();
			else if (error instanceof RouteError) sendJson(response, 409, { error_summary: summaryOf(error.error), error: error.error });
			else if (error instanceof HttpError) writeHttpError(response, error);
			else throw error;
		}
	}

	private rpc<A, R>(run: (arg: A) => R | Promise<R>): RouteHandler {
		return async (call) => {
			let arg: A;
			try {
				// Functions without arguments (users/get_current_account) are called with no body, or "null".
				const text = call.body.toString('utf8');
				arg = (text === '' ? null : JSON.parse(text)) as A;
				if (text !== '') call.context.log.arg = text;
			} catch {
				throw badRequest(call.route, 'request body: could not decode input as JSON');
			}
			this.reply(call, cutShort(call, await run(arg)));
		};
	}

	/** Answers 200 with JSON; under a `reset` fault the work is done but the answer is lost with the connection. */
	private reply(call: Call, body: unknown): void {
		if (call.context.fault?.kind === 'reset') call.response.socket?.destroy();
		else sendJson(call.response, 200, body);
	}

	private upload<A, R>(run: (arg: A, body: Buffer) => R | Promise<R>): RouteHandler {
		return async (call) => {
			if (call.body.length > MAX_REQUEST_BYTES) throw routeError({ '.tag': 'payload_too_large' });
			this.reply(call, await run(this.headerArg<A>(call), call.body));
		};
	}

	private headerArg<A>(call: Call): A {
		const header = call.request.headers['dropbox-api-arg'];
		if (typeof header !== 'string') throw badRequest(call.route, 'missing the Dropbox-API-Arg header');
		try {
			call.context.log.arg = header;
			return JSON.parse(header) as A;
		} catch {
			throw badRequest(call.route, 'HTTP header "Dropbox-API-Arg": could not decode input as JSON');
		}
	}

	private issueToken(form: URLSearchParams): { access_token: string; token_type: string; expires_in: number } {
		const result = this.tokens.refresh(form);
		if ('accessToken' in result) return { access_token: result.accessToken, token_type: 'bearer', expires_in: result.expiresIn };
		const descriptions = {
			unsupported_grant_type: 'only refresh_token is emulated',
			invalid_client: 'Invalid client_id or client_secret',
			invalid_grant: 'refresh token is invalid or revoked',
		};
		throw new HttpError(400, { error: result.error, error_description: descriptions[result.error] });
	}

	private authorize(header: string | undefined): void {
		const standing = this.tokens.check(header);
		if (standing === 'expired') throw authFailure('expired_access_token');
		if (standing !== 'valid') throw authFailure('invalid_access_token');
	}

	/** Takes the account's write lock as another app writing to the account would, until the returned release is called. */
	occupyWriteLock(): () => void {
		if (this.writeLocked) throw new Error('the write lock is already taken');
		this.writeLocked = true;
		return () => {
			this.writeLocked = false;
		};
	}

	/** Runs a commit under the account's write lock; a commit that finds it taken is told to retry later. */
	private async committing<T>(run: () => T): Promise<T> {
		if (this.writeLocked) {
			this.contentionRejections++;
			throw rateLimited('too_many_write_operations', this.contentionRetryAfterSeconds);
		}
		if (this.writeLockMs <= 0) return run();
		this.writeLocked = true;
		try {
			await new Promise((resolve) => setTimeout(resolve, this.writeLockMs));
			return run();
		} finally {
			this.writeLocked = false;
		}
	}

	/** Turns a lookup or write failure of a helper call into a plain error for the test that made it. */
	private unwrapped<T>(run: () => T): T {
		try {
			return run();
		} catch (error) {
			if (error instanceof LookupFailure || error instanceof WriteFailure) throw new Error(`emulator refused: ${summaryOf(error.error)}`);
			throw error;
		}
	}

	// -----------------------------------------------------------------------------------------
	// The tree

	/** The path as displayed: each name with the casing it was created with; '' for the root. */
	private displayPath(node: Node): string {
		return this.tree.pathOf(node).map((name) => `/${name}`).join('');
	}

	/** The file or folder at `path`, whatever its casing; never the root. */
	private find(path: string): Node | undefined {
		return path.startsWith('/') ? this.tree.resolve(this.root.id, path.split('/').slice(1)) : undefined;
	}

	private tagged(node: Node): Tagged {
		return node.folder ? { '.tag': 'folder', ...this.folderMetadata(node) } : { '.tag': 'file', ...this.fileMetadata(node) };
	}

	/** `path` is where the file is now, or was when an earlier version of it was stored. */
	private fileMetadata(node: Node, path = this.displayPath(node)): files.FileMetadata {
		const content = node.content ?? Buffer.alloc(0);
		return {
			name: node.name,
			id: node.id,
			client_modified: dropboxTime(node.modifiedTime),
			server_modified: dropboxTime(node.storedTime),
			rev: revOf(node),
			size: content.length,
			path_lower: lower(path),
			path_display: path,
			is_downloadable: true,
			content_hash: contentHash(content),
		};
	}

	private folderMetadata(node: Node): files.FolderMetadata {
		const path = this.displayPath(node);
		return { name: node.name, id: node.id, path_lower: lower(path), path_display: path };
	}

	private record(entry: Listed): void {
		this.journal.record(entry);
	}

	/** What is below `folder` (all of it, or only its children), sorted by path, so every folder comes before what it holds. */
	private descendants(folder: Node, recursive: boolean): Node[] {
		const nodes = recursive ? this.tree.descendants(folder.id) : this.tree.childrenOf(folder.id);
		return sortedByPath(nodes.map((node) => ({ key: lower(this.displayPath(node)), node }))).map(({ node }) => node);
	}

	private checkedPath(path: unknown, allowRoot: boolean): string {
		if (typeof path !== 'string' || !(/^(\/[^/]+)+$/.test(path) || (allowRoot && path === ''))) {
			throw new LookupFailure({ '.tag': 'malformed_path', malformed_path: `not a valid path: ${String(path)}` });
		}
		return path;
	}

	private lookup(path: unknown): Node {
		const node = this.find(this.checkedPath(path, false));
		if (!node) throw new LookupFailure({ '.tag': 'not_found' });
		return node;
	}

	/** The folder a listing starts from, as its lower-case path: '' for the root. */
	private folderKey(path: unknown): string {
		const checked = this.checkedPath(path, true);
		if (checked === '') return '';
		if (!this.lookup(checked).folder) throw new LookupFailure({ '.tag': 'not_folder' });
		return lower(checked);
	}

	/** Checks that `path` may be written, and returns it spelled with the casing of the folders that already exist. */
	private writablePath(path: unknown): string {
		let checked: string;
		try {
			checked = this.checkedPath(path, false);
		} catch {
			throw new WriteFailure({ '.tag': 'malformed_path', malformed_path: `not a valid path: ${String(path)}` });
		}
		const names = checked.split('/').slice(1);
		if (names.some((name) => DISALLOWED_NAMES.has(name.toLowerCase()))) throw new WriteFailure({ '.tag': 'disallowed_name' });
		if (names.some((name) => name.endsWith(' ') || name.includes('\\') || hasControlCharacter(name))) {
			throw new WriteFailure({ '.tag': 'malformed_path', malformed_path: 'the name has a character Dropbox does not allow' });
		}
		const key = lower(checked);
		for (const denied of this.readOnly) {
			if (key === denied || key.startsWith(`${denied}/`)) throw new WriteFailure({ '.tag': 'no_write_permission' });
		}
		let display = '';
		let folder: Node | undefined = this.root;
		for (const name of names) {
			const existing: Node | undefined = folder && this.tree.named(folder.id, name)[0];
			display = `${display}/${existing?.name ?? name}`;
			folder = existing;
		}
		return display;
	}

	/** The folder `display` goes in, with the missing folders above it created; a file on the way is a conflict. */
	private ensureParents(display: string): Node {
		let folder = this.root;
		for (const name of display.split('/').slice(1, -1)) {
			const existing = this.tree.named(folder.id, name)[0];
			if (existing && !existing.folder) throw new WriteFailure({ '.tag': 'conflict', conflict: { '.tag': 'file_ancestor' } });
			folder = existing ?? this.addFolder(folder, name);
		}
		return folder;
	}

	private addFolder(parent: Node, name: string): Node {
		const folder = this.tree.add({ name, parentId: parent.id, folder: true, meta: null });
		this.record(this.tagged(folder));
		return folder;
	}

	private makeFolder(path: unknown, existingIsFine: boolean): files.FolderMetadata {
		const display = this.writablePath(path);
		const existing = this.find(display);
		if (existing) {
			if (existing.folder && existingIsFine) return this.folderMetadata(existing);
			throw new WriteFailure({ '.tag': 'conflict', conflict: { '.tag': kindOf(existing) } });
		}
		return this.folderMetadata(this.addFolder(this.ensureParents(display), leafName(display)));
	}

	/** Commits `content` at `commit.path` following the write mode: the one place a file version is made. */
	private commitFile(commit: files.CommitInfo, content: Buffer): files.FileMetadata {
		const display = this.writablePath(commit.path);
		const existing = this.find(display);
		if (existing?.folder) throw new WriteFailure({ '.tag': 'conflict', conflict: { '.tag': 'folder' } });
		if (commit.client_modified !== undefined && !TIMESTAMP.test(commit.client_modified)) {
			throw badRequest('files/upload', `client_modified: "${commit.client_modified}" is not a timestamp`);
		}
		const mode = commit.mode ?? { '.tag': 'add' };
		// Without strict_conflict, identical content never conflicts [doc: CommitInfo.strict_conflict].
		const identical = existing?.content !== undefined && contentHash(existing.content) === contentHash(content) && !commit.strict_conflict;
		if (existing && !identical) {
			if (mode['.tag'] === 'add' || (mode['.tag'] === 'update' && mode.update !== revOf(existing))) {
				throw new WriteFailure({ '.tag': 'conflict', conflict: { '.tag': 'file' } });
			}
		}
		if (!existing && mode['.tag'] === 'update' && commit.strict_conflict) throw new WriteFailure({ '.tag': 'conflict', conflict: { '.tag': 'file' } });
		// Same bytes and no new time: no new revision. [unconfirmed] A new client_modified alone does make one.
		const sameTime = commit.client_modified === undefined || (existing && dropboxTime(existing.modifiedTime) === commit.client_modified);
		if (existing && identical && (mode['.tag'] !== 'overwrite' || sameTime)) return this.fileMetadata(existing);
		if (!this.tree.hasRoom(content.length - (existing?.content?.length ?? 0))) throw new WriteFailure({ '.tag': 'insufficient_space' });
		const clientModified = commit.client_modified === undefined ? undefined : Date.parse(commit.client_modified);
		let file: Node;
		if (existing) {
			this.tree.write(existing, content);
			existing.modifiedTime = clientModified ?? existing.storedTime;
			file = existing;
		} else {
			file = this.tree.add({ name: leafName(display), parentId: this.ensureParents(display).id, folder: false, content, modifiedTime: clientModified, meta: null });
		}
		this.record(this.tagged(file));
		return this.fileMetadata(file);
	}

	private removeTree(node: Node): void {
		const path = this.displayPath(node);
		this.tree.remove(node);
		this.record({ '.tag': 'deleted', name: node.name, path_lower: lower(path), path_display: path });
	}

	/** Moves or copies `node` with everything below it to `to`; the journal shows a move as deleted + added. */
	private relocateNode(node: Node, to: unknown, kind: 'move' | 'copy'): Tagged {
		const display = this.writablePath(to);
		const from = this.displayPath(node);
		if (lower(display).startsWith(`${lower(from)}/`)) throw routeError<files.RelocationError>({ '.tag': 'cant_move_folder_into_itself' });
		// [doc] "we do not currently support case-only renaming": the target is the source itself.
		const occupant = this.find(display);
		if (occupant) throw new WriteFailure({ '.tag': 'conflict', conflict: { '.tag': kindOf(occupant) } });
		if (kind === 'copy') {
			const bytes = [node, ...this.tree.descendants(node.id)].reduce((sum, each) => sum + (each.content?.length ?? 0), 0);
			if (!this.tree.hasRoom(bytes)) throw routeError<files.RelocationError>({ '.tag': 'insufficient_quota' });
		}
		const parent = this.ensureParents(display);
		let placed: Node;
		if (kind === 'move') {
			this.record({ '.tag': 'deleted', name: node.name, path_lower: lower(from), path_display: from });
			this.tree.move(node, parent.id, leafName(display));
			placed = node;
		} else {
			placed = this.tree.copy(node, parent.id, leafName(display))[0];
		}
		for (const each of [placed, ...this.descendants(placed, true)]) this.record(this.tagged(each));
		return this.tagged(placed);
	}

	// -----------------------------------------------------------------------------------------
	// Routes

	private listFolder(arg: files.ListFolderArg): files.ListFolderResult {
		const root = this.wrapLookup(() => this.folderKey(arg.path), (error): files.ListFolderError => ({ '.tag': 'path', path: error }));
		const limit = Math.min(MAX_LIST_LIMIT, Math.max(1, arg.limit ?? MAX_LIST_LIMIT));
		return this.page({ epoch: this.epoch, root, recursive: arg.recursive ?? false, limit, seq: this.journal.head, after: '' });
	}

	private latestCursor(arg: files.ListFolderArg): files.ListFolderGetLatestCursorResult {
		const root = this.wrapLookup(() => this.folderKey(arg.path), (error): files.ListFolderError => ({ '.tag': 'path', path: error }));
		const limit = Math.min(MAX_LIST_LIMIT, Math.max(1, arg.limit ?? MAX_LIST_LIMIT));
		return { cursor: encodeToken({ epoch: this.epoch, root, recursive: arg.recursive ?? false, limit, seq: this.journal.head }) };
	}

	private listContinue(arg: files.ListFolderContinueArg): files.ListFolderResult {
		const cursor = decodeToken<Cursor>(arg.cursor, (state) => typeof state.seq === 'number' && typeof state.root === 'string');
		if (!cursor) throw badRequest('files/list_folder/continue', 'cursor: invalid cursor');
		if (cursor.epoch !== this.epoch) throw routeError<files.ListFolderContinueError>({ '.tag': 'reset' });
		if (cursor.root !== '' && this.find(cursor.root)?.folder !== true) {
			throw routeError<files.ListFolderContinueError>({ '.tag': 'path', path: { '.tag': 'not_found' } });
		}
		return this.page(cursor);
	}

	/** One page: of the first listing while `after` is set, then of the change journal. */
	private page(cursor: Cursor): files.ListFolderResult {
		if (cursor.after !== undefined) {
			const folder = cursor.root === '' ? this.root : this.find(cursor.root)!;
			// [unconfirmed] A recursive listing of a folder other than the root includes that folder itself.
			const nodes = cursor.recursive && cursor.root !== '' ? [folder, ...this.descendants(folder, true)] : this.descendants(folder, cursor.recursive);
			// Pages follow one order throughout, and each cursor says where in it the last page ended.
			const places = sortedByPath(nodes.map((node) => ({ key: this.listingPlace(lower(this.displayPath(node))), node })));
			const after = cursor.after;
			const start = places.findIndex((place) => place.key > after);
			const page = pageOf(places, start < 0 ? places.length : start, cursor.limit);
			return {
				entries: page.items.map(({ node }) => this.tagged(node)),
				cursor: encodeToken({ ...cursor, after: page.next === undefined ? undefined : page.items[page.items.length - 1].key }),
				has_more: page.next !== undefined,
			};
		}
		const positions = this.journal.positions(cursor.seq, (entry) => inScope(entry.path_lower!, cursor));
		const page = pageOf(positions, 0, cursor.limit);
		// A cursor moves past what it reported; once nothing in its scope is left, past everything.
		const seq = page.next === undefined ? this.journal.head : positions[page.next - 1] + 1;
		return { entries: page.items.map((position) => this.journal.at(position)), cursor: encodeToken({ ...cursor, seq }), has_more: page.next !== undefined };
	}

	/** Where `key` sorts in a listing: by path, or by a stable scramble of it. */
	private listingPlace(key: string): string {
		const prefix = this.unorderedListings ? createHash('sha1').update(key).digest('hex').slice(0, 8) : '';
		return `${prefix}|${key}`;
	}

	private getMetadata(arg: files.GetMetadataArg): Tagged {
		if (arg.path === '') throw badRequest('files/get_metadata', 'request body: path: The root folder is unsupported.');
		return this.tagged(this.wrapLookup(() => this.lookup(arg.path), (error): files.GetMetadataError => ({ '.tag': 'path', path: error })));
	}

	private async download(call: Call): Promise<void> {
		const arg = this.headerArg<files.DownloadArg>(call);
		const { node, path } = this.wrapLookup(
			() => {
				const revision = /^rev:([0-9a-f]{9,})$/.exec(arg.path)?.[1];
				if (revision === undefined) return { node: this.lookup(arg.path), path: undefined };
				const version = this.tree.version(parseInt(revision, 16));
				if (!version) throw new LookupFailure({ '.tag': 'not_found' });
				return { node: version.item, path: version.path.map((name) => `/${name}`).join('') };
			},
			(error): files.DownloadError => ({ '.tag': 'path', path: error }),
		);
		if (node.folder) throw routeError<files.DownloadError>({ '.tag': 'path', path: { '.tag': 'not_file' } });
		const headers = { 'content-type': 'application/octet-stream', 'dropbox-api-result': headerSafeJson(this.fileMetadata(node, path)) };
		sendContent(call.response, call.context, call.request.headers.range, headers, node.content ?? Buffer.alloc(0), (contentRange) =>
			new HttpError(416, 'Requested Range Not Satisfiable', { 'content-range': contentRange }),
		);
	}

	private checkHash<E extends object>(body: Buffer, expected: string | undefined, mismatch: E): void {
		if (expected !== undefined && expected !== contentHash(body)) throw routeError(mismatch);
	}

	private uploadFile(arg: files.UploadArg, body: Buffer): files.FileMetadata {
		this.checkHash<files.UploadError>(body, arg.content_hash, { '.tag': 'content_hash_mismatch' });
		try {
			return this.commitFile(arg, body);
		} catch (error) {
			if (!(error instanceof WriteFailure)) throw error;
			throw routeError<files.UploadError>({ '.tag': 'path', reason: error.error, upload_session_id: token(12) });
		}
	}

	private startSession(arg: files.UploadSessionStartArg, body: Buffer): files.UploadSessionStartResult {
		if (arg.session_type?.['.tag'] === 'concurrent') throw badRequest('files/upload_session/start', 'concurrent sessions are not emulated');
		this.checkHash<files.UploadSessionStartError>(body, arg.content_hash, { '.tag': 'content_hash_mismatch' });
		const id = token(16);
		const chunks = new Spool();
		chunks.push(body);
		this.sessions.set(id, { chunks, length: body.length, closed: arg.close ?? false });
		return { session_id: id };
	}

	/** The session a cursor names, when the cursor's offset is where its data ends. */
	private session(cursor: files.UploadSessionCursor, acceptClosed: boolean): Session {
		const session = this.sessions.get(cursor.session_id);
		if (!session) throw new SessionFailure({ '.tag': 'not_found' });
		if (session.closed && !acceptClosed) throw new SessionFailure({ '.tag': 'closed' });
		if (cursor.offset !== session.length) throw new SessionFailure({ '.tag': 'incorrect_offset', correct_offset: session.length });
		return session;
	}

	private appendSession(arg: files.UploadSessionAppendArg, body: Buffer): null {
		let session: Session;
		try {
			session = this.session(arg.cursor, false);
		} catch (error) {
			if (!(error instanceof SessionFailure)) throw error;
			throw routeError<files.UploadSessionAppendError>(error.error);
		}
		this.checkHash<files.UploadSessionAppendError>(body, arg.content_hash, { '.tag': 'content_hash_mismatch' });
		if (session.length + body.length > MAX_SESSION_BYTES) throw routeError<files.UploadSessionAppendError>({ '.tag': 'too_large' });
		session.chunks.push(body);
		session.length += body.length;
		session.closed = arg.close ?? false;
		return null;
	}

	/** Commits a session with `body` as its last bytes; the failure is an UploadSessionFinishError. */
	private commitSession(arg: files.UploadSessionFinishArg, body: Buffer, mustBeClosed: boolean): files.FileMetadata {
		try {
			const session = this.session(arg.cursor, true);
			if (mustBeClosed && !session.closed) {
				throw routeError<files.UploadSessionFinishError>({ '.tag': 'lookup_failed', lookup_failed: { '.tag': 'not_closed' } });
			}
			if (session.closed && body.length > 0) throw new SessionFailure({ '.tag': 'closed' });
			this.checkHash<files.UploadSessionFinishError>(body, arg.content_hash, { '.tag': 'content_hash_mismatch' });
			session.chunks.push(body);
			let metadata: files.FileMetadata;
			try {
				metadata = this.commitFile(arg.commit, session.chunks.bytes());
			} catch (error) {
				session.chunks.truncate(session.length);
				throw error;
			}
			session.chunks.discard();
			this.sessions.delete(arg.cursor.session_id);
			return metadata;
		} catch (error) {
			if (error instanceof SessionFailure) throw routeError<files.UploadSessionFinishError>({ '.tag': 'lookup_failed', lookup_failed: error.error });
			if (error instanceof WriteFailure) throw routeError<files.UploadSessionFinishError>({ '.tag': 'path', path: error.error });
			throw error;
		}
	}

	private finishSession(arg: files.UploadSessionFinishArg, body: Buffer): files.FileMetadata {
		return this.commitSession(arg, body, false);
	}

	private finishBatch(arg: files.UploadSessionFinishBatchArg): files.UploadSessionFinishBatchResult {
		if (!Array.isArray(arg.entries) || arg.entries.length > MAX_BATCH_ENTRIES) {
			throw badRequest('files/upload_session/finish_batch_v2', `entries: a list of at most ${MAX_BATCH_ENTRIES} is expected`);
		}
		const entries = arg.entries.map((entry): files.UploadSessionFinishBatchResultEntry => {
			try {
				return { '.tag': 'success', ...this.commitSession(entry, Buffer.alloc(0), true) };
			} catch (error) {
				if (!(error instanceof RouteError)) throw error;
				return { '.tag': 'failure', failure: error.error as files.UploadSessionFinishError };
			}
		});
		return { entries };
	}

	private deletePath(arg: files.DeleteArg): files.DeleteResult {
		const node = this.wrapLookup(() => this.lookup(arg.path), (error): files.DeleteError => ({ '.tag': 'path_lookup', path_lookup: error }));
		if (arg.parent_rev !== undefined && (node.folder || arg.parent_rev !== revOf(node))) {
			throw routeError<files.DeleteError>(
				this.staleParentRev === 'path_lookup/not_found'
					? { '.tag': 'path_lookup', path_lookup: { '.tag': 'not_found' } }
					: { '.tag': 'path_write', path_write: { '.tag': 'conflict', conflict: { '.tag': 'file' } } },
			);
		}
		const metadata = this.tagged(node);
		this.wrapWrite(
			() => {
				this.writablePath(this.displayPath(node));
				this.removeTree(node);
			},
			(error): files.DeleteError => ({ '.tag': 'path_write', path_write: error }),
		);
		return { metadata };
	}

	private relocate(arg: files.RelocationArg, kind: 'move' | 'copy'): files.RelocationResult {
		const node = this.wrapLookup(() => this.lookup(arg.from_path), (error): files.RelocationError => ({ '.tag': 'from_lookup', from_lookup: error }));
		if (kind === 'move') {
			this.wrapWrite(() => this.writablePath(this.displayPath(node)), (error): files.RelocationError => ({ '.tag': 'from_write', from_write: error }));
		}
		const metadata = this.wrapWrite(() => this.relocateNode(node, arg.to_path, kind), (error): files.RelocationError => ({ '.tag': 'to', to: error }));
		return { metadata };
	}

	private createFolder(arg: files.CreateFolderArg): files.CreateFolderResult {
		const metadata = this.wrapWrite(() => this.makeFolder(arg.path, false), (error): files.CreateFolderError => ({ '.tag': 'path', path: error }));
		return { metadata };
	}

	private wrapLookup<T, E extends object>(run: () => T, wrap: (error: files.LookupError) => E): T {
		try {
			return run();
		} catch (error) {
			if (error instanceof LookupFailure) throw routeError(wrap(error.error));
			throw error;
		}
	}

	private wrapWrite<T, E extends object>(run: () => T, wrap: (error: files.WriteError) => E): T {
		try {
			return run();
		} catch (error) {
			if (error instanceof WriteFailure) throw routeError(wrap(error.error));
			throw error;
		}
	}
}

/** A failed upload session lookup, of a kind that append and finish both report; each wraps it in its own union. */
class SessionFailure extends Error {
	constructor(readonly error: files.UploadSessionLookupError & files.UploadSessionAppendError) {
		super(error['.tag']);
	}
}

function token(bytes: number): string {
	return randomBytes(bytes).toString('base64url');
}

/** Whether a journal entry at `key` is below the cursor's folder (or directly in it, without recursion). */
function inScope(key: string, cursor: Cursor): boolean {
	if (!cursor.recursive) return key.slice(0, key.lastIndexOf('/')) === cursor.root;
	return cursor.root === '' || key.startsWith(`${cursor.root}/`);
}

function revOf(node: Node): string {
	return node.contentRevision.toString(16).padStart(12, '0');
}

function kindOf(node: Node): 'file' | 'folder' {
	return node.folder ? 'folder' : 'file';
}

/** Sorted by `key`, a lower-case path, so that every folder comes before what it holds. */
function sortedByPath<T extends { key: string }>(entries: T[]): T[] {
	return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
