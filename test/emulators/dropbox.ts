import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { auth, files, users } from 'dropbox';
import { createHasher } from '../../lib/core/hashing';
import { EmulatorServer, readBody, sendBody, sendJson, type FaultRule, type LoggedRequest, type RequestContext } from './core/server';

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

interface FileNode {
	kind: 'file';
	id: string;
	/** Full path as displayed: the casing the file and each folder above it were created with. */
	path: string;
	content: Buffer;
	rev: string;
	clientModified: string;
	serverModified: string;
	contentHash: string;
}

interface FolderNode {
	kind: 'folder';
	id: string;
	path: string;
}

type Node = FileNode | FolderNode;
type Tagged = files.FileMetadataReference | files.FolderMetadataReference;
type Listed = Tagged | files.DeletedMetadataReference;

interface Session {
	chunks: Buffer[];
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
}

export interface DropboxAppCredentials {
	clientId: string;
	clientSecret: string;
	refreshToken: string;
}

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
	const hasher = createHasher('dropbox');
	hasher.update(content);
	return hasher.digest();
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

function parentKey(key: string): string {
	return key.slice(0, key.lastIndexOf('/'));
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

type Range = { start: number; end: number } | 'unsatisfiable' | undefined;

/** A single `bytes=` range, end inclusive; undefined when absent or not one we serve (then the whole file goes out). */
function parseRange(header: string | undefined, size: number): Range {
	const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
	if (!match || (match[1] === '' && match[2] === '')) return undefined;
	if (match[1] === '') {
		const suffix = Number(match[2]);
		return suffix === 0 || size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - suffix), end: size - 1 };
	}
	const start = Number(match[1]);
	const end = match[2] === '' ? size - 1 : Number(match[2]);
	if (end < start) return undefined;
	return start >= size ? 'unsatisfiable' : { start, end: Math.min(end, size - 1) };
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
	quotaBytes: number;
	usedBytes = 0;
	/** 429 too_many_write_operations answers caused by write contention (not by injected faults). */
	contentionRejections = 0;
	private readonly nodes = new Map<string, Node>();
	private readonly children = new Map<string, Set<string>>([['', new Set()]]);
	private readonly journal: Listed[] = [];
	private readonly sessions = new Map<string, Session>();
	private readonly revisions = new Map<string, FileNode>();
	private readonly accessTokens = new Map<string, { expiresAt: number; revoked: boolean }>();
	private readonly refreshTokens = new Set<string>();
	private readonly readOnly = new Set<string>();
	private readonly routes: Record<string, RouteHandler>;
	private readonly tokenLifetimeSeconds: number;
	private readonly writeLockMs: number;
	private readonly contentionRetryAfterSeconds: number;
	private readonly unorderedListings: boolean;
	private epoch = 1;
	private revCounter = 0;
	private writeLocked = false;

	private constructor(options: DropboxEmulatorOptions) {
		this.server = new EmulatorServer((request, response, context) => this.handle(request, response, context), renderFault, options.seed);
		this.credentials = { clientId: `app-${token(8)}`, clientSecret: `secret-${token(16)}`, refreshToken: `refresh-${token(24)}` };
		this.refreshTokens.add(this.credentials.refreshToken);
		this.quotaBytes = options.quotaBytes ?? Number.POSITIVE_INFINITY;
		this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 14_400;
		this.writeLockMs = options.writeLockMs ?? 0;
		this.contentionRetryAfterSeconds = options.contentionRetryAfterSeconds ?? 1;
		this.unorderedListings = options.unorderedListings ?? false;
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
		const node = this.nodes.get(lower(path));
		return node && this.tagged(node);
	}

	content(path: string): Buffer | undefined {
		const node = this.nodes.get(lower(path));
		return node?.kind === 'file' ? node.content : undefined;
	}

	/** Paths (as displayed) of everything below `path`, sorted. */
	paths(path = ''): string[] {
		return this.descendants(lower(path), true).map((key) => this.nodes.get(key)!.path);
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
	issueAccessToken(lifetimeSeconds = this.tokenLifetimeSeconds): string {
		const accessToken = `sl.${token(32)}`;
		this.accessTokens.set(accessToken, { expiresAt: Date.now() + lifetimeSeconds * 1000, revoked: false });
		return accessToken;
	}

	/** Every access token issued so far, for tests that check none of them leaks. */
	get issuedAccessTokens(): string[] {
		return [...this.accessTokens.keys()];
	}

	/** Every access token issued so far expires now; the next call with one gets 401 expired_access_token. */
	expireAccessTokens(): void {
		for (const state of this.accessTokens.values()) state.expiresAt = Date.now() - 1;
	}

	/** The user disconnected the app: access and refresh tokens stop working. */
	revokeAccess(): void {
		for (const state of this.accessTokens.values()) state.revoked = true;
		this.refreshTokens.clear();
	}

	/** Cursors issued so far become stale: list_folder/continue answers them with `reset`. */
	resetCursors(): void {
		this.epoch++;
	}

	/** Writes at or below `path` fail with no_write_permission, as in a read-only shared folder. */
	denyWrites(path: string): void {
		this.readOnly.add(lower(path));
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
				sendJson(response, 200, this.issueToken(request, context.url, body));
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
			return JSON.parse(header) as A;
		} catch {
			throw badRequest(call.route, 'HTTP header "Dropbox-API-Arg": could not decode input as JSON');
		}
	}

	private issueToken(request: IncomingMessage, url: URL, body: Buffer): { access_token: string; token_type: string; expires_in: number } {
		const params = new URLSearchParams(url.search);
		for (const [key, value] of new URLSearchParams(body.toString('utf8'))) params.set(key, value);
		const basic = /^Basic (.+)$/.exec(request.headers.authorization ?? '')?.[1];
		if (basic) {
			const [id, secret] = Buffer.from(basic, 'base64').toString('utf8').split(':');
			params.set('client_id', id);
			params.set('client_secret', secret);
		}
		if (params.get('grant_type') !== 'refresh_token') {
			throw new HttpError(400, { error: 'unsupported_grant_type', error_description: 'only refresh_token is emulated' });
		}
		if (params.get('client_id') !== this.credentials.clientId || params.get('client_secret') !== this.credentials.clientSecret) {
			throw new HttpError(400, { error: 'invalid_client', error_description: 'Invalid client_id or client_secret' });
		}
		if (!this.refreshTokens.has(params.get('refresh_token') ?? '')) {
			throw new HttpError(400, { error: 'invalid_grant', error_description: 'refresh token is invalid or revoked' });
		}
		return { access_token: this.issueAccessToken(), token_type: 'bearer', expires_in: this.tokenLifetimeSeconds };
	}

	private authorize(header: string | undefined): void {
		const bearer = /^Bearer (.+)$/.exec(header ?? '')?.[1];
		const state = bearer === undefined ? undefined : this.accessTokens.get(bearer);
		if (!state || state.revoked) throw authFailure('invalid_access_token');
		if (state.expiresAt <= Date.now()) throw authFailure('expired_access_token');
	}

	/** Runs a commit under the account's write lock; a commit that finds it taken is told to retry later. */
	private async committing<T>(run: () => T): Promise<T> {
		if (this.writeLockMs <= 0) return run();
		if (this.writeLocked) {
			this.contentionRejections++;
			throw rateLimited('too_many_write_operations', this.contentionRetryAfterSeconds);
		}
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

	private newId(): string {
		return `id:${randomBytes(16).toString('base64url')}`;
	}

	private newRev(): string {
		return (++this.revCounter).toString(16).padStart(12, '0');
	}

	private tagged(node: Node): Tagged {
		return node.kind === 'file' ? { '.tag': 'file', ...this.fileMetadata(node) } : { '.tag': 'folder', ...this.folderMetadata(node) };
	}

	private fileMetadata(node: FileNode): files.FileMetadata {
		return {
			name: leafName(node.path),
			id: node.id,
			client_modified: node.clientModified,
			server_modified: node.serverModified,
			rev: node.rev,
			size: node.content.length,
			path_lower: lower(node.path),
			path_display: node.path,
			is_downloadable: true,
			content_hash: node.contentHash,
		};
	}

	private folderMetadata(node: FolderNode): files.FolderMetadata {
		return { name: leafName(node.path), id: node.id, path_lower: lower(node.path), path_display: node.path };
	}

	private record(entry: Listed): void {
		this.journal.push(entry);
	}

	private attach(node: Node): void {
		const key = lower(node.path);
		this.nodes.set(key, node);
		this.children.get(parentKey(key))!.add(key);
		if (node.kind === 'folder') this.children.set(key, new Set());
		else {
			this.usedBytes += node.content.length;
			this.revisions.set(node.rev, { ...node });
		}
	}

	private detach(key: string): Node {
		const node = this.nodes.get(key)!;
		this.nodes.delete(key);
		this.children.delete(key);
		this.children.get(parentKey(key))?.delete(key);
		if (node.kind === 'file') this.usedBytes -= node.content.length;
		return node;
	}

	/** Keys below `key`, sorted, so every folder comes before what it holds. */
	private descendants(key: string, recursive: boolean): string[] {
		const found: string[] = [];
		const pending = [key];
		while (pending.length > 0) {
			for (const child of this.children.get(pending.pop()!) ?? []) {
				found.push(child);
				if (recursive && this.children.has(child)) pending.push(child);
			}
		}
		return found.sort();
	}

	private checkedPath(path: unknown, allowRoot: boolean): string {
		if (typeof path !== 'string' || !(/^(\/[^/]+)+$/.test(path) || (allowRoot && path === ''))) {
			throw new LookupFailure({ '.tag': 'malformed_path', malformed_path: `not a valid path: ${String(path)}` });
		}
		return path;
	}

	private lookup(path: unknown): Node {
		const node = this.nodes.get(lower(this.checkedPath(path, false)));
		if (!node) throw new LookupFailure({ '.tag': 'not_found' });
		return node;
	}

	/** The folder a listing starts from: '' for the root. */
	private folderKey(path: unknown): string {
		const checked = this.checkedPath(path, true);
		if (checked === '') return '';
		const node = this.lookup(checked);
		if (node.kind !== 'folder') throw new LookupFailure({ '.tag': 'not_folder' });
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
		for (const name of names) {
			const existing = this.nodes.get(lower(`${display}/${name}`));
			display = existing ? existing.path : `${display}/${name}`;
		}
		return display;
	}

	/** Creates the missing folders above `display`; a file on the way is a conflict. */
	private ensureParents(display: string): void {
		const names = display.split('/').slice(1, -1);
		let current = '';
		for (const name of names) {
			current = `${current}/${name}`;
			const existing = this.nodes.get(lower(current));
			if (existing?.kind === 'file') throw new WriteFailure({ '.tag': 'conflict', conflict: { '.tag': 'file_ancestor' } });
			if (!existing) this.addFolder(current);
		}
	}

	private addFolder(display: string): FolderNode {
		const folder: FolderNode = { kind: 'folder', id: this.newId(), path: display };
		this.attach(folder);
		this.record(this.tagged(folder));
		return folder;
	}

	private makeFolder(path: unknown, existingIsFine: boolean): files.FolderMetadata {
		const display = this.writablePath(path);
		const existing = this.nodes.get(lower(display));
		if (existing) {
			if (existing.kind === 'folder' && existingIsFine) return this.folderMetadata(existing);
			throw new WriteFailure({ '.tag': 'conflict', conflict: { '.tag': existing.kind } });
		}
		this.ensureParents(display);
		return this.folderMetadata(this.addFolder(display));
	}

	private checkQuota(extraBytes: number): boolean {
		return this.usedBytes + extraBytes <= this.quotaBytes;
	}

	/** Commits `content` at `commit.path` following the write mode: the one place a file version is made. */
	private commitFile(commit: files.CommitInfo, content: Buffer): files.FileMetadata {
		const display = this.writablePath(commit.path);
		const existing = this.nodes.get(lower(display));
		if (existing?.kind === 'folder') throw new WriteFailure({ '.tag': 'conflict', conflict: { '.tag': 'folder' } });
		if (commit.client_modified !== undefined && !TIMESTAMP.test(commit.client_modified)) {
			throw badRequest('files/upload', `client_modified: "${commit.client_modified}" is not a timestamp`);
		}
		const now = dropboxTime(Date.now());
		const clientModified = commit.client_modified ?? now;
		const hash = contentHash(content);
		const mode = commit.mode ?? { '.tag': 'add' };
		// Without strict_conflict, identical content never conflicts [doc: CommitInfo.strict_conflict].
		const identical = existing !== undefined && existing.contentHash === hash && !commit.strict_conflict;
		if (existing && !identical) {
			if (mode['.tag'] === 'add' || (mode['.tag'] === 'update' && mode.update !== existing.rev)) {
				throw new WriteFailure({ '.tag': 'conflict', conflict: { '.tag': 'file' } });
			}
		}
		if (!existing && mode['.tag'] === 'update' && commit.strict_conflict) throw new WriteFailure({ '.tag': 'conflict', conflict: { '.tag': 'file' } });
		// Same bytes and no new time: no new revision. [unconfirmed] A new client_modified alone does make one.
		const sameTime = commit.client_modified === undefined || existing?.clientModified === commit.client_modified;
		if (existing && identical && (mode['.tag'] !== 'overwrite' || sameTime)) return this.fileMetadata(existing);
		if (!this.checkQuota(content.length - (existing?.content.length ?? 0))) throw new WriteFailure({ '.tag': 'insufficient_space' });
		this.ensureParents(display);
		if (existing) this.detach(lower(display));
		const file: FileNode = {
			kind: 'file',
			id: existing?.id ?? this.newId(),
			path: existing?.path ?? display,
			content,
			rev: this.newRev(),
			clientModified,
			serverModified: now,
			contentHash: hash,
		};
		this.attach(file);
		this.record(this.tagged(file));
		return this.fileMetadata(file);
	}

	private removeTree(node: Node): void {
		const key = lower(node.path);
		for (const child of this.descendants(key, true).reverse()) this.detach(child);
		this.detach(key);
		this.record({ '.tag': 'deleted', name: leafName(node.path), path_lower: key, path_display: node.path });
	}

	/** Moves or copies `node` with everything below it to `to`; the journal shows a move as deleted + added. */
	private relocateNode(node: Node, to: unknown, kind: 'move' | 'copy'): Tagged {
		const display = this.writablePath(to);
		const fromKey = lower(node.path);
		const toKey = lower(display);
		if (toKey.startsWith(`${fromKey}/`)) throw routeError<files.RelocationError>({ '.tag': 'cant_move_folder_into_itself' });
		// [doc] "we do not currently support case-only renaming": the target is the source itself.
		const occupant = this.nodes.get(toKey);
		if (occupant) throw new WriteFailure({ '.tag': 'conflict', conflict: { '.tag': occupant.kind } });
		const keys = [fromKey, ...this.descendants(fromKey, true)];
		const moved = keys.map((key) => this.nodes.get(key)!);
		if (kind === 'copy') {
			const bytes = moved.reduce((sum, each) => sum + (each.kind === 'file' ? each.content.length : 0), 0);
			if (!this.checkQuota(bytes)) throw routeError<files.RelocationError>({ '.tag': 'insufficient_quota' });
		}
		this.ensureParents(display);
		if (kind === 'move') {
			for (const key of [...keys].reverse()) this.detach(key);
			this.record({ '.tag': 'deleted', name: leafName(node.path), path_lower: fromKey, path_display: node.path });
		}
		for (const each of moved) {
			const path = display + each.path.slice(node.path.length);
			const placed: Node =
				kind === 'move' ? { ...each, path } : each.kind === 'file' ? { ...each, path, id: this.newId(), rev: this.newRev() } : { ...each, path, id: this.newId() };
			this.attach(placed);
			this.record(this.tagged(placed));
		}
		return this.tagged(this.nodes.get(toKey)!);
	}

	// -----------------------------------------------------------------------------------------
	// Routes

	private listFolder(arg: files.ListFolderArg): files.ListFolderResult {
		const root = this.wrapLookup(() => this.folderKey(arg.path), (error): files.ListFolderError => ({ '.tag': 'path', path: error }));
		const limit = Math.min(MAX_LIST_LIMIT, Math.max(1, arg.limit ?? MAX_LIST_LIMIT));
		return this.page({ epoch: this.epoch, root, recursive: arg.recursive ?? false, limit, seq: this.journal.length, after: '' });
	}

	private latestCursor(arg: files.ListFolderArg): files.ListFolderGetLatestCursorResult {
		const root = this.wrapLookup(() => this.folderKey(arg.path), (error): files.ListFolderError => ({ '.tag': 'path', path: error }));
		const limit = Math.min(MAX_LIST_LIMIT, Math.max(1, arg.limit ?? MAX_LIST_LIMIT));
		return { cursor: encodeCursor({ epoch: this.epoch, root, recursive: arg.recursive ?? false, limit, seq: this.journal.length }) };
	}

	private listContinue(arg: files.ListFolderContinueArg): files.ListFolderResult {
		const cursor = decodeCursor(arg.cursor);
		if (!cursor) throw badRequest('files/list_folder/continue', 'cursor: invalid cursor');
		if (cursor.epoch !== this.epoch) throw routeError<files.ListFolderContinueError>({ '.tag': 'reset' });
		if (cursor.root !== '' && this.nodes.get(cursor.root)?.kind !== 'folder') {
			throw routeError<files.ListFolderContinueError>({ '.tag': 'path', path: { '.tag': 'not_found' } });
		}
		return this.page(cursor);
	}

	/** One page: of the first listing while `after` is set, then of the change journal. */
	private page(cursor: Cursor): files.ListFolderResult {
		if (cursor.after !== undefined) {
			// [unconfirmed] A recursive listing of a folder other than the root includes that folder itself.
			const keys = cursor.recursive && cursor.root !== '' ? [cursor.root, ...this.descendants(cursor.root, true)] : this.descendants(cursor.root, cursor.recursive);
			// Pages follow one order throughout, and each cursor says where in it the last page ended.
			const places = keys.map((key) => this.listingPlace(key)).sort();
			const after = cursor.after;
			const start = places.findIndex((place) => place > after);
			const page = start < 0 ? [] : places.slice(start, start + cursor.limit);
			const done = start < 0 || start + cursor.limit >= places.length;
			return {
				entries: page.map((place) => this.tagged(this.nodes.get(place.slice(place.indexOf('|') + 1))!)),
				cursor: encodeCursor({ ...cursor, after: done ? undefined : page[page.length - 1] }),
				has_more: !done,
			};
		}
		const entries: Listed[] = [];
		let seq = cursor.seq;
		while (seq < this.journal.length && entries.length < cursor.limit) {
			const entry = this.journal[seq++];
			if (inScope(entry.path_lower!, cursor)) entries.push(entry);
		}
		const hasMore = this.journal.slice(seq).some((entry) => inScope(entry.path_lower!, cursor));
		return { entries, cursor: encodeCursor({ ...cursor, seq }), has_more: hasMore };
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
		const file = this.wrapLookup(
			() => {
				const revision = /^rev:([0-9a-f]{9,})$/.exec(arg.path)?.[1];
				const node = revision === undefined ? this.lookup(arg.path) : this.revisions.get(revision);
				if (!node) throw new LookupFailure({ '.tag': 'not_found' });
				if (node.kind !== 'file') throw new LookupFailure({ '.tag': 'not_file' });
				return node;
			},
			(error): files.DownloadError => ({ '.tag': 'path', path: error }),
		);
		const size = file.content.length;
		const headers: Record<string, string> = {
			'content-type': 'application/octet-stream',
			'accept-ranges': 'bytes',
			'dropbox-api-result': headerSafeJson(this.fileMetadata(file)),
		};
		const range = parseRange(call.request.headers.range, size);
		if (range === 'unsatisfiable') throw new HttpError(416, 'Requested Range Not Satisfiable', { 'content-range': `bytes */${size}` });
		if (range === undefined) {
			sendBody(call.response, call.context, 200, headers, file.content);
			return;
		}
		headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
		sendBody(call.response, call.context, 206, headers, file.content.subarray(range.start, range.end + 1));
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
		this.sessions.set(id, { chunks: [body], length: body.length, closed: arg.close ?? false });
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
			const metadata = this.commitFile(arg.commit, Buffer.concat([...session.chunks, body]));
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
		const metadata = this.tagged(node);
		this.wrapWrite(
			() => {
				this.writablePath(node.path);
				this.removeTree(node);
			},
			(error): files.DeleteError => ({ '.tag': 'path_write', path_write: error }),
		);
		return { metadata };
	}

	private relocate(arg: files.RelocationArg, kind: 'move' | 'copy'): files.RelocationResult {
		const node = this.wrapLookup(() => this.lookup(arg.from_path), (error): files.RelocationError => ({ '.tag': 'from_lookup', from_lookup: error }));
		if (kind === 'move') {
			this.wrapWrite(() => this.writablePath(node.path), (error): files.RelocationError => ({ '.tag': 'from_write', from_write: error }));
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

function encodeCursor(cursor: Cursor): string {
	return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(text: unknown): Cursor | undefined {
	if (typeof text !== 'string') return undefined;
	try {
		const cursor = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
		return typeof cursor.seq === 'number' && typeof cursor.root === 'string' ? cursor : undefined;
	} catch {
		return undefined;
	}
}

/** Whether a journal entry at `key` is below the cursor's folder (or directly in it, without recursion). */
function inScope(key: string, cursor: Cursor): boolean {
	if (!cursor.recursive) return parentKey(key) === cursor.root;
	return cursor.root === '' || key.startsWith(`${cursor.root}/`);
}
