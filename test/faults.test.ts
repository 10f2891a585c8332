import { randomBytes } from 'node:crypto';
import { LocalProvider, Pacer, sync } from '../lib';
import { FaultyProvider, seededRandom } from './support/faulty-provider';
import { filesOnly, readTree, removeTempDirs, tempDir, writeTree } from './support/trees';

afterAll(removeTempDirs);

describe('sync through injected faults', () => {
	it('converges on 1,000 files with every file hash-identical, and a re-run transfers nothing', async () => {
		const random = seededRandom(42);
		const files: Record<string, Buffer> = {};
		for (let i = 0; i < 1000; i++) {
			files[`d${i % 17}/sub${i % 5}/file-${i}.bin`] = randomBytes(1 + Math.floor(random() * 3000));
		}
		const sourceRoot = await tempDir('fault-src');
		const destinationRoot = await tempDir('fault-dst');
		await writeTree(sourceRoot, files);
		await writeTree(destinationRoot, { 'stale.txt': 'to be deleted' });

		const faults = { failRate: 0.1, truncateRate: 0.05, resetRate: 0.05 };
		const source = new FaultyProvider(await LocalProvider.open(sourceRoot), { ...faults, seed: 7 });
		const destination = new FaultyProvider(await LocalProvider.open(destinationRoot), { ...faults, seed: 8 });
		const pacer = new Pacer({ baseDelayMs: 1, maxDelayMs: 4, retriesPerRequest: 8, retriesPerRun: 10_000 });

		const first = await sync(source, destination, { mode: 'mirror', pacer, transfers: 8, maxDeletePercent: 100 });
		expect(first).toMatchObject({ status: 'success', added: 1000, deleted: 1, failed: 0 });
		expect(first.retries).toBeGreaterThan(50);
		expect(source.injected.failedCalls + destination.injected.failedCalls).toBeGreaterThan(50);
		expect(source.injected.truncatedReads).toBeGreaterThan(10);
		expect(source.injected.resetReads).toBeGreaterThan(10);

		expect(filesOnly(await readTree(destinationRoot))).toEqual(filesOnly(await readTree(sourceRoot)));

		const rerun = await sync(source, destination, { mode: 'mirror', pacer: new Pacer({ baseDelayMs: 1, maxDelayMs: 4, retriesPerRequest: 8 }) });
		expect(rerun).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0, bytes: 0 });
	});
});
