import { createHash, randomBytes } from 'node:crypto';
import { Pacer, hashStream, sync, type Entry, type Provider } from '../lib';
import { GoogleDriveProvider } from '../lib/providers/drive';
import { DropboxProvider } from '../lib/providers/dropbox';
import { emulatorsForBlock } from './support/sides';
import { seededRandom } from './support/faulty-provider';

const FILES = 500;

async function files(provider: Provider): Promise<Entry[]> {
	const found: Entry[] = [];
	for await (const entry of provider.list('', { recursive: true })) if (!entry.isDir) found.push(entry);
	return found;
}

async function sha256Of(provider: Provider, path: string): Promise<string> {
	return (await hashStream(await provider.read(path), ['sha256'])).hashes.sha256!;
}

describe('Google Drive emulator → Dropbox emulator through random faults', () => {
	const emulators = emulatorsForBlock(11);

	it('converges on 500 files with matching hashes, the faults in the request logs, and a re-run transfers nothing', async () => {
		const { drive, dropbox } = emulators;
		const random = seededRandom(2026);
		const expected = new Map<string, string>();
		const top = drive.addFolder(drive.myDriveRootId, 'Photos');
		const folders = Array.from({ length: 10 }, (_, i) => drive.addFolder(top, `album-${i}`));
		for (let i = 0; i < FILES; i++) {
			const content = randomBytes(1 + Math.floor(random() * 40_000));
			drive.addFile(folders[i % folders.length], `img-${i}.jpg`, content);
			expected.set(`album-${i % folders.length}/img-${i}.jpg`, createHash('sha256').update(content).digest('hex'));
		}
		dropbox.seedFolder('/Backup');

		const pacer = new Pacer({ baseDelayMs: 1, maxDelayMs: 10, retriesPerRequest: 10, retriesPerRun: 100_000 });
		const source = await GoogleDriveProvider.open({ auth: drive.addOAuthClient(), root: top, apiBaseUrl: drive.baseUrl, pacer });
		const destination = new DropboxProvider({ auth: dropbox.credentials, root: '/Backup', apiBaseUrl: dropbox.baseUrl, pacer });

		// One request in ten goes wrong, in each cloud's own way, on every route, token endpoints included.
		drive.server.inject({ kind: 'unavailable', probability: 0.04 });
		drive.server.inject({ kind: 'quota-rate-limit', probability: 0.03 });
		drive.server.inject({ route: /^GET \/drive\/v3\/files\/[^/]+$/, kind: 'truncate', probability: 0.03 });
		drive.server.inject({ route: /^GET \/drive\/v3\/files\/[^/]+$/, kind: 'reset', probability: 0.03 });
		dropbox.server.inject({ kind: 'rate-limit', probability: 0.04, retryAfterSeconds: 0 });
		dropbox.server.inject({ kind: 'quota-rate-limit', probability: 0.03 });
		dropbox.server.inject({ kind: 'server-error', probability: 0.03 });

		const first = await sync(source, destination, { mode: 'mirror', pacer, transfers: 8 });
		expect(first).toMatchObject({ status: 'success', added: FILES, failed: 0 });

		const faults = (emulator: { server: { log: Array<{ fault?: string }> } }) =>
			emulator.server.log.reduce<Record<string, number>>((counts, entry) => {
				if (entry.fault) counts[entry.fault] = (counts[entry.fault] ?? 0) + 1;
				return counts;
			}, {});
		const driveFaults = faults(drive);
		const dropboxFaults = faults(dropbox);
		expect(Object.keys(driveFaults).sort()).toEqual(['quota-rate-limit', 'reset', 'truncate', 'unavailable']);
		expect(Object.keys(dropboxFaults).sort()).toEqual(['quota-rate-limit', 'rate-limit', 'server-error']);
		const injected = [...Object.values(driveFaults), ...Object.values(dropboxFaults)].reduce((a, b) => a + b, 0);
		expect(injected).toBeGreaterThan(100);
		expect(first.retries).toBeGreaterThanOrEqual(injected / 2);

		drive.server.clearFaults();
		dropbox.server.clearFaults();
		const arrived = await files(destination);
		expect(arrived.map((entry) => entry.path).sort()).toEqual([...expected.keys()].sort());
		for (const entry of arrived) expect(await sha256Of(destination, entry.path)).toBe(expected.get(entry.path));

		const driveCalls = drive.server.log.length;
		const dropboxCalls = dropbox.server.log.length;
		const rerun = await sync(source, destination, { mode: 'mirror', pacer: new Pacer({ baseDelayMs: 1 }) });
		expect(rerun).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0, bytes: 0 });
		// A re-run only lists: a handful of calls, nothing per file.
		expect(drive.server.log.length - driveCalls + dropbox.server.log.length - dropboxCalls).toBeLessThan(40);
	});
});
