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
}

/**
 * A recursive listing in walk order (lib/core/walkOrder.ts) for a cloud that can list one folder:
 * each folder's children sorted, then each child folder's subtree right after it. Folders whose
 * names fold alike are walked as one, so their contents interleave as the order requires. Only the
 * folders on the way down are held, each spilled to a temporary file when it holds more than the limit.
 */
export async function* walkInOrder(start: string, listFolder: (path: string) => Promise<Entry[]> | AsyncIterable<Entry>, options: WalkOptions = {}): AsyncGenerator<Entry> {
	const spill = new SpillDir();
	const limit = options.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
	/** The folders on the way down, each its sorted children being given out (a stack, not recursion: each entry passes one generator, not one per level). */
	const stack: Array<AsyncIterator<Keyed>> = [];
	/** Each level's subfolders in walk order, and how far the walk got: the next few are read ahead, as rclone's checkers do. */
	const upcoming: Array<{ folders: string[]; next: number }> = [];
	const early = new Map<string, Promise<Entry[]> | AsyncIterable<Entry>>();
	let pending: Keyed | undefined;
	const listing = (folder: string) => {
		const started = early.get(folder);
		early.delete(folder);
		return started ?? listFolder(folder);
	};
	const readAheadFrom = (level: { folders: string[]; next: number }) => {
		for (let i = level.next; i < Math.min(level.folders.length, level.next + FOLDERS_AHEAD); i++) {
			const folder = level.folders[i];
			if (early.has(folder)) continue;
			const started = listFolder(folder);
			// A folder read early that fails says so when the walk reaches it, not before.
			if (started instanceof Promise) started.catch(() => undefined);
			early.set(folder, started);
		}
	};
	const open = async (folders: string[]) => {
		const sorter = new ExternalSorter<Keyed>(spill, 'folder', byWalkOrder, limit);
		const subfolders: string[] = [];
		for (const folder of folders) {
			for await (const entry of await listing(folder)) {
				await sorter.add({ key: walkKey(entry.path), entry });
				if (entry.isDir) subfolders.push(entry.path);
			}
		}
		stack.push(sorter.sorted());
		const level = { folders: options.recursive && subfolders.length <= limit ? subfolders.sort(compareWalkOrder) : [], next: 0 };
		upcoming.push(level);
		readAheadFrom(level);
	};
	try {
		await open([start]);
		while (stack.length > 0) {
			options.signal?.throwIfAborted();
			const top = stack[stack.length - 1];
			// One run of names that fold alike: all given, then their folders are walked as one.
			const first = pending ?? (await top.next()).value;
			pending = undefined;
			if (first === undefined) {
				stack.pop();
				upcoming.pop();
				continue;
			}
			const folders: string[] = [];
			for (let keyed: Keyed | undefined = first; keyed; ) {
				yield keyed.entry;
				if (keyed.entry.isDir) folders.push(keyed.entry.path);
				const next = await top.next();
				if (next.done) break;
				if (next.value.key !== first.key) {
					pending = next.value;
					break;
				}
				keyed = next.value;
			}
			if (options.recursive && folders.length > 0) {
				// The run that follows this subtree waits on the parent's level.
				const resume = pending;
				pending = undefined;
				if (resume) stack[stack.length - 1] = prepend(resume, top);
				const level = upcoming[upcoming.length - 1];
				level.next = Math.max(level.next, level.folders.indexOf(folders[folders.length - 1]) + 1);
				readAheadFrom(level);
				await open(folders);
			}
		}
	} finally {
		early.clear();
		await spill.dispose();
	}
}

/** `rest` with `first` put back in front. */
function prepend<T>(first: T, rest: AsyncIterator<T>): AsyncIterator<T> {
	let given = false;
	return {
		next: async () => {
			if (given) return rest.next();
			given = true;
			return { value: first, done: false };
		},
	};
}
