import type { Entry, Stepper } from '../../core/types';
import { compareSlashFirst, compareWalkKeys, compareWalkOrder, walkKey } from '../../core/walkOrder';
import { DEFAULT_MEMORY_LIMIT, ExternalSorter, SpillDir } from '../../core/spill';
import { joinPath } from '../../core/paths';

/** An entry with its walk key, as a folder larger than the memory limit is spilled and read back. */
interface Keyed {
	key: string;
	entry: Entry;
}

const byWalkOrder = (a: Keyed, b: Keyed) => compareWalkKeys(a.key, a.entry.path, b.key, b.entry.path);
/** Walk order of entries whose walk keys are their paths (no capitals, printable ASCII: most names). */
const byPathWalkOrder = (a: Entry, b: Entry) => compareSlashFirst(a.path, b.path);

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
	/** An entry taken from the top level past the run in hand, and its walk key. */
	let pending: Entry | undefined;
	let pendingKey = '';
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
		// Its entries and their walk keys are held side by side, not wrapped in one object each: a wrapper
		// per file was one more object to collect, and to carry through each young collection with the folder.
		// `keys` is made only when a name's key is not its path.
		let held: Entry[] = [];
		let keys: string[] | undefined;
		let sorter: ExternalSorter<Keyed> | undefined;
		const subfolders: string[] = [];
		const hold = (entry: Entry) => {
			const key = walkKey(entry.path);
			if (keys) keys.push(key);
			else if (key !== entry.path) keys = [...held.map((before) => before.path), key];
			held.push(entry);
			if (entry.isDir) subfolders.push(entry.path);
		};
		const spillHeld = async () => {
			sorter ??= new ExternalSorter<Keyed>(spill, 'folder', byWalkOrder, limit);
			for (let i = 0; i < held.length; i++) await sorter.add({ key: keys ? keys[i] : held[i].path, entry: held[i] });
			held = [];
			keys = undefined;
		};
		for (const folder of folders) {
			const listed = await listing(folder);
			if (Array.isArray(listed)) {
				for (const entry of listed) hold(entry);
				if (held.length >= limit) await spillHeld();
				continue;
			}
			for await (const entry of listed) {
				hold(entry);
				if (held.length >= limit) await spillHeld();
			}
		}
		if (sorter) await spillHeld();
		stack.push(sorter ? Level.spilled(sorter.sorted()) : Level.sorted(held, keys));
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
			let first: Entry | undefined;
			let firstKey = pendingKey;
			if (pending) {
				first = pending;
				pending = undefined;
			} else {
				const taken = top.next();
				first = taken instanceof Promise ? await taken : taken;
				firstKey = top.key;
			}
			if (first === undefined) {
				stack.pop();
				upcoming.pop();
				continue;
			}
			const folders: string[] = [];
			for (let entry: Entry | undefined = first; entry; ) {
				batch.push(entry);
				if (batch.length >= BATCH) {
					yield batch;
					batch = [];
				}
				if (entry.isDir) folders.push(entry.path);
				let next = top.next();
				if (next instanceof Promise) next = await next;
				if (next === undefined) break;
				if (top.key !== firstKey) {
					pending = next;
					pendingKey = top.key;
					break;
				}
				entry = next;
			}
			if (options.recursive && folders.length > 0) {
				// The run that follows this subtree waits on the parent's level.
				if (pending) top.putBack(pending, pendingKey);
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
 * One folder's children in walk order, given one at a time, with `key` the walk key of the last one
 * given: from memory without a promise (most folders), or read back from the temporary file of a
 * folder larger than the limit.
 */
class Level {
	key = '';
	private index = 0;
	private back?: Entry;
	private backKey = '';

	private constructor(
		private readonly entries: Entry[],
		/** Each entry's walk key, when some are not their paths. */
		private readonly keys: string[] | undefined,
		private readonly spill?: AsyncIterator<Keyed>,
	) {}

	/** `entries` (and their `keys`, undefined when each is its entry's path) put in walk order. */
	static sorted(entries: Entry[], keys: string[] | undefined): Level {
		if (!keys) return new Level(entries.sort(byPathWalkOrder), undefined);
		const order = entries.map((_, i) => i).sort((a, b) => compareWalkKeys(keys[a], entries[a].path, keys[b], entries[b].path));
		return new Level(
			order.map((i) => entries[i]),
			order.map((i) => keys[i]),
		);
	}

	static spilled(sorted: AsyncIterator<Keyed>): Level {
		return new Level([], undefined, sorted);
	}

	next(): Entry | undefined | Promise<Entry | undefined> {
		if (this.back) {
			const back = this.back;
			this.back = undefined;
			this.key = this.backKey;
			return back;
		}
		if (this.spill) return this.spill.next().then(this.fromSpill);
		if (this.index >= this.entries.length) return undefined;
		const index = this.index++;
		const entry = this.entries[index];
		this.key = this.keys ? this.keys[index] : entry.path;
		// What was given is let go: a large folder's entries do not outlive their turn.
		this.entries[index] = undefined as unknown as Entry;
		return entry;
	}

	private readonly fromSpill = (result: IteratorResult<Keyed>): Entry | undefined => {
		if (result.done) return undefined;
		this.key = result.value.key;
		return result.value.entry;
	};

	/** `entry` (whose walk key is `key`), taken too early, comes out again first. */
	putBack(entry: Entry, key: string): void {
		this.back = entry;
		this.backKey = key;
	}
}

/** One folder of a walk by names: its names only, each made an entry when the walk reaches it. */
export interface NamedFolder {
	/** Its path relative to the root ('' for the root). */
	path: string;
	/** Its children's names, in any order: the walk sorts them in place and lets each go once passed. */
	names: string[];
	/** The entry of one of `names`, undefined when it is gone or not listed (a socket, a link not followed); a promise only when it must wait. */
	entry(name: string): Entry | undefined | Promise<Entry | undefined>;
}

export interface NameWalkOptions {
	recursive?: boolean;
	signal?: AbortSignal;
	/** Names of one folder (or of folders walked as one) held in memory before they are sorted through a temporary file. */
	memoryLimit?: number;
	/** Entries made between turns of the event loop, for a disk read synchronously (none when unset). */
	pauseEvery?: number;
}

/**
 * `walkInOrder` for a disk, stepped through: a folder's names are read and sorted, and each entry is
 * made (its stat, its path) only when the walk reaches it, then handed on. What the walk holds is
 * the names of the folders on the way down, never a folder's entries: only what outlives a young-
 * generation collection costs memory that grows with the tree (V8 doubles its young generation
 * once enough bytes have survived its collections), and a name is a fifth of an entry with its
 * path and time. Names that fold alike are walked as one, as in `walkInOrder`; a folder of more
 * names than the limit is sorted through a temporary file. `readFolder` is synchronous.
 */
export function walkNamesInOrder(start: string, readFolder: (path: string) => NamedFolder, options: NameWalkOptions = {}): Stepper<Entry> {
	return new NameWalk(start, readFolder, options);
}

/** Names a folder sorted through a temporary file reads back at a time. */
const NAMES_READ_BACK = 1024;

/** A name as a folder larger than the limit spills it: its walk key when not the name, its folder when not the first. */
interface SpilledName {
	n: string;
	k?: string;
	f?: number;
}

class NameWalk implements Stepper<Entry> {
	/** The folders on the way down (a stack, not recursion). */
	private readonly stack: NameLevel[] = [];
	private readonly spill = new SpillDir();
	private readonly limit: number;
	private started = false;
	private ended = false;
	private made = 0;
	private nextPause: number;

	constructor(
		private readonly start: string,
		private readonly readFolder: (path: string) => NamedFolder,
		private readonly options: NameWalkOptions,
	) {
		this.limit = Math.max(1, options.memoryLimit ?? DEFAULT_MEMORY_LIMIT);
		this.nextPause = options.pauseEvery ?? Number.POSITIVE_INFINITY;
	}

	next(): Entry | undefined | Promise<Entry | undefined> {
		if (this.ended) return undefined;
		let next: Entry | undefined | Promise<Entry | undefined>;
		try {
			if (this.made >= this.nextPause) {
				this.nextPause = this.made + this.options.pauseEvery!;
				next = new Promise<void>((resolve) => setImmediate(resolve)).then(this.resume);
			} else {
				next = this.step();
			}
		} catch (error) {
			return this.fail(error);
		}
		return next instanceof Promise ? next.then(undefined, this.fail) : next;
	}

	private readonly resume = (): Entry | undefined | Promise<Entry | undefined> => this.next();

	/** A walk that fails ends: its temporary files go, and the failure is the listing's. */
	private readonly fail = (error: unknown): Promise<never> => this.end().then(() => Promise.reject(error));

	private step(): Entry | undefined | Promise<Entry | undefined> {
		if (!this.started) {
			this.started = true;
			const opened = this.open([this.start]);
			if (opened) return opened.then(this.resume);
		}
		for (;;) {
			const level = this.stack[this.stack.length - 1];
			if (level === undefined) return this.end();
			if (level.index >= level.names.length) {
				if (level.spilled) return level.readBack().then(this.resume);
				if (level.runFolders.length > 0) {
					const opened = this.openRun(level);
					if (opened) return opened.then(this.resume);
					continue;
				}
				this.stack.pop();
				continue;
			}
			const index = level.index;
			const name = level.names[index];
			const key = level.keys ? level.keys[index] : name;
			// The run of names that fold alike has ended: the folders among them are walked, as one, before this name.
			if (level.runFolders.length > 0 && key !== level.runKey) {
				const opened = this.openRun(level);
				if (opened) return opened.then(this.resume);
				continue;
			}
			level.index++;
			// Let go once passed: a large folder's names do not outlive their turn.
			level.names[index] = undefined as unknown as string;
			if (level.keys) level.keys[index] = undefined as unknown as string;
			level.runKey = key;
			this.made++;
			const entry = level.folders[level.owners ? level.owners[index] : 0].entry(name);
			if (entry instanceof Promise) return entry.then((made) => (made ? this.given(level, made) : this.next()));
			if (entry) return this.given(level, entry);
		}
	}

	private given(level: NameLevel, entry: Entry): Entry {
		if (entry.isDir && this.options.recursive) level.runFolders.push(entry.path);
		return entry;
	}

	private openRun(level: NameLevel): Promise<void> | void {
		const folders = level.runFolders;
		level.runFolders = [];
		return this.open(folders);
	}

	/** Reads the folders of one run (one folder, or several whose names fold alike) as one level of the walk. */
	private open(paths: string[]): Promise<void> | void {
		this.options.signal?.throwIfAborted();
		const folders = paths.map(this.readFolder);
		let names = folders[0].names;
		let owners: number[] | undefined;
		if (folders.length > 1) {
			names = [];
			owners = [];
			for (let f = 0; f < folders.length; f++) {
				for (const name of folders[f].names) {
					names.push(name);
					owners.push(f);
				}
			}
		}
		// Each name's walk key, kept only when some key is not its name (a capital, a non-ASCII name).
		let keys: string[] | undefined;
		for (let i = 0; i < names.length; i++) {
			const key = walkKey(names[i]);
			if (keys) keys.push(key);
			else if (key !== names[i]) keys = [...names.slice(0, i), key];
		}
		if (names.length > this.limit) return this.openSpilled(folders, names, keys, owners);
		this.stack.push(NameLevel.sorted(folders, names, keys, owners));
	}

	private async openSpilled(folders: NamedFolder[], names: string[], keys: string[] | undefined, owners: number[] | undefined): Promise<void> {
		const pathOf = (record: SpilledName) => joinPath(folders[record.f ?? 0].path, record.n);
		const sorter = new ExternalSorter<SpilledName>(this.spill, 'names', (a, b) => compareSlashFirst(a.k ?? a.n, b.k ?? b.n) || compareSlashFirst(pathOf(a), pathOf(b)), this.limit);
		for (let i = 0; i < names.length; i++) {
			const record: SpilledName = { n: names[i] };
			if (keys && keys[i] !== names[i]) record.k = keys[i];
			if (owners && owners[i] !== 0) record.f = owners[i];
			await sorter.add(record);
		}
		this.stack.push(NameLevel.spilled(folders, sorter.sorted()));
	}

	private end(): Promise<undefined> {
		this.ended = true;
		this.stack.length = 0;
		return this.spill.dispose().then(() => undefined);
	}
}

/** The names of one level of a name walk, in walk order, given out by index. */
class NameLevel {
	index = 0;
	/** The walk key of the last name given, and the folders among the names given under it: walked once that run of names ends. */
	runKey = '';
	runFolders: string[] = [];

	private constructor(
		readonly folders: NamedFolder[],
		public names: string[],
		/** Each name's walk key, when some are not their names. */
		public keys: string[] | undefined,
		/** Each name's folder, when the level is several folders whose names fold alike. */
		public owners: number[] | undefined,
		/** What is left of a level sorted through a temporary file. */
		public spilled?: AsyncIterator<SpilledName>,
	) {}

	static sorted(folders: NamedFolder[], names: string[], keys: string[] | undefined, owners: number[] | undefined): NameLevel {
		// Names hold no '/': code-unit order, the engine's default sort, is walk order among names that are their own keys.
		if (!keys && !owners) return new NameLevel(folders, names.sort(), undefined, undefined);
		const keyOf = (i: number) => (keys ? keys[i] : names[i]);
		// Ties (names that fold alike) by the exact spelling of the whole path.
		const tie = owners ? (a: number, b: number) => compareSlashFirst(joinPath(folders[owners[a]].path, names[a]), joinPath(folders[owners[b]].path, names[b])) : (a: number, b: number) => compareSlashFirst(names[a], names[b]);
		const order = names.map((_, i) => i).sort((a, b) => compareSlashFirst(keyOf(a), keyOf(b)) || tie(a, b));
		return new NameLevel(
			folders,
			order.map((i) => names[i]),
			keys && order.map((i) => keys[i]),
			owners && order.map((i) => owners[i]),
		);
	}

	static spilled(folders: NamedFolder[], sorted: AsyncIterator<SpilledName>): NameLevel {
		return new NameLevel(folders, [], [], [], sorted);
	}

	/** The next names of a spilled level; the level ends when the file does. */
	async readBack(): Promise<void> {
		const names: string[] = [];
		const keys: string[] = [];
		const owners: number[] = [];
		while (names.length < NAMES_READ_BACK) {
			const next = await this.spilled!.next();
			if (next.done) {
				this.spilled = undefined;
				break;
			}
			names.push(next.value.n);
			keys.push(next.value.k ?? next.value.n);
			owners.push(next.value.f ?? 0);
		}
		this.names = names;
		this.keys = keys;
		this.owners = owners;
		this.index = 0;
	}
}
