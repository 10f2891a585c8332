import type { Entry, HashType, Provider, SteppedListing, Stepper } from '../core/types';
import { stepperOf } from '../core/stepper';
import { includes, type Filter } from '../core/filters';
import type { Pacer } from '../core/pacer';
import { CloudSyncError, NotFoundError } from '../core/errors';
import { normalizeRelativePath } from '../core/paths';
import { compareWalkKeys, compareWalkOrder, walkKey } from '../core/walkOrder';
import { ExternalSorter, SpillDir } from '../core/spill';
import { readAhead } from '../core/concurrency';

/** How a run ended. */
export type SyncStatus = 'success' | 'partial' | 'failed' | 'cancelled' | 'refused' | 'planned';

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
	// Parents first, so that what a listed folder's subtree already holds is neither stat'ed nor listed again.
	const listed: string[] = [];
	const inListed = (path: string) => listed.some((folder) => folder === '' || path.startsWith(`${folder}/`));
	const byDepth = new Map<number, string[]>();
	for (const path of new Set(paths.map(normalizeRelativePath))) {
		const depth = path === '' ? 0 : path.split('/').length;
		byDepth.set(depth, [...(byDepth.get(depth) ?? []), path]);
	}
	try {
		for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
			const asked = byDepth.get(depth)!.filter((path) => !inListed(path));
			if (asked.length === 0) continue;
			for (const entry of await statAll(provider, asked, pacer, signal)) {
				if (entry.path !== '') keep(entry);
				if (!entry.isDir) continue;
				listed.push(entry.path);
				await pacer.run(async () => {
					for await (const child of provider.list(entry.path, { recursive: true, signal })) keep(child);
				}, signal);
			}
		}
		return { entries: [...found.values()] };
	} catch (error) {
		return { entries: [...found.values()], error: error as Error };
	}
}

/** What is at each of `paths` (nothing where a path does not exist): in batches where the provider can, else one stat each. */
async function statAll(provider: Provider, paths: string[], pacer: Pacer, signal?: AbortSignal): Promise<Entry[]> {
	if (provider.statMany && paths.length > 1) return [...(await pacer.run(() => provider.statMany!(paths, { signal }), signal)).values()];
	const entries: Entry[] = [];
	for (const path of paths) {
		const entry = await pacer.run(async () => provider.stat(path).catch((error) => (error instanceof NotFoundError ? undefined : Promise.reject(error))), signal);
		if (entry) entries.push(entry);
	}
	return entries;
}

/** Throws the listing's own typed error, saying what stopped, when either listing ended in one: half a listing must never be planned on. */
export function requireComplete(listings: Record<'source' | 'destination', Listing>, stopped: string, after: string): void {
	for (const [side, listing] of Object.entries(listings)) {
		const error = listing.error;
		if (!error) continue;
		error.message = `${stopped}: the ${side} could not be listed. ${error.message}`;
		if (error instanceof CloudSyncError) error.hint ??= `Run it again; ${after}.`;
		throw error instanceof CloudSyncError ? error : new CloudSyncError(error.message, { cause: error, hint: `Run it again; ${after}.` });
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

export interface WalkListingOptions {
	/** Below this path only ('' for the root). */
	path?: string;
	/** A root that does not exist lists as empty (a destination that writing will create). */
	missingRootIsEmpty?: boolean;
	/** Entries sorted in memory before a temporary file takes the rest (clouds whose listing is not in walk order). */
	memoryLimit?: number;
	spill?: SpillDir;
}

/**
 * A provider's tree through the filter, streamed in walk order: as listed when the provider lists in
 * that order, otherwise sorted (spilling to a temporary file beyond the memory limit). Iterating it
 * never throws: a listing that fails ends early and keeps its `error`, as `listAll` does, so that
 * half a listing is never mistaken for a whole one. A transient failure is retried through the
 * pacer; an ordered listing resumes after the last entry it gave, a sorted one starts again.
 */
export class WalkListing implements AsyncIterable<Entry> {
	error?: Error;
	/** Entries given so far. */
	count = 0;
	private used = false;
	private firstListing?: AsyncIterable<Entry>;

	constructor(
		private readonly provider: Provider,
		private readonly filter: Filter,
		private readonly pacer: Pacer,
		private readonly signal?: AbortSignal,
		private readonly options: WalkListingOptions = {},
	) {}

	/** The listing itself, not a generator around it: each entry passes one generator less. */
	[Symbol.asyncIterator](): AsyncIterator<Entry> {
		if (this.used) throw new Error('a walk listing is read once');
		this.used = true;
		return this.provider.listOrder === 'walk' ? this.ordered() : this.sorted();
	}

	/** A listing that ended in an error keeps it, to be told from a whole one. */
	private stopped(error: unknown): void {
		const missing = this.options.missingRootIsEmpty && error instanceof NotFoundError && error.path === '' && this.count === 0;
		if (!missing) this.error = error as Error;
	}

	/**
	 * The same listing stepped through, for the march (lib/engine/march.ts), when the provider lists in
	 * walk order and can be stepped through; undefined otherwise, and the listing is then read entry by entry.
	 */
	stepper(): Stepper<Entry> | undefined {
		if (this.provider.listOrder !== 'walk' || this.used) return undefined;
		// Asked once: a listing that cannot be stepped through is kept for the entry-by-entry read that follows.
		const listing = (this.firstListing ??= this.list());
		if (typeof (listing as Partial<SteppedListing>).stepper !== 'function') return undefined;
		this.used = true;
		return this.orderedSteps();
	}

	/** The provider's listing; the first one may have been asked for already, to see whether it can be stepped through. */
	private list(): AsyncIterable<Entry> {
		const first = this.firstListing;
		this.firstListing = undefined;
		return first ?? this.provider.list(this.options.path ?? '', { recursive: true, signal: this.signal });
	}

	private async *ordered(): AsyncGenerator<Entry> {
		const walk = this.walkChecks();
		try {
			for (;;) {
				try {
					for await (const entry of readAhead(this.list(), READ_AHEAD)) {
						if (walk.keeps(entry)) {
							this.count++;
							yield entry;
						}
					}
					return;
				} catch (error) {
					await walk.retry(error);
				}
			}
		} catch (error) {
			this.stopped(error);
		}
	}

	/** `ordered` without a promise per entry: a step waits only when the provider's listing does. */
	private orderedSteps(): Stepper<Entry> {
		const walk = this.walkChecks();
		// Not read ahead: the one listing that can be stepped through (a local disk) does its work synchronously when asked, so reading it ahead would overlap nothing and only hold entries longer.
		let listing = stepsOf(this.list());
		let ended = false;
		const end = (): undefined => {
			ended = true;
			return undefined;
		};
		const stop = (error: unknown): undefined => {
			this.stopped(error);
			return end();
		};
		// A failure is retried, the listing started again past what it gave, or ends the walk with its error kept.
		const recover = (error: unknown): Promise<Entry | undefined> =>
			walk.retry(error).then(() => {
				listing = stepsOf(this.list());
				return step();
			}, stop);
		const kept = (entry: Entry): boolean => {
			if (!walk.keeps(entry)) return false;
			this.count++;
			return true;
		};
		const afterWait = (entry: Entry | undefined): Entry | undefined | Promise<Entry | undefined> => {
			if (entry === undefined) return end();
			try {
				if (kept(entry)) return entry;
			} catch (error) {
				return recover(error);
			}
			return step();
		};
		const step = (): Entry | undefined | Promise<Entry | undefined> => {
			try {
				for (;;) {
					if (ended) return undefined;
					const next = listing.next();
					if (next instanceof Promise) return next.then(afterWait, recover);
					if (next === undefined) return end();
					if (kept(next)) return next;
				}
			} catch (error) {
				return recover(error);
			}
		};
		return { next: step };
	}

	/**
	 * What an ordered listing checks of each entry (walk order, the filter) and how it is retried: a
	 * retryable failure waits its turn through the pacer and the walk resumes after the last entry given.
	 */
	private walkChecks(): { keeps: (entry: Entry) => boolean; retry: (error: unknown) => Promise<void> } {
		let lastKey: string | undefined;
		let lastPath = '';
		let failures = 0;
		return {
			keeps: (entry) => {
				const key = walkKey(entry.path);
				const order = lastKey === undefined ? 1 : compareWalkKeys(key, entry.path, lastKey, lastPath);
				// Two entries of one path (Drive's duplicates) are neighbours; a resumed listing skips what it gave before.
				if (order < 0 && failures === 0) throw new CloudSyncError(`The ${this.provider.name} listing is not in walk order at "${entry.path}" (after "${lastPath}")`);
				if (order < 0 || (order === 0 && failures > 0)) return false;
				lastKey = key;
				lastPath = entry.path;
				return includes(this.filter, entry);
			},
			retry: async (error) => {
				if (error instanceof CloudSyncError && error.message.includes('not in walk order')) throw error;
				failures++;
				await this.pacer.run(async (attempt) => {
					if (attempt === 0 || failures > 5) throw error;
				}, this.signal);
			},
		};
	}

	private async *sorted(): AsyncGenerator<Entry> {
		const spill = this.options.spill ?? new SpillDir();
		let sorter!: ExternalSorter<Entry>;
		let failure: { error: unknown } | undefined;
		try {
			await this.pacer.run(async () => {
				sorter = new ExternalSorter<Entry>(spill, 'listing', byWalkOrder, this.options.memoryLimit);
				for await (const entry of this.provider.list(this.options.path ?? '', { recursive: true, signal: this.signal })) {
					if (includes(this.filter, entry)) await sorter.add(entry);
				}
			}, this.signal).catch((error: unknown) => {
				failure = { error };
			});
			// What was listed before a failure still counts (as `listAll` keeps it): copies go ahead, deletions are held.
			if (sorter) {
				for await (const entry of sorter.sorted()) {
					this.count++;
					yield entry;
				}
			}
			if (failure) this.stopped(failure.error);
		} catch (error) {
			this.stopped(error);
		} finally {
			if (!this.options.spill) await spill.dispose();
		}
	}
}

const byWalkOrder = (a: Entry, b: Entry) => compareWalkOrder(a.path, b.path);

/** Entries an ordered listing reads ahead of the merge: enough for both sides to wait on their disks or servers at once, few enough that little survives each young-generation collection. */
const READ_AHEAD = 256;

/** A listing's steps; a promise per entry when a retried listing can no longer be stepped through (a wrapper that replaced `list`). */
function stepsOf(listing: AsyncIterable<Entry>): Stepper<Entry> {
	const stepped = listing as Partial<SteppedListing>;
	return typeof stepped.stepper === 'function' ? stepped.stepper() : stepperOf(listing);
}

/** Entries already in hand (a change feed's paths), as a walk listing. */
export async function* inWalkOrder(entries: Entry[]): AsyncGenerator<Entry> {
	yield* [...entries].sort(byWalkOrder);
}
