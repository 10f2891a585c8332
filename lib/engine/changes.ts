import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { ChangePage, Entry, Provider, UnplacedChange } from '../core/types';
import { CursorExpiredError, NotFoundError } from '../core/errors';
import { textLines, type StateStore } from '../state/state';
import { inStateFolder } from '../core/filters';

export type Side = 'source' | 'destination';

/** What a scheduled run keeps between runs to plan from change feeds: small, whatever the tree. */
export interface FeedState {
	format: typeof FORMAT;
	/** Hash of the settings that decide the plan (folders, mode, filters): other settings mean another tree. */
	settings: string;
	/** Each side's change cursor as of the start of the last fully successful run. */
	cursors: Partial<Record<Side, string>>;
	/** When the last full listing started (ms). */
	fullAt: number;
	/** Paths changed after the cursors by the last run itself (named while that run still knew them): checked again by the next run. */
	carried?: string[];
	/** The destination's files after the last run (counted by a full listing, then kept up with what each run added and deleted): what the deletion guard measures against. */
	destinationFiles?: number;
	/** Files in a two-way baseline after the last run: what a run that finds no change reports without reading the baseline. */
	baselineFiles?: number;
	/** For each side whose feed names some changes by id alone: the token of its id index as of these cursors. */
	indexes?: Partial<Record<Side, string>>;
}

const FORMAT = 'cloudsync-feed-1';
const MAX_CHANGED_PATHS = 2_000;

/** Where the feed state lives (n8n's static data, with a copy on the destination for runs n8n gives no state), how often a full listing runs anyway. */
export interface FeedOptions {
	state: StateStore;
	/**
	 * Read when `state` holds nothing (a queue-mode worker without the workflow's static data). Written
	 * after a full listing and whenever an id index changes; with `index`, it holds the indexes too
	 * (one object, one upload): a worker that has only it finds cursors and indexes of one moment.
	 */
	copy?: StateStore;
	/** The settings that decide the plan, in any stable text form (hashed here). */
	settings: string;
	/** A full listing runs when the last one is older than this (ms). */
	fullEveryMs: number;
	/**
	 * Where the id → path index of a side whose feed names some changes by id alone (Google Drive) is
	 * kept when there is no `copy` (with one, the index lives in it): with it, such changes are placed
	 * instead of forcing a full listing.
	 */
	index?: (side: Side) => StateStore;
	/** The clock the interval is measured on (tests move it). */
	now?: () => number;
}

/** Which kind of listing a run used, and why: what the report shows. */
export interface ListingChoice {
	listing: 'changes' | 'full';
	listingReason: string;
}

/** The plan's input when it comes from change feeds: the changed paths, and the cursors to save when the run fully succeeds. */
export interface FeedPlan extends ListingChoice {
	paths?: string[];
	/** Cursors as of now for each side with a feed (taken before anything is listed). */
	cursors: Partial<Record<Side, string>>;
	fullAt: number;
	settings: string;
	previous?: FeedState;
	/** Whether anything is worth keeping: not when a side has no feed (every run lists in full then). */
	keep: boolean;
	/** Set by the run: paths it changed after the cursors, and the destination's file count after it. */
	carried?: string[];
	destinationFiles?: number;
	baselineFiles?: number;
	/** Id index tokens to save with the cursors. */
	indexes?: Partial<Record<Side, string>>;
	/** Indexes a full listing is recording, by side. */
	indexing?: Partial<Record<Side, IdIndexWriter>>;
	/** What the changes read so far do to each side's id index. */
	indexChanges?: Partial<Record<Side, IndexChange[]>>;
	/** Each side's saved index as read to place changes (compressed text), so that updating it costs no second download; after saving, the one saved. */
	indexTexts?: Partial<Record<Side, string>>;
	/** The copy on the destination as this run read it (once at most). */
	readCopy?: () => Promise<string | undefined>;
}

/** One item's move in a side's id index: `path` where it is now (absent when gone), `previousPath` where it was. */
interface IndexChange {
	id: string;
	path?: string;
	previousPath?: string;
	isDir: boolean;
}

/** A digest of the settings, not a 32-bit name like pairId's: two settings that collide would let a run plan from feeds after a filter changed. */
export function settingsHash(text: string): string {
	return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/**
 * The copy's text: the feed state's JSON on the first line, then a line `side<TAB>index` for each
 * side's id index. A copy of one line (written before indexes moved into it) is the state alone.
 */
function copyText(state: string, indexes: Partial<Record<Side, string>>): string {
	return [state, ...(Object.entries(indexes) as Array<[Side, string | undefined]>).filter(([, text]) => text).map(([side, text]) => `${side}\t${text}`)].join('\n');
}

/** One part of a copy's text: the state, or a side's index; read without splitting a large text into lines. */
function copyPart(text: string | undefined, part: 'state' | Side): string | undefined {
	if (text === undefined) return undefined;
	for (let start = 0, line = 0; ; line++) {
		const end = text.indexOf('\n', start);
		const stop = end < 0 ? text.length : end;
		if (line === 0 && part === 'state') return text.slice(0, stop);
		if (line > 0 && text.startsWith(`${part}\t`, start)) return text.slice(start + part.length + 1, stop);
		if (end < 0) return undefined;
		start = end + 1;
	}
}

/** Each side's id index lives in the copy when there is one. */
const indexesInCopy = (options: FeedOptions) => options.copy !== undefined && options.index !== undefined;

async function loadIndex(options: FeedOptions, side: Side, readCopy?: () => Promise<string | undefined>): Promise<string | undefined> {
	if (!indexesInCopy(options)) return options.index!(side).load();
	return copyPart(await (readCopy ?? (() => options.copy!.load()))(), side);
}

function once(load: () => Promise<string | undefined>): () => Promise<string | undefined> {
	let loaded: Promise<string | undefined> | undefined;
	return () => (loaded ??= load());
}

async function loadFeedState(options: FeedOptions, readCopy: () => Promise<string | undefined>): Promise<FeedState | undefined> {
	const parse = (text: string | undefined): FeedState | undefined => {
		if (!text) return undefined;
		try {
			const state = JSON.parse(text) as FeedState;
			return state.format === FORMAT ? state : undefined;
		} catch {
			return undefined;
		}
	};
	return parse(await options.state.load()) ?? parse(copyPart(await readCopy(), 'state'));
}

const hasFeed = (provider: Provider) => provider.changeCursor !== undefined && provider.changesSince !== undefined;
const days = (ms: number) => `${Math.round((ms / 86_400_000) * 10) / 10} days`;

/**
 * Decides whether this run may plan from the change feeds, and gathers the changed paths of both
 * sides when it may. Only a pair where both sides have a feed is planned from changes: a side
 * without one could have changed anywhere (a destination edited by hand is put back by a Mirror
 * only if it is looked at), so the other side's feed alone proves nothing about it.
 */
export async function planFromFeeds(sides: Record<Side, Provider>, options: FeedOptions, now: number, signal?: AbortSignal, fullBecause?: string): Promise<FeedPlan> {
	const settings = settingsHash(options.settings);
	const fed = (['source', 'destination'] as const).filter((side) => hasFeed(sides[side]));
	const without = (['source', 'destination'] as const).filter((side) => !fed.includes(side));
	if (without.length > 0) {
		const listingReason = `${without.map((side) => `the ${side} (${sides[side].name})`).join(' and ')} ${without.length > 1 ? 'have' : 'has'} no change feed, so only a full listing sees ${without.length > 1 ? 'their' : 'its'} changes`;
		return { listing: 'full', listingReason, cursors: {}, fullAt: now, settings, keep: false };
	}
	const readCopy = once(async () => options.copy?.load().catch(() => undefined));
	const previous = await loadFeedState(options, readCopy);
	const full = async (listingReason: string): Promise<FeedPlan> => {
		const cursors: Partial<Record<Side, string>> = {};
		for (const side of fed) {
			try {
				// Taken before the listing: a change made while it runs shows up in the next run's feed.
				cursors[side] = await sides[side].changeCursor!();
			} catch (error) {
				if (!(error instanceof NotFoundError)) throw error;
				// A destination the run is about to create has no feed yet: the next run starts one.
				return { listing: 'full', listingReason: `${listingReason}; the ${side} folder does not exist yet`, cursors: {}, fullAt: now, settings, keep: false };
			}
		}
		return { listing: 'full', listingReason, cursors, fullAt: now, settings, previous, keep: true, readCopy };
	};
	const indexed = (side: Side) => options.index !== undefined && sides[side].feedNamesById === true;
	if (fullBecause) return full(fullBecause);
	if (!previous) return full('no saved change cursors yet (first run)');
	if (previous.settings !== settings) return full('the folders, mode or filters changed since the last run');
	if (now - previous.fullAt >= options.fullEveryMs) return full(`the periodic full check is due (last one ${days(now - previous.fullAt)} ago)`);
	const paths = new Set<string>(previous.carried ?? []);
	const cursors: Partial<Record<Side, string>> = {};
	const indexChanges: Partial<Record<Side, IndexChange[]>> = {};
	const unplacedBy: Partial<Record<Side, UnplacedChange[]>> = {};
	const indexTexts: Partial<Record<Side, string>> = {};
	const add = (path: string | undefined) => {
		// The lock and state files a run rewrites are its own, never synced.
		if (path !== undefined && !inStateFolder(path)) paths.add(path);
	};
	for (const side of fed) {
		const cursor = previous.cursors[side];
		if (!cursor) return full(`no saved change cursor for the ${side}`);
		let page;
		try {
			page = await sides[side].changesSince!(cursor, { signal });
		} catch (error) {
			if (error instanceof CursorExpiredError) return full(`the ${side}'s change cursor expired or is no longer valid (${error.message})`);
			if (error instanceof NotFoundError) return full(`the ${side} folder itself was moved or deleted since the last run`);
			throw error;
		}
		if (page.unplaced) {
			const byId = page.unplacedChanges;
			if (!indexed(side) || !byId || byId.length < page.unplaced) {
				return full(`the ${side}'s change feed (${sides[side].name}) reported ${page.unplaced} change(s) it cannot place (an item moved or deleted that this run never saw), so only a full listing is sound`);
			}
			unplacedBy[side] = byId;
		}
		for (const change of page.changes) {
			add(change.path);
			add(change.previousPath);
		}
		if (indexed(side)) indexChanges[side] = indexChangesOf(page.changes);
		cursors[side] = page.cursor;
	}
	for (const [side, unplaced] of Object.entries(unplacedBy) as Array<[Side, UnplacedChange[]]>) {
		// Where each item was, from the index the last run left: one download, read as a stream.
		const token = previous.indexes?.[side];
		const text = token === undefined ? undefined : await loadIndex(options, side, readCopy);
		const index = await openIdIndex(text);
		indexTexts[side] = text;
		if (!index || index.token !== token) {
			return full(`the ${side}'s change feed (${sides[side].name}) named ${unplaced.length} change(s) by id alone, and the index of its ids the last run kept is missing or out of date`);
		}
		const former = await index.lookup(new Set(unplaced.map((item) => item.id)));
		for (const item of unplaced) {
			const was = former.get(item.id);
			// An id the index never held was outside the root: gone, nothing to do; here now, it is new here.
			add(was);
			add(item.path);
			if (was !== item.path) indexChanges[side]!.push({ id: item.id, path: item.path, previousPath: was, isDir: item.isDir });
		}
	}
	// A change at the root itself (the folder renamed, deleted, replaced) is best seen whole.
	if (paths.has('')) return full('the synced folder itself changed');
	// Each changed path costs a request or two a side: beyond this, listing both trees is cheaper.
	if (paths.size > MAX_CHANGED_PATHS) return full(`${paths.size} changed paths since the last run (more than ${MAX_CHANGED_PATHS}): a full listing costs less than checking each`);
	return {
		listing: 'changes',
		listingReason: `${paths.size} changed path(s) since the last successful run`,
		paths: [...paths],
		cursors,
		fullAt: previous.fullAt,
		settings,
		previous,
		keep: true,
		indexes: previous.indexes,
		indexChanges,
		indexTexts,
		readCopy,
	};
}

function stateOf(plan: FeedPlan): string {
	const state: FeedState = {
		format: FORMAT,
		settings: plan.settings,
		cursors: plan.cursors,
		fullAt: plan.fullAt,
		carried: plan.carried?.length ? plan.carried : undefined,
		destinationFiles: plan.destinationFiles,
		baselineFiles: plan.baselineFiles,
		indexes: plan.indexes,
	};
	return JSON.stringify(state);
}

/**
 * After a fully successful run: the cursors advance. The copy on the destination is written after a
 * full listing, and when it holds the id indexes, whenever one of them changes (a copy with older
 * cursors is still sound: its next run reads more changes; the indexes it holds are those of its
 * cursors). A copy without indexes is written before the cursors of the destination move past the
 * run's own writes, its own included; one with them after, as it needs the indexes those writes made
 * (the engine's own files are never synced, so the next run passes over that write at no cost).
 */
export async function saveFeedState(plan: FeedPlan, options: FeedOptions, afterCopy: () => Promise<void>): Promise<void> {
	const together = indexesInCopy(options);
	if (options.copy && plan.listing === 'full' && !together) await options.copy.save(stateOf({ ...plan, indexes: undefined }));
	await afterCopy();
	const indexesChanged = await saveIndexes(plan, options);
	const text = stateOf(plan);
	if (together && (plan.listing === 'full' || indexesChanged)) await options.copy!.save(copyText(text, await indexesToKeep(plan, options)));
	if ((await options.state.load()) !== text) await options.state.save(text);
}

/** The text of each side's index the saved state names: the one just made, or the one read, else from the copy as it was. */
async function indexesToKeep(plan: FeedPlan, options: FeedOptions): Promise<Partial<Record<Side, string>>> {
	const kept: Partial<Record<Side, string>> = {};
	for (const side of ['source', 'destination'] as const) {
		const token = plan.indexes?.[side];
		if (token === undefined) continue;
		const text = plan.indexTexts?.[side] ?? (await loadIndex(options, side, plan.readCopy));
		if ((await openIdIndex(text))?.token === token) kept[side] = text;
		else plan.indexes = { ...plan.indexes, [side]: undefined };
	}
	return kept;
}

/**
 * After a run that wrote to `sides`: reads the feed again of each one whose feed names some changes
 * by id alone, while its provider still knows every path the run touched (Drive names a changed item
 * only when it knows where it was), and moves its cursor past the run's own writes, carrying their
 * paths to the next run. A side whose feed cannot place something (another client's change during
 * the run) keeps its cursor from before: the next run meets that change itself. So does a side whose
 * feed names every change by path (Dropbox): its next run reads the same paths from the feed that
 * reading them now would carry, and this run saves the call.
 */
export async function carryOwnChanges(plan: FeedPlan, sides: Partial<Record<Side, Provider>>, signal?: AbortSignal): Promise<void> {
	const carried = new Set<string>(plan.carried ?? []);
	for (const [side, provider] of Object.entries(sides) as Array<[Side, Provider]>) {
		const cursor = plan.cursors[side];
		if (!cursor || !provider.changesSince || !provider.feedNamesById) continue;
		try {
			const page = await provider.changesSince(cursor, { signal });
			if (page.unplaced) continue;
			for (const change of page.changes) {
				// The state file the run just wrote is the engine's own, never synced.
				if (inStateFolder(change.path)) continue;
				carried.add(change.path);
				if (change.previousPath !== undefined) carried.add(change.previousPath);
			}
			if (provider.feedNamesById) ((plan.indexChanges ??= {})[side] ??= []).push(...indexChangesOf(page.changes));
			plan.cursors[side] = page.cursor;
		} catch {
			// The cursor from before the run stays: the next run reads these changes itself.
		}
	}
	plan.carried = [...carried];
}

/** What a page's placed changes do to an id index: edits in place leave it as it is. */
function indexChangesOf(changes: ChangePage['changes']): IndexChange[] {
	const out: IndexChange[] = [];
	for (const change of changes) {
		if (change.id === undefined || change.kind === 'modified' || inStateFolder(change.path)) continue;
		if (change.kind === 'deleted') out.push({ id: change.id, previousPath: change.path, isDir: change.isDir });
		else out.push({ id: change.id, path: change.path, previousPath: change.previousPath, isDir: change.isDir });
	}
	return out;
}

const INDEX_FORMAT = 'cloudsync-ids-1';
const INDEX_BATCH = 16_384;

/**
 * A side's ids and where each item is, one line each, written as a listing streams by: gzip members
 * of a batch of lines each, so only the compressed text is held (about 15 bytes an item). Its token,
 * saved with the cursors, ties it to them: an index of another run is never used.
 */
export class IdIndexWriter {
	readonly token = randomBytes(6).toString('hex');
	private lines: string[] = [];
	private readonly members: Buffer[] = [];

	add(id: string, path: string): void {
		this.lines.push(JSON.stringify([id, path]));
		if (this.lines.length >= INDEX_BATCH) this.flush();
	}

	private flush(): void {
		if (this.lines.length === 0) return;
		this.members.push(gzipSync(Buffer.from(`${this.lines.join('\n')}\n`, 'utf8')));
		this.lines = [];
	}

	text(): string {
		this.flush();
		return Buffer.concat([gzipSync(Buffer.from(`${INDEX_FORMAT}\t${this.token}\n`, 'utf8')), ...this.members]).toString('base64');
	}
}

interface IdIndex {
	token: string;
	entries(): AsyncGenerator<[id: string, path: string]>;
	/** Where each of `ids` is, in one pass over the index. */
	lookup(ids: Set<string>): Promise<Map<string, string>>;
}

/** Opens a saved id index; undefined when there is none or it cannot be read (a full listing then rebuilds it). */
async function openIdIndex(text: string | undefined): Promise<IdIndex | undefined> {
	if (!text) return undefined;
	let header: string | undefined;
	try {
		for await (const line of textLines(text)) {
			header = line;
			break;
		}
	} catch {
		return undefined;
	}
	const [format, token] = (header ?? '').split('\t');
	if (format !== INDEX_FORMAT || !token) return undefined;
	const entries = async function* (): AsyncGenerator<[string, string]> {
		let first = true;
		for await (const line of textLines(text)) {
			if (first || line === '') {
				first = false;
				continue;
			}
			yield JSON.parse(line) as [string, string];
		}
	};
	return {
		token,
		entries,
		async lookup(ids) {
			const found = new Map<string, string>();
			try {
				for await (const [id, path] of entries()) if (ids.has(id)) found.set(id, path);
			} catch {
				// A damaged index places nothing: the caller finds the ids missing.
			}
			return found;
		},
	};
}

const below = (path: string, folder: string) => path === folder || path.startsWith(`${folder}/`);

/** `index` with `changes` applied, as a new index: items gone are dropped (folders with everything below), moved folders take what is below them along. */
async function applyIndexChanges(entries: AsyncIterable<[string, string]>, changes: IndexChange[]): Promise<IdIndexWriter> {
	const latest = new Map<string, IndexChange>();
	for (const change of changes) latest.set(change.id, change);
	const folders = [...latest.values()].filter((change) => change.isDir && change.previousPath !== undefined && change.previousPath !== change.path);
	const next = new IdIndexWriter();
	for await (const [id, path] of entries) {
		if (latest.has(id)) continue;
		let now: string | undefined = path;
		for (const folder of folders) {
			if (now === undefined || !below(now, folder.previousPath!)) continue;
			now = folder.path === undefined ? undefined : folder.path + now.slice(folder.previousPath!.length);
		}
		if (now !== undefined) next.add(id, now);
	}
	for (const change of latest.values()) if (change.path !== undefined) next.add(change.id, change.path);
	return next;
}

/** A full listing of `side` records its ids as it streams by, when that side needs an index. */
export function recordIds(plan: FeedPlan | undefined, side: Side, provider: Provider, options: FeedOptions | undefined): ((entry: Entry) => void) | undefined {
	if (!plan?.keep || plan.listing !== 'full' || !options?.index || !provider.feedNamesById) return undefined;
	const writer = new IdIndexWriter();
	(plan.indexing ??= {})[side] = writer;
	// What the feeds said before this listing is in it already; only what the run reads after it is applied.
	(plan.indexChanges ??= {})[side] = [];
	return (entry) => {
		if (entry.id !== undefined && entry.path !== '') writer.add(entry.id, entry.path);
	};
}

/** A walk that hands each entry to `record` as it passes. */
export async function* recorded<T extends Entry>(entries: AsyncIterable<T>, record: (entry: Entry) => void): AsyncGenerator<T> {
	for await (const entry of entries) {
		record(entry);
		yield entry;
	}
}

/**
 * Makes each side's index as of the cursors about to be saved: the one a full listing recorded, or
 * the last one with this run's changes applied; untouched when nothing moved. Written to its own
 * store, or kept in `plan.indexTexts` for the copy. Says whether any changed.
 */
async function saveIndexes(plan: FeedPlan, options: FeedOptions): Promise<boolean> {
	if (!options.index) return false;
	let changed = false;
	for (const side of ['source', 'destination'] as const) {
		const changes = plan.indexChanges?.[side] ?? [];
		const recordedIndex = plan.indexing?.[side];
		let next: IdIndexWriter | undefined;
		if (recordedIndex) {
			next = changes.length === 0 ? recordedIndex : await applyIndexChanges((await openIdIndex(recordedIndex.text()))!.entries(), changes);
		} else if (changes.length > 0 && plan.indexes?.[side] !== undefined) {
			const old = await openIdIndex(plan.indexTexts?.[side] ?? (await loadIndex(options, side, plan.readCopy)));
			// Without the index it would update, none is kept: the next change named by id alone lists in full and records a new one.
			next = old && old.token === plan.indexes[side] ? await applyIndexChanges(old.entries(), changes) : undefined;
			if (!next) plan.indexes = { ...plan.indexes, [side]: undefined };
		}
		if (!next) {
			changed ||= plan.indexes?.[side] === undefined && plan.previous?.indexes?.[side] !== undefined;
			continue;
		}
		if (indexesInCopy(options)) (plan.indexTexts ??= {})[side] = next.text();
		else await options.index(side).save(next.text());
		plan.indexes = { ...plan.indexes, [side]: next.token };
		changed = true;
	}
	return changed;
}
