import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Capabilities, Change, ChangePage, Entry, Hashes, ListOptions, Provider, ReadOptions, RootLocation } from '../core/types';
import { AuthenticationError, CloudSyncError, CursorExpiredError, NotFoundError, PermissionError, TransientError } from '../core/errors';
import { MeasuringStream } from '../core/hashing';
import { Pacer, retryAfterOf } from '../core/pacer';
import { hasControlCharacter, joinPath, normalizeRelativePath, parentPath } from '../core/paths';
import { Remote, bodyStream, emptyStream } from './kit';
import { ICloudSignInError } from './icloud/auth';
import { appleStatusError, appleTransportError } from './icloud/errors';
import type { ICloudSession } from './icloud/session';

/**
 * iCloud Photos as a read-only source, through the CloudKit web services icloud.com uses (Apple has
 * no public Photos API; facts and sources in shared/reference/icloud-and-google-photos.md §3).
 *
 * A library (the personal `PrimarySync` zone, or a Shared Library's `SharedSync-…` zone) is read
 * once in full through the all-photos index (`records/query`, 200 records = 100 photos a page) and
 * kept in memory in this process with the zone's sync token; every later run of the same process
 * asks `changes/zone` what changed since (one call for a few hundred changes), so a scheduled sync or
 * the trigger's poll after ten new photos costs one or two calls, not a listing of the library. A
 * token CloudKit no longer takes means a full listing again.
 *
 * The tree the provider shows is made from the records, by `layout`: `yyyy/MM/<name>` by the
 * photo's local capture date, everything in one folder, or one folder per album. Names are the
 * originals' real names; the same name twice in one folder is told apart by a short, stable suffix
 * derived from the photo's own record name (the photo that came to the library first keeps the
 * plain name), so adding photos never renames the ones already there.
 */

const CLOUDKIT_PATH = '/database/1/com.apple.photos.cloud/production';
const ALL_PHOTOS = 'CPLAssetAndMasterByAssetDateWithoutHiddenOrDeleted';
const IN_ALBUM = 'CPLContainerRelationLiveByAssetDate';
const ALBUMS = 'CPLAlbumByPositionLive';
/** CloudKit answers at most 200 records a call whatever is asked (R:api/photos.go photosQueryLimit). */
export const PAGE_RECORDS = 200;
/** A listed downloadURL is used while it has this long left; after that one lookup signs a fresh one. */
const URL_MARGIN_MS = 5 * 60_000;
/** Libraries kept in memory per process; each is about 1 KB per photo. */
const CACHED_LIBRARIES = 4;
/** Album folders iCloud keeps for itself. */
const SYSTEM_ALBUMS = new Set(['----Root-Folder----', '----Project-Root-Folder----']);

export type PhotosLibrary = 'personal' | 'shared';
export type PhotosLayout = 'month' | 'flat' | 'albums';

export interface ICloudPhotosProviderOptions {
	/** A signed-in iCloud web session (lib/providers/icloud/auth.ts). */
	session: ICloudSession;
	/** The personal library, or the Shared Library the account takes part in. */
	library?: PhotosLibrary;
	/** `month`: yyyy/MM folders by the photo's local capture date (default); `flat`: one folder; `albums`: one folder per album. */
	layout?: PhotosLayout;
	/** The video part of Live Photos, as `<name>.MOV` beside the still (default true). */
	livePhotoVideos?: boolean;
	/** Edited photos' rendered version, as `<name>-edited.JPG` beside the original (default false). */
	editedVersions?: boolean;
	pacer?: Pacer;
	requestTimeoutMs?: number;
}

type Field = { value?: unknown; type?: string };
interface CkRecord {
	recordName: string;
	recordType?: string | null;
	fields?: Record<string, Field | undefined>;
	deleted?: boolean;
	serverErrorCode?: string;
	reason?: string;
}
interface Resource {
	size?: number;
	downloadURL?: string;
}
interface ZoneAnswer {
	zoneID?: { zoneName?: string };
	syncToken?: string;
	moreComing?: boolean;
	records?: CkRecord[];
	serverErrorCode?: string;
	reason?: string;
}

interface CallContext {
	path: string;
	signal?: AbortSignal;
}

/** What the provider keeps of a library between runs of this process. */
interface LibraryIndex {
	token?: string;
	masters: Map<string, CkRecord>;
	/** Assets in the library now: not hidden, not in Recently Deleted. */
	assets: Map<string, CkRecord>;
	albums: Map<string, string>;
	/** `<asset>-IN-<album>` → the two. */
	relations: Map<string, { item: string; container: string }>;
	albumsLoaded: boolean;
	/** Operations on one library run one at a time, so two runs never apply the same delta twice over each other. */
	queue: Promise<unknown>;
}

/** One file of the tree, and where its bytes are. */
interface PhotoFile {
	entry: Entry;
	asset: string;
	/** The record holding the resource (the master for originals, the asset for edits). */
	record: string;
	field: string;
}

type Role = 'original' | 'live' | 'edited';
const ROLE_ORDER: Record<Role, number> = { original: 0, live: 1, edited: 2 };

interface Candidate {
	folder: string;
	name: string;
	asset: CkRecord;
	role: Role;
	record: string;
	field: string;
	size: number;
	date: number;
}

const LIBRARIES = new Map<string, LibraryIndex>();
/** Shared Library zone names, by account and endpoint. */
const SHARED_ZONES = new Map<string, string>();

/** Writes to iCloud Photos are refused: the provider reads only. */
export class ReadOnlySourceError extends PermissionError {
	constructor(path: string, action: string) {
		super(`iCloud Photos is read-only here: cannot ${action} ${path || '/'}`, {
			hint: 'Use iCloud Photos as the source of a Copy or Mirror sync (or in the trigger), and choose another cloud as the destination.',
		});
	}
}

/** A CloudKit answer other than 2xx; only its status and Apple's own reason are kept. */
class CloudKitHttpError extends Error {
	constructor(
		readonly status: number,
		readonly reason: string,
		readonly code: string | undefined,
		readonly headers: Headers,
	) {
		super(`CloudKit answered HTTP ${status}${code ? ` ${code}` : ''}: ${reason}`);
	}
}

/** A 200 that carries CloudKit's own error on a record or a zone. */
class CloudKitRecordError extends Error {
	constructor(
		readonly code: string,
		readonly reason: string,
	) {
		super(`CloudKit answered ${code}${reason ? `: ${reason}` : ''}`);
	}
}

const flag = (record: CkRecord, name: string) => {
	const value = record.fields?.[name]?.value;
	return value === 1 || value === true || value === '1';
};
const numberOf = (record: CkRecord | undefined, name: string) => Number(record?.fields?.[name]?.value ?? 0) || 0;

/** The throttling and sign-in hints the mapped errors carry. */
const PHOTOS = { name: 'iCloud Photos', readOnly: true };

/** What a failed CloudKit call becomes; holds Apple's status and reason, never a cookie. */
export function mapCloudKitError(error: unknown, context: CallContext, redact: (text: string) => string = (text) => text): Error {
	if (error instanceof CloudSyncError) return error;
	const where = context.path || '/';
	if (error instanceof CloudKitRecordError) {
		const text = `${error.code}${error.reason ? ` (${redact(error.reason).slice(0, 160)})` : ''}`;
		if (error.code === 'BAD_REQUEST' && /sync continuation/i.test(error.reason)) return new CursorExpiredError(`iCloud Photos no longer accepts the sync token (${text})`, { cause: error });
		if (['THROTTLED', 'TRY_AGAIN_LATER', 'SERVICE_UNAVAILABLE', 'INTERNAL_ERROR', 'RETRY_LATER'].includes(error.code)) {
			return new TransientError(`iCloud Photos failed a record at ${where}: ${text}`, { cause: error });
		}
		if (error.code === 'ACCESS_DENIED') return new ICloudSignInError('web-access-off', `iCloud Photos denied access to the library (${text})`, { cause: error });
		if (error.code === 'AUTHENTICATION_FAILED' || error.code === 'AUTHENTICATION_REQUIRED') return new AuthenticationError(`iCloud refused the web session (${text})`, { cause: error });
		if (error.code === 'ZONE_NOT_FOUND' || error.code === 'NOT_FOUND') return new NotFoundError(where, { cause: error });
		return new CloudSyncError(`iCloud Photos refused the request at ${where}: ${text}`, { cause: error });
	}
	if (error instanceof CloudKitHttpError) {
		const detail = `HTTP ${error.status}${error.code ? ` ${error.code}` : ''}${error.reason ? `: ${redact(error.reason).slice(0, 160)}` : ''}`;
		if (error.status === 403 && error.code === 'ACCESS_DENIED') return new ICloudSignInError('web-access-off', `iCloud Photos denied access (${detail})`, { status: 403 });
		if (error.status === 403) return new PermissionError(`iCloud Photos denied access at ${where} (${detail})`, { cause: error });
		const common = appleStatusError(PHOTOS, error.status, detail, where, error, retryAfterOf(error.headers));
		if (common) return common;
		return new CloudSyncError(`iCloud Photos refused the request at ${where} (${detail})`, { cause: error });
	}
	return appleTransportError(PHOTOS, error, where, redact);
}

/** The first CloudKit error a 200 carries: on the answer, a record, or a zone. */
function errorInAnswer(body: { serverErrorCode?: string; reason?: string; records?: CkRecord[]; zones?: ZoneAnswer[] }, allowed: string[] = []): CloudKitRecordError | undefined {
	const failed = [body, ...(body.records ?? []), ...(body.zones ?? [])].find((part) => part?.serverErrorCode && !allowed.includes(part.serverErrorCode));
	return failed ? new CloudKitRecordError(String(failed.serverErrorCode), String(failed.reason ?? '')) : undefined;
}

/** A name from iCloud as one safe path segment: NFC, no separators or control characters, never "." or "..". */
export function safeSegment(name: string): string {
	let clean = name.normalize('NFC').replace(/[/\\]/g, '_');
	if (hasControlCharacter(clean)) clean = [...clean].map((char) => (hasControlCharacter(char) ? '_' : char)).join('');
	clean = clean.trim();
	return clean === '' || clean === '.' || clean === '..' ? '_' : clean;
}

/** filenameEnc is base64 in ENCRYPTED_BYTES and plain in STRING, though one source saw base64 in a STRING [unconfirmed]. */
export function decodeFilename(field: Field | undefined): string | undefined {
	if (typeof field?.value !== 'string' || field.value === '') return undefined;
	const value = field.value;
	if (field.type !== 'STRING') return Buffer.from(value, 'base64').toString('utf8');
	// A STRING that is exactly the base64 of a name with an extension is taken as base64.
	if (/^[A-Za-z0-9+/]+={0,2}$/.test(value) && value.length % 4 === 0) {
		const decoded = Buffer.from(value, 'base64').toString('utf8');
		const named = /\.[A-Za-z0-9]{1,5}$/;
		if (named.test(decoded) && !hasControlCharacter(decoded) && !decoded.includes('\ufffd') && !named.test(value)) return decoded;
	}
	return value;
}

const EXTENSIONS: Record<string, string> = {
	'public.heic': 'HEIC',
	'public.jpeg': 'JPG',
	'public.png': 'PNG',
	'com.apple.quicktime-movie': 'MOV',
	'public.mpeg-4': 'MP4',
	'com.adobe.raw-image': 'DNG',
};

const splitName = (name: string) => {
	const dot = name.lastIndexOf('.');
	return dot > 0 ? { stem: name.slice(0, dot), extension: name.slice(dot) } : { stem: name, extension: '' };
};

/** The suffix a photo's colliding names get: from its own record name, so it never changes. */
const suffixOf = (assetName: string) => createHash('sha256').update(assetName).digest('hex').slice(0, 8);

/** The photo's capture time on the clock where it was taken (assetDate + timeZoneOffset, taken as seconds east of UTC [unit unconfirmed]), for its month folder. */
function localDate(asset: CkRecord): Date {
	return new Date(numberOf(asset, 'assetDate') + numberOf(asset, 'timeZoneOffset') * 1000);
}

/** An iCloud Photos library as a read-only tree of folders and original files. */
export class ICloudPhotosProvider implements Provider {
	readonly name = 'icloud-photos';
	readonly capabilities: Capabilities = {
		// Apple's fileChecksum is not a digest of the bytes [algorithm unconfirmed]: size and date decide.
		hashTypes: [],
		listedHashTypes: [],
		modTimePrecisionMs: 1000,
		canSetModTime: false,
		caseInsensitive: false,
		maxFileSize: Number.POSITIVE_INFINITY,
		emptyFolders: false,
	};
	readonly pacer: Pacer;
	private readonly remote: Remote<CallContext>;
	private readonly session: ICloudSession;
	private readonly library: PhotosLibrary;
	private readonly layout: PhotosLayout;
	private readonly timeoutMs: number;
	private zone?: { name: string; database: 'private' | 'shared' };
	/** The index, brought up to date once per provider (one run). */
	private ready?: Promise<LibraryIndex>;
	private tree?: { files: Map<string, PhotoFile>; folders: Map<string, Entry> };

	constructor(private readonly options: ICloudPhotosProviderOptions) {
		this.session = options.session;
		this.library = options.library ?? 'personal';
		this.layout = options.layout ?? 'month';
		this.pacer = options.pacer ?? new Pacer();
		this.timeoutMs = options.requestTimeoutMs ?? 120_000;
		this.remote = new Remote<CallContext>({
			pacer: this.pacer,
			// The session keeps its own cookies and signs in again on 401/421/450; a 423 asks for the PCS cookies once.
			tokens: { prepare: async () => undefined, renew: () => this.session.requestPcs('photos'), secrets: () => this.session.secrets() },
			unauthorized: (error) => error instanceof CloudKitHttpError && error.status === 423,
			mapError: (error, context, redact) => mapCloudKitError(error, context, redact),
		});
	}

	/** Opens the library: finds its zone and reads (or brings up to date) its index. */
	static async open(options: ICloudPhotosProviderOptions): Promise<ICloudPhotosProvider> {
		const provider = new ICloudPhotosProvider(options);
		await provider.index();
		return provider;
	}

	// -----------------------------------------------------------------------------------------
	// Requests

	private get endpoint(): string {
		return `${this.session.serviceUrl('ckdatabasews')}${CLOUDKIT_PATH}`;
	}

	/** One CloudKit call (POST, JSON in a text/plain body as icloud.com sends it); a 200 with an error inside is a failure. */
	private cloudKit<T extends object>(context: CallContext, database: 'private' | 'shared', operation: string, body: object, allowed: string[] = []): Promise<T> {
		const url = `${this.endpoint}/${database}/${operation}?remapEnums=true&getCurrentSyncToken=true`;
		return this.remote.call(
			context,
			async () => {
				const timeout = AbortSignal.timeout(this.timeoutMs);
				const response = await this.session.request(url, {
					method: 'POST',
					body: JSON.stringify(body),
					contentType: 'text/plain',
					signal: context.signal ? AbortSignal.any([context.signal, timeout]) : timeout,
				});
				const text = await response.text();
				let parsed: Record<string, unknown> = {};
				try {
					parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
				} catch {
					if (response.ok) throw new TransientError(`iCloud Photos answered ${operation} with something that is not JSON`);
				}
				if (!response.ok) {
					const reason = String(parsed.reason ?? parsed.errorReason ?? parsed.errorMessage ?? parsed.error ?? '');
					const code = parsed.serverErrorCode ?? parsed.errorCode;
					throw new CloudKitHttpError(response.status, reason, code === undefined ? undefined : String(code), response.headers);
				}
				const failure = errorInAnswer(parsed, allowed);
				if (failure) throw failure;
				return parsed as T;
			},
			context.signal,
		);
	}

	private async findZone(): Promise<{ name: string; database: 'private' | 'shared' }> {
		if (this.zone) return this.zone;
		if (this.library === 'personal') return (this.zone = { name: 'PrimarySync', database: 'private' });
		const key = `${this.session.dsid}|${this.endpoint}`;
		let name = SHARED_ZONES.get(key);
		if (!name) {
			const answer = await this.cloudKit<{ zones?: Array<{ zoneID?: { zoneName?: string }; deleted?: boolean }> }>({ path: '' }, 'shared', 'zones/list', {});
			name = answer.zones?.find((zone) => !zone.deleted && zone.zoneID?.zoneName?.startsWith('SharedSync-'))?.zoneID?.zoneName;
			if (!name) {
				throw new NotFoundError('', { cause: new Error('no Shared Library') });
			}
			SHARED_ZONES.set(key, name);
		}
		return (this.zone = { name, database: 'shared' });
	}

	private cacheKey(zone: string): string {
		return `${this.session.dsid}|${this.endpoint}|${zone}`;
	}

	// -----------------------------------------------------------------------------------------
	// The index

	/** The library's index, brought up to date once for this provider. */
	private index(signal?: AbortSignal): Promise<LibraryIndex> {
		this.ready ??= this.refresh(signal).catch((error: unknown) => {
			this.ready = undefined;
			if (error instanceof NotFoundError && this.library === 'shared') {
				throw new CloudSyncError('This Apple ID takes part in no iCloud Shared Library', {
					cause: error,
					hint: 'Choose "Personal Library", or set up or join a Shared Library in Photos on an iPhone, iPad or Mac.',
				});
			}
			throw error;
		});
		return this.ready;
	}

	/** Runs `work` on the library's index after whatever another provider of this process is doing with it. */
	private async exclusive<T>(work: (index: LibraryIndex, zone: { name: string; database: 'private' | 'shared' }) => Promise<T>): Promise<T> {
		const zone = await this.findZone();
		const key = this.cacheKey(zone.name);
		let index = LIBRARIES.get(key);
		if (!index) {
			index = { masters: new Map(), assets: new Map(), albums: new Map(), relations: new Map(), albumsLoaded: false, queue: Promise.resolve() };
			LIBRARIES.set(key, index);
			while (LIBRARIES.size > CACHED_LIBRARIES) LIBRARIES.delete(LIBRARIES.keys().next().value!);
		} else {
			// Most recently used last, so the oldest library is the one let go.
			LIBRARIES.delete(key);
			LIBRARIES.set(key, index);
		}
		const held = index;
		const run = held.queue.then(() => work(held, zone));
		held.queue = run.catch(() => undefined);
		return run;
	}

	private refresh(signal?: AbortSignal): Promise<LibraryIndex> {
		return this.exclusive(async (index, zone) => {
			if (index.token) {
				try {
					await this.applyChanges(index, zone, index.token, signal);
				} catch (error) {
					if (!(error instanceof CursorExpiredError)) throw error;
					index.token = undefined;
				}
			}
			if (!index.token) await this.loadAll(index, zone, signal);
			if (this.layout === 'albums' && !index.albumsLoaded) await this.loadAlbums(index, zone, signal);
			this.tree = undefined;
			return index;
		});
	}

	/** The whole library through the all-photos index, 100 photos a page; the sync token is taken first, so what changes meanwhile is caught up by the next changes/zone. */
	private async loadAll(index: LibraryIndex, zone: { name: string; database: 'private' | 'shared' }, signal?: AbortSignal): Promise<void> {
		const context = { path: '', signal };
		const zoneID = { zoneName: zone.name };
		const state = await this.cloudKit<{ records?: CkRecord[]; syncToken?: string }>(context, zone.database, 'records/query', { query: { recordType: 'CheckIndexingState' }, zoneID });
		const indexing = state.records?.[0]?.fields?.state?.value;
		if (indexing !== undefined && indexing !== 'FINISHED') {
			throw new TransientError(`iCloud is still preparing this photo library (indexing ${String(indexing)})`, { cause: new Error('indexing') });
		}
		const masters = new Map<string, CkRecord>();
		const assets = new Map<string, CkRecord>();
		await this.pagesOf(zone, ALL_PHOTOS, [], (page) => {
			for (const record of page) {
				if (record.recordType === 'CPLMaster') masters.set(record.recordName, record);
				else if (record.recordType === 'CPLAsset') assets.set(record.recordName, record);
			}
		}, signal);
		index.masters = masters;
		index.assets = assets;
		index.albumsLoaded = false;
		index.token = state.syncToken;
		if (!index.token) throw new TransientError('iCloud Photos sent no sync token with the listing');
	}

	/** Pages of a ranked index (all photos, an album) until one brings no photo. */
	private async pagesOf(zone: { name: string; database: 'private' | 'shared' }, recordType: string, filters: object[], take: (records: CkRecord[]) => void, signal?: AbortSignal): Promise<void> {
		for (let rank = 0; ; ) {
			const answer = await this.cloudKit<{ records?: CkRecord[] }>({ path: '', signal }, zone.database, 'records/query', {
				query: {
					recordType,
					filterBy: [
						{ fieldName: 'startRank', comparator: 'EQUALS', fieldValue: { type: 'INT64', value: rank } },
						{ fieldName: 'direction', comparator: 'EQUALS', fieldValue: { type: 'STRING', value: 'ASCENDING' } },
						...filters,
					],
				},
				resultsLimit: PAGE_RECORDS,
				zoneID: { zoneName: zone.name },
			});
			const records = answer.records ?? [];
			const photos = records.filter((record) => record.recordType === 'CPLMaster').length;
			take(records);
			if (photos === 0) return;
			rank += photos;
		}
	}

	private async loadAlbums(index: LibraryIndex, zone: { name: string; database: 'private' | 'shared' }, signal?: AbortSignal): Promise<void> {
		const albums = new Map<string, string>();
		let marker: string | undefined;
		do {
			const answer = await this.cloudKit<{ records?: CkRecord[]; continuationMarker?: string }>({ path: '', signal }, zone.database, 'records/query', {
				query: { recordType: ALBUMS },
				zoneID: { zoneName: zone.name },
				resultsLimit: PAGE_RECORDS,
				desiredKeys: ['albumNameEnc', 'albumType', 'parentId', 'isDeleted'],
				...(marker ? { continuationMarker: marker } : {}),
			});
			for (const record of answer.records ?? []) this.putAlbum(albums, record);
			marker = answer.continuationMarker;
		} while (marker);
		const relations = new Map<string, { item: string; container: string }>();
		for (const album of albums.keys()) {
			const filter = { fieldName: 'parentId', comparator: 'EQUALS', fieldValue: { type: 'STRING', value: album } };
			await this.pagesOf(zone, IN_ALBUM, [filter], (records) => {
				for (const record of records) if (record.recordType === 'CPLAsset') relations.set(`${record.recordName}-IN-${album}`, { item: record.recordName, container: album });
			}, signal);
		}
		index.albums = albums;
		index.relations = relations;
		index.albumsLoaded = true;
	}

	private putAlbum(albums: Map<string, string>, record: CkRecord): void {
		const name = decodeFilename({ ...record.fields?.albumNameEnc, type: 'ENCRYPTED_BYTES' });
		// Folders (3) and smart albums (6) hold no photos of their own.
		if (flag(record, 'isDeleted') || record.deleted || !name || SYSTEM_ALBUMS.has(record.recordName) || numberOf(record, 'albumType') !== 0) albums.delete(record.recordName);
		else albums.set(record.recordName, name);
	}

	/** Reads changes/zone from `token` until nothing more is coming; returns the changed records (each once, as it is now) and the new token. */
	private async changesFrom(zone: { name: string; database: 'private' | 'shared' }, token: string, signal?: AbortSignal): Promise<{ records: CkRecord[]; token: string }> {
		const records = new Map<string, CkRecord>();
		let current = token;
		for (;;) {
			const answer = await this.cloudKit<{ zones?: ZoneAnswer[] }>({ path: '', signal }, zone.database, 'changes/zone', {
				zones: [{ zoneID: { zoneName: zone.name }, syncToken: current, resultsLimit: PAGE_RECORDS }],
			});
			const page = answer.zones?.find((candidate) => candidate.zoneID?.zoneName === zone.name) ?? answer.zones?.[0];
			if (!page?.syncToken) throw new TransientError('iCloud Photos answered changes/zone without a sync token');
			for (const record of page.records ?? []) {
				records.delete(record.recordName);
				records.set(record.recordName, record);
			}
			current = page.syncToken;
			if (!page.moreComing) return { records: [...records.values()], token: current };
		}
	}

	/** Applies what changed since `token` to the index; returns the changed records. */
	private async applyChanges(index: LibraryIndex, zone: { name: string; database: 'private' | 'shared' }, token: string, signal?: AbortSignal): Promise<CkRecord[]> {
		const { records, token: next } = await this.changesFrom(zone, token, signal);
		for (const record of records) {
			const name = record.recordName;
			if (record.deleted || !record.recordType) {
				index.masters.delete(name);
				index.assets.delete(name);
				index.albums.delete(name);
				index.relations.delete(name);
				continue;
			}
			const gone = flag(record, 'isDeleted') || flag(record, 'isExpunged');
			switch (record.recordType) {
				case 'CPLMaster':
					if (gone) index.masters.delete(name);
					else index.masters.set(name, record);
					break;
				case 'CPLAsset':
					if (gone || flag(record, 'isHidden')) index.assets.delete(name);
					else index.assets.set(name, record);
					break;
				case 'CPLAlbum':
					this.putAlbum(index.albums, record);
					break;
				case 'CPLContainerRelation': {
					const item = record.fields?.itemId?.value;
					const container = record.fields?.containerId?.value;
					if (gone || typeof item !== 'string' || typeof container !== 'string') index.relations.delete(name);
					else index.relations.set(name, { item, container });
					break;
				}
				default:
				// CPLLibraryInfo and the like: not photos.
			}
		}
		// An asset whose master did not come in this delta nor in the listing (a duplicate of an older photo) is looked up;
		// a master purged meanwhile leaves its asset out until the feed reports the asset gone too.
		const missing = [...new Set([...index.assets.values()].map((asset) => this.masterName(asset)).filter((master) => master && !index.masters.has(master)))] as string[];
		for (let at = 0; at < missing.length; at += PAGE_RECORDS) {
			const wanted = { records: missing.slice(at, at + PAGE_RECORDS).map((recordName) => ({ recordName })), zoneID: { zoneName: zone.name } };
			const answer = await this.cloudKit<{ records?: CkRecord[] }>({ path: '', signal }, zone.database, 'records/lookup', wanted, ['NOT_FOUND']);
			for (const record of answer.records ?? []) if (record.recordType === 'CPLMaster') index.masters.set(record.recordName, record);
		}
		index.token = next;
		this.tree = undefined;
		return records;
	}

	private masterName(asset: CkRecord): string | undefined {
		return (asset.fields?.masterRef?.value as { recordName?: string } | undefined)?.recordName;
	}

	// -----------------------------------------------------------------------------------------
	// The tree

	/** The files one photo gives, before names are told apart. */
	private candidates(index: LibraryIndex, asset: CkRecord, folders: string[]): Candidate[] {
		const master = index.masters.get(this.masterName(asset) ?? '');
		if (!master) return [];
		const itemType = String(master.fields?.itemType?.value ?? '');
		const real = decodeFilename(master.fields?.filenameEnc);
		const name = safeSegment(real ?? `${asset.recordName}.${EXTENSIONS[itemType] ?? 'JPG'}`);
		const { stem } = splitName(name);
		const date = numberOf(asset, 'assetDate');
		const found: Candidate[] = [];
		const add = (role: Role, fileName: string, record: CkRecord, field: string) => {
			const resource = record.fields?.[field]?.value as Resource | undefined;
			if (!resource) return;
			for (const folder of folders) found.push({ folder, name: fileName, asset, role, record: record.recordName, field, size: Number(resource.size ?? 0), date });
		};
		add('original', name, master, 'resOriginalRes');
		if (this.options.livePhotoVideos !== false) add('live', `${stem}.MOV`, master, 'resOriginalVidComplRes');
		if (this.options.editedVersions === true && asset.fields?.adjustmentType?.value) {
			add('edited', `${stem}-edited.JPG`, asset, 'resJPEGFullRes');
			if (!asset.fields?.resJPEGFullRes) add('edited', `${stem}-edited.MOV`, asset, 'resVidFullRes');
		}
		return found;
	}

	private foldersOf(index: LibraryIndex, asset: CkRecord, albumFolders: Map<string, string>, albumsOf: Map<string, string[]>): string[] {
		if (this.layout === 'flat') return [''];
		if (this.layout === 'albums') return (albumsOf.get(asset.recordName) ?? []).map((album) => albumFolders.get(album)!).filter(Boolean);
		const local = localDate(asset);
		return [`${local.getUTCFullYear()}/${String(local.getUTCMonth() + 1).padStart(2, '0')}`];
	}

	/** Album folder names, told apart the same way as file names when two albums share one. */
	private albumFolders(index: LibraryIndex): Map<string, string> {
		const byName = new Map<string, string[]>();
		for (const [album, name] of index.albums) {
			const key = safeSegment(name).toLowerCase();
			byName.set(key, [...(byName.get(key) ?? []), album]);
		}
		const folders = new Map<string, string>();
		for (const albums of byName.values()) {
			albums.sort();
			albums.forEach((album, position) => {
				const name = safeSegment(index.albums.get(album)!);
				folders.set(album, position === 0 ? name : `${name}_${suffixOf(album)}`);
			});
		}
		return folders;
	}

	/** Path → file and folder, built from the index: names told apart per folder, ignoring case (destinations may). */
	private build(index: LibraryIndex): { files: Map<string, PhotoFile>; folders: Map<string, Entry> } {
		if (this.tree) return this.tree;
		const albumFolders = this.layout === 'albums' ? this.albumFolders(index) : new Map<string, string>();
		const albumsOf = new Map<string, string[]>();
		if (this.layout === 'albums') {
			for (const { item, container } of index.relations.values()) if (index.albums.has(container)) albumsOf.set(item, [...(albumsOf.get(item) ?? []), container]);
		}
		const groups = new Map<string, Candidate[]>();
		for (const asset of index.assets.values()) {
			for (const candidate of this.candidates(index, asset, this.foldersOf(index, asset, albumFolders, albumsOf))) {
				const key = `${candidate.folder}/${candidate.name.toLowerCase()}`;
				const group = groups.get(key);
				if (group) group.push(candidate);
				else groups.set(key, [candidate]);
			}
		}
		const files = new Map<string, PhotoFile>();
		const folders = new Map<string, Entry>();
		const place = (candidate: Candidate, name: string) => {
			const path = joinPath(candidate.folder, name);
			const entry: Entry = { path, isDir: false, size: candidate.size, modTime: candidate.date, hashes: {}, id: `${candidate.record}/${candidate.field}` };
			files.set(path, { entry, asset: candidate.asset.recordName, record: candidate.record, field: candidate.field });
			for (let folder = candidate.folder; folder !== ''; folder = parentPath(folder)) {
				const known = folders.get(folder);
				if (known) known.modTime = Math.max(known.modTime, candidate.date);
				else folders.set(folder, { path: folder, isDir: true, size: 0, modTime: candidate.date, hashes: {} });
			}
		};
		const addedOf = (candidate: Candidate) => numberOf(candidate.asset, 'addedDate') || candidate.date;
		for (const group of groups.values()) {
			group.sort((a, b) => addedOf(a) - addedOf(b) || a.asset.recordName.localeCompare(b.asset.recordName) || ROLE_ORDER[a.role] - ROLE_ORDER[b.role]);
			group.forEach((candidate, position) => {
				if (position === 0) return place(candidate, candidate.name);
				const { stem, extension } = splitName(candidate.name);
				place(candidate, `${stem}_${suffixOf(candidate.asset.recordName)}${extension}`);
			});
		}
		this.tree = { files, folders };
		return this.tree;
	}

	// -----------------------------------------------------------------------------------------
	// Provider

	async *list(path: string, options: ListOptions = {}): AsyncIterable<Entry> {
		const base = normalizeRelativePath(path);
		const { files, folders } = this.build(await this.index(options.signal));
		if (base !== '' && !folders.has(base)) {
			if (files.has(base)) throw new CloudSyncError(`Cannot list a file as a folder: ${base}`);
			throw new NotFoundError(base);
		}
		const prefix = base === '' ? '' : `${base}/`;
		const below = (entry: Entry) => entry.path.startsWith(prefix) && (options.recursive || !entry.path.slice(prefix.length).includes('/'));
		const entries = [...[...folders.values()].filter(below), ...[...files.values()].map((file) => file.entry).filter(below)];
		// Sorted paths put every folder before what it holds.
		entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
		for (const entry of entries) yield { ...entry };
	}

	async stat(path: string): Promise<Entry> {
		const relative = normalizeRelativePath(path);
		const { files, folders } = this.build(await this.index());
		if (relative === '') return { path: '', isDir: true, size: 0, modTime: 0, hashes: {} };
		const found = files.get(relative)?.entry ?? folders.get(relative);
		if (!found) throw new NotFoundError(relative);
		return { ...found };
	}

	async read(path: string, options: ReadOptions = {}): Promise<Readable> {
		const relative = normalizeRelativePath(path);
		const index = await this.index(options.signal);
		const file = this.build(index).files.get(relative);
		if (!file) throw new NotFoundError(relative);
		const size = file.entry.size;
		const start = Math.max(0, options.start ?? 0);
		const end = Math.min(size, options.end ?? size);
		if (end <= start) return emptyStream();
		const context = { path: relative, signal: options.signal };
		const zone = await this.findZone();
		const record = index.masters.get(file.record) ?? index.assets.get(file.record);
		let url = this.freshUrl(record, file.field);
		const response = await this.remote.call(
			context,
			async () => {
				// A URL signed long ago, or refused, is signed anew by one lookup of the record (R:LookupDownloadURL).
				url ??= await this.lookupUrl(zone, file, options.signal);
				const timeout = AbortSignal.timeout(this.timeoutMs);
				const partial = start > 0 || end < size;
				// The literal `${f}` segment is sent as rclone and icloudpd send it (percent-encoded by fetch).
				const answer = await this.session.request(url, {
					method: 'GET',
					headers: partial ? { Range: `bytes=${start}-${end - 1}` } : {},
					signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
				});
				if (answer.status === 410 || answer.status === 403 || answer.status === 404) {
					await answer.arrayBuffer().catch(() => undefined);
					url = undefined;
					if (answer.status === 404) throw new NotFoundError(relative);
					throw new TransientError(`The download address of ${relative} ran out (HTTP ${answer.status})`);
				}
				if (!answer.ok) {
					await answer.arrayBuffer().catch(() => undefined);
					throw new CloudKitHttpError(answer.status, 'download', undefined, answer.headers);
				}
				if (partial && answer.status !== 206) {
					await answer.arrayBuffer().catch(() => undefined);
					throw new TransientError(`iCloud sent the whole of ${relative} when a range was asked for`);
				}
				return answer;
			},
			options.signal,
		);
		if (!response.body) return emptyStream();
		return bodyStream(response.body, (cause) => new TransientError(`The download of ${relative} broke off`, { cause }), new MeasuringStream([], { size: end - start }));
	}

	/** The listed downloadURL while it has time left. */
	private freshUrl(record: CkRecord | undefined, field: string): string | undefined {
		const url = (record?.fields?.[field]?.value as Resource | undefined)?.downloadURL;
		if (!url) return undefined;
		const expires = Number(/[?&]e=(\d+)/.exec(url)?.[1] ?? 0) * 1000;
		return expires - Date.now() > URL_MARGIN_MS ? url : undefined;
	}

	private async lookupUrl(zone: { name: string; database: 'private' | 'shared' }, file: PhotoFile, signal?: AbortSignal): Promise<string> {
		const answer = await this.cloudKit<{ records?: CkRecord[] }>({ path: file.entry.path, signal }, zone.database, 'records/lookup', {
			records: [{ recordName: file.record }],
			zoneID: { zoneName: zone.name },
		});
		const url = (answer.records?.[0]?.fields?.[file.field]?.value as Resource | undefined)?.downloadURL;
		if (!url) throw new NotFoundError(file.entry.path);
		return url;
	}

	async hash(path: string): Promise<Hashes> {
		await this.stat(path);
		return {};
	}

	write(path: string, content: Readable): Promise<Entry> {
		// Nothing will read what the caller meant to send.
		content.destroy();
		return Promise.reject(new ReadOnlySourceError(path, 'write'));
	}

	mkdir(path: string): Promise<void> {
		return Promise.reject(new ReadOnlySourceError(path, 'create the folder'));
	}

	delete(path: string): Promise<void> {
		return Promise.reject(new ReadOnlySourceError(path, 'delete'));
	}

	move(from: string, to: string): Promise<Entry> {
		return Promise.reject(new ReadOnlySourceError(`${from} to ${to}`, 'move'));
	}

	recovery(): string {
		return 'iCloud Photos is only read: nothing there is changed';
	}

	async locate(): Promise<RootLocation> {
		const zone = await this.findZone();
		return { namespace: `icloud-photos:${this.session.dsid}`, chain: [zone.name, this.layout], names: [this.library, this.layout], caseInsensitive: false };
	}

	// -----------------------------------------------------------------------------------------
	// Changes

	/** The library's sync token now, with the time it was taken; the first call reads the library once. */
	async changeCursor(): Promise<string> {
		const asked = Date.now();
		const index = await this.index();
		const zone = await this.findZone();
		return `${zone.name}|${asked}|${index.token}`;
	}

	/**
	 * What changed in the tree since the cursor: the delta from changes/zone applied to the index, and
	 * the tree before and after compared, so a name that changed because another photo came or went is
	 * reported too. A photo added after the cursor is `added` even when another run of this process
	 * already applied it to the index.
	 */
	async changesSince(cursor: string, options: { signal?: AbortSignal } = {}): Promise<ChangePage> {
		const [zoneName, sinceText, ...rest] = cursor.split('|');
		const token = rest.join('|');
		const since = Number(sinceText);
		const zone = await this.findZone();
		if (zoneName !== zone.name || !Number.isFinite(since) || !token) throw new CursorExpiredError('This is not a change cursor of this iCloud Photos library');
		const asked = Date.now();
		return this.exclusive(async (index) => {
			// The index as this process knows it, not brought up to date first: it is the "before". It may
			// already be past the cursor (a sync of this process applied the same delta).
			if (!index.token) await this.loadAll(index, zone, options.signal);
			if (this.layout === 'albums' && !index.albumsLoaded) await this.loadAlbums(index, zone, options.signal);
			this.tree = undefined;
			const before = this.build(index);
			const records = await this.applyChanges(index, zone, token, options.signal);
			const after = this.build(index);
			const touched = new Set<string>();
			for (const record of records) {
				touched.add(record.recordName);
				const item = record.fields?.itemId?.value;
				if (typeof item === 'string') touched.add(item);
			}
			const changes: Change[] = [];
			for (const [path, file] of after.files) {
				const old = before.files.get(path);
				if (!old || old.asset !== file.asset) changes.push({ kind: 'added', path, entry: { ...file.entry }, isDir: false });
				else if (touched.has(file.asset) || touched.has(file.record)) {
					const asset = index.assets.get(file.asset);
					const kind = numberOf(asset, 'addedDate') >= since ? 'added' : 'modified';
					changes.push({ kind, path, entry: { ...file.entry }, isDir: false });
				}
			}
			for (const [path, folder] of after.folders) if (!before.folders.has(path)) changes.unshift({ kind: 'added', path, entry: { ...folder }, isDir: true });
			for (const [path, file] of before.files) if (!after.files.has(path) || after.files.get(path)!.asset !== file.asset) changes.push({ kind: 'deleted', path, isDir: false });
			for (const path of before.folders.keys()) if (!after.folders.has(path)) changes.push({ kind: 'deleted', path, isDir: true });
			// Photos removed before this process knew them: their path as the delta describes them.
			const changed = new Map(records.map((record) => [record.recordName, record]));
			const known = new Set([...before.files.values()].map((file) => file.asset));
			for (const record of records) {
				if (record.recordType !== 'CPLAsset' || index.assets.has(record.recordName) || known.has(record.recordName)) continue;
				const master = changed.get(this.masterName(record) ?? '') ?? index.masters.get(this.masterName(record) ?? '');
				if (!master?.fields) continue;
				const probe: LibraryIndex = { ...index, masters: new Map([[master.recordName, master]]) };
				for (const candidate of this.candidates(probe, record, this.foldersOf(probe, record, new Map(), new Map()))) {
					const path = joinPath(candidate.folder, candidate.name);
					if (!changes.some((change) => change.path === path)) changes.push({ kind: 'deleted', path, isDir: false });
				}
			}
			this.ready = Promise.resolve(index);
			return { changes, cursor: `${zone.name}|${asked}|${index.token}` };
		});
	}
}

/** Forgets every library this process keeps (tests, and a credential switched to another Apple ID). */
export function forgetICloudPhotosLibraries(): void {
	LIBRARIES.clear();
	SHARED_ZONES.clear();
}
