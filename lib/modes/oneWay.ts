import type { Entry, Provider } from '../core/types';
import { createFilter, type Filter, type FilterOptions } from '../core/filters';
import { DEFAULT_ITEM_LIMIT, needsHashes, PlanBuilder, type CompareMode, type Match, type Plan, type PlanOptions, type SyncMode } from '../engine/planner';
import { marchListings } from '../engine/march';
import { SpillDir } from '../core/spill';
import { emptyExecutionReport, execute, type ExecutionReport, type RunSettings } from '../engine/executor';
import { Pacer } from '../core/pacer';
import { SafetyError } from '../core/errors';
import { fileStamp } from '../core/paths';
import { forEachLimit } from '../core/concurrency';
import { Run, type RunReport } from '../engine/run';
import { failureOf } from '../engine/failures';
import { comparableHash, inWalkOrder, listPaths, missingRootIsEmpty as missingRootIsEmptyOf, recoveryOf, reservedFolders, WalkListing, type SyncStatus } from '../engine/listing';
import { unstorableOn } from '../engine/safety';
import { carryOwnChanges, planFromFeeds, recordIds, recorded, saveFeedState, type FeedOptions, type FeedPlan, type ListingChoice } from '../engine/changes';

export interface SyncOptions extends Omit<RunSettings, 'now'> {
	mode: SyncMode;
	compare?: CompareMode;
	newerOnly?: boolean;
	ignoreExisting?: boolean;
	modifyWindowMs?: number;
	filter?: FilterOptions;
	/** Return the plan and touch nothing. */
	dryRun?: boolean;
	/** Refuse a run that would delete more than this share of the destination's files (default 50). */
	maxDeletePercent?: number;
	/** Refuse a run that would delete more than this many files. */
	maxDeletes?: number;
	/** Run even when a safety guard would refuse (mass deletion, empty source). */
	force?: boolean;
	/**
	 * Compare and sync only these paths (a folder path takes its whole subtree), as reported by a
	 * change feed, instead of listing both trees. Deletions are then bounded by `maxDeletes`
	 * (100 unless set), since the share of the whole destination is not known.
	 */
	paths?: string[];
	/** Keep what a Mirror replaces or deletes: moved into this folder of the destination, with the run's date in its name. */
	backupDir?: string;
	/**
	 * Actions listed in the report's plan (a Diff's items) and results kept in the report (a Sync's);
	 * the rest are counted in `plan.omitted` and `resultsNotKept` (default 10,000).
	 */
	itemLimit?: number;
	/** Entries or actions held in memory per listing or queue before a temporary file takes the rest (tests set it low). */
	memoryLimit?: number;
	/**
	 * A scheduled Copy, Mirror or Update: plan from what both sides' change feeds say changed since
	 * the last fully successful run, keeping the cursors in this state; a full listing when that is
	 * not sound or is due (lib/engine/changes.ts). Ignored with `paths`, in a dry run and for Move.
	 */
	feed?: FeedOptions;
}

export interface SyncReport extends ExecutionReport, RunReport, Partial<ListingChoice> {
	errors: ExecutionReport['errors'];
	mode: SyncMode;
	dryRun: boolean;
	/** Why a guard refused the run, when it did. */
	refusal?: string;
	listingErrors: string[];
	/** Where the files this run deleted or replaced can be recovered from, by side. */
	recovery: Partial<Record<'source' | 'destination', string>>;
	plan: Plan;
}

/** Why this plan must not run, or undefined when it may. */
export const INCREMENTAL_MAX_DELETES = 100;

export function safetyRefusal(plan: Plan & { destinationDeletes?: number }, options: Pick<SyncOptions, 'mode' | 'maxDeletePercent' | 'maxDeletes' | 'force' | 'paths'>): string | undefined {
	if (options.force) return undefined;
	const deletes = plan.destinationDeletes ?? plan.actions.filter((action) => action.kind === 'delete' && action.side === 'destination').length;
	if (options.paths) {
		const limit = options.maxDeletes ?? INCREMENTAL_MAX_DELETES;
		return deletes > limit
			? `The changes would delete ${deletes} files, more than the limit of ${limit} for a run driven by changes. Check the source, raise Max Deletions or set Force if that is intended.`
			: undefined;
	}
	if (options.mode === 'mirror' && plan.sourceFiles === 0 && plan.destinationFiles > 0) {
		return `The source holds no files while the destination holds ${plan.destinationFiles}; a mirror would delete them all. Check the source folder and its credentials, or set Force if the source is meant to be empty.`;
	}
	if (options.maxDeletes !== undefined && deletes > options.maxDeletes) {
		return `The sync would delete ${deletes} files, more than the limit of ${options.maxDeletes}. Raise the limit or set Force if that is intended.`;
	}
	const percent = options.maxDeletePercent ?? 50;
	if (plan.destinationFiles > 0 && (deletes / plan.destinationFiles) * 100 > percent) {
		return `The sync would delete ${deletes} of the destination's ${plan.destinationFiles} files (more than ${percent}%). Check the source, raise the limit or set Force if that is intended.`;
	}
	return undefined;
}

/** Walks both sides in step, plans as they stream by, checks the safety guards and runs the plan. */
export async function sync(source: Provider, destination: Provider, options: SyncOptions): Promise<SyncReport> {
	const run = new Run(source, destination, options);
	// Move deletes from the source, so a destination inside it would be fed its own copies.
	const nested = await run.checkFolders('The sync', options.mode === 'move' ? 'refuse' : 'allow');
	const filter = createFilter({ ...options.filter, reserved: reservedFolders(options.backupDir) });
	const sourceFilter = nested ? createFilter({ ...options.filter, reserved: [...reservedFolders(options.backupDir), nested] }) : filter;
	if (!options.dryRun) await run.tidy(destination, ...(options.mode === 'move' ? [source] : []));
	const feed = options.feed && !options.paths && !options.dryRun && options.mode !== 'move' ? options.feed : undefined;
	if (!feed) return planAndRunSpilled(run, options, filter, sourceFilter);
	const feedPlan = await planFromFeeds({ source, destination }, feed, feed.now?.() ?? run.started, options.signal);
	let report: SyncReport | undefined;
	if (feedPlan.paths) {
		try {
			report = await planAndRunSpilled(run, { ...options, paths: feedPlan.paths, maxDeletes: changesDeleteLimit(options, feedPlan) }, filter, sourceFilter, feedPlan);
		} catch (error) {
			if (!(error instanceof SafetyError)) throw error;
			// What the changes would delete is more than a run driven by changes may: a full listing decides, with the guards every full run has.
			Object.assign(feedPlan, { listing: 'full', listingReason: `the changes would delete many files (${error.message}); a full listing decides`, fullAt: feed.now?.() ?? run.started, paths: undefined });
		}
	}
	report ??= await planAndRunSpilled(run, options, filter, sourceFilter, feedPlan);
	report.listing = feedPlan.listing;
	report.listingReason = feedPlan.listingReason;
	if (report.status === 'success' && feedPlan.keep) await advanceFeed(feedPlan, feed, report, { source, destination }, options.signal);
	return report;
}

/** A run driven by changes deletes no more than today's guards allow a full run on the destination as last counted, nor the limit for runs driven by changes. */
function changesDeleteLimit(options: SyncOptions, plan: FeedPlan): number {
	const limit = options.maxDeletes ?? INCREMENTAL_MAX_DELETES;
	const files = plan.previous?.destinationFiles;
	if (files === undefined) return limit;
	return Math.min(limit, Math.floor((files * (options.maxDeletePercent ?? 50)) / 100));
}

/** Only a fully successful run moves the cursors on; the cursors of the sides it wrote to go past its own writes. */
async function advanceFeed(plan: FeedPlan, feed: FeedOptions, report: SyncReport, sides: { source: Provider; destination: Provider }, signal?: AbortSignal): Promise<void> {
	const before = plan.listing === 'full' ? report.plan.destinationFiles : plan.previous?.destinationFiles;
	plan.destinationFiles = before === undefined ? undefined : before + report.added - report.deleted;
	const wrote = report.added + report.updated + report.deleted > 0 || report.results.length + report.resultsNotKept > 0 || (feed.copy !== undefined && plan.listing === 'full');
	await saveFeedState(plan, feed, async () => {
		if (wrote) await carryOwnChanges(plan, { destination: sides.destination }, signal);
	});
}

async function planAndRunSpilled(run: Run, options: SyncOptions, filter: Filter, sourceFilter: Filter, feedPlan?: FeedPlan): Promise<SyncReport> {
	const spill = new SpillDir();
	try {
		return await planAndRun(run, options, filter, sourceFilter, spill, feedPlan);
	} finally {
		await spill.dispose();
	}
}

/** A side's listing as a stream in walk order, and how it ended. */
interface Streamed {
	entries: AsyncIterable<Entry>;
	error?: Error;
	count: number;
}

async function streamOf(
	provider: Provider,
	filter: Filter,
	options: SyncOptions,
	pacer: Pacer,
	spill: SpillDir,
	missingRootIsEmpty: boolean,
	record?: (entry: Entry) => void,
): Promise<Streamed> {
	if (options.paths) {
		// A change feed's paths are few: listed whole, then sorted into walk order.
		let listing = await listPaths(provider, options.paths, filter, pacer, options.signal);
		if (missingRootIsEmpty) listing = missingRootIsEmptyOf(listing);
		return { entries: inWalkOrder(listing.entries), error: listing.error, count: listing.entries.length };
	}
	const walk = new WalkListing(provider, filter, pacer, options.signal, { missingRootIsEmpty, memoryLimit: options.memoryLimit, spill });
	return {
		// A full listing of a side whose feed names changes by id keeps its ids for the runs driven by changes.
		entries: record ? recorded(walk, record) : walk,
		get error() {
			return walk.error;
		},
		get count() {
			return walk.count;
		},
	};
}

async function planAndRun(run: Run, options: SyncOptions, filter: Filter, sourceFilter: Filter, spill: SpillDir, feedPlan?: FeedPlan): Promise<SyncReport> {
	const { source, destination, pacer } = run;
	const { signal } = options;
	const planOptions: PlanOptions = {
		mode: options.mode,
		compare: options.compare,
		newerOnly: options.newerOnly,
		ignoreExisting: options.ignoreExisting,
		modifyWindowMs: options.modifyWindowMs,
		createEmptyFolders: !filter.selective && destination.capabilities.emptyFolders,
		hashType: comparableHash(source, destination),
		source: source.capabilities,
		destination: destination.capabilities,
		unstorable: (path, size) => unstorableOn(destination, path, size),
	};
	const [sourceListing, destinationListing] = await Promise.all([
		streamOf(source, sourceFilter, options, pacer, spill, false, options.paths ? undefined : recordIds(feedPlan, 'source', source, options.feed)),
		streamOf(destination, filter, options, pacer, spill, true, options.paths ? undefined : recordIds(feedPlan, 'destination', destination, options.feed)),
	]);
	const builder = new PlanBuilder(planOptions, spill, { itemLimit: options.itemLimit, memoryLimit: options.memoryLimit });
	const checkers = options.checkers ?? 8;
	// Pairs that need a hash wait in a small batch, fetched `checkers` at a time, while the walk goes on.
	let waiting: Match[] = [];
	const fetchWaiting = async () => {
		const batch = waiting;
		waiting = [];
		await fillHashes(batch, planOptions, source, destination, pacer, checkers, signal);
		for (const match of batch) await builder.add(match, true);
	};
	const caseInsensitive = source.capabilities.caseInsensitive || destination.capabilities.caseInsensitive;
	await marchListings(sourceListing.entries, destinationListing.entries, caseInsensitive, (match) => {
		if (planOptions.hashType && needsHashes(match, planOptions)) {
			waiting.push(match);
			return waiting.length >= checkers * 16 ? fetchWaiting() : undefined;
		}
		return builder.add(match);
	});
	await fetchWaiting();
	// A source that could not be listed at all says why, rather than looking empty to the guards.
	if (sourceListing.error && sourceListing.count === 0) throw sourceListing.error;
	const listingErrors = [
		...(sourceListing.error ? [`source: ${sourceListing.error.message}`] : []),
		...(destinationListing.error ? [`destination: ${destinationListing.error.message}`] : []),
	];
	const listingFailures = [sourceListing.error, destinationListing.error].filter((error) => error !== undefined).map(failureOf);
	const plan = builder.plan();

	const finish = (status: SyncStatus, executed: ExecutionReport, refusal?: string): SyncReport =>
		run.finish(
			{
				...executed,
				mode: options.mode,
				dryRun: options.dryRun ?? false,
				status,
				refusal,
				listingErrors,
				notes: [],
				recovery: recoveryOf({ source: executed.movedSourcesDeleted > 0 ? source : undefined, destination: executed.deleted + executed.updated > 0 ? destination : undefined }),
				plan,
				startedAt: '',
				finishedAt: '',
				durationMs: 0,
			},
			status,
			listingFailures,
		);

	const refusal = safetyRefusal({ ...plan, destinationDeletes: builder.destinationDeletes }, options);
	if (options.dryRun) return finish(refusal ? 'refused' : 'planned', emptyExecutionReport(), refusal);
	// A side that could not be fully listed explains a refusal better than the refusal does.
	if (refusal) throw sourceListing.error ?? destinationListing.error ?? Object.assign(new SafetyError(refusal), { plan });

	const executed = await execute({ queues: builder.queues, counts: plan.counts, bytesToTransfer: plan.bytesToTransfer }, source, destination, {
		transfers: options.transfers,
		checkers: options.checkers,
		signal,
		onProgress: options.onProgress,
		pacer,
		holdDeletes: listingErrors.length > 0 ? `listing failed (${listingErrors.join('; ')})` : undefined,
		backup: options.backupDir ? { dir: options.backupDir, stamp: fileStamp(run.started) } : undefined,
		resultLimit: options.itemLimit ?? DEFAULT_ITEM_LIMIT,
	});
	const status: SyncStatus = executed.cancelled
		? 'cancelled'
		: executed.failed > 0 || listingErrors.length > 0
			? executed.added + executed.updated + executed.deleted > 0
				? 'partial'
				: 'failed'
			: 'success';
	return finish(status, executed);
}

/** Fetches the hashes that deciding some pairs needs, with at most `checkers` requests at once. */
async function fillHashes(
	matches: Match[],
	options: PlanOptions,
	source: Provider,
	destination: Provider,
	pacer: Pacer,
	checkers: number,
	signal?: AbortSignal,
): Promise<void> {
	const type = options.hashType!;
	await forEachLimit(matches, checkers, async (match) => {
		for (const [provider, entry] of [[source, match.source!], [destination, match.destination!]] as const) {
			if (entry.hashes[type]) continue;
			try {
				const hashes = await pacer.run(() => provider.hash(entry.path, [type]), signal);
				entry.hashes = { ...entry.hashes, ...hashes };
			} catch {
				// Without the hash the pair is judged by size and time, and copied again when in doubt.
			}
		}
	}, signal);
}
