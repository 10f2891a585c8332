import type { Entry } from '../../core/types';
import { compareWalkKeys, walkKey } from '../../core/walkOrder';
import { DEFAULT_MEMORY_LIMIT, ExternalSorter, SpillDir } from '../../core/spill';

interface Keyed {
	key: string;
	entry: Entry;
}

const byWalkOrder = (a: Keyed, b: Keyed) => compareWalkKeys(a.key, a.entry.path, b.key, b.entry.path);

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
	async function* walk(folders: string[]): AsyncGenerator<Entry> {
		options.signal?.throwIfAborted();
		const sorter = new ExternalSorter<Keyed>(spill, 'folder', byWalkOrder, limit);
		for (const folder of folders) {
			for await (const entry of await listFolder(folder)) await sorter.add({ key: walkKey(entry.path), entry });
		}
		let run: Keyed[] = [];
		const finish = async function* (): AsyncGenerator<Entry> {
			const folderRun = run.filter((each) => each.entry.isDir).map((each) => each.entry.path);
			for (const each of run) yield each.entry;
			run = [];
			if (options.recursive && folderRun.length > 0) yield* walk(folderRun);
		};
		for await (const keyed of sorter.sorted()) {
			if (run.length > 0 && run[0].key !== keyed.key) yield* finish();
			run.push(keyed);
		}
		yield* finish();
	}
	try {
		yield* walk([start]);
	} finally {
		await spill.dispose();
	}
}
