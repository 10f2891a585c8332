import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendContent } from './core/ranges';
import { EmulatorServer, readBody, sendJson, type FaultRule, type LoggedRequest, type RequestContext } from './core/server';
import { Tree, type Item } from './core/tree';
import { AppleAuthEmulator, type AppleUser } from './icloudAuth';
import { ICloudPhotosEmulator } from './icloudPhotos';

/**
 * iCloud Drive's web protocol (drivews + docws + the content host), after
 * shared/reference/icloud-and-google-photos.md §2, behind the Apple sign-in of icloudAuth.ts. Every
 * ws call needs the session cookie (421 without), and the Documents PCS cookie when the account has
 * Advanced Data Protection (423 without). drivews answers 200 with a per-item `status` (`OK`,
 * `ETAG_CONFLICT`, `ID_INVALID`); docws with `status.status_code` (0 = OK).
 *
 * Unconfirmed facts, emulated in a variant a client must cope with: names are kept and returned in
 * NFD and compared case-insensitively after NFC; `update/documents` with `allow_conflict` on a taken
 * name stores the file as "name 2.ext" (Finder style); upload bodies are accepted raw or as
 * multipart/form-data; `size` as a number or a string. Not emulated: app libraries other than
 * com.apple.CloudDocs, shares, packages (`package_token`), the 330 redirect of downloads.
 */

const ZONE = 'com.apple.CloudDocs';
const ROOT = 'root';
const TRASH = 'TRASH_ROOT';

interface Meta {
	/** Where a trashed item came from, for putBack. */
	restoreParent?: string;
	extensionHidden?: boolean;
}

type Node = Item<Meta>;

export const APPLE_DRIVE_USER: AppleUser = { appleId: 'drive.person@example.com', password: 'Tr0ub4dor&3 iCloud', dsid: '20000000001' };

const nfcFold = (name: string) => name.normalize('NFC').toLowerCase();
const drivewsId = (item: Node) => `${item.folder ? 'FOLDER' : 'FILE'}::${ZONE}::${item.id}`;
const docIdOf = (drivewsid: string) => drivewsid.split('::').at(-1) ?? '';
const etagOf = (item: Node) => (item.folder ? item.revision.toString(36) : `${item.contentRevision.toString(36)}::${item.revision.toString(36)}`);
const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const splitName = (name: string) => {
	const dot = name.lastIndexOf('.');
	return dot > 0 ? { name: name.slice(0, dot), extension: name.slice(dot + 1) } : { name, extension: undefined };
};

export class ICloudDriveEmulator {
	readonly server: EmulatorServer;
	readonly auth: AppleAuthEmulator;
	readonly tree = new Tree<Meta>({ newId: () => randomBytes(12).toString('hex').toUpperCase(), fold: nfcFold });
	/** A provider's sign-in: the test user. */
	readonly user: AppleUser;
	private readonly uploads = new Map<string, { documentId: string; size?: number }>();
	private readonly received = new Map<string, Buffer>();
	private photos?: ICloudPhotosEmulator;

	private constructor(user: AppleUser) {
		this.user = user;
		this.auth = new AppleAuthEmulator(() => this.server.baseUrl);
		this.auth.services = { drivews: '/drivews', docws: '/docws' };
		this.auth.addUser(user);
		this.server = new EmulatorServer((request, response, context) => this.route(request, response, context), AppleAuthEmulator.renderFault);
		this.tree.add({ id: ROOT, name: '', folder: true, meta: {} });
		this.tree.add({ id: TRASH, name: '', folder: true, meta: {} });
	}

	static async start(options: { user?: AppleUser } = {}): Promise<ICloudDriveEmulator> {
		const emulator = new ICloudDriveEmulator(options.user ?? APPLE_DRIVE_USER);
		await emulator.server.start();
		return emulator;
	}

	/** The account's iCloud Photos library on this same server and sign-in (made on first use). */
	photoLibrary(): ICloudPhotosEmulator {
		this.photos ??= ICloudPhotosEmulator.mounted(this.auth, this.server);
		return this.photos;
	}

	get baseUrl(): string {
		return this.server.baseUrl;
	}

	stop(): Promise<void> {
		return this.server.stop();
	}

	inject(rule: FaultRule): void {
		this.server.inject(rule);
	}

	requests(route?: RegExp): LoggedRequest[] {
		return this.server.requests(route);
	}

	// -----------------------------------------------------------------------------------------
	// Seeding and inspection for tests

	/** The item at a '/'-separated path below the root (names compared as iCloud does). */
	find(path: string): Node | undefined {
		return this.tree.resolve(ROOT, path.split('/').filter(Boolean));
	}

	seedFolder(path: string): Node {
		let parent = this.tree.get(ROOT)!;
		for (const name of path.split('/').filter(Boolean)) {
			parent = this.tree.named(parent.id, name)[0] ?? this.tree.add({ name: name.normalize('NFD'), parentId: parent.id, folder: true, meta: {} });
		}
		return parent;
	}

	seedFile(path: string, content: Buffer | string, modifiedTime = Date.now()): Node {
		const names = path.split('/').filter(Boolean);
		const parent = this.seedFolder(names.slice(0, -1).join('/'));
		return this.tree.add({ name: names.at(-1)!.normalize('NFD'), parentId: parent.id, folder: false, content: Buffer.from(content), modifiedTime, meta: {} });
	}

	remove(path: string): void {
		const item = this.find(path);
		if (item) this.tree.remove(item);
	}

	/** Paths of everything below `path`, NFC, folders with a trailing '/'. */
	paths(path = ''): string[] {
		const base = path ? this.find(path) : this.tree.get(ROOT);
		if (!base) return [];
		return this.tree
			.descendants(base.id)
			.map((item) => `${this.tree.pathOf(item).slice(path.split('/').filter(Boolean).length).join('/').normalize('NFC')}${item.folder ? '/' : ''}`)
			.sort();
	}

	/** A device approves the session's request for the encryption cookies (Advanced Data Protection). */
	approvePcs(): void {
		this.auth.approvePcs(this.user.appleId);
	}

	/** Names in the trash. */
	trashed(): string[] {
		return this.tree.childrenOf(TRASH).map((item) => item.name.normalize('NFC'));
	}

	// -----------------------------------------------------------------------------------------
	// Rendering

	private render(item: Node, withChildren = false): Record<string, unknown> {
		const { name, extension } = item.folder ? { name: item.name, extension: undefined } : splitName(item.name);
		const parent = item.parentId ? this.tree.get(item.parentId) : undefined;
		const base: Record<string, unknown> = {
			drivewsid: drivewsId(item),
			docwsid: item.id,
			zone: ZONE,
			name: item.id === ROOT ? '' : name,
			parentId: parent ? drivewsId(parent) : undefined,
			etag: etagOf(item),
			type: item.folder ? 'FOLDER' : 'FILE',
			dateCreated: iso(item.createdTime),
		};
		if (extension !== undefined) base.extension = extension;
		if (!item.folder) {
			Object.assign(base, { size: item.content?.length ?? 0, dateModified: iso(item.modifiedTime), dateChanged: iso(item.storedTime), lastOpenTime: iso(item.storedTime) });
		} else {
			const children = this.tree.childrenOf(item.id);
			Object.assign(base, { assetQuota: 0, fileCount: children.filter((child) => !child.folder).length, directChildrenCount: children.length, numberOfItems: children.length });
			if (withChildren) base.items = children.map((child) => this.render(child));
		}
		if (item.parentId === TRASH) Object.assign(base, { dateExpiration: iso(item.storedTime + 30 * 86_400_000), restorePath: 'Restored' });
		return base;
	}

	private document(item: Node): Record<string, unknown> {
		return {
			document_id: item.id,
			item_id: `item-${item.id}`,
			etag: etagOf(item),
			parent_id: item.parentId,
			name: item.name,
			type: item.folder ? 'folder' : 'file',
			size: item.content?.length ?? 0,
			mtime: item.modifiedTime,
			btime: item.createdTime,
			zone: ZONE,
			deleted: item.parentId === TRASH,
		};
	}

	// -----------------------------------------------------------------------------------------
	// Routes

	private async route(request: IncomingMessage, response: ServerResponse, context: RequestContext): Promise<void> {
		const { url } = context;
		const signature = `${request.method} ${url.pathname}`;
		if (this.auth.statusFault(signature, response)) return;
		if (await this.auth.handle(request, response, url)) return;
		if (this.photos && (await this.photos.handle(request, response, context))) return;
		if (url.pathname.startsWith('/content/')) return this.content(request, response, context);
		if (url.pathname.startsWith('/upload/')) return this.receive(request, response, url);
		const account = this.auth.authorize(request, response, { pcs: 'Documents' });
		if (!account) return;
		const raw = await readBody(request);
		const body = raw.length ? (JSON.parse(raw.toString('utf8')) as unknown) : undefined;
		if (url.pathname.startsWith('/drivews/')) return this.drivews(response, url.pathname.slice('/drivews'.length), body);
		const docws = /^\/docws\/ws\/([^/]+)\/(.+)$/.exec(url.pathname);
		if (docws) {
			if (docws[1] !== ZONE) return sendJson(response, 404, { error: 'Zone not found', errorCode: 'ZONE_NOT_FOUND' });
			return this.docws(response, docws[2], url, body);
		}
		sendJson(response, 404, { error: `No route ${signature}` });
	}

	private drivews(response: ServerResponse, op: string, body: unknown): void {
		type Ref = { drivewsid: string; etag?: string; name?: string; clientId?: string };
		const lookup = (ref: Ref) => this.tree.get(docIdOf(ref.drivewsid));
		const checked = (ref: Ref): Node | Record<string, unknown> => {
			const item = lookup(ref);
			if (!item || item.id === ROOT || item.id === TRASH) return { drivewsid: ref.drivewsid, status: 'ID_INVALID' };
			if (ref.etag !== undefined && ref.etag !== etagOf(item)) return { drivewsid: ref.drivewsid, status: 'ETAG_CONFLICT', etag: etagOf(item) };
			return item;
		};
		const isNode = (value: Node | Record<string, unknown>): value is Node => typeof (value as Node).folder === 'boolean';
		if (op === '/retrieveItemDetailsInFolders') {
			const refs = body as Ref[];
			sendJson(
				response,
				200,
				refs.map((ref) => {
					const item = lookup(ref);
					return item && item.folder ? { ...this.render(item, true), status: 'OK' } : { drivewsid: ref.drivewsid, status: 'ID_INVALID' };
				}),
			);
			return;
		}
		if (op === '/createFolders') {
			const { destinationDrivewsId, folders } = body as { destinationDrivewsId: string; folders: Array<{ clientId: string; name: string }> };
			const parent = this.tree.get(docIdOf(destinationDrivewsId));
			if (!parent?.folder) return sendJson(response, 200, { destinationDrivewsId, folders: folders.map((folder) => ({ clientId: folder.clientId, status: 'ID_INVALID' })) });
			sendJson(response, 200, {
				destinationDrivewsId,
				folders: folders.map((folder) => {
					// A taken name gets Finder's " 2" suffix, as uploads with allow_conflict do [unconfirmed].
					const created = this.tree.add({ name: this.freeName(parent.id, folder.name.normalize('NFD')), parentId: parent.id, folder: true, meta: {} });
					this.tree.touch(parent);
					return { ...this.render(created), clientId: folder.clientId, status: 'OK' };
				}),
			});
			return;
		}
		const { items = [], destinationDrivewsId } = (body ?? {}) as { items?: Ref[]; destinationDrivewsId?: string };
		const results = items.map((ref) => {
			const found = checked(ref);
			if (!isNode(found)) return found;
			if (op === '/renameItems') {
				const name = String(ref.name ?? '').normalize('NFD');
				const clash = this.tree.named(found.parentId!, name).find((other) => other.id !== found.id);
				if (!name || clash) return { drivewsid: ref.drivewsid, status: 'NAME_CONFLICT' };
				this.tree.move(found, found.parentId, name);
			} else if (op === '/moveItems') {
				const destination = this.tree.get(docIdOf(destinationDrivewsId ?? ''));
				if (!destination?.folder) return { drivewsid: ref.drivewsid, status: 'ID_INVALID' };
				if ([...this.tree.ancestry(destination)].some((each) => each.id === found.id)) return { drivewsid: ref.drivewsid, status: 'INVALID_DESTINATION' };
				if (this.tree.named(destination.id, found.name).some((other) => other.id !== found.id)) return { drivewsid: ref.drivewsid, status: 'NAME_CONFLICT' };
				this.tree.move(found, destination.id);
			} else if (op === '/moveItemsToTrash') {
				found.meta.restoreParent = found.parentId;
				this.tree.move(found, TRASH);
			} else if (op === '/putBackItemsFromTrash') {
				if (found.parentId !== TRASH) return { drivewsid: ref.drivewsid, status: 'ID_INVALID' };
				this.tree.move(found, found.meta.restoreParent ?? ROOT);
			} else if (op === '/deleteItems') {
				this.tree.remove(found);
				return { drivewsid: ref.drivewsid, status: 'OK', isDeleted: true };
			} else {
				return { drivewsid: ref.drivewsid, status: 'UNKNOWN_OPERATION' };
			}
			return { ...this.render(found), status: 'OK' };
		});
		sendJson(response, 200, { items: results });
	}

	private freeName(parentId: string, name: string): string {
		if (this.tree.named(parentId, name).length === 0) return name;
		const { name: stem, extension } = splitName(name);
		for (let n = 2; ; n++) {
			const candidate = `${stem} ${n}${extension === undefined ? '' : `.${extension}`}`;
			if (this.tree.named(parentId, candidate).length === 0) return candidate;
		}
	}

	private docws(response: ServerResponse, op: string, url: URL, body: unknown): void {
		if (op === 'download/by_id') {
			const item = this.tree.get(url.searchParams.get('document_id') ?? '');
			if (!item || item.folder || item.parentId === undefined) return sendJson(response, 404, { error: 'Not found', errorCode: 'NOT_FOUND' });
			sendJson(response, 200, {
				document_id: item.id,
				data_token: { url: `${this.baseUrl}/content/${item.id}/${item.contentRevision}?e=${Math.floor(Date.now() / 1000) + 3600}`, token: 'tok', signature: 'sig', wrapping_key: 'wk', reference_signature: 'rs' },
				double_etag: etagOf(item),
			});
			return;
		}
		if (op === 'upload/web') {
			const { filename, size } = (body ?? {}) as { filename?: string; size?: number | string };
			if (!filename) return sendJson(response, 400, { error: 'filename required' });
			const token = randomBytes(16).toString('hex');
			const documentId = randomBytes(12).toString('hex').toUpperCase();
			this.uploads.set(token, { documentId, size: size === undefined ? undefined : Number(size) });
			sendJson(response, 200, [{ url: `${this.baseUrl}/upload/${token}`, document_id: documentId }]);
			return;
		}
		if (op === 'update/documents') {
			const request = (body ?? {}) as {
				data?: { signature?: string; size?: number | string; receipt?: string };
				document_id?: string;
				command?: string;
				path?: { starting_document_id?: string; path?: string };
				mtime?: number;
				btime?: number;
				allow_conflict?: boolean;
			};
			const parent = this.tree.get(request.path?.starting_document_id ?? '');
			const content = this.received.get(request.data?.signature ?? '');
			const fail = (code: number, message: string) => sendJson(response, 200, { status: { status_code: code, error_message: message }, results: [] });
			if (request.command !== 'add_file') return fail(4, 'unknown command');
			if (!parent?.folder || parent.id === TRASH) return fail(2, 'parent not found');
			if (!content) return fail(3, 'unknown signature');
			if (request.data?.size !== undefined && Number(request.data.size) !== content.length) return fail(5, 'size mismatch');
			const leaf = String(request.path?.path ?? '').normalize('NFD');
			if (!leaf || leaf.includes('/')) return fail(6, 'invalid name');
			const taken = this.tree.named(parent.id, leaf).length > 0;
			if (taken && !request.allow_conflict) return fail(7, 'name conflict');
			const item = this.tree.add({
				id: request.document_id,
				name: this.freeName(parent.id, leaf),
				parentId: parent.id,
				folder: false,
				content,
				modifiedTime: request.mtime ?? Date.now(),
				createdTime: request.btime,
				meta: {},
			});
			this.tree.touch(parent);
			sendJson(response, 200, { status: { status_code: 0, error_message: '' }, results: [{ status: { status_code: 0, error_message: '' }, operation_id: null, document: this.document(item) }] });
			return;
		}
		sendJson(response, 404, { error: `No docws route ${op}` });
	}

	private async receive(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
		const upload = this.uploads.get(url.pathname.slice('/upload/'.length));
		let bytes = await readBody(request);
		if (!upload) return sendJson(response, 404, { error: 'unknown upload' });
		const type = String(request.headers['content-type'] ?? '');
		const boundary = /multipart\/form-data;\s*boundary=(.+)$/i.exec(type)?.[1];
		if (boundary) {
			// pyicloud sends the bytes as a form field named after the file.
			const text = bytes.toString('latin1');
			const start = text.indexOf('\r\n\r\n') + 4;
			const end = text.lastIndexOf(`\r\n--${boundary.replace(/^"|"$/g, '')}`);
			bytes = bytes.subarray(start, end);
		}
		if (upload.size !== undefined && upload.size !== bytes.length) return sendJson(response, 400, { error: 'size does not match the announced size' });
		this.uploads.delete(url.pathname.slice('/upload/'.length));
		const signature = Buffer.concat([Buffer.from([1]), createHash('sha1').update(bytes).digest()]).toString('base64');
		this.received.set(signature, bytes);
		const single: Record<string, unknown> = { fileChecksum: signature, referenceChecksum: `ref-${signature}`, wrappingKey: 'wk', size: bytes.length };
		if (bytes.length > 0) single.receipt = `receipt-${randomBytes(4).toString('hex')}`;
		sendJson(response, 200, { singleFile: single });
	}

	private content(request: IncomingMessage, response: ServerResponse, context: RequestContext): void {
		const [, , id, revision] = context.url.pathname.split('/');
		const item = this.tree.get(id);
		const content = item && String(item.contentRevision) === revision ? item.content : this.tree.version(Number(revision))?.item.content;
		if (!content) return sendJson(response, 404, { error: 'gone' });
		try {
			sendContent(response, context, request.headers.range, { 'content-type': 'application/octet-stream' }, content, (contentRange) => Object.assign(new Error(contentRange)));
		} catch (error) {
			sendJson(response, 416, { error: 'Range Not Satisfiable' }, { 'content-range': (error as Error).message });
		}
	}
}
