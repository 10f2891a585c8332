import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthenticationError, CloudSyncError, CursorExpiredError, RateLimitError } from '../lib/core/errors';
import type { Entry, Provider } from '../lib/core/types';
import { LocalProvider } from '../lib/providers/local';
import { ICloudPhotosProvider, ReadOnlySourceError, forgetICloudPhotosLibraries } from '../lib/providers/icloudPhotos';
import { sync } from '../lib/modes/oneWay';
import type { ICloudSession } from '../lib/providers/icloud/session';
import { Readable } from 'node:stream';
import type { ICloudPhotosEmulator } from './emulators/icloudPhotos';
import { photosProvider, startPhotos } from './support/icloudPhotos';

const QUERY = /^POST \/ckdatabasews\/.*\/records\/query$/;
const CHANGES = /^POST \/ckdatabasews\/.*\/changes\/zone$/;
const CLOUDKIT = /^POST \/ckdatabasews\//;
const at = (iso: string) => Date.parse(iso);

async function listing(provider: Provider, path = ''): Promise<Entry[]> {
	const entries: Entry[] = [];
	for await (const entry of provider.list(path, { recursive: true })) entries.push(entry);
	return entries;
}

const files = (entries: Entry[]) => entries.filter((entry) => !entry.isDir).map((entry) => entry.path);

async function bytes(stream: Readable): Promise<Buffer> {
	const chunks: Buffer[] = [];
	for await (const chunk of stream) chunks.push(chunk as Buffer);
	return Buffer.concat(chunks);
}

describe('iCloud Photos provider (emulator)', () => {
	let emulator: ICloudPhotosEmulator;
	let session: () => Promise<ICloudSession>;

	beforeEach(async () => {
		forgetICloudPhotosLibraries();
		({ emulator, session } = await startPhotos());
	});
	afterEach(() => emulator.stop());

	it('lists originals with their real names and dates in yyyy/MM folders by the local capture date, Live Photo videos beside them', async () => {
		const [still] = emulator.addPhotos([
			{ name: 'IMG_0001.HEIC', date: at('2024-03-05T10:15:00Z'), live: Buffer.from('the live video') },
			{ name: 'DSC_0042.DNG', date: at('2024-03-20T08:00:00Z') },
			// 23:30 on New Year's Eve in New York is still December there.
			{ name: 'IMG_0100.JPG', date: at('2025-01-01T04:30:00Z'), timeZoneMinutes: -5 * 60 },
		]);
		const provider = await photosProvider(session);
		const entries = await listing(provider);
		expect(entries.map((entry) => `${entry.isDir ? 'd' : 'f'} ${entry.path}`)).toEqual([
			'd 2024',
			'd 2024/03',
			'f 2024/03/DSC_0042.DNG',
			'f 2024/03/IMG_0001.HEIC',
			'f 2024/03/IMG_0001.MOV',
			'd 2024/12',
			'f 2024/12/IMG_0100.JPG',
		]);
		const heic = entries.find((entry) => entry.path === '2024/03/IMG_0001.HEIC')!;
		expect(heic.modTime).toBe(at('2024-03-05T10:15:00Z'));
		const master = (emulator.assetRecord(still).fields!.masterRef.value as { recordName: string }).recordName;
		const original = emulator.bytesOf(master, 'resOriginalRes');
		expect(heic.size).toBe(original.length);
		expect((await bytes(await provider.read('2024/03/IMG_0001.HEIC'))).equals(original)).toBe(true);
		expect((await bytes(await provider.read('2024/03/IMG_0001.MOV'))).toString()).toBe('the live video');
		expect((await bytes(await provider.read('2024/03/IMG_0001.HEIC', { start: 2, end: 9 }))).equals(original.subarray(2, 9))).toBe(true);
		// Only folders below a path, one level.
		const level: string[] = [];
		for await (const entry of provider.list('2024')) level.push(entry.path);
		expect(level).toEqual(['2024/03', '2024/12']);
	});

	it('reads the library in pages of 200 records (100 photos each) until a page brings none', async () => {
		emulator.seedLibrary(450, { liveEvery: 1000 });
		const provider = await photosProvider(session);
		expect(files(await listing(provider)).filter((path) => path.endsWith('.HEIC'))).toHaveLength(450);
		// CheckIndexingState, then 5 pages of photos and the empty one that ends the listing.
		expect(emulator.server.requests(QUERY)).toHaveLength(1 + 5 + 1);
	});

	it('flat and album layouts; hidden photos are left out; edited versions and Live Photo videos by option', async () => {
		emulator.addPhotos([
			{ name: 'a.JPG', date: at('2023-06-01T12:00:00Z'), albums: ['Trip'], edited: Buffer.from('rendered edit') },
			{ name: 'b.HEIC', date: at('2023-07-01T12:00:00Z'), albums: ['Trip', 'Best / of'], live: true },
			{ name: 'c.HEIC', date: at('2023-08-01T12:00:00Z') },
			{ name: 'secret.JPG', date: at('2023-08-02T12:00:00Z'), hidden: true },
		]);
		const flat = await photosProvider(session, { layout: 'flat', livePhotoVideos: false, editedVersions: true });
		expect(files(await listing(flat)).sort()).toEqual(['a-edited.JPG', 'a.JPG', 'b.HEIC', 'c.HEIC']);
		expect((await bytes(await flat.read('a-edited.JPG'))).toString()).toBe('rendered edit');
		const albums = await photosProvider(session, { layout: 'albums' });
		// A "/" in an album name cannot make a folder level of its own.
		expect(files(await listing(albums)).sort()).toEqual(['Best _ of/b.HEIC', 'Best _ of/b.MOV', 'Trip/a.JPG', 'Trip/b.HEIC', 'Trip/b.MOV']);
	});

	it('the Shared Library is its own zone, chosen by option; without one the error says what to do', async () => {
		const noShared = await photosProvider(session, { library: 'shared' });
		await expect(listing(noShared)).rejects.toThrow(/takes part in no iCloud Shared Library/);
		const zone = emulator.addSharedLibrary();
		emulator.addPhotos([{ name: 'family.HEIC', date: at('2022-12-24T18:00:00Z') }], zone);
		emulator.addPhotos([{ name: 'mine.HEIC', date: at('2022-12-24T18:00:00Z') }]);
		const shared = await photosProvider(session, { library: 'shared' });
		expect(files(await listing(shared))).toEqual(['2022/12/family.HEIC']);
		expect((await bytes(await shared.read('2022/12/family.HEIC'))).length).toBeGreaterThan(0);
		expect(files(await listing(await photosProvider(session)))).toEqual(['2022/12/mine.HEIC']);
	});

	it('equal names in one folder are told apart by a stable suffix: the photo added first keeps its name, adding more renames nothing', async () => {
		const day = at('2024-05-01T09:00:00Z');
		const [first, second] = emulator.addPhotos([
			{ name: 'IMG_0001.HEIC', date: day, added: day, live: true },
			{ name: 'img_0001.heic', date: day + 60_000, added: day + 1000, live: true },
		]);
		const before = files(await listing(await photosProvider(session)));
		expect(before).toHaveLength(4);
		expect(before).toContain('2024/05/IMG_0001.HEIC');
		expect(before).toContain('2024/05/IMG_0001.MOV');
		const suffixed = before.filter((path) => /_[0-9a-f]{8}\./.test(path));
		expect(suffixed).toHaveLength(2);
		// The still and its video carry the same suffix.
		expect(new Set(suffixed.map((path) => /_([0-9a-f]{8})\./.exec(path)?.[1])).size).toBe(1);
		emulator.addPhotos([{ name: 'IMG_0001.HEIC', date: day + 120_000, added: day + 5000 }]);
		forgetICloudPhotosLibraries();
		const after = files(await listing(await photosProvider(session)));
		expect(after).toHaveLength(5);
		for (const path of before) expect(after).toContain(path);
		expect(first).not.toBe(second);
	});

	it('names from iCloud cannot leave the folder; filenameEnc is read both as base64 and as plain text', async () => {
		await emulator.stop();
		({ emulator, session } = await startPhotos({ plainFilenames: true }));
		emulator.addPhotos([
			{ name: '../../escape.JPG', date: at('2021-01-01T00:00:00Z') },
			{ name: 'a/b\u0001.JPG', date: at('2021-01-02T00:00:00Z') },
			{ name: 'Cafe\u0301.JPG', date: at('2021-01-03T00:00:00Z') },
		]);
		const paths = files(await listing(await photosProvider(session)));
		expect(paths.sort()).toEqual(['2021/01/.._.._escape.JPG', '2021/01/Café.JPG', '2021/01/a_b_.JPG']);
		for (const path of paths) expect(path.split('/')).not.toContain('..');
	});

	it('a second run after 10 new photos costs one changes/zone call, not a listing', async () => {
		emulator.seedLibrary(2000);
		const first = files(await listing(await photosProvider(session)));
		const before = emulator.cloudKitCalls();
		emulator.addPhotos(Array.from({ length: 10 }, (_, index) => ({ name: `NEW_${index}.HEIC`, date: at('2026-11-30T10:00:00Z') + index })));
		const second = files(await listing(await photosProvider(session)));
		expect(second.length).toBe(first.length + 10);
		expect(second.filter((path) => path.startsWith('2026/11/NEW_'))).toHaveLength(10);
		const calls = emulator.server.requests(CLOUDKIT).slice(before);
		expect(calls.map((call) => call.path.split('/').slice(-2).join('/'))).toEqual(['changes/zone']);
	});

	it('a photo shown again after hiding has its master looked up once; an iOS duplicate gets a name of its own', async () => {
		const [hidden, shown] = emulator.addPhotos([
			{ name: 'private.JPG', date: at('2023-03-03T10:00:00Z'), hidden: true },
			{ name: 'public.JPG', date: at('2023-03-04T10:00:00Z') },
		]);
		expect(files(await listing(await photosProvider(session)))).toEqual(['2023/03/public.JPG']);
		emulator.unhide(hidden);
		emulator.duplicate(shown);
		const before = emulator.cloudKitCalls();
		const paths = files(await listing(await photosProvider(session)));
		expect(paths.filter((path) => path.startsWith('2023/03/public'))).toHaveLength(2);
		expect(paths).toContain('2023/03/private.JPG');
		expect(emulator.server.requests(CLOUDKIT).slice(before).map((call) => call.path.split('/').slice(-2).join('/'))).toEqual(['changes/zone', 'records/lookup']);
	});

	it('a sync token CloudKit no longer takes (200 with BAD_REQUEST) means one full listing again, not a failure', async () => {
		emulator.addPhotos([{ name: 'x.JPG', date: at('2020-02-02T00:00:00Z') }]);
		await listing(await photosProvider(session));
		emulator.forgetSyncTokens();
		emulator.addPhotos([{ name: 'y.JPG', date: at('2020-02-03T00:00:00Z') }]);
		expect(files(await listing(await photosProvider(session)))).toEqual(['2020/02/x.JPG', '2020/02/y.JPG']);
		expect(emulator.server.requests(CHANGES).at(-1)?.status).toBe(200);
	});

	it('the change feed reports new photos (with their videos) as added, Recently Deleted and purged ones as deleted, and folders', async () => {
		const [kept, doomed] = emulator.addPhotos([
			// Added a minute before the cursor, so a later edit is told from an addition whatever the clock does.
			{ name: 'kept.JPG', date: at('2024-01-10T00:00:00Z'), added: Date.now() - 60_000 },
			{ name: 'doomed.JPG', date: at('2024-01-11T00:00:00Z'), added: Date.now() - 60_000 },
		]);
		const watcher = await photosProvider(session);
		const cursor = await watcher.changeCursor();
		emulator.addPhotos([{ name: 'new.HEIC', date: at('2024-02-01T00:00:00Z'), live: true }]);
		emulator.softDelete(doomed);
		emulator.touch(kept);
		const before = emulator.cloudKitCalls();
		const page = await (await photosProvider(session)).changesSince(cursor);
		expect(emulator.cloudKitCalls() - before).toBe(1);
		const seen = page.changes.map((change) => `${change.kind} ${change.path}`).sort();
		expect(seen).toEqual(['added 2024/02', 'added 2024/02/new.HEIC', 'added 2024/02/new.MOV', 'deleted 2024/01/doomed.JPG', 'modified 2024/01/kept.JPG']);
		emulator.purge(kept);
		const next = await (await photosProvider(session)).changesSince(page.cursor);
		expect(next.changes.map((change) => `${change.kind} ${change.path}`).sort()).toEqual(['deleted 2024/01', 'deleted 2024/01/kept.JPG']);
		const quiet = await (await photosProvider(session)).changesSince(next.cursor);
		expect(quiet.changes).toEqual([]);
		await expect((await photosProvider(session)).changesSince('PrimarySync|1|not-a-token')).rejects.toBeInstanceOf(CursorExpiredError);
	});

	it('a new process (no index in memory) still reports what changed since the cursor', async () => {
		emulator.addPhotos([{ name: 'old.JPG', date: at('2024-01-10T00:00:00Z') }]);
		const cursor = await (await photosProvider(session)).changeCursor();
		emulator.addPhotos([{ name: 'fresh.JPG', date: at('2024-01-12T00:00:00Z') }]);
		forgetICloudPhotosLibraries();
		const page = await (await photosProvider(session)).changesSince(cursor);
		expect(page.changes.map((change) => `${change.kind} ${change.path}`)).toEqual(['added 2024/01/fresh.JPG']);
	});

	it('is read-only: every write is refused with a typed error that says to use it as a source', async () => {
		emulator.addPhotos([{ name: 'x.JPG', date: at('2020-02-02T00:00:00Z') }]);
		const provider = await photosProvider(session);
		await expect(provider.write('2020/02/y.JPG', Readable.from([Buffer.from('x')]))).rejects.toBeInstanceOf(ReadOnlySourceError);
		await expect(provider.delete('2020/02/x.JPG')).rejects.toThrow(/read-only/);
		await expect(provider.move('2020/02/x.JPG', 'z.JPG')).rejects.toBeInstanceOf(ReadOnlySourceError);
		await expect(provider.mkdir('new')).rejects.toBeInstanceOf(ReadOnlySourceError);
		expect(files(await listing(provider))).toEqual(['2020/02/x.JPG']);
	});

	it('syncs one way into a local folder in yyyy/MM, and a second run copies only the new photos', async () => {
		emulator.seedLibrary(120, { start: at('2025-12-31T20:00:00Z'), liveEvery: 4 });
		const folder = await mkdtemp(join(tmpdir(), 'icloud-photos-'));
		try {
			const local = await LocalProvider.open(folder);
			const report = await sync(await photosProvider(session), local, { mode: 'copy' });
			expect(report.status).toBe('success');
			expect(report.added).toBe(150);
			expect((await readdir(folder)).filter((name) => !name.startsWith('.')).sort()).toEqual(['2025', '2026']);
			expect((await readdir(join(folder, '2025', '12'))).length).toBeGreaterThan(0);
			const [asset] = emulator.addPhotos([{ name: 'LATEST.JPG', date: at('2026-01-05T12:00:00Z') }]);
			const again = await sync(await photosProvider(session), local, { mode: 'copy' });
			expect(again.added).toBe(1);
			expect(again.updated).toBe(0);
			const master = (emulator.assetRecord(asset).fields!.masterRef.value as { recordName: string }).recordName;
			expect((await readFile(join(folder, '2026', '01', 'LATEST.JPG'))).equals(emulator.bytesOf(master, 'resOriginalRes'))).toBe(true);
		} finally {
			await rm(folder, { recursive: true, force: true });
		}
	});
});

describe('iCloud Photos faults (emulator)', () => {
	let emulator: ICloudPhotosEmulator;
	let session: () => Promise<ICloudSession>;

	beforeEach(async () => {
		forgetICloudPhotosLibraries();
		({ emulator, session } = await startPhotos());
		emulator.seedLibrary(300, { liveEvery: 5 });
	});
	afterEach(() => emulator.stop());

	it('429 and 503 with Retry-After, dropped connections and 500s are retried until the listing is whole', async () => {
		emulator.server.inject({ route: QUERY, kind: 'rate-limit', times: 1, retryAfterSeconds: 1 });
		emulator.server.inject({ route: QUERY, kind: 'unavailable', times: 1, retryAfterSeconds: 1 });
		emulator.server.inject({ route: QUERY, kind: 'reset', times: 2 });
		emulator.server.inject({ route: QUERY, kind: 'server-error', times: 1 });
		const provider = await photosProvider(session);
		expect(files(await listing(provider))).toHaveLength(360);
		expect(provider.pacer.retries).toBe(5);
	});

	it("Apple's 421 and 450 sign in again without a person; 423 asks for the PCS cookies once; all then go on", async () => {
		emulator.auth.failWith({ route: QUERY, status: 421, times: 1 });
		emulator.auth.failWith({ route: QUERY, status: 450, times: 1 });
		emulator.auth.failWith({ route: QUERY, status: 423, times: 1 });
		const signInsBefore = emulator.auth.signIns.get('person@example.com') ?? 0;
		expect(files(await listing(await photosProvider(session)))).toHaveLength(360);
		expect((emulator.auth.signIns.get('person@example.com') ?? 0) - signInsBefore).toBeGreaterThanOrEqual(1);
		expect(emulator.server.requests(/requestPCS$/)).toHaveLength(1);
	});

	it('a 200 whose record carries a serverErrorCode is a failure: retried when transient, never taken as data', async () => {
		emulator.recordError({ route: QUERY, code: 'INTERNAL_ERROR', times: 2 });
		const provider = await photosProvider(session);
		const paths = files(await listing(provider));
		expect(paths).toHaveLength(360);
		expect(provider.pacer.retries).toBe(2);
		forgetICloudPhotosLibraries();
		emulator.recordError({ route: QUERY, code: 'ACCESS_DENIED', times: 1 });
		const denied = await listing(await photosProvider(session)).catch((error: unknown) => error);
		expect(denied).toBeInstanceOf(AuthenticationError);
		expect((denied as CloudSyncError).hint).toMatch(/Access iCloud Data on the Web/);
	});

	it('throttling that does not stop ends the listing with an error that says to wait, and nothing listed', async () => {
		emulator.auth.failWith({ route: QUERY, status: 503 });
		const error = await listing(await photosProvider(session)).catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(RateLimitError);
		expect((error as CloudSyncError).hint).toMatch(/throttling iCloud/);
		emulator.auth.clearStatusFaults();
		emulator.auth.failWith({ route: QUERY, status: 421 });
		const ended = await listing(await photosProvider(session)).catch((caught: unknown) => caught);
		expect((ended as CloudSyncError).hint).toMatch(/wait at least an hour/);
		emulator.auth.clearStatusFaults();
		emulator.auth.failWith({ route: QUERY, status: 423 });
		const locked = await listing(await photosProvider(session)).catch((caught: unknown) => caught);
		expect((locked as CloudSyncError).hint).toMatch(/Advanced Data Protection/);
	});

	it('a download cut off half-way, or a URL that ran out, is fetched again; a short body is never taken as the photo', async () => {
		const provider = await photosProvider(session);
		const [first] = files(await listing(provider));
		const whole = await bytes(await provider.read(first));
		emulator.server.inject({ route: /^GET \/cvws\//, kind: 'truncate', times: 1 });
		await expect(bytes(await provider.read(first))).rejects.toThrow(/ended after \d+ of \d+ bytes/);
		emulator.server.inject({ route: /^GET \/cvws\//, kind: 'reset', times: 1 });
		await expect(bytes(await provider.read(first))).rejects.toThrow(/broke off|ended after \d+ of \d+ bytes/);
		expect((await bytes(await provider.read(first))).equals(whole)).toBe(true);
	});

	it('2,000 photos with Live Photo companions reach a local folder through 10% faults: every file once, byte for byte; a re-run copies nothing', async () => {
		await emulator.stop();
		({ emulator, session } = await startPhotos({ seed: 7 }));
		emulator.seedLibrary(2000, { start: at('2025-01-01T00:00:00Z'), liveEvery: 3 });
		emulator.server.inject({ route: /^POST \/ckdatabasews\//, kind: 'unavailable', probability: 0.05, retryAfterSeconds: 0 });
		emulator.server.inject({ route: /^POST \/ckdatabasews\//, kind: 'reset', probability: 0.03 });
		emulator.recordError({ route: QUERY, code: 'INTERNAL_ERROR', times: 3 });
		emulator.server.inject({ route: /^GET \/cvws\//, kind: 'reset', probability: 0.05 });
		emulator.server.inject({ route: /^GET \/cvws\//, kind: 'rate-limit', probability: 0.05, retryAfterSeconds: 0 });
		const folder = await mkdtemp(join(tmpdir(), 'icloud-faults-'));
		try {
			const local = await LocalProvider.open(folder);
			const report = await sync(await photosProvider(session), local, { mode: 'copy', transfers: 8 });
			expect(report.status).toBe('success');
			expect(report.added).toBe(2667);
			expect(report.retries).toBeGreaterThan(0);
			const source = await photosProvider(session);
			for (const path of files(await listing(source)).filter((_, index) => index % 97 === 0)) {
				expect((await readFile(join(folder, path))).equals(await bytes(await source.read(path)))).toBe(true);
			}
			emulator.server.clearFaults();
			const again = await sync(await photosProvider(session), local, { mode: 'copy' });
			expect({ added: again.added, updated: again.updated, failed: again.failed }).toEqual({ added: 0, updated: 0, failed: 0 });
		} finally {
			await rm(folder, { recursive: true, force: true });
		}
	});

	it('expired download URLs are signed anew by one lookup', async () => {
		await emulator.stop();
		({ emulator, session } = await startPhotos({ downloadUrlLifetimeMs: 1000 }));
		emulator.addPhotos([{ name: 'x.JPG', date: at('2020-02-02T00:00:00Z') }]);
		const provider = await photosProvider(session);
		await listing(provider);
		expect((await bytes(await provider.read('2020/02/x.JPG'))).length).toBeGreaterThan(0);
		expect(emulator.server.requests(/records\/lookup$/)).toHaveLength(1);
	});

	it('provider is constructed without network; opening reads the index', async () => {
		const provider = await ICloudPhotosProvider.open({ session: await session() });
		expect(emulator.server.requests(QUERY).length).toBeGreaterThan(0);
		expect((await provider.stat('')).isDir).toBe(true);
	});
});
