import type { Entry } from '../core/types';
import { matchKey } from '../core/paths';
import { compareSlashFirst, walkKey } from '../core/walkOrder';
import { CloudSyncError } from '../core/errors';
import type { Match } from './planner';

/** One side's listing with the entry it is at. */
class Cursor<T> {
	head?: { value: T; key: string };
	private previous?: string;

	constructor(
		private readonly iterator: AsyncIterator<T>,
		private readonly pathOf: (value: T) => string,
		private readonly side: string,
	) {}

	async advance(): Promise<void> {
		const next = await this.iterator.next();
		if (next.done) {
			this.head = undefined;
			return;
		}
		const key = walkKey(this.pathOf(next.value));
		// Two sorted streams merge right only when both really are sorted: a cloud that broke the order would show as deletions.
		if (this.previous !== undefined && compareSlashFirst(key, this.previous) < 0) {
			throw new CloudSyncError(`The ${this.side} listing is out of walk order at "${this.pathOf(next.value)}"`);
		}
		this.previous = key;
		this.head = { value: next.value, key };
	}

	/** Every value whose walk key is `key`: those are neighbours in walk order. */
	async take(key: string): Promise<T[]> {
		const taken: T[] = [];
		while (this.head && this.head.key === key) {
			taken.push(this.head.value);
			await this.advance();
		}
		return taken;
	}
}

/** The least walk key among the cursors' heads. */
function leastKey(cursors: Array<Cursor<unknown>>): string | undefined {
	let least: string | undefined;
	for (const cursor of cursors) {
		const key = cursor.head?.key;
		if (key !== undefined && (least === undefined || compareSlashFirst(key, least) < 0)) least = key;
	}
	return least;
}

/**
 * Merges streams in walk order into groups of what shares one walk key (names that fold alike),
 * the way rclone's march walks two trees in step: memory holds one group, never a tree. Each group
 * goes to `onGroup` (awaited when it returns a promise: a visitor, not a generator, saves a promise per name).
 */
export async function marchGroups<T extends unknown[]>(
	streams: { [K in keyof T]: AsyncIterable<T[K]> },
	pathOf: (value: T[number]) => string,
	sides: string[],
	onGroup: (group: { [K in keyof T]: Array<T[K]> }) => void | Promise<void>,
): Promise<void> {
	const cursors = (streams as Array<AsyncIterable<unknown>>).map((stream, i) => new Cursor(stream[Symbol.asyncIterator](), pathOf as (value: unknown) => string, sides[i]));
	for (const cursor of cursors) await cursor.advance();
	for (;;) {
		const key = leastKey(cursors);
		if (key === undefined) return;
		const group: unknown[][] = [];
		for (const cursor of cursors) group.push(await cursor.take(key));
		const visited = onGroup(group as { [K in keyof T]: Array<T[K]> });
		if (visited) await visited;
	}
}

/**
 * The one-way planner's matches, streamed to `onMatch`: both listings (in walk order) merged, each
 * name matched by its key (NFC, folded when either side ignores case), duplicates and collisions
 * kept as extras exactly as `matchListings` keeps them.
 */
export async function marchListings(source: AsyncIterable<Entry>, destination: AsyncIterable<Entry>, caseInsensitive: boolean, onMatch: (match: Match) => void | Promise<void>): Promise<void> {
	await marchGroups<[Entry, Entry]>([source, destination], (entry) => entry.path, ['source', 'destination'], ([sources, destinations]) => {
		const [only] = sources.length + destinations.length === 1 ? [...sources, ...destinations] : [];
		if (only || (sources.length === 1 && destinations.length === 1 && sources[0].path === destinations[0].path)) {
			// The usual case: one name on each side, spelled alike, or one name on one side.
			return onMatch({ key: matchKey((only ?? sources[0]).path, caseInsensitive), source: sources[0], destination: destinations[0] });
		}
		const matches = new Map<string, Match>();
		const add = (entry: Entry, side: 'source' | 'destination') => {
			const key = matchKey(entry.path, caseInsensitive);
			let match = matches.get(key);
			if (!match) matches.set(key, (match = { key }));
			if (match[side] === undefined) match[side] = entry;
			else (match[side === 'source' ? 'extraSources' : 'extraDestinations'] ??= []).push(entry);
		};
		for (const entry of sources) add(entry, 'source');
		for (const entry of destinations) add(entry, 'destination');
		return (async () => {
			for (const match of [...matches.values()].sort((a, b) => compareSlashFirst(a.key, b.key))) await onMatch(match);
		})();
	});
}
