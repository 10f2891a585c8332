import { Readable } from 'node:stream';
import { rm, unlink, writeFile, utimes, rename } from 'node:fs/promises';
import { join } from 'node:path';
import {
	addToGooglePhotos,
	AuthenticationError,
	decodeLedger,
	GooglePhotosLibrary,
	LocalProvider,
	MemoryStateStore,
	Pacer,
	QuotaExhaustedError,
	type AddToPhotosOptions,
	type Provider,
} from '../lib';
import { GooglePhotosEmulator } from './emulators/googlePhotos';
import { albumContents, cameraRoll, libraryOn } from './support/photos';

const fast = () => new Pacer({ baseDelayMs: 1, maxDelayMs: 10, retriesPerRequest: 10, retriesPerRun: 100_000 });
const bytes = (text: string) => () => Promise.resolve(Readable.from([Buffer.from(text)]));
/** Uploads Google took (a request refused by the quota sent bytes for nothing, but made no token). */
const uploadsIn = (emulator: GooglePhotosEmulator, from = 0) => emulator.server.log.slice(from).filter((entry) => entry.path === '/v1/uploads' && entry.status === 200).length;
const createsIn = (emulator: GooglePhotosEmulator, from = 0) => emulator.server.log.slice(from).filter((entry) => entry.path === '/v1/mediaItems:batchCreate').length;

describe('Google Photos Library API client against the emulator', () => {
	let emulator: GooglePhotosEmulator;
	beforeEach(async () => {
		emulator = new GooglePhotosEmulator({ seed: 3 });
		await emulator.start();
	});
	afterEach(() => emulator.stop());

	it('uploads bytes, then makes the items into an album it created, reading each item’s status', async () => {
		const library = libraryOn(emulator);
		const album = await library.createAlbum('Holiday');
		const a = await library.upload(bytes('photo a'), { path: '2024/a.jpg', size: 7 });
		const b = await library.upload(bytes('photo b'), { path: '2024/b.heic', size: 7 });
		emulator.failItems({ code: 3, message: 'BAD_IMAGE: There was an error while trying to create this media item.', fileName: /^b\.heic$/ });
		const results = await library.createItems([{ uploadToken: a, fileName: 'a.jpg', description: 'first' }, { uploadToken: b, fileName: 'b.heic' }], album.id);
		expect(results[0]).toMatchObject({ ok: true, mediaItem: { filename: 'a.jpg', description: 'first' } });
		expect(results[1]).toMatchObject({ ok: false, code: 3, transient: false, message: expect.stringContaining('BAD_IMAGE') });
		expect(emulator.albumNamed('Holiday')!.items).toHaveLength(1);
		expect((await library.album(album.id)).mediaItemsCount).toBe(1);
		const listed = [];
		for await (const item of library.albumItems(album.id)) listed.push(item.filename);
		expect(listed).toEqual(['a.jpg']);
		// The upload went raw, with the media type Google Photos is told.
		const upload = emulator.server.requests(/^POST \/v1\/uploads$/)[0];
		expect(emulator.server.headersOf(upload)).toMatchObject({ 'x-goog-upload-protocol': 'raw', 'x-goog-upload-content-type': 'image/jpeg', 'content-type': 'application/octet-stream' });
	});

	it('never sends more than 50 items in one batchCreate, which Google refuses', async () => {
		const library = libraryOn(emulator);
		const tokens = Array.from({ length: 51 }, (_, i) => ({ uploadToken: `t${i}`, fileName: `${i}.jpg` }));
		await expect(library.createItems(tokens)).rejects.toThrow('At most 50 media items');
		// The emulator refuses it as Google does, for a client that tried.
		const token = ((await (await fetch(`${emulator.baseUrl}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', ...credentialsForm(emulator) }) })).json()) as { access_token: string }).access_token;
		const answer = await fetch(`${emulator.baseUrl}/v1/mediaItems:batchCreate`, {
			method: 'POST',
			headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
			body: JSON.stringify({ newMediaItems: tokens.map((item) => ({ simpleMediaItem: item })) }),
		});
		expect(answer.status).toBe(400);
		expect(await answer.json()).toMatchObject({ error: { status: 'INVALID_ARGUMENT', message: 'Request must have less than 50 items.' } });
	});

	it.each(['legacy', 'metric'] as const)('turns the daily quota (%s wording) into a QuotaExhaustedError without retrying, and a per-minute 429 into a retry', async (quotaWording) => {
		await emulator.stop();
		emulator = new GooglePhotosEmulator({ seed: 3, dailyQuota: 3, quotaWording });
		await emulator.start();
		const library = libraryOn(emulator);
		emulator.server.inject({ kind: 'rate-limit', times: 1, retryAfterSeconds: 0 });
		await library.createAlbum('one');
		expect(library.pacer.retries).toBe(1);
		await library.createAlbum('two');
		await library.createAlbum('three');
		const before = emulator.server.log.length;
		const failure = await library.createAlbum('four').catch((error: unknown) => error);
		expect(failure).toBeInstanceOf(QuotaExhaustedError);
		expect((failure as QuotaExhaustedError).hint).toContain('next run continues');
		expect(emulator.server.log.length - before).toBe(1);
	});

	it('renews an expired access token, and says to reconnect when the grant was revoked; no token in the error', async () => {
		const credentials = emulator.addOAuthClient();
		const library = new GooglePhotosLibrary({ auth: credentials, apiBaseUrl: emulator.baseUrl, pacer: fast() });
		await library.createAlbum('a');
		emulator.expireAccessTokens();
		await library.createAlbum('b');
		emulator.revokeRefreshToken(credentials.refreshToken);
		emulator.expireAccessTokens();
		const failure = (await library.createAlbum('c').catch((error: unknown) => error)) as Error;
		expect(failure).toBeInstanceOf(AuthenticationError);
		for (const secret of [credentials.refreshToken, credentials.clientSecret, ...emulator.issuedAccessTokens()]) expect(`${failure.message} ${(failure as AuthenticationError).hint}`).not.toContain(secret);
	});

	it('sees only what the app created: a user album is neither listed nor writable', async () => {
		const library = libraryOn(emulator);
		const mine = await library.createAlbum('Mine');
		const theirs = emulator.addUserAlbum('Family');
		const titles = [];
		for await (const album of library.albums()) titles.push(album.title);
		expect(titles).toEqual(['Mine']);
		const token = await library.upload(bytes('x'), { path: 'x.jpg', size: 1 });
		await expect(library.createItems([{ uploadToken: token, fileName: 'x.jpg' }], theirs)).rejects.toThrow(/Invalid album ID|No permission/);
		expect((await library.createItems([{ uploadToken: token, fileName: 'x.jpg' }], mine.id))[0].ok).toBe(true);
		// A photo from the phone is in the library, but not the app's: neither listed nor readable.
		const phone = emulator.addPhoneItem(Buffer.from('from the phone'), 'PXL_0001.jpg');
		const bearer = { authorization: `Bearer ${emulator.issuedAccessTokens().at(-1)}` };
		const listed = (await (await fetch(`${emulator.baseUrl}/v1/mediaItems?pageSize=100`, { headers: bearer })).json()) as { mediaItems: Array<{ filename: string }> };
		expect(listed.mediaItems.map((item) => item.filename)).toEqual(['x.jpg']);
		expect((await fetch(`${emulator.baseUrl}/v1/mediaItems/${phone}`, { headers: bearer })).status).toBe(404);
		// Sharing went with the 2025 changes.
		const shared = await fetch(`${emulator.baseUrl}/v1/albums/${mine.id}:share`, { method: 'POST', headers: { authorization: `Bearer ${emulator.issuedAccessTokens()[0]}` } });
		expect(shared.status).toBe(403);
	});
});

function credentialsForm(emulator: GooglePhotosEmulator) {
	const { clientId, clientSecret, refreshToken } = emulator.addOAuthClient();
	return { client_id: clientId, client_secret: clientSecret, refresh_token: refreshToken };
}

describe('Add to Google Photos (local folder → emulator)', () => {
	let emulator: GooglePhotosEmulator;
	const roots: string[] = [];
	beforeEach(async () => {
		emulator = new GooglePhotosEmulator({ seed: 5 });
		await emulator.start();
	});
	afterEach(async () => {
		await emulator.stop();
		await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
	});

	const roll = async (count: number, seed = 1) => {
		const made = await cameraRoll(count, seed);
		roots.push(made.root);
		return made;
	};
	const options = (ledger: MemoryStateStore, extra: Partial<AddToPhotosOptions> = {}): AddToPhotosOptions => ({ ledger, pair: 'local:/roll → Google Photos', albumTitle: 'Camera roll', pacer: fast(), ...extra });

	it('2,000 photos with Live Photo companions through 10% faults: every photo once in the album, the ledger complete, a re-run uploads nothing', async () => {
		const { root, expected } = await roll(2000, 7);
		expect(expected.size).toBe(3000);
		const source: Provider = await LocalProvider.open(root);
		const library = libraryOn(emulator);
		// One request in ten goes wrong: throttling with Retry-After, 503s, 500s, connections dropped after Google did the work; and Google fails 3% of items inside its 200.
		emulator.server.inject({ kind: 'rate-limit', probability: 0.03, retryAfterSeconds: 0 });
		emulator.server.inject({ kind: 'unavailable', probability: 0.03, retryAfterSeconds: 0 });
		emulator.server.inject({ kind: 'server-error', probability: 0.02 });
		emulator.server.inject({ kind: 'reset', probability: 0.01 });
		emulator.server.inject({ kind: 'drop-after-commit', probability: 0.01 });
		emulator.failItems({ code: 13, message: 'INTERNAL: Internal error encountered.', probability: 0.03 });
		const ledger = new MemoryStateStore();

		let report = await addToGooglePhotos(source, library, options(ledger, { transfers: 8 }));
		// A file whose item failed for a passing reason more times than a run retries it is added by the next run.
		for (let run = 0; report.status !== 'success' && run < 3; run++) report = await addToGooglePhotos(source, library, options(ledger, { transfers: 8 }));
		expect(report.status).toBe('success');
		const faults = emulator.server.log.filter((entry) => entry.fault).length;
		expect(faults).toBeGreaterThan(300);

		emulator.server.clearFaults();
		emulator.clearItemFaults();
		const contents = albumContents(emulator, 'Camera roll');
		expect(emulator.albumNamed('Camera roll')!.items).toHaveLength(3000);
		expect([...contents.keys()].sort()).toEqual([...expected.values()].sort());
		expect([...contents.values()].every((count) => count === 1)).toBe(true);
		const saved = decodeLedger(ledger.state!);
		expect(saved.entries.size).toBe(3000);
		expect(saved.pending.size).toBe(0);
		for (const [path, sha] of expected) expect(emulator.items.get(saved.entries.get(path)!.mediaItemId)!.sha256).toBe(sha);
		// At most 50 items a batchCreate, and far fewer calls than one per photo.
		expect(Math.max(...emulator.creates)).toBeLessThanOrEqual(50);
		expect(createsIn(emulator)).toBeLessThan(3000 / 10);

		const before = emulator.server.log.length;
		const rerun = await addToGooglePhotos(source, library, options(ledger));
		expect(rerun).toMatchObject({ status: 'success', uploaded: 0, alreadyInLibrary: 3000, failed: 0, deletedAtSource: [] });
		expect(uploadsIn(emulator, before)).toBe(0);
		expect(createsIn(emulator, before)).toBe(0);
		// One request: the album's count, to tell whether the ledger lags behind it.
		expect(emulator.server.log.length - before).toBe(1);
	});

	it('stops cleanly at the daily quota, keeps what it did, and the next day continues without sending anything twice', async () => {
		const { root, expected } = await roll(200, 11);
		await emulator.stop();
		emulator = new GooglePhotosEmulator({ seed: 5, dailyQuota: 180 });
		await emulator.start();
		const source = await LocalProvider.open(root);
		const library = libraryOn(emulator);
		const ledger = new MemoryStateStore();

		const first = await addToGooglePhotos(source, library, options(ledger));
		expect(first.status).toBe('partial');
		expect(first.stopped).toContain('daily request quota');
		expect(first.failure).toMatchObject({ kind: 'QuotaExhaustedError', hint: expect.stringContaining('next run continues') });
		expect(first.uploaded).toBeGreaterThan(0);
		expect(first.notReached).toBe(300 - first.uploaded - first.awaitingCreate);
		const afterFirst = decodeLedger(ledger.state!);
		expect(afterFirst.entries.size).toBe(first.uploaded);
		// Bytes sent whose items were not made yet are kept with their tokens.
		expect(afterFirst.pending.size).toBeGreaterThan(0);

		// Still the same day: nothing more can happen, and nothing is lost.
		const same = await addToGooglePhotos(source, library, options(ledger));
		expect(same).toMatchObject({ status: 'failed', uploaded: 0 });
		expect(decodeLedger(ledger.state!).entries.size).toBe(first.uploaded);

		emulator.resetQuota();
		const second = await addToGooglePhotos(source, library, options(ledger));
		expect(second).toMatchObject({ status: 'success', failed: 0 });
		expect(first.uploaded + second.uploaded).toBe(300);
		expect(uploadsIn(emulator)).toBe(300);
		expect([...albumContents(emulator, 'Camera roll').keys()].sort()).toEqual([...expected.values()].sort());
		expect(decodeLedger(ledger.state!).pending.size).toBe(0);
	});

	it('reports a photo deleted at the source once, adds a changed one again, follows nothing it cannot take', async () => {
		const { root } = await roll(4, 2);
		await writeFile(join(root, 'notes.txt'), 'not a photo');
		await writeFile(join(root, '2024/01/IMG_00000.AAE'), '<plist/>');
		await writeFile(join(root, 'cut-short.JPG'), '');
		const source = await LocalProvider.open(root);
		const library = libraryOn(emulator);
		const ledger = new MemoryStateStore();
		const first = await addToGooglePhotos(source, library, options(ledger));
		expect(first).toMatchObject({ status: 'success', uploaded: 6, skipped: 3 });
		expect(first.results.filter((result) => result.status === 'skipped').map((result) => result.reason)).toEqual(
			expect.arrayContaining([expect.stringContaining('not .txt'), expect.stringContaining('not .aae'), 'it is empty']),
		);

		await unlink(join(root, '2024/02/IMG_00001.JPG'));
		await writeFile(join(root, '2024/03/IMG_00002.HEIC'), 'edited photo');
		const second = await addToGooglePhotos(source, library, options(ledger));
		expect(second).toMatchObject({ status: 'success', uploaded: 1, changedAtSource: 1, goneFromSource: 1 });
		const gone = second.deletedAtSource[0];
		expect(gone).toMatchObject({ path: '2024/02/IMG_00001.JPG', productUrl: expect.stringContaining(gone.mediaItemId) });
		// Google Photos keeps it (no app may delete), so the album still holds it.
		expect(emulator.albumNamed('Camera roll')!.items).toContain(gone.mediaItemId);
		expect(emulator.albumNamed('Camera roll')!.items).toHaveLength(7);

		const third = await addToGooglePhotos(source, library, options(ledger));
		expect(third).toMatchObject({ uploaded: 0, deletedAtSource: [], goneFromSource: 1 });

		// Back at the source: known again, not uploaded.
		await rename(join(root, '2024/01/IMG_00000.HEIC'), join(root, 'moved.HEIC'));
		await rename(join(root, 'moved.HEIC'), join(root, '2024/01/IMG_00000.HEIC'));
		const fourth = await addToGooglePhotos(source, library, options(ledger));
		expect(fourth).toMatchObject({ uploaded: 0, alreadyInLibrary: 5 });
	});

	it('finds its ledger again in the album when n8n’s static data did not reach the run, uploading nothing', async () => {
		const { root } = await roll(60, 3);
		const source = await LocalProvider.open(root);
		const library = libraryOn(emulator);
		await addToGooglePhotos(source, library, options(new MemoryStateStore()));
		const before = emulator.server.log.length;
		const lost = new MemoryStateStore();
		const report = await addToGooglePhotos(source, library, options(lost));
		expect(report).toMatchObject({ status: 'success', uploaded: 0, alreadyInLibrary: 90, recoveredFromAlbum: 90 });
		expect(uploadsIn(emulator, before)).toBe(0);
		expect(decodeLedger(lost.state!).entries.size).toBe(90);

		// A file changed since: its description says so, and it is added again.
		await writeFile(join(root, '2024/01/IMG_00000.HEIC'), 'retouched');
		await utimes(join(root, '2024/01/IMG_00000.HEIC'), new Date('2025-01-01'), new Date('2025-01-01'));
		const again = await addToGooglePhotos(source, library, options(new MemoryStateStore()));
		expect(again).toMatchObject({ uploaded: 1, changedAtSource: 1 });
	});

	it('another source adding to an album of the same title takes none of its items for its own: nothing reported deleted, its own photos added', async () => {
		const mine = await LocalProvider.open((await roll(4, 21)).root);
		const theirs = await LocalProvider.open((await roll(2, 22)).root);
		const library = libraryOn(emulator);
		const first = await addToGooglePhotos(mine, library, options(new MemoryStateStore()));
		expect(first).toMatchObject({ status: 'success', uploaded: 6 });

		// A second sync (another person's library, say) whose Album was left to the same default title.
		const ledger = new MemoryStateStore();
		const other = await addToGooglePhotos(theirs, library, options(ledger, { pair: 'local:/theirs → Google Photos' }));
		expect(other).toMatchObject({ status: 'success', uploaded: 3, recoveredFromAlbum: 0, deletedAtSource: [], goneFromSource: 0 });
		expect(other.notes.join(' ')).toMatch(/6 items of the album "Camera roll" came from another source/);
		expect(decodeLedger(ledger.state!).entries.size).toBe(3);

		// Each finds its own again when its ledger is lost.
		const found = await addToGooglePhotos(mine, library, options(new MemoryStateStore()));
		expect(found).toMatchObject({ status: 'success', uploaded: 0, recoveredFromAlbum: 6, alreadyInLibrary: 6, deletedAtSource: [] });
	});

	it('sends the bytes again when a token kept from a stopped run is refused', async () => {
		await emulator.stop();
		emulator = new GooglePhotosEmulator({ seed: 5, dailyQuota: 25, tokenReuse: 'refuse', now: () => clock });
		let clock = Date.now();
		await emulator.start();
		const { root } = await roll(30, 4);
		const source = await LocalProvider.open(root);
		const library = libraryOn(emulator);
		const ledger = new MemoryStateStore();
		const first = await addToGooglePhotos(source, library, options(ledger));
		expect(first.status).toMatch(/partial|failed/);
		const pending = decodeLedger(ledger.state!).pending.size;
		expect(pending).toBeGreaterThan(0);
		// Past the token's day: Google answers INVALID_ARGUMENT for those items.
		clock += 86_400_000 + 1;
		emulator.resetQuota();
		emulator.dailyQuota = 10_000;
		const second = await addToGooglePhotos(source, library, options(ledger));
		expect(second).toMatchObject({ status: 'success', failed: 0 });
		expect(emulator.albumNamed('Camera roll')!.items).toHaveLength(45);
	});

	it('follows a photo moved at the source by its source id, uploading nothing, and starts a new album when one is full', async () => {
		const { root } = await roll(8, 12);
		const local = await LocalProvider.open(root);
		// A source that names its files by an id of their own, as iCloud Photos does (here: the file name).
		const withIds: Provider = Object.assign(Object.create(local) as Provider, {
			async *list(path: string, listOptions?: { recursive?: boolean }) {
				for await (const entry of local.list(path, listOptions)) yield entry.isDir ? entry : { ...entry, id: entry.path.slice(entry.path.lastIndexOf('/') + 1) };
			},
		});
		const library = libraryOn(emulator);
		const ledger = new MemoryStateStore();
		const first = await addToGooglePhotos(withIds, library, options(ledger, { albumCapacity: 5 }));
		expect(first).toMatchObject({ status: 'success', uploaded: 12, album: { title: 'Camera roll (3)' } });
		expect(['Camera roll', 'Camera roll (2)', 'Camera roll (3)'].map((title) => emulator.albumNamed(title)?.items.length)).toEqual([5, 5, 2]);
		// A lost ledger is found again in all three albums.
		const found = await addToGooglePhotos(withIds, library, options(new MemoryStateStore(), { albumCapacity: 5 }));
		expect(found).toMatchObject({ status: 'success', uploaded: 0, recoveredFromAlbum: 12, album: { title: 'Camera roll (3)' } });

		await rename(join(root, '2024/01/IMG_00000.HEIC'), join(root, '2024/IMG_00000.HEIC'));
		const before = emulator.server.log.length;
		const second = await addToGooglePhotos(withIds, library, options(ledger, { albumCapacity: 5 }));
		expect(second).toMatchObject({ status: 'success', uploaded: 0, movedAtSource: 1, deletedAtSource: [], goneFromSource: 0 });
		expect(uploadsIn(emulator, before)).toBe(0);
		expect(decodeLedger(ledger.state!).entries.get('2024/IMG_00000.HEIC')).toMatchObject({ sourceId: 'IMG_00000.HEIC' });
	});

	it('a run that fails keeps the news of a deleted photo for the next run that reports', async () => {
		const { root } = await roll(2, 13);
		const source = await LocalProvider.open(root);
		const library = libraryOn(emulator);
		const ledger = new MemoryStateStore();
		await addToGooglePhotos(source, library, options(ledger));
		await unlink(join(root, '2024/02/IMG_00001.JPG'));
		await writeFile(join(root, 'new.jpg'), 'a new photo');
		emulator.dailyQuota = emulator.requestsToday + 1;
		const failed = await addToGooglePhotos(source, library, options(ledger));
		expect(failed).toMatchObject({ status: 'failed', deletedAtSource: [] });
		emulator.resetQuota();
		emulator.dailyQuota = 10_000;
		const next = await addToGooglePhotos(source, library, options(ledger));
		expect(next).toMatchObject({ status: 'success', uploaded: 1, deletedAtSource: [{ path: '2024/02/IMG_00001.JPG' }] });
	});

	it('a dry run creates nothing and lists what it would add', async () => {
		const { root } = await roll(3, 9);
		const report = await addToGooglePhotos(await LocalProvider.open(root), libraryOn(emulator), options(new MemoryStateStore(), { dryRun: true }));
		expect(report.status).toBe('planned');
		expect(report.notes).toContain('the album "Camera roll" would be created');
		expect(report.results.filter((result) => result.status === 'planned')).toHaveLength(5);
		expect(emulator.albums.size).toBe(0);
		expect(uploadsIn(emulator)).toBe(0);
	});
});
