import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHasher } from '../../lib/core/hashing';
import { Journal } from './core/journal';
import { OAuthTokens, tokenForm, type OAuthClientCredentials } from './core/oauth';
import { decodeToken, encodeToken, pageOf } from './core/paging';
import { parseContentRange, sendContent } from './core/ranges';
import { EmulatorServer, readBody, sendJson, type FaultRule, type LoggedRequest, type RequestContext } from './core/server';
import { digestOf, Tree, type Item } from './core/tree';
import { Spool } from './core/spool';

/**
 * A Microsoft Graph (OneDrive / SharePoint document library) emulator, after
 * shared/reference/more-clouds.md §1 and cloud-apis.md §3. Facts marked [unconfirmed] there are
 * emulated in every variant a client may meet: conflictBehavior is read from the query or from the
 * body's item; delta tokens are accepted as `delta?token=` and `delta(token='…')`; mkdir and rename
 * answer 201/200. Not emulated: permissions and sharing, thumbnails, versions listing, deferCommit,
 * OneNote packages, $select/$expand, search.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
/** "Each range MUST be a multiple of 320 KiB", except the last. */
export const FRAGMENT_UNIT = 320 * KiB;
/** Each fragment request must be under 60 MiB. */
const MAX_FRAGMENT = 60 * MiB;
/** The simple upload limit is 4 MB in older docs, 250 MB in newer ones: the larger is accepted here. */
const MAX_SIMPLE_UPLOAD = 250 * 1000 * 1000;
const DEFAULT_PAGE = 200;
const MAX_PAGE = 1000;
const MAX_PATH = 400;
/** Characters OneDrive and SharePoint refuse in a name [code] rclone docs/content/onedrive.md. */
const FORBIDDEN = /["*:<>?/\\|]/;
/** Reserved names [unconfirmed: secondary pages quoting Microsoft's "Restrictions and limitations"]. */
const RESERVED = /^(\.lock|con|prn|aux|nul|com\d|lpt\d|desktop\.ini)$/i;
const OFFICE = /\.(docx|xlsx|pptx)$/i;

export type DriveType = 'personal' | 'business' | 'documentLibrary';

interface Meta {
	/** The server's own lastModifiedDateTime: every change moves it. */
	serverModified: number;
	/** The drive the item lives in (one emulator may hold a user's drive and SharePoint libraries). */
	driveId: string;
}

type Node = Item<Meta>;

interface Drive {
	id: string;
	driveType: DriveType;
	root: Node;
	name: string;
	/** The SharePoint site that owns it, for documentLibrary drives. */
	siteId?: string;
}

interface Site {
	id: string;
	hostname: string;
	path: string;
	displayName: string;
	driveId: string;
}

interface Session {
	driveId: string;
	parentId: string;
	name: string;
	total?: number;
	received: Spool;
	length: number;
	conflict: string;
	fileSystemInfo?: { createdDateTime?: string; lastModifiedDateTime?: string };
	expiresAt: number;
}

interface Change {
	id: string;
	driveId: string;
	/** Folder ids from the item up to its root when the change happened. */
	ancestors: string[];
	name: string;
	parentId?: string;
	deleted: boolean;
}

/** What a delta token encodes: where the caller stands in the journal, and its place in a first enumeration. */
interface DeltaState {
	epoch: number;
	folder: string;
	seq: number;
	/** Index of the next item of the first enumeration; absent once it is done. */
	offset?: number;
	top: number;
}

interface Monitor {
	status: 'inProgress' | 'completed' | 'failed';
	polls: number;
	resourceId?: string;
	errorCode?: string;
	run: () => { resourceId?: string; errorCode?: string };
}

export interface OneDriveEmulatorOptions {
	driveType?: DriveType;
	tokenLifetimeSeconds?: number;
	quotaBytes?: number;
	seed?: number;
	/** OneDrive Personal answers delta only at the drive root [code] rclone onedrive.go:422. */
	deltaOnlyAtRoot?: boolean;
	/** Copy ignores conflictBehavior (as seen on Personal [issue] onedrive-api-docs#981): a copy onto a file fails. */
	copyIgnoresConflictBehavior?: boolean;
	/** Polls a copy's monitor answers inProgress before it completes. */
	copyPolls?: number;
	/** SharePoint rewrites Office files after upload [code] rclone docs "Troubleshooting": size and hash change. */
	rewriteOfficeFiles?: boolean;
	/** Delta promises no order: with this on, a first enumeration brings items in a stable scramble, files often before their folders. */
	unorderedDelta?: boolean;
	/** Upload sessions live this long. */
	sessionLifetimeMs?: number;
}

export type OneDriveAppCredentials = OAuthClientCredentials;

/** A Graph error: `{"error":{"code","message","innerError":{…}}}`. */
class GraphError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string,
		readonly headers: Record<string, string> = {},
		readonly innerCode?: string,
	) {
		super(message);
	}
}

function graphBody(code: string, message: string, innerCode?: string) {
	// Doc revisions disagree on `request-id` vs `requestId` [unconfirmed]: both are sent.
	const id = randomBytes(8).toString('hex');
	return { error: { code, message, innerError: { ...(innerCode ? { code: innerCode } : {}), 'request-id': id, requestId: id, date: new Date().toISOString() } } };
}

function writeError(response: ServerResponse, error: GraphError): void {
	sendJson(response, error.status, graphBody(error.code, error.message, error.innerCode), error.headers);
}

function renderFault(fault: FaultRule, response: ServerResponse): void {
	const retryAfter = { 'retry-after': String(fault.retryAfterSeconds ?? 1) };
	switch (fault.kind) {
		case 'rate-limit':
			return writeError(response, new GraphError(429, 'activityLimitReached', 'The request has been throttled', retryAfter));
		case 'quota-rate-limit':
			return writeError(response, new GraphError(503, 'serviceNotAvailable', 'The service is temporarily unavailable', retryAfter));
		case 'unavailable':
			return writeError(response, new GraphError(503, 'serviceNotAvailable', 'Service Unavailable', fault.retryAfterSeconds === undefined ? {} : retryAfter));
		default:
			return writeError(response, new GraphError(500, 'generalException', 'An unspecified error has occurred'));
	}
}

export function quickXor(content: Buffer): string {
	return digestOf(content, 'quickxor', (bytes) => {
		const hasher = createHasher('quickxor');
		hasher.update(bytes);
		return hasher.digest();
	});
}

const iso = (ms: number) => new Date(ms).toISOString();
const notFound = () => new GraphError(404, 'itemNotFound', 'The resource could not be found.');
const token = (bytes: number) => randomBytes(bytes).toString('base64url');

/** Why OneDrive refuses `name`; undefined when it takes it. */
export function refusedName(name: string): string | undefined {
	if (name === '' || FORBIDDEN.test(name)) return 'The provided name contains invalid characters';
	if (name.endsWith(' ') || name.endsWith('.') || name.startsWith(' ')) return 'The provided name cannot begin with a space or end with a space or a period';
	if (RESERVED.test(name) || name.startsWith('~$') || name.toLowerCase().includes('_vti_')) return 'The provided name is reserved';
	return undefined;
}

export class OneDriveEmulator {
	readonly server: EmulatorServer;
	readonly credentials: OneDriveAppCredentials;
	/** The signed-in user's drive (`/me/drive`). */
	readonly drive: Drive;
	/** Fragments received by upload sessions, in order: offset, length and the answer. */
	readonly fragments: Array<{ start: number; length: number; status: number }> = [];
	/** The refresh tokens that token requests presented, in order. */
	readonly refreshTokensPresented: string[] = [];
	private readonly tree = new Tree<Meta>({ newId: () => token(12).toUpperCase(), fold: (name) => name.toLowerCase() });
	private readonly drives = new Map<string, Drive>();
	private readonly sites = new Map<string, Site>();
	private readonly journal = new Journal<Change>();
	private readonly sessions = new Map<string, Session>();
	private readonly downloads = new Map<string, { id: string; contentRevision: number; expiresAt: number }>();
	private readonly monitors = new Map<string, Monitor>();
	private readonly tokens: OAuthTokens;
	private readonly refreshTokens = new Set<string>();
	private epoch = 1;

	constructor(private readonly options: OneDriveEmulatorOptions = {}) {
		this.server = new EmulatorServer((request, response, context) => this.handle(request, response, context), renderFault, options.seed);
		this.tokens = new OAuthTokens(options.tokenLifetimeSeconds ?? 3600, () => `EwB${token(48)}`);
		this.credentials = this.tokens.addClient({ clientId: randomBytes(16).toString('hex'), clientSecret: `secret~${token(16)}`, refreshToken: `M.C5${token(40)}` });
		this.refreshTokens.add(this.credentials.refreshToken);
		this.tree.quotaBytes = options.quotaBytes ?? Number.POSITIVE_INFINITY;
		this.drive = this.addDrive(options.driveType ?? 'personal', 'OneDrive');
	}

	static async start(options: OneDriveEmulatorOptions = {}): Promise<OneDriveEmulator> {
		const emulator = new OneDriveEmulator(options);
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
	// Helpers for tests: they change the account as another client would, the journal included.

	/** A SharePoint site with one document library, found by `https://{hostname}/sites/{name}`. */
	addSite(hostname: string, name: string, displayName = name): { siteId: string; driveId: string; webUrl: string } {
		const siteId = `${hostname},${randomBytes(16).toString('hex')},${randomBytes(16).toString('hex')}`;
		const drive = this.addDrive('documentLibrary', 'Documents', siteId);
		this.sites.set(siteId, { id: siteId, hostname, path: `/sites/${name}`, displayName, driveId: drive.id });
		return { siteId, driveId: drive.id, webUrl: `https://${hostname}/sites/${name}` };
	}

	seedFile(path: string, content: Buffer | string, options: { modTime?: number; driveId?: string } = {}): string {
		const drive = this.driveOf(options.driveId);
		const names = path.split('/').filter(Boolean);
		const parent = this.ensureFolders(drive, names.slice(0, -1));
		const bytes = typeof content === 'string' ? Buffer.from(content) : content;
		return this.commit(drive, parent, names[names.length - 1], bytes, 'replace', options.modTime).item.id;
	}

	seedFolder(path: string, driveId?: string): string {
		const drive = this.driveOf(driveId);
		return this.ensureFolders(drive, path.split('/').filter(Boolean)).id;
	}

	/** The item at `path` from the drive's root, if any. */
	find(path: string, driveId?: string): Node | undefined {
		const drive = this.driveOf(driveId);
		return this.tree.resolve(drive.root.id, path.split('/').filter(Boolean));
	}

	content(path: string, driveId?: string): Buffer | undefined {
		return this.find(path, driveId)?.content;
	}

	/** Paths of every item below `path`, as the drive spells them. */
	paths(path = '', driveId?: string): string[] {
		const drive = this.driveOf(driveId);
		const folder = path === '' ? drive.root : this.find(path, driveId);
		if (!folder) return [];
		const top = this.tree.pathOf(folder).length;
		return this.tree
			.descendants(folder.id)
			.map((item) => this.tree.pathOf(item).slice(top).join('/'))
			.sort();
	}

	remove(path: string, driveId?: string): void {
		const item = this.find(path, driveId);
		if (item) this.removeItem(item);
	}

	rename(from: string, to: string, driveId?: string): void {
		const drive = this.driveOf(driveId);
		const item = this.find(from, driveId);
		if (!item) throw new Error(`emulator: nothing at ${from}`);
		const names = to.split('/').filter(Boolean);
		const parent = this.ensureFolders(drive, names.slice(0, -1));
		this.tree.move(item, parent.id, names[names.length - 1]);
		this.changed(item);
	}

	/** Requests whose "METHOD /path" matches. */
	requests(route?: RegExp): LoggedRequest[] {
		return this.server.requests(route);
	}

	/** Every access token issued so far stops working. */
	expireAccessTokens(): void {
		this.tokens.expireAll();
	}

	revokeAccess(): void {
		this.tokens.revoke();
	}

	/** Delta tokens issued so far get 410 Gone, as after a long pause or a restore. */
	expireDeltaTokens(): void {
		this.epoch++;
	}

	/** Upload sessions expire now: their URLs answer 404. */
	expireUploadSessions(): void {
		for (const session of this.sessions.values()) session.expiresAt = 0;
	}

	get issuedAccessTokens(): string[] {
		return this.tokens.issued();
	}

	get usedBytes(): number {
		return this.tree.usedBytes;
	}

	set quotaBytes(bytes: number) {
		this.tree.quotaBytes = bytes;
	}

	// -----------------------------------------------------------------------------------------
	// The tree

	private addDrive(driveType: DriveType, name: string, siteId?: string): Drive {
		const id = driveType === 'personal' ? randomBytes(8).toString('hex') : `b!${token(48)}`;
		const root = this.tree.add({ name: 'root', folder: true, meta: { serverModified: Date.now(), driveId: id } });
		const drive = { id, driveType, root, name, siteId };
		this.drives.set(id, drive);
		return drive;
	}

	private driveOf(driveId?: string): Drive {
		const drive = driveId === undefined ? this.drive : this.drives.get(driveId) ?? [...this.drives.values()].find((each) => each.id.toLowerCase() === driveId.toLowerCase());
		if (!drive) throw notFound();
		return drive;
	}

	private ensureFolders(drive: Drive, names: string[]): Node {
		let folder = drive.root;
		for (const name of names) {
			const existing = this.tree.named(folder.id, name)[0];
			if (existing && !existing.folder) throw new GraphError(409, 'nameAlreadyExists', 'A file is in the way');
			folder = existing ?? this.addFolder(drive, folder, name);
		}
		return folder;
	}

	private addFolder(drive: Drive, parent: Node, name: string): Node {
		this.checkName(drive, parent, name);
		const folder = this.tree.add({ name, parentId: parent.id, folder: true, meta: { serverModified: Date.now(), driveId: drive.id } });
		this.changed(folder);
		return folder;
	}

	private checkName(drive: Drive, parent: Node, name: string): void {
		const refusal = refusedName(name);
		if (refusal) throw new GraphError(400, 'invalidRequest', refusal);
		if (drive.driveType === 'documentLibrary' && parent.id === drive.root.id && name.toLowerCase() === 'forms') {
			throw new GraphError(400, 'invalidRequest', 'The name "forms" is reserved at the top of a library');
		}
		const length = [...this.tree.pathOf(parent), name].join('/').length;
		if (length > MAX_PATH) throw new GraphError(400, 'invalidRequest', 'The path is too long', {}, 'pathIsTooLong');
	}

	/** Ancestors of `item` (folders only) from its parent up to its root. */
	private ancestorsOf(item: Node): string[] {
		return [...this.tree.ancestry(item)].slice(1).map((each) => each.id);
	}

	/** Records a change of `item` in the journal and moves its server time (and its folders' times). */
	private changed(item: Node): void {
		const now = Date.now();
		item.meta.serverModified = now;
		this.tree.touch(item);
		this.journal.record({ id: item.id, driveId: item.meta.driveId, ancestors: this.ancestorsOf(item), name: item.name, parentId: item.parentId, deleted: false });
		// A folder's cTag and time follow its contents, and delta reports the folders above a change [doc].
		for (const folder of [...this.tree.ancestry(item)].slice(1)) {
			folder.meta.serverModified = now;
			this.journal.record({ id: folder.id, driveId: folder.meta.driveId, ancestors: this.ancestorsOf(folder), name: folder.name, parentId: folder.parentId, deleted: false });
		}
	}

	private removeItem(item: Node): void {
		const ancestors = this.ancestorsOf(item);
		const parent = item.parentId === undefined ? undefined : this.tree.get(item.parentId);
		for (const gone of this.tree.remove(item)) {
			// What was below the deleted item is reported deleted too, each with its own place.
			this.journal.record({ id: gone.id, driveId: gone.meta.driveId, ancestors: gone.id === item.id ? ancestors : [gone.parentId!, ...ancestors], name: gone.name, parentId: gone.parentId, deleted: true });
		}
		if (parent) this.changed(parent);
	}

	/** Stores `content` as `name` in `parent` following the conflict behaviour: the one place a file version is made. */
	private commit(drive: Drive, parent: Node, name: string, content: Buffer, conflict: string, modTime?: number, created?: number): { item: Node; created: boolean } {
		this.checkName(drive, parent, name);
		let existing: Node | undefined = this.tree.named(parent.id, name)[0];
		if (existing && conflict === 'fail') throw new GraphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
		if (existing?.folder && conflict === 'replace') throw new GraphError(409, 'nameAlreadyExists', 'A folder with this name already exists.');
		if (existing && conflict === 'rename') {
			name = this.freeName(parent, name);
			existing = undefined;
		}
		if (!this.tree.hasRoom(content.length - (existing?.content?.length ?? 0))) throw new GraphError(507, 'quotaLimitReached', 'Insufficient Space Available');
		const stored = drive.driveType === 'documentLibrary' && this.options.rewriteOfficeFiles && OFFICE.test(name) ? rewritten(content) : content;
		const now = Date.now();
		let item: Node;
		if (existing) {
			this.tree.write(existing, stored);
			existing.modifiedTime = modTime ?? now;
			item = existing;
		} else {
			item = this.tree.add({ name, parentId: parent.id, folder: false, content: stored, modifiedTime: modTime ?? now, createdTime: created ?? now, meta: { serverModified: now, driveId: drive.id } });
		}
		this.changed(item);
		return { item, created: !existing };
	}

	private freeName(parent: Node, name: string): string {
		const dot = name.lastIndexOf('.');
		for (let i = 1; ; i++) {
			const candidate = dot > 0 ? `${name.slice(0, dot)} ${i}${name.slice(dot)}` : `${name} ${i}`;
			if (this.tree.named(parent.id, candidate).length === 0) return candidate;
		}
	}

	/** The driveItem resource; `delta` leaves out parentReference.path, as Graph does. */
	private itemJson(item: Node, options: { delta?: boolean } = {}): Record<string, unknown> {
		const drive = this.driveOf(item.meta.driveId);
		const isRoot = item.id === drive.root.id;
		const parent = item.parentId === undefined ? undefined : this.tree.get(item.parentId);
		const json: Record<string, unknown> = {
			id: item.id,
			name: item.name,
			eTag: `"{${item.id}},${item.revision}"`,
			cTag: `"c:{${item.id}},${item.contentRevision}"`,
			createdDateTime: iso(item.createdTime),
			lastModifiedDateTime: iso(item.meta.serverModified),
			size: item.folder ? this.tree.descendants(item.id).reduce((sum, each) => sum + (each.content?.length ?? 0), 0) : (item.content?.length ?? 0),
			fileSystemInfo: { createdDateTime: iso(item.createdTime), lastModifiedDateTime: iso(item.modifiedTime) },
			webUrl: `https://onedrive.example.invalid/${item.id}`,
		};
		if (isRoot) json.root = {};
		if (parent) {
			const reference: Record<string, unknown> = { driveId: drive.id, driveType: drive.driveType, id: parent.id };
			if (!options.delta) reference.path = `/drive/root:${this.tree.pathOf(parent).map((name) => `/${name}`).join('')}`;
			json.parentReference = reference;
		}
		if (item.folder) json.folder = { childCount: this.tree.childrenOf(item.id).length };
		else {
			json.file = { mimeType: 'application/octet-stream', hashes: { quickXorHash: quickXor(item.content ?? Buffer.alloc(0)) } };
			json['@microsoft.graph.downloadUrl'] = this.downloadUrl(item);
		}
		return json;
	}

	private downloadUrl(item: Node): string {
		const id = token(24);
		this.downloads.set(id, { id: item.id, contentRevision: item.contentRevision, expiresAt: Date.now() + 60 * 60_000 });
		return `${this.baseUrl}/download/${id}`;
	}

	// -----------------------------------------------------------------------------------------
	// HTTP plumbing

	private async handle(request: IncomingMessage, response: ServerResponse, context: RequestContext): Promise<void> {
		const body = await readBody(request);
		const path = context.url.pathname;
		try {
			if (/^\/[^/]+\/oauth2\/v2\.0\/token$/.test(path)) return this.issueToken(response, tokenForm(request, context.url, body));
			if (path.startsWith('/download/')) return this.download(request, response, context, path.slice('/download/'.length));
			if (path.startsWith('/upload/')) return this.uploadFragment(request, response, context, path.slice('/upload/'.length), body);
			if (path.startsWith('/monitor/')) return this.monitor(response, path.slice('/monitor/'.length));
			if (!path.startsWith('/v1.0/')) throw new GraphError(400, 'BadRequest', `Invalid version: ${path.split('/')[1]}`);
			this.authorize(request.headers.authorization);
			await this.api(request, response, context, path.slice('/v1.0'.length), body);
		} catch (error) {
			if (response.headersSent) response.destroy();
			else if (error instanceof GraphError) writeError(response, error);
			else throw error;
		}
	}

	private issueToken(response: ServerResponse, form: URLSearchParams): void {
		const presented = form.get('refresh_token');
		if (presented !== null) this.refreshTokensPresented.push(presented);
		const scope = form.get('scope') ?? '';
		const result = this.tokens.refresh(form);
		if ('accessToken' in result) {
			// Each refresh hands out a new refresh token; the old one keeps working until it expires [doc].
			const refreshToken = `M.C5${token(40)}`;
			this.tokens.addClient({ clientId: form.get('client_id') ?? '', clientSecret: form.get('client_secret') ?? '', refreshToken });
			sendJson(response, 200, { token_type: 'Bearer', scope, expires_in: result.expiresIn, access_token: result.accessToken, refresh_token: refreshToken });
			return;
		}
		const descriptions = {
			unsupported_grant_type: 'AADSTS70003: The app requested an unsupported grant type.',
			invalid_client: 'AADSTS7000215: Invalid client secret provided.',
			invalid_grant: 'AADSTS70000: The provided value for the input parameter refresh_token is not valid.',
		};
		sendJson(response, result.error === 'invalid_client' ? 401 : 400, { error: result.error, error_description: descriptions[result.error], error_codes: [70000] });
	}

	private authorize(header: string | undefined): void {
		const standing = this.tokens.check(header);
		if (standing === 'valid') return;
		const message = standing === 'expired' ? 'Access token has expired or is not yet valid.' : 'IDX14100: JWT is not well formed.';
		throw new GraphError(401, 'InvalidAuthenticationToken', message, { 'www-authenticate': `Bearer error="invalid_token", error_description="${standing === 'expired' ? 'expired_token' : 'invalid'}"` });
	}

	private async api(request: IncomingMessage, response: ServerResponse, context: RequestContext, path: string, body: Buffer): Promise<void> {
		const method = request.method ?? 'GET';
		if (method === 'GET' && path === '/me') return sendJson(response, 200, { id: 'user-1', userPrincipalName: 'user@example.invalid', displayName: 'Emulated User' });
		if (method === 'GET' && (path === '/me/drive' || /^\/drives\/[^/]+$/.test(path))) {
			const drive = path === '/me/drive' ? this.drive : this.driveOf(decodeURIComponent(path.split('/')[2]));
			return sendJson(response, 200, this.driveJson(drive));
		}
		const site = /^\/sites\/([^/:]+)(?::(\/[^:]*):?)?(\/drives?)?$/.exec(path);
		if (method === 'GET' && (path === '/sites' || site)) return this.sitesRoute(response, context, site);
		const address = /^\/(?:me\/drive|drives\/([^/]+))\/(root|items\/[^/:]+)(?::([^:]*):?)?(\/.*)?$/.exec(path);
		if (!address) throw new GraphError(400, 'invalidRequest', `Resource not found for the segment '${path.split('/').pop()}'.`);
		const drive = this.driveOf(address[1] === undefined ? undefined : decodeURIComponent(address[1]));
		const base = address[2] === 'root' ? drive.root : this.tree.get(decodeURIComponent(address[2].slice('items/'.length)));
		if (!base || base.meta.driveId !== drive.id) throw notFound();
		const names = (address[3] ?? '').split('/').filter(Boolean).map((segment) => decodeURIComponent(segment));
		const suffix = address[4] ?? '';
		const json = () => parseJson(body);
		const conflict = (fallback: string, item?: Record<string, unknown>) =>
			String(context.url.searchParams.get('@microsoft.graph.conflictBehavior') ?? item?.['@microsoft.graph.conflictBehavior'] ?? fallback);

		if (method === 'POST' && suffix === '/createUploadSession') {
			const parent = this.tree.resolve(base.id, names.slice(0, -1));
			if (!parent?.folder) throw notFound();
			const payload = json() as { item?: Record<string, unknown> };
			const item = payload.item ?? {};
			return this.createSession(response, drive, parent, names[names.length - 1], conflict('fail', item), item);
		}
		if (method === 'PUT' && suffix === '/content') {
			const parent = this.tree.resolve(base.id, names.slice(0, -1));
			const existing = names.length === 0 ? base : this.tree.resolve(base.id, names);
			if (body.length > MAX_SIMPLE_UPLOAD) throw new GraphError(413, 'requestTooLarge', 'The request is too large; use an upload session.');
			if (names.length === 0 || existing?.folder === false) {
				if (!existing || existing.folder) throw notFound();
				const result = this.commit(drive, this.tree.get(existing.parentId!)!, existing.name, body, 'replace');
				return sendJson(response, 200, this.itemJson(result.item));
			}
			if (!parent?.folder) throw notFound();
			const result = this.commit(drive, parent, names[names.length - 1], body, conflict('replace'));
			return sendJson(response, result.created ? 201 : 200, this.itemJson(result.item));
		}
		const item = this.tree.resolve(base.id, names);
		if (!item) throw notFound();
		if (method === 'GET' && suffix === '') return sendJson(response, 200, this.itemJson(item));
		if (method === 'GET' && suffix === '/children') return this.children(response, context, item);
		if (method === 'GET' && suffix === '/content') {
			if (item.folder) throw notFound();
			response.writeHead(302, { location: this.downloadUrl(item), 'content-length': '0' });
			response.end();
			return;
		}
		if (method === 'GET' && (suffix === '/delta' || suffix.startsWith('/delta('))) return this.delta(response, context, drive, item, suffix);
		if (method === 'POST' && suffix === '/children') return this.createFolder(response, drive, item, json(), conflict);
		if (method === 'PATCH' && suffix === '') return this.patch(response, drive, item, json(), conflict);
		if (method === 'DELETE' && suffix === '') {
			if (item.id === drive.root.id) throw new GraphError(403, 'accessDenied', 'The root cannot be deleted');
			this.removeItem(item);
			response.writeHead(204).end();
			return;
		}
		if (method === 'POST' && suffix === '/copy') return this.copy(response, drive, item, json(), conflict);
		throw new GraphError(400, 'invalidRequest', `Unsupported request ${method} ${suffix || '(item)'}`);
	}

	private driveJson(drive: Drive): Record<string, unknown> {
		return { id: drive.id, driveType: drive.driveType, name: drive.name, owner: { user: { displayName: 'Emulated User' } }, quota: { used: this.tree.usedBytes, total: this.tree.quotaBytes } };
	}

	private sitesRoute(response: ServerResponse, context: RequestContext, match: RegExpExecArray | null): void {
		const siteJson = (site: Site) => ({ id: site.id, displayName: site.displayName, name: site.path.split('/').pop(), webUrl: `https://${site.hostname}${site.path}` });
		if (!match) {
			const search = (context.url.searchParams.get('search') ?? '').toLowerCase();
			const found = [...this.sites.values()].filter((site) => search === '' || search === '*' || site.displayName.toLowerCase().includes(search));
			return sendJson(response, 200, { value: found.map(siteJson) });
		}
		const [, key, path, drives] = match;
		const site = path !== undefined
			? [...this.sites.values()].find((each) => each.hostname === decodeURIComponent(key) && each.path.toLowerCase() === decodeURIComponent(path).replace(/\/+$/, '').toLowerCase())
			: this.sites.get(decodeURIComponent(key));
		if (!site) throw notFound();
		if (drives === '/drive') return sendJson(response, 200, this.driveJson(this.driveOf(site.driveId)));
		if (drives === '/drives') return sendJson(response, 200, { value: [this.driveJson(this.driveOf(site.driveId))] });
		sendJson(response, 200, siteJson(site));
	}

	private nextLink(path: string, state: object): string {
		return `${this.baseUrl}/v1.0${path}?$skiptoken=${encodeToken(state)}`;
	}

	private children(response: ServerResponse, context: RequestContext, folder: Node): void {
		if (!folder.folder) throw notFound();
		const skip = decodeToken<{ offset: number; top: number }>(context.url.searchParams.get('$skiptoken'), (state) => typeof state.offset === 'number');
		const top = skip?.top ?? Math.min(MAX_PAGE, Number(context.url.searchParams.get('$top') ?? DEFAULT_PAGE) || DEFAULT_PAGE);
		const page = pageOf(this.tree.childrenOf(folder.id), skip?.offset ?? 0, top);
		let items = page.items;
		let next = page.next;
		if (context.fault?.kind === 'short-listing') {
			items = items.slice(0, Math.ceil(items.length * 0.6));
			next = undefined;
		}
		const body: Record<string, unknown> = { value: items.map((item) => this.itemJson(item)) };
		if (next !== undefined) body['@odata.nextLink'] = this.nextLink(`/drives/${folder.meta.driveId}/items/${folder.id}/children`, { offset: next, top });
		sendJson(response, 200, body);
	}

	// -----------------------------------------------------------------------------------------
	// Delta

	private delta(response: ServerResponse, context: RequestContext, drive: Drive, folder: Node, suffix: string): void {
		if (!folder.folder) throw notFound();
		if (this.options.deltaOnlyAtRoot && folder.id !== drive.root.id) {
			throw new GraphError(400, 'invalidRequest', 'Delta is only supported on the root folder of this drive.');
		}
		const raw = /^\/delta\(token='?([^')]*)'?\)$/.exec(suffix)?.[1] ?? context.url.searchParams.get('token') ?? context.url.searchParams.get('$skiptoken') ?? undefined;
		const top = Math.min(MAX_PAGE, Number(context.url.searchParams.get('$top') ?? DEFAULT_PAGE) || DEFAULT_PAGE);
		const path = `/drives/${drive.id}/items/${folder.id}/delta`;
		const link = (state: DeltaState) => `${this.baseUrl}/v1.0${path}?token=${encodeToken(state)}`;
		if (raw === 'latest') return sendJson(response, 200, { value: [], '@odata.deltaLink': link({ epoch: this.epoch, folder: folder.id, seq: this.journal.head, top }) });
		let state: DeltaState;
		if (raw === undefined || raw === '') state = { epoch: this.epoch, folder: folder.id, seq: this.journal.head, offset: 0, top };
		else {
			const decoded = decodeToken<DeltaState>(raw, (each) => typeof each.seq === 'number' && typeof each.folder === 'string');
			if (!decoded || decoded.folder !== folder.id) throw new GraphError(400, 'invalidRequest', 'Invalid delta token.');
			if (decoded.epoch !== this.epoch) {
				// [doc] 410 with a resync code and a Location to enumerate afresh.
				throw new GraphError(410, 'resyncRequired', 'Resync required. Replace any local items with the server\'s version.', { location: `${this.baseUrl}/v1.0${path}` }, 'resyncChangesApplyDifferences');
			}
			state = decoded;
		}
		if (state.offset !== undefined) {
			// A first enumeration: the folder itself, then everything below it.
			const below = this.tree.descendants(folder.id);
			const all = [folder, ...(this.options.unorderedDelta ? scrambled(below) : below)];
			const page = pageOf(all, state.offset, state.top);
			const body: Record<string, unknown> = { value: page.items.map((item) => this.itemJson(item, { delta: true })) };
			if (page.next !== undefined) body['@odata.nextLink'] = link({ ...state, offset: page.next });
			else body['@odata.deltaLink'] = link({ epoch: state.epoch, folder: state.folder, seq: state.seq, top: state.top });
			return sendJson(response, 200, body);
		}
		const inScope = (change: Change) => change.driveId === drive.id && (change.id === folder.id || change.ancestors.includes(folder.id));
		const positions = this.journal.latest(state.seq, (change) => change.id, inScope);
		const page = pageOf(positions, 0, state.top);
		const value = page.items.map((position) => {
			const change = this.journal.at(position);
			const current = this.tree.get(change.id);
			const inside = current && (current.id === folder.id || this.ancestorsOf(current).includes(folder.id));
			if (current && inside) return this.itemJson(current, { delta: true });
			// Deleted, or moved out of the folder: on Business deletions have no name [doc].
			const gone: Record<string, unknown> = { id: change.id, deleted: { state: 'deleted' }, parentReference: { driveId: drive.id, driveType: drive.driveType, id: change.parentId } };
			if (drive.driveType === 'personal') gone.name = change.name;
			return gone;
		});
		const body: Record<string, unknown> = { value };
		const seq = page.next === undefined ? this.journal.head : positions[page.next - 1] + 1;
		if (page.next !== undefined) body['@odata.nextLink'] = link({ ...state, seq });
		else body['@odata.deltaLink'] = link({ ...state, seq });
		sendJson(response, 200, body);
	}

	// -----------------------------------------------------------------------------------------
	// Writes

	private createFolder(response: ServerResponse, drive: Drive, parent: Node, payload: Record<string, unknown>, conflict: (fallback: string, item?: Record<string, unknown>) => string): void {
		if (!parent.folder) throw notFound();
		const name = String(payload.name ?? '');
		if (!payload.folder) throw new GraphError(400, 'invalidRequest', 'The folder facet is required');
		const behaviour = conflict('fail', payload);
		const existing = this.tree.named(parent.id, name)[0];
		if (existing && behaviour === 'fail') throw new GraphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
		if (existing && behaviour === 'replace') this.removeItem(existing);
		const folder = this.addFolder(drive, parent, existing && behaviour === 'rename' ? this.freeName(parent, name) : name);
		sendJson(response, 201, this.itemJson(folder));
	}

	private patch(response: ServerResponse, drive: Drive, item: Node, payload: Record<string, unknown>, conflict: (fallback: string, item?: Record<string, unknown>) => string): void {
		if (item.id === drive.root.id) throw new GraphError(403, 'accessDenied', 'The root cannot be changed');
		const reference = payload.parentReference as { id?: string; driveId?: string } | undefined;
		const parent = reference?.id ? this.tree.get(reference.id) : this.tree.get(item.parentId!);
		if (!parent?.folder) throw notFound();
		if (reference?.driveId && reference.driveId.toLowerCase() !== drive.id.toLowerCase()) {
			throw new GraphError(400, 'invalidRequest', 'Items cannot be moved between drives');
		}
		const name = typeof payload.name === 'string' ? payload.name : item.name;
		if (parent.id === item.id || this.ancestorsOf(parent).includes(item.id)) throw new GraphError(400, 'invalidRequest', 'An item cannot be moved into itself');
		const occupant = this.tree.named(parent.id, name)[0];
		if (occupant && occupant.id !== item.id) {
			if (conflict('fail', payload) !== 'replace' || occupant.folder) throw new GraphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
			this.removeItem(occupant);
		}
		if (name !== item.name || parent.id !== item.parentId) {
			this.checkName(drive, parent, name);
			this.tree.move(item, parent.id, name);
		}
		const info = payload.fileSystemInfo as { lastModifiedDateTime?: string; createdDateTime?: string } | undefined;
		if (info?.lastModifiedDateTime) item.modifiedTime = secondsOf(info.lastModifiedDateTime);
		// A move or rename without fileSystemInfo resets the modification time [code] rclone onedrive.go:1900.
		else if (reference || typeof payload.name === 'string') item.modifiedTime = Date.now();
		if (info?.createdDateTime) item.createdTime = secondsOf(info.createdDateTime);
		this.changed(item);
		sendJson(response, 200, this.itemJson(item));
	}

	private copy(response: ServerResponse, drive: Drive, item: Node, payload: Record<string, unknown>, conflict: (fallback: string, item?: Record<string, unknown>) => string): void {
		const reference = payload.parentReference as { id?: string; driveId?: string } | undefined;
		const parent = reference?.id ? this.tree.get(reference.id) : this.tree.get(item.parentId!);
		if (!parent?.folder) throw new GraphError(400, 'invalidRequest', 'The destination folder does not exist');
		const name = typeof payload.name === 'string' ? payload.name : item.name;
		this.checkName(drive, parent, name);
		// [issue] onedrive-api-docs#981: a body value is ignored (only the query is read); Personal may ignore the query too.
		const behaviour = this.options.copyIgnoresConflictBehavior ? 'fail' : conflict('fail');
		const id = token(16);
		this.monitors.set(id, {
			status: 'inProgress',
			polls: 0,
			run: () => {
				const source = this.tree.get(item.id);
				if (!source) return { errorCode: 'itemNotFound' };
				const occupant = this.tree.named(parent.id, name)[0];
				if (occupant) {
					if (behaviour !== 'replace' || occupant.folder) return { errorCode: 'nameAlreadyExists' };
					this.removeItem(occupant);
				}
				const bytes = [source, ...this.tree.descendants(source.id)].reduce((sum, each) => sum + (each.content?.length ?? 0), 0);
				if (!this.tree.hasRoom(bytes)) return { errorCode: 'quotaLimitReached' };
				const copies = this.tree.copy(source, parent.id, name);
				for (const copy of copies) this.changed(copy);
				return { resourceId: copies[0].id };
			},
		});
		response.writeHead(202, { location: `${this.baseUrl}/monitor/${id}`, 'content-length': '0' });
		response.end();
	}

	private monitor(response: ServerResponse, id: string): void {
		const monitor = this.monitors.get(id);
		if (!monitor) throw notFound();
		if (monitor.status === 'inProgress' && monitor.polls++ >= (this.options.copyPolls ?? 1)) {
			const result = monitor.run();
			monitor.status = result.errorCode ? 'failed' : 'completed';
			Object.assign(monitor, result);
		}
		const body: Record<string, unknown> = { status: monitor.status, percentageComplete: monitor.status === 'inProgress' ? 50 : 100 };
		if (monitor.resourceId) body.resourceId = monitor.resourceId;
		if (monitor.errorCode) body.error = { code: monitor.errorCode, message: 'The copy failed' };
		sendJson(response, monitor.status === 'inProgress' ? 202 : 200, body);
	}

	// -----------------------------------------------------------------------------------------
	// Upload sessions

	private createSession(response: ServerResponse, drive: Drive, parent: Node, name: string, conflict: string, item: Record<string, unknown>): void {
		this.checkName(drive, parent, name);
		const existing = this.tree.named(parent.id, name)[0];
		if (existing && conflict === 'fail') throw new GraphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
		const fileSize = typeof item.fileSize === 'number' ? item.fileSize : undefined;
		if (fileSize !== undefined && !this.tree.hasRoom(fileSize - (existing?.content?.length ?? 0))) throw new GraphError(507, 'quotaLimitReached', 'Insufficient Space Available');
		const id = token(24);
		const expiresAt = Date.now() + (this.options.sessionLifetimeMs ?? 15 * 60_000);
		this.sessions.set(id, {
			driveId: drive.id,
			parentId: parent.id,
			name,
			received: new Spool(),
			length: 0,
			conflict,
			total: fileSize,
			fileSystemInfo: item.fileSystemInfo as Session['fileSystemInfo'],
			expiresAt,
		});
		sendJson(response, 200, { uploadUrl: `${this.baseUrl}/upload/${id}`, expirationDateTime: iso(expiresAt), nextExpectedRanges: ['0-'] });
	}

	private liveSession(id: string): Session {
		const session = this.sessions.get(id);
		if (!session || session.expiresAt <= Date.now()) {
			session?.received.discard();
			this.sessions.delete(id);
			throw new GraphError(404, 'itemNotFound', 'The upload session was not found or has expired.');
		}
		return session;
	}

	private uploadFragment(request: IncomingMessage, response: ServerResponse, context: RequestContext, id: string, body: Buffer): void {
		// "Including the Authorization header … may result in an HTTP 401" [doc]: made strict here.
		if (request.headers.authorization) throw new GraphError(401, 'unauthenticated', 'The upload URL is pre-authenticated; do not send an Authorization header.');
		const method = request.method;
		const session = this.liveSession(id);
		const status = () => ({ expirationDateTime: iso(session.expiresAt), nextExpectedRanges: [`${session.length}-`] });
		if (method === 'GET') return sendJson(response, 200, status());
		if (method === 'DELETE') {
			session.received.discard();
			this.sessions.delete(id);
			response.writeHead(204).end();
			return;
		}
		if (method !== 'PUT') throw new GraphError(405, 'invalidRequest', 'Method not allowed');
		const range = parseContentRange(request.headers['content-range']);
		const reject = (code: number, graphCode: string, message: string) => {
			this.fragments.push({ start: range?.range?.start ?? -1, length: body.length, status: code });
			return new GraphError(code, graphCode, message, {}, code === 416 ? undefined : 'invalidRange');
		};
		if (!range?.range || range.total === undefined) throw reject(400, 'invalidRequest', 'Content-Range must name the bytes and the total size');
		const { start, end } = range.range;
		if (end - start + 1 !== body.length) throw reject(400, 'invalidRequest', 'The Content-Range does not match the body length');
		if (body.length > MAX_FRAGMENT) throw reject(413, 'requestTooLarge', 'Fragments must be smaller than 60 MiB');
		if (session.total !== undefined && session.total !== range.total) throw reject(400, 'invalidRequest', 'The total size changed between fragments');
		session.total = range.total;
		if (start < session.length) throw reject(416, 'invalidRange', 'The uploaded fragment overlaps with data that has already been received.');
		if (start > session.length) throw reject(400, 'invalidRequest', 'Fragments must be uploaded in order.');
		const last = end + 1 === range.total;
		if (!last && body.length % FRAGMENT_UNIT !== 0) throw reject(400, 'invalidRequest', 'Fragment sizes must be a multiple of 320 KiB.');
		session.received.push(body);
		session.length += body.length;
		this.fragments.push({ start, length: body.length, status: last ? 201 : 202 });
		// Under a `reset` fault the fragment is kept but its answer is lost with the connection.
		const lost = context.fault?.kind === 'reset';
		if (!last) return lost ? void response.socket?.destroy() : sendJson(response, 202, status());
		const drive = this.driveOf(session.driveId);
		const parent = this.tree.get(session.parentId);
		if (!parent) throw notFound();
		const modTime = session.fileSystemInfo?.lastModifiedDateTime ? secondsOf(session.fileSystemInfo.lastModifiedDateTime) : undefined;
		const created = session.fileSystemInfo?.createdDateTime ? secondsOf(session.fileSystemInfo.createdDateTime) : undefined;
		this.sessions.delete(id);
		let result: ReturnType<OneDriveEmulator['commit']>;
		try {
			result = this.commit(drive, parent, session.name, session.received.bytes(), session.conflict, modTime, created);
		} finally {
			session.received.discard();
		}
		if (lost) return void response.socket?.destroy();
		sendJson(response, result.created ? 201 : 200, this.itemJson(result.item));
	}

	// -----------------------------------------------------------------------------------------
	// Downloads

	private download(request: IncomingMessage, response: ServerResponse, context: RequestContext, id: string): void {
		const grant = this.downloads.get(id);
		const item = grant && this.tree.get(grant.id);
		if (!grant || grant.expiresAt <= Date.now() || !item) throw notFound();
		// The URL names one version: a file replaced since is served as it was, while the tree keeps it.
		const content = item.contentRevision === grant.contentRevision ? item.content : this.tree.version(grant.contentRevision)?.item.content;
		if (content === undefined) throw notFound();
		sendContent(response, context, request.headers.range, { 'content-type': 'application/octet-stream' }, content, (contentRange) =>
			new GraphError(416, 'invalidRange', 'The requested range is not satisfiable', { 'content-range': contentRange }),
		);
	}
}

/** A stable reordering that puts many items before their folders: by a hash of the id. */
function scrambled(items: Node[]): Node[] {
	const key = (item: Node) => createHash('sha1').update(item.id).digest('hex');
	return [...items].sort((a, b) => (key(a) < key(b) ? -1 : 1));
}

/** Graph keeps fileSystemInfo times in whole seconds [code] rclone docs "Modification times". */
function secondsOf(text: string): number {
	const ms = Date.parse(text);
	if (Number.isNaN(ms)) throw new GraphError(400, 'invalidRequest', `Invalid date: ${text}`);
	return Math.floor(ms / 1000) * 1000;
}

function parseJson(body: Buffer): Record<string, unknown> {
	if (body.length === 0) return {};
	try {
		return JSON.parse(body.toString('utf8')) as Record<string, unknown>;
	} catch {
		throw new GraphError(400, 'invalidRequest', 'Entity only allows writes with a JSON Content-Type header.');
	}
}

/** What SharePoint does to an Office file it stores: it adds its own properties, so size and hash change. */
function rewritten(content: Buffer): Buffer {
	return Buffer.concat([content, Buffer.from('<!-- SharePoint properties -->')]);
}
