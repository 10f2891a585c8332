import type { Entry, Provider } from '../core/types';
import { createFilter, includes, type FilterOptions } from '../core/filters';
import type { RunSettings } from '../engine/executor';
import { AbortedError, AuthenticationError, NotFoundError, PermissionError, QuotaExhaustedError, StorageFullError } from '../core/errors';
import { baseName } from '../core/paths';
import { forEachLimit } from '../core/concurrency';
import { Run, type RunReport } from '../engine/run';
import { failureOf, isFailure, type Failure } from '../engine/failures';
import { listAll, requireComplete, type SyncStatus } from '../engine/listing';
import type { StateStore } from '../state/state';
import { StateError } from '../state/state';
import { decodeLedger, describeSource, emptyLedger, encodeLedger, removeEntry, setAside, sourceOfDescription, sourceOrigin, type Ledger, type LedgerEntry } from '../state/ledger';
import { ALBUM_CAPACITY, MAX_ITEMS_PER_CREATE, photosRefusal, type GooglePhotosLibrary, type PhotosAlbum } from '../providers/googlePhotos';

/** What the mode needs of Google Photos; the library class is the one implementation. */
export type PhotoLibrary = Pick<GooglePhotosLibrary, 'name' | 'pacer' | 'requests' | 'upload' | 'createItems' | 'createAlbum' | 'album' | 'albums' | 'albumItems'>;

export interface AddToPhotosOptions extends RunSettings {
	/** Where the ledger (source file → media item) lives between runs. */
	ledger: StateStore;
	/** Names the sync (its source and accounts); a ledger of another sync is never used. */
	pair: string;
	/** The album this sync adds to, made by this app; a full one (20,000 items) is followed by "<title> (2)". */
	albumTitle: string;
	filter?: FilterOptions;
	dryRun?: boolean;
	/** Times a media item Google reported as failed for a passing reason is tried again in the run (default 3). */
	itemRetries?: number;
	/** Items an album takes before the next one is started (default and most: Google's 20,000). */
	albumCapacity?: number;
}

export interface PhotoResult {
	path: string;
	status: 'uploaded' | 'failed' | 'skipped' | 'planned';
	reason: string;
	mediaItemId?: string;
	album?: string;
	error?: string;
}

export interface AddToPhotosReport extends RunReport {
	mode: 'addToGooglePhotos';
	dryRun: boolean;
	/** The album new items went to (the last one, when a full one was followed by another). */
	album?: { id: string; title: string; productUrl?: string };
	sourceFiles: number;
	uploaded: number;
	/** Source files the ledger says Google Photos already holds, unchanged. */
	alreadyInLibrary: number;
	/** Files changed at the source since they were added: added again as new items (Google Photos cannot replace one). */
	changedAtSource: number;
	/** Files moved or renamed at the source (the same source id): the ledger follows them, nothing is uploaded. */
	movedAtSource: number;
	/** Files Google Photos does not take (not a photo or video, too large). */
	skipped: number;
	failed: number;
	/** Files that were to be uploaded but were not reached: the run stopped (the daily quota) or was cancelled. */
	notReached: number;
	/** Files whose bytes Google holds (an upload token kept in the ledger for a day) but whose items are not made yet: the next run makes them. */
	awaitingCreate: number;
	bytes: number;
	/** Files found gone from the source by this run: Google Photos keeps them (no app may delete), listed so that a person can. */
	deletedAtSource: Array<{ path: string; mediaItemId: string; productUrl: string }>;
	/** Every file of the ledger whose source is gone, this run's included. */
	goneFromSource: number;
	/** Why the run stopped before the end (the daily quota, a refused credential); undefined when it did not. */
	stopped?: string;
	/** Requests sent to Google Photos, each counting against its daily quota of 10,000. */
	requests: number;
	/** batchCreate requests among them. */
	createRequests: number;
	ledgerSaved: boolean;
	ledgerFiles: number;
	ledgerBytes: number;
	/** Ledger entries found again in the album from the descriptions the items were given. */
	recoveredFromAlbum: number;
	ledgerNote?: string;
	results: PhotoResult[];
	errors: Array<{ path: string } & Failure>;
}

/** An upload token lives a day [doc] upload-media; an hour less leaves room for the run that uses it. */
const TOKEN_REUSE_MS = 23 * 3_600_000;

/** Failures after which no other file can be added in this run. */
const stopsTheRun = (error: unknown) =>
	error instanceof QuotaExhaustedError || error instanceof AuthenticationError || error instanceof PermissionError || error instanceof StorageFullError;

export const productUrlOf = (mediaItemId: string) => `https://photos.google.com/lr/photo/${mediaItemId}`;

interface Ready {
	file: Entry;
	token: string;
	reason: string;
	album: number;
	attempts: number;
	/** The token came from an earlier run's upload. */
	reused: boolean;
}

/**
 * Adds what a source holds to Google Photos, add-only and driven by a ledger, since Google Photos
 * has no lookup by hash, no listing of the user's library and no delete: a source file is added once
 * (uploads in parallel, media items made 50 a request into an album the app made), a changed file is
 * added again, a moved one is followed by its source id, and a deleted one is reported, never
 * silently forgotten. Any provider can be the source.
 */
export async function addToGooglePhotos(source: Provider, library: PhotoLibrary, options: AddToPhotosOptions): Promise<AddToPhotosReport> {
	const run = new Run(source, library, options);
	const { pacer, started } = run;
	const { signal } = options;
	const requestsBefore = library.requests;
	const dryRun = options.dryRun ?? false;
	const report: AddToPhotosReport = {
		mode: 'addToGooglePhotos',
		dryRun,
		status: 'planned',
		sourceFiles: 0,
		uploaded: 0,
		alreadyInLibrary: 0,
		changedAtSource: 0,
		movedAtSource: 0,
		skipped: 0,
		failed: 0,
		notReached: 0,
		awaitingCreate: 0,
		bytes: 0,
		deletedAtSource: [],
		goneFromSource: 0,
		requests: 0,
		createRequests: 0,
		ledgerSaved: false,
		ledgerFiles: 0,
		ledgerBytes: 0,
		recoveredFromAlbum: 0,
		results: [],
		errors: [],
		retries: 0,
		notes: [],
		startedAt: '',
		finishedAt: '',
		durationMs: 0,
	};

	const filter = createFilter(options.filter);
	const listing = await listAll(source, filter, pacer, signal);
	// Half a listing would report photos as deleted at the source.
	requireComplete({ source: listing, destination: { entries: [] } }, 'Adding to Google Photos stopped before uploading anything', 'nothing was uploaded');
	const loaded = await loadLedger(options);
	const ledger = loaded.ledger;
	report.ledgerNote = loaded.note;
	let dirty = loaded.text === undefined;

	const albums = new AlbumChooser(library, ledger, options.albumTitle, Math.min(options.albumCapacity ?? ALBUM_CAPACITY, ALBUM_CAPACITY), dryRun, signal);
	const finish = (status: SyncStatus, also: Failure[] = []) => {
		report.requests = library.requests - requestsBefore;
		report.ledgerFiles = ledger.entries.size;
		const last = albums.last();
		if (last) report.album = { id: last.id, title: last.title, productUrl: albums.productUrl };
		return run.finish(report, status, also);
	};
	const origin = source.locate ? sourceOrigin(await source.locate()) : undefined;
	let current: Awaited<ReturnType<AlbumChooser['current']>>;
	let foreign = 0;
	try {
		current = await albums.current();
		for (const index of current?.lagging ?? []) {
			const found = await recover(library, ledger, index, origin, signal);
			report.recoveredFromAlbum += found.recovered;
			foreign += found.foreign;
		}
	} catch (error) {
		// The quota already used up (or the credential refused) before anything was added: nothing changed, the ledger stays as it was.
		if (!stopsTheRun(error)) throw error;
		const failure = failureOf(error);
		report.stopped = failure.message;
		return finish('failed', [failure]);
	}
	if (report.recoveredFromAlbum > 0 || albums.added) dirty = true;
	if (foreign > 0) {
		run.notes.push(
			`${foreign} items of the album "${current!.album.title}" came from another source (another sync adding to an album of this title): they are not this sync's, and the album is read again each run; give each sync an Album of its own`,
		);
	}

	// The plan: what the ledger says is there, what is new or changed, what moved, what is gone.
	const files = listing.entries.filter((entry) => !entry.isDir);
	report.sourceFiles = files.length;
	const byPath = new Map(files.map((file) => [file.path, file]));
	const window = Math.max(1, source.capabilities.modTimePrecisionMs);
	const unchanged = (known: { size: number; modTime: number }, file: Entry) => known.size === file.size && Math.abs(known.modTime - file.modTime) <= window;
	// A source can hand a deleted file's name to another (iCloud Photos' equal names): where both sides have ids, a path is the entry's only with its id.
	const sameSource = (entry: LedgerEntry, file: Entry) => !entry.sourceId || !file.id || entry.sourceId === file.id;
	const held = (entry: LedgerEntry) => {
		const file = byPath.get(entry.path);
		return file !== undefined && sameSource(entry, file);
	};
	const bySourceId = new Map<string, LedgerEntry>();
	for (const entry of ledger.entries.values()) if (entry.sourceId && !held(entry)) bySourceId.set(entry.sourceId, entry);
	const toUpload: Array<{ file: Entry; reason: string }> = [];
	for (const file of files) {
		const refusal = photosRefusal(file.path, file.size);
		if (refusal) {
			report.skipped++;
			report.results.push({ path: file.path, status: 'skipped', reason: refusal });
			continue;
		}
		let known = ledger.entries.get(file.path);
		if (known && !sameSource(known, file)) {
			// Another file's entry: it moved, or is gone and is reported below.
			setAside(ledger, known);
			known = undefined;
			dirty = true;
		}
		if (known && unchanged(known, file)) {
			report.alreadyInLibrary++;
			if (known.goneSince !== undefined || (file.id && known.sourceId !== file.id)) {
				known.goneSince = undefined;
				known.unreported = undefined;
				known.sourceId = file.id ?? known.sourceId;
				dirty = true;
			}
			continue;
		}
		const moved = !known && file.id ? bySourceId.get(file.id) : undefined;
		if (moved && unchanged(moved, file)) {
			bySourceId.delete(file.id!);
			removeEntry(ledger, moved);
			ledger.entries.set(file.path, { ...moved, path: file.path, goneSince: undefined, unreported: undefined });
			dirty = true;
			report.movedAtSource++;
			report.results.push({ path: file.path, status: 'skipped', reason: `moved at the source from ${moved.path}; Google Photos already holds it`, mediaItemId: moved.mediaItemId });
			continue;
		}
		if (known) report.changedAtSource++;
		toUpload.push({ file, reason: known ? 'changed at the source since it was added: added again as a new item (Google Photos cannot replace the old one, which stays)' : 'new' });
	}
	const reportedNow: LedgerEntry[] = [];
	for (const entry of ledger.entries.values()) {
		if (held(entry) || !includes(filter, { path: entry.path, isDir: false, size: entry.size, modTime: entry.modTime, hashes: {} })) continue;
		report.goneFromSource++;
		if (entry.goneSince !== undefined && !entry.unreported) continue;
		entry.goneSince ??= started;
		entry.unreported = undefined;
		dirty = true;
		reportedNow.push(entry);
		report.deletedAtSource.push({ path: entry.path, mediaItemId: entry.mediaItemId, productUrl: productUrlOf(entry.mediaItemId) });
	}
	for (const [path, upload] of ledger.pending) {
		if (byPath.has(path) && started - upload.uploadedAt < TOKEN_REUSE_MS) continue;
		ledger.pending.delete(path);
		dirty = true;
	}

	if (dryRun) {
		for (const { file, reason } of toUpload) report.results.push({ path: file.path, status: 'planned', reason });
		run.notes.push(current ? `new items go to the album "${current.album.title}"` : `the album "${options.albumTitle}" would be created`);
		return finish('planned');
	}

	const uploader = new Uploader(source, library, ledger, albums, report, options, origin);
	if (toUpload.length > 0) {
		await uploader.pass(toUpload);
		const again = uploader.takeReuploads();
		if (again.length > 0) await uploader.pass(again);
		dirty = true;
	}

	const stop = uploader.stop;
	report.awaitingCreate = ledger.pending.size;
	report.notReached = toUpload.length - report.uploaded - report.failed - toUpload.filter(({ file }) => ledger.pending.has(file.path)).length;
	// Bytes sent and kept for the next run are progress too: that run makes their items without sending them again.
	const done = report.uploaded > 0 || report.bytes > 0;
	const failed = !done && (stop !== undefined || report.failed > 0);
	if (failed) {
		// A failed run ends in an error, not a summary: its news of deleted photos waits for a run that reports it.
		for (const entry of reportedNow) entry.unreported = true;
		report.goneFromSource -= report.deletedAtSource.length;
		report.deletedAtSource = [];
	}
	if (dirty) {
		ledger.savedAt = Math.max(started, ledger.savedAt + 1);
		const text = encodeLedger(ledger);
		try {
			await options.ledger.save(text);
			report.ledgerSaved = true;
			report.ledgerBytes = text.length;
		} catch (error) {
			report.failed++;
			report.errors.push({ path: '', ...failureOf(error), message: `the ledger could not be saved to ${options.ledger.where}: ${(error as Error).message}` });
		}
	} else {
		report.ledgerSaved = true;
		report.ledgerBytes = loaded.text?.length ?? 0;
	}

	if (stop) report.stopped = stop.message;
	if (signal?.aborted) return finish('cancelled');
	if (failed) return finish('failed', stop ? [stop] : []);
	if (stop) return finish('partial', [stop]);
	if (report.failed > 0) return finish('partial');
	return finish('success');
}

async function loadLedger(options: AddToPhotosOptions): Promise<{ ledger: Ledger; text?: string; note?: string }> {
	const text = await options.ledger.load();
	if (text === undefined) return { ledger: emptyLedger(options.pair), note: 'no ledger yet: a new one is started' };
	try {
		const ledger = decodeLedger(text);
		if (ledger.pair === options.pair) return { ledger, text };
		return { ledger: emptyLedger(options.pair), note: 'the saved ledger belongs to another sync: a new one is started' };
	} catch (error) {
		if (!(error instanceof StateError)) throw error;
		return { ledger: emptyLedger(options.pair), note: `${error.message}: a new one is started, and what the album holds is found again from its items' descriptions` };
	}
}

/**
 * Entries the ledger lacks but the album holds, read from the descriptions the items were made
 * with: static data that did not reach this run (a queue-mode worker, an editor run before) or was lost.
 */
async function recover(library: PhotoLibrary, ledger: Ledger, album: number, origin: string | undefined, signal?: AbortSignal): Promise<{ recovered: number; foreign: number }> {
	const found = { recovered: 0, foreign: 0 };
	for await (const item of library.albumItems(ledger.albums[album].id, signal)) {
		const described = sourceOfDescription(item.description);
		if (!described) continue;
		// Items described before sources were named are taken as this sync's, as they always were.
		if (described.origin && origin && described.origin !== origin) {
			found.foreign++;
			continue;
		}
		const known = ledger.entries.get(described.path);
		if (known && known.modTime >= described.modTime) continue;
		ledger.entries.set(described.path, { path: described.path, size: described.size, modTime: described.modTime, mediaItemId: item.id, album, sourceId: known?.sourceId });
		found.recovered++;
	}
	return found;
}

/** The album new items go to: the ledger's, else an app-made one of the title, else a new one; a full one is followed by the next. */
class AlbumChooser {
	/** The ledger gained an album. */
	added = false;
	productUrl?: string;
	private index?: number;
	private count = 0;
	private making?: Promise<number>;

	constructor(
		private readonly library: PhotoLibrary,
		private readonly ledger: Ledger,
		private readonly title: string,
		private readonly capacity: number,
		private readonly dryRun: boolean,
		private readonly signal?: AbortSignal,
	) {}

	last(): { id: string; title: string } | undefined {
		return this.index === undefined ? undefined : this.ledger.albums[this.index];
	}

	/** Whether an album title is this sync's: its title, or its title followed by " (2)", " (3)"... for the albums after a full one. */
	private ours(title: string): number | undefined {
		if (title === this.title) return 1;
		const sequel = title.startsWith(`${this.title} (`) ? /^ \((\d+)\)$/.exec(title.slice(this.title.length)) : null;
		return sequel ? Number(sequel[1]) : undefined;
	}

	/**
	 * The album in use, and the albums whose items the ledger may lag behind (they hold more than it
	 * knows of): the ledger's last album when it still exists, else this app's albums of the title
	 * (a lost ledger: all of them, the title's sequels included, the last one in use).
	 */
	async current(): Promise<{ album: PhotosAlbum; index: number; lagging: number[] } | undefined> {
		const { ledger } = this;
		const known = ledger.albums.length - 1;
		const found: PhotosAlbum[] = [];
		if (known >= 0 && this.ours(ledger.albums[known].title) !== undefined) {
			const album = await this.library.album(ledger.albums[known].id, this.signal).catch((error: unknown) => {
				// An album the user deleted in Google Photos: a new one is made.
				if (error instanceof NotFoundError) return undefined;
				throw error;
			});
			if (album) found.push(album);
		}
		if (found.length === 0) {
			for await (const each of this.library.albums(this.signal)) if (this.ours(each.title) !== undefined) found.push(each);
			found.sort((a, b) => this.ours(a.title)! - this.ours(b.title)! || a.mediaItemsCount - b.mediaItemsCount);
		}
		if (found.length === 0) return undefined;
		const lagging: number[] = [];
		for (const album of found) {
			const index = this.adopt(album);
			const ids = new Set([...ledger.entries.values()].filter((entry) => entry.album === index).map((entry) => entry.mediaItemId));
			if (album.mediaItemsCount > ids.size) lagging.push(index);
		}
		const album = found[found.length - 1];
		this.index = this.adopt(album);
		this.count = album.mediaItemsCount;
		this.productUrl = album.productUrl;
		return { album, index: this.index, lagging };
	}

	/** The album index for one more item, making the album (or the next, when this one is full) on the way. */
	async next(): Promise<number> {
		if (this.index !== undefined && this.count < this.capacity) {
			this.count++;
			return this.index;
		}
		this.making ??= this.make().finally(() => (this.making = undefined));
		await this.making;
		return this.next();
	}

	private async make(): Promise<number> {
		if (this.dryRun) throw new AbortedError();
		const last = Math.max(0, ...this.ledger.albums.map((album) => this.ours(album.title) ?? 0));
		const title = last === 0 ? this.title : `${this.title} (${last + 1})`;
		const album = await this.library.createAlbum(title, this.signal);
		this.index = this.adopt(album);
		this.count = 0;
		this.productUrl = album.productUrl;
		return this.index;
	}

	private adopt(album: PhotosAlbum): number {
		const existing = this.ledger.albums.findIndex((each) => each.id === album.id);
		if (existing >= 0) return existing;
		this.ledger.albums.push({ id: album.id, title: album.title });
		this.added = true;
		return this.ledger.albums.length - 1;
	}
}

/**
 * Uploads in parallel and makes media items serially, 50 a request, as Google advises; reads each
 * item's own status; stops everything at the first failure no other file can escape (the daily quota).
 */
class Uploader {
	stop?: Failure;
	private readonly controller = new AbortController();
	private readonly signal: AbortSignal;
	private readonly queues = new Map<number, Ready[]>();
	private chain: Promise<void> = Promise.resolve();
	private reuploads: Array<{ file: Entry; reason: string }> = [];

	constructor(
		private readonly source: Provider,
		private readonly library: PhotoLibrary,
		private readonly ledger: Ledger,
		private readonly albums: AlbumChooser,
		private readonly report: AddToPhotosReport,
		private readonly options: AddToPhotosOptions,
		private readonly origin: string | undefined,
	) {
		this.signal = options.signal ? AbortSignal.any([options.signal, this.controller.signal]) : this.controller.signal;
	}

	takeReuploads() {
		const taken = this.reuploads;
		this.reuploads = [];
		return taken;
	}

	async pass(work: Array<{ file: Entry; reason: string }>): Promise<void> {
		await forEachLimit(work, this.options.transfers ?? 4, (item) => this.upload(item.file, item.reason), this.signal);
		// Items Google failed for a passing reason come back to the queues while the last batches go.
		for (;;) {
			this.dispatch(true);
			await this.chain;
			if (this.stop || this.signal.aborted || [...this.queues.values()].every((queue) => queue.length === 0)) break;
		}
	}

	private halt(error: unknown) {
		if (this.stop) return;
		this.stop = failureOf(error);
		this.controller.abort();
	}

	private fail(file: Entry, error: unknown) {
		const failure = isFailure(error) ? error : failureOf(error);
		this.report.failed++;
		this.report.errors.push({ path: file.path, ...failure });
		this.report.results.push({ path: file.path, status: 'failed', reason: 'not added', error: failure.message });
	}

	private async upload(file: Entry, reason: string): Promise<void> {
		const { ledger, library, source } = this;
		try {
			const album = await this.albums.next();
			const earlier = ledger.pending.get(file.path);
			let token: string;
			let reused = false;
			if (earlier && earlier.size === file.size && earlier.modTime === file.modTime) {
				token = earlier.uploadToken;
				reused = true;
			} else {
				// The read is not tied to the signal: the upload request is, and it closes the stream when it ends.
				token = await library.upload(() => source.read(file.path), file, this.signal);
				ledger.pending.set(file.path, { path: file.path, size: file.size, modTime: file.modTime, uploadToken: token, uploadedAt: Date.now() });
				this.report.bytes += file.size;
			}
			this.queue(album).push({ file, token, reason, album, attempts: 0, reused });
			this.dispatch(false);
		} catch (error) {
			if (this.stop && (error instanceof AbortedError || (error as Error)?.name === 'AbortError')) return;
			if (stopsTheRun(error)) this.halt(error);
			else if (!this.options.signal?.aborted) this.fail(file, error);
		}
	}

	private queue(album: number): Ready[] {
		let queue = this.queues.get(album);
		if (!queue) this.queues.set(album, (queue = []));
		return queue;
	}

	private dispatch(all: boolean) {
		for (const [album, queue] of this.queues) {
			while (queue.length >= MAX_ITEMS_PER_CREATE || (all && queue.length > 0)) {
				const batch = queue.splice(0, MAX_ITEMS_PER_CREATE);
				this.chain = this.chain.then(() => this.create(album, batch));
			}
		}
	}

	private async create(albumIndex: number, batch: Ready[]): Promise<void> {
		// A stopped run leaves these tokens in the ledger: the next run makes their items without sending the bytes again.
		if (this.stop || this.signal.aborted) return;
		const { ledger, report } = this;
		const album = ledger.albums[albumIndex];
		let results;
		try {
			report.createRequests++;
			results = await this.library.createItems(
				batch.map(({ file, token }) => ({ uploadToken: token, fileName: baseName(file.path), description: describeSource(file.path, file.size, file.modTime, this.origin) })),
				album.id,
				this.signal,
			);
		} catch (error) {
			if (this.stop) return;
			if (stopsTheRun(error)) return this.halt(error);
			if (this.options.signal?.aborted) return;
			for (const ready of batch) this.fail(ready.file, error);
			return;
		}
		const retries = this.options.itemRetries ?? 3;
		results.forEach((result, index) => {
			const ready = batch[index];
			const { file } = ready;
			if (result.ok) {
				ledger.entries.set(file.path, { path: file.path, size: file.size, modTime: file.modTime, mediaItemId: result.mediaItem.id, album: albumIndex, sourceId: file.id });
				ledger.pending.delete(file.path);
				report.uploaded++;
				report.results.push({ path: file.path, status: 'uploaded', reason: ready.reason, mediaItemId: result.mediaItem.id, album: album.title });
				return;
			}
			if (result.transient && ready.attempts < retries) {
				ready.attempts++;
				this.queue(albumIndex).push(ready);
				return;
			}
			ledger.pending.delete(file.path);
			if (ready.reused) {
				// A token from an earlier run Google no longer takes: the bytes are sent again.
				this.reuploads.push({ file, reason: ready.reason });
				return;
			}
			this.fail(file, {
				kind: 'ItemRefused',
				message: `Google Photos did not add ${file.path}: ${result.message} (status ${result.code})`,
				hint: result.transient ? 'Google Photos failed for a passing reason: the next run tries again.' : 'Google Photos refused this file (a damaged or unsupported photo or video): check it, or leave it out with a filter.',
			});
		});
	}
}
