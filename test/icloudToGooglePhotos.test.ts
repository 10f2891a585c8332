import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { addToGooglePhotos, decodeLedger, MemoryStateStore, Pacer, type AddToPhotosOptions, type Provider } from '../lib';
import type { ICloudSession } from '../lib/providers/icloud/session';
import { GooglePhotosEmulator } from './emulators/googlePhotos';
import type { ICloudPhotosEmulator } from './emulators/icloudPhotos';
import { photosProvider, startPhotos } from './support/icloudPhotos';
import { ICloudDriveEmulator } from './emulators/icloudDrive';
import { driveSignIn, emulatedICloudDrive, savedSessionOf } from './support/icloud';
import { openSession } from '../lib/providers/icloud/auth';
import { forgetICloudPhotosLibraries, ICloudPhotosProvider } from '../lib/providers/icloudPhotos';
import { albumContents, libraryOn } from './support/photos';

const ALBUM = 'From iCloud';
const CLOUDKIT = /^POST \/ckdatabasews\//;
const DOWNLOADS = /^GET \/cvws\//;

async function sha256(stream: Readable): Promise<string> {
	const hash = createHash('sha256');
	for await (const chunk of stream) hash.update(chunk as Buffer);
	return hash.digest('hex');
}

/** What the library holds, path → sha256 of the original, read through the provider before any fault is injected. */
async function libraryContents(source: Provider): Promise<Map<string, string>> {
	const expected = new Map<string, string>();
	for await (const entry of source.list('', { recursive: true })) if (!entry.isDir) expected.set(entry.path, await sha256(await source.read(entry.path)));
	return expected;
}

describe('Add to Google Photos from iCloud Photos (both emulators)', () => {
	let icloud: ICloudPhotosEmulator;
	let session: () => Promise<ICloudSession>;
	let google: GooglePhotosEmulator;

	beforeEach(async () => {
		forgetICloudPhotosLibraries();
		({ emulator: icloud, session } = await startPhotos({ seed: 11 }));
		google = new GooglePhotosEmulator({ seed: 13 });
		await google.start();
	});
	afterEach(async () => {
		await icloud.stop();
		await google.stop();
	});

	it('2,000 photos with Live Photo companions through 10% faults on both clouds: every photo once in the album, the ledger complete, a re-run uploads nothing', async () => {
		icloud.seedLibrary(2000, { start: Date.UTC(2025, 0, 1), liveEvery: 2 });
		const source = () => photosProvider(session);
		const expected = await libraryContents(await source());
		expect(expected.size).toBe(3000);
		const pacer = () => new Pacer({ baseDelayMs: 1, maxDelayMs: 10, retriesPerRequest: 10, retriesPerRun: 100_000 });
		const options = (ledger: MemoryStateStore, extra: Partial<AddToPhotosOptions> = {}): AddToPhotosOptions => ({ ledger, pair: 'icloudPhotos → Google Photos', albumTitle: ALBUM, pacer: pacer(), ...extra });

		// iCloud: one request in ten throttled (429/503 with Retry-After) or cut off, and Apple ending the web session (421, 450) now and then.
		for (const route of [CLOUDKIT, DOWNLOADS]) {
			icloud.server.inject({ route, kind: 'rate-limit', probability: 0.03, retryAfterSeconds: 0 });
			icloud.server.inject({ route, kind: 'unavailable', probability: 0.04, retryAfterSeconds: 0 });
			icloud.server.inject({ route, kind: 'reset', probability: 0.03 });
		}
		icloud.auth.failWith({ route: CLOUDKIT, status: 421, times: 2 });
		icloud.auth.failWith({ route: CLOUDKIT, status: 450, times: 2 });
		// Google: the same share, plus connections dropped after Google did the work and items failing inside a 200.
		google.server.inject({ kind: 'rate-limit', probability: 0.03, retryAfterSeconds: 0 });
		google.server.inject({ kind: 'unavailable', probability: 0.03, retryAfterSeconds: 0 });
		google.server.inject({ kind: 'server-error', probability: 0.02 });
		google.server.inject({ kind: 'reset', probability: 0.01 });
		google.server.inject({ kind: 'drop-after-commit', probability: 0.01 });
		google.failItems({ code: 13, message: 'INTERNAL: Internal error encountered.', probability: 0.03 });
		const library = libraryOn(google, pacer());
		const ledger = new MemoryStateStore();

		let report = await addToGooglePhotos(await source(), library, options(ledger, { transfers: 8 }));
		// An item that failed for a passing reason more often than a run retries it is added by the next run.
		for (let run = 0; report.status !== 'success' && run < 3; run++) report = await addToGooglePhotos(await source(), library, options(ledger, { transfers: 8 }));
		expect(report.status).toBe('success');
		expect(icloud.server.log.filter((entry) => entry.fault).length).toBeGreaterThan(200);
		// Apple ended the web session four times; each was signed in again with the trusted session.
		expect(icloud.server.log.filter((entry) => entry.status === 421 || entry.status === 450)).toHaveLength(4);
		expect(google.server.log.filter((entry) => entry.fault).length).toBeGreaterThan(300);

		icloud.server.clearFaults();
		icloud.auth.clearStatusFaults();
		google.server.clearFaults();
		google.clearItemFaults();
		const contents = albumContents(google, ALBUM);
		expect(google.albumNamed(ALBUM)!.items).toHaveLength(3000);
		expect([...contents.keys()].sort()).toEqual([...expected.values()].sort());
		expect([...contents.values()].every((count) => count === 1)).toBe(true);
		const saved = decodeLedger(ledger.state!);
		expect(saved.entries.size).toBe(3000);
		expect(saved.pending.size).toBe(0);
		for (const [path, sha] of expected) expect(google.items.get(saved.entries.get(path)!.mediaItemId)!.sha256).toBe(sha);

		const uploadsBefore = google.server.log.filter((entry) => entry.path === '/v1/uploads').length;
		const rerun = await addToGooglePhotos(await source(), library, options(ledger));
		expect(rerun).toMatchObject({ status: 'success', uploaded: 0, alreadyInLibrary: 3000, failed: 0, deletedAtSource: [] });
		expect(google.server.log.filter((entry) => entry.path === '/v1/uploads').length).toBe(uploadsBefore);
	});

	it('a deleted photo whose name passes to another (an equal name on the same day) is reported; the other is neither sent again nor reported', async () => {
		const day = Date.UTC(2025, 4, 1, 9);
		const [first] = icloud.addPhotos([
			{ name: 'IMG_0001.HEIC', date: day, added: day, content: Buffer.from('the first IMG_0001, taken at nine') },
			{ name: 'IMG_0001.HEIC', date: day + 60_000, added: day + 1000, content: Buffer.from('the second IMG_0001, a minute later') },
		]);
		const ledger = new MemoryStateStore();
		const options: AddToPhotosOptions = { ledger, pair: 'icloudPhotos → Google Photos', albumTitle: ALBUM, pacer: new Pacer({ baseDelayMs: 1, maxDelayMs: 10 }) };
		const library = libraryOn(google);
		const added = await addToGooglePhotos(await photosProvider(session), library, options);
		expect(added).toMatchObject({ status: 'success', uploaded: 2 });
		const itemOf = (path: string) => decodeLedger(ledger.state!).entries.get(path)!.mediaItemId;
		const [plain, suffixed] = ['2025/05/IMG_0001.HEIC', [...decodeLedger(ledger.state!).entries.keys()].find((path) => /IMG_0001_[0-9a-f]{8}\.HEIC$/.test(path))!];
		const firstItem = itemOf(plain);
		const secondItem = itemOf(suffixed);

		// The first is deleted in Photos: the second now takes the plain name.
		icloud.softDelete(first);
		forgetICloudPhotosLibraries();
		const uploadsBefore = google.server.log.filter((entry) => entry.path === '/v1/uploads').length;
		const after = await addToGooglePhotos(await photosProvider(session), library, options);
		expect(after).toMatchObject({ status: 'success', uploaded: 0, movedAtSource: 1, goneFromSource: 1 });
		expect(after.deletedAtSource).toEqual([{ path: plain, mediaItemId: firstItem, productUrl: expect.any(String) }]);
		expect(google.server.log.filter((entry) => entry.path === '/v1/uploads').length).toBe(uploadsBefore);
		expect(itemOf(plain)).toBe(secondItem);

		// The next run knows both: nothing sent, nothing reported again, the deleted one still counted.
		forgetICloudPhotosLibraries();
		const again = await addToGooglePhotos(await photosProvider(session), library, options);
		expect(again).toMatchObject({ status: 'success', uploaded: 0, alreadyInLibrary: 1, deletedAtSource: [], goneFromSource: 1 });
	});
});

describe('iCloud Drive and iCloud Photos on one emulator (the demo\'s one CLOUDSYNC_ICLOUD_URL)', () => {
	it('one Apple ID signed in once reads both the Drive files and the Photos library, Live Photo video included', async () => {
		forgetICloudPhotosLibraries();
		const drive = await ICloudDriveEmulator.start();
		try {
			drive.seedFile('Projects/plan.md', Buffer.from('# Plan'), Date.UTC(2025, 0, 1));
			const [asset] = drive.photoLibrary().addPhotos([{ name: 'IMG_0001.HEIC', date: Date.UTC(2025, 6, 14), live: true }]);
			const files = async (provider: Provider) => {
				const found: string[] = [];
				for await (const entry of provider.list('', { recursive: true })) if (!entry.isDir) found.push(entry.path);
				return found.sort();
			};
			expect(await files(await emulatedICloudDrive(drive))).toEqual(['Projects/plan.md']);
			const session = await openSession({ ...driveSignIn(drive, savedSessionOf(drive)) });
			const photos = new ICloudPhotosProvider({ session, pacer: new Pacer({ baseDelayMs: 1, maxDelayMs: 10 }) });
			expect(await files(photos)).toEqual(['2025/07/IMG_0001.HEIC', '2025/07/IMG_0001.MOV']);
			const master = (drive.photoLibrary().assetRecord(asset).fields!.masterRef.value as { recordName: string }).recordName;
			expect(await sha256(await photos.read('2025/07/IMG_0001.MOV'))).toBe(createHash('sha256').update(drive.photoLibrary().bytesOf(master, 'resOriginalVidComplRes')).digest('hex'));
			// The Apple ID signed in once: the Photos session came from the Drive one, without a code.
			expect(drive.auth.codesSent.get(drive.user.appleId.toLowerCase())).toHaveLength(1);
		} finally {
			await drive.stop();
		}
	});
});
