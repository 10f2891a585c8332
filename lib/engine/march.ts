import type { Entry, Stepper } from '../core/types';
import { matchKey } from '../core/paths';
import { compareSlashFirst, walkKey } from '../core/walkOrder';
import { CloudSyncError } from '../core/errors';
import type { Match } from './planner';

/** A stream that can also be stepped through (a walk listing of a local disk, a saved baseline): `stepper` says undefined when it cannot. */
interface Steppable<T> {
	stepper(): Stepper<T> | undefined;
}

/**
 * One side's listing with the entry it is at (`key` is undefined once it is exhausted). A stream
 * that can be stepped through costs a promise only where it waits; any other, one per value.
 */
class Cursor<T> {
	value?: T;
	key?: string;
	private previous?: string;
	private readonly iterator?: AsyncIterator<T>;
	private readonly stepper?: Stepper<T>;

	constructor(
		stream: AsyncIterable<T>,
		private readonly pathOf: (value: T) => string,
		private readonly side: string,
	) {
		this.stepper = (stream as Partial<Steppable<T>>).stepper?.();
		if (!this.stepper) this.iterator = stream[Symbol.asyncIterator]();
	}

	/** Steps to the next value; a promise only when the stream must be waited for. */
	advance(): Promise<void> | void {
		if (this.stepper) {
			const next = this.stepper.next();
			return next instanceof Promise ? next.then(this.acceptStep) : this.acceptStep(next);
		}
		return this.nextValue();
	}

	private nextValue(): Promise<void> {
		return this.iterator!.next().then(this.acceptResult);
	}

	private readonly acceptStep = (value: T | undefined): void => (value === undefined ? this.accept(undefined, true) : this.accept(value));

	private readonly acceptResult = (next: IteratorResult<T>): void => this.accept(next.done ? undefined : next.value, next.done);

	private accept(value: T | undefined, done = false): void {
		if (done) {
			this.value = undefined;
			this.key = undefined;
			return;
		}
		const key = walkKey(this.pathOf(value as T));
		// Two sorted streams merge right only when both really are sorted: a cloud that broke the order would show as deletions.
		if (this.previous !== undefined && compareSlashFirst(key, this.previous) < 0) {
			throw new CloudSyncError(`The ${this.side} listing is out of walk order at "${this.pathOf(value as T)}"`);
		}
		this.previous = key;
		this.value = value;
		this.key = key;
	}

	/**
	 * Every value whose walk key is `key`, put in `taken` in place of what it held: those are neighbours
	 * in walk order. A promise only when the stream must be waited for.
	 */
	take(key: string, taken: T[]): Promise<void> | void {
		let count = 0;
		while (this.key === key) {
			taken[count++] = this.value as T;
			const stepped = this.advance();
			// No closure here: one that captured these variables would make every call allocate a context for them, a million times a run.
			if (stepped) return this.takeRest(key, taken, count, stepped);
		}
		fit(taken, count);
	}

	private async takeRest(key: string, taken: T[], count: number, stepped: Promise<void>): Promise<void> {
		await stepped;
		while (this.key === key) {
			taken[count++] = this.value as T;
			await this.advance();
		}
		fit(taken, count);
	}
}

/** Cuts an array reused for every group to what this group holds, keeping its storage (but for none, which lets it go). */
function fit(array: unknown[], length: number): void {
	if (array.length !== length) array.length = length;
}

/** The least walk key among the cursors' heads. */
function leastKey(cursors: Array<Cursor<unknown>>): string | undefined {
	let least: string | undefined;
	// Indexed: an array iterator per group is garbage the optimiser does not always remove.
	for (let i = 0; i < cursors.length; i++) {
		const key = cursors[i].key;
		if (key !== undefined && (least === undefined || compareSlashFirst(key, least) < 0)) least = key;
	}
	return least;
}

/**
 * Merges streams in walk order into groups of what shares one walk key (names that fold alike),
 * the way rclone's march walks two trees in step: memory holds one group, never a tree. Each group
 * goes to `onGroup` (awaited when it returns a promise: a visitor, not a generator, saves a promise per name);
 * its arrays are reused for the next group, so a visitor keeps what it needs of them, never the arrays.
 */
export async function marchGroups<T extends unknown[]>(
	streams: { [K in keyof T]: AsyncIterable<T[K]> },
	pathOf: (value: T[number]) => string,
	sides: string[],
	onGroup: (group: { [K in keyof T]: Array<T[K]> }, walkKey: string) => void | Promise<void>,
): Promise<void> {
	const cursors = (streams as Array<AsyncIterable<unknown>>).map((stream, i) => new Cursor(stream, pathOf as (value: unknown) => string, sides[i]));
	for (const cursor of cursors) await cursor.advance();
	// One set of arrays for every group, emptied before the next: a million names would otherwise make three million short-lived arrays.
	const group: unknown[][] = cursors.map(() => []);
	for (;;) {
		const key = leastKey(cursors);
		if (key === undefined) return;
		for (let i = 0; i < cursors.length; i++) {
			const taken = cursors[i].take(key, group[i]);
			if (taken) await taken;
		}
		const visited = onGroup(group as { [K in keyof T]: Array<T[K]> }, key);
		if (visited) await visited;
	}
}

/**
 * The one-way planner's matches, streamed to `onMatch`: both listings (in walk order) merged, each
 * name matched by its key (NFC, folded when either side ignores case), duplicates and collisions
 * kept as extras (a collision on a side).
 */
export async function marchListings(source: AsyncIterable<Entry>, destination: AsyncIterable<Entry>, caseInsensitive: boolean, onMatch: (match: Match) => void | Promise<void>): Promise<void> {
	await marchGroups<[Entry, Entry]>([source, destination], (entry) => entry.path, ['source', 'destination'], ([sources, destinations], walk) => {
		const single = sources.length + destinations.length === 1;
		if (single || (sources.length === 1 && destinations.length === 1 && sources[0].path === destinations[0].path)) {
			// The usual case: one name on each side, spelled alike, or one name on one side.
			// Folded alike is the walk key itself: not worked out again.
			return onMatch({ key: caseInsensitive ? walk : matchKey((sources[0] ?? destinations[0]).path, false), walk, source: sources[0], destination: destinations[0] });
		}
		const matches = new Map<string, Match>();
		const add = (entry: Entry, side: 'source' | 'destination') => {
			const key = matchKey(entry.path, caseInsensitive);
			let match = matches.get(key);
			if (!match) matches.set(key, (match = { key, walk }));
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
