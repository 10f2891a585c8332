import { createHash, randomBytes } from 'node:crypto';
import { Pacer, hashStream, sync, type Entry, type Provider } from '../lib';
import { GoogleDriveProvider } from '../lib/providers/drive';
import { DropboxProvider } from '../lib/providers/dropbox';
import { OneDriveProvider } from '../lib/providers/onedrive';
import { OneDriveEmulator } from './emulators/onedrive';
import type { DriveEmulator } from './emulators/drive';
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

type Emulated = { server: { log: Array<{ fault?: string }>; clearFaults(): void } };

/** Faults the emulator's request log shows, by kind. */
function faults(emulator: Emulated): Record<string, number> {
	return emulator.server.log.reduce<Record<string, number>>((counts, entry) => {
		if (entry.fault) counts[entry.fault] = (counts[entry.fault] ?? 0) + 1;
		return counts;
	}, {});
}

/** 500 files of random sizes in ten album folders below a new Drive folder; path → sha256. */
function seedPhotos(drive: DriveEmulator, seed: number): { top: string; expected: Map<string, string> } {
	const random = seededRandom(seed);
	const expected = new Map<string, string>();
	const top = drive.addFolder(drive.myDriveRootId, 'Photos');
	const folders = Array.from({ length: 10 }, (_, i) => drive.addFolder(top, `album-${i}`));
	for (let i = 0; i < FILES; i++) {
		const content = randomBytes(1 + Math.floor(random() * 40_000));
		drive.addFile(folders[i % folders.length], `img-${i}.jpg`, content);
		expected.set(`album-${i % folders.length}/img-${i}.jpg`, createHash('sha256').update(content).digest('hex'));
	}
	return { top, expected };
}

/** With the faults off: every file arrived with its bytes, and a re-run only lists (a handful of calls, nothing per file). */
async function expectConverged(source: Provider, destination: Provider, expected: Map<string, string>, emulators: Emulated[]): Promise<void> {
	for (const emulator of emulators) emulator.server.clearFaults();
	const arrived = await files(destination);
	expect(arrived.map((entry) => entry.path).sort()).toEqual([...expected.keys()].sort());
	for (const entry of arrived) expect(await sha256Of(destination, entry.path)).toBe(expected.get(entry.path));
	const calls = () => emulators.reduce((sum, emulator) => sum + emulator.server.log.length, 0);
	const before = calls();
	const rerun = await sync(source, destination, { mode: 'mirror', pacer: new Pacer({ baseDelayMs: 1 }) });
	expect(rerun).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0, bytes: 0 });
	expect(calls() - before).toBeLessThan(40);
}

describe('Google Drive emulator → Dropbox emulator through random faults', () => {
	const emulators = emulatorsForBlock(11);

	it('converges on 500 files with matching hashes, the faults in the request logs, and a re-run transfers nothing', async () => {
		const { drive, dropbox } = emulators;
		const { top, expected } = seedPhotos(drive, 2026);
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

		const driveFaults = faults(drive);
		const dropboxFaults = faults(dropbox);
		expect(Object.keys(driveFaults).sort()).toEqual(['quota-rate-limit', 'reset', 'truncate', 'unavailable']);
		expect(Object.keys(dropboxFaults).sort()).toEqual(['quota-rate-limit', 'rate-limit', 'server-error']);
		const injected = [...Object.values(driveFaults), ...Object.values(dropboxFaults)].reduce((a, b) => a + b, 0);
		expect(injected).toBeGreaterThan(100);
		expect(first.retries).toBeGreaterThanOrEqual(injected / 2);

		await expectConverged(source, destination, expected, [drive, dropbox]);
	});
});

describe('Google Drive emulator → OneDrive emulator through random faults', () => {
	const emulators = emulatorsForBlock(12);
	let onedrive: OneDriveEmulator;
	beforeAll(async () => {
		onedrive = await OneDriveEmulator.start({ driveType: 'business', seed: 12 });
	});
	afterAll(() => onedrive.stop());

	it('converges on 500 files with matching hashes, the faults in the request logs, and a re-run transfers nothing', async () => {
		const { drive } = emulators;
		const { top, expected } = seedPhotos(drive, 2027);
		onedrive.seedFolder('Backup');

		const pacer = new Pacer({ baseDelayMs: 1, maxDelayMs: 10, retriesPerRequest: 10, retriesPerRun: 100_000 });
		const source = await GoogleDriveProvider.open({ auth: drive.addOAuthClient(), root: top, apiBaseUrl: drive.baseUrl, pacer });
		const destination = await OneDriveProvider.open({ auth: onedrive.credentials, root: '/Backup', apiBaseUrl: onedrive.baseUrl, pacer });

		// One request in ten goes wrong, in each cloud's own way: Graph's 429/503 with Retry-After, 500s,
		// fragments whose answer is lost (resumed from nextExpectedRanges), downloads cut short.
		drive.server.inject({ kind: 'unavailable', probability: 0.04 });
		drive.server.inject({ kind: 'quota-rate-limit', probability: 0.03 });
		drive.server.inject({ route: /^GET \/drive\/v3\/files\/[^/]+$/, kind: 'truncate', probability: 0.03 });
		onedrive.server.inject({ kind: 'rate-limit', probability: 0.03, retryAfterSeconds: 0 });
		onedrive.server.inject({ kind: 'unavailable', probability: 0.02, retryAfterSeconds: 0 });
		onedrive.server.inject({ kind: 'server-error', probability: 0.02 });
		onedrive.server.inject({ route: /^PUT \/upload\//, kind: 'reset', probability: 0.05 });

		const first = await sync(source, destination, { mode: 'mirror', pacer, transfers: 8 });
		expect(first).toMatchObject({ status: 'success', added: FILES, failed: 0 });

		const oneDriveFaults = faults(onedrive);
		expect(Object.keys(oneDriveFaults).sort()).toEqual(['rate-limit', 'reset', 'server-error', 'unavailable']);
		const injected = [...Object.values(faults(drive)), ...Object.values(oneDriveFaults)].reduce((a, b) => a + b, 0);
		expect(injected).toBeGreaterThan(100);
		expect(first.retries).toBeGreaterThanOrEqual(injected / 2);

		await expectConverged(source, destination, expected, [drive, onedrive]);
	});
});
