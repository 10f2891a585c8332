import { itResumesAfterKills } from './support/resume';
import { startDrive, type DriveFixture } from './support/drive';
import { DriveEmulator } from './emulators/drive';
import { bufferStream, fingerprint, pseudoRandomBytes } from './conformance/suite';
import { OneDriveEmulator } from './emulators/onedrive';
import { OneDriveProvider } from '../lib/providers/onedrive';
import { GoogleDriveProvider } from '../lib/providers/drive';
import { UploadSessions } from '../lib/state/uploads';
import { MemoryStateStore } from '../lib/state/state';
import { sync } from '../lib/modes/oneWay';

const MiB = 1024 * 1024;
// Small enough for every `npm test`, with small chunks; the 1 GiB run of the same scenario is test/e2e/resume.e2e.test.ts.

itResumesAfterKills(96 * MiB, 3, { drive: 2 * MiB, dropbox: 4 * MiB, onedrive: 8 * 327_680 });

describe('a resumed upload whose source is a cloud that lists the same hash', () => {
	let source: DriveFixture;
	let destination: DriveFixture;
	beforeAll(async () => {
		source = await startDrive();
		// Another seed: another account, whose ids differ from the source's.
		const emulator = new DriveEmulator({ seed: 2 });
		await emulator.start();
		destination = { emulator, auth: emulator.addOAuthClient() };
	});
	afterAll(async () => {
		await source.emulator.stop();
		await destination.emulator.stop();
	});

	it('reads only the rest of the source (a ranged read) and checks the whole file by the md5 both sides list', async () => {
		const size = 24 * MiB;
		const content = pseudoRandomBytes(size, 'ranged-resume');
		const sourceFolder = source.emulator.addFolder(source.emulator.myDriveRootId, 'from');
		source.emulator.addFile(sourceFolder, 'big.bin', content);
		const destinationFolder = destination.emulator.addFolder(destination.emulator.myDriveRootId, 'to');
		const state = new MemoryStateStore();
		const open = async () => {
			const uploads = new UploadSessions(state);
			const to = await GoogleDriveProvider.open({ auth: destination.auth, root: destinationFolder, apiBaseUrl: destination.emulator.baseUrl, uploadChunkBytes: 2 * MiB });
			to.keepUploads(uploads);
			const from = await GoogleDriveProvider.open({ auth: source.auth, root: sourceFolder, apiBaseUrl: source.emulator.baseUrl });
			return { from, to, uploads };
		};

		// The first run is cancelled once 10 MiB reached the destination.
		const first = await open();
		const cancel = new AbortController();
		destination.emulator.server.onReceive = (total) => total > 10 * MiB && cancel.abort();
		const cancelled = await sync(first.from, first.to, { mode: 'copy', signal: cancel.signal });
		destination.emulator.server.onReceive = undefined;
		await first.uploads.flush();
		expect(cancelled.status).toBe('cancelled');
		expect(await first.uploads.list()).toHaveLength(1);

		source.emulator.clearLog();
		const second = await open();
		const report = await sync(second.from, second.to, { mode: 'copy' });
		expect(report).toMatchObject({ status: 'success', added: 1 });

		const downloads = source.emulator.server.requests(/^GET \/drive\/v3\/files\/[^/]+$/).filter((entry) => entry.query.includes('alt=media'));
		const ranges = downloads.map((entry) => source.emulator.headersOf(entry)?.range);
		expect(ranges).toEqual([expect.stringMatching(/^bytes=\d+-\d+$/)]);
		const resumedFrom = Number(/^bytes=(\d+)-/.exec(ranges[0]!)![1]);
		expect(resumedFrom).toBeGreaterThanOrEqual(8 * MiB);
		const stored = destination.emulator.filesAt('to/big.bin');
		expect(stored).toHaveLength(1);
		expect(fingerprint(destination.emulator.content(stored[0].id!))).toEqual(fingerprint(content));
		expect(destination.emulator.server.bytesReceived).toBeLessThan(1.2 * size);
		expect(await second.uploads.list()).toEqual([]);
	});
});

describe('a saved session for another version of the file', () => {
	let onedrive: OneDriveEmulator;
	beforeAll(async () => {
		onedrive = await OneDriveEmulator.start({ seed: 16 });
	});
	afterAll(() => onedrive.stop());

	it('is not resumed: OneDrive is told to drop it, and the new version is sent whole', async () => {
		onedrive.seedFolder('stale');
		const uploads = new UploadSessions(new MemoryStateStore());
		const provider = await OneDriveProvider.open({ auth: onedrive.credentials, root: '/stale', apiBaseUrl: onedrive.baseUrl, chunkSize: 4 * 327_680 });
		provider.keepUploads(uploads);
		const first = pseudoRandomBytes(6 * MiB, 'first version');
		const write = (data: Buffer, modTime: number, signal?: AbortSignal) =>
			provider.write('video.bin', bufferStream(data), { size: data.length, modTime, signal, from: async (offset) => bufferStream(data.subarray(offset)) });

		const cancel = new AbortController();
		const start = onedrive.server.bytesReceived;
		onedrive.server.onReceive = (total) => total - start > 2 * MiB && cancel.abort();
		await expect(write(first, 1_700_000_000_000, cancel.signal)).rejects.toThrow();
		onedrive.server.onReceive = undefined;
		const [abandoned] = await uploads.list();
		expect(abandoned).toMatchObject({ path: 'video.bin', modTime: 1_700_000_000_000 });

		const second = pseudoRandomBytes(6 * MiB, 'second version');
		onedrive.server.log.length = 0;
		onedrive.fragments.length = 0;
		await write(second, 1_700_000_100_000);

		const uploadPath = new URL(abandoned.session).pathname;
		expect(onedrive.server.requests().filter((entry) => entry.path === uploadPath).map((entry) => entry.method)).toEqual(['DELETE']);
		expect(onedrive.fragments[0]).toMatchObject({ start: 0 });
		expect(fingerprint(onedrive.content('stale/video.bin')!)).toEqual(fingerprint(second));
		expect(await uploads.list()).toEqual([]);
	});
});
