import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Capabilities, Entry, Hashes, ListOptions, Provider, ReadOptions, RootLocation, WriteOptions } from '../core/types';
import {
	AlreadyExistsError,
	CloudSyncError,
	InvalidNameError,
	InvalidPathError,
	NotEmptyError,
	NotFoundError,
	TransientError,
} from '../core/errors';
import { Pacer, retryAfterOf } from '../core/pacer';
import { measure } from '../core/hashing';
import { baseName, hasControlCharacter, joinPath, normalizeRelativePath, parentPath, writablePath } from '../core/paths';
import { DirCache, Remote, SliceStream, bodyStream, emptyStream, insideOrSame, mimeTypeFor, spool, type Spooled } from './kit';
import { ICloudSignInError, openSession, type AppleIdOptions } from './icloud/auth';
import { appleStatusError, appleTransportError } from './icloud/errors';
import type { ICloudSession } from './icloud/session';

const ZONE = 'com.apple.CloudDocs';
const ROOT_ID = `FOLDER::${ZONE}::root`;
/** Folders asked for in one retrieveItemDetailsInFolders call during a recursive listing. */
const FOLDERS_PER_CALL = 16;
/** Uploads up to this size are held in memory (so a retry can send them again); larger ones are spooled to disk. */
const IN_MEMORY_UPLOAD = 8 * 1024 * 1024;
/** Folders whose listing is kept for writes' lookups; a run writes folder by folder, so a few suffice and memory stays bounded. */
const LISTINGS_KEPT = 32;
/** A new file is committed under this kind of name beside the one it replaces, then renamed onto it. */
const STAGED = /^\.cloudsync-upload-[0-9a-f]{12}-/;

export interface ICloudDriveProviderOptions {
	/** The signed-in session (from `openSession`, or one the caller already has). */
	session?: ICloudSession;
	/** Sign-in details used when `session` is absent. */
	signIn?: AppleIdOptions;
	/** Folder of iCloud Drive that is the provider's root, such as '/Backups'; '' is the whole drive. */
	root?: string;
	/** Deleted items skip the trash ("Recently Deleted"); by default they go there for 30 days. */
	deletePermanently?: boolean;
	pacer?: Pacer;
}

interface DriveItem {
	drivewsid: string;
	docwsid: string;
	zone?: string;
	name: string;
	extension?: string;
	parentId?: string;
	etag: string;
	type: 'FILE' | 'FOLDER' | 'APP_LIBRARY' | 'APP_CONTAINER';
	size?: number;
	dateModified?: string;
	dateCreated?: string;
	items?: DriveItem[];
	status?: string;
}

interface CallContext {
	path: string;
	to?: string;
	signal?: AbortSignal;
}

/** An iCloud answer that is not a success: an HTTP status, or a 200 whose item or document carries an error status. */
export class ICloudResponseError extends Error {
	constructor(
		readonly status: number,
		readonly reason: string,
		readonly headers?: Headers,
	) {
		super(`iCloud answered ${status === 200 ? '' : `HTTP ${status} `}${reason}`);
	}
}

const fullName = (item: DriveItem) => (item.extension ? `${item.name}.${item.extension}` : item.name).normalize('NFC');
const fold = (name: string) => name.normalize('NFC').toLowerCase();
const isFolder = (item: DriveItem) => item.type !== 'FILE';
const stagedFor = (item: DriveItem) => fullName(item).replace(STAGED, '');
const modifiedAt = (item: DriveItem) => Date.parse(item.dateModified ?? item.dateCreated ?? '') || 0;

/**
 * A folder's items by the names readers see. Staged uploads are hidden, except one whose name is
 * free: a replacement stopped after the old file went to the trash and before the new one was
 * renamed (its bytes are complete: a staged document exists only once committed). That one is the
 * file under its name, so that no run takes the file for deleted; housekeeping then renames it.
 */
function visibleItems(items: DriveItem[] = []): Array<{ name: string; item: DriveItem; unfinished: boolean }> {
	const taken = new Set(items.filter((item) => !STAGED.test(item.name)).map((item) => fold(fullName(item))));
	const standIns = new Map<string, DriveItem>();
	for (const item of items) {
		if (!STAGED.test(item.name) || isFolder(item)) continue;
		const key = fold(stagedFor(item));
		const other = standIns.get(key);
		if (!taken.has(key) && (!other || modifiedAt(item) > modifiedAt(other))) standIns.set(key, item);
	}
	const visible: Array<{ name: string; item: DriveItem; unfinished: boolean }> = [];
	for (const item of items) {
		if (!STAGED.test(item.name)) visible.push({ name: fullName(item), item, unfinished: false });
		else if (standIns.get(fold(stagedFor(item))) === item) visible.push({ name: stagedFor(item), item, unfinished: true });
	}
	return visible;
}
const seconds = (ms: number) => Math.floor(ms / 1000) * 1000;
const DRIVE = { name: 'iCloud Drive', readOnly: false };

/** What a failed call becomes in the engine's typed errors; Apple's reason only, never a cookie or token. */
export function mapICloudError(error: unknown, context: CallContext, redact: (text: string) => string = (text) => text): Error {
	if (error instanceof CloudSyncError) return error;
	const where = context.path || '/';
	if (error instanceof ICloudResponseError) {
		const reason = redact(error.reason).slice(0, 200);
		const { status } = error;
		if (status === 404 || reason === 'ID_INVALID') return new NotFoundError(where, { cause: error });
		if (reason === 'NAME_CONFLICT') return new AlreadyExistsError(context.to ?? context.path, { cause: error });
		if (reason === 'ETAG_CONFLICT') return new TransientError(`${where} changed in iCloud Drive while it was being changed here`, { cause: error });
		if (status === 403) return new ICloudSignInError('web-access-off', `iCloud denied access to ${where} (HTTP 403 ${reason})`, { cause: error, status });
		const common = appleStatusError(DRIVE, status, `HTTP ${status} ${reason}`, where, error, retryAfterOf(error.headers));
		if (common) return common;
		return new CloudSyncError(`iCloud Drive refused the request for ${where} (${error.message.slice(0, 200)})`, { cause: error });
	}
	return appleTransportError(DRIVE, error, where, redact);
}

/**
 * iCloud Drive through the web protocol icloud.com uses (Apple publishes no API; see
 * ../shared/reference/icloud-and-google-photos.md §2), as a thin client on the provider kit.
 * Items are addressed by drivewsid; folder paths resolve through DirCache; a listing is one
 * `retrieveItemDetailsInFolders` per folder (several folders per call when recursive).
 *
 * What can and cannot be guaranteed: iCloud has no content hash (its signatures are opaque) and
 * keeps modification times to the second, set only at upload; so size and time decide changes and
 * content checks read the bytes. A write uploads the bytes before anything at the path changes;
 * a replacement is committed under a staged name beside the old file, the old file goes to the
 * trash, and the staged one is renamed onto the name. Readers therefore see the old file whole or
 * the new one whole, never part of one; between the last two calls the name is briefly absent. A
 * run that stops there (or whose rename fails) leaves the old file in Recently Deleted and the staged
 * one, which later runs list and read under the name until `housekeeping` renames it; a staged file
 * beside one that holds the name is an upload that never replaced it, and housekeeping trashes it.
 */
export class ICloudDriveProvider implements Provider {
	readonly name = 'icloud-drive';
	readonly capabilities: Capabilities = {
		hashTypes: [],
		listedHashTypes: [],
		modTimePrecisionMs: 1000,
		canSetModTime: true,
		caseInsensitive: true,
		// 50 GB per file is widely quoted [unconfirmed].
		maxFileSize: 50 * 1000 ** 3,
		emptyFolders: true,
	};
	readonly pacer: Pacer;
	private readonly remote: Remote<CallContext>;
	private rootId = ROOT_ID;
	private rootPath = '';
	private readonly folders = new DirCache(
		() => this.rootId,
		(path, create) => this.findFolder(path, create),
	);
	/** Children by folded name of the folders written into, listed once: iCloud finds an item by path only by listing its parent. */
	private readonly listings = new Map<string, Promise<Map<string, DriveItem>>>();
	/** Names (parent id / folded name) changed here since their folder was listed: their next lookup lists the folder again. */
	private readonly changed = new Set<string>();

	private constructor(
		private readonly session: ICloudSession,
		private readonly options: ICloudDriveProviderOptions,
	) {
		this.pacer = options.pacer ?? new Pacer();
		this.remote = new Remote<CallContext>({
			pacer: this.pacer,
			// The session renews itself on 401/421/450; the provider's retry then goes out on the new one.
			tokens: { prepare: async () => undefined, renew: async () => undefined, secrets: () => session.secrets() },
			unauthorized: () => false,
			mapError: (error, context, redact) => mapICloudError(error, context, redact),
		});
	}

	/** Signs in (unless given a session), asks for the encryption cookies Advanced Data Protection needs, and opens the root folder. */
	static async open(options: ICloudDriveProviderOptions): Promise<ICloudDriveProvider> {
		if (!options.session && !options.signIn) throw new CloudSyncError('iCloud Drive needs a signed-in session or the Apple ID to sign in with');
		const session = options.session ?? (await openSession(options.signIn!));
		session.serviceUrl('drivews');
		session.serviceUrl('docws');
		if (session.webservices.drivews?.pcsRequired) await session.requestPcs('iclouddrive');
		const provider = new ICloudDriveProvider(session, options);
		await provider.resolveRoot(options.root ?? '');
		return provider;
	}

	private async resolveRoot(root: string): Promise<void> {
		const relative = normalizeRelativePath(root.replace(/^\/+/, ''));
		if (!relative) return;
		const id = await this.folders.id(relative).catch((error: unknown) => {
			throw error instanceof NotFoundError ? new NotFoundError(`/${relative}`, { cause: error }) : error;
		});
		this.rootId = id;
		this.rootPath = relative;
		this.folders.clear();
	}

	// -----------------------------------------------------------------------------------------
	// Requests

	private get drivews(): string {
		return this.session.serviceUrl('drivews');
	}

	private get docws(): string {
		return this.session.serviceUrl('docws');
	}

	private call<T>(context: CallContext, request: (attempt: number) => Promise<T>): Promise<T> {
		return this.remote.call(context, request, context.signal);
	}

	private async send(url: string, init: Parameters<ICloudSession['request']>[1] = {}): Promise<Response> {
		const response = await this.session.request(url, init);
		if (response.ok) return response;
		const text = await response.text().catch(() => '');
		let reason = text.slice(0, 200);
		try {
			const body = JSON.parse(text) as Record<string, unknown>;
			reason = String(body.errorReason ?? body.reason ?? body.errorMessage ?? body.error ?? body.errorCode ?? reason);
		} catch {
			// Not JSON: the text (cut) is the reason.
		}
		throw new ICloudResponseError(response.status, reason, response.headers);
	}

	private async json<T>(context: CallContext, url: string, init: Parameters<ICloudSession['request']>[1] = {}): Promise<T> {
		return this.call(context, async () => (await (await this.send(url, { ...init, signal: context.signal })).json()) as T);
	}

	/** The folders' listings, children included; an id iCloud no longer knows is NotFound. */
	private async folderDetails(context: CallContext, ids: string[]): Promise<DriveItem[]> {
		const details = await this.json<DriveItem[]>(context, `${this.drivews}/retrieveItemDetailsInFolders`, {
			method: 'POST',
			json: ids.map((drivewsid) => ({ drivewsid, partialData: false, includeHierarchy: false })),
		});
		for (const detail of details) if (detail.status && detail.status !== 'OK') throw mapICloudError(new ICloudResponseError(200, detail.status), context);
		return details;
	}

	/** One item-level drivews call (rename, move, trash, delete): its item's own status decides. */
	private async itemCall(context: CallContext, op: string, body: Record<string, unknown>): Promise<DriveItem> {
		const answer = await this.json<{ items?: DriveItem[] }>(context, `${this.drivews}/${op}`, { method: 'POST', json: body });
		const item = answer.items?.[0];
		if (!item) throw mapICloudError(new ICloudResponseError(200, `no item in the ${op} answer`), context);
		if (item.status && item.status !== 'OK') throw mapICloudError(new ICloudResponseError(200, item.status), context);
		return item;
	}

	// -----------------------------------------------------------------------------------------
	// Paths

	private async findFolder(path: string, create: boolean): Promise<string> {
		const parentId = await this.folders.id(parentPath(path), create);
		const leaf = baseName(path);
		const existing = await this.listedChild(parentId, leaf, { path });
		if (existing && isFolder(existing)) return existing.drivewsid;
		if (existing) throw create ? new AlreadyExistsError(path) : new NotFoundError(path);
		if (!create) throw new NotFoundError(path);
		this.checkName(path, leaf);
		const answer = await this.json<{ folders?: DriveItem[] }>({ path }, `${this.drivews}/createFolders`, {
			method: 'POST',
			json: { destinationDrivewsId: parentId, folders: [{ clientId: `FOLDER::UNKNOWN_ZONE::TempId-${randomBytes(8).toString('hex')}`, name: leaf }] },
		});
		const created = answer.folders?.[0];
		this.touched(parentId, leaf);
		if (!created || (created.status && created.status !== 'OK')) throw mapICloudError(new ICloudResponseError(200, created?.status ?? 'no folder in the answer'), { path });
		return created.drivewsid;
	}

	/** The child of a folder called `name`, as iCloud compares names (NFC, without case). */
	private async child(parentId: string, name: string, context: CallContext): Promise<DriveItem | undefined> {
		const [folder] = await this.folderDetails(context, [parentId]);
		const wanted = fold(name);
		return visibleItems(folder.items).find((visible) => fold(visible.name) === wanted)?.item;
	}

	/**
	 * The child called `name`, for a write: from the folder's listing when one is kept, so that a
	 * folder of many files is not listed again per file. A stale answer costs no data: iCloud refuses
	 * an old etag, keeps a name taken meanwhile as "name 2" (which the write then checks afresh), and
	 * a write that fails drops the listing so that its retry lists again.
	 */
	private async listedChild(parentId: string, name: string, context: CallContext): Promise<DriveItem | undefined> {
		const key = `${parentId}/${fold(name)}`;
		let listing = this.listings.get(parentId);
		if (!listing || this.changed.has(key)) {
			const fresh = this.folderDetails(context, [parentId]).then(([folder]) => {
				const byName = new Map<string, DriveItem>();
				for (const { name: shown, item } of visibleItems(folder.items)) byName.set(fold(shown), item);
				return byName;
			});
			for (const stale of this.changed) if (stale.startsWith(`${parentId}/`)) this.changed.delete(stale);
			this.listings.delete(parentId);
			this.listings.set(parentId, fresh);
			if (this.listings.size > LISTINGS_KEPT) this.listings.delete(this.listings.keys().next().value!);
			fresh.catch(() => this.forgetListing(parentId, fresh));
			listing = fresh;
		}
		return (await listing).get(fold(name));
	}

	private forgetListing(parentId: string, listing = this.listings.get(parentId)): void {
		if (this.listings.get(parentId) === listing) this.listings.delete(parentId);
	}

	/** A name this provider changed: a kept listing no longer tells what it holds. */
	private touched(parentId: string, name: string): void {
		if (this.listings.has(parentId)) this.changed.add(`${parentId}/${fold(name)}`);
	}

	/** The item at a path, with its parent's id; NotFound when missing or when a file stands where a folder should. */
	private async locateItem(relative: string, signal?: AbortSignal): Promise<{ item: DriveItem; parentId: string }> {
		const parentId = await this.folders.id(parentPath(relative)).catch((error: unknown) => {
			throw error instanceof NotFoundError || error instanceof AlreadyExistsError ? new NotFoundError(relative, { cause: error }) : error;
		});
		const item = await this.child(parentId, baseName(relative), { path: relative, signal });
		if (!item) throw new NotFoundError(relative);
		return { item, parentId };
	}

	private entryOf(path: string, item: DriveItem): Entry {
		const folder = isFolder(item);
		const time = Date.parse(item.dateModified ?? item.dateCreated ?? '');
		return { path, isDir: folder, size: folder ? 0 : (item.size ?? 0), modTime: Number.isNaN(time) ? 0 : time, hashes: {}, id: item.drivewsid };
	}

	private checkName(path: string, name: string): void {
		const problem = this.nameProblem(name);
		if (problem) throw new InvalidNameError(path, problem);
	}

	nameProblem(name: string): string | undefined {
		if (name.includes('\\') || name.includes(':')) return 'iCloud Drive names cannot hold "\\" or ":"';
		if (hasControlCharacter(name) || name.includes('\x7f')) return 'iCloud Drive names cannot hold control characters';
		if (STAGED.test(name)) return 'the name looks like a file Cloud Sync stages during uploads';
		if (Buffer.byteLength(name) > 255) return 'iCloud Drive names are at most 255 bytes';
		return undefined;
	}


	// -----------------------------------------------------------------------------------------
	// Listing

	async *list(path: string, options: ListOptions = {}): AsyncIterable<Entry> {
		const relative = normalizeRelativePath(path);
		const start = await this.folders.id(relative).catch(async (error: unknown) => {
			if (error instanceof AlreadyExistsError) throw new NotFoundError(relative);
			throw error;
		});
		let pending: Array<{ id: string; path: string }> = [{ id: start, path: relative }];
		while (pending.length > 0) {
			const batch = pending.slice(0, FOLDERS_PER_CALL);
			pending = pending.slice(FOLDERS_PER_CALL);
			const details = await this.folderDetails({ path: batch[0].path, signal: options.signal }, batch.map((folder) => folder.id));
			for (const [index, detail] of details.entries()) {
				const base = batch[index].path;
				for (const { name, item } of visibleItems(detail.items)) {
					// Names from the cloud are hostile input: nothing may climb out of the folder.
					if (!name || name === '.' || name === '..' || name.includes('/')) continue;
					const childPath = joinPath(base, name);
					const entry = this.entryOf(childPath, item);
					if (entry.isDir) {
						this.folders.put(childPath, item.drivewsid);
						if (options.recursive) pending.push({ id: item.drivewsid, path: childPath });
					}
					yield entry;
				}
			}
		}
	}

	async stat(path: string): Promise<Entry> {
		const relative = normalizeRelativePath(path);
		if (relative === '') return { path: '', isDir: true, size: 0, modTime: 0, hashes: {}, id: this.rootId };
		const { item } = await this.locateItem(relative);
		return this.entryOf(relative, item);
	}

	// -----------------------------------------------------------------------------------------
	// Reading

	async read(path: string, options: ReadOptions = {}): Promise<Readable> {
		const relative = normalizeRelativePath(path);
		const context = { path: relative, signal: options.signal };
		const { item } = await this.locateItem(relative, options.signal);
		if (isFolder(item)) throw new CloudSyncError(`Cannot read a folder as a file: ${relative}`);
		const size = item.size ?? 0;
		const start = options.start ?? 0;
		const end = Math.min(options.end ?? size, size);
		if (end <= start) return emptyStream();
		const whole = start === 0 && end === size;
		const body = await this.call(context, async () => {
			// The download URL expires within the hour: each attempt asks for a fresh one.
			const token = (await (
				await this.send(`${this.docws}/ws/${item.zone ?? ZONE}/download/by_id?document_id=${encodeURIComponent(item.docwsid)}`, { signal: options.signal })
			).json()) as { data_token?: { url?: string }; package_token?: { url?: string } };
			const url = token.data_token?.url ?? token.package_token?.url;
			if (!url) throw new ICloudResponseError(200, 'no download URL');
			const response = await this.send(url, { headers: whole ? {} : { Range: `bytes=${start}-${end - 1}` }, signal: options.signal });
			const slice = !whole && response.status === 200 ? new SliceStream(start, end) : undefined;
			return bodyStream(response.body, (cause) => new TransientError(`The download of ${relative} broke off`, { cause }), slice);
		});
		// A short download fails at its end instead of passing as the file.
		return measure(body, [], { size: end - start });
	}

	async hash(path: string): Promise<Hashes> {
		// iCloud keeps no content hash: only existence is checked; the engine reads bytes when it must compare.
		await this.stat(path);
		return {};
	}

	// -----------------------------------------------------------------------------------------
	// Writing

	async write(path: string, content: Readable, options: WriteOptions = {}): Promise<Entry> {
		const relative = writablePath(path, 'write over');
		const leaf = baseName(relative);
		this.checkName(relative, leaf);
		const context = { path: relative, signal: options.signal };
		const measured = measure(content, options.hashTypes ?? [], { size: options.size });
		const spooled = await spool(measured, { prefix: 'icloud', memoryLimit: IN_MEMORY_UPLOAD });
		let parentId: string | undefined;
		try {
			parentId = await this.folders.id(parentPath(relative), true);
			const existing = await this.listedChild(parentId, leaf, context);
			if (existing && isFolder(existing)) throw new AlreadyExistsError(relative);
			const stagedName = existing ? `.cloudsync-upload-${randomBytes(6).toString('hex')}-${leaf}` : leaf;
			const modTime = seconds(options.modTime ?? Date.now());
			const document = await this.upload(context, parentId, stagedName, spooled, modTime);
			if (!existing && fold(document.name) === fold(leaf)) return { ...this.written(relative, spooled.size, modTime, document.id), hashes: measured.hashes };
			// A replacement (or a file that appeared meanwhile, which iCloud stored as "name 2"): trash what holds the name, then take it.
			const holder = existing ?? (await this.child(parentId, leaf, context));
			if (holder && isFolder(holder)) {
				// A folder took the name since the folder was listed: it is not replaced, and the upload is taken back.
				await this.itemCall(context, 'moveItemsToTrash', { items: [{ drivewsid: document.id, etag: document.etag, clientId: document.id }] }).catch(() => undefined);
				throw new AlreadyExistsError(relative);
			}
			if (holder) await this.itemCall(context, 'moveItemsToTrash', { items: [{ drivewsid: holder.drivewsid, etag: holder.etag, clientId: holder.drivewsid }] });
			const renamed = await this.itemCall(context, 'renameItems', { items: [{ drivewsid: document.id, etag: document.etag, name: leaf }] });
			return { ...this.entryOf(relative, renamed), hashes: measured.hashes };
		} catch (error) {
			if (parentId) this.forgetListing(parentId);
			throw error;
		} finally {
			if (parentId) this.touched(parentId, leaf);
			await spooled.dispose();
		}
	}

	private written(path: string, size: number, modTime: number, id: string): Entry {
		return { path, isDir: false, size, modTime, hashes: {}, id };
	}

	/** The three calls: ask for an upload URL, send the bytes, place the document in its folder. */
	private async upload(context: CallContext, parentId: string, name: string, content: Spooled, modTime: number): Promise<{ id: string; name: string; etag: string }> {
		const zone = parentId.split('::')[1] || ZONE;
		const docws = `${this.docws}/ws/${zone}`;
		const contentType = mimeTypeFor(name);
		const placed = await this.call(context, async () => {
			const [target] = await (
				await this.send(`${docws}/upload/web`, { method: 'POST', json: { filename: name, type: 'FILE', size: content.size, content_type: contentType }, signal: context.signal })
			).json() as Array<{ url: string; document_id: string }>;
			const stored = (await (await this.send(target.url, { method: 'POST', body: content.bytes ?? content.read(), contentType, streamed: !content.bytes, signal: context.signal })).json()) as {
				singleFile?: { fileChecksum: string; referenceChecksum?: string; wrappingKey?: string; size: number; receipt?: string };
			};
			const file = stored.singleFile;
			if (!file) throw new ICloudResponseError(200, 'the upload answer holds no file');
			if (Number(file.size) !== content.size) throw new TransientError(`iCloud stored ${file.size} of ${content.size} bytes of ${context.path}`);
			return { documentId: target.document_id, file };
		});
		const answer = await this.json<{ status?: { status_code?: number; error_message?: string }; results?: Array<{ status?: { status_code?: number; error_message?: string }; document?: { document_id: string; name: string; etag: string; item_id?: string } }> }>(
			context,
			`${docws}/update/documents`,
			{
				method: 'POST',
				json: {
					data: {
						signature: placed.file.fileChecksum,
						wrapping_key: placed.file.wrappingKey,
						reference_signature: placed.file.referenceChecksum,
						...(placed.file.receipt ? { receipt: placed.file.receipt } : {}),
						size: placed.file.size,
					},
					command: 'add_file',
					create_short_guid: true,
					document_id: placed.documentId,
					path: { starting_document_id: parentId.split('::').at(-1), path: name },
					allow_conflict: true,
					file_flags: { is_writable: true, is_executable: false, is_hidden: false },
					mtime: modTime,
					btime: modTime,
				},
			},
		);
		// docws answers 200 with its own status: anything but 0 is a failure, and the file was not placed.
		const status = answer.results?.[0]?.status ?? answer.status;
		const document = answer.results?.[0]?.document;
		if ((status?.status_code ?? 0) !== 0 || !document) {
			throw mapICloudError(new ICloudResponseError(200, `update/documents status ${status?.status_code}: ${status?.error_message ?? ''}`), context);
		}
		return { id: `FILE::${zone}::${document.document_id}`, name: document.name.normalize('NFC'), etag: document.etag };
	}

	async mkdir(path: string): Promise<void> {
		const relative = normalizeRelativePath(path);
		if (relative === '') return;
		await this.folders.id(relative, true);
	}

	async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
		const relative = writablePath(path, 'delete');
		const { item, parentId } = await this.locateItem(relative);
		if (isFolder(item) && !options.recursive) {
			const [detail] = await this.folderDetails({ path: relative }, [item.drivewsid]);
			if ((detail.items ?? []).length > 0) throw new NotEmptyError(relative);
		}
		const context = { path: relative };
		const ref = { drivewsid: item.drivewsid, etag: item.etag, clientId: item.drivewsid };
		try {
			if (this.options.deletePermanently) await this.itemCall(context, 'deleteItems', { items: [ref] });
			else await this.itemCall(context, 'moveItemsToTrash', { items: [ref] });
		} finally {
			this.touched(parentId, baseName(relative));
		}
		this.folders.forget(relative);
	}

	async move(from: string, to: string): Promise<Entry> {
		const source = writablePath(from, 'move');
		const target = writablePath(to, 'move onto');
		if (insideOrSame(target, source) && target !== source && fold(target) !== fold(source)) throw new InvalidPathError(to, 'cannot move a folder into itself');
		const context = { path: source, to: target };
		const { item, parentId } = await this.locateItem(source);
		if (insideOrSame(fold(target), fold(source)) && fold(target) !== fold(source)) throw new InvalidPathError(to, 'cannot move a folder into itself');
		const leaf = baseName(target);
		this.checkName(target, leaf);
		const targetParentId = await this.folders.id(parentPath(target), true);
		const inTheWay = await this.child(targetParentId, leaf, context);
		let current = item;
		try {
			if (inTheWay && inTheWay.drivewsid !== item.drivewsid) {
				if (isFolder(inTheWay) || isFolder(item)) throw new AlreadyExistsError(target);
				// A file replaces a file, as a rename over it does on a disk; the old one stays in Recently Deleted.
				await this.itemCall(context, 'moveItemsToTrash', { items: [{ drivewsid: inTheWay.drivewsid, etag: inTheWay.etag, clientId: inTheWay.drivewsid }] });
			}
			if (targetParentId !== parentId) {
				current = await this.itemCall(context, 'moveItems', { destinationDrivewsId: targetParentId, items: [{ drivewsid: current.drivewsid, etag: current.etag, clientId: current.drivewsid }] });
			}
			if (fullName(current) !== leaf.normalize('NFC')) {
				current = await this.itemCall(context, 'renameItems', { items: [{ drivewsid: current.drivewsid, etag: current.etag, name: leaf }] });
			}
		} finally {
			this.touched(parentId, baseName(source));
			this.touched(targetParentId, leaf);
		}
		if (isFolder(item)) {
			this.folders.forget(source);
			this.folders.put(target, current.drivewsid);
		}
		return this.entryOf(target, current);
	}

	recovery(): string {
		return this.options.deletePermanently
			? 'deleted files are removed from iCloud Drive at once (Delete Permanently); replaced files stay in Recently Deleted for 30 days'
			: 'deleted and replaced files are in iCloud Drive\'s "Recently Deleted" for 30 days';
	}

	/** Staged uploads a run left behind: one standing in for a replaced file is renamed onto its name, any other is trashed. */
	async housekeeping(): Promise<string[]> {
		const removed: string[] = [];
		const visit = async (id: string, path: string): Promise<void> => {
			const [detail] = await this.folderDetails({ path }, [id]);
			const standIns = new Set(visibleItems(detail.items).filter((visible) => visible.unfinished).map((visible) => visible.item));
			for (const item of detail.items ?? []) {
				const childPath = joinPath(path, fullName(item));
				if (standIns.has(item)) {
					await this.itemCall({ path: childPath }, 'renameItems', { items: [{ drivewsid: item.drivewsid, etag: item.etag, name: stagedFor(item) }] });
					this.forgetListing(id);
					removed.push(`${joinPath(path, stagedFor(item))}: completed a replacement a run left unfinished`);
				} else if (!isFolder(item) && STAGED.test(item.name)) {
					await this.itemCall({ path: childPath }, 'moveItemsToTrash', { items: [{ drivewsid: item.drivewsid, etag: item.etag, clientId: item.drivewsid }] });
					removed.push(childPath);
				} else if (isFolder(item)) await visit(item.drivewsid, childPath);
			}
		};
		await visit(this.rootId, '');
		return removed;
	}

	async locate(): Promise<RootLocation> {
		const names = this.rootPath.split('/').filter(Boolean);
		return { namespace: `icloud-drive:${this.session.dsid}`, chain: names.map(fold), names, caseInsensitive: true };
	}
}
