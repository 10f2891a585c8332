import { createHash, generateKeyPairSync, randomBytes, verify as verifySignature } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { drive_v3 } from '@googleapis/drive';
import { Journal } from './core/journal';
import { OAuthTokens, tokenForm, type IssuedToken, type OAuthClientCredentials } from './core/oauth';
import { decodeToken, encodeToken, pageOf } from './core/paging';
import { parseContentRange, sendContent, type ByteRange } from './core/ranges';
import { EmulatorServer, readBody, sendBody, sendJson, type FaultRule, type LoggedRequest, type RequestContext } from './core/server';
import { digestOf, Tree, type Item } from './core/tree';
import { Spool } from './core/spool';

/**
 * A Google Drive API v3 emulator for the unmodified `@googleapis/drive` client: files, uploads
 * (media, multipart, resumable), export, changes, shared drives and the OAuth token endpoint, in the
 * shapes cloud-apis.md §1 records. State lives in memory; tests seed and change it directly.
 */

export const FOLDER_MIME = 'application/vnd.google-apps.folder';
export const GOOGLE_DOC_MIME = {
	document: 'application/vnd.google-apps.document',
	spreadsheet: 'application/vnd.google-apps.spreadsheet',
	presentation: 'application/vnd.google-apps.presentation',
	drawing: 'application/vnd.google-apps.drawing',
} as const;
export type GoogleDocKind = keyof typeof GOOGLE_DOC_MIME;

const OFFICE = 'application/vnd.openxmlformats-officedocument';
const PDF = 'application/pdf';
const EXPORT_FORMATS: Record<string, string[]> = {
	[GOOGLE_DOC_MIME.document]: [`${OFFICE}.wordprocessingml.document`, PDF, 'text/plain'],
	[GOOGLE_DOC_MIME.spreadsheet]: [`${OFFICE}.spreadsheetml.sheet`, PDF, 'text/csv'],
	[GOOGLE_DOC_MIME.presentation]: [`${OFFICE}.presentationml.presentation`, PDF],
	[GOOGLE_DOC_MIME.drawing]: [PDF, 'image/png'],
};
const EXPORT_LIMIT_BYTES = 10 * 1024 * 1024;
const CHUNK_GRANULARITY = 256 * 1024;
/** The audience gtoken signs service-account assertions for, whatever host the request goes to. */
const TOKEN_AUDIENCE = 'https://oauth2.googleapis.com/token';
const DRIVE_SCOPE = 'https://www.googleapis.com/auth/drive';
const DEFAULT_FIELDS = {
	file: 'kind,id,name,mimeType',
	fileList: 'kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)',
	changeList: 'kind,nextPageToken,newStartPageToken,changes(kind,changeType,time,removed,fileId,driveId,file(kind,id,name,mimeType))',
};
/** File fields the emulator knows; a mask naming anything else is refused, as Drive refuses it. */
const FILE_FIELDS: ReadonlyArray<keyof drive_v3.Schema$File> = [
	'kind', 'id', 'name', 'mimeType', 'parents', 'trashed', 'explicitlyTrashed', 'size', 'md5Checksum', 'sha1Checksum',
	'sha256Checksum', 'modifiedTime', 'createdTime', 'driveId', 'capabilities', 'exportLinks', 'version', 'resourceKey',
	'webViewLink', 'shortcutDetails', 'description', 'starred', 'owners', 'quotaBytesUsed', 'headRevisionId',
];

// ---------------------------------------------------------------------------------------------
// Errors in Drive's envelope

class DriveApiError extends Error {
	constructor(
		readonly status: number,
		readonly reason: string,
		message: string,
		readonly domain = 'global',
		readonly location?: string,
		readonly headers: Record<string, string> = {},
	) {
		super(message);
	}
}

function writeDriveError(response: ServerResponse, error: DriveApiError): void {
	const detail: Record<string, string> = { domain: error.domain, reason: error.reason, message: error.message };
	if (error.location) Object.assign(detail, { locationType: 'parameter', location: error.location });
	sendJson(response, error.status, { error: { code: error.status, message: error.message, errors: [detail] } }, error.headers);
}

const notFound = (id: string) => new DriveApiError(404, 'notFound', `File not found: ${id}.`, 'global', 'fileId');
const invalid = (location: string, message = 'Invalid Value') => new DriveApiError(400, 'invalid', message, 'global', location);
const noPermission = () => new DriveApiError(403, 'insufficientFilePermissions', 'The user does not have sufficient permissions for this file.');

/** Drive's own shapes for the shared server's HTTP-level faults. */
export function renderDriveFault(fault: FaultRule, response: ServerResponse): void {
	const retryAfter: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
	const errors: Record<string, DriveApiError> = {
		'rate-limit': new DriveApiError(429, 'rateLimitExceeded', 'Rate Limit Exceeded', 'usageLimits', undefined, { 'retry-after': String(fault.retryAfterSeconds ?? 1) }),
		'quota-rate-limit': new DriveApiError(403, 'userRateLimitExceeded', 'User Rate Limit Exceeded', 'usageLimits', undefined, retryAfter),
		'server-error': new DriveApiError(500, 'backendError', 'Internal Error'),
		unavailable: new DriveApiError(503, 'backendError', 'Service Unavailable', 'global', undefined, retryAfter),
	};
	writeDriveError(response, errors[fault.kind] ?? errors['server-error']);
}

// ---------------------------------------------------------------------------------------------
// Partial responses (`fields`)

type Mask = true | { [key: string]: Mask };

/** Parses a `fields` selector: `a,b(c,d),e/f`. */
export function parseFields(spec: string): { [key: string]: Mask } {
	let at = 0;
	const fail = () => invalid('fields', `Invalid field selection ${spec}`);
	const name = () => {
		const match = /^\s*([A-Za-z0-9_*]+)\s*/.exec(spec.slice(at));
		if (!match) throw fail();
		at += match[0].length;
		return match[1];
	};
	const item = (into: { [key: string]: Mask }) => {
		const key = name();
		let sub: Mask = true;
		if (spec[at] === '(') {
			at++;
			sub = list();
			if (spec[at] !== ')') throw fail();
			at++;
		} else if (spec[at] === '/') {
			at++;
			sub = {};
			item(sub);
		}
		const existing = into[key];
		into[key] = existing === undefined || existing === true || sub === true ? sub : { ...existing, ...sub };
	};
	const list = () => {
		const result: { [key: string]: Mask } = {};
		item(result);
		while (spec[at] === ',') {
			at++;
			item(result);
		}
		return result;
	};
	const mask = list();
	if (at !== spec.length) throw fail();
	return mask;
}

function applyMask(value: unknown, mask: Mask): unknown {
	if (mask === true || value === null || typeof value !== 'object') return value;
	if (Array.isArray(value)) return value.map((element) => applyMask(element, mask));
	if ('*' in mask) return value;
	const source = value as Record<string, unknown>;
	const result: Record<string, unknown> = {};
	for (const [key, sub] of Object.entries(mask)) if (source[key] !== undefined) result[key] = applyMask(source[key], sub);
	return result;
}

function checkFileMask(mask: Mask | undefined, spec: string): void {
	if (mask === undefined || mask === true || '*' in mask) return;
	for (const key of Object.keys(mask)) {
		if (!(FILE_FIELDS as readonly string[]).includes(key)) throw invalid('fields', `Invalid field selection ${spec}`);
	}
}

/** Applies `fields` to a response whose File objects sit at `filePaths` (e.g. ['files'], ['changes', 'file']). */
function masked<T>(body: T, spec: string, filePaths: string[][]): T {
	const mask = parseFields(spec);
	for (const path of filePaths) {
		let node: Mask | undefined = mask;
		for (const key of path) node = node === true || node === undefined ? undefined : node[key];
		checkFileMask(node, spec);
	}
	return applyMask(body, mask) as T;
}

// ---------------------------------------------------------------------------------------------
// Search queries (`q`)

type Token = { kind: 'string' | 'word' | 'op' | 'paren'; text: string };

function tokenize(q: string): Token[] {
	const tokens: Token[] = [];
	let at = 0;
	while (at < q.length) {
		const rest = q.slice(at);
		const space = /^\s+/.exec(rest);
		if (space) {
			at += space[0].length;
			continue;
		}
		if (rest[0] === "'") {
			let text = '';
			let i = 1;
			for (; i < rest.length && rest[i] !== "'"; i++) text += rest[i] === '\\' ? rest[++i] ?? '' : rest[i];
			if (i >= rest.length) throw invalid('q');
			tokens.push({ kind: 'string', text });
			at += i + 1;
			continue;
		}
		const match = /^(!=|<=|>=|=|<|>)/.exec(rest) ?? /^[()]/.exec(rest) ?? /^[A-Za-z_]+/.exec(rest);
		if (!match) throw invalid('q');
		const text = match[0];
		tokens.push({ kind: text === '(' || text === ')' ? 'paren' : /^[A-Za-z_]/.test(text) ? 'word' : 'op', text });
		at += text.length;
	}
	return tokens;
}

type Predicate = (file: StoredFile) => boolean;

interface QueryContext {
	resolveId(id: string): string;
	isTrashed(file: StoredFile): boolean;
}

function compare(operator: string, a: string | number | boolean, b: string | number | boolean): boolean {
	switch (operator) {
		case '=':
			return a === b;
		case '!=':
			return a !== b;
		case '<':
			return a < b;
		case '<=':
			return a <= b;
		case '>':
			return a > b;
		case '>=':
			return a >= b;
		default:
			throw invalid('q');
	}
}

/** Compiles the subset of Drive's query language that rclone and this project use. */
export function compileQuery(q: string, context: QueryContext): Predicate {
	const tokens = tokenize(q);
	let at = 0;
	const peek = () => tokens[at];
	const take = (kind?: Token['kind'], text?: string) => {
		const token = tokens[at];
		if (!token || (kind && token.kind !== kind) || (text && token.text.toLowerCase() !== text)) throw invalid('q');
		at++;
		return token;
	};
	const isWord = (text: string) => peek()?.kind === 'word' && peek().text.toLowerCase() === text;

	const term = (): Predicate => {
		if (isWord('not')) {
			take();
			const inner = term();
			return (file) => !inner(file);
		}
		if (peek()?.text === '(') {
			take('paren');
			const inner = or();
			take('paren', ')');
			return inner;
		}
		if (peek()?.kind === 'string') {
			const id = context.resolveId(take().text);
			take('word', 'in');
			take('word', 'parents');
			return (file) => file.parentId === id;
		}
		const field = take('word').text;
		const operator = isWord('contains') ? take().text.toLowerCase() : take('op').text;
		const operand = take();
		return field === 'trashed' ? trashedTerm(operator, operand) : stringTerm(field, operator, operand);
	};
	const trashedTerm = (operator: string, operand: Token): Predicate => {
		if (operand.kind !== 'word' || !['true', 'false'].includes(operand.text) || !['=', '!='].includes(operator)) throw invalid('q');
		const value = operand.text === 'true';
		return (file) => compare(operator, context.isTrashed(file), value);
	};
	const stringTerm = (field: string, operator: string, operand: Token): Predicate => {
		if (operand.kind !== 'string') throw invalid('q');
		const value = operand.text;
		switch (field) {
			case 'name':
				if (operator === 'contains') return (file) => file.name.includes(value);
				if (!['=', '!='].includes(operator)) throw invalid('q');
				return (file) => compare(operator, file.name, value);
			case 'mimeType':
				if (!['=', '!='].includes(operator)) throw invalid('q');
				return (file) => compare(operator, file.meta.mimeType, value);
			case 'modifiedTime':
			case 'createdTime': {
				const when = Date.parse(value);
				if (Number.isNaN(when) || operator === 'contains') throw invalid('q');
				return (file) => compare(operator, file[field], when);
			}
			default:
				throw invalid('q');
		}
	};
	const and = (): Predicate => {
		const parts = [term()];
		while (isWord('and')) {
			take();
			parts.push(term());
		}
		return parts.length === 1 ? parts[0] : (file) => parts.every((part) => part(file));
	};
	const or = (): Predicate => {
		const parts = [and()];
		while (isWord('or')) {
			take();
			parts.push(and());
		}
		return parts.length === 1 ? parts[0] : (file) => parts.some((part) => part(file));
	};
	const predicate = or();
	if (at !== tokens.length) throw invalid('q');
	return predicate;
}

// ---------------------------------------------------------------------------------------------
// multipart/related bodies

interface Part {
	headers: Record<string, string>;
	body: Buffer;
}

/** Splits a multipart/related body; part header names are matched case-insensitively, and the closing delimiter is required. */
export function parseMultipart(contentType: string | undefined, body: Buffer): Part[] {
	const boundary = /boundary="?([^";]+)"?/i.exec(contentType ?? '')?.[1];
	if (!boundary || !/^multipart\/related/i.test(contentType ?? '')) throw invalid('uploadType', 'Expected a multipart/related body');
	const delimiter = Buffer.from(`--${boundary}`);
	const separator = Buffer.from(`\r\n--${boundary}`);
	const parts: Part[] = [];
	let at = body.indexOf(delimiter);
	while (at >= 0) {
		const after = at + delimiter.length;
		if (body.subarray(after, after + 2).toString() === '--') return parts;
		const headerEnd = body.indexOf('\r\n\r\n', after);
		if (headerEnd < 0) break;
		const headers: Record<string, string> = {};
		for (const line of body.subarray(after, headerEnd).toString('utf8').split('\r\n')) {
			const colon = line.indexOf(':');
			if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
		}
		const end = body.indexOf(separator, headerEnd + 4);
		if (end < 0) break;
		parts.push({ headers, body: body.subarray(headerEnd + 4, end) });
		at = end + 2;
	}
	throw new DriveApiError(400, 'badContent', 'The multipart body is incomplete: the closing delimiter is missing.');
}

// ---------------------------------------------------------------------------------------------
// State

/** What Drive keeps beyond the shared tree. */
interface DriveMeta {
	mimeType: string;
	/** The shared drive the file is in; undefined in My Drive. */
	driveId?: string;
	/** Trashed itself (explicitlyTrashed); a file is also trashed when a folder above it is. */
	trashed: boolean;
	/** What a Google Doc exports to, in every format. */
	docText?: string;
	readOnly: boolean;
	/** The root of My Drive or of a shared drive: never listed, never deleted. */
	isRoot?: boolean;
}

type StoredFile = Item<DriveMeta>;

interface UploadSession {
	id: string;
	/** Set when the session updates an existing file. */
	fileId?: string;
	metadata: drive_v3.Schema$File;
	declaredTotal?: number;
	total?: number;
	chunks: Spool;
	received: number;
	params: URLSearchParams;
	result?: StoredFile;
}

export interface UploadLogEntry {
	session: string;
	method: string;
	contentRange?: string;
	bytes: number;
	status: number;
	/** The Range header of a 308 reply. */
	range?: string;
}

export type { OAuthClientCredentials };

export interface ServiceAccountCredentials {
	clientEmail: string;
	privateKey: string;
}

const isFolder = (file: StoredFile) => file.folder;
const isGoogleDoc = (file: StoredFile) => file.meta.docText !== undefined;
const truthy = (value: string | null) => value === 'true';

function parseTime(value: string | null | undefined, location: string): number | undefined {
	if (value === undefined || value === null) return undefined;
	const when = Date.parse(value);
	if (Number.isNaN(when)) throw invalid(location);
	return when;
}

function parsePageSize(value: string | null): number {
	if (value === null) return 100;
	const size = Number(value);
	if (!Number.isInteger(size) || size < 1 || size > 1000) throw invalid('pageSize');
	return size;
}

function base64url(value: string | Buffer): string {
	return Buffer.from(value).toString('base64url');
}

export interface DriveEmulatorOptions {
	seed?: number;
	/** Lifetime of issued access tokens. */
	tokenLifetimeSeconds?: number;
}

export class DriveEmulator {
	readonly server: EmulatorServer;
	readonly myDriveRootId: string;
	/** The account's id as about.get names it: one emulator is one account. */
	readonly permissionId: string;
	/** Every chunk and status query sent to a resumable session, in order. */
	readonly uploads: UploadLogEntry[] = [];
	/** Caps every files.list page below the requested size, as Drive may return short pages. */
	listPageCap?: number;
	private readonly files = new Tree<DriveMeta>({ newId: () => this.newId('file') });
	private readonly journal = new Journal<{ fileId: string; driveId?: string; time: number }>();
	private readonly sessions = new Map<string, UploadSession>();
	/** Ids files.generateIds gave out, which creates may use. */
	private readonly generatedIds = new Set<string>();
	private readonly tokens: OAuthTokens;
	private readonly serviceAccounts = new Map<string, string>();
	private counter = 0;

	constructor(private readonly options: DriveEmulatorOptions = {}) {
		this.server = new EmulatorServer((request, response, context) => this.handle(request, response, context), renderDriveFault, options.seed);
		this.tokens = new OAuthTokens(options.tokenLifetimeSeconds ?? 3600, () => `ya29.${base64url(randomBytes(32))}`);
		this.myDriveRootId = this.newId('root');
		this.permissionId = this.newId('user');
		this.files.add({ id: this.myDriveRootId, name: 'My Drive', folder: true, meta: { mimeType: FOLDER_MIME, trashed: false, readOnly: false, isRoot: true } });
	}

	get baseUrl(): string {
		return this.server.baseUrl;
	}

	/** Bytes the account may hold, unlimited when undefined; uploads beyond it fail with storageQuotaExceeded. */
	get quotaBytes(): number | undefined {
		return Number.isFinite(this.files.quotaBytes) ? this.files.quotaBytes : undefined;
	}

	set quotaBytes(bytes: number | undefined) {
		this.files.quotaBytes = bytes ?? Number.POSITIVE_INFINITY;
	}

	start(): Promise<string> {
		return this.server.start();
	}

	stop(): Promise<void> {
		return this.server.stop();
	}

	// -------------------------------------------------------------------------------------------
	// Test helpers: credentials

	addOAuthClient(): OAuthClientCredentials {
		return this.tokens.addClient({
			clientId: `${++this.counter}-emulator.apps.googleusercontent.com`,
			clientSecret: `GOCSPX-${base64url(randomBytes(18))}`,
			refreshToken: `1//${base64url(randomBytes(36))}`,
		});
	}

	addServiceAccount(): ServiceAccountCredentials {
		const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
		const clientEmail = `sync-${++this.counter}@emulator-project.iam.gserviceaccount.com`;
		this.serviceAccounts.set(clientEmail, publicKey.export({ type: 'spki', format: 'pem' }).toString());
		return { clientEmail, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
	}

	/** Every access token issued so far stops working, as when an hour has passed. */
	expireAccessTokens(): void {
		this.tokens.expireAll();
	}

	/** The user revoked the app: the refresh token and the access tokens issued from it stop working. */
	revokeRefreshToken(refreshToken: string): void {
		this.tokens.revoke(refreshToken);
	}

	/** Every access token issued, valid or not. */
	issuedAccessTokens(): string[] {
		return this.tokens.issued();
	}

	// -------------------------------------------------------------------------------------------
	// Test helpers: content

	addSharedDrive(name: string): string {
		const id = this.newId('drive');
		this.files.add({ id, name, folder: true, meta: { mimeType: FOLDER_MIME, driveId: id, trashed: false, readOnly: false, isRoot: true } });
		return id;
	}

	addFolder(parentId: string, name: string, options: { readOnly?: boolean; modifiedTime?: number } = {}): string {
		return this.insert(parentId, name, { mimeType: FOLDER_MIME, readOnly: options.readOnly ?? false }, { modifiedTime: options.modifiedTime }).id;
	}

	addFile(parentId: string, name: string, content: Buffer | string, options: { modifiedTime?: number; mimeType?: string } = {}): string {
		const meta = { mimeType: options.mimeType ?? 'application/octet-stream' };
		return this.insert(parentId, name, meta, { content: Buffer.from(content), modifiedTime: options.modifiedTime }).id;
	}

	addGoogleDoc(parentId: string, name: string, kind: GoogleDocKind, text: string): string {
		return this.insert(parentId, name, { mimeType: GOOGLE_DOC_MIME[kind], docText: text }).id;
	}

	/** The id of the folder at `path` below `rootId`, created (with its parents) when missing. */
	folderAt(path: string, rootId = this.myDriveRootId): string {
		let id = rootId;
		for (const name of path.split('/').filter(Boolean)) {
			id = this.childrenNamed(id, name).find(isFolder)?.id ?? this.addFolder(id, name);
		}
		return id;
	}

	/** The files (not trashed) at `path` below `rootId`; more than one when the name is duplicated. */
	filesAt(path: string, rootId = this.myDriveRootId): drive_v3.Schema$File[] {
		const names = path.split('/').filter(Boolean);
		let candidates = [this.files.get(rootId)!];
		for (const name of names) candidates = candidates.flatMap((folder) => this.childrenNamed(folder.id, name));
		return candidates.map((file) => this.apiFile(file));
	}

	/** The one file at `path`, or undefined; a duplicated name is an error here. */
	statPath(path: string, rootId = this.myDriveRootId): drive_v3.Schema$File | undefined {
		const found = this.filesAt(path, rootId);
		if (found.length > 1) throw new Error(`${found.length} files at ${path}`);
		return found[0];
	}

	/** The file by id, trashed or not; undefined once deleted for good. */
	file(id: string): drive_v3.Schema$File | undefined {
		const file = this.files.get(id);
		return file && this.apiFile(file);
	}

	content(id: string): Buffer {
		const content = this.files.get(id)?.content;
		if (!content) throw new Error(`no content for ${id}`);
		return content;
	}

	/** The bytes files.export gives for a Google Doc in `mimeType`. */
	exportOf(id: string, mimeType: string): Buffer {
		return Buffer.from(`${mimeType}\n${this.files.get(id)?.meta.docText ?? ''}`);
	}

	/** Changes as another client makes them; each appears in the change log. */
	writeContent(id: string, content: Buffer | string): void {
		const file = this.require(id);
		this.files.write(file, Buffer.from(content));
		file.modifiedTime = Date.now();
		this.recordChange(file);
	}

	rename(id: string, name: string): void {
		const file = this.require(id);
		this.files.move(file, file.parentId, name);
		this.recordChange(file);
	}

	move(id: string, parentId: string): void {
		const file = this.require(id);
		this.files.move(file, parentId);
		this.recordChange(file);
	}

	trash(id: string): void {
		const file = this.require(id);
		file.meta.trashed = true;
		this.touch(file);
	}

	remove(id: string): void {
		this.deleteTree(this.require(id));
	}

	setReadOnly(id: string, readOnly: boolean): void {
		this.require(id).meta.readOnly = readOnly;
	}

	/** Bytes stored, trashed files included, as Drive counts them against the quota. */
	usage(): number {
		return this.files.usedBytes;
	}

	requestCount(route?: RegExp): number {
		return this.server.requests(route).length;
	}

	clearLog(): void {
		this.server.log.length = 0;
		this.uploads.length = 0;
	}

	headersOf(entry: LoggedRequest): IncomingHttpHeaders | undefined {
		return this.server.headersOf(entry);
	}

	// -------------------------------------------------------------------------------------------
	// Store

	private newId(kind: string): string {
		const digest = createHash('sha256').update(`${this.options.seed ?? 1}:${kind}:${++this.counter}`).digest('base64url');
		return `1${digest.slice(0, 32)}`;
	}

	/** A new item in `parentId` (in its drive), recorded as a change. */
	private insert(
		parentId: string,
		name: string,
		meta: Pick<DriveMeta, 'mimeType' | 'docText'> & { readOnly?: boolean },
		fields: { id?: string; content?: Buffer; modifiedTime?: number } = {},
	): StoredFile {
		const parent = this.require(parentId);
		const file = this.files.add({
			name,
			parentId: parent.id,
			folder: meta.mimeType === FOLDER_MIME,
			...fields,
			meta: { readOnly: false, ...meta, driveId: parent.meta.driveId, trashed: false },
		});
		this.recordChange(file);
		return file;
	}

	private childrenNamed(parentId: string, name: string): StoredFile[] {
		return this.files.named(parentId, name).filter((file) => !this.isTrashed(file));
	}

	private require(id: string): StoredFile {
		const file = this.files.get(id === 'root' ? this.myDriveRootId : id);
		if (!file) throw notFound(id);
		return file;
	}

	private touch(file: StoredFile): void {
		this.files.touch(file);
		this.recordChange(file);
	}

	private recordChange(file: StoredFile): void {
		this.journal.record({ fileId: file.id, driveId: file.meta.driveId, time: Date.now() });
	}

	private deleteTree(file: StoredFile): void {
		for (const removed of this.files.remove(file)) this.recordChange(removed);
	}

	/** Trashed itself, or inside a trashed folder. */
	private isTrashed(file: StoredFile): boolean {
		for (const current of this.files.ancestry(file)) if (current.meta.trashed) return true;
		return false;
	}

	/** Read-only itself or through a folder above it, as a folder shared with view access is. */
	private canEdit(file: StoredFile): boolean {
		for (const current of this.files.ancestry(file)) if (current.meta.readOnly) return false;
		return true;
	}

	private isInside(file: StoredFile, folderId: string): boolean {
		for (const current of this.files.ancestry(file)) if (current.id === folderId) return true;
		return false;
	}

	private apiFile(file: StoredFile): drive_v3.Schema$File {
		const editable = this.canEdit(file);
		const result: drive_v3.Schema$File = {
			kind: 'drive#file',
			id: file.id,
			name: file.name,
			mimeType: file.meta.mimeType,
			parents: file.parentId === undefined ? undefined : [file.parentId],
			trashed: this.isTrashed(file),
			explicitlyTrashed: file.meta.trashed,
			modifiedTime: new Date(file.modifiedTime).toISOString(),
			createdTime: new Date(file.createdTime).toISOString(),
			driveId: file.meta.driveId,
			version: String(file.revision),
			capabilities: { canDownload: file.content !== undefined, canEdit: editable, canAddChildren: editable && isFolder(file), canTrash: editable, canDelete: editable },
		};
		if (file.content) {
			const content = file.content;
			Object.assign(result, {
				size: String(content.length),
				md5Checksum: digestOf(content, 'md5'),
				sha1Checksum: digestOf(content, 'sha1'),
				sha256Checksum: digestOf(content, 'sha256'),
			});
		}
		if (isGoogleDoc(file)) {
			result.exportLinks = Object.fromEntries(
				(EXPORT_FORMATS[file.meta.mimeType] ?? []).map((type) => [type, `${this.baseUrl}/drive/v3/files/${file.id}/export?mimeType=${encodeURIComponent(type)}`]),
			);
		}
		return result;
	}


	// -------------------------------------------------------------------------------------------
	// HTTP

	private async handle(request: IncomingMessage, response: ServerResponse, context: RequestContext): Promise<void> {
		try {
			await this.route(request, response, context);
		} catch (error) {
			if (!(error instanceof DriveApiError)) throw error;
			await drain(request);
			if (!response.headersSent) writeDriveError(response, error);
		}
	}

	private async route(request: IncomingMessage, response: ServerResponse, context: RequestContext): Promise<void> {
		const { url } = context;
		const method = request.method ?? 'GET';
		const path = url.pathname;
		if (path === '/token' && method === 'POST') return this.token(request, response, url);
		// The session URI is the credential for an upload in progress, as with Google.
		if (url.searchParams.has('upload_id') && (method === 'PUT' || method === 'POST')) return this.uploadChunk(request, response, context);
		this.authorize(request);
		const params = url.searchParams;
		const fileRoute = /^\/drive\/v3\/files\/([^/]+)(\/copy|\/export)?$/.exec(path);
		const uploadRoute = /^\/upload\/drive\/v3\/files(?:\/([^/]+))?$/.exec(path);
		if (path === '/drive/v3/files' && method === 'GET') return this.list(params, response);
		if (path === '/drive/v3/files/generateIds' && method === 'GET') return this.generateIds(params, response);
		if (path === '/drive/v3/files' && method === 'POST') return this.sendFile(response, this.create(await readJson(request), undefined, params), params);
		if (fileRoute) return this.fileRoute(decodeURIComponent(fileRoute[1]), fileRoute[2], method, request, response, context);
		if (uploadRoute) return this.upload(uploadRoute[1] && decodeURIComponent(uploadRoute[1]), method, request, response, params);
		if (path === '/drive/v3/changes/startPageToken' && method === 'GET') return this.startPageToken(params, response);
		if (path === '/drive/v3/changes' && method === 'GET') return this.changes(params, response);
		if (path === '/drive/v3/about' && method === 'GET') return sendJson(response, 200, { kind: 'drive#about', user: { kind: 'drive#user', displayName: 'Emulated User', permissionId: this.permissionId, me: true } });
		throw new DriveApiError(404, 'notFound', `No such method: ${method} ${path}`);
	}

	private async fileRoute(id: string, action: string | undefined, method: string, request: IncomingMessage, response: ServerResponse, context: RequestContext) {
		const params = context.url.searchParams;
		if (action === '/copy' && method === 'POST') return this.sendFile(response, this.copy(id, await readJson(request), params), params);
		if (action === '/export' && method === 'GET') return this.export(id, params, response, context);
		if (action) throw new DriveApiError(404, 'notFound', `No such method: ${method} ${action}`);
		if (method === 'GET' && params.get('alt') === 'media') return this.download(this.visible(id, params), request, response, context);
		if (method === 'GET') return this.sendFile(response, this.visible(id, params), params);
		if (method === 'PATCH') return this.sendFile(response, this.updateMetadata(id, await readJson(request), params), params);
		if (method === 'DELETE') {
			const file = this.visible(id, params);
			if (file.meta.isRoot || !this.canEdit(file)) throw noPermission();
			this.deleteTree(file);
			response.writeHead(204).end();
			return;
		}
		throw new DriveApiError(405, 'methodNotAllowed', `Method ${method} not allowed`);
	}

	private sendFile(response: ServerResponse, file: StoredFile, params: URLSearchParams): void {
		sendJson(response, 200, masked(this.apiFile(file), params.get('fields') ?? DEFAULT_FIELDS.file, [[]]));
	}

	/** A file the request may see: shared-drive items need supportsAllDrives, as with Drive. */
	private visible(id: string, params: URLSearchParams): StoredFile {
		const file = this.require(id);
		if (file.meta.driveId && !truthy(params.get('supportsAllDrives'))) throw notFound(id);
		return file;
	}

	private authorize(request: IncomingMessage): void {
		if (this.tokens.check(request.headers.authorization) === 'valid') return;
		throw new DriveApiError(
			401,
			'authError',
			'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
			'global',
			'Authorization',
			{ 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
		);
	}

	// -------------------------------------------------------------------------------------------
	// OAuth token endpoint

	private async token(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
		const form = tokenForm(request, url, await readBody(request));
		const refused = (status: number, error: string, description: string) => sendJson(response, status, { error, error_description: description });
		if (form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
			const problem = this.checkAssertion(form.get('assertion') ?? '');
			return problem ? refused(400, 'invalid_grant', problem) : this.sendToken(response, this.tokens.issue());
		}
		const result = this.tokens.refresh(form);
		if ('accessToken' in result) return this.sendToken(response, result);
		if (result.error === 'invalid_client') return refused(401, 'invalid_client', 'Unauthorized');
		if (result.error === 'invalid_grant') return refused(400, 'invalid_grant', result.revoked ? 'Token has been expired or revoked.' : 'Bad Request');
		refused(400, 'unsupported_grant_type', `Invalid grant_type: ${form.get('grant_type') ?? ''}`);
	}

	private sendToken(response: ServerResponse, token: IssuedToken): void {
		sendJson(response, 200, { access_token: token.accessToken, expires_in: token.expiresIn, scope: DRIVE_SCOPE, token_type: 'Bearer' });
	}

	/** Why a service account's signed assertion is refused, or undefined when it is good. */
	private checkAssertion(assertion: string): string | undefined {
		const [header, payload, signature] = assertion.split('.');
		if (!header || !payload || !signature) return 'Invalid JWT: malformed assertion.';
		let claims: { iss?: string; aud?: string; exp?: number; scope?: string };
		try {
			claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
		} catch {
			return 'Invalid JWT: malformed claims.';
		}
		const publicKey = this.serviceAccounts.get(claims.iss ?? '');
		if (!publicKey) return 'Invalid JWT Signature.';
		const signed = verifySignature('RSA-SHA256', Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, 'base64url'));
		if (!signed) return 'Invalid JWT Signature.';
		if (claims.aud !== TOKEN_AUDIENCE) return 'Invalid JWT: audience mismatch.';
		if (!claims.exp || claims.exp * 1000 < Date.now()) return 'Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.';
		if (!claims.scope?.split(' ').some((scope) => scope.startsWith(DRIVE_SCOPE))) return 'Invalid JWT: no Drive scope.';
		return undefined;
	}

	// -------------------------------------------------------------------------------------------
	// files.list

	/** Which files a listing may return: My Drive by default, one shared drive with corpora=drive. */
	private corpus(params: URLSearchParams): (file: StoredFile) => boolean {
		const corpora = params.get('corpora') ?? 'user';
		const driveId = params.get('driveId');
		if (corpora === 'drive' || driveId) {
			if (corpora !== 'drive' || !driveId) throw invalid('corpora', 'driveId requires corpora=drive, and corpora=drive requires a driveId.');
			if (!truthy(params.get('includeItemsFromAllDrives')) || !truthy(params.get('supportsAllDrives'))) {
				throw new DriveApiError(403, 'teamDriveIncludeItemsRequired', 'The includeItemsFromAllDrives parameter must be set to true when driveId is specified.');
			}
			return (file) => file.meta.driveId === driveId;
		}
		if (corpora === 'allDrives') {
			if (!truthy(params.get('includeItemsFromAllDrives'))) throw invalid('includeItemsFromAllDrives');
			return () => true;
		}
		if (corpora !== 'user') throw invalid('corpora');
		return (file) => file.meta.driveId === undefined;
	}

	private list(params: URLSearchParams, response: ServerResponse): void {
		const pageSize = Math.min(parsePageSize(params.get('pageSize')), this.listPageCap ?? Infinity);
		const inCorpus = this.corpus(params);
		const q = params.get('q');
		const matches = q
			? compileQuery(q, { resolveId: (id) => (id === 'root' ? this.myDriveRootId : id), isTrashed: (file) => this.isTrashed(file) })
			: () => true;
		const token = params.get('pageToken');
		const offset = token === null ? 0 : decodeToken<{ offset: number }>(token, (state) => Number.isInteger(state.offset))?.offset;
		if (offset === undefined) throw invalid('pageToken');
		const found: StoredFile[] = [];
		for (const file of this.files.all()) if (!file.meta.isRoot && inCorpus(file) && matches(file)) found.push(file);
		const page = pageOf(found, offset, pageSize);
		const body: drive_v3.Schema$FileList = { kind: 'drive#fileList', incompleteSearch: false, files: page.items.map((file) => this.apiFile(file)) };
		if (page.next !== undefined) body.nextPageToken = encodeToken({ offset: page.next });
		sendJson(response, 200, masked(body, params.get('fields') ?? DEFAULT_FIELDS.fileList, [['files']]));
	}

	// -------------------------------------------------------------------------------------------
	// Downloads and export

	private download(file: StoredFile, request: IncomingMessage, response: ServerResponse, context: RequestContext): void {
		if (!file.content) {
			throw new DriveApiError(403, 'fileNotDownloadable', 'Only files with binary content can be downloaded. Use Export with Docs Editors files.', 'global', 'alt');
		}
		sendContent(response, context, request.headers.range, { 'content-type': file.meta.mimeType }, file.content, (contentRange) =>
			new DriveApiError(416, 'requestedRangeNotSatisfiable', 'Request range not satisfiable', 'global', undefined, { 'content-range': contentRange }),
		);
	}

	private export(id: string, params: URLSearchParams, response: ServerResponse, context: RequestContext): void {
		const file = this.visible(id, params);
		const target = params.get('mimeType') ?? '';
		if (!isGoogleDoc(file)) throw new DriveApiError(403, 'fileNotExportable', 'Export only supports Docs Editors files.');
		if (!(EXPORT_FORMATS[file.meta.mimeType] ?? []).includes(target)) throw new DriveApiError(400, 'badRequest', 'The requested conversion is not supported.', 'global', 'mimeType');
		const bytes = this.exportOf(file.id, target);
		if (bytes.length > EXPORT_LIMIT_BYTES) throw new DriveApiError(403, 'exportSizeLimitExceeded', 'This file is too large to be exported.');
		sendBody(response, context, 200, { 'content-type': target }, bytes);
	}

	// -------------------------------------------------------------------------------------------
	// Create, update, copy

	private parentFor(metadata: drive_v3.Schema$File, params: URLSearchParams, fallback?: string): StoredFile {
		const parents = metadata.parents ?? [fallback ?? 'root'];
		if (parents.length !== 1) throw new DriveApiError(403, 'cannotAddParent', 'Increasing the number of parents is not allowed.');
		const parent = this.visible(parents[0], params);
		if (!isFolder(parent)) throw invalid('parents', 'The specified parent is not a folder.');
		if (!this.canEdit(parent)) throw noPermission();
		return parent;
	}

	private checkQuota(added: number): void {
		if (!this.files.hasRoom(added)) {
			throw new DriveApiError(403, 'storageQuotaExceeded', "The user's Drive storage quota has been exceeded.", 'usageLimits');
		}
	}

	private create(metadata: drive_v3.Schema$File, content: Buffer | undefined, params: URLSearchParams, mediaType?: string): StoredFile {
		const parent = this.parentFor(metadata, params);
		const mimeType = metadata.mimeType ?? mediaType ?? 'application/octet-stream';
		const isDoc = Object.values(GOOGLE_DOC_MIME).includes(mimeType as never);
		const bytes = mimeType === FOLDER_MIME || isDoc ? undefined : (content ?? Buffer.alloc(0));
		this.checkQuota(bytes?.length ?? 0);
		const docText = isDoc ? (content?.toString('utf8') ?? '') : undefined;
		const id = this.claimId(metadata.id);
		return this.insert(parent.id, metadata.name ?? 'Untitled', { mimeType, docText }, { id, content: bytes, modifiedTime: parseTime(metadata.modifiedTime, 'modifiedTime') });
	}

	/**
	 * The id a create asked for: one files.generateIds gave out and no file holds yet. A second create
	 * with the same id (a retry whose first answer was lost) is refused, so it cannot make a duplicate.
	 * [unconfirmed] Drive's exact answer to a taken id; 409 as for other conflicts.
	 */
	private claimId(id: string | null | undefined): string | undefined {
		if (id === undefined || id === null) return undefined;
		if (this.files.get(id)) throw new DriveApiError(409, 'duplicate', 'A file already exists with the provided ID.');
		if (!this.generatedIds.has(id)) throw invalid('id', 'The provided file ID is not usable.');
		return id;
	}

	private generateIds(params: URLSearchParams, response: ServerResponse): void {
		const count = params.has('count') ? Number(params.get('count')) : 10;
		if (!Number.isInteger(count) || count < 1 || count > 1000) throw invalid('count');
		const space = params.get('space') ?? 'drive';
		if (space !== 'drive' && space !== 'appDataFolder') throw invalid('space');
		const type = params.get('type') ?? 'files';
		if (type !== 'files' && type !== 'shortcuts') throw invalid('type');
		const ids = Array.from({ length: count }, () => this.newId('generated'));
		for (const id of ids) this.generatedIds.add(id);
		const body: drive_v3.Schema$GeneratedIds = { kind: 'drive#generatedIds', space, ids };
		sendJson(response, 200, body);
	}

	private replaceContent(id: string, metadata: drive_v3.Schema$File, content: Buffer, params: URLSearchParams): StoredFile {
		const file = this.visible(id, params);
		if (!this.canEdit(file)) throw noPermission();
		if (!file.content) throw new DriveApiError(403, 'fileNotUploadable', 'Only files with binary content can be updated with media.');
		this.checkQuota(content.length - file.content.length);
		this.files.write(file, content);
		if (metadata.name) this.files.move(file, file.parentId, metadata.name);
		file.modifiedTime = parseTime(metadata.modifiedTime, 'modifiedTime') ?? Date.now();
		this.recordChange(file);
		return file;
	}

	private updateMetadata(id: string, patch: drive_v3.Schema$File, params: URLSearchParams): StoredFile {
		const file = this.visible(id, params);
		if (file.meta.isRoot || !this.canEdit(file)) throw noPermission();
		const parentId = this.newParent(file, params);
		const renamed = parentId !== undefined || (patch.name !== undefined && patch.name !== null);
		if (renamed) this.files.move(file, parentId ?? file.parentId, patch.name ?? file.name);
		if (patch.trashed !== undefined && patch.trashed !== null) file.meta.trashed = patch.trashed;
		// A rename or move counts as a modification unless the client keeps the time, so a provider
		// that wants times kept across moves has to send them.
		file.modifiedTime = parseTime(patch.modifiedTime, 'modifiedTime') ?? (renamed ? Date.now() : file.modifiedTime);
		this.touch(file);
		return file;
	}

	/** The parent after addParents/removeParents (a file keeps exactly one); undefined when the request names none. */
	private newParent(file: StoredFile, params: URLSearchParams): string | undefined {
		const split = (name: string) => (params.get(name) ?? '').split(',').filter(Boolean);
		const add = split('addParents').map((id) => this.visible(id, params));
		const remove = split('removeParents');
		const current = file.parentId === undefined ? [] : [file.parentId];
		for (const id of remove) if (!current.includes(id)) throw invalid('removeParents', `The parent ${id} is not a parent of this file.`);
		for (const parent of add) {
			if (!isFolder(parent)) throw invalid('addParents', 'The specified parent is not a folder.');
			if (!this.canEdit(parent)) throw noPermission();
			if (this.isInside(parent, file.id)) throw invalid('addParents', 'A folder cannot be moved into itself or one of its subfolders.');
		}
		if (add.length === 0 && remove.length === 0) return undefined;
		const parents = new Set([...current.filter((id) => !remove.includes(id)), ...add.map((parent) => parent.id)]);
		if (parents.size !== 1) throw new DriveApiError(403, 'cannotAddParent', 'Increasing the number of parents is not allowed.');
		return [...parents][0];
	}

	private copy(id: string, metadata: drive_v3.Schema$File, params: URLSearchParams): StoredFile {
		const source = this.visible(id, params);
		if (isFolder(source)) throw new DriveApiError(403, 'fileNotCopyable', 'Folders cannot be copied.');
		const parent = this.parentFor(metadata, params, source.parentId);
		this.checkQuota(source.content?.length ?? 0);
		const meta = { mimeType: source.meta.mimeType, docText: source.meta.docText };
		const fields = { content: source.content, modifiedTime: parseTime(metadata.modifiedTime, 'modifiedTime') };
		return this.insert(parent.id, metadata.name ?? `Copy of ${source.name}`, meta, fields);
	}

	// -------------------------------------------------------------------------------------------
	// Uploads

	private async upload(fileId: string | undefined, method: string, request: IncomingMessage, response: ServerResponse, params: URLSearchParams) {
		const uploadType = params.get('uploadType');
		if (method !== (fileId === undefined ? 'POST' : 'PATCH')) {
			throw new DriveApiError(405, 'methodNotAllowed', `Method ${method} not allowed here`);
		}
		if (uploadType === 'resumable') return this.initiateResumable(fileId, request, response, params);
		const body = await readBody(request);
		let metadata: drive_v3.Schema$File = {};
		let content = body;
		let mediaType = request.headers['content-type'];
		if (uploadType === 'multipart') {
			const [meta, media] = parseMultipart(request.headers['content-type'], body);
			if (!meta || !media) throw new DriveApiError(400, 'badContent', 'A multipart upload needs a metadata part and a media part.');
			metadata = parseJson(meta.body);
			content = media.body;
			mediaType = media.headers['content-type'];
		} else if (uploadType !== 'media') {
			throw invalid('uploadType');
		}
		const file = fileId === undefined ? this.create(metadata, content, params, mediaType) : this.replaceContent(fileId, metadata, content, params);
		this.sendFile(response, file, params);
	}

	private async initiateResumable(fileId: string | undefined, request: IncomingMessage, response: ServerResponse, params: URLSearchParams) {
		const metadata = await readJson(request);
		const declared = request.headers['x-upload-content-length'];
		const declaredTotal = declared === undefined ? undefined : Number(declared);
		if (declaredTotal !== undefined && !(Number.isInteger(declaredTotal) && declaredTotal >= 0)) throw invalid('X-Upload-Content-Length');
		// Refuse early what the final chunk would be refused for.
		if (fileId === undefined) this.parentFor(metadata, params);
		else if (!this.canEdit(this.visible(fileId, params))) throw noPermission();
		this.checkQuota((declaredTotal ?? 0) - (fileId === undefined ? 0 : (this.files.get(fileId)?.content?.length ?? 0)));
		const session: UploadSession = { id: base64url(randomBytes(24)), fileId, metadata, declaredTotal, chunks: new Spool(), received: 0, params };
		this.sessions.set(session.id, session);
		const location = `${this.baseUrl}/upload/drive/v3/files${fileId ? `/${encodeURIComponent(fileId)}` : ''}?uploadType=resumable&upload_id=${session.id}`;
		response.writeHead(200, { location, 'content-length': '0' }).end();
	}

	private async uploadChunk(request: IncomingMessage, response: ServerResponse, context: RequestContext): Promise<void> {
		const session = this.sessions.get(context.url.searchParams.get('upload_id') ?? '');
		const body = await readBody(request);
		const contentRange = request.headers['content-range'];
		const entry: UploadLogEntry = { session: session?.id ?? '?', method: request.method ?? '', contentRange, bytes: body.length, status: 0 };
		this.uploads.push(entry);
		response.on('finish', () => (entry.status = response.statusCode));
		if (!session) throw new DriveApiError(404, 'notFound', 'The upload session does not exist or has expired.');
		if (session.result) return this.sendFile(response, session.result, session.params);
		const chunk = parseContentRange(contentRange);
		if (!chunk) throw invalid('Content-Range', `Invalid Content-Range: ${contentRange ?? '(none)'}`);
		if (context.fault?.kind === 'reset') return this.dropMidChunk(session, chunk.range, body, request, entry);
		if (chunk.range) this.accept(session, chunk.range, chunk.total, body);
		else if (body.length > 0) throw invalid('Content-Range', 'A status query has no body.');
		if (chunk.total !== undefined) this.setTotal(session, chunk.total);
		if (session.total !== undefined && session.received === session.total) {
			session.result = this.finish(session);
			return this.sendFile(response, session.result, session.params);
		}
		this.resumeIncomplete(request, response, session, entry);
	}

	/** A connection lost mid-chunk: Google keeps what arrived, in whole 256 KiB units, and the client must ask where to resume. */
	private dropMidChunk(session: UploadSession, range: ByteRange | undefined, body: Buffer, request: IncomingMessage, entry: UploadLogEntry): void {
		if (range?.start === session.received) {
			const kept = Math.floor(body.length / 2 / CHUNK_GRANULARITY) * CHUNK_GRANULARITY;
			session.chunks.push(body.subarray(0, kept));
			session.received += kept;
		}
		entry.status = -1;
		request.socket.destroy();
	}

	private accept(session: UploadSession, range: ByteRange, total: number | undefined, body: Buffer): void {
		if (range.end - range.start + 1 !== body.length) throw invalid('Content-Range', `Content-Range covers ${range.end - range.start + 1} bytes but ${body.length} arrived.`);
		if (range.start > session.received) throw invalid('Content-Range', `Bytes from ${session.received} are missing; resume from the Range of a status query.`);
		const isLast = total !== undefined && range.end + 1 === total;
		if (!isLast && body.length % CHUNK_GRANULARITY !== 0) {
			throw new DriveApiError(400, 'badRequest', `Chunks other than the last must be a multiple of ${CHUNK_GRANULARITY} bytes.`);
		}
		// A client resending bytes the server already has is fine; only the new ones are kept.
		const fresh = body.subarray(session.received - range.start);
		session.chunks.push(fresh);
		session.received += fresh.length;
	}

	private setTotal(session: UploadSession, total: number): void {
		if ((session.total !== undefined && session.total !== total) || (session.declaredTotal !== undefined && session.declaredTotal !== total)) {
			throw invalid('Content-Range', 'The total size changed during the upload.');
		}
		if (session.received > total) throw invalid('Content-Range', 'More bytes arrived than the total size.');
		session.total = total;
	}

	private resumeIncomplete(request: IncomingMessage, response: ServerResponse, session: UploadSession, entry: UploadLogEntry): void {
		const headers: Record<string, string> = { 'content-length': '0' };
		if (session.received > 0) headers.range = `bytes=0-${session.received - 1}`;
		entry.range = headers.range;
		if (request.headers['x-guploader-no-308'] === 'yes') {
			response.writeHead(200, { ...headers, 'x-http-status-code-override': '308' }).end();
			return;
		}
		response.writeHead(308, headers).end();
	}

	private finish(session: UploadSession): StoredFile {
		const content = session.chunks.bytes();
		const mediaType = session.metadata.mimeType ?? undefined;
		const file = session.fileId === undefined
			? this.create(session.metadata, content, session.params, mediaType)
			: this.replaceContent(session.fileId, session.metadata, content, session.params);
		session.chunks.discard();
		return file;
	}

	// -------------------------------------------------------------------------------------------
	// Changes

	private changeCorpus(params: URLSearchParams): (entry: { driveId?: string }) => boolean {
		const driveId = params.get('driveId');
		if (!driveId) return (entry) => entry.driveId === undefined;
		if (!truthy(params.get('supportsAllDrives'))) throw invalid('supportsAllDrives', 'driveId requires supportsAllDrives=true.');
		return (entry) => entry.driveId === driveId;
	}

	private startPageToken(params: URLSearchParams, response: ServerResponse): void {
		this.changeCorpus(params);
		const body: drive_v3.Schema$StartPageToken = { kind: 'drive#startPageToken', startPageToken: String(this.journal.head + 1) };
		sendJson(response, 200, body);
	}

	/** Change tokens count from 1, as Drive's do: position p of the journal is token p + 1. */
	private changes(params: URLSearchParams, response: ServerResponse): void {
		const token = Number(params.get('pageToken'));
		if (!Number.isInteger(token) || token < 1 || token > this.journal.head + 1) throw invalid('pageToken');
		const pageSize = parsePageSize(params.get('pageSize'));
		const inCorpus = this.changeCorpus(params);
		const includeRemoved = params.get('includeRemoved') !== 'false';
		// One change per file, at the place of its latest change, as Drive reports the file's current state.
		const positions = this.journal
			.latest(token - 1, (entry) => entry.fileId, inCorpus)
			.filter((position) => includeRemoved || this.files.get(this.journal.at(position).fileId));
		const page = pageOf(positions, 0, pageSize);
		const body: drive_v3.Schema$ChangeList = { kind: 'drive#changeList', changes: page.items.map((position) => this.change(position)) };
		if (page.next !== undefined) body.nextPageToken = String(positions[page.next] + 1);
		else body.newStartPageToken = String(this.journal.head + 1);
		sendJson(response, 200, masked(body, params.get('fields') ?? DEFAULT_FIELDS.changeList, [['changes', 'file']]));
	}

	private change(position: number): drive_v3.Schema$Change {
		const entry = this.journal.at(position);
		const file = this.files.get(entry.fileId);
		return {
			kind: 'drive#change',
			changeType: 'file',
			fileId: entry.fileId,
			driveId: entry.driveId,
			time: new Date(entry.time).toISOString(),
			removed: !file,
			file: file && this.apiFile(file),
		};
	}
}

// ---------------------------------------------------------------------------------------------
// Request parsing

async function drain(request: IncomingMessage): Promise<void> {
	if (request.readableEnded) return;
	try {
		await readBody(request);
	} catch {
		// The client went away; there is nobody left to answer.
	}
}

function parseJson(body: Buffer): drive_v3.Schema$File {
	if (body.length === 0) return {};
	try {
		return JSON.parse(body.toString('utf8')) as drive_v3.Schema$File;
	} catch {
		throw new DriveApiError(400, 'parseError', 'Parse Error');
	}
}

async function readJson(request: IncomingMessage): Promise<drive_v3.Schema$File> {
	return parseJson(await readBody(request));
}
