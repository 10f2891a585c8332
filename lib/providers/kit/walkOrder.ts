import type { Entry } from '../../core/types';
import { compareWalkKeys, compareWalkOrder, walkKey } from '../../core/walkOrder';
import { DEFAULT_MEMORY_LIMIT, ExternalSorter, SpillDir } from '../../core/spill';

interface Keyed {
	key: string;
	entry: Entry;
}

const byWalkOrder = (a: Keyed, b: Keyed) => compareWalkKeys(a.key, a.entry.path, b.key, b.entry.path);

/** Folders listed ahead of the walk, so that several wait on the disk or the server at once. */
const FOLDERS_AHEAD = 4;

export interface WalkOptions {
	recursive?: boolean;
	signal?: AbortSignal;
	/** Entries of one folder held in memory before they are sorted through a temporary file. */
	memoryLimit?: number;
	/** Folders listed ahead of the walk (default 4); 0 for a listing that does its work synchronously, where reading ahead only holds entries longer. */
	foldersAhead?: number;
}

/**
 * A recursive listing in walk order (lib/core/walkOrder.ts) for a cloud that can list one folder:
 * each folder's children sorted, then each child folder's subtree right after it. Folders whose
 * names fold alike are walked as one, so their contents interleave as the order requires. Only the
 * folders on the way down are held, each spilled to a temporary file when it holds more than the limit.
 */
export async function* walkInOrder(start: string, listFolder: (path: string) => Promise<Entry[]> | AsyncIterable<Entry>, options: WalkOptions = {}): AsyncGenerator<Entry> {
	for await (const batch of walkInOrderBatches(start, listFolder, options)) yield* batch;
}

/** Entries handed on at most this many at a time, so that a folder read back from a temporary file is not held whole. */
const BATCH = 1024;

/**
 * `walkInOrder` in arrays: a run of entries (a folder's, up to where the walk goes down into a
 * subfolder) costs its reader one promise, not one per entry.
 */
export async function* walkInOrderBatches(start: string, listFolder: (path: string) => Promise<Entry[]> | AsyncIterable<Entry>, options: WalkOptions = {}): AsyncGenerator<Entry[]> {
	const spill = new SpillDir();
	const limit = Math.max(1, options.memoryLimit ?? DEFAULT_MEMORY_LIMIT);
	/** The folders on the way down, each its sorted children being given out (a stack, not recursion: each entry passes one generator, not one per level). */
	const stack: Level[] = [];
	/** Each level's subfolders in walk order, and how far the walk got: the next few are read ahead, as rclone's checkers do. */
	const upcoming: Array<{ folders: string[]; next: number }> = [];
	const early = new Map<string, Promise<Entry[]> | AsyncIterable<Entry>>();
	let pending: Keyed | undefined;
	const listing = (folder: string) => {
		const started = early.get(folder);
		early.delete(folder);
		return started ?? listFolder(folder);
	};
	const ahead = options.foldersAhead ?? FOLDERS_AHEAD;
	const readAheadFrom = (level: { folders: string[]; next: number }) => {
		for (let i = level.next; i < Math.min(level.folders.length, level.next + ahead); i++) {
			const folder = level.folders[i];
			if (early.has(folder)) continue;
			const started = listFolder(folder);
			// A folder read early that fails says so when the walk reaches it, not before.
			if (started instanceof Promise) started.catch(() => undefined);
			early.set(folder, started);
		}
	};
	const open = async (folders: string[]) => {
		// A folder is sorted in memory; only one larger than the limit goes through a temporary file.
		let held: Keyed[] = [];
		let sorter: ExternalSorter<Keyed> | undefined;
		const spillHeld = async () => {
			sorter ??= new ExternalSorter<Keyed>(spill, 'folder', byWalkOrder, limit);
			for (const keyed of held) await sorter.add(keyed);
			held = [];
		};
		const subfolders: string[] = [];
		for (const folder of folders) {
			const listed = await listing(folder);
			if (Array.isArray(listed)) {
				for (const entry of listed) {
					held.push({ key: walkKey(entry.path), entry });
					if (entry.isDir) subfolders.push(entry.path);
				}
				if (held.length >= limit) await spillHeld();
				continue;
			}
			for await (const entry of listed) {
				held.push({ key: walkKey(entry.path), entry });
				if (entry.isDir) subfolders.push(entry.path);
				if (held.length >= limit) await spillHeld();
			}
		}
		if (sorter) await spillHeld();
		stack.push(sorter ? new Level([], sorter.sorted()) : new Level(held.sort(byWalkOrder)));
		const level = { folders: options.recursive && subfolders.length <= limit ? subfolders.sort(compareWalkOrder) : [], next: 0 };
		upcoming.push(level);
		readAheadFrom(level);
	};
	let batch: Entry[] = [];
	try {
		await open([start]);
		while (stack.length > 0) {
			options.signal?.throwIfAborted();
			const top = stack[stack.length - 1];
			// One run of names that fold alike: all given, then their folders are walked as one.
			let first = pending ?? top.next();
			if (first instanceof Promise) first = await first;
			pending = undefined;
			if (first === undefined) {
				stack.pop();
				upcoming.pop();
				continue;
			}
			const folders: string[] = [];
			for (let keyed: Keyed | undefined = first; keyed; ) {
				batch.push(keyed.entry);
				if (batch.length >= BATCH) {
					yield batch;
					batch = [];
				}
				if (keyed.entry.isDir) folders.push(keyed.entry.path);
				let next = top.next();
				if (next instanceof Promise) next = await next;
				if (next === undefined) break;
				if (next.key !== first.key) {
					pending = next;
					break;
				}
				keyed = next;
			}
			if (options.recursive && folders.length > 0) {
				// The run that follows this subtree waits on the parent's level.
				if (pending) top.putBack(pending);
				pending = undefined;
				const level = upcoming[upcoming.length - 1];
				// Subfolders are walked in the order they are listed in: the search starts where the last one was found, so a folder of many subfolders costs no quadratic scan.
				level.next = Math.max(level.next, level.folders.indexOf(folders[folders.length - 1], level.next) + 1);
				readAheadFrom(level);
				// What came before the subtree is handed on before its folder is read (a folder that fails to list must not take it along).
				if (batch.length > 0) {
					yield batch;
					batch = [];
				}
				await open(folders);
			}
		}
		if (batch.length > 0) yield batch;
	} catch (error) {
		// What was listed before a failure is given first, as an entry-by-entry walk would have given it.
		if (batch.length > 0) yield batch;
		throw error;
	} finally {
		early.clear();
		await spill.dispose();
	}
}

/**
 * One folder's children in walk order, given one at a time: from memory without a promise (most
 * folders), or read back from the temporary file of a folder larger than the limit.
 */
class Level {
	private index = 0;
	private back?: Keyed;

	constructor(
		private readonly items: Keyed[],
		private readonly spilled?: AsyncIterator<Keyed>,
	) {}

	next(): Keyed | undefined | Promise<Keyed | undefined> {
		if (this.back) {
			const back = this.back;
			this.back = undefined;
			return back;
		}
		if (this.spilled) return this.spilled.next().then((result) => (result.done ? undefined : result.value));
		if (this.index >= this.items.length) return undefined;
		const keyed = this.items[this.index];
		// What was given is let go: a large folder's entries do not outlive their turn.
		this.items[this.index++] = undefined as unknown as Keyed;
		return keyed;
	}

	/** `keyed`, taken too early, comes out again first. */
	putBack(keyed: Keyed): void {
		this.back = keyed;
	}
}
