import { promises as fs } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as nodePath from 'node:path';
import { Readable } from 'node:stream';
import {
	InvalidNameError,
	InvalidPathError,
	LocalProvider,
	MemoryStateStore,
	SafetyError,
	fileStamp,
	sync,
	twoWaySync,
	type Provider,
	type SyncOptions,
	type TwoWayOptions,
} from '../lib';
import { HOST_TAG } from '../lib/providers/local';
import { GoogleDriveProvider } from '../lib/providers/drive';
import { DropboxProvider } from '../lib/providers/dropbox';
import { quickPacer } from './support/dropbox';
import { cloudBackend, emulatorsForBlock, expected, iCloudDriveBackend, localBackend, put, tree, type Backend } from './support/sides';
import { engineDriver, nodeDriver, runCloudSyncNode, runNodesOnTempFolders, type DriverFactory } from './support/drivers';
import { tempDir } from './support/trees';

runNodesOnTempFolders();

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const at = (minutes: number) => T0 + minutes * 60_000;
const NOW = Date.UTC(2026, 11, 1, 21, 30, 5);
const START = { 'a.txt': 'alpha', 'docs/b.txt': 'bravo', 'docs/c.txt': 'charlie' };

const without = (files: Record<string, string>, path: string) => Object.fromEntries(Object.entries(files).filter(([key]) => key !== path));

async function write(provider: Provider, files: Record<string, string>, minutes = 0) {
	for (const [path, content] of Object.entries(files)) await put(provider, path, content, at(minutes));
}

async function expectBoth(source: Provider, destination: Provider, files: Record<string, string>) {
	expect(await tree(source)).toEqual(expected(files));
	expect(await tree(destination)).toEqual(expected(files));
}

const twoWay = (source: Provider, destination: Provider, state: MemoryStateStore, options: Partial<TwoWayOptions> = {}) =>
	twoWaySync(source, destination, { state, pair: 'safety', lock: { settleMs: 0 }, pacer: quickPacer(), now: () => NOW, ...options });

const oneWay = (source: Provider, destination: Provider, options: Partial<SyncOptions> & Pick<SyncOptions, 'mode'>) => sync(source, destination, { pacer: quickPacer(), ...options });

/** Every file below a local folder, the engine's own `.cloudsync` included, as relative path → content. */
async function disk(root: string): Promise<Record<string, string>> {
	const files: Record<string, string> = {};
	const walk = async (dir: string) => {
		for (const dirent of await fs.readdir(dir, { withFileTypes: true })) {
			const full = nodePath.join(dir, dirent.name);
			if (dirent.isDirectory()) await walk(full);
			else if (dirent.isFile()) files[nodePath.relative(root, full).split(nodePath.sep).join('/')] = await fs.readFile(full, 'utf8');
		}
	};
	await walk(root);
	return files;
}

describe.each<[string, string, () => Promise<Backend>, DriverFactory]>([
	['local ↔ local', 'the engine', async () => localBackend(), engineDriver],
	['Google Drive ↔ Dropbox (emulated)', 'the engine', cloudBackend, engineDriver],
	['local ↔ local', 'the Cloud Sync node in n8n-core', async () => localBackend(), nodeDriver],
	['Google Drive ↔ Dropbox (emulated)', 'the Cloud Sync node in n8n-core', cloudBackend, nodeDriver],
	['iCloud Drive ↔ Google Drive (emulated)', 'the engine', iCloudDriveBackend, engineDriver],
])('two-way proves equality and moves by content, %s, through %s', (_name, _through, makeBackend, driver) => {
	let backend: Backend;
	beforeAll(async () => {
		backend = await makeBackend();
	});
	afterAll(async () => backend.stop());

	async function synced() {
		const pair = await backend.pair();
		await write(pair.source, START);
		await write(pair.destination, START);
		const { run } = driver(pair, NOW);
		expect(await run()).toMatchObject({ status: 'success', baselineSaved: true });
		return { ...pair, run };
	}

	it('a file edited on both sides to different bytes of the same size and time is a conflict, and both versions survive', async () => {
		const { source, destination, run } = await synced();
		await write(source, { 'a.txt': 'ALPHA' }, 5);
		await write(destination, { 'a.txt': 'alpHA' }, 5);
		const report = await run();
		expect(report.conflicts).toHaveLength(1);
		const keptAs = report.conflicts[0].keptAs!;
		const files = { ...START, 'a.txt': report.conflicts[0].winner === 'source' ? 'ALPHA' : 'alpHA', [keptAs]: report.conflicts[0].winner === 'source' ? 'alpHA' : 'ALPHA' };
		await expectBoth(source, destination, files);
		// The next run finds both sides equal; an edit on one side then reaches only its own name.
		expect((await run()).actions).toEqual([]);
		await write(source, { 'a.txt': 'alpha, third edit' }, 10);
		await run();
		await expectBoth(source, destination, { ...files, 'a.txt': 'alpha, third edit' });
	});

	it('a file edited on both sides to the same bytes is no conflict', async () => {
		const { source, destination, run } = await synced();
		await write(source, { 'a.txt': 'ALPHA' }, 5);
		await write(destination, { 'a.txt': 'ALPHA' }, 5);
		const report = await run();
		expect(report).toMatchObject({ status: 'success', conflicts: [] });
		await expectBoth(source, destination, { ...START, 'a.txt': 'ALPHA' });
	});

	it('a deleted file and a new one of the same size and time (a decoy) are not taken for a move', async () => {
		const { source, destination, run } = await synced();
		await source.delete('a.txt');
		await write(source, { 'z.txt': 'ALPHA' }, 0);
		const report = await run();
		expect(report).toMatchObject({ status: 'success', toDestination: { renamed: 0, added: 1, deleted: 1 } });
		const rest = without(START, 'a.txt');
		await expectBoth(source, destination, { ...rest, 'z.txt': 'ALPHA' });
		expect((await run()).actions).toEqual([]);
		await expectBoth(source, destination, { ...rest, 'z.txt': 'ALPHA' });
	});

	it('a real move is still a move, proven by content', async () => {
		const { source, destination, run } = await synced();
		await source.move('a.txt', 'moved/a.txt');
		const report = await run();
		expect(report).toMatchObject({ status: 'success', bytes: 0, toDestination: { renamed: 1, added: 0, deleted: 0 } });
		const rest = without(START, 'a.txt');
		await expectBoth(source, destination, { ...rest, 'moved/a.txt': 'alpha' });
	});
});

describe('overlapping folders are refused before anything changes', () => {
	it('Move, Mirror and Two-Way between a folder and itself (also through a link) change nothing', async () => {
		const root = await tempDir('same');
		const source = await LocalProvider.open(root);
		await write(source, START);
		const link = nodePath.join(await tempDir('alias'), 'link');
		await fs.symlink(root, link);
		for (const destination of [await LocalProvider.open(root), await LocalProvider.open(link)]) {
			await expect(oneWay(source, destination, { mode: 'move' })).rejects.toThrow(/the same folder/);
			await expect(oneWay(source, destination, { mode: 'mirror' })).rejects.toThrow(SafetyError);
			await expect(twoWay(source, destination, new MemoryStateStore())).rejects.toThrow(/the same folder/);
		}
		expect(await tree(source)).toEqual(expected(START));
	});

	it('a source inside the destination is refused; a destination inside the source is left out of it for Mirror and refused for Move and Two-Way', async () => {
		const root = await tempDir('nested');
		const outer = await LocalProvider.open(root);
		await write(outer, START);
		await fs.mkdir(nodePath.join(root, 'backup'));
		const inner = await LocalProvider.open(nodePath.join(root, 'backup'));
		await expect(oneWay(inner, outer, { mode: 'mirror' })).rejects.toThrow(/lies inside the destination/);
		await expect(oneWay(outer, inner, { mode: 'move' })).rejects.toThrow(/inside the source/);
		await expect(twoWay(outer, inner, new MemoryStateStore())).rejects.toThrow(/inside the source/);
		for (let run = 0; run < 2; run++) {
			const report = await oneWay(outer, inner, { mode: 'mirror' });
			expect(report.status).toBe('success');
			expect(report.notes).toContain('the destination lies inside the source at backup; that folder is left out of the source');
		}
		expect(await tree(inner)).toEqual(expected(START));
		expect(await tree(outer)).toEqual(expected({ ...START, ...Object.fromEntries(Object.entries(START).map(([path, text]) => [`backup/${path}`, text])) }));
	});

	it('the node says which folders overlap and what to change', async () => {
		const root = await tempDir('node-same');
		await write(await LocalProvider.open(root), START);
		const pair = { source: await LocalProvider.open(root), destination: await LocalProvider.open(root), parameters: { sourceCloud: 'local', sourceLocalPath: root, destinationCloud: 'local', destinationLocalPath: root } };
		await expect(runCloudSyncNode(pair, { operation: 'sync', mode: 'move' })).rejects.toThrow(/same folder.*separate folders/s);
		expect(await tree(pair.source)).toEqual(expected(START));
	});

	describe('on the clouds', () => {
		const emulators = emulatorsForBlock(7);

		it('the same Drive folder by id and by path, and one Dropbox folder spelled in two cases, are one folder', async () => {
			const auth = emulators.drive.addOAuthClient();
			const id = emulators.drive.addFolder(emulators.drive.myDriveRootId, 'Photos');
			emulators.drive.addFile(id, 'a.jpg', 'jpeg bytes');
			const byId = await GoogleDriveProvider.open({ auth, root: id, apiBaseUrl: emulators.drive.baseUrl, pacer: quickPacer() });
			const byPath = await GoogleDriveProvider.open({ auth, root: '/Photos', apiBaseUrl: emulators.drive.baseUrl, pacer: quickPacer() });
			await expect(oneWay(byId, byPath, { mode: 'move' })).rejects.toThrow(/the same folder/);
			const child = await GoogleDriveProvider.open({ auth, root: emulators.drive.addFolder(id, 'Kept'), apiBaseUrl: emulators.drive.baseUrl, pacer: quickPacer() });
			await expect(twoWay(byId, child, new MemoryStateStore())).rejects.toThrow(/inside the source/);
			expect(await tree(byId)).toEqual(expected({ 'a.jpg': 'jpeg bytes' }));

			emulators.dropbox.seedFile('/Work/report.txt', 'report');
			const open = (root: string) => new DropboxProvider({ auth: emulators.dropbox.credentials, root, apiBaseUrl: emulators.dropbox.baseUrl, pacer: quickPacer() });
			await expect(oneWay(open('/Work'), open('/work'), { mode: 'move' })).rejects.toThrow(/the same folder/);
			expect(Object.keys(await tree(open('/Work')))).toEqual(['report.txt']);
			// Two separate folders of one account are fine.
			expect((await oneWay(open('/Work'), open('/Other'), { mode: 'copy' })).status).toBe('success');
		});
	});
});

describe('names, hostile or merely impossible', () => {
	const emulators = emulatorsForBlock(11);

	it('a cloud file named like a temporary file of ours is synced, never deleted', async () => {
		const name = `pair-${Math.random().toString(36).slice(2)}`;
		emulators.dropbox.seedFolder(`/${name}`);
		const cloud = new DropboxProvider({ auth: emulators.dropbox.credentials, root: `/${name}`, apiBaseUrl: emulators.dropbox.baseUrl, pacer: quickPacer() });
		const root = await tempDir('reserved');
		const local = await LocalProvider.open(root);
		const files = { 'x.txt': 'x', '.notes.txt.cloudsync-tmp-1a2b-3c4d5e-0': 'not ours', 'sub/.y.cloudsync-tmp-zz': 'also not ours' };
		await write(cloud, files);
		const state = new MemoryStateStore();
		for (let run = 0; run < 3; run++) {
			const report = await twoWay(cloud, local, state);
			expect(report.status).toBe('success');
			expect(report.toSource.deleted).toBe(0);
			await expectBoth(cloud, local, files);
		}
		// What the runs staged lives in the engine's own folder, and nothing is left there.
		expect(await fs.readdir(nodePath.join(root, '.cloudsync', 'tmp'))).toEqual([]);
	});

	it('a Drive name with "/" is synced under a look-alike, and one the disk cannot hold is reported without blocking deletions or the baseline', async () => {
		const folder = emulators.drive.addFolder(emulators.drive.myDriveRootId, `names-${Math.random().toString(36).slice(2)}`);
		const slashId = emulators.drive.addFile(folder, 'Minutes 12/05.txt', 'minutes', { modifiedTime: at(0) });
		const long = `${'l'.repeat(300)}.txt`;
		emulators.drive.addFile(folder, long, 'too long for a disk', { modifiedTime: at(0) });
		const cloud = await GoogleDriveProvider.open({ auth: emulators.drive.addOAuthClient(), root: folder, apiBaseUrl: emulators.drive.baseUrl, pacer: quickPacer() });
		await write(cloud, START);
		const local = await LocalProvider.open(await tempDir('names'));
		const state = new MemoryStateStore();
		const first = await twoWay(cloud, local, state);
		expect(first).toMatchObject({ status: 'success', baselineSaved: true, unresolved: 1 });
		expect(first.actions.find((action) => action.status === 'unresolved')?.reason).toMatch(/cannot be stored on the local side: it is 304 bytes long/);
		expect(await tree(local)).toEqual(expected({ ...START, 'Minutes 12／05.txt': 'minutes' }));

		// A deletion on the disk reaches Drive although the long name still cannot be synced.
		await local.delete('docs/c.txt');
		await write(local, { 'Minutes 12／05.txt': 'minutes, edited' }, 5);
		const second = await twoWay(cloud, local, state);
		expect(second).toMatchObject({ status: 'success', baselineSaved: true, toSource: { deleted: 1, updated: 1 } });
		const rest = without(START, 'docs/c.txt');
		expect(await tree(local)).toEqual(expected({ ...rest, 'Minutes 12／05.txt': 'minutes, edited' }));
		// The Drive file was updated in place and keeps its own name.
		expect(emulators.drive.file(slashId)?.name).toBe('Minutes 12/05.txt');
		expect(emulators.drive.content(slashId).toString()).toBe('minutes, edited');
		expect(Object.keys(await tree(cloud))).toContain(long);
	});

	it('Mirror deletes what it should although one name cannot be copied', async () => {
		const folder = emulators.drive.addFolder(emulators.drive.myDriveRootId, `mirror-${Math.random().toString(36).slice(2)}`);
		emulators.drive.addFile(folder, `${'m'.repeat(260)}.txt`, 'long');
		emulators.drive.addFile(folder, 'keep.txt', 'keep');
		const cloud = await GoogleDriveProvider.open({ auth: emulators.drive.addOAuthClient(), root: folder, apiBaseUrl: emulators.drive.baseUrl, pacer: quickPacer() });
		const local = await LocalProvider.open(await tempDir('mirror-names'));
		await write(local, { 'stale.txt': 'stale' });
		const report = await oneWay(cloud, local, { mode: 'mirror', maxDeletePercent: 100 });
		expect(report).toMatchObject({ status: 'success', deleted: 1, added: 1, conflicts: 1 });
		expect(await tree(local)).toEqual(expected({ 'keep.txt': 'keep' }));
	});

	it('names a disk cannot hold are refused before anything is written, with Windows rules on Windows', async () => {
		const root = await tempDir('win');
		const outside = await tempDir('win-outside');
		const windows = await LocalProvider.open(root, { platform: 'win32' });
		const body = () => Readable.from([Buffer.from('x')]);
		for (const name of [`..\\..\\${nodePath.basename(outside)}\\x.txt`, 'a:b.txt', 'CON.txt', 'trailing.', 'q?.txt']) {
			await expect(windows.write(name, body(), { size: 1 })).rejects.toBeInstanceOf(InvalidNameError);
		}
		const linux = await LocalProvider.open(root);
		await expect(linux.write(`${'n'.repeat(300)}.txt`, body(), { size: 1 })).rejects.toThrow(/304 bytes long/);
		await expect(linux.write('../x.txt', body(), { size: 1 })).rejects.toBeInstanceOf(InvalidPathError);
		expect(await fs.readdir(outside)).toEqual([]);
		expect(await disk(root)).toEqual({});
	});
});

describe('a listing the cloud cut short deletes nothing', () => {
	const emulators = emulatorsForBlock(13);

	const hundred = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`f${String(i).padStart(3, '0')}.txt`, `file ${i}`]));

	it('two-way and Mirror stop before deleting, and the next clean run loses nothing', async () => {
		const name = `short-${Math.random().toString(36).slice(2)}`;
		emulators.dropbox.seedFolder(`/${name}`);
		const cloud = new DropboxProvider({ auth: emulators.dropbox.credentials, root: `/${name}`, apiBaseUrl: emulators.dropbox.baseUrl, pacer: quickPacer() });
		const root = await tempDir('short');
		const local = await LocalProvider.open(root);
		await write(cloud, hundred);
		const state = new MemoryStateStore();
		expect(await twoWay(cloud, local, state)).toMatchObject({ status: 'success', baselineSaved: true });

		emulators.dropbox.server.inject({ route: /list_folder/, kind: 'short-listing', times: 1 });
		const cut = await twoWay(cloud, local, state);
		expect(cut.status).toBe('failed');
		expect(cut.errors[0].message).toMatch(/the source listing left out 40 file\(s\) that the source still holds/);
		expect(cut.toSource.deleted).toBe(0);
		await expectBoth(cloud, local, hundred);

		emulators.dropbox.server.inject({ route: /list_folder/, kind: 'short-listing', times: 1 });
		const mirror = await oneWay(cloud, local, { mode: 'mirror', maxDeletePercent: 100 });
		expect(mirror).toMatchObject({ status: 'failed', deleted: 0 });
		expect(mirror.deletesHeld).toMatch(/left out 40 file/);

		const clean = await twoWay(cloud, local, state);
		expect(clean).toMatchObject({ status: 'success', toSource: { deleted: 0 }, toDestination: { deleted: 0 } });
		await expectBoth(cloud, local, hundred);
	});
});

describe('the local folder stays the only place written', () => {
	it('a subfolder swapped for a link during a run receives no write and no deletion', async () => {
		const sourceRoot = await tempDir('swap-source');
		const destinationRoot = await tempDir('swap-destination');
		const outside = await tempDir('swap-outside');
		const files = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`sub/f${i}.txt`, `file ${i}`]));
		const source = await LocalProvider.open(sourceRoot);
		await write(source, files);
		const destination = await LocalProvider.open(destinationRoot);
		await write(destination, { 'sub/old.txt': 'to be deleted' });
		let reads = 0;
		// A source the disk cannot copy from by itself, so every file streams through a read, and the fifth read swaps the folder.
		const swapping: Provider = {
			name: 'streamed',
			capabilities: source.capabilities,
			list: (path, options) => source.list(path, options),
			stat: (path) => source.stat(path),
			hash: (path, types) => source.hash(path, types),
			write: () => Promise.reject(new Error('read-only')),
			mkdir: () => Promise.reject(new Error('read-only')),
			delete: () => Promise.reject(new Error('read-only')),
			move: () => Promise.reject(new Error('read-only')),
			read: async (path, options) => {
				if (++reads === 5) {
					await fs.rename(nodePath.join(destinationRoot, 'sub'), nodePath.join(destinationRoot, 'sub-moved'));
					await fs.symlink(outside, nodePath.join(destinationRoot, 'sub'));
				}
				return source.read(path, options);
			},
		};
		const report = await oneWay(swapping, destination, { mode: 'mirror', transfers: 1, maxDeletePercent: 100 });
		// The files after the swap are refused by the destination before their source is even opened.
		expect(reads).toBe(5);
		expect(report.added).toBe(4);
		expect(report.failed).toBe(36);
		expect(report.errors[0].message).toMatch(/symbolic link/);
		expect(report.deleted).toBe(0);
		expect(await fs.readdir(outside)).toEqual([]);
		expect(await fs.readFile(nodePath.join(destinationRoot, 'sub-moved', 'old.txt'), 'utf8')).toBe('to be deleted');
	});
});

describe('deleted and replaced local files are recoverable, and leftovers are cleaned', () => {
	it('Mirror and two-way keep what they delete or replace in the trash, say where, and purge it after the retention', async () => {
		const sourceRoot = await tempDir('trash-source');
		const destinationRoot = await tempDir('trash-destination');
		const source = await LocalProvider.open(sourceRoot);
		await write(source, { 'a.txt': 'new a', 'b.txt': 'b' }, 5);
		const stale = nodePath.join(destinationRoot, '.cloudsync', 'trash', '2020-01-01 00-00-00');
		await fs.mkdir(stale, { recursive: true });
		await fs.writeFile(nodePath.join(stale, 'ancient.txt'), 'ancient');
		const destination = await LocalProvider.open(destinationRoot, { now: () => NOW });
		await write(destination, { 'a.txt': 'old a', 'gone.txt': 'gone' });
		const report = await oneWay(source, destination, { mode: 'mirror', maxDeletePercent: 100 });
		expect(report).toMatchObject({ status: 'success', deleted: 1, updated: 1, added: 1 });
		const trash = `.cloudsync/trash/${fileStamp(NOW)}`;
		expect(report.recovery.destination).toBe(`deleted and replaced files are kept in ${nodePath.join(destinationRoot, trash)} for 30 days`);
		expect(report.notes).toContain('local: purged 1 trash folder(s) older than 30 days from .cloudsync/trash');
		expect(await disk(destinationRoot)).toEqual({ 'a.txt': 'new a', 'b.txt': 'b', [`${trash}/a.txt`]: 'old a', [`${trash}/gone.txt`]: 'gone' });

		// Two-way: a deletion carried to the disk is kept there too.
		const state = new MemoryStateStore();
		const twoWayDestination = await LocalProvider.open(destinationRoot, { now: () => NOW + 1000 });
		await twoWay(source, twoWayDestination, state);
		await source.delete('a.txt');
		const carried = await twoWay(source, twoWayDestination, state);
		expect(carried).toMatchObject({ status: 'success', toDestination: { deleted: 1 } });
		expect(carried.recovery.destination).toMatch(/kept in .*trash/);
		expect((await disk(destinationRoot))[`.cloudsync/trash/${fileStamp(NOW + 1000)}/a.txt`]).toBe('new a');
		// The source is local too: its deletion was the user's own (through the provider, so in its trash).
		expect(Object.keys(await disk(sourceRoot)).filter((path) => !path.startsWith('.cloudsync/'))).toEqual(['b.txt']);
	});

	it("the node's summary says where deleted files went", async () => {
		const [a, b] = [await tempDir('node-trash-a'), await tempDir('node-trash-b')];
		await write(await LocalProvider.open(a), { 'kept.txt': 'kept' });
		await write(await LocalProvider.open(b), { 'gone.txt': 'gone' });
		const pair = { source: await LocalProvider.open(a), destination: await LocalProvider.open(b), parameters: { sourceCloud: 'local', sourceLocalPath: a, destinationCloud: 'local', destinationLocalPath: b } };
		const { summary } = await runCloudSyncNode(pair, { operation: 'sync', mode: 'mirror', maxDeletePercent: 100 });
		expect(summary).toMatchObject({ status: 'success', deleted: 1, recovery: { destination: expect.stringMatching(/^deleted and replaced files are kept in .*\.cloudsync\/trash\/.* for 30 days$/) } });
		expect(Object.values(await disk(nodePath.join(b, '.cloudsync', 'trash')))).toEqual(['gone']);
		// Delete Permanently: the next deletion is for good, and the summary says so.
		await write(pair.destination, { 'also-gone.txt': 'also gone' });
		const permanent = await runCloudSyncNode(pair, { operation: 'sync', mode: 'mirror', maxDeletePercent: 100, options: { deletePermanently: true } });
		expect(permanent.summary).toMatchObject({ deleted: 1, recovery: { destination: expect.stringMatching(/deleted for good/) } });
		expect(Object.values(await disk(nodePath.join(b, '.cloudsync', 'trash')))).toEqual(['gone']);
	});

	it('with no retention, deletions are for good', async () => {
		const root = await tempDir('no-trash');
		const destination = await LocalProvider.open(root, { trashDays: 0 });
		await write(destination, { 'gone.txt': 'gone' });
		const source = await LocalProvider.open(await tempDir('no-trash-source'));
		await write(source, { 'kept.txt': 'kept' });
		const report = await oneWay(source, destination, { mode: 'mirror', maxDeletePercent: 100 });
		expect(report.recovery.destination).toMatch(/deleted for good/);
		expect(Object.keys(await disk(root))).toEqual(['kept.txt']);
	});

	it('a run removes files that interrupted runs left staged, and keeps those of runs still going', async () => {
		const root = await tempDir('leftovers');
		const staging = nodePath.join(root, '.cloudsync', 'tmp');
		await fs.mkdir(staging, { recursive: true });
		const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
		const hourAgo = new Date(Date.now() - 2 * 3600_000);
		const leftovers = {
			[`${HOST_TAG}-${dead.toString(36)}-aaaaaa-0`]: 'x'.repeat(1000),
			[`0123abcd-1-bbbbbb-0`]: 'y'.repeat(500),
		};
		const live = { [`${HOST_TAG}-${process.pid.toString(36)}-cccccc-0`]: 'still being written', [`0123abcd-2-dddddd-0`]: 'another machine, just now' };
		for (const [name, content] of Object.entries({ ...leftovers, ...live })) await fs.writeFile(nodePath.join(staging, name), content);
		await fs.utimes(nodePath.join(staging, '0123abcd-1-bbbbbb-0'), hourAgo, hourAgo);
		const source = await LocalProvider.open(await tempDir('leftovers-source'));
		await write(source, { 'a.txt': 'a' });
		const report = await oneWay(source, await LocalProvider.open(root), { mode: 'copy' });
		expect(report.notes).toEqual(['local: removed 2 partly written file(s) (1500 bytes) that interrupted runs left in .cloudsync/tmp']);
		expect((await fs.readdir(staging)).sort()).toEqual(Object.keys(live).sort());
		// A dry run tidies nothing.
		expect((await oneWay(source, await LocalProvider.open(root), { mode: 'copy', dryRun: true })).notes).toEqual([]);
	});
});
