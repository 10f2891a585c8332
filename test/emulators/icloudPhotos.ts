import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Journal } from './core/journal';
import { decodeToken, encodeToken } from './core/paging';
import { sendContent } from './core/ranges';
import { EmulatorServer, readBody, sendBody, type RequestContext } from './core/server';
import { AppleAuthEmulator, parseCookies, type AppleUser } from './icloudAuth';

/**
 * iCloud Photos as icloud.com's web client meets it: CloudKit web services under
 * `{ckdatabasews}/database/1/com.apple.photos.cloud/production/{private|shared}/...`, after
 * shared/reference/icloud-and-google-photos.md §3. It mounts the Apple sign-in emulator (icloudAuth.ts)
 * on the same server and asks it to authorize every CloudKit call (421 without a web session, 423
 * without the Photos PCS cookies under Advanced Data Protection).
 *
 * Emulated: zones/list (PrimarySync in `private`, a Shared Library `SharedSync-<uuid>` in `shared`);
 * records/query on CheckIndexingState, the all-photos index (startRank paging, at most 200 records a
 * page, one CPLMaster + one CPLAsset per photo), CPLAlbumByPositionLive (continuationMarker paging) and
 * an album's CPLContainerRelationLiveByAssetDate; records/lookup; changes/zone with sync tokens
 * (each changed record once, in its current state; soft deletes re-send the asset with isDeleted:1;
 * purges come as `{recordName, deleted:true}`; `moreComing` past `resultsLimit`; a token this zone did
 * not issue answers 200 with `serverErrorCode: BAD_REQUEST`); expiring `downloadURL`s with a literal
 * `${f}` segment that honour Range, and answer 200 with a 17-byte error body without cookies (K).
 * Both spellings of `filenameEnc` ([unconfirmed]: base64 in ENCRYPTED_BYTES, plain in STRING) are
 * produced (`plainFilenames`).
 *
 * Faults: the core's (429/503 with Retry-After, dropped connections, slow answers), Apple's statuses
 * through `auth.failWith` (421, 450, 423, 503), and `recordError`: an answer of 200 in which one record
 * (or, for changes/zone, the zone) carries a `serverErrorCode`.
 * Not emulated: writes (records/modify, uploads), HyperionIndexCountLookup, smart albums, bursts,
 * changes/database, nested album folders.
 */

const PREFIX = '/ckdatabasews/database/1/com.apple.photos.cloud/production/';
const DOWNLOAD_PREFIX = '/cvws/';
const MAX_RECORDS = 200;
const ALL_PHOTOS = 'CPLAssetAndMasterByAssetDateWithoutHiddenOrDeleted';
const IN_ALBUM = 'CPLContainerRelationLiveByAssetDate';
const ALBUMS = 'CPLAlbumByPositionLive';
/** What a CloudKit download without the web cookies gave K: HTTP 200 and a short error body. */
const COOKIELESS_BODY = Buffer.from('{"error":"auth"}\n');

type Database = 'private' | 'shared';
type Field = { value: unknown; type?: string };
export interface CkRecord {
	recordName: string;
	recordType: string | null;
	recordChangeTag?: string;
	fields?: Record<string, Field>;
	deleted?: boolean;
	created?: { timestamp: number };
	modified?: { timestamp: number };
}

/** A photo as a test describes it. */
export interface PhotoSeed {
	name: string;
	/** Capture time (assetDate), ms. */
	date: number;
	/** When it entered the library (addedDate), ms; now when absent (seedLibrary: the capture date). */
	added?: number;
	/** The original's bytes; made up from the name when absent. */
	content?: Buffer;
	/** A UTI; from the extension when absent. */
	itemType?: string;
	/** A Live Photo: the video part's bytes (resOriginalVidComplRes). */
	live?: Buffer | true;
	/** An edited photo: the rendered JPEG (resJPEGFullRes on the asset). */
	edited?: Buffer | true;
	hidden?: boolean;
	/** Album names it belongs to (made on first use). */
	albums?: string[];
	/** Minutes east of UTC where it was taken (timeZoneOffset, seconds in CloudKit). */
	timeZoneMinutes?: number;
}

interface Zone {
	name: string;
	database: Database;
	ownerRecordName: string;
	records: Map<string, CkRecord>;
	/** Record names in the order they changed; a sync token is a position. */
	journal: Journal<string>;
	/** Resource bytes by `<recordName>/<field>`. */
	contents: Map<string, Buffer | (() => Buffer)>;
	/** Live assets by asset date, rebuilt after a change. */
	sorted?: CkRecord[];
}

interface RecordErrorRule {
	route: RegExp;
	code: string;
	times: number;
	used: number;
}

const UTI: Record<string, string> = {
	heic: 'public.heic',
	jpg: 'public.jpeg',
	jpeg: 'public.jpeg',
	png: 'public.png',
	dng: 'com.adobe.raw-image',
	cr2: 'com.canon.cr2-raw-image',
	mov: 'com.apple.quicktime-movie',
	mp4: 'public.mpeg-4',
};

/** A 28-character base64 fingerprint of 21 bytes starting 0x01, as CPLMaster names look. */
function fingerprint(seed: string): string {
	return Buffer.concat([Buffer.from([1]), createHash('sha1').update(seed).digest()]).toString('base64');
}


export interface ICloudPhotosEmulatorOptions {
	/**
	 * Another iCloud emulator's sign-in, so one Apple ID's web session works on both (iCloud Drive and
	 * Photos in one workflow); that emulator then routes CloudKit calls here (`handle`).
	 */
	auth?: AppleAuthEmulator;
	/** The mounting emulator's server: its base URL names the download URLs and its log counts the CloudKit calls. */
	host?: EmulatorServer;
	/** filenameEnc as a STRING holding the plain name, instead of base64 in ENCRYPTED_BYTES. */
	plainFilenames?: boolean;
	/** How long a downloadURL works. */
	downloadUrlLifetimeMs?: number;
	seed?: number;
}

export class ICloudPhotosEmulator {
	readonly server: EmulatorServer;
	readonly auth: AppleAuthEmulator;
	private readonly zones = new Map<string, Zone>();
	private readonly recordErrors: RecordErrorRule[] = [];
	private epoch = randomUUID().slice(0, 8);
	private counter = 0;
	/** Indexing answers RUNNING until set (a library still being prepared after sign-in). */
	indexing = 'FINISHED';

	private constructor(private readonly options: ICloudPhotosEmulatorOptions) {
		this.auth = options.auth ?? new AppleAuthEmulator(() => this.server.baseUrl);
		if (!options.auth) this.auth.services = { ckdatabasews: '/ckdatabasews' };
		this.server = options.host ?? new EmulatorServer((request, response, context) => this.route(request, response, context), AppleAuthEmulator.renderFault, options.seed);
		this.addZone('PrimarySync', 'private');
	}

	static async start(options: ICloudPhotosEmulatorOptions = {}, users: AppleUser[] = []): Promise<ICloudPhotosEmulator> {
		const emulator = new ICloudPhotosEmulator(options);
		for (const user of users) emulator.auth.addUser(user);
		await emulator.server.start();
		return emulator;
	}

	/**
	 * A Photos library served by another iCloud emulator's server and sign-in (iCloud Drive's), so one
	 * CLOUDSYNC_ICLOUD_URL and one Apple ID reach both; the host passes the routes it does not know to `handle`.
	 */
	static mounted(auth: AppleAuthEmulator, host: EmulatorServer, options: Omit<ICloudPhotosEmulatorOptions, 'auth' | 'host'> = {}): ICloudPhotosEmulator {
		auth.services = { ...auth.services, ckdatabasews: '/ckdatabasews' };
		return new ICloudPhotosEmulator({ ...options, auth, host });
	}

	get baseUrl(): string {
		return this.server.baseUrl;
	}

	stop(): Promise<void> {
		return this.server.stop();
	}

	/** The Shared Library the account takes part in; its zone name. */
	addSharedLibrary(): string {
		const name = `SharedSync-${randomUUID().toUpperCase()}`;
		this.addZone(name, 'shared');
		return name;
	}

	private addZone(name: string, database: Database): Zone {
		const zone: Zone = { name, database, ownerRecordName: `_${createHash('md5').update(name).digest('hex')}`, records: new Map(), journal: new Journal(), contents: new Map() };
		this.zones.set(name, zone);
		return zone;
	}

	private zone(name = 'PrimarySync'): Zone {
		const zone = this.zones.get(name);
		if (!zone) throw new Error(`no zone ${name}`);
		return zone;
	}

	/** Answers the next `times` matching CloudKit calls with 200 and a `serverErrorCode` on one record (or the zone). */
	recordError(rule: { route?: RegExp; code?: string; times?: number }): void {
		this.recordErrors.push({ route: rule.route ?? /./, code: rule.code ?? 'INTERNAL_ERROR', times: rule.times ?? 1, used: 0 });
	}

	/** CloudKit stops taking the sync tokens it issued (as after a zone reset): they answer 200 with BAD_REQUEST. */
	forgetSyncTokens(): void {
		this.epoch = randomUUID().slice(0, 8);
	}

	/** Every CloudKit call so far (the API-call count). */
	cloudKitCalls(): number {
		return this.server.requests(/^POST \/ckdatabasews\//).length;
	}

	// -----------------------------------------------------------------------------------------
	// Seeding

	private put(zone: Zone, record: CkRecord): void {
		const now = Date.now();
		record.recordChangeTag = (++this.counter).toString(36);
		record.modified = { timestamp: now };
		record.created ??= { timestamp: now };
		zone.records.set(record.recordName, record);
		zone.journal.record(record.recordName);
		zone.sorted = undefined;
	}

	private resource(zone: Zone, recordName: string, field: string, bytes: Buffer | (() => Buffer), size: number): Field {
		zone.contents.set(`${recordName}/${field}`, bytes);
		return { type: 'ASSETID', value: { size, fileChecksum: fingerprint(`${recordName}/${field}`), downloadURL: '' } };
	}

	/** Adds photos; returns the CPLAsset record names. */
	addPhotos(seeds: PhotoSeed[], zoneName?: string): string[] {
		const zone = this.zone(zoneName);
		return seeds.map((seed) => this.addPhoto(zone, seed));
	}

	/**
	 * Adds `count` photos quickly: dates a few minutes apart from `start`, names IMG_0001.HEIC…, every
	 * `liveEvery`-th one a Live Photo. Bytes are made on download.
	 */
	seedLibrary(count: number, options: { start?: number; liveEvery?: number; zone?: string; prefix?: string } = {}): void {
		const zone = this.zone(options.zone);
		const start = options.start ?? Date.UTC(2020, 0, 1);
		const liveEvery = options.liveEvery ?? 3;
		for (let index = 0; index < count; index++) {
			const name = `${options.prefix ?? 'IMG_'}${String((index % 9999) + 1).padStart(4, '0')}.HEIC`;
			this.addPhoto(zone, { name, date: start + index * 7 * 60_000, live: index % liveEvery === 0 ? true : undefined }, true);
		}
	}

	private addPhoto(zone: Zone, seed: PhotoSeed, lazy = false): string {
		const serial = ++this.counter;
		const masterName = fingerprint(`${zone.name}/${serial}/${seed.name}`);
		const assetName = randomUUID().toUpperCase();
		const made = (label: string) => () => Buffer.from(`${label} ${seed.name} #${serial} `.repeat(8));
		const original = seed.content ?? (lazy ? made('original') : made('original')());
		const sizeOf = (bytes: Buffer | (() => Buffer)) => (typeof bytes === 'function' ? bytes().length : bytes.length);
		const extension = /\.([^.]+)$/.exec(seed.name)?.[1]?.toLowerCase() ?? '';
		const plain = this.options.plainFilenames === true;
		const masterFields: Record<string, Field> = {
			filenameEnc: plain ? { type: 'STRING', value: seed.name } : { type: 'ENCRYPTED_BYTES', value: Buffer.from(seed.name, 'utf8').toString('base64') },
			itemType: { type: 'STRING', value: seed.itemType ?? UTI[extension] ?? 'public.jpeg' },
			resOriginalRes: this.resource(zone, masterName, 'resOriginalRes', original, sizeOf(original)),
			resOriginalFingerprint: { type: 'STRING', value: masterName },
		};
		if (seed.live) {
			const video = seed.live === true ? made('live video') : seed.live;
			masterFields.resOriginalVidComplRes = this.resource(zone, masterName, 'resOriginalVidComplRes', lazy ? video : typeof video === 'function' ? video() : video, sizeOf(video));
		}
		this.put(zone, { recordName: masterName, recordType: 'CPLMaster', fields: masterFields });
		const assetFields: Record<string, Field> = {
			masterRef: { type: 'REFERENCE', value: { recordName: masterName, action: 'DELETE_SELF', zoneID: { zoneName: zone.name } } },
			assetDate: { type: 'TIMESTAMP', value: seed.date },
			addedDate: { type: 'TIMESTAMP', value: seed.added ?? (lazy ? seed.date : Date.now()) },
			timeZoneOffset: { type: 'INT64', value: (seed.timeZoneMinutes ?? 0) * 60 },
			isFavorite: { type: 'INT64', value: 0 },
		};
		if (seed.hidden) assetFields.isHidden = { type: 'INT64', value: 1 };
		if (seed.live) assetFields.assetSubtypeV2 = { type: 'INT64', value: 2 };
		if (seed.edited) {
			const rendered = seed.edited === true ? made('edited')() : seed.edited;
			assetFields.adjustmentType = { type: 'STRING', value: 'com.apple.photo' };
			assetFields.resJPEGFullRes = this.resource(zone, assetName, 'resJPEGFullRes', rendered, rendered.length);
		}
		this.put(zone, { recordName: assetName, recordType: 'CPLAsset', fields: assetFields });
		for (const album of seed.albums ?? []) this.addToAlbum(album, assetName, zone.name);
		return assetName;
	}

	/** The album's record name, made on first use. */
	album(name: string, zoneName?: string): string {
		const zone = this.zone(zoneName);
		const encoded = Buffer.from(name, 'utf8').toString('base64');
		for (const record of zone.records.values()) if (record.recordType === 'CPLAlbum' && record.fields?.albumNameEnc?.value === encoded) return record.recordName;
		const recordName = randomUUID().toUpperCase();
		this.put(zone, {
			recordName,
			recordType: 'CPLAlbum',
			fields: { albumNameEnc: { type: 'ENCRYPTED_BYTES', value: encoded }, albumType: { type: 'INT64', value: 0 }, position: { type: 'INT64', value: zone.records.size } },
		});
		return recordName;
	}

	addToAlbum(albumName: string, assetName: string, zoneName?: string): void {
		const zone = this.zone(zoneName);
		const album = this.album(albumName, zoneName);
		this.put(zone, {
			recordName: `${assetName}-IN-${album}`,
			recordType: 'CPLContainerRelation',
			fields: { itemId: { type: 'STRING', value: assetName }, containerId: { type: 'STRING', value: album }, position: { type: 'INT64', value: 0 } },
		});
	}

	/** Moves a photo to Recently Deleted: the asset and its master are re-sent with isDeleted:1 (K). */
	softDelete(assetName: string, zoneName?: string): void {
		const zone = this.zone(zoneName);
		const asset = zone.records.get(assetName)!;
		const master = zone.records.get(this.masterOf(asset))!;
		for (const record of [asset, master]) this.put(zone, { ...record, fields: { ...record.fields, isDeleted: { type: 'INT64', value: 1 } } });
	}

	/** Removes a photo for good: `{recordName, deleted:true}` in the feed (K). */
	purge(assetName: string, zoneName?: string): void {
		const zone = this.zone(zoneName);
		const asset = zone.records.get(assetName)!;
		for (const name of [assetName, this.masterOf(asset)]) this.put(zone, { recordName: name, recordType: null, deleted: true });
	}

	/** Shows a hidden photo again: only the asset changes, so a client that never listed its master must look it up. */
	unhide(assetName: string, zoneName?: string): void {
		const zone = this.zone(zoneName);
		const asset = zone.records.get(assetName)!;
		const fields = { ...asset.fields };
		delete fields.isHidden;
		this.put(zone, { ...asset, fields });
	}

	/** iOS "Duplicate": a second asset on the same master. */
	duplicate(assetName: string, zoneName?: string): string {
		const zone = this.zone(zoneName);
		const asset = zone.records.get(assetName)!;
		const copy = randomUUID().toUpperCase();
		this.put(zone, { recordName: copy, recordType: 'CPLAsset', fields: { ...asset.fields, addedDate: { type: 'TIMESTAMP', value: Date.now() } } });
		return copy;
	}

	/** Favourites a photo: only the asset changes. */
	touch(assetName: string, zoneName?: string): void {
		const zone = this.zone(zoneName);
		const asset = zone.records.get(assetName)!;
		this.put(zone, { ...asset, fields: { ...asset.fields, isFavorite: { type: 'INT64', value: 1 } } });
	}

	private masterOf(asset: CkRecord): string {
		return (asset.fields?.masterRef?.value as { recordName: string }).recordName;
	}

	/** The bytes a resource serves (tests compare downloads with them). */
	bytesOf(recordName: string, field: string, zoneName?: string): Buffer {
		const content = this.zone(zoneName).contents.get(`${recordName}/${field}`);
		if (!content) throw new Error(`no ${field} on ${recordName}`);
		return typeof content === 'function' ? content() : content;
	}

	assetRecord(assetName: string, zoneName?: string): CkRecord {
		return this.zone(zoneName).records.get(assetName)!;
	}

	// -----------------------------------------------------------------------------------------
	// Routes

	private async route(request: IncomingMessage, response: ServerResponse, context: RequestContext): Promise<void> {
		const path = context.url.pathname;
		if (this.auth.statusFault(`${request.method} ${path}`, response)) return;
		if (await this.auth.handle(request, response, context.url)) return;
		if (!(await this.handle(request, response, context))) this.send(response, context, 404, { error: `No route ${path}` });
	}

	/** Answers CloudKit and download calls; false for any other path (another emulator mounting this one goes on). */
	async handle(request: IncomingMessage, response: ServerResponse, context: RequestContext): Promise<boolean> {
		const path = context.url.pathname;
		if (path.startsWith(DOWNLOAD_PREFIX)) {
			this.download(request, response, context);
			return true;
		}
		if (!path.startsWith(PREFIX) || request.method !== 'POST') return false;
		await this.cloudKit(request, response, context);
		return true;
	}

	private async cloudKit(request: IncomingMessage, response: ServerResponse, context: RequestContext): Promise<void> {
		const path = context.url.pathname;
		const raw = (await readBody(request)).toString('utf8');
		const account = this.auth.authorize(request, response, { pcs: 'Photos' });
		if (!account) return;
		const [database, ...rest] = path.slice(PREFIX.length).split('/');
		const operation = rest.join('/');
		if (database !== 'private' && database !== 'shared') return this.send(response, context, 404, { error: `No database ${database}` });
		let body: Record<string, unknown>;
		try {
			body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
		} catch {
			return this.send(response, context, 400, { serverErrorCode: 'BAD_REQUEST', reason: 'Body is not JSON' });
		}
		const answer = this.operation(database, operation, body);
		if (answer.status === 200) this.injectRecordError(`${request.method} ${path}`, answer.body);
		this.send(response, context, answer.status, answer.body);
	}

	/** JSON through sendBody, so a dropped connection ('reset') cuts JSON answers too. */
	private send(response: ServerResponse, context: RequestContext, status: number, body: unknown): void {
		sendBody(response, context, status, { 'content-type': 'application/json; charset=UTF-8' }, Buffer.from(JSON.stringify(body)));
	}

	private injectRecordError(signature: string, body: Record<string, unknown>): void {
		const rule = this.recordErrors.find((candidate) => candidate.route.test(signature) && candidate.used < candidate.times);
		if (!rule) return;
		rule.used++;
		const failure = { serverErrorCode: rule.code, reason: `Internal error (${rule.code})` };
		const records = body.records as CkRecord[] | undefined;
		const zones = body.zones as Array<Record<string, unknown>> | undefined;
		if (records?.length) records[0] = { recordName: records[0].recordName, recordType: null, ...failure } as CkRecord;
		else if (records) records.push({ recordName: 'unknown', recordType: null, ...failure } as CkRecord);
		else if (zones?.length) Object.assign(zones[0], failure, { records: [] });
	}

	private operation(database: Database, operation: string, body: Record<string, unknown>): { status: number; body: Record<string, unknown> } {
		const zoneName = (body.zoneID as { zoneName?: string } | undefined)?.zoneName;
		const zoneIn = (name: string | undefined) => {
			const zone = name ? this.zones.get(name) : undefined;
			return zone && zone.database === database ? zone : undefined;
		};
		const zoneMissing = { status: 200, body: { records: [{ serverErrorCode: 'ZONE_NOT_FOUND', reason: `Zone ${zoneName} does not exist` }] } };
		switch (operation) {
			case 'zones/list':
				return {
					status: 200,
					body: { zones: [...this.zones.values()].filter((zone) => zone.database === database).map((zone) => ({ zoneID: this.zoneId(zone), syncToken: this.token(zone, zone.journal.head) })) },
				};
			case 'records/query': {
				const zone = zoneIn(zoneName);
				if (!zone) return zoneMissing;
				return this.query(zone, body);
			}
			case 'records/lookup': {
				const zone = zoneIn(zoneName);
				if (!zone) return zoneMissing;
				const wanted = (body.records as Array<{ recordName: string }> | undefined) ?? [];
				const records = wanted.map((want) => {
					const record = zone.records.get(want.recordName);
					return record && !record.deleted ? this.render(zone, record) : { recordName: want.recordName, serverErrorCode: 'NOT_FOUND', reason: 'Record not found' };
				});
				return { status: 200, body: { records } };
			}
			case 'changes/zone': {
				const asks = (body.zones as Array<{ zoneID?: { zoneName?: string }; syncToken?: string; resultsLimit?: number }> | undefined) ?? [];
				return { status: 200, body: { zones: asks.map((ask) => this.zoneChanges(zoneIn(ask.zoneID?.zoneName), ask)) } };
			}
			default:
				return { status: 400, body: { serverErrorCode: 'BAD_REQUEST', reason: `Unknown operation ${operation}` } };
		}
	}

	private zoneId(zone: Zone) {
		return { zoneName: zone.name, ownerRecordName: zone.ownerRecordName, zoneType: 'REGULAR_CUSTOM_ZONE' };
	}

	private token(zone: Zone, position: number): string {
		return encodeToken({ e: this.epoch, z: zone.name, p: position });
	}

	private position(zone: Zone, token: unknown): number | undefined {
		const state = decodeToken<{ e: string; z: string; p: number }>(token, (value) => typeof value.p === 'number');
		return state && state.e === this.epoch && state.z === zone.name && state.p <= zone.journal.head ? state.p : undefined;
	}

	/** A copy with fresh download URLs, as CloudKit signs them per answer. */
	private render(zone: Zone, record: CkRecord): CkRecord {
		if (!record.fields) return { ...record };
		const fields: Record<string, Field> = {};
		const expires = Math.floor((Date.now() + (this.options.downloadUrlLifetimeMs ?? 3_600_000)) / 1000);
		for (const [key, field] of Object.entries(record.fields)) {
			if (field.type === 'ASSETID' && field.value && typeof field.value === 'object') {
				const url = `${this.auth.baseUrl()}${DOWNLOAD_PREFIX}${encodeURIComponent(zone.name)}/${encodeURIComponent(record.recordName)}/${key}/\${f}?o=${zone.ownerRecordName}&e=${expires}`;
				fields[key] = { ...field, value: { ...(field.value as object), downloadURL: url } };
			} else fields[key] = field;
		}
		return { ...record, fields };
	}

	private live(zone: Zone): CkRecord[] {
		if (!zone.sorted) {
			const flag = (record: CkRecord, name: string) => Number(record.fields?.[name]?.value ?? 0) === 1;
			zone.sorted = [...zone.records.values()]
				.filter((record) => record.recordType === 'CPLAsset' && !record.deleted && !flag(record, 'isDeleted') && !flag(record, 'isHidden'))
				.sort((a, b) => Number(a.fields!.assetDate.value) - Number(b.fields!.assetDate.value) || a.recordName.localeCompare(b.recordName));
		}
		return zone.sorted;
	}

	private query(zone: Zone, body: Record<string, unknown>): { status: number; body: Record<string, unknown> } {
		const query = (body.query ?? {}) as { recordType?: string; filterBy?: Array<{ fieldName: string; fieldValue?: { value?: unknown } }> | { fieldName: string; fieldValue?: { value?: unknown } } };
		const filters = Array.isArray(query.filterBy) ? query.filterBy : query.filterBy ? [query.filterBy] : [];
		const filter = (name: string) => filters.find((candidate) => candidate.fieldName === name)?.fieldValue?.value;
		const limit = Math.min(MAX_RECORDS, Math.max(1, Number(body.resultsLimit ?? MAX_RECORDS)));
		const syncToken = this.token(zone, zone.journal.head);
		switch (query.recordType) {
			case 'CheckIndexingState':
				return { status: 200, body: { records: [{ recordName: '_CheckIndexingState', recordType: 'CheckIndexingState', fields: { state: { value: this.indexing, type: 'STRING' } } }], syncToken } };
			case ALL_PHOTOS:
			case IN_ALBUM: {
				let assets = this.live(zone);
				if (query.recordType === IN_ALBUM) {
					const album = String(filter('parentId') ?? '');
					const members = new Set(
						[...zone.records.values()]
							.filter((record) => record.recordType === 'CPLContainerRelation' && !record.deleted && record.fields?.containerId?.value === album && Number(record.fields?.isDeleted?.value ?? 0) !== 1)
							.map((record) => String(record.fields!.itemId.value)),
					);
					assets = assets.filter((asset) => members.has(asset.recordName));
				}
				if (filter('direction') === 'DESCENDING') assets = [...assets].reverse();
				const start = Math.max(0, Number(filter('startRank') ?? 0));
				const records: CkRecord[] = [];
				for (const asset of assets.slice(start, start + Math.floor(limit / 2))) {
					records.push(this.render(zone, zone.records.get(this.masterOf(asset))!), this.render(zone, asset));
				}
				return { status: 200, body: { records, syncToken } };
			}
			case ALBUMS: {
				const albums = [...zone.records.values()].filter((record) => record.recordType === 'CPLAlbum' && !record.deleted && Number(record.fields?.isDeleted?.value ?? 0) !== 1);
				const start = Number(decodeToken<{ a: number }>(body.continuationMarker, (value) => typeof value.a === 'number')?.a ?? 0);
				const page = albums.slice(start, start + limit).map((album) => this.render(zone, album));
				const next = start + limit < albums.length ? encodeToken({ a: start + limit }) : undefined;
				return { status: 200, body: { records: page, syncToken, ...(next ? { continuationMarker: next } : {}) } };
			}
			default:
				return { status: 400, body: { serverErrorCode: 'BAD_REQUEST', reason: `Unknown index ${query.recordType}` } };
		}
	}

	private zoneChanges(zone: Zone | undefined, ask: { zoneID?: { zoneName?: string }; syncToken?: string; resultsLimit?: number }): Record<string, unknown> {
		if (!zone) return { zoneID: ask.zoneID, serverErrorCode: 'ZONE_NOT_FOUND', reason: 'Zone does not exist' };
		// No token: the whole history.
		const from = ask.syncToken === undefined ? 0 : this.position(zone, ask.syncToken);
		if (from === undefined) return { zoneID: this.zoneId(zone), serverErrorCode: 'BAD_REQUEST', reason: 'Unknown sync continuation type' };
		const limit = Math.min(MAX_RECORDS, Math.max(1, Number(ask.resultsLimit ?? MAX_RECORDS)));
		const positions = zone.journal.latest(from, (name) => name, () => true);
		const page = positions.slice(0, limit);
		const moreComing = positions.length > page.length;
		const records = page.map((position) => this.render(zone, zone.records.get(zone.journal.at(position))!));
		const next = moreComing ? page.at(-1)! + 1 : zone.journal.head;
		return { zoneID: this.zoneId(zone), syncToken: this.token(zone, next), moreComing, records };
	}

	private download(request: IncomingMessage, response: ServerResponse, context: RequestContext): void {
		const [zoneName, recordName, field] = context.url.pathname.slice(DOWNLOAD_PREFIX.length).split('/').map((part) => decodeURIComponent(part));
		const expires = Number(context.url.searchParams.get('e') ?? 0) * 1000;
		const zone = this.zones.get(zoneName);
		const content = zone?.contents.get(`${recordName}/${field}`);
		if (!content || zone?.records.get(recordName)?.deleted) return this.send(response, context, 404, { error: 'Not Found' });
		if (expires < Date.now()) return this.send(response, context, 410, { error: 'Gone' });
		const web = parseCookies(request.headers.cookie)['X-APPLE-WEBAUTH-TOKEN'];
		if (!web) {
			sendBody(response, context, 200, { 'content-type': 'application/json' }, COOKIELESS_BODY);
			return;
		}
		const bytes = typeof content === 'function' ? content() : content;
		sendContent(response, context, request.headers.range, { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' }, bytes, () => Object.assign(new Error('unsatisfiable'), { status: 416 }));
	}
}


