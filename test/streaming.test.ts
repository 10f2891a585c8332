import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ERRORS_KEPT, LocalProvider, MemoryStateStore, Pacer, PointerStateStore, ProviderStateStore, TransientError, decodeBaseline, encodeBaseline, sync, twoWaySync, type BaselineEntry, type Entry, type ListOptions, type Provider } from '../lib';
import { openBaseline } from '../lib/state/state';
import { compareWalkOrder } from '../lib/core/walkOrder';
import { NumberSorter, SPILL_PREFIX, SpillDir, SpillQueue } from '../lib/core/spill';
import { walkInOrder, walkInOrderBatches, walkNamesInOrder } from '../lib/providers/kit/walkOrder';
import type { SteppedListing } from '../lib/core/types';
import { filesOnly, readTree, removeTempDirs, tempDir, writeTree } from './support/trees';

afterAll(removeTempDirs);

const quickPacer = () => new Pacer({ baseDelayMs: 1, maxDelayMs: 5 });
const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);

/** A cloud whose listing comes in no useful order (a recursive feed): the engine must sort it, here through its temporary files. */
function unordered(provider: Provider): Provider {
	return new Proxy(provider, {
		get: (target, property, receiver) => {
			if (property === 'listOrder') return undefined;
			if (property !== 'list') return Reflect.get(target, property, receiver);
			return async function* (listed: string, options?: ListOptions) {
				const all: Entry[] = [];
				for await (const entry of target.list(listed, options)) all.push(entry);
				// Every other entry first, then the rest backwards: neither walk order nor its reverse.
				yield* [...all.filter((_, i) => i % 2 === 0), ...all.filter((_, i) => i % 2 === 1).reverse()];
			};
		},
	});
}

async function spillFolders(): Promise<string[]> {
	return (await fs.readdir(os.tmpdir())).filter((name) => name.startsWith(SPILL_PREFIX));
}

/** Runs `work` and says how many spill folders it made; none may be left behind. */
async function countingSpills<T>(work: () => Promise<T>): Promise<{ result: T; spills: number }> {
	const before = await spillFolders();
	const made = jest.spyOn(fs, 'mkdtemp');
	try {
		const result = await work();
		const spills = made.mock.calls.filter(([prefix]) => String(prefix).includes(SPILL_PREFIX)).length;
		expect(await spillFolders()).toEqual(before);
		return { result, spills };
	} finally {
		made.mockRestore();
	}
}

function bigFolder(prefix: string, count: number, content = 'v1'): Record<string, string> {
	return Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}/f${String(i).padStart(2, '0')}.txt`, `${content} ${i}`]));
}

describe('walk order', () => {
	it('lists a tree with each folder sorted and its subtree right after it, names that fold alike side by side, even when a folder is sorted through a temporary file', async () => {
		const tree: Record<string, string[]> = {
			'': ['b', 'A', 'a', 'a-c', 'Z.txt', 'caf\u00e9', 'cafe\u0301.txt'],
			A: ['x.txt', 'y.txt'],
			a: ['x.txt', 'w.txt'],
			b: Array.from({ length: 9 }, (_, i) => `n${8 - i}.txt`),
			'caf\u00e9': [],
		};
		const folders = new Set(['A', 'a', 'b', 'caf\u00e9']);
		const listFolder = async (folder: string): Promise<Entry[]> =>
			tree[folder].map((name) => {
				const entryPath = folder ? `${folder}/${name}` : name;
				return { path: entryPath, isDir: folders.has(entryPath), size: 0, modTime: T0, hashes: {} };
			});
		const everything = Object.entries(tree).flatMap(([folder, names]) => names.map((name) => (folder ? `${folder}/${name}` : name)));
		// Sorted through temporary files, then in memory.
		for (const memoryLimit of [2, 1000]) {
			const listed: string[] = [];
			for await (const entry of walkInOrder('', listFolder, { recursive: true, memoryLimit })) listed.push(entry.path);
			expect(listed).toEqual([...everything].sort(compareWalkOrder));
			expect(listed.slice(0, 6)).toEqual(['A', 'a', 'a/w.txt', 'A/x.txt', 'a/x.txt', 'A/y.txt']);
		}
	});

	it('walks a disk by names in the same order, making each entry only when reached, also when a folder is sorted through a temporary file', async () => {
		const tree: Record<string, string[]> = {
			'': ['b', 'A', 'a', 'a-c', 'Z.txt', 'caf\u00e9', 'cafe\u0301.txt', 'gone.txt', 'empty'],
			A: ['x.txt', 'y.txt', 'Sub'],
			'A/Sub': ['deep.txt'],
			a: ['x.txt', 'w.txt', 'sub'],
			'a/sub': ['deeper.txt'],
			b: Array.from({ length: 9 }, (_, i) => `n${8 - i}.txt`),
			'caf\u00e9': ['\u65e5\u672c.txt', 'plain.txt'],
			empty: [],
		};
		const folders = new Set(['A', 'A/Sub', 'a', 'a/sub', 'b', 'caf\u00e9', 'empty']);
		const join = (folder: string, name: string) => (folder ? `${folder}/${name}` : name);
		const entryOf = (entryPath: string): Entry => ({ path: entryPath, isDir: folders.has(entryPath), size: 0, modTime: T0, hashes: {} });
		const listFolder = async (folder: string): Promise<Entry[]> => tree[folder].filter((name) => name !== 'gone.txt').map((name) => entryOf(join(folder, name)));
		const expected: string[] = [];
		for await (const entry of walkInOrder('', listFolder, { recursive: true })) expected.push(entry.path);
		for (const memoryLimit of [2, 1000]) {
			const made: string[] = [];
			const given: string[] = [];
			const walk = walkNamesInOrder(
				'',
				(folder) => ({
					path: folder,
					names: [...tree[folder]],
					entry: (name) => {
						const entryPath = join(folder, name);
						made.push(entryPath);
						// A name removed between the folder's read and its stat is not there; one folder's entry waits, as a followed link does.
						if (name === 'gone.txt') return undefined;
						return name === 'A' ? Promise.resolve(entryOf(entryPath)) : entryOf(entryPath);
					},
				}),
				{ recursive: true, memoryLimit, pauseEvery: 3 },
			);
			for (let next = await walk.next(); next !== undefined; next = await walk.next()) {
				given.push(next.path);
				// Each entry is made as the walk reaches it, not a folder ahead.
				expect(made[made.length - 1]).toBe(next.path);
			}
			expect(given).toEqual(expected);
			expect(given).toEqual([...given].sort(compareWalkOrder));
		}
	});

	it('a name walk whose folder cannot be read gives what came before it, then fails', async () => {
		const walk = walkNamesInOrder('', (folder) => {
			if (folder === 'b') throw new Error('b cannot be read');
			return { path: folder, names: folder === '' ? ['c.txt', 'b', 'a.txt'] : [], entry: (name) => ({ path: name, isDir: name === 'b', size: 0, modTime: T0, hashes: {} }) };
		}, { recursive: true });
		const given: string[] = [];
		await expect(
			(async () => {
				for (let next = await walk.next(); next !== undefined; next = await walk.next()) given.push(next.path);
			})(),
		).rejects.toThrow('b cannot be read');
		expect(given).toEqual(['a.txt', 'b']);
	});

	it('gives the same walk in arrays, each ending where the walk goes down into a folder, also when a folder is sorted through a temporary file', async () => {
		const tree: Record<string, string[]> = {
			'': ['b', 'A', 'a', 'top.txt', 'empty'],
			A: ['x.txt'],
			a: ['w.txt', 'deeper'],
			'a/deeper': ['z.txt'],
			b: Array.from({ length: 9 }, (_, i) => `n${8 - i}.txt`),
			empty: [],
		};
		const folders = new Set(['A', 'a', 'a/deeper', 'b', 'empty']);
		const listFolder = async (folder: string): Promise<Entry[]> =>
			tree[folder].map((name) => {
				const entryPath = folder ? `${folder}/${name}` : name;
				return { path: entryPath, isDir: folders.has(entryPath), size: 0, modTime: T0, hashes: {} };
			});
		for (const memoryLimit of [2, 1000]) {
			const single: string[] = [];
			for await (const entry of walkInOrder('', listFolder, { recursive: true, memoryLimit })) single.push(entry.path);
			const batches: string[][] = [];
			for await (const batch of walkInOrderBatches('', listFolder, { recursive: true, memoryLimit })) batches.push(batch.map((entry) => entry.path));
			expect(batches.flat()).toEqual(single);
			// A folder that fails to list must not take the entries before it along: they were handed on already.
			for (const batch of batches.slice(0, -1)) expect(folders.has(batch[batch.length - 1])).toBe(true);
		}
	});

	it('a local folder stepped through gives what it gives entry by entry', async () => {
		const root = await tempDir('batches');
		await writeTree(root, { ...bigFolder('big', 12), 'Top.txt': 'x', 'sub/inner/deep.txt': 'y', 'sub/b.txt': 'z' }, T0);
		const provider = await LocalProvider.open(root);
		const single: Entry[] = [];
		for await (const entry of provider.list('', { recursive: true })) single.push(entry);
		const stepper = (provider.list('', { recursive: true }) as SteppedListing).stepper();
		const stepped: Entry[] = [];
		for (let next = await stepper.next(); next !== undefined; next = await stepper.next()) stepped.push(next);
		expect(stepped).toEqual(single);
		expect(single.map((entry) => entry.path)).toEqual([...single.map((entry) => entry.path)].sort(compareWalkOrder));
		expect(single).toHaveLength(18);
	});

	it('a queue that spills gives back what it was given, forwards and backwards', async () => {
		const spill = new SpillDir();
		try {
			const queue = new SpillQueue<{ n: number; name: string }>(spill, 'test', 3);
			for (let n = 0; n < 8; n++) await queue.push({ n, name: `line\nbreak ${n}` });
			expect(queue.spilled).toBe(true);
			const forwards: number[] = [];
			for await (const item of queue) forwards.push(item.n);
			const backwards: number[] = [];
			for await (const item of queue.reversed()) backwards.push(item.n);
			expect(forwards).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
			expect(backwards).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
		} finally {
			await spill.dispose();
		}
	});

	it('a queue bounded by bytes spills once its buffer is full, whatever the records limit, and gives back names in any script', async () => {
		const spill = new SpillDir();
		try {
			// 300 bytes in memory at most: the 40 records spill in several files although the records limit is never reached.
			const queue = new SpillQueue<{ n: number; name: string; size?: number }>(spill, 'bytes', 1_000_000, 300);
			const names = ['plain.txt', 'Ünïcödé/Ärger.txt', '日本語のファイル.txt', 'emoji 😀🎉.txt', 'quote " and \\ backslash', 'tab\tand\nnewline', ''];
			const pushed = Array.from({ length: 40 }, (_, n) => ({ n, name: names[n % names.length], ...(n % 3 === 0 ? { size: n * 1_000_000_007 } : {}) }));
			for (const record of pushed) await queue.push(record);
			expect(queue.spilled).toBe(true);
			expect(queue.length).toBe(40);
			const files = (await fs.readdir(path.dirname(await spill.file('probe')))).filter((name) => name.startsWith('bytes-'));
			expect(files.length).toBeGreaterThan(2);
			const forwards: typeof pushed = [];
			for await (const record of queue) forwards.push(record);
			expect(forwards).toEqual(pushed);
			const backwards: typeof pushed = [];
			for await (const record of queue.reversed()) backwards.push(record);
			expect(backwards).toEqual([...pushed].reverse());
		} finally {
			await spill.dispose();
		}
	});

	it('a sorter by number gives records back by number, ties in the order added, from memory or from several files, none lost while a file is written', async () => {
		const spill = new SpillDir();
		try {
			// Numbers out of order with many ties, names in several scripts; 400 bytes a run, so the records span many files.
			const added = Array.from({ length: 300 }, (_, i) => ({ key: (i * 37) % 11, record: { i, name: ['plain.txt', 'Ärger/日本語 😀.txt', 'tab\tline\nbreak'][i % 3] } }));
			const expected = [...added].sort((a, b) => a.key - b.key || a.record.i - b.record.i).map((each) => each.record);
			const onDisk = new NumberSorter<(typeof added)[number]['record']>(spill, 'numbers', 400);
			// Added without waiting for the files being written, as the executor adds its outcomes.
			const writes = added.map(({ key, record }) => onDisk.add(key, record));
			await Promise.all(writes);
			expect(onDisk.spilled).toBe(true);
			const sorted: unknown[] = [];
			for await (const record of onDisk.sorted()) sorted.push(record);
			expect(sorted).toEqual(expected);

			const inMemory = new NumberSorter<(typeof added)[number]['record']>(spill, 'numbers-small');
			for (const { key, record } of added) await inMemory.add(key, record);
			expect(inMemory.spilled).toBe(false);
			const fromMemory: unknown[] = [];
			for await (const record of inMemory.sorted()) fromMemory.push(record);
			expect(fromMemory).toEqual(expected);
		} finally {
			await spill.dispose();
		}
	});

	it('a queue that never fills its buffer touches no disk and still gives its records back in order', async () => {
		const { result: records, spills } = await countingSpills(async () => {
			const spill = new SpillDir();
			try {
				const queue = new SpillQueue<{ path: string }>(spill, 'small');
				for (let n = 0; n < 500; n++) await queue.push({ path: `folder ${n}/ファイル ${n}.txt` });
				const forwards: string[] = [];
				for await (const record of queue) forwards.push(record.path);
				const backwards: string[] = [];
				for await (const record of queue.reversed()) backwards.push(record.path);
				return { forwards, backwards, spilled: queue.spilled };
			} finally {
				await spill.dispose();
			}
		});
		expect(spills).toBe(0);
		expect(records.spilled).toBe(false);
		expect(records.forwards).toEqual(Array.from({ length: 500 }, (_, n) => `folder ${n}/ファイル ${n}.txt`));
		expect(records.backwards).toEqual([...records.forwards].reverse());
	});
});

describe('one-way sync with folders larger than the memory limit', () => {
	it('mirrors through temporary files: adds, updates and deletes in a large folder, makes and removes folders, leaves no temporary file', async () => {
		const sourceRoot = await tempDir('src');
		const destinationRoot = await tempDir('dst');
		await writeTree(sourceRoot, { ...bigFolder('big', 14, 'new'), ...bigFolder('fresh/deep', 5), 'top.txt': 'top' }, T0);
		await writeTree(destinationRoot, { ...bigFolder('big', 10, 'old'), ...bigFolder('stale', 6), 'top.txt': 'top' }, T0 - 60_000);
		const source = await LocalProvider.open(sourceRoot);
		const destination = unordered(await LocalProvider.open(destinationRoot));
		const { result: report, spills } = await countingSpills(() => sync(source, destination, { mode: 'mirror', pacer: quickPacer(), memoryLimit: 2, itemLimit: 4, maxDeletePercent: 100 }));
		expect(spills).toBeGreaterThan(0);
		// top.txt differs only in time: its content proves it the same, so it is left alone.
		expect(report).toMatchObject({ status: 'success', added: 9, updated: 10, deleted: 6, foldersDeleted: 1, failed: 0 });
		expect(await readTree(destinationRoot)).toEqual(await readTree(sourceRoot));
		// The report lists the first actions and counts the rest; so it keeps the first results.
		expect(report.plan.actions).toHaveLength(4);
		const { skip, ...changes } = report.plan.counts;
		expect(report.plan.omitted).toEqual({ changes: Object.values(changes).reduce((sum, count) => sum + count, 0) - 4, unchanged: skip });
		expect(report.results).toHaveLength(4);
		expect(report.results.every((result) => result.status === 'done')).toBe(true);
		expect(report.results.length + report.resultsNotKept).toBe(9 + 10 + 6 + 1 + report.foldersCreated);

		const again = await sync(source, destination, { mode: 'mirror', pacer: quickPacer(), memoryLimit: 2 });
		expect(again).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0, skipped: 20 });
	});

	it('still refuses a mass deletion before changing anything when the deletions were spilled to disk', async () => {
		const sourceRoot = await tempDir('src');
		const destinationRoot = await tempDir('dst');
		await writeTree(sourceRoot, { 'keep.txt': 'k', 'new.txt': 'n' }, T0);
		await writeTree(destinationRoot, { 'keep.txt': 'k', ...bigFolder('doomed', 12) }, T0);
		const before = await readTree(destinationRoot);
		await expect(sync(await LocalProvider.open(sourceRoot), await LocalProvider.open(destinationRoot), { mode: 'mirror', pacer: quickPacer(), memoryLimit: 2 })).rejects.toThrow(/delete 12 of the destination's 13 files/);
		expect(await readTree(destinationRoot)).toEqual(before);
	});
});

/** A listing in walk order that breaks once after `after` entries, with `error`. */
function breaksOnce(provider: Provider, after: number, error: () => Error): Provider {
	let broken = false;
	return new Proxy(provider, {
		get: (target, property, receiver) => {
			if (property !== 'list') return Reflect.get(target, property, receiver);
			return async function* (listed: string, options?: ListOptions) {
				let given = 0;
				for await (const entry of target.list(listed, options)) {
					if (!broken && given === after) {
						broken = true;
						throw error();
					}
					given++;
					yield entry;
				}
			};
		},
	});
}

describe('a listing in walk order that fails half-way', () => {
	async function pairOf(files: number) {
		const sourceRoot = await tempDir('src');
		const destinationRoot = await tempDir('dst');
		await writeTree(sourceRoot, bigFolder('big', files), T0);
		await writeTree(destinationRoot, { ...bigFolder('big', files), 'extra.txt': 'only here' }, T0);
		return { sourceRoot, destinationRoot, source: await LocalProvider.open(sourceRoot), destination: await LocalProvider.open(destinationRoot) };
	}

	it('resumes after the last entry it gave when the failure is transient, and the run is whole', async () => {
		const { source, destinationRoot, sourceRoot } = await pairOf(10);
		const destination = await LocalProvider.open(destinationRoot);
		const report = await sync(breaksOnce(source, 5, () => new TransientError('connection reset')), destination, { mode: 'mirror', pacer: quickPacer() });
		expect(report).toMatchObject({ status: 'success', deleted: 1, skipped: 10, listingErrors: [] });
		expect(await readTree(destinationRoot)).toEqual(await readTree(sourceRoot));
	});

	it('holds every deletion when it does not recover, and copies what it listed', async () => {
		const { source, destination, destinationRoot } = await pairOf(10);
		const report = await sync(breaksOnce(source, 5, () => new Error('disk gone')), destination, { mode: 'mirror', force: true, pacer: quickPacer() });
		expect(report.listingErrors[0]).toMatch(/source: disk gone/);
		expect(report.deleted).toBe(0);
		expect(report.status).not.toBe('success');
		expect(Object.keys(filesOnly(await readTree(destinationRoot)))).toHaveLength(11);
	});
});

describe('a plan of a large tree in a report', () => {
	it('lists the changes first and counts what the item limit leaves out, unchanged files included', async () => {
		const sourceRoot = await tempDir('src');
		const destinationRoot = await tempDir('dst');
		const unchanged = bigFolder('a-same', 12);
		await writeTree(sourceRoot, { ...unchanged, 'z-new/one.txt': 'new one', 'z-new/two.txt': 'new two' }, T0);
		await writeTree(destinationRoot, unchanged, T0);
		const report = await sync(await LocalProvider.open(sourceRoot), await LocalProvider.open(destinationRoot), { mode: 'mirror', dryRun: true, itemLimit: 5, pacer: quickPacer() });
		expect(report.plan.counts).toMatchObject({ mkdir: 1, copy: 2, skip: 12 });
		expect(report.plan.actions.map((action) => `${action.kind} ${action.path}`)).toEqual(['mkdir z-new', 'copy z-new/one.txt', 'copy z-new/two.txt', 'skip a-same/f00.txt', 'skip a-same/f01.txt']);
		expect(report.plan.omitted).toEqual({ changes: 0, unchanged: 10 });
		expect(await readTree(destinationRoot)).not.toHaveProperty('z-new');
	});
});

describe('the results of a large run in a report', () => {
	it('a run where every copy fails counts every failure but keeps only the first errors, and copies nothing half', async () => {
		const sourceRoot = await tempDir('src');
		const destinationRoot = await tempDir('dst');
		const files = ERRORS_KEPT + 5;
		await writeTree(sourceRoot, bigFolder('many', files), T0);
		const local = await LocalProvider.open(destinationRoot);
		// A destination whose every write fails, as a full disk would: no thread-side copies to go around it.
		const full = new Proxy(local, {
			get: (target, property, receiver) => {
				if (property === 'copyFromQueue' || property === 'copyFrom' || property === 'canCopyFrom') return undefined;
				if (property === 'write') return async () => Promise.reject(new Error('no space left on device'));
				return Reflect.get(target, property, receiver);
			},
		});
		const report = await sync(await LocalProvider.open(sourceRoot), full, { mode: 'copy', pacer: quickPacer(), itemLimit: 10 });
		expect(report).toMatchObject({ status: 'failed', added: 0, failed: files, errorsNotKept: 5 });
		expect(report.errors).toHaveLength(ERRORS_KEPT);
		expect(report.errors[0].message).toMatch(/no space left/);
		expect(report.results).toHaveLength(10);
		expect(report.resultsNotKept).toBe(files - 10 + 1);
		expect(filesOnly(await readTree(destinationRoot))).toEqual({});
	}, 60_000);
});

describe('two-way sync with folders larger than the memory limit', () => {
	async function setup(memoryLimit: number) {
		const sourceRoot = await tempDir('src');
		const destinationRoot = await tempDir('dst');
		// Each file its own time, so that size and time single out a moved file (ambiguous ones are never paired).
		for (const [i, [name, content]] of Object.entries({ ...bigFolder('big', 12), 'a.txt': 'a' }).entries()) await writeTree(sourceRoot, { [name]: content }, T0 + i * 1000);
		const source = await LocalProvider.open(sourceRoot);
		const destination = unordered(await LocalProvider.open(destinationRoot));
		const state = new MemoryStateStore();
		const run = () => twoWaySync(source, destination, { state, pair: 'pair', lock: false, pacer: quickPacer(), memoryLimit, now: () => T0 + 3_600_000 });
		const first = await countingSpills(run);
		expect(first.result).toMatchObject({ status: 'success', firstRun: true, baselineFiles: 13, toDestination: { added: 13 } });
		// Three files moved on the source, one deleted and two added on the destination.
		await fs.mkdir(path.join(sourceRoot, 'moved'));
		for (const name of ['f01.txt', 'f05.txt', 'f09.txt']) await fs.rename(path.join(sourceRoot, 'big', name), path.join(sourceRoot, 'moved', name));
		await fs.rm(path.join(destinationRoot, 'big', 'f11.txt'));
		await writeTree(destinationRoot, { 'big/g1.txt': 'g1', 'big/g2.txt': 'g2' }, T0 + 60_000);
		return { sourceRoot, destinationRoot, run, state };
	}

	it('pairs moves within the limit: the destination moves its copies instead of receiving them again', async () => {
		const { sourceRoot, destinationRoot, run } = await setup(20);
		const report = await run();
		expect(report).toMatchObject({ status: 'success', toDestination: { renamed: 3, added: 0, deleted: 0 }, toSource: { added: 2, deleted: 1 } });
		expect(report.notes.join(' ')).not.toMatch(/moves among them were not looked for/);
		expect(filesOnly(await readTree(destinationRoot))).toEqual(filesOnly(await readTree(sourceRoot)));
	});

	it('past the limit, gives up pairing moves with a note and copies and deletes instead, with the same result', async () => {
		const { sourceRoot, destinationRoot, run, state } = await setup(2);
		const { result: report, spills } = await countingSpills(run);
		expect(spills).toBeGreaterThan(0);
		expect(report).toMatchObject({ status: 'success', toDestination: { renamed: 0, added: 3, deleted: 3 }, toSource: { added: 2, deleted: 1 } });
		expect(report.notes.join(' ')).toMatch(/more than 2 files were gone from or new on one side: moves among them were not looked for/);
		const files = filesOnly(await readTree(sourceRoot));
		expect(filesOnly(await readTree(destinationRoot))).toEqual(files);
		expect(Object.keys(files)).toHaveLength(14);
		expect(decodeBaseline(state.state!).entries.filter((entry) => !entry.isDir)).toHaveLength(14);
		const quiet = await run();
		expect(quiet).toMatchObject({ status: 'success', toDestination: { added: 0, deleted: 0, renamed: 0 }, toSource: { added: 0, deleted: 0 }, baselineFiles: 14 });
	});
});

describe('a two-way run with more changes than the memory limit', () => {
	const run = (source: Provider, destination: Provider, state: MemoryStateStore, more: Partial<Parameters<typeof twoWaySync>[2]> = {}) =>
		twoWaySync(source, destination, { state, pair: 'pair', lock: false, pacer: quickPacer(), memoryLimit: 2, itemLimit: 3, now: () => T0 + 3_600_000, ...more });

	it('copies a whole tree into an empty folder through temporary files, lists the first actions, counts the rest, and saves a complete state', async () => {
		const sourceRoot = await tempDir('src');
		const destinationRoot = await tempDir('dst');
		await writeTree(sourceRoot, { ...bigFolder('Big', 12), ...bigFolder('a/deep', 4), 'Z top.txt': 'z', 'b-side.txt': 'b' }, T0);
		const source = await LocalProvider.open(sourceRoot);
		const destination = unordered(await LocalProvider.open(destinationRoot));
		const state = new MemoryStateStore();
		const { result: first, spills } = await countingSpills(() => run(source, destination, state));
		expect(spills).toBeGreaterThan(0);
		expect(first).toMatchObject({ status: 'success', firstRun: true, toDestination: { added: 18 }, failed: 0, baselineFiles: 18 });
		expect(await readTree(destinationRoot)).toEqual(await readTree(sourceRoot));
		// 18 copies and 3 folders made: 3 listed, with their outcome; the rest counted.
		expect(first.actions).toHaveLength(3);
		expect(first.actions.every((action) => action.status === 'done')).toBe(true);
		expect(first.actions.length + first.actionsNotKept).toBe(18 + 3);
		const saved = decodeBaseline(state.state!).entries;
		expect(saved.map((entry) => entry.path)).toEqual([...saved.map((entry) => entry.path)].sort(compareWalkOrder));
		expect(saved.filter((entry) => !entry.isDir)).toHaveLength(18);

		// The state holds every file: nothing to do, then a deletion on one side is carried to the other.
		expect(await run(source, destination, state)).toMatchObject({ status: 'success', toDestination: { added: 0, updated: 0 }, toSource: { added: 0, deleted: 0 }, actions: [] });
		await fs.rm(path.join(destinationRoot, 'Big', 'f03.txt'));
		expect(await run(source, destination, state)).toMatchObject({ status: 'success', toSource: { deleted: 1 }, toDestination: { added: 0 } });
		expect(await readTree(sourceRoot)).not.toHaveProperty('Big/f03.txt');
	});

	it('keeps both versions of many files changed on both sides, and the next run finds nothing to do', async () => {
		const sourceRoot = await tempDir('src');
		const destinationRoot = await tempDir('dst');
		await writeTree(sourceRoot, bigFolder('both', 6), T0);
		await writeTree(destinationRoot, bigFolder('both', 6), T0);
		const source = await LocalProvider.open(sourceRoot);
		const destination = await LocalProvider.open(destinationRoot);
		const state = new MemoryStateStore();
		expect(await run(source, destination, state)).toMatchObject({ status: 'success', firstRun: true, baselineFiles: 6 });
		await writeTree(sourceRoot, bigFolder('both', 6, 'source edit'), T0 + 120_000);
		await writeTree(destinationRoot, bigFolder('both', 6, 'destination edit!'), T0 + 60_000);
		const { result: conflicted, spills } = await countingSpills(() => run(source, destination, state));
		expect(spills).toBeGreaterThan(0);
		// Each name: the loser moved aside, the winner copied over, the loser's version copied beside it on the other side.
		expect(conflicted).toMatchObject({ status: 'success', toDestination: { renamed: 6, added: 6 }, toSource: { added: 6 }, failed: 0, baselineFiles: 12 });
		expect(conflicted.conflicts).toHaveLength(3);
		const files = filesOnly(await readTree(sourceRoot));
		expect(Object.keys(files)).toHaveLength(12);
		expect(filesOnly(await readTree(destinationRoot))).toEqual(files);
		const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
		for (let i = 0; i < 6; i++) {
			expect(files[`both/f0${i}.txt`]).toBe(sha1(`source edit ${i}`));
			expect(files[`both/f0${i} (conflict destination 2026-11-01 13-00-00).txt`]).toBe(sha1(`destination edit! ${i}`));
		}
		expect(await run(source, destination, state)).toMatchObject({ status: 'success', toDestination: { added: 0, renamed: 0, updated: 0 }, toSource: { added: 0, updated: 0 }, baselineFiles: 12, actions: [] });
	});
});

describe('saved state as a stream', () => {
	it('reads back a baseline of many gzip members in walk order, and one saved in the older sorted format', async () => {
		// Names of several-byte characters, so that some fall across the decompressor's chunks.
		const entries: BaselineEntry[] = Array.from({ length: 40_000 }, (_, i) => ({ path: `d${i % 7}/Näme ${i} 写真 😀.txt`, isDir: false, size: i, sourceModTime: T0 + i, destinationModTime: T0 + i }));
		const text = encodeBaseline({ pair: 'p', savedAt: T0, entries });
		const streamed: BaselineEntry[] = [];
		const reader = await openBaseline(text);
		for await (const entry of reader.entries()) streamed.push(entry);
		expect(reader).toMatchObject({ pair: 'p', savedAt: T0 });
		expect(streamed.map((entry) => entry.path)).toEqual(entries.map((entry) => entry.path).sort(compareWalkOrder));
		expect(decodeBaseline(text).entries).toEqual(streamed);

		// Format 2, as earlier versions saved it: sorted by code unit, one member.
		const { gzipSync } = await import('node:zlib');
		const older = gzipSync(Buffer.from(['cloudsync-baseline-2', 'p', T0.toString(36), ['', 'b.txt', '2', T0.toString(36), '', ''].join('\t'), ['0', 'B', '/', '', '', ''].join('\t')].join('\n'))).toString('base64');
		const paths: string[] = [];
		for await (const entry of (await openBaseline(older)).entries()) paths.push(entry.path);
		expect(paths).toEqual(['B', 'b.txt']);
	});
});

describe('a large state kept out of the workflow', () => {
	it('leaves only a pointer in the small store, and the next run reads the state from the file it points to', async () => {
		const sourceRoot = await tempDir('src');
		const destinationRoot = await tempDir('dst');
		await writeTree(sourceRoot, bigFolder('big', 30), T0);
		const source = await LocalProvider.open(sourceRoot);
		const destination = await LocalProvider.open(destinationRoot);
		const staticData = new MemoryStateStore();
		const file = new ProviderStateStore(destination, 'pair-state');
		const saves = jest.spyOn(file, 'saveBytes');
		const run = () => twoWaySync(source, destination, { state: new PointerStateStore(staticData, file, 100), stateCopy: file, pair: 'pair', lock: false, pacer: quickPacer() });
		expect(await run()).toMatchObject({ status: 'success', firstRun: true, baselineFiles: 30 });
		expect(staticData.state!.length).toBeLessThan(120);
		expect(decodeBaseline((await file.load())!).entries.filter((entry) => !entry.isDir)).toHaveLength(30);
		expect(saves).toHaveBeenCalledTimes(1);

		await fs.rm(path.join(destinationRoot, 'big', 'f07.txt'));
		const second = await run();
		// A deletion goes across only with a baseline: the one the pointer led to.
		expect(second).toMatchObject({ status: 'success', firstRun: false, toSource: { deleted: 1 } });
		expect(await readTree(sourceRoot)).not.toHaveProperty('big/f07.txt');
		expect(saves).toHaveBeenCalledTimes(2);

		// Nothing changed since: the state on the destination still holds, and is not uploaded again.
		const quiet = await run();
		expect(quiet).toMatchObject({ status: 'success', firstRun: false, baselineSaved: true, baselineFiles: 29, toSource: { deleted: 0 }, toDestination: { added: 0 } });
		expect(saves).toHaveBeenCalledTimes(2);
		expect(decodeBaseline((await file.load())!).entries.filter((entry) => !entry.isDir)).toHaveLength(29);
	});
});
