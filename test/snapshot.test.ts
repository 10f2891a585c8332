import { snapshotBackup, type Provider, type SnapshotOptions } from '../lib';
import { quickPacer } from './support/dropbox';
import { cloudBackend, expected, localBackend, put, s3Backend, tree, type Backend } from './support/sides';
import { runCloudSyncNode, runNodesOnTempFolders } from './support/drivers';

runNodesOnTempFolders();

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const at = (minutes: number) => T0 + minutes * 60_000;
const DAY = 86_400_000;
const RUN1 = Date.UTC(2026, 10, 28, 9, 0, 0);
const FILES = { 'a.txt': 'alpha', 'docs/b.txt': 'bravo', 'docs/c.txt': 'charlie' };

/** Every path of `files` inside the snapshot folder `name`. */
function inFolder(name: string, files: Record<string, string>): Record<string, string> {
	return Object.fromEntries(Object.entries(files).map(([path, content]) => [`${name}/${path}`, content]));
}

const backends: Array<[string, () => Promise<Backend>]> = [
	['local → local', async () => localBackend()],
	['Google Drive → Dropbox (emulated)', cloudBackend],
	['local → S3 (s3rver)', s3Backend],
];

describe.each(backends)('snapshot backups, %s', (_name, makeBackend) => {
	let backend: Backend;
	beforeAll(async () => {
		backend = await makeBackend();
	});
	afterAll(async () => backend.stop());

	async function setup() {
		const { source, destination } = await backend.pair();
		for (const [path, content] of Object.entries(FILES)) await put(source, path, content, at(0));
		const run = (when: number, options: Partial<SnapshotOptions> & Pick<SnapshotOptions, 'kind'>) =>
			snapshotBackup(source, destination, { pacer: quickPacer(), now: () => when, ...options });
		return { source, destination, run };
	}
	const change = async (source: Provider) => {
		await put(source, 'docs/b.txt', 'bravo v2', at(10));
		await put(source, 'new.txt', 'new', at(10));
	};

	it('full backup: every run writes a complete dated folder, unchanged files copied inside the destination', async () => {
		const { source, destination, run } = await setup();
		const first = await run(RUN1, { kind: 'full' });
		expect(first).toMatchObject({ status: 'success', folder: '2026-11-28 09-00-00', files: 3, added: 3, copiedServerSide: 0 });
		// Each file is reported where it now lives, not under the name the run wrote it to.
		expect(first.results.map((result) => result.path).sort()).toEqual(Object.keys(inFolder('2026-11-28 09-00-00', FILES)).sort());
		await change(source);
		const second = await run(RUN1 + DAY, { kind: 'full' });
		expect(second).toMatchObject({ status: 'success', folder: '2026-11-29 09-00-00', files: 4, added: 2, copiedServerSide: 2, unchanged: 2 });
		expect(await tree(destination)).toEqual(
			expected({ ...inFolder('2026-11-28 09-00-00', FILES), ...inFolder('2026-11-29 09-00-00', { ...FILES, 'docs/b.txt': 'bravo v2', 'new.txt': 'new' }) }),
		);
	});

	it('a full backup reads only the newest snapshot, however many are kept', async () => {
		const { source, destination, run } = await setup();
		for (let day = 0; day < 3; day++) await run(RUN1 + day * DAY, { kind: 'full' });
		const listed: string[] = [];
		const watched = new Proxy(destination, {
			get: (target, property, receiver) =>
				property === 'list'
					? (path: string, options?: { recursive?: boolean }) => {
							listed.push(`${path || '(root)'}${options?.recursive ? ' recursively' : ''}`);
							return target.list(path, options);
						}
					: Reflect.get(target, property, receiver),
		});
		const report = await snapshotBackup(source, watched, { kind: 'full', pacer: quickPacer(), now: () => RUN1 + 3 * DAY });
		expect(report).toMatchObject({ status: 'success', copiedServerSide: 3 });
		expect(listed).toEqual(['(root)', '2026-11-30 09-00-00 recursively']);
	});

	it('incremental: each run writes only what changed since the last one, and nothing when nothing did', async () => {
		const { source, destination, run } = await setup();
		await run(RUN1, { kind: 'incremental' });
		await change(source);
		const second = await run(RUN1 + DAY, { kind: 'incremental' });
		expect(second).toMatchObject({ status: 'success', files: 2, unchanged: 2 });
		const third = await run(RUN1 + 2 * DAY, { kind: 'incremental' });
		expect(third).toMatchObject({ status: 'success', folder: '', files: 0, unchanged: 4 });
		expect(await tree(destination)).toEqual(
			expected({ ...inFolder('2026-11-28 09-00-00', FILES), ...inFolder('2026-11-29 09-00-00', { 'docs/b.txt': 'bravo v2', 'new.txt': 'new' }) }),
		);
	});

	it('incremental retention never removes the only copy of a file: what an expiring snapshot alone holds is copied into the new one first', async () => {
		const { source, destination, run } = await setup();
		await run(RUN1, { kind: 'incremental' });
		await change(source);
		const second = await run(RUN1 + DAY, { kind: 'incremental', keepLast: 1 });
		expect(second).toMatchObject({ status: 'success', folder: '2026-11-29 09-00-00', files: 4, removedSnapshots: ['2026-11-28 09-00-00'] });
		const latest = { ...FILES, 'docs/b.txt': 'bravo v2', 'new.txt': 'new' };
		expect(await tree(destination)).toEqual(expected(inFolder('2026-11-29 09-00-00', latest)));
		// Nothing changed, one snapshot kept: nothing written, nothing removed.
		expect(await run(RUN1 + 2 * DAY, { kind: 'incremental', keepLast: 1 })).toMatchObject({ status: 'success', folder: '', files: 0, removedSnapshots: [] });
		// Nothing changed, but every snapshot is past Keep Snapshots For Days: the files move into a new one before the old go.
		await put(source, 'a.txt', 'alpha v2', at(20));
		await run(RUN1 + 3 * DAY, { kind: 'incremental' });
		const late = await run(RUN1 + 40 * DAY, { kind: 'incremental', keepDays: 30 });
		expect(late).toMatchObject({ status: 'success', folder: '2027-01-07 09-00-00', removedSnapshots: ['2026-12-01 09-00-00', '2026-11-29 09-00-00'] });
		expect(await tree(destination)).toEqual(expected(inFolder('2027-01-07 09-00-00', { ...latest, 'a.txt': 'alpha v2' })));
	});

	it('retention keeps the last N snapshots and those of the last D days, and never the partial work of a failed run', async () => {
		const { source, destination, run } = await setup();
		for (let day = 0; day < 4; day++) await run(RUN1 + day * DAY, { kind: 'full' });
		const kept = await run(RUN1 + 4 * DAY, { kind: 'full', keepLast: 2 });
		expect(kept.removedSnapshots).toEqual(['2026-11-30 09-00-00', '2026-11-29 09-00-00', '2026-11-28 09-00-00']);
		const folders = async () => [...new Set(Object.keys(await tree(destination)).map((path) => path.split('/')[0]))].sort();
		expect(await folders()).toEqual(['2026-12-01 09-00-00', '2026-12-02 09-00-00']);
		const byDays = await run(RUN1 + 5 * DAY - 3_600_000, { kind: 'full', keepDays: 1 });
		expect(byDays.removedSnapshots).toEqual(['2026-12-01 09-00-00']);
		expect(await folders()).toEqual(['2026-12-02 09-00-00', '2026-12-03 08-00-00']);
		await source.delete('a.txt');
		await put(source, 'a.txt', 'alpha v2', at(20));
		const broken = new Proxy(source, {
			get: (target, property, receiver) =>
				// Both ways the source is read: streamed, and whole for a small file.
				property === 'read' || property === 'readWhole' ? () => Promise.reject(new Error('injected read failure')) : Reflect.get(target, property, receiver),
		});
		// Streamed, so the failing read is used even between two local folders.
		const streamed = new Proxy(destination, { get: (target, property, receiver) => (property === 'canCopyFrom' ? () => false : Reflect.get(target, property, receiver)) });
		const failed = await snapshotBackup(broken, streamed, { kind: 'full', keepLast: 1, pacer: quickPacer({ retriesPerRequest: 0 }), now: () => RUN1 + 6 * DAY });
		expect(failed.status).toBe('failed');
		expect(failed.removedSnapshots).toEqual([]);
		expect(await folders()).toEqual(['2026-12-02 09-00-00', '2026-12-03 08-00-00', '2026-12-04 09-00-00.partial']);
	});
});

describe.each(backends)('snapshot backups through the Cloud Sync node in n8n-core, %s', (_name, makeBackend) => {
	let backend: Backend;
	beforeAll(async () => {
		backend = await makeBackend();
	});
	afterAll(async () => backend.stop());
	// Snapshot folders are named to the second, from the real clock here.
	const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1100));

	it('Full Backup writes a complete dated folder per run, copies unchanged files inside the destination, and Keep Last Snapshots prunes', async () => {
		const pair = await backend.pair();
		for (const [path, content] of Object.entries(FILES)) await put(pair.source, path, content, at(0));
		const run = () => runCloudSyncNode(pair, { operation: 'sync', output: 'summary', mode: 'fullBackup', options: { keepLast: 1 } });
		const first = (await run()).summary;
		expect(first).toMatchObject({ status: 'success', mode: 'fullBackup', files: 3, added: 3, removedSnapshots: [] });
		await nextSecond();
		await put(pair.source, 'docs/b.txt', 'bravo v2', at(10));
		const second = (await run()).summary;
		expect(second).toMatchObject({ status: 'success', files: 3, added: 1, copiedServerSide: 2, removedSnapshots: [first.folder] });
		expect(await tree(pair.destination)).toEqual(expected(inFolder(String(second.folder), { ...FILES, 'docs/b.txt': 'bravo v2' })));
	});

	it('Incremental Backup writes only what changed since the last run', async () => {
		const pair = await backend.pair();
		for (const [path, content] of Object.entries(FILES)) await put(pair.source, path, content, at(0));
		const run = () => runCloudSyncNode(pair, { operation: 'sync', output: 'summary', mode: 'incremental' });
		const first = (await run()).summary;
		await nextSecond();
		await put(pair.source, 'new.txt', 'new', at(10));
		const second = (await run()).summary;
		expect(second).toMatchObject({ status: 'success', mode: 'incremental', files: 1, unchanged: 3 });
		expect(await tree(pair.destination)).toEqual(expected({ ...inFolder(String(first.folder), FILES), ...inFolder(String(second.folder), { 'new.txt': 'new' }) }));
	});
});
