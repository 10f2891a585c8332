import type { Entry, HashType, Provider } from './types';
import { createFilter, includes, type Filter, type FilterOptions } from './filters';
import { matchListings, needsHashes, planMatches, type CompareMode, type Match, type Plan, type PlanOptions, type SyncMode } from './planner';
import { emptyExecutionReport, execute, type ExecutionReport, type RunSettings } from './executor';
import { Pacer } from './pacer';
import { CloudSyncError, NotFoundError, SafetyError } from './errors';
import { fileStamp, normalizeRelativePath } from './paths';
import { forEachLimit } from './concurrency';
import { checkOverlap } from './overlap';
import { housekeeping, nameProblemOn } from './safety';

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
}

export type SyncStatus = 'success' | 'partial' | 'failed' | 'cancelled' | 'refused' | 'planned';

export interface SyncReport extends ExecutionReport {
	mode: SyncMode;
	dryRun: boolean;
	status: SyncStatus;
	/** Why a guard refused the run, when it did. */
	refusal?: string;
	listingErrors: string[];
	/** What the run decided or tidied that a user should know: a destination inside the source left out of it, leftovers of interrupted runs removed. */
	notes: string[];
	/** Where the files this run deleted or replaced can be recovered from, by side. */
	recovery: Partial<Record<'source' | 'destination', string>>;
	plan: Plan;
	startedAt: string;
	finishedAt: string;
	durationMs: number;
}

export interface Listing {
	entries: Entry[];
	error?: Error;
}

/** Lists a provider's tree (or one level, or below `path`) through the filter, retrying transient failures from the start. */
export async function listAll(provider: Provider, filter: Filter, pacer: Pacer, signal?: AbortSignal, recursive = true, path = ''): Promise<Listing> {
	let entries: Entry[] = [];
	try {
		await pacer.run(async () => {
			entries = [];
			for await (const entry of provider.list(path, { recursive, signal })) {
				if (includes(filter, entry)) entries.push(entry);
			}
		}, signal);
		return { entries };
	} catch (error) {
		return { entries, error: error as Error };
	}
}

/** A destination folder that does not exist yet is empty: writing creates it. */
export function missingRootIsEmpty(listing: Listing): Listing {
	const missing = listing.error instanceof NotFoundError && listing.error.path === '' && listing.entries.length === 0;
	return missing ? { entries: [] } : listing;
}

/** The entries at `paths` (nothing where a path does not exist), with the subtree of each folder. */
export async function listPaths(provider: Provider, paths: string[], filter: Filter, pacer: Pacer, signal?: AbortSignal): Promise<Listing> {
	const found = new Map<string, Entry>();
	const keep = (entry: Entry) => {
		if (includes(filter, entry)) found.set(entry.path, entry);
	};
	try {
		for (const path of new Set(paths.map(normalizeRelativePath))) {
			const entry = await pacer.run(async () => provider.stat(path).catch((error) => (error instanceof NotFoundError ? undefined : Promise.reject(error))), signal);
			if (!entry) continue;
			if (entry.path !== '') keep(entry);
			if (!entry.isDir) continue;
			await pacer.run(async () => {
				for await (const child of provider.list(entry.path, { recursive: true, signal })) keep(child);
			}, signal);
		}
		return { entries: [...found.values()] };
	} catch (error) {
		return { entries: [...found.values()], error: error as Error };
	}
}

/** Throws, saying what stopped, when either listing ended in an error: half a listing must never be planned on. */
export function requireComplete(listings: Record<'source' | 'destination', Listing>, stopped: string, after: string): void {
	for (const [side, listing] of Object.entries(listings)) {
		if (!listing.error) continue;
		throw new CloudSyncError(`${stopped}: the ${side} could not be listed. ${listing.error.message}`, {
			cause: listing.error,
			hint: (listing.error as CloudSyncError).hint ?? `Run it again; ${after}.`,
		});
	}
}

/** Folders the engine writes into on a side, left out of every listing. */
export function reservedFolders(backupDir?: string): string[] {
	return backupDir ? [backupDir] : [];
}

/** Each side's own words for where its deleted and replaced files went, for the sides given. */
export function recoveryOf(sides: Partial<Record<'source' | 'destination', Provider>>): Partial<Record<'source' | 'destination', string>> {
	const recovery: Partial<Record<'source' | 'destination', string>> = {};
	for (const side of ['source', 'destination'] as const) {
		const text = sides[side]?.recovery?.();
		if (text) recovery[side] = text;
	}
	return recovery;
}

/** The hash both providers can produce, cheapest for the destination first. */
export function comparableHash(source: Provider, destination: Provider): HashType | undefined {
	const listedFirst = [...destination.capabilities.listedHashTypes, ...destination.capabilities.hashTypes];
	return listedFirst.find((type) => source.capabilities.hashTypes.includes(type));
}


/** Why this plan must not run, or undefined when it may. */
export const INCREMENTAL_MAX_DELETES = 100;

export function safetyRefusal(plan: Plan, options: Pick<SyncOptions, 'mode' | 'maxDeletePercent' | 'maxDeletes' | 'force' | 'paths'>): string | undefined {
	if (options.force) return undefined;
	const deletes = plan.actions.filter((action) => action.kind === 'delete' && action.side === 'destination').length;
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

/** Lists both sides, plans, checks the safety guards and runs the plan. */
export async function sync(source: Provider, destination: Provider, options: SyncOptions): Promise<SyncReport> {
	const started = Date.now();
	const pacer = options.pacer instanceof Pacer ? options.pacer : new Pacer(options.pacer);
	// Move deletes from the source, so a destination inside it would be fed its own copies.
	const overlap = await checkOverlap(source, destination, 'The sync', options.mode === 'move' ? 'refuse' : 'allow');
	const filter = createFilter({ ...options.filter, reserved: reservedFolders(options.backupDir) });
	const sourceFilter = overlap ? createFilter({ ...options.filter, reserved: [...reservedFolders(options.backupDir), overlap.destinationInSource] }) : filter;
	const { signal } = options;
	const notes = overlap ? [overlap.note] : [];
	if (!options.dryRun) notes.push(...(await housekeeping(options.mode === 'move' ? [destination, source] : [destination])));
	const gather = (provider: Provider, filter: Filter) =>
		options.paths ? listPaths(provider, options.paths, filter, pacer, signal) : listAll(provider, filter, pacer, signal);
	const [sourceListing, destinationListing] = await Promise.all([gather(source, sourceFilter), gather(destination, filter).then(missingRootIsEmpty)]);
	// A source that could not be listed at all says why, rather than looking empty to the guards.
	if (sourceListing.error && sourceListing.entries.length === 0) throw sourceListing.error;
	const listingErrors = [
		...(sourceListing.error ? [`source: ${sourceListing.error.message}`] : []),
		...(destinationListing.error ? [`destination: ${destinationListing.error.message}`] : []),
	];

	const planOptions: PlanOptions = {
		mode: options.mode,
		compare: options.compare,
		newerOnly: options.newerOnly,
		ignoreExisting: options.ignoreExisting,
		modifyWindowMs: options.modifyWindowMs,
		createEmptyFolders: !filter.selective,
		hashType: comparableHash(source, destination),
		source: source.capabilities,
		destination: destination.capabilities,
		unstorable: (path) => nameProblemOn(destination, path),
	};
	const matches = matchListings(sourceListing.entries, destinationListing.entries, planOptions);
	if (planOptions.hashType) await fillHashes(matches, planOptions, source, destination, pacer, options.checkers ?? 8, signal);
	const plan = planMatches(matches, planOptions);

	const finish = (status: SyncStatus, executed: ExecutionReport, refusal?: string): SyncReport => ({
		...executed,
		mode: options.mode,
		dryRun: options.dryRun ?? false,
		status,
		refusal,
		listingErrors,
		notes,
		recovery: recoveryOf({ source: executed.movedSourcesDeleted > 0 ? source : undefined, destination: executed.deleted + executed.updated > 0 ? destination : undefined }),
		plan,
		startedAt: new Date(started).toISOString(),
		finishedAt: new Date().toISOString(),
		durationMs: Date.now() - started,
	});

	const refusal = safetyRefusal(plan, options);
	if (options.dryRun) return finish(refusal ? 'refused' : 'planned', emptyExecutionReport(), refusal);
	if (refusal) throw Object.assign(new SafetyError(refusal), { plan });

	const executed = await execute(plan, source, destination, {
		transfers: options.transfers,
		checkers: options.checkers,
		signal,
		onProgress: options.onProgress,
		pacer,
		holdDeletes: listingErrors.length > 0 ? `listing failed (${listingErrors.join('; ')})` : undefined,
		backup: options.backupDir ? { dir: options.backupDir, stamp: fileStamp(started) } : undefined,
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
	matches: Map<string, Match>,
	options: PlanOptions,
	source: Provider,
	destination: Provider,
	pacer: Pacer,
	checkers: number,
	signal?: AbortSignal,
): Promise<void> {
	const type = options.hashType!;
	const pending = [...matches.values()].filter((match) => needsHashes(match, options));
	await forEachLimit(pending, checkers, async (match) => {
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
