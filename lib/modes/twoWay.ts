import type { Entry, HashType, Provider } from '../core/types';
import { createFilter, type Filter, type FilterOptions } from '../core/filters';
import { compareSlashFirst, isSameOrBelow, walkKey } from '../core/walkOrder';
import { DEFAULT_MEMORY_LIMIT, SpillDir, SpillQueue } from '../core/spill';
import { marchGroups } from '../engine/march';
import { ERRORS_KEPT, execute, type ActionResult, type RunSettings } from '../engine/executor';
import { DEFAULT_ITEM_LIMIT, knownSharedHash, type PlanAction, type PlanQueues } from '../engine/planner';
import { Pacer } from '../core/pacer';
import { SafetyError } from '../core/errors';
import { hashStream, sameHash } from '../core/hashing';
import { baseName, fileStamp, joinPath, matchKey, parentPath, withSuffix } from '../core/paths';
import { forEachLimit, forEachLimitStream } from '../core/concurrency';
import {
	BaselineWriter,
	loadStateBytes,
	openBaseline,
	pairId,
	PointerStateStore,
	ProviderStateStore,
	SharedState,
	stateDigest,
	saveStateBytes,
	type BaselineEntry,
	type BaselineReader,
	type StateBytes,
	type StateStore,
} from '../state/state';
import { PairLock, type LockOptions } from '../state/lock';
import { Run, type RunReport } from '../engine/run';
import { failureOf, isFailure, type Failure } from '../engine/failures';
import { inWalkOrder, listPaths, recoveryOf, requireComplete, reservedFolders, WalkListing, type SyncStatus } from '../engine/listing';
import { carryOwnChanges, planFromFeeds, recordIds, recorded, saveFeedState, type FeedOptions, type FeedPlan, type ListingChoice } from '../engine/changes';
import { INCREMENTAL_MAX_DELETES } from './oneWay';
import { unstorableOn, unconfirmedDeletions } from '../engine/safety';
import { baselineEntryOf, Outcomes, settleBaseline, TwoWayPlan, type QueuedAction } from './twoWayPlan';

/** Who wins when a file changed on both sides. Keep Both keeps the newer under its name and the other beside it. */
export type ConflictPolicy = 'keepBoth' | 'newer' | 'older' | 'larger' | 'source' | 'destination';
export type Side = 'source' | 'destination';

export interface TwoWayOptions extends RunSettings {
	/** Where the baseline lives between runs. */
	state: StateStore;
	/**
	 * A second place the baseline is also saved, read when `state` has none or an older one than the
	 * last run saved (the lock file says when that was). n8n's static data needs it: queue-mode workers
	 * start new executions without it, and editor runs do not save it.
	 */
	stateCopy?: StateStore;
	/** Names the folder pair; a saved baseline of another pair is ignored (the run is then a first-run merge). */
	pair: string;
	conflict?: ConflictPolicy;
	/** Ignore the saved baseline: merge both sides without deleting anything, then save a new baseline. */
	resync?: boolean;
	filter?: FilterOptions;
	/** Refuse a run that would delete more than this share of either side's files (default 50). */
	maxDeletePercent?: number;
	maxDeletes?: number;
	force?: boolean;
	dryRun?: boolean;
	/** Keep what is replaced or deleted, on its own side, in this folder with the run's date in its name. */
	backupDir?: string;
	/** A lock file on the destination stops two runs of the pair from overlapping; false turns it off. */
	lock?: Partial<Omit<LockOptions, 'pacer' | 'lastSave'>> | false;
	/** Entries held in memory per sorted listing, and files held to pair moves, before a temporary file (or giving up on moves) takes over; tests set it low. */
	memoryLimit?: number;
	/** Actions the report lists one by one (default 10,000); the rest run as planned and are counted in `actionsNotKept`. */
	itemLimit?: number;
	/**
	 * A scheduled run: when both sides have a change feed, only the paths either feed names since the
	 * last fully successful run are listed and decided against their baseline entries; the baseline
	 * stands for every other path. A full listing when that is not sound or is due (lib/engine/changes.ts).
	 */
	feed?: FeedOptions;
}

export type TwoWayActionKind = 'copy' | 'update' | 'delete' | 'rmdir' | 'mkdir' | 'rename' | 'conflict';

/** One step of a two-way run: `side` is the side it changes. */
export interface TwoWayAction {
	kind: TwoWayActionKind;
	side: Side;
	path: string;
	reason: string;
	/** A copy's origin on the other side, or a rename's old path on this side. */
	from?: string;
	/** A deletion's cause: the path the other side no longer holds, asked again before anything is deleted. */
	absentFrom?: string;
	status: 'planned' | 'done' | 'failed' | 'skipped' | 'unresolved';
	error?: string;
	keptAs?: string;
}

export interface DirectionCounts {
	added: number;
	updated: number;
	deleted: number;
	renamed: number;
}

export interface ConflictResult {
	path: string;
	winner: Side;
	policy: ConflictPolicy;
	/** Keep Both: where the other side's version now lives, on both sides. */
	keptAs?: string;
	reason: string;
}

export interface TwoWayReport extends RunReport, Partial<ListingChoice> {
	mode: 'twoWay';
	dryRun: boolean;
	/** No usable baseline: both sides were merged and nothing was deleted. */
	firstRun: boolean;
	/** Why a saved baseline was not used, or where it came from when not from `state`. */
	baselineNote?: string;
	/** The baseline came from `stateCopy`: `state` had none, or an older one than the last run saved. */
	baselineFromCopy: boolean;
	refusal?: string;
	toDestination: DirectionCounts;
	toSource: DirectionCounts;
	conflicts: ConflictResult[];
	/** Names left alone because no side can be told which file they mean (a folder against a file, duplicates). */
	unresolved: number;
	/** The first `itemLimit` actions, with their outcome. */
	actions: TwoWayAction[];
	/** Actions planned beyond `itemLimit`: run, counted, not listed. */
	actionsNotKept: number;
	failed: number;
	bytes: number;
	deletesHeld?: string;
	errors: Array<{ path: string; side: Side; action: string } & Failure>;
	/** Failures beyond the first ERRORS_KEPT: counted in `failed`, not listed. */
	errorsNotKept: number;
	/** Where the files this run deleted or replaced can be recovered from, by side. */
	recovery: Partial<Record<Side, string>>;
	baselineSaved: boolean;
	baselineFiles: number;
	/** Size of the saved state, in bytes. */
	stateBytes: number;
}

type ChangeState = 'none' | 'new' | 'same' | 'changed' | 'deleted';

interface Item {
	key: string;
	source?: Entry;
	destination?: Entry;
	base?: BaselineEntry;
	/** Two entries of one side answer to this name (Drive duplicates, or names that differ only in case or Unicode form). */
	collision?: Side;
	/** Each side's spelling of the folder this name is in, as the walk found it. */
	parents: Record<Side, string>;
	/** Its number once touched (an action may change it): the baseline settles its outcomes by it. */
	touched?: number;
}

const other = (side: Side): Side => (side === 'source' ? 'destination' : 'source');
const baseTime = (base: BaselineEntry, side: Side) => (side === 'source' ? base.sourceModTime : base.destinationModTime);
const basePath = (base: BaselineEntry, side: Side) => (side === 'source' ? base.path : (base.destinationPath ?? base.path));

function emptyCounts(): DirectionCounts {
	return { added: 0, updated: 0, deleted: 0, renamed: 0 };
}

/**
 * Two-way sync against a baseline (the state of both sides after the last successful run), as
 * rclone bisync does, with the failure modes its users report closed: a change always beats a
 * delete, nothing is deleted on a first run or after any error, a side that lost more than the
 * deletion limit stops the run, and the baseline only moves after a run in which everything worked.
 */
export async function twoWaySync(source: Provider, destination: Provider, options: TwoWayOptions): Promise<TwoWayReport> {
	const skeleton = new Run(source, destination, options);
	await skeleton.checkFolders('Two-way sync', 'refuse');
	const feed = options.feed && !options.dryRun ? options.feed : undefined;
	const providers = { source, destination };
	const feedPlan = feed && (await planFromFeeds(providers, feed, feed.now?.() ?? skeleton.started, options.signal, options.resync ? 'resync: the saved state is rebuilt from both listings' : undefined));
	// Nothing changed on either side since the last fully successful run: its baseline still holds, and neither it nor the lock is read or written.
	if (feedPlan?.paths?.length === 0) return unchanged(skeleton, feedPlan, feed!);
	const locked = options.lock !== false && !options.dryRun;
	const shared = locked ? sharedState(options) : undefined;
	const lastSave = shared && (() => shared.stamp());
	const lock = locked ? await PairLock.acquire(destination, { id: pairId(options.pair), ...options.lock, pacer: skeleton.pacer, lastSave }).catch(async (error: unknown) => {
		await shared?.dispose();
		throw error;
	}) : undefined;
	try {
		const outcome: FeedOutcome = { plan: feedPlan, rewrote: false };
		const report = await run(skeleton, options, lock, outcome, shared);
		if (feedPlan) Object.assign(report, { listing: feedPlan.listing, listingReason: feedPlan.listingReason });
		// With its state stamped, the lock is left held and another worker may take it over while the feed state is still being written here: the feed state
		// saved last may then pair these cursors with that run's later baseline. Older than it, they only have the next run check again changes both sides
		// already hold; the id indexes travel with the cursors they belong to (in one copy, or named by a token the cursors carry).
		if (feedPlan?.keep && report.status === 'success' && report.baselineSaved) await advanceFeed(feedPlan, feed!, report, outcome, providers, options.signal);
		return report;
	} finally {
		await lock?.release();
		await shared?.dispose();
	}
}

/** Where every worker reads the state a run saves (a file on a cloud, written by every run that saves): whose header the lock reads. */
function sharedState(options: TwoWayOptions): SharedState | undefined {
	const store = options.stateCopy ?? (options.state instanceof ProviderStateStore ? options.state : undefined);
	return store && new SharedState(store);
}

/** What a scheduled run learnt from the feeds, whether it rewrote the baseline on the destination, and which sides an action wrote. */
interface FeedOutcome {
	plan?: FeedPlan;
	rewrote: boolean;
	wrote?: Partial<Record<Side, boolean>>;
}

function emptyReport(started: number, dryRun: boolean): TwoWayReport {
	return {
		mode: 'twoWay',
		status: 'planned',
		dryRun,
		firstRun: false,
		baselineFromCopy: false,
		toDestination: emptyCounts(),
		toSource: emptyCounts(),
		conflicts: [],
		unresolved: 0,
		actions: [],
		actionsNotKept: 0,
		failed: 0,
		bytes: 0,
		retries: 0,
		errors: [],
		errorsNotKept: 0,
		notes: [],
		recovery: {},
		baselineSaved: false,
		baselineFiles: 0,
		stateBytes: 0,
		startedAt: new Date(started).toISOString(),
		finishedAt: '',
		durationMs: 0,
	};
}

/** A run whose feeds name no change: the report of a run that found nothing to do, and the cursors moved on. */
async function unchanged(skeleton: Run, plan: FeedPlan, feed: FeedOptions): Promise<TwoWayReport> {
	const report = emptyReport(skeleton.started, false);
	Object.assign(report, {
		listing: plan.listing,
		listingReason: plan.listingReason,
		baselineSaved: true,
		baselineFiles: plan.previous?.baselineFiles ?? 0,
		baselineNote: 'nothing changed on either side since the last run: the saved state still holds and was neither read nor rewritten',
	});
	plan.baselineFiles = plan.previous?.baselineFiles;
	await saveFeedState(plan, feed, async () => undefined);
	return skeleton.finish(report, 'success');
}

/** After a fully successful run whose baseline is saved: the cursors advance past the run's own writes, which the next run checks again. */
async function advanceFeed(plan: FeedPlan, feed: FeedOptions, report: TwoWayReport, outcome: FeedOutcome, providers: Record<Side, Provider>, signal?: AbortSignal): Promise<void> {
	plan.baselineFiles = report.baselineFiles;
	const sides: Partial<Record<Side, Provider>> = {};
	if (outcome.wrote?.source) sides.source = providers.source;
	// The baseline's copy and the feed state's copy are files of the destination too: the cursor goes past them.
	if (outcome.wrote?.destination || outcome.rewrote || (feed.copy !== undefined && plan.listing === 'full')) sides.destination = providers.destination;
	await saveFeedState(plan, feed, () => carryOwnChanges(plan, sides, signal));
}

interface Loaded {
	baseline?: BaselineReader;
	/** The baseline as it was stored, spooled (a temporary file when large, removed when the run ends). */
	text?: StateBytes;
	note?: string;
	fromCopy: boolean;
}

async function loadBaseline(options: TwoWayOptions, lock?: PairLock, shared?: SharedState): Promise<Loaded> {
	if (options.resync) return { note: 'resync: the saved state was set aside and is rebuilt by this run', fromCopy: false };
	// The lock may have read the shared state already (to tell a finished run's lock from a running one's).
	const load = (store: StateStore) => (shared?.store === store ? shared.take() : loadStateBytes(store));
	let text = await load(options.state);
	let baseline = text === undefined ? undefined : await openBaseline(text).catch(async (error: unknown) => {
		await text?.dispose();
		throw error;
	});
	const held = baseline === undefined ? 'none' : 'an older one';
	let fromCopy = false;
	const lastSaved = lock?.savedAt;
	if (options.stateCopy && (lastSaved === undefined || (baseline?.savedAt ?? -1) < lastSaved)) {
		const copyText = await load(options.stateCopy);
		const copy = copyText === undefined ? undefined : await openBaseline(copyText).catch(async (error: unknown) => {
			await Promise.all([text?.dispose(), copyText.dispose()]);
			throw error;
		});
		if (copy && copy.pair === options.pair && (!baseline || baseline.pair !== options.pair || copy.savedAt > baseline.savedAt)) {
			await text?.dispose();
			[baseline, text, fromCopy] = [copy, copyText, true];
		} else await copyText?.dispose();
	}
	if (!baseline) return { note: 'no saved state yet: this run merges both sides and deletes nothing', fromCopy };
	if (baseline.pair !== options.pair) {
		await text?.dispose();
		return { note: 'the saved state belongs to another folder pair: this run merges both sides and deletes nothing', fromCopy };
	}
	const note = fromCopy ? `the state came from its copy in ${options.stateCopy!.where}: ${options.state.where} held ${held}` : undefined;
	return { baseline, text, note, fromCopy };
}

/** What the walk counts for the deletion guards, instead of keeping the listings. */
interface Tally {
	files: Record<Side, number>;
	baseFiles: number;
}

async function* none<T>(): AsyncGenerator<T> {}

async function run(skeleton: Run, options: TwoWayOptions, lock: PairLock | undefined, outcome: FeedOutcome, shared?: SharedState): Promise<TwoWayReport> {
	const providers: Record<Side, Provider> = { source: skeleton.source, destination: skeleton.destination };
	const filter = createFilter({ ...options.filter, reserved: reservedFolders(options.backupDir) });
	const loaded = await loadBaseline(options, lock, shared);
	try {
		const feedPlan = outcome.plan;
		const listFully = (listingReason: string) => Object.assign(feedPlan!, { listing: 'full', listingReason, paths: undefined, fullAt: options.feed?.now?.() ?? skeleton.started });
		// Changes are decided against the baseline: without one, both sides are merged from full listings.
		if (feedPlan?.paths && !loaded.baseline) listFully(`the saved two-way state could not be used (${loaded.note ?? 'none'})`);
		const attempt = async (scope?: string[]) => {
			const spill = new SpillDir();
			try {
				return await walkPlanAndRun(skeleton, options, lock, providers, filter, loaded, spill, outcome, scope);
			} finally {
				await spill.dispose();
			}
		};
		if (feedPlan?.paths) {
			try {
				return await attempt(feedPlan.paths);
			} catch (error) {
				if (!(error instanceof SafetyError)) throw error;
				// More deletions than a run driven by changes may make: a full listing decides, with the guards every full run has.
				listFully(`the changes would delete many files (${error.message}); a full listing decides`);
			}
		}
		// Awaited here: a returned promise would let `finally` remove the state's file while the walk still reads it.
		return await attempt();
	} finally {
		// The saved state, spooled to a temporary file when large.
		await loaded.text?.dispose();
	}
}

/** Whether `path` is one of `scope`'s paths or below one; every path is when there is no scope. */
function scopeTest(scope: string[] | undefined, key: (path: string) => string): (path: string) => boolean {
	if (!scope) return () => true;
	const keys = new Set(scope.map(key));
	return (path) => {
		for (let at = path; ; at = parentPath(at)) {
			if (keys.has(key(at))) return true;
			if (at === '') return false;
		}
	};
}

async function walkPlanAndRun(
	skeleton: Run,
	options: TwoWayOptions,
	lock: PairLock | undefined,
	providers: Record<Side, Provider>,
	filter: Filter,
	loaded: Loaded,
	spill: SpillDir,
	outcome: FeedOutcome,
	scope?: string[],
): Promise<TwoWayReport> {
	const { signal } = options;
	const { pacer, started } = skeleton;
	const { baseline, text, note, fromCopy } = loaded;
	const caseInsensitive = providers.source.capabilities.caseInsensitive || providers.destination.capabilities.caseInsensitive;
	const key = (path: string) => matchKey(path, caseInsensitive);
	const inScope = scopeTest(scope, key);
	// A run driven by changes lists only the changed paths (each a few requests); the baseline stands for the rest.
	const scoped = scope && (await Promise.all([listPaths(providers.source, scope, filter, pacer, signal), listPaths(providers.destination, scope, filter, pacer, signal)]));
	const walks = scoped
		? { source: { entries: inWalkOrder(scoped[0].entries), error: scoped[0].error }, destination: { entries: inWalkOrder(scoped[1].entries), error: scoped[1].error } }
		: {
				source: new WalkListing(providers.source, filter, pacer, signal, { memoryLimit: options.memoryLimit, spill }),
				destination: new WalkListing(providers.destination, filter, pacer, signal, { memoryLimit: options.memoryLimit, spill }),
			};
	const plan = new TwoWayPlan(spill, options.itemLimit ?? DEFAULT_ITEM_LIMIT, options.memoryLimit);
	const planner = new TwoWayPlanner(providers, options, pacer, started, plan, baseline !== undefined);
	const tally: Tally = { files: { source: 0, destination: 0 }, baseFiles: 0 };
	// Both sides as they are now, for the names no action touches; the rest is settled after the run.
	const listed = new BaselineWriter(options.pair, baseline?.savedAt ?? started, spill);
	const folders = new WalkFolders(key);
	// A full listing of a side whose feed names changes by id keeps its ids for the runs driven by changes.
	const streamOf = (side: Side): AsyncIterable<Entry> => {
		const walk = walks[side];
		if ('entries' in walk) return walk.entries;
		const record = recordIds(outcome.plan, side, providers[side], options.feed);
		return record ? recorded(walk, record) : walk;
	};
	const streams: [AsyncIterable<Entry>, AsyncIterable<Entry>, AsyncIterable<BaselineEntry>] = [streamOf('source'), streamOf('destination'), baseline?.entries() ?? none<BaselineEntry>()];
	/** One name: a promise only when the planner must wait (a batch of contents compared). */
	const visit = (item: Item): Promise<void> | void => {
		if (!item.source && !item.destination && !inScope(item.base!.path)) {
			// No feed named it: both sides still hold it as the last run left it.
			keepUnchanged(item.base!, item, tally, folders);
			listed.add(item.base!);
			return;
		}
		if (item.source && !item.source.isDir) tally.files.source++;
		if (item.destination && !item.destination.isDir) tally.files.destination++;
		if (item.base && !item.base.isDir) tally.baseFiles++;
		if (planner.settled(item)) {
			// Most names of a run: nothing to decide, and no folder spelling needed for them.
			const { source, destination } = item as Required<Item>;
			listed.addFields(source.path, destination.path, false, destination.size, source.modTime, destination.modTime);
			return;
		}
		folders.visit(item);
		item.parents = { source: folders.folderOn('source', item), destination: folders.folderOn('destination', item) };
		return planner.consider(item).then(async (touched) => {
			folders.remember(item);
			if (!touched && !item.collision) {
				const entry = baselineEntryOf(item.source, item.destination);
				if (entry) listed.add(entry);
			}
			// The walk waits while a queue's buffer goes to disk, so buffers waiting to be written cannot pile up.
			if (plan.busy) await plan.written();
		});
	};
	await marchGroups<[Entry, Entry, BaselineEntry]>(streams, (value) => value.path, ['source', 'destination', 'saved state'], ([sources, destinations, bases]) => {
		const single = singleItem(sources, destinations, bases, key);
		if (single) return visit(single);
		const items = itemsOf(sources, destinations, bases, key);
		return (async () => {
			for (const item of items) await visit(item);
		})();
	});
	// Half a listing would look like deletions: stop before anything changes.
	requireComplete(
		{ source: { entries: [], error: walks.source.error }, destination: { entries: [], error: walks.destination.error } },
		'Two-way sync stopped before changing anything',
		'nothing was changed and the saved state was kept',
	);
	await planner.finish();
	await plan.written();
	for (const item of planner.heldNotes) skeleton.notes.push(item);
	const report: TwoWayReport = {
		...emptyReport(started, options.dryRun ?? false),
		firstRun: !baseline,
		baselineNote: note,
		baselineFromCopy: fromCopy,
		conflicts: planner.conflicts,
		unresolved: plan.unresolved,
		actions: plan.listed(),
		actionsNotKept: plan.notKept,
	};
	const finish = (status: SyncStatus) => skeleton.finish(report, status);

	// A run driven by changes cannot weigh its deletions against listings it did not make: it deletes no more than the limit for such runs.
	report.refusal = deletionRefusal(plan, tally, baseline, scope ? { ...options, maxDeletes: options.maxDeletes ?? INCREMENTAL_MAX_DELETES } : options);
	if (options.dryRun) return finish(report.refusal ? 'refused' : 'planned');
	if (report.refusal) throw Object.assign(new SafetyError(report.refusal), { report });

	await skeleton.tidy(providers.source, providers.destination);
	const executor = new TwoWayExecutor(providers, options, pacer, report, plan, new Outcomes(spill), key, spill, started);
	await executor.run();
	outcome.wrote = executor.wrote;
	const changed = (side: Side) => {
		const counts = side === 'destination' ? report.toDestination : report.toSource;
		return counts.deleted + counts.updated + counts.renamed > 0;
	};
	report.recovery = recoveryOf({ source: changed('source') ? providers.source : undefined, destination: changed('destination') ? providers.destination : undefined });
	if (signal?.aborted) return finish('cancelled');
	if (report.failed > 0) return finish(report.toDestination.added + report.toDestination.updated + report.toSource.added + report.toSource.updated > 0 ? 'partial' : 'failed');

	const saved = await settleBaseline(listed, plan, executor.outcomes, key, options.pair, baseline?.savedAt ?? started, spill, options.memoryLimit);
	report.baselineFiles = saved.files;
	// Nothing changed on either side: the stored state is still true, and rewriting it (a workflow row, an upload) buys nothing.
	if (baseline && !fromCopy && text && (await unchangedState(saved, text, baseline))) {
		report.baselineSaved = true;
		report.stateBytes = text.size;
		return finish('success');
	}
	// Later than the baseline it replaces, even with a clock that stands still (tests) or went back.
	const savedAt = Math.max(started, (baseline?.savedAt ?? 0) + 1, (lock?.savedAt ?? 0) + 1);
	// Stamped with the lock's owner: where every worker reads it, it tells them this run is done with the lock (lib/state/lock.ts).
	const encoded = await saved.bytes(savedAt, lock?.owner);
	try {
		// A run that lost its lock (another one overwrote it) must not write a baseline over the other's.
		await lock?.confirm();
		await saveStateBytes(options.state, encoded);
		// A pointer store that just wrote the state to its file has written the copy already.
		const copied = options.state instanceof PointerStateStore && options.state.large === options.stateCopy && options.state.writesLarge(encoded);
		if (!copied && options.stateCopy) await saveStateBytes(options.stateCopy, encoded);
		outcome.rewrote = true;
		lock?.stateSaved(savedAt);
	} catch (error) {
		report.failed++;
		report.errors.push({ path: '', side: 'destination', action: 'save state', ...failureOf(error), message: `the sync state could not be saved to ${options.state.where}: ${(error as Error).message}` });
		return finish('partial');
	} finally {
		await encoded.dispose();
	}
	report.baselineSaved = true;
	report.stateBytes = encoded.size;
	return finish('success');
}

/** Whether the settled baseline, written with the old one's stamp, is the very text that was loaded: compared by length and digest, neither made whole. */
async function unchangedState(saved: BaselineWriter, loaded: StateBytes, old: BaselineReader): Promise<boolean> {
	const current = await saved.digest(old.savedAt, old.savedBy);
	return current.size === loaded.size && current.sha256 === (await stateDigest(loaded));
}

/** A baseline entry no change feed named: counted as both sides holding it, and its folder's spelling remembered for the paths below it. */
function keepUnchanged(base: BaselineEntry, item: Item, tally: Tally, folders: WalkFolders): void {
	if (!base.isDir) {
		tally.baseFiles++;
		tally.files.source++;
		tally.files.destination++;
	}
	const folder = (path: string): Entry => ({ path, isDir: true, size: -1, modTime: 0, hashes: {} });
	const held: Item = base.isDir ? { ...item, source: folder(base.path), destination: folder(basePath(base, 'destination')) } : item;
	folders.visit(held);
	folders.remember(held);
}

/** Decides, path by path, what each side must do. Reads contents only to tell whether two changed files are identical. */
class TwoWayPlanner {
	/** The first `itemLimit` conflicts; the rest are counted in a note. */
	readonly conflicts: ConflictResult[] = [];
	private conflictsNotKept = 0;
	/** What the report should say about the limits the walk met. */
	readonly heldNotes: string[] = [];
	private readonly policy: ConflictPolicy;
	private readonly stamp: string;
	/** Files gone from one side or new on one side, held until the walk ends to pair moves (at most `limit`). */
	private held: Item[] = [];
	private renamesGivenUp = false;
	/** Names changed on both sides, waiting for their contents to be compared a batch at a time. */
	private both: Item[] = [];
	private readonly limit: number;

	/**
	 * `plan` takes the actions and the names they touch. Without a baseline nothing can have moved
	 * (a move is a file gone from where the last run left it), so a first run holds no files for it.
	 */
	constructor(
		private readonly providers: Record<Side, Provider>,
		private readonly options: TwoWayOptions,
		private readonly pacer: Pacer,
		started: number,
		private readonly plan: TwoWayPlan,
		private readonly movesPossible: boolean,
	) {
		this.policy = options.conflict ?? 'keepBoth';
		this.stamp = fileStamp(started);
		this.limit = options.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
	}

	private precision(side: Side) {
		return Math.max(1, this.providers[side].capabilities.modTimePrecisionMs);
	}

	private stateOf(item: Item, side: Side): ChangeState {
		const entry = item[side];
		const base = item.base;
		if (!entry) return base ? 'deleted' : 'none';
		if (!base) return 'new';
		if (entry.isDir || base.isDir) return entry.isDir === base.isDir ? 'same' : 'changed';
		// A file its cloud rewrites after storing it changes size by itself: only its time tells an edit.
		const same = (entry.rewritten || entry.size === base.size) && Math.abs(entry.modTime - baseTime(base, side)) <= this.precision(side);
		return same ? 'same' : 'changed';
	}

	/** The path a file of `item`'s folder takes on `side`: under that side's own spelling of each parent folder. */
	private pathOn(side: Side, path: string, item: Item): string {
		return joinPath(item.parents[side], baseName(path));
	}

	/** Why `side` cannot hold `path` (a name it forbids, a size above its limit); a rename's size is already there. */
	private problemOn(side: Side, kind: TwoWayActionKind, path: string, carries?: Entry): string | undefined {
		if (kind === 'delete' || kind === 'rmdir' || kind === 'conflict') return undefined;
		return unstorableOn(this.providers[side], path, carries && !carries.isDir && kind !== 'rename' ? carries.size : undefined);
	}

	/** An action of `item`'s decision; `carries`: the entry whose content a copy or rename will carry, or the one a deletion removes; `movedFrom`: a move's item of origin. */
	private add(item: Item, action: Omit<TwoWayAction, 'status'>, carries?: Entry, movedFrom?: Item): void {
		const problem = this.problemOn(action.side, action.kind, action.path, carries);
		// That one file is left where it is and reported; the rest of the run, and its baseline, go on.
		if (problem) this.unresolved(item, action.side, action.path, problem);
		else this.plan.add(action, 'planned', this.touchOf(item), carries, movedFrom && this.touchOf(movedFrom));
	}

	private unresolved(item: Item, side: Side, path: string, reason: string): void {
		this.plan.add({ kind: 'conflict', side, path, reason }, 'unresolved', this.touchOf(item));
	}

	/** The number `item` is (or, being decided, will be) touched as. */
	private touchOf(item: Item): number {
		return item.touched ?? this.plan.nextTouch;
	}

	private conflict(result: ConflictResult): void {
		if (this.conflicts.length < (this.options.itemLimit ?? DEFAULT_ITEM_LIMIT)) this.conflicts.push(result);
		else if (this.conflictsNotKept++ === 0) this.heldNotes.push('more conflicts than the Item Limit: the report lists the first ones, and every action lists its own');
	}

	private copyTo(side: Side, entry: Entry, kind: 'copy' | 'update', reason: string, item: Item, target = this.pathOn(side, entry.path, item)) {
		if (entry.isDir) {
			this.add(item, { kind: 'mkdir', side, path: target, reason });
			return;
		}
		this.add(item, { kind, side, path: target, from: entry.path, reason }, entry);
	}

	private touch(item: Item): void {
		item.touched = this.plan.touch(item.key, item.source, item.destination);
	}

	/** Whether `item` may be one end of a move: a file gone from one side, or new on one side only. */
	private mayBeMoved(item: Item): boolean {
		if (item.collision) return false;
		for (const side of ['source', 'destination'] as const) {
			const there = other(side);
			const { base } = item;
			if (base && !base.isDir && !item[side] && this.stateOf(item, there) === 'same') return true;
			const entry = item[side];
			if (entry && !entry.isDir && !base && !item[there]) return true;
		}
		return false;
	}

	/** A file both sides hold as the last run left it, under the names it had: `consider` would neither act on it nor hold it. */
	settled(item: Item): boolean {
		const { source, destination, base } = item;
		if (!source || !destination || !base || item.collision || source.isDir || destination.isDir || base.isDir) return false;
		return source.path === base.path && destination.path === basePath(base, 'destination') && this.stateOf(item, 'source') === 'same' && this.stateOf(item, 'destination') === 'same';
	}

	/**
	 * Takes the next name in walk order and decides it, or holds it: a possible move until the walk
	 * ends, a change on both sides until its batch is compared. Says whether an action may touch it.
	 */
	async consider(item: Item): Promise<boolean> {
		if (this.movesPossible && !this.renamesGivenUp && this.mayBeMoved(item)) {
			this.touch(item);
			this.held.push(item);
			if (this.held.length > this.limit) {
				// Past the bound, moves are no longer paired: a move is then a copy and a delete, which needs no proof.
				this.renamesGivenUp = true;
				this.heldNotes.push(`more than ${this.limit} files were gone from or new on one side: moves among them were not looked for, so they are copied and deleted instead`);
				for (const held of this.held) this.decide(held);
				this.held = [];
			}
			return true;
		}
		const before = this.plan.count;
		const bothBefore = this.both.length;
		this.decide(item);
		const touched = this.plan.count > before || this.both.length > bothBefore;
		if (touched) this.touch(item);
		if (this.both.length >= (this.options.checkers ?? 8) * 16) await this.compareBoth();
		return touched;
	}

	/** After the walk: pairs the held moves, decides the rest, and orders every action by phase. */
	async finish(): Promise<void> {
		const renamed = await this.trackRenames(this.held);
		for (const item of this.held) if (!renamed.has(item)) this.decide(item);
		this.held = [];
		await this.compareBoth();
	}

	private async compareBoth(): Promise<void> {
		const batch = this.both;
		this.both = [];
		await forEachLimit(batch, this.options.checkers ?? 8, (item) => this.changedOnBoth(item), this.options.signal);
	}

	private decide(item: Item): void {
		if (item.collision) {
			const reason = `more than one item on the ${item.collision} is named like "${item[item.collision]!.path}" (duplicates, or names differing only in case or Unicode form): rename or remove one; until then this name is left alone`;
			this.unresolved(item, item.collision, item[item.collision]!.path, reason);
			return;
		}
		const s = this.stateOf(item, 'source');
		const d = this.stateOf(item, 'destination');
		if (item.source && item.destination) {
			this.caseRename(item);
			if (item.source.isDir !== item.destination.isDir) {
				this.unresolved(item, 'destination', item.destination.path, 'a folder on one side, a file on the other: rename one of them');
			} else if (item.source.isDir) {
				return;
			} else if (s === 'same' && d === 'changed') {
				this.copyTo('source', item.destination, 'update', 'changed on the destination', item, item.source.path);
			} else if (s === 'changed' && d === 'same') {
				this.copyTo('destination', item.source, 'update', 'changed on the source', item, item.destination.path);
			} else if ((s !== 'same' || d !== 'same') && !this.knownSame(item.source, item.destination, item.base !== undefined)) {
				this.both.push(item);
			}
			return;
		}
		for (const side of ['source', 'destination'] as const) {
			const entry = item[side];
			const otherState = side === 'source' ? d : s;
			if (!entry) continue;
			const state = side === 'source' ? s : d;
			if (otherState === 'none') this.copyTo(other(side), entry, 'copy', `new on the ${side}`, item);
			else if (otherState === 'deleted' && state === 'same') this.remove(item, side, entry, `deleted on the ${other(side)}`, basePath(item.base!, other(side)));
			else if (otherState === 'deleted') this.copyTo(other(side), entry, 'copy', `deleted on the ${other(side)} but changed on the ${side}: the change is kept`, item);
		}
	}

	/** The entry goes with the action: a cloud that deletes on a condition deletes only the version the plan saw. */
	private remove(item: Item, side: Side, entry: Entry, reason: string, absentFrom: string) {
		this.add(item, { kind: entry.isDir ? 'rmdir' : 'delete', side, path: entry.path, reason, absentFrom: entry.isDir ? undefined : absentFrom }, entry);
	}

	/** A name whose case alone changed on one side (matched case-insensitively) is renamed on the other. */
	private caseRename(item: Item) {
		const { base } = item;
		if (!base || !item.source || !item.destination) return;
		for (const side of ['source', 'destination'] as const) {
			const renamedHere = item[side]!.path !== basePath(base, side);
			const target = item[other(side)]!;
			const to = joinPath(parentPath(target.path), baseName(item[side]!.path));
			// Only the parent folder's spelling changed: the folder's own rename moves this one along.
			if (renamedHere && target.path === basePath(base, other(side)) && to !== target.path) {
				this.add(item, { kind: 'rename', side: other(side), path: to, from: target.path, reason: `renamed on the ${side}` }, { ...target, path: to }, item);
				item[other(side)] = { ...target, path: to };
				return;
			}
		}
	}

	/**
	 * A file deleted at one path and new at another on the same side was moved, when nothing else is
	 * alike in size and time and the content proves it: the other side then moves its copy instead of
	 * uploading it again. Size and time alone only nominate a candidate; a decoy of equal size and time
	 * would otherwise carry the other side's old bytes to the new name.
	 */
	private async trackRenames(items: Item[]): Promise<Set<Item>> {
		const candidates: Array<{ side: Side; old: Item; moved: Item }> = [];
		for (const side of ['source', 'destination'] as const) {
			const there = other(side);
			const signature = (size: number, time: number) => `${size}:${time}`;
			const gone = new Map<string, Item | null>();
			const arrived = new Map<string, Item | null>();
			for (const item of items) {
				if (item.collision) continue;
				const base = item.base;
				if (base && !base.isDir && !item[side] && this.stateOf(item, there) === 'same') {
					const sig = signature(base.size, baseTime(base, side));
					gone.set(sig, gone.has(sig) ? null : item);
				}
				const entry = item[side];
				if (entry && !entry.isDir && !item.base && !item[there]) {
					const sig = signature(entry.size, entry.modTime);
					arrived.set(sig, arrived.has(sig) ? null : item);
				}
			}
			for (const [sig, old] of gone) {
				const moved = arrived.get(sig);
				if (old && moved) candidates.push({ side, old, moved });
			}
		}
		const proven = new Set<(typeof candidates)[number]>();
		await forEachLimit(candidates, this.options.checkers ?? 8, async (candidate) => {
			const there = other(candidate.side);
			// Unproven (a hash that could not be had) is not a move: copy and delete need no proof.
			const same = await this.provenSame({ side: there, entry: candidate.old[there]! }, { side: candidate.side, entry: candidate.moved[candidate.side]! }).catch((error) => {
				if (this.options.signal?.aborted) throw error;
				return false;
			});
			if (same) proven.add(candidate);
		}, this.options.signal);
		const handled = new Set<Item>();
		for (const candidate of candidates) {
			const { side, old, moved } = candidate;
			if (!proven.has(candidate) || handled.has(old) || handled.has(moved)) continue;
			const there = other(side);
			const from = old[there]!;
			const to = this.pathOn(there, moved[side]!.path, moved);
			this.add(moved, { kind: 'rename', side: there, path: to, from: from.path, reason: `moved on the ${side} from ${basePath(old.base!, side)} (same content)` }, { ...from, path: to }, old);
			handled.add(old).add(moved);
		}
		return handled;
	}

	private async changedOnBoth(item: Item): Promise<void> {
		const source = item.source!;
		const destination = item.destination!;
		if (await this.sameContent(source, destination, item.base !== undefined)) return;
		const winner = this.winner(source, destination);
		const loser = other(winner);
		const winning = item[winner]!;
		const losing = item[loser]!;
		const why = `changed on both sides (${item.base ? 'since the last run' : 'first run'})`;
		if (this.policy !== 'keepBoth') {
			this.copyTo(loser, winning, 'update', `${why}: ${this.policy} wins`, item, losing.path);
			this.conflict({ path: winning.path, winner, policy: this.policy, reason: why });
			return;
		}
		const keptAs = withSuffix(losing.path, `conflict ${loser} ${this.stamp}`);
		const kept = { ...losing, path: keptAs };
		// A conflict name one side cannot hold: both versions stay where they are, reported.
		const problem = this.problemOn(loser, 'rename', keptAs, kept) ?? unstorableOn(this.providers[winner], keptAs, losing.size);
		if (problem) {
			this.unresolved(item, loser, keptAs, `${why}: both versions are left as they are, since ${problem}`);
			return;
		}
		this.add(item, { kind: 'rename', side: loser, path: keptAs, from: losing.path, reason: `${why}: the ${loser}'s version kept as ${baseName(keptAs)}` }, kept, item);
		this.copyTo(loser, winning, 'copy', `${why}: the ${winner}'s newer version`, item, losing.path);
		this.copyTo(winner, kept, 'copy', `${why}: the ${loser}'s version, kept beside it`, item, this.pathOn(winner, keptAs, item));
		this.conflict({ path: winning.path, winner, policy: this.policy, keptAs, reason: why });
	}

	private winner(source: Entry, destination: Entry): Side {
		const newer: Side = destination.modTime > source.modTime ? 'destination' : 'source';
		switch (this.policy) {
			case 'source':
			case 'destination':
				return this.policy;
			case 'older':
				return other(newer);
			case 'larger':
				return source.size === destination.size ? newer : source.size > destination.size ? 'source' : 'destination';
			default:
				return newer;
		}
	}

	/** `sameContent` when it needs no reading: equal listed hashes, or a first run's equal size and time. */
	private knownSame(source: Entry, destination: Entry, bothChanged: boolean): boolean {
		const closeInTime = Math.abs(source.modTime - destination.modTime) <= Math.max(this.precision('source'), this.precision('destination'));
		if (source.rewritten || destination.rewritten) return !bothChanged && closeInTime;
		const listed = knownSharedHash(source, destination);
		if (listed) return source.size === destination.size && sameHash(listed, source.hashes[listed]!, destination.hashes[listed]!);
		return !bothChanged && closeInTime && source.size === destination.size && source.size >= 0;
	}

	/**
	 * Whether two versions that both changed hold the same bytes. On a first run (no baseline) equal
	 * size and time are taken as equal, as every sync tool does when it adopts two existing trees; once
	 * both sides changed since the last run, only content proves it (equal size and time after two
	 * edits are a coincidence of coarse clocks, not evidence).
	 */
	private async sameContent(source: Entry, destination: Entry, bothChanged: boolean): Promise<boolean> {
		const closeInTime = Math.abs(source.modTime - destination.modTime) <= Math.max(this.precision('source'), this.precision('destination'));
		if (source.rewritten || destination.rewritten) return !bothChanged && closeInTime;
		const adopted = !bothChanged && closeInTime && source.size === destination.size && source.size >= 0 && !knownSharedHash(source, destination);
		return adopted || this.provenSame({ side: 'source', entry: source }, { side: 'destination', entry: destination });
	}

	/**
	 * Whether two files hold the same bytes, by a hash of one type on both: one a side lists when there
	 * is one (so only the other side's file is read), else computed from both streams.
	 */
	private async provenSame(a: { side: Side; entry: Entry }, b: { side: Side; entry: Entry }): Promise<boolean> {
		if (a.entry.size !== b.entry.size || a.entry.size < 0) return false;
		const listed = knownSharedHash(a.entry, b.entry);
		if (listed) return sameHash(listed, a.entry.hashes[listed]!, b.entry.hashes[listed]!);
		const capabilities = (side: Side) => this.providers[side].capabilities;
		const type =
			capabilities(a.side).listedHashTypes.find((t) => capabilities(b.side).listedHashTypes.includes(t)) ??
			capabilities(a.side).listedHashTypes[0] ??
			capabilities(b.side).listedHashTypes[0] ??
			'sha256';
		const [x, y] = await Promise.all([this.hashOf(a.side, a.entry, type), this.hashOf(b.side, b.entry, type)]);
		return sameHash(type, x, y);
	}

	private async hashOf(side: Side, entry: Entry, type: HashType): Promise<string> {
		const provider = this.providers[side];
		if (entry.hashes[type]) return entry.hashes[type]!;
		return this.pacer.run(async () => {
			if (provider.capabilities.hashTypes.includes(type)) return (await provider.hash(entry.path, [type]))[type]!;
			return (await hashStream(await provider.read(entry.path, { signal: this.options.signal }), [type])).hashes[type]!;
		}, this.options.signal);
	}
}

/** Why the plan must not run: a side that lost too much, as when a folder was emptied or could not be read. */
function deletionRefusal(plan: TwoWayPlan, tally: Tally, baseline: BaselineReader | undefined, options: TwoWayOptions): string | undefined {
	if (options.force || !baseline) return undefined;
	const baseFiles = tally.baseFiles;
	for (const side of ['source', 'destination'] as const) {
		const files = tally.files[side];
		if (files === 0 && baseFiles > 0) {
			return `The ${side} holds no files while the last run left ${baseFiles} there; deleting them all from the ${other(side)} is refused. Check the ${side} folder and its credentials, or set Force if it was emptied on purpose.`;
		}
		const deletes = plan.deletes[side].length;
		if (options.maxDeletes !== undefined && deletes > options.maxDeletes) {
			return `The sync would delete ${deletes} files on the ${side}, more than the limit of ${options.maxDeletes}. Raise the limit or set Force if that is intended.`;
		}
		const percent = options.maxDeletePercent ?? 50;
		if (baseFiles > 0 && (deletes / baseFiles) * 100 > percent) {
			return `The sync would delete ${deletes} of the ${side}'s ${baseFiles} files (more than ${percent}%). Check the other side, raise the limit or set Force if that is intended.`;
		}
	}
	return undefined;
}

/** Runs a two-way plan: renames, then every copy both ways, then (only if all of that worked) deletions. */
class TwoWayExecutor {
	/** Which sides an action wrote to. */
	readonly wrote: Partial<Record<Side, boolean>> = {};
	/** An empty queue for the phases a call of the one-way executor does not run. */
	private readonly none: SpillQueue<PlanAction>;

	constructor(
		private readonly providers: Record<Side, Provider>,
		private readonly options: TwoWayOptions,
		private readonly pacer: Pacer,
		private readonly report: TwoWayReport,
		private readonly plan: TwoWayPlan,
		/** What each finished action left, for the next baseline. */
		readonly outcomes: Outcomes,
		private readonly key: (path: string) => string,
		private readonly spill: SpillDir,
		private readonly started: number,
	) {
		this.none = new SpillQueue(spill, 'none');
	}

	private counts(side: Side): DirectionCounts {
		return side === 'destination' ? this.report.toDestination : this.report.toSource;
	}

	/** Marks `action` failed with what went wrong: an error, or the failure the one-way executor kept of one. */
	private fail(action: QueuedAction, error: unknown) {
		const failure = isFailure(error) ? error : failureOf(error);
		this.plan.update(action.n, { status: 'failed', error: failure.message });
		this.report.failed++;
		if (this.report.errors.length < ERRORS_KEPT) this.report.errors.push({ path: action.path, side: action.on, action: action.kind, ...failure });
		else this.report.errorsNotKept++;
	}

	async run(): Promise<void> {
		const { plan } = this;
		const { signal } = this.options;
		await this.viaExecutor((side) => ({ mkdir: plan.mkdir[side] }));
		const failedRenames = new Set<string>();
		await forEachLimitStream(plan.renames, this.options.checkers ?? 8, async (action) => {
			try {
				await this.pacer.run(() => this.providers[action.on].move(action.from!, action.path), signal);
				this.plan.update(action.n, { status: 'done' });
				this.counts(action.on).renamed++;
				this.wrote[action.on] = true;
				this.outcomes.record(action.tf ?? action.t, this.key(action.from!), action.on);
				this.outcomes.record(action.t, this.key(action.path), action.on, action.source);
			} catch (error) {
				this.fail(action, error);
				failedRenames.add(`${action.on}:${action.from}`);
			}
		}, signal);
		const transfers = { source: plan.transfers.source, destination: plan.transfers.destination };
		if (failedRenames.size > 0) for (const side of ['source', 'destination'] as const) transfers[side] = await this.withoutMovedAside(transfers[side], failedRenames);
		await this.viaExecutor((side) => ({ transfers: transfers[side] }));
		if (this.report.failed === 0 && !signal?.aborted) await this.confirmDeletions();
		if (this.report.failed > 0 || signal?.aborted) {
			const why = signal?.aborted ? 'the sync was cancelled' : `${this.report.failed} earlier action(s) failed`;
			if (plan.deletions('source') + plan.deletions('destination') > 0) this.report.deletesHeld = why;
			for (const action of plan.keptOf('delete', 'rmdir')) Object.assign(action, { status: 'skipped', error: `not deleted: ${why}` });
			return;
		}
		await this.viaExecutor((side) => ({ destinationDeletes: plan.deletes[side], rmdir: plan.rmdir[side] }));
	}

	/** A conflict's copy must not land on the loser's name unless the loser was moved aside first: the copies left once those are taken out. */
	private async withoutMovedAside(queue: SpillQueue<QueuedAction>, failedRenames: Set<string>): Promise<SpillQueue<QueuedAction>> {
		const kept = new SpillQueue<QueuedAction>(this.spill, 'transfers-left', this.options.memoryLimit);
		for await (const action of queue) {
			if (failedRenames.has(`${action.on}:${action.path}`)) this.plan.update(action.n, { status: 'skipped', error: 'not copied: the version it would replace could not be moved aside' });
			else await kept.push(action);
		}
		return kept;
	}

	/**
	 * Asks each side again for the files whose absence the deletions on the other side rest on: a
	 * listing a cloud cut short looks like deletions, and one file still there stops every deletion.
	 */
	private async confirmDeletions(): Promise<void> {
		for (const side of ['source', 'destination'] as const) {
			const deletes = this.plan.deletes[other(side)];
			if (deletes.length === 0) continue;
			const failure = await unconfirmedDeletions(this.providers[side], side, absentPaths(deletes), this.pacer, this.options.checkers ?? 8, this.options.signal);
			if (!failure) continue;
			this.report.failed++;
			this.report.errors.push({ side, action: 'list', ...failure });
		}
	}

	/** The one-way executor, once per direction: verified copies, server-side where possible, backups. */
	private async viaExecutor(queuesOf: (side: Side) => Partial<PlanQueues>): Promise<void> {
		for (const side of ['destination', 'source'] as const) {
			const queues = queuesOf(side);
			if (!Object.values(queues).some((queue) => queue.length > 0)) continue;
			await execute(this.plan.work(side, queues, this.none), this.providers[other(side)], this.providers[side], {
				transfers: this.options.transfers,
				checkers: this.options.checkers,
				signal: this.options.signal,
				onProgress: this.options.onProgress,
				pacer: this.pacer,
				backup: this.options.backupDir ? { dir: this.options.backupDir, stamp: fileStamp(this.started) } : undefined,
				onResult: (planned, result, failure, written) => this.absorb(planned as QueuedAction, result, failure, written),
				// Every result reaches absorb; the executor's own report of them is not read.
				resultLimit: 0,
			});
			await this.outcomes.written();
		}
	}

	private absorb(action: QueuedAction, result: ActionResult, failure?: Failure, written?: Entry) {
		if (result.status === 'failed') {
			this.fail(action, failure ?? result.error);
			return;
		}
		if (result.status === 'conflict') {
			// A name this side cannot hold (found only when writing): reported with the file, not a failed run.
			this.plan.update(action.n, { status: 'unresolved', error: result.reason });
			this.report.unresolved++;
			return;
		}
		this.plan.update(action.n, { status: result.status === 'done' ? 'done' : 'skipped', keptAs: result.keptAs });
		if (result.status !== 'done') return;
		const side = action.on;
		this.wrote[side] = true;
		const counts = this.counts(side);
		const key = this.key(action.path);
		if (action.kind === 'mkdir') this.outcomes.record(action.t, key, side, { path: action.path, isDir: true, size: -1, modTime: 0, hashes: {} });
		if (action.kind === 'copy' || action.kind === 'update') this.outcomes.record(action.t, key, side, written ?? action.source);
		if (action.kind === 'delete' || action.kind === 'rmdir') this.outcomes.record(action.t, key, side);
		if (action.kind === 'copy') counts.added++;
		if (action.kind === 'update') counts.updated++;
		if (action.kind === 'delete') counts.deleted++;
		this.report.bytes += result.bytes;
	}
}

async function* absentPaths(deletes: AsyncIterable<QueuedAction>): AsyncGenerator<string> {
	for await (const action of deletes) if (action.absent !== undefined) yield action.absent;
}

/** Where an item's folders are until the walk finds them (`parents` is replaced, never changed). */
const NO_PARENTS: Readonly<Record<Side, string>> = { source: '', destination: '' };

/** The usual group: at most one entry a side, spelled alike everywhere, so one name; undefined otherwise. */
function singleItem(sources: Entry[], destinations: Entry[], bases: BaselineEntry[], key: (path: string) => string): Item | undefined {
	if (sources.length > 1 || destinations.length > 1 || bases.length > 1) return undefined;
	const path = (sources[0] ?? destinations[0] ?? bases[0]).path;
	if ((sources.length === 1 && sources[0].path !== path) || (destinations.length === 1 && destinations[0].path !== path) || (bases.length === 1 && bases[0].path !== path)) return undefined;
	return { key: key(path), source: sources[0], destination: destinations[0], base: bases[0], parents: NO_PARENTS };
}

/** The names of one walk-key group, each with what both sides and the saved state hold under it. */
function itemsOf(sources: Entry[], destinations: Entry[], bases: BaselineEntry[], key: (path: string) => string): Item[] {
	const items = new Map<string, Item>();
	const item = (k: string) => {
		let found = items.get(k);
		if (!found) items.set(k, (found = { key: k, parents: NO_PARENTS }));
		return found;
	};
	for (const [side, entries] of [['source', sources], ['destination', destinations]] as const) {
		for (const entry of entries) {
			const found = item(key(entry.path));
			if (found[side]) found.collision = side;
			found[side] = entry;
		}
	}
	for (const base of bases) item(key(base.path)).base = base;
	return items.size === 1 ? [...items.values()] : [...items.values()].sort((a, b) => compareSlashFirst(a.key, b.key));
}

/**
 * Each side's spelling of the folders on the way down to the current name, as the walk meets them:
 * what `pathOn` needs, without the listings. Frames are walk keys, so names that fold alike share one.
 */
class WalkFolders {
	private readonly frames: Array<{ walk: string; names: Map<string, Partial<Record<Side, string>>> }> = [];

	constructor(private readonly key: (path: string) => string) {}

	private static pathOf(item: Item): string {
		return (item.source ?? item.destination ?? item.base!).path;
	}

	/** Leaves the branches `item` is not in. */
	visit(item: Item): void {
		const walk = walkKey(WalkFolders.pathOf(item));
		while (this.frames.length > 0 && !isSameOrBelow(walk, this.frames[this.frames.length - 1].walk)) this.frames.pop();
	}

	/** Remembers a folder once decided (a case rename may have respelled it on one side). */
	remember(item: Item): void {
		if (!item.source?.isDir && !item.destination?.isDir) return;
		const walk = walkKey(WalkFolders.pathOf(item));
		let frame = this.frames[this.frames.length - 1];
		if (frame?.walk !== walk) this.frames.push((frame = { walk, names: new Map() }));
		frame.names.set(item.key, { source: item.source?.isDir ? item.source.path : undefined, destination: item.destination?.isDir ? item.destination.path : undefined });
	}

	/** `side`'s spelling of the folder `item` is in. */
	folderOn(side: Side, item: Item): string {
		return this.spell(side, parentPath(WalkFolders.pathOf(item)));
	}

	private spell(side: Side, folder: string): string {
		if (folder === '') return '';
		const key = this.key(folder);
		for (let i = this.frames.length - 1; i >= 0; i--) {
			const name = this.frames[i].names.get(key)?.[side];
			if (name !== undefined) return name;
		}
		return joinPath(this.spell(side, parentPath(folder)), baseName(folder));
	}
}
