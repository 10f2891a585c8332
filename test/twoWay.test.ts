import { LockedError, MemoryStateStore, PairLock, SafetyError, decodeBaseline, fileStamp, twoWaySync, type ConflictPolicy, type ListOptions, type Provider, type TwoWayOptions } from '../lib';
import { Readable } from 'node:stream';
import { spool } from '../lib/core/spool';
import { quickPacer } from './support/dropbox';
import { cloudBackend, expected, iCloudDriveBackend, localBackend, oneDriveBackend, put, s3Backend, sha, tree, webDavBackend, type Backend } from './support/sides';
import { engineDriver, nodeDriver, runNodesOnTempFolders, type DriverFactory, type Outcome } from './support/drivers';

runNodesOnTempFolders();

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const at = (minutes: number) => T0 + minutes * 60_000;
const NOW = Date.UTC(2026, 11, 1, 21, 30, 5);
/** The time in the names of conflict copies and kept versions: when the run started. */
const stampOf = (outcome: Pick<Outcome, 'startedAt'>) => fileStamp(Date.parse(outcome.startedAt));
const START = { 'a.txt': 'alpha', 'docs/b.txt': 'bravo', 'docs/c.txt': 'charlie', 'd.txt': 'delta' };

async function write(provider: Provider, files: Record<string, string>, minutes = 0) {
	for (const [path, content] of Object.entries(files)) await put(provider, path, content, at(minutes));
}

async function start(backend: Backend, sides: { source?: Record<string, string>; destination?: Record<string, string>; both?: Record<string, string> }, driver: DriverFactory = engineDriver) {
	const pair = await backend.pair();
	await write(pair.source, { ...sides.both, ...sides.source });
	await write(pair.destination, { ...sides.both, ...sides.destination });
	return { source: pair.source, destination: pair.destination, ...driver(pair, NOW) };
}

/** Both sides after a first run over START: the baseline is saved. */
async function synced(backend: Backend, driver: DriverFactory = engineDriver) {
	const setup = await start(backend, { both: START }, driver);
	const first = await setup.run();
	expect(first).toMatchObject({ status: 'success', firstRun: true, baselineSaved: true, baselineFiles: 4 });
	return setup;
}

async function expectBoth(setup: { source: Provider; destination: Provider }, files: Record<string, string>) {
	expect(await tree(setup.source)).toEqual(expected(files));
	expect(await tree(setup.destination)).toEqual(expected(files));
}

async function lockPath(provider: Provider): Promise<string | undefined> {
	for await (const entry of provider.list('.cloudsync')) if (entry.path.endsWith('.lock')) return entry.path;
	return undefined;
}

/** The engine with its state store in reach, for what only the engine can be asked (state faults, pair names, locks). */
async function engineSynced(backend: Backend) {
	const { source, destination } = await backend.pair();
	await write(source, START);
	await write(destination, START);
	const state = new MemoryStateStore();
	const run = (options: Partial<TwoWayOptions> = {}) =>
		twoWaySync(source, destination, { state, pair: 'test pair', lock: { settleMs: 0 }, pacer: quickPacer(), now: () => NOW, ...options });
	expect(await run()).toMatchObject({ status: 'success', baselineSaved: true });
	return { source, destination, state, run };
}

/** The last element, when given, says the destination stamps its own modification times (a generic WebDAV server). */
const matrix: Array<[string, string, () => Promise<Backend>, DriverFactory, 'server times'?]> = [
	['local ↔ local', 'the engine', async () => localBackend(), engineDriver],
	['Google Drive ↔ Dropbox (emulated)', 'the engine', cloudBackend, engineDriver],
	['local ↔ local', 'the Cloud Sync node in n8n-core', async () => localBackend(), nodeDriver],
	['Google Drive ↔ Dropbox (emulated)', 'the Cloud Sync node in n8n-core', cloudBackend, nodeDriver],
	['OneDrive ↔ Dropbox (emulated)', 'the engine', oneDriveBackend, engineDriver],
	['OneDrive ↔ Dropbox (emulated)', 'the Cloud Sync node in n8n-core', oneDriveBackend, nodeDriver],
	['local ↔ S3 (s3rver)', 'the engine', s3Backend, engineDriver],
	['local ↔ S3 (s3rver)', 'the Cloud Sync node in n8n-core', s3Backend, nodeDriver],
	['iCloud Drive ↔ Google Drive (emulated)', 'the engine', iCloudDriveBackend, engineDriver],
	['iCloud Drive ↔ Google Drive (emulated)', 'the Cloud Sync node in n8n-core', iCloudDriveBackend, nodeDriver],
	['local ↔ WebDAV (Nextcloud, emulated)', 'the engine', () => webDavBackend('nextcloud'), engineDriver],
	['local ↔ WebDAV (Nextcloud, emulated)', 'the Cloud Sync node in n8n-core', () => webDavBackend('nextcloud'), nodeDriver],
	// A generic server (Apache, rclone serve, a NAS) keeps no modification time and lists no hash: sizes and the baseline decide.
	['local ↔ WebDAV (generic, emulated)', 'the engine', () => webDavBackend('generic'), engineDriver, 'server times'],
];

describe.each(matrix)('two-way sync, %s, through %s', (_name, _through, makeBackend, driver, times) => {
	let backend: Backend;
	beforeAll(async () => {
		backend = await makeBackend();
	});
	afterAll(async () => backend.stop());

	it('first run merges both sides, keeps both versions of a file that differs, and deletes nothing', async () => {
		const setup = await start(backend, {
			both: { 'same.txt': 'same' },
			source: { 'only-source.txt': 'from source', 'differs.txt': 'source version' },
			destination: { 'sub/only-destination.txt': 'from destination' },
		}, driver);
		await put(setup.destination, 'differs.txt', 'destination version', at(2));
		const report = await setup.run();
		const conflictName = `differs (conflict source ${stampOf(report)}).txt`;
		await expectBoth(setup, {
			'same.txt': 'same',
			'only-source.txt': 'from source',
			'sub/only-destination.txt': 'from destination',
			'differs.txt': 'destination version',
			[conflictName]: 'source version',
		});
		expect(report).toMatchObject({ status: 'success', firstRun: true, toDestination: { added: 2, deleted: 0 }, toSource: { added: 2, deleted: 0 } });
		expect(report.conflicts).toEqual([expect.objectContaining({ path: 'differs.txt', winner: 'destination', keptAs: conflictName, policy: 'keepBoth' })]);
		const saved = setup.saved();
		const again = await setup.run();
		expect(again.actions).toEqual([]);
		expect(again.firstRun).toBe(false);
		// A run that changed nothing leaves the stored state as it was.
		expect(setup.saved()).toBe(saved);
	});

	it('carries new files and newer versions from either side', async () => {
		const setup = await synced(backend, driver);
		await write(setup.source, { 'new-on-source.txt': 'n1', 'a.txt': 'alpha v2' }, 5);
		await write(setup.destination, { 'docs/new-on-destination.txt': 'n2', 'docs/b.txt': 'bravo v2' }, 5);
		const report = await setup.run();
		expect(report).toMatchObject({ status: 'success', toDestination: { added: 1, updated: 1 }, toSource: { added: 1, updated: 1 }, conflicts: [] });
		await expectBoth(setup, { ...START, 'a.txt': 'alpha v2', 'docs/b.txt': 'bravo v2', 'new-on-source.txt': 'n1', 'docs/new-on-destination.txt': 'n2' });
	});

	it('carries deletions from either side, and forgets files deleted on both', async () => {
		const setup = await synced(backend, driver);
		await setup.source.delete('a.txt');
		await setup.destination.delete('docs/c.txt');
		await setup.source.delete('d.txt');
		await setup.destination.delete('d.txt');
		const report = await setup.run();
		expect(report).toMatchObject({ status: 'success', toDestination: { deleted: 1 }, toSource: { deleted: 1 }, baselineFiles: 1 });
		await expectBoth(setup, { 'docs/b.txt': 'bravo' });
	});

	it('keeps a change over a deletion on the other side, both ways', async () => {
		const setup = await synced(backend, driver);
		await write(setup.source, { 'a.txt': 'alpha edited' }, 5);
		await setup.destination.delete('a.txt');
		await write(setup.destination, { 'd.txt': 'delta edited' }, 5);
		await setup.source.delete('d.txt');
		const report = await setup.run();
		expect(report).toMatchObject({ status: 'success', toDestination: { added: 1, deleted: 0 }, toSource: { added: 1, deleted: 0 } });
		await expectBoth(setup, { ...START, 'a.txt': 'alpha edited', 'd.txt': 'delta edited' });
	});

	it('keeps both versions of a file changed on both sides, and sees no conflict in identical edits', async () => {
		const setup = await synced(backend, driver);
		await write(setup.source, { 'a.txt': 'alpha from source' }, 5);
		await write(setup.destination, { 'a.txt': 'alpha from destination, later' }, 9);
		await write(setup.source, { 'd.txt': 'same edit' }, 6);
		await write(setup.destination, { 'd.txt': 'same edit' }, 7);
		const report = await setup.run();
		const keptAs = `a (conflict source ${stampOf(report)}).txt`;
		expect(report.conflicts).toEqual([expect.objectContaining({ path: 'a.txt', winner: 'destination', keptAs })]);
		await expectBoth(setup, { ...START, 'a.txt': 'alpha from destination, later', [keptAs]: 'alpha from source', 'd.txt': 'same edit' });
		expect((await setup.run()).actions).toEqual([]);
	});

	const policies: Array<[ConflictPolicy, 'source' | 'destination']> = [
		['newer', 'source'],
		['older', 'destination'],
		['larger', 'destination'],
		['source', 'source'],
		['destination', 'destination'],
	];
	// Where the server stamps the time of the upload, no test can make one side's edit the older: "newer" and "older" compare upload times there.
	it.each<[ConflictPolicy, 'source' | 'destination']>(times === 'server times' ? policies.filter(([policy]) => policy !== 'newer' && policy !== 'older') : policies)('resolves a conflict with "%s wins": the %s version is on both sides', async (policy, winner) => {
		const setup = await synced(backend, driver);
		const versions = { source: 'source edit', destination: 'destination edit, longer' };
		await write(setup.source, { 'd.txt': versions.source }, 10);
		await write(setup.destination, { 'd.txt': versions.destination }, 5);
		const report = await setup.run({ conflict: policy });
		expect(report.conflicts).toEqual([expect.objectContaining({ path: 'd.txt', winner, policy })]);
		await expectBoth(setup, { ...START, 'd.txt': versions[winner] });
	});

	it('moves a renamed or moved file on the other side instead of copying it again', async () => {
		const setup = await synced(backend, driver);
		await setup.source.move('docs/b.txt', 'archive/2026/b-renamed.txt');
		await setup.destination.move('d.txt', 'docs/d-moved.txt');
		const report = await setup.run();
		expect(report).toMatchObject({ status: 'success', bytes: 0, toDestination: { renamed: 1, added: 0, deleted: 0 }, toSource: { renamed: 1, added: 0, deleted: 0 } });
		const { 'docs/b.txt': b, 'd.txt': d, ...rest } = START;
		await expectBoth(setup, { ...rest, 'archive/2026/b-renamed.txt': b, 'docs/d-moved.txt': d });
	});

	it('renames a file whose name changed only in case', async () => {
		const setup = await synced(backend, driver);
		await setup.source.move('a.txt', 'A.txt');
		const report = await setup.run();
		expect(report).toMatchObject({ status: 'success', bytes: 0, toDestination: { renamed: 1, added: 0, deleted: 0 } });
		const { 'a.txt': a, ...rest } = START;
		await expectBoth(setup, { ...rest, 'A.txt': a });
	});

	it('renames a folder whose name changed only in case, with the files in it', async () => {
		const setup = await synced(backend, driver);
		await setup.source.move('docs', 'Docs');
		const report = await setup.run();
		expect(report).toMatchObject({ status: 'success', bytes: 0, toDestination: { added: 0, deleted: 0 } });
		const renamed = Object.fromEntries(Object.entries(START).map(([path, content]) => [path.replace(/^docs\//, 'Docs/'), content]));
		await expectBoth(setup, renamed);
		expect((await setup.run()).actions).toEqual([]);
	});

	it('treats one name in NFC on one side and NFD on the other as the same file', async () => {
		const nfc = 'caf\u00e9.txt';
		const nfd = 'cafe\u0301.txt';
		const setup = await start(backend, { source: { [nfc]: 'coffee' }, destination: { [nfd]: 'coffee' } }, driver);
		const report = await setup.run();
		expect(report).toMatchObject({ status: 'success', bytes: 0, conflicts: [], toDestination: { added: 0 }, toSource: { added: 0 } });
		for (const side of [setup.source, setup.destination]) {
			const names = Object.keys(await tree(side));
			expect(names).toHaveLength(1);
			expect(names[0].normalize('NFC')).toBe(nfc);
		}
		await write(setup.destination, { [nfd]: 'coffee, stronger' }, 5);
		expect(await setup.run()).toMatchObject({ toSource: { updated: 1 } });
		expect(Object.values(await tree(setup.source))).toEqual([sha('coffee, stronger')]);
	});

	it('refuses a run that would delete more than the limit on a side, or empty it, and changes nothing', async () => {
		const setup = await synced(backend, driver);
		const saved = setup.saved();
		await setup.source.delete('a.txt');
		await setup.source.delete('docs/b.txt');
		await setup.source.delete('docs/c.txt');
		await expect(setup.run()).rejects.toThrow(/delete 3 of the destination's 4 files/);
		expect(setup.saved()).toBe(saved);
		expect(await tree(setup.destination)).toEqual(expected(START));
		await setup.source.delete('d.txt');
		await expect(setup.run()).rejects.toThrow(/source holds no files while the last run left 4/);
		const forced = await setup.run({ force: true });
		expect(forced).toMatchObject({ status: 'success', toDestination: { deleted: 4 } });
		expect(await tree(setup.destination)).toEqual({});
	});

	it('resync rebuilds the baseline by merging: a file deleted on one side comes back rather than being deleted', async () => {
		const setup = await synced(backend, driver);
		await setup.source.delete('a.txt');
		const report = await setup.run({ resync: true });
		expect(report).toMatchObject({ status: 'success', firstRun: true, toSource: { added: 1 }, toDestination: { deleted: 0 } });
		await expectBoth(setup, START);
	});

	it('keeps replaced and deleted files in a backup folder on their own side, which is never synced', async () => {
		const setup = await synced(backend, driver);
		await write(setup.source, { 'a.txt': 'alpha v2' }, 5);
		await setup.destination.delete('docs/c.txt');
		const report = await setup.run({ backupDir: 'Replaced' });
		expect(report).toMatchObject({ status: 'success', toDestination: { updated: 1 }, toSource: { deleted: 1 } });
		const { 'docs/c.txt': c, ...rest } = START;
		expect(await tree(setup.source)).toEqual(expected({ ...rest, 'a.txt': 'alpha v2', [`Replaced/docs/c (${stampOf(report)}).txt`]: c }));
		expect(await tree(setup.destination)).toEqual(expected({ ...rest, 'a.txt': 'alpha v2', [`Replaced/a (${stampOf(report)}).txt`]: 'alpha' }));
		expect((await setup.run({ backupDir: 'Replaced' })).actions).toEqual([]);
	});
});

describe('two-way sync safety on local folders', () => {
	it('refuses with the engine\'s own error class', async () => {
		const setup = await engineSynced(backend);
		for (const path of ['a.txt', 'docs/b.txt', 'docs/c.txt']) await setup.source.delete(path);
		await expect(setup.run()).rejects.toThrow(SafetyError);
	});

	const backend = localBackend();

	it('a run that fails does not move the baseline, and the next run finishes the job without losing a change', async () => {
		const setup = await engineSynced(backend);
		const saved = setup.state.state;
		await write(setup.source, { 'a.txt': 'alpha v2', 'new.txt': 'new' }, 5);
		await setup.destination.delete('docs/c.txt');
		let saves = 0;
		const failingState = { where: 'memory', load: () => setup.state.load(), save: async () => Promise.reject(new Error(`disk full (${++saves})`)) };
		const failed = await setup.run({ state: failingState });
		expect(failed).toMatchObject({ status: 'partial', baselineSaved: false });
		expect(failed.errors[0].message).toMatch(/could not be saved.*disk full/);
		expect(setup.state.state).toBe(saved);
		const recovered = await setup.run();
		expect(recovered.status).toBe('success');
		const rest = Object.fromEntries(Object.entries(START).filter(([path]) => path !== 'docs/c.txt'));
		await expectBoth(setup, { ...rest, 'a.txt': 'alpha v2', 'new.txt': 'new' });
		expect(decodeBaseline(setup.state.state!).entries.filter((entry) => !entry.isDir)).toHaveLength(4);
	});

	it('one run of a pair at a time: a live lock stops a second run, an expired one does not', async () => {
		const setup = await engineSynced(backend);
		const results = await Promise.allSettled([setup.run({ lock: { settleMs: 100 } }), setup.run({ lock: { settleMs: 100 } })]);
		const rejected = results.filter((result) => result.status === 'rejected') as PromiseRejectedResult[];
		expect(rejected).toHaveLength(1);
		expect(rejected[0].reason).toBeInstanceOf(LockedError);
		expect(rejected[0].reason.hint).toMatch(/lock expires in \d+ minute/);
		// Released: the file stays (no trash on Drive for every run) but holds no one, so the next run goes ahead.
		expect(Object.keys(await tree(setup.destination, { withState: true })).filter((path) => path.startsWith('.cloudsync/'))).toEqual([expect.stringMatching(/^\.cloudsync\/two-way-\w+\.lock$/)]);
		await expect(setup.run()).resolves.toMatchObject({ status: 'success' });
		const held = await PairLock.acquire(setup.destination, { id: 'stale', ttlMs: 1, settleMs: 0 });
		await new Promise((resolve) => setTimeout(resolve, 5));
		await expect(PairLock.acquire(setup.destination, { id: 'stale', settleMs: 0 })).resolves.toBeInstanceOf(PairLock);
		await held.release();
	});

	it('a run whose lock was taken over by another saves no baseline', async () => {
		const setup = await engineSynced(backend);
		const saved = setup.state.state;
		await write(setup.source, { 'a.txt': 'alpha v2' }, 5);
		// Another run overwrites the lock file while this one copies.
		const steal = async () =>
			put(setup.destination, (await lockPath(setup.destination))!, JSON.stringify({ owner: 'another run', host: 'elsewhere', acquiredAt: new Date().toISOString(), expiresAt: Date.now() + 60_000 }), Date.now());
		const stealing = new Proxy(setup.destination, {
			get: (target, property, receiver) => {
				const value = Reflect.get(target, property, receiver);
				if (property !== 'write' && property !== 'copyFrom') return value;
				return async (...args: unknown[]) => {
					const result = await value.apply(target, args);
					const path = String(property === 'write' ? args[0] : args[2]);
					if (!path.startsWith('.cloudsync/')) await steal();
					return result;
				};
			},
		});
		const report = await twoWaySync(setup.source, stealing, { state: setup.state, pair: 'test pair', lock: { settleMs: 0 }, pacer: quickPacer(), now: () => NOW });
		expect(report).toMatchObject({ status: 'partial', baselineSaved: false });
		expect(report.errors[0].message).toMatch(/Another run of this folder pair is in progress/);
		expect(setup.state.state).toBe(saved);
	});

	it('leaves alone a name two entries of one side answer to, and says so', async () => {
		const setup = await engineSynced(backend);
		await setup.source.delete('a.txt');
		// As Google Drive lists two files of one name in one folder.
		const duplicating = new Proxy(setup.destination, {
			get: (target, property, receiver) =>
				property === 'list'
					? async function* (path: string, options?: ListOptions) {
							for await (const entry of target.list(path, options)) {
								yield entry;
								if (entry.path === 'a.txt') yield { ...entry, id: 'the other one', size: entry.size + 1 };
							}
						}
					: Reflect.get(target, property, receiver),
		});
		const report = await twoWaySync(setup.source, duplicating, { state: setup.state, pair: 'test pair', lock: { settleMs: 0 }, pacer: quickPacer(), now: () => NOW });
		expect(report).toMatchObject({ status: 'success', unresolved: 1, toDestination: { deleted: 0 }, toSource: { added: 0 } });
		expect(report.actions).toEqual([expect.objectContaining({ kind: 'conflict', side: 'destination', path: 'a.txt', status: 'unresolved', reason: expect.stringMatching(/more than one item/) })]);
		expect(await tree(setup.destination)).toEqual(expected(START));
		expect(decodeBaseline(setup.state.state!).entries.map((entry) => entry.path)).not.toContain('a.txt');
	});

	it('reads the copy of the state when the store gives an older one than the last run saved, as n8n does to queue-mode workers', async () => {
		const { source, destination } = await backend.pair();
		await write(source, START);
		await write(destination, START);
		// Static data as a queue-mode worker sees it: whatever it saves, the next run starts without it.
		const forgetful = { where: 'static data', load: async () => undefined, save: async () => undefined };
		const copy = new MemoryStateStore();
		const run = () => twoWaySync(source, destination, { state: forgetful, stateCopy: copy, pair: 'test pair', lock: { settleMs: 0 }, pacer: quickPacer(), now: () => NOW });
		expect(await run()).toMatchObject({ firstRun: true, baselineFromCopy: false });
		await source.delete('a.txt');
		const second = await run();
		expect(second).toMatchObject({ status: 'success', firstRun: false, baselineFromCopy: true, toDestination: { deleted: 1 } });
		expect(second.baselineNote).toMatch(/copy in memory: static data held none/);
		expect(Object.keys(await tree(destination))).not.toContain('a.txt');
	});

	it('a saved state spooled to a temporary file (a large one) is read to the end of the walk: a deletion it proves goes through', async () => {
		const setup = await engineSynced(backend);
		// As the store on the destination gives a state above its in-memory limit: in a temporary file, which the run removes once done with it.
		const reads: string[] = [];
		const loadBytes = async () => {
			const file = await spool(Readable.from([Buffer.from((await setup.state.load())!, 'utf8')]), { prefix: 'state', memoryLimit: 0 });
			let removed = false;
			return {
				...file,
				read: () => {
					reads.push(removed ? 'after removal' : 'before removal');
					return file.read();
				},
				dispose: async () => {
					removed = true;
					await file.dispose();
				},
			};
		};
		const spooled = { where: 'a large state', load: () => setup.state.load(), save: (text: string) => setup.state.save(text), loadBytes };
		await setup.destination.delete('docs/c.txt');
		const report = await setup.run({ state: spooled });
		expect(report).toMatchObject({ status: 'success', firstRun: false, toSource: { deleted: 1 }, toDestination: { added: 0 } });
		expect(reads).not.toContain('after removal');
		const rest = Object.fromEntries(Object.entries(START).filter(([path]) => path !== 'docs/c.txt'));
		await expectBoth(setup, rest);
		expect(decodeBaseline(setup.state.state!).entries.filter((entry) => !entry.isDir).map((entry) => entry.path).sort()).toEqual(Object.keys(rest).sort());
	});

	it('a baseline saved for another folder pair is never used to delete', async () => {
		const setup = await engineSynced(backend);
		await setup.source.delete('a.txt');
		const report = await setup.run({ pair: 'another pair' });
		expect(report).toMatchObject({ firstRun: true, toSource: { added: 1 }, toDestination: { deleted: 0 } });
		expect(report.baselineNote).toMatch(/another folder pair/);
	});

	it('a dry run lists the plan and touches nothing', async () => {
		const setup = await engineSynced(backend);
		await write(setup.source, { 'a.txt': 'alpha v2' }, 5);
		const before = setup.state.state;
		const report = await setup.run({ dryRun: true });
		expect(report.status).toBe('planned');
		expect(report.actions).toEqual([expect.objectContaining({ kind: 'update', side: 'destination', path: 'a.txt', status: 'planned' })]);
		expect(await tree(setup.destination)).toEqual(expected(START));
		expect(setup.state.state).toBe(before);
	});
});
