import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendContent } from './core/ranges';
import { EmulatorServer, readBody, sendBody, type FaultRule, type LoggedRequest, type RequestContext } from './core/server';
import { Tree, type Item } from './core/tree';

/**
 * A WebDAV server (RFC 4918) after shared/reference/more-clouds.md §3, in two flavours: a generic
 * one (Apache mod_dav's answers: prefixes of its own choosing, Depth: infinity refused, no time
 * setting, PUT onto a folder 405) and Nextcloud, with the extensions its developer manual documents:
 * X-OC-Mtime on PUT and MOVE (answered `X-OC-MTime: accepted`), PROPPATCH of DAV:lastmodified,
 * OC-Checksum stored and listed as oc:checksums, chunked upload v2 under /remote.php/dav/uploads
 * (Destination on every request, chunks 1..n of 5 MB or more but the last, assembled by MOVE of
 * .file, 423 while merging when asked), the trash bin under /remote.php/dav/trashbin, and 507 when
 * the quota is used up. What the reference leaves unconfirmed is accepted in both variants:
 * OC-Total-Length may be absent; checksums are taken on PUT and on the assembling MOVE.
 * Not emulated: LOCK/UNLOCK, versions, shares, tus, v1 chunk names.
 */

const MB = 1000 * 1000;
const DAV = 'DAV:';
const OC = 'http://owncloud.org/ns';
const NC = 'http://nextcloud.org/ns';

export type WebDavFlavour = 'nextcloud' | 'generic';

interface Meta {
	/** `SHA1:<hex>` as a client gave it (Nextcloud keeps the one it was given, and checks nothing). */
	checksum?: string;
}

type Node = Item<Meta>;

interface Upload {
	destination: string;
	chunks: Map<string, Buffer>;
}

interface Trashed {
	name: string;
	originalLocation: string;
	deletedAt: number;
	folder: boolean;
	size: number;
}

export interface WebDavEmulatorOptions {
	flavour?: WebDavFlavour;
	user?: string;
	password?: string;
	quotaBytes?: number;
	seed?: number;
	/** A server (or a proxy before it) that drops X-OC-Mtime: times are then set only by PROPPATCH. */
	ignoreMtimeHeader?: boolean;
	/** The assembling MOVE answers 423 Locked this many times (having merged the file the first time). */
	lockedWhileMerging?: number;
}

class DavError extends Error {
	constructor(
		readonly status: number,
		message: string,
		readonly headers: Record<string, string> = {},
	) {
		super(message);
	}
}

/** Sabre's error body, as Nextcloud sends it; a generic server sends a short HTML page. */
function writeError(response: ServerResponse, flavour: WebDavFlavour, error: DavError): void {
	const exception = { 401: 'NotAuthenticated', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict', 412: 'PreconditionFailed', 423: 'Locked', 507: 'InsufficientStorage' }[error.status] ?? 'Exception';
	const body =
		flavour === 'nextcloud'
			? `<?xml version="1.0" encoding="utf-8"?>\n<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns"><s:exception>Sabre\\DAV\\Exception\\${exception}</s:exception><s:message>${escapeXml(error.message)}</s:message></d:error>`
			: `<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN"><html><head><title>${error.status} ${escapeXml(error.message)}</title></head><body></body></html>`;
	response.writeHead(error.status, { 'content-type': flavour === 'nextcloud' ? 'application/xml; charset=utf-8' : 'text/html', 'content-length': Buffer.byteLength(body), ...error.headers });
	response.end(body);
}

function escapeXml(text: string): string {
	return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}


export class WebDavEmulator {
	readonly server: EmulatorServer;
	readonly user: string;
	readonly password: string;
	readonly flavour: WebDavFlavour;
	/** Deleted items, newest last (Nextcloud only). */
	readonly trash: Trashed[] = [];
	private readonly tree = new Tree<Meta>({ newId: () => randomBytes(6).toString('hex') });
	private readonly root: Node;
	private readonly uploads = new Map<string, Upload>();
	private readonly locked = new Set<string>();
	/** Raw hrefs added to the next Depth: 1 answer on a folder, as a hostile or broken server would send them. */
	private readonly extraHrefs = new Map<string, string[]>();
	private mergesLocked = 0;

	constructor(private readonly options: WebDavEmulatorOptions = {}) {
		this.flavour = options.flavour ?? 'nextcloud';
		this.user = options.user ?? 'ada';
		this.password = options.password ?? `app-${randomBytes(12).toString('base64url')}`;
		this.root = this.tree.add({ name: '', folder: true, meta: {} });
		this.tree.quotaBytes = options.quotaBytes ?? Number.POSITIVE_INFINITY;
		this.server = new EmulatorServer((request, response, context) => this.handle(request, response, context), (fault, response) => this.renderFault(fault, response), options.seed);
	}

	static async start(options: WebDavEmulatorOptions = {}): Promise<WebDavEmulator> {
		const emulator = new WebDavEmulator(options);
		await emulator.server.start();
		return emulator;
	}

	get baseUrl(): string {
		return this.server.baseUrl;
	}

	/** The files address a user gives: Nextcloud's /remote.php/dav/files/<user>, or a generic /webdav. */
	get filesPath(): string {
		return this.flavour === 'nextcloud' ? `/remote.php/dav/files/${encodeURIComponent(this.user)}` : '/webdav';
	}

	get url(): string {
		return `${this.baseUrl}${this.filesPath}`;
	}

	stop(): Promise<void> {
		return this.server.stop();
	}

	// -----------------------------------------------------------------------------------------
	// Helpers for tests: another client's changes

	seedFolder(path: string): void {
		this.folderAt(this.names(path), true);
	}

	seedFile(path: string, content: Buffer | string, options: { modTime?: number; checksum?: string } = {}): void {
		const names = this.names(path);
		const parent = this.folderAt(names.slice(0, -1), true);
		this.store(parent, names[names.length - 1], typeof content === 'string' ? Buffer.from(content) : content, options.modTime, options.checksum);
	}

	find(path: string): Node | undefined {
		return this.tree.resolve(this.root.id, this.names(path));
	}

	content(path: string): Buffer | undefined {
		return this.find(path)?.content;
	}

	/** Paths of every item below `path`, sorted. */
	paths(path = ''): string[] {
		const folder = this.find(path);
		if (!folder) return [];
		const top = this.tree.pathOf(folder).length;
		return this.tree
			.descendants(folder.id)
			.map((item) => this.tree.pathOf(item).slice(top).join('/'))
			.sort();
	}

	remove(path: string): void {
		const item = this.find(path);
		if (item) this.tree.remove(item);
	}

	/** Writes to `path` answer 423 Locked until unlocked. */
	lock(path: string): void {
		this.locked.add(path);
	}

	unlock(path: string): void {
		this.locked.delete(path);
	}

	/** Adds raw hrefs to the next Depth: 1 listing of folder `path` ('' for the top). */
	addHostileHrefs(path: string, hrefs: string[]): void {
		this.extraHrefs.set(path, hrefs);
	}

	requests(route?: RegExp): LoggedRequest[] {
		return this.server.requests(route);
	}

	headersOf(entry: LoggedRequest) {
		return this.server.headersOf(entry);
	}

	set quotaBytes(bytes: number) {
		this.tree.quotaBytes = bytes;
	}

	/** Upload folders still open under uploads/. */
	get openUploads(): number {
		return this.uploads.size;
	}

	/** The chunk numbers an open upload folder (its URL path) holds whole, in order. */
	heldChunks(folderPath: string): number[] {
		const id = folderPath.split('/').filter(Boolean).at(-1)!;
		return [...(this.uploads.get(id)?.chunks.keys() ?? [])].map(Number).sort((a, b) => a - b);
	}

	// -----------------------------------------------------------------------------------------
	// The tree

	private names(path: string): string[] {
		return path.split('/').filter(Boolean);
	}

	private folderAt(names: string[], create: boolean): Node {
		let folder = this.root;
		for (const name of names) {
			const existing = this.tree.named(folder.id, name)[0];
			if (existing && !existing.folder) throw new DavError(409, 'A file is in the way');
			if (!existing && !create) throw new DavError(409, 'Parent node does not exist');
			folder = existing ?? this.tree.add({ name, parentId: folder.id, folder: true, meta: {} });
		}
		return folder;
	}

	private store(parent: Node, name: string, content: Buffer, modTime?: number, checksum?: string): Node {
		const existing = this.tree.named(parent.id, name)[0];
		if (existing?.folder) throw new DavError(this.flavour === 'nextcloud' ? 409 : 405, 'PUT is not allowed on non-files.');
		if (!this.tree.hasRoom(content.length - (existing?.content?.length ?? 0))) throw new DavError(507, 'Insufficient space in the target location');
		const meta = { checksum: this.flavour === 'nextcloud' && checksum && /^SHA1:[0-9a-f]{40}$/i.test(checksum) ? checksum : undefined };
		if (existing) {
			this.tree.write(existing, content);
			existing.modifiedTime = modTime ?? Date.now();
			existing.meta = meta;
			return existing;
		}
		return this.tree.add({ name, parentId: parent.id, folder: false, content, modifiedTime: modTime ?? Date.now(), meta });
	}

	private moveToTrash(item: Node): void {
		if (this.flavour === 'nextcloud') {
			const now = Date.now();
			this.trash.push({ name: `${item.name}.d${Math.floor(now / 1000)}`, originalLocation: this.tree.pathOf(item).join('/'), deletedAt: now, folder: item.folder, size: item.content?.length ?? 0 });
		}
		this.tree.remove(item);
	}

	// -----------------------------------------------------------------------------------------
	// Requests

	private renderFault(fault: FaultRule, response: ServerResponse): void {
		const retryAfter: Record<string, string> = fault.retryAfterSeconds === undefined && fault.kind !== 'rate-limit' ? {} : { 'retry-after': String(fault.retryAfterSeconds ?? 1) };
		if (fault.kind === 'rate-limit' || fault.kind === 'quota-rate-limit') return writeError(response, this.flavour, new DavError(429, 'Too Many Requests', retryAfter));
		if (fault.kind === 'unavailable') return writeError(response, this.flavour, new DavError(503, 'Service Unavailable', retryAfter));
		writeError(response, this.flavour, new DavError(500, 'Internal Server Error'));
	}

	private async handle(request: IncomingMessage, response: ServerResponse, context: RequestContext): Promise<void> {
		try {
			this.authenticate(request);
			const segments = this.segmentsOf(context.url.pathname);
			const method = request.method ?? 'GET';
			const files = this.names(decodeURIComponent(this.filesPath));
			const uploads = ['remote.php', 'dav', 'uploads', this.user];
			const trashbin = ['remote.php', 'dav', 'trashbin', this.user, 'trash'];
			if (startsWith(segments, files)) return await this.files(method, segments.slice(files.length), request, response, context);
			if (this.flavour === 'nextcloud' && startsWith(segments, uploads)) return await this.chunked(method, segments.slice(uploads.length), request, response);
			if (this.flavour === 'nextcloud' && startsWith(segments, trashbin) && method === 'PROPFIND') return this.listTrash(request, response, context.url.pathname);
			throw new DavError(404, 'Not found');
		} catch (error) {
			if (!(error instanceof DavError)) throw error;
			await readBody(request).catch(() => undefined);
			writeError(response, this.flavour, error);
		}
	}

	private authenticate(request: IncomingMessage): void {
		const expected = `Basic ${Buffer.from(`${this.user}:${this.password}`).toString('base64')}`;
		if (request.headers.authorization !== expected) {
			throw new DavError(401, 'No public access to this resource., Username or password was incorrect', { 'www-authenticate': 'Basic realm="Nextcloud", charset="UTF-8"' });
		}
	}

	private segmentsOf(pathname: string): string[] {
		try {
			return pathname
				.split('/')
				.filter(Boolean)
				.map((segment) => decodeURIComponent(segment));
		} catch {
			throw new DavError(400, 'Bad path encoding');
		}
	}

	/** The file-space path a Destination header names, relative to the files address. */
	private destinationOf(request: IncomingMessage): string[] {
		const header = request.headers.destination;
		if (typeof header !== 'string') throw new DavError(400, 'The destination header was not supplied');
		const segments = this.segmentsOf(new URL(header, this.baseUrl).pathname);
		const files = this.names(decodeURIComponent(this.filesPath));
		if (!startsWith(segments, files)) throw new DavError(502, 'The destination is on another server');
		return segments.slice(files.length);
	}

	private checkLock(names: string[]): void {
		if (this.locked.has(names.join('/'))) throw new DavError(423, `"${names.join('/')}" is locked`);
	}

	private mtimeOf(request: IncomingMessage): number | undefined {
		if (this.flavour !== 'nextcloud' || this.options.ignoreMtimeHeader) return undefined;
		const header = request.headers['x-oc-mtime'];
		const value = Number(Array.isArray(header) ? header[0] : header);
		return header !== undefined && Number.isFinite(value) ? value * 1000 : undefined;
	}

	private async files(method: string, names: string[], request: IncomingMessage, response: ServerResponse, context: RequestContext): Promise<void> {
		const item = this.tree.resolve(this.root.id, names);
		switch (method) {
			case 'PROPFIND': {
				await readBody(request);
				if (!item) throw new DavError(404, `File with name ${names.join('/')} could not be located`);
				const depth = request.headers.depth ?? 'infinity';
				// Apache and ownCloud refuse infinity by default [code] owncloud/core PR #40016; mod_dav DavDepthInfinity Off.
				if (depth !== '0' && depth !== '1') throw new DavError(this.flavour === 'nextcloud' ? 412 : 403, 'PROPFIND requests with a Depth of "infinity" are not allowed');
				const listed = depth === '1' && item.folder ? [item, ...this.tree.childrenOf(item.id)] : [item];
				const extra = depth === '1' ? (this.extraHrefs.get(names.join('/')) ?? []) : [];
				this.extraHrefs.delete(names.join('/'));
				return this.multistatus(response, context, listed, extra);
			}
			case 'GET':
			case 'HEAD': {
				if (!item) throw new DavError(404, 'Not found');
				if (item.folder) throw new DavError(405, 'This is a folder');
				const headers = { 'content-type': 'application/octet-stream', etag: `"${item.contentRevision}"`, 'last-modified': new Date(item.modifiedTime).toUTCString() };
				if (method === 'HEAD') {
					response.writeHead(200, { ...headers, 'content-length': String(item.content!.length) });
					return void response.end();
				}
				return sendContent(response, context, request.headers.range, headers, item.content!, (contentRange) => new DavError(416, 'Requested Range Not Satisfiable', { 'content-range': contentRange }));
			}
			case 'PUT': {
				if (names.length === 0) throw new DavError(405, 'Cannot PUT the root');
				// The body is taken whole before anything changes: readers see the old file until then (Nextcloud's part file).
				const body = await readBody(request);
				this.checkLock(names);
				const length = request.headers['content-length'];
				if (length !== undefined && Number(length) !== body.length) throw new DavError(400, 'Expected filesize does not match');
				const parent = this.folderAt(names.slice(0, -1), false);
				const mtime = this.mtimeOf(request);
				const checksum = request.headers['oc-checksum'];
				const existed = this.tree.named(parent.id, names[names.length - 1])[0] !== undefined;
				const stored = this.store(parent, names[names.length - 1], body, mtime, typeof checksum === 'string' ? checksum : undefined);
				return this.done(response, existed ? 204 : 201, { etag: `"${stored.contentRevision}"`, ...(mtime !== undefined ? { 'x-oc-mtime': 'accepted' } : {}), 'oc-fileid': stored.id });
			}
			case 'OPTIONS': {
				await readBody(request);
				return this.done(response, 200, { dav: this.flavour === 'nextcloud' ? '1, 3, extended-mkcol' : '1,2', allow: 'OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, PROPFIND, PROPPATCH, MOVE, COPY' });
			}
			case 'MKCOL': {
				// A body would be an extended MKCOL, which is not emulated: refused as RFC 4918 9.3 says.
				if ((await readBody(request)).length > 0) throw new DavError(415, 'MKCOL with a body is not supported');
				if (item) throw new DavError(405, 'The resource you tried to create already exists');
				const parent = this.folderAt(names.slice(0, -1), false);
				this.tree.add({ name: names[names.length - 1], parentId: parent.id, folder: true, meta: {} });
				return this.done(response, 201);
			}
			case 'DELETE': {
				await readBody(request);
				if (!item || names.length === 0) throw new DavError(404, 'Not found');
				this.checkLock(names);
				this.moveToTrash(item);
				return this.done(response, 204);
			}
			case 'MOVE':
			case 'COPY': {
				await readBody(request);
				if (!item || names.length === 0) throw new DavError(404, 'Not found');
				return this.transfer(method, item, names, this.destinationOf(request), request, response);
			}
			case 'PROPPATCH': {
				const body = (await readBody(request)).toString();
				if (!item) throw new DavError(404, 'Not found');
				const time = /<(?:\w+:)?lastmodified[^>]*>\s*(\d+)\s*</.exec(body)?.[1];
				// Nextcloud sets the time from DAV:lastmodified; a generic server calls live properties protected.
				const allowed = this.flavour === 'nextcloud' && time !== undefined;
				if (allowed) {
					item.modifiedTime = Number(time) * 1000;
					this.tree.touch(item);
				}
				const status = allowed ? 'HTTP/1.1 200 OK' : 'HTTP/1.1 403 Forbidden';
				const xml = `<?xml version="1.0" encoding="utf-8"?>\n<d:multistatus xmlns:d="DAV:"><d:response><d:href>${escapeXml(this.hrefOf(item))}</d:href><d:propstat><d:prop><d:lastmodified/></d:prop><d:status>${status}</d:status></d:propstat></d:response></d:multistatus>`;
				return sendBody(response, { url: new URL('http://x'), log: { method, path: '', query: '' } }, 207, { 'content-type': 'application/xml; charset=utf-8' }, Buffer.from(xml));
			}
			default:
				throw new DavError(405, `${method} is not allowed here`);
		}
	}

	private transfer(method: 'MOVE' | 'COPY', item: Node, from: string[], to: string[], request: IncomingMessage, response: ServerResponse): void {
		if (to.length === 0) throw new DavError(403, 'Cannot overwrite the root');
		if (startsWith(to, from)) throw new DavError(403, 'The destination is within the source');
		this.checkLock(from);
		this.checkLock(to);
		const parent = this.folderAt(to.slice(0, -1), false);
		const name = to[to.length - 1];
		const existing = this.tree.named(parent.id, name)[0];
		const overwrite = String(request.headers.overwrite ?? 'T').toUpperCase() !== 'F';
		if (existing && existing.id !== item.id) {
			if (!overwrite) throw new DavError(412, 'The destination node already exists, and the overwrite header is set to false');
			this.tree.remove(existing);
		}
		const mtime = this.mtimeOf(request);
		if (method === 'MOVE') {
			this.tree.move(item, parent.id, name);
			if (mtime !== undefined) item.modifiedTime = mtime;
		} else {
			if (!this.tree.hasRoom(item.content?.length ?? 0)) throw new DavError(507, 'Insufficient space in the target location');
			const [copy] = this.tree.copy(item, parent.id, name);
			// A copy is a new file: it gets the time of the copy, as on Nextcloud.
			copy.modifiedTime = mtime ?? Date.now();
		}
		this.done(response, existing ? 204 : 201, mtime !== undefined ? { 'x-oc-mtime': 'accepted' } : {});
	}

	private done(response: ServerResponse, status: number, headers: Record<string, string> = {}): void {
		response.writeHead(status, { 'content-length': '0', ...headers });
		response.end();
	}

	private hrefOf(item: Node): string {
		const path = this.tree.pathOf(item).map((name) => encodeURIComponent(name).replace(/%40/g, '@'));
		return `${this.filesPath}/${path.join('/')}${item.folder && path.length > 0 ? '/' : ''}`.replace(/\/\/$/, '/');
	}

	/**
	 * A 207 answer. The generic flavour writes it as Apache does (`D:` for the envelope, each live
	 * property in an `lp1:` namespace declared on the element), Nextcloud as Sabre does (`d:`, `oc:`).
	 */
	private multistatus(response: ServerResponse, context: RequestContext, items: Node[], extraHrefs: string[]): void {
		const nextcloud = this.flavour === 'nextcloud';
		const d = nextcloud ? 'd' : 'D';
		const parts = items.map((item) => {
			const props: string[] = [];
			props.push(item.folder ? `<${d}:resourcetype><${d}:collection/></${d}:resourcetype>` : `<${d}:resourcetype/>`);
			if (nextcloud) {
				props.push(`<d:getlastmodified>${new Date(item.modifiedTime).toUTCString()}</d:getlastmodified>`);
				props.push(`<d:getetag>&quot;${item.revision}&quot;</d:getetag>`);
				if (!item.folder) props.push(`<d:getcontentlength>${item.content!.length}</d:getcontentlength>`);
				props.push(`<oc:fileid>${item.id}</oc:fileid>`);
				props.push(`<oc:size>${item.folder ? this.tree.descendants(item.id).reduce((sum, each) => sum + (each.content?.length ?? 0), 0) : item.content!.length}</oc:size>`);
				if (!item.folder) props.push(item.meta.checksum ? `<oc:checksums><oc:checksum>${item.meta.checksum}</oc:checksum></oc:checksums>` : '<oc:checksums/>');
			} else {
				props.push(`<lp1:getlastmodified xmlns:lp1="DAV:">${new Date(item.modifiedTime).toUTCString()}</lp1:getlastmodified>`);
				props.push(`<lp1:getetag xmlns:lp1="DAV:">"${item.revision.toString(16)}"</lp1:getetag>`);
				if (!item.folder) props.push(`<lp1:getcontentlength xmlns:lp1="DAV:">${item.content!.length}</lp1:getcontentlength>`);
			}
			const missing = item.folder ? `<${d}:propstat><${d}:prop><${d}:getcontentlength/></${d}:prop><${d}:status>HTTP/1.1 404 Not Found</${d}:status></${d}:propstat>` : '';
			return `<${d}:response><${d}:href>${escapeXml(this.hrefOf(item))}</${d}:href><${d}:propstat><${d}:prop>${props.join('')}</${d}:prop><${d}:status>HTTP/1.1 200 OK</${d}:status></${d}:propstat>${missing}</${d}:response>`;
		});
		for (const href of extraHrefs) {
			parts.push(`<${d}:response><${d}:href>${escapeXml(href)}</${d}:href><${d}:propstat><${d}:prop><${d}:resourcetype/><${d}:getcontentlength>6</${d}:getcontentlength><${d}:getlastmodified>${new Date().toUTCString()}</${d}:getlastmodified></${d}:prop><${d}:status>HTTP/1.1 200 OK</${d}:status></${d}:propstat></${d}:response>`);
		}
		const namespaces = nextcloud ? `xmlns:d="${DAV}" xmlns:s="http://sabredav.org/ns" xmlns:oc="${OC}" xmlns:nc="${NC}"` : `xmlns:D="${DAV}" xmlns:ns0="${DAV}"`;
		const xml = `<?xml version="1.0" encoding="utf-8"?>\n<${d}:multistatus ${namespaces}>${parts.join('')}</${d}:multistatus>`;
		sendBody(response, context, 207, { 'content-type': 'application/xml; charset=utf-8' }, Buffer.from(xml));
	}

	// -----------------------------------------------------------------------------------------
	// Nextcloud: chunked upload v2 and the trash bin

	private async chunked(method: string, names: string[], request: IncomingMessage, response: ServerResponse): Promise<void> {
		const [id, chunk] = names;
		const destination = request.headers.destination;
		if (!id) throw new DavError(405, 'Not allowed on the uploads folder');
		if (method === 'PROPFIND' && !chunk) return this.listChunks(id, request, response);
		// v2: the Destination header is on every request [doc] "Chunked file upload".
		if (typeof destination !== 'string' && method !== 'DELETE') throw new DavError(400, 'The Destination header is required for chunked upload v2');
		const upload = this.uploads.get(id);
		if (method === 'MKCOL' && !chunk && typeof destination === 'string') {
			await readBody(request);
			if (upload) throw new DavError(405, 'The upload folder exists');
			const total = Number(request.headers['oc-total-length']);
			if (Number.isFinite(total) && !this.tree.hasRoom(total)) throw new DavError(507, 'Insufficient space in the target location');
			this.uploads.set(id, { destination, chunks: new Map() });
			return this.done(response, 201);
		}
		if (!upload) throw new DavError(404, 'Upload folder not found');
		if (method !== 'DELETE' && upload.destination !== destination) throw new DavError(400, 'The Destination header differs from the one the upload was started with');
		if (method === 'PUT' && chunk && chunk !== '.file') {
			const index = Number(chunk);
			if (!Number.isInteger(index) || index < 1 || index > 10000) throw new DavError(400, 'Chunk names are numbers from 1 to 10000');
			const body = await readBody(request);
			if (request.headers['content-length'] !== undefined && Number(request.headers['content-length']) !== body.length) throw new DavError(400, 'Expected filesize does not match');
			upload.chunks.set(chunk, body);
			return this.done(response, 201);
		}
		if (method === 'MOVE' && chunk === '.file') {
			await readBody(request);
			if (this.mergesLocked > 0) {
				this.mergesLocked--;
				throw new DavError(423, 'The file is being merged');
			}
			const order = [...upload.chunks.keys()].map(Number).sort((a, b) => a - b);
			const parts = order.map((index) => upload.chunks.get(String(index))!);
			if (parts.slice(0, -1).some((part) => part.length < 5 * MB)) throw new DavError(400, 'Chunks must be at least 5 MB, except the last one');
			const content = Buffer.concat(parts);
			const total = request.headers['oc-total-length'];
			if (total !== undefined && Number(total) !== content.length) throw new DavError(400, 'The assembled file does not have the announced length');
			const to = this.destinationOf(request);
			this.checkLock(to);
			const parent = this.folderAt(to.slice(0, -1), false);
			const name = to[to.length - 1];
			const existed = this.tree.named(parent.id, name)[0] !== undefined;
			const mtime = this.mtimeOf(request);
			const checksum = request.headers['oc-checksum'];
			this.store(parent, name, content, mtime, typeof checksum === 'string' ? checksum : undefined);
			this.uploads.delete(id);
			// Nextcloud may still be merging when the client asks again: it answers 423 for a while.
			this.mergesLocked = this.options.lockedWhileMerging ?? 0;
			if (this.mergesLocked > 0) {
				this.mergesLocked--;
				throw new DavError(423, 'The file is being merged');
			}
			return this.done(response, existed ? 204 : 201, mtime !== undefined ? { 'x-oc-mtime': 'accepted' } : {});
		}
		if (method === 'DELETE' && !chunk) {
			await readBody(request);
			this.uploads.delete(id);
			return this.done(response, 204);
		}
		throw new DavError(405, `${method} is not allowed in an upload folder`);
	}

	/** An upload folder's chunks, as a PROPFIND (Depth 1) lists them: what a client resuming the upload reads. */
	private async listChunks(id: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
		await readBody(request);
		const upload = this.uploads.get(id);
		if (!upload) throw new DavError(404, 'Upload folder not found');
		const folder = `${new URL(request.url ?? '/', this.baseUrl).pathname.replace(/\/?$/, '/')}`;
		const chunk = (name: string, bytes: Buffer) =>
			`<d:response><d:href>${escapeXml(`${folder}${name}`)}</d:href><d:propstat><d:prop><d:resourcetype/><d:getcontentlength>${bytes.length}</d:getcontentlength><d:getlastmodified>${new Date().toUTCString()}</d:getlastmodified></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`;
		const xml = `<?xml version="1.0"?>\n<d:multistatus xmlns:d="DAV:"><d:response><d:href>${escapeXml(folder)}</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>${[...upload.chunks].map(([name, bytes]) => chunk(name, bytes)).join('')}</d:multistatus>`;
		response.writeHead(207, { 'content-type': 'application/xml; charset=utf-8', 'content-length': Buffer.byteLength(xml) });
		response.end(xml);
	}

	private listTrash(request: IncomingMessage, response: ServerResponse, pathname: string): void {
		void request;
		const entries = this.trash.map(
			(item) =>
				`<d:response><d:href>${escapeXml(`${pathname.replace(/\/?$/, '/')}${encodeURIComponent(item.name)}`)}</d:href><d:propstat><d:prop><nc:trashbin-filename>${escapeXml(item.name.replace(/\.d\d+$/, ''))}</nc:trashbin-filename><nc:trashbin-original-location>${escapeXml(item.originalLocation)}</nc:trashbin-original-location><nc:trashbin-deletion-time>${Math.floor(item.deletedAt / 1000)}</nc:trashbin-deletion-time></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`,
		);
		const xml = `<?xml version="1.0"?>\n<d:multistatus xmlns:d="DAV:" xmlns:nc="${NC}"><d:response><d:href>${escapeXml(pathname)}</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>${entries.join('')}</d:multistatus>`;
		response.writeHead(207, { 'content-type': 'application/xml; charset=utf-8', 'content-length': Buffer.byteLength(xml) });
		response.end(xml);
	}
}

function startsWith(segments: string[], prefix: string[]): boolean {
	return prefix.length <= segments.length && prefix.every((segment, i) => segments[i] === segment);
}
