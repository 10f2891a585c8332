import type { Provider } from '../core/types';
import { CursorExpiredError, NotFoundError } from '../core/errors';
import type { StateStore } from '../state/state';
import { STATE_FOLDER } from '../core/filters';

/** The engine's own folder (lock, state, cursors): its changes are the engine's, never synced. */
export const isStatePath = (path: string) => path === STATE_FOLDER || path.startsWith(`${STATE_FOLDER}/`);

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
}

const FORMAT = 'cloudsync-feed-1';
const MAX_CHANGED_PATHS = 2_000;

/** Where the feed state lives (n8n's static data, with a copy on the destination for runs n8n gives no state), how often a full listing runs anyway. */
export interface FeedOptions {
	state: StateStore;
	/** Read when `state` holds nothing; written whenever the state changes. */
	copy?: StateStore;
	/** The settings that decide the plan, in any stable text form (hashed here). */
	settings: string;
	/** A full listing runs when the last one is older than this (ms). */
	fullEveryMs: number;
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
}

export function settingsHash(text: string): string {
	let hash = 2166136261;
	for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619) >>> 0;
	return hash.toString(36);
}

async function loadFeedState(options: FeedOptions): Promise<FeedState | undefined> {
	const parse = (text: string | undefined): FeedState | undefined => {
		if (!text) return undefined;
		try {
			const state = JSON.parse(text) as FeedState;
			return state.format === FORMAT ? state : undefined;
		} catch {
			return undefined;
		}
	};
	return parse(await options.state.load()) ?? (options.copy ? parse(await options.copy.load().catch(() => undefined)) : undefined);
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
	const previous = await loadFeedState(options);
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
		return { listing: 'full', listingReason, cursors, fullAt: now, settings, previous, keep: true };
	};
	if (fullBecause) return full(fullBecause);
	if (!previous) return full('no saved change cursors yet (first run)');
	if (previous.settings !== settings) return full('the folders, mode or filters changed since the last run');
	if (now - previous.fullAt >= options.fullEveryMs) return full(`the periodic full check is due (last one ${days(now - previous.fullAt)} ago)`);
	const paths = new Set<string>(previous.carried ?? []);
	const cursors: Partial<Record<Side, string>> = {};
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
		if (page.unplaced) return full(`the ${side}'s change feed (${sides[side].name}) reported ${page.unplaced} change(s) it cannot place (an item moved or deleted that this run never saw), so only a full listing is sound`);
		for (const change of page.changes) {
			// The lock and state files a run rewrites are its own, never synced.
			if (!isStatePath(change.path)) paths.add(change.path);
			if (change.previousPath !== undefined && !isStatePath(change.previousPath)) paths.add(change.previousPath);
		}
		cursors[side] = page.cursor;
	}
	// A change at the root itself (the folder renamed, deleted, replaced) is best seen whole.
	if (paths.has('')) return full('the synced folder itself changed');
	// Each changed path costs a request or two a side: beyond this, listing both trees is cheaper.
	if (paths.size > MAX_CHANGED_PATHS) return full(`${paths.size} changed paths since the last run (more than ${MAX_CHANGED_PATHS}): a full listing costs less than checking each`);
	return { listing: 'changes', listingReason: `${paths.size} changed path(s) since the last successful run`, paths: [...paths], cursors, fullAt: previous.fullAt, settings, previous, keep: true };
}

function stateOf(plan: FeedPlan): string {
	const state: FeedState = { format: FORMAT, settings: plan.settings, cursors: plan.cursors, fullAt: plan.fullAt, carried: plan.carried?.length ? plan.carried : undefined, destinationFiles: plan.destinationFiles, baselineFiles: plan.baselineFiles };
	return JSON.stringify(state);
}

/**
 * After a fully successful run: the cursors advance. The copy on the destination is written after a
 * full listing only (a copy with older cursors is still sound: its next run reads more changes),
 * and before the cursors of the destination move past the run's own writes, the copy's included:
 * a state file rewritten on every run would be a change of its own every time.
 */
export async function saveFeedState(plan: FeedPlan, options: FeedOptions, afterCopy: () => Promise<void>): Promise<void> {
	if (options.copy && plan.listing === 'full') await options.copy.save(stateOf(plan));
	await afterCopy();
	const text = stateOf(plan);
	if ((await options.state.load()) !== text) await options.state.save(text);
}

/**
 * After a run that wrote to `sides`: reads each one's feed again, while its provider still knows
 * every path the run touched (Drive names a changed item only when it knows where it was), and
 * moves its cursor past the run's own writes, carrying their paths to the next run. A side whose
 * feed cannot place something (another client's change during the run) keeps its cursor from
 * before: the next run meets that change itself.
 */
export async function carryOwnChanges(plan: FeedPlan, sides: Partial<Record<Side, Provider>>, signal?: AbortSignal): Promise<void> {
	const carried = new Set<string>(plan.carried ?? []);
	for (const [side, provider] of Object.entries(sides) as Array<[Side, Provider]>) {
		const cursor = plan.cursors[side];
		if (!cursor || !provider.changesSince) continue;
		try {
			const page = await provider.changesSince(cursor, { signal });
			if (page.unplaced) continue;
			for (const change of page.changes) {
				// The state file the run just wrote is the engine's own, never synced.
				if (isStatePath(change.path)) continue;
				carried.add(change.path);
				if (change.previousPath !== undefined) carried.add(change.previousPath);
			}
			plan.cursors[side] = page.cursor;
		} catch {
			// The cursor from before the run stays: the next run reads these changes itself.
		}
	}
	plan.carried = [...carried];
}
