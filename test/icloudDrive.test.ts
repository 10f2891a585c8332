import { randomBytes } from 'node:crypto';
import { readAll, bufferStream } from './conformance/suite';
import { ICloudDriveEmulator } from './emulators/icloudDrive';
import { driveSignIn, emulatedICloudDrive, trustedSession } from './support/icloud';
import { ICloudDriveProvider } from '../lib/providers/icloudDrive';
import { ICloudSignInError } from '../lib/providers/icloud/auth';
import { AlreadyExistsError, CloudSyncError, NotFoundError } from '../lib/core/errors';
import { quickPacer } from './support/dropbox';

let emulator: ICloudDriveEmulator;
let root: string;

beforeAll(async () => {
	emulator = await ICloudDriveEmulator.start();
});
afterAll(() => emulator.stop());
beforeEach(() => {
	emulator.server.clearFaults();
	emulator.auth.clearStatusFaults();
	root = `T ${randomBytes(4).toString('hex')}`;
	emulator.seedFolder(root);
});

const open = () => emulatedICloudDrive(emulator, { root: `/${root}` });
const put = (provider: ICloudDriveProvider, path: string, text: string, modTime?: number) => provider.write(path, bufferStream(text), { size: Buffer.byteLength(text), modTime });
const text = async (provider: ICloudDriveProvider, path: string) => (await readAll(await provider.read(path))).toString();
const since = (mark: number) => emulator.requests().slice(mark).map((entry) => `${entry.method} ${entry.path.replace(/\/upload\/[0-9a-f]+$/, '/upload/<token>')}`);

describe('iCloud Drive protocol', () => {
	it('a new file is the three upload calls, with its time kept to the second', async () => {
		const provider = await open();
		const mark = emulator.requests().length;
		const written = await put(provider, 'a.txt', 'alpha', Date.UTC(2024, 1, 2, 3, 4, 5, 678));
		expect(since(mark).filter((call) => !call.includes('retrieveItemDetailsInFolders'))).toEqual([
			'POST /docws/ws/com.apple.CloudDocs/upload/web',
			'POST /upload/<token>',
			'POST /docws/ws/com.apple.CloudDocs/update/documents',
		]);
		expect(written.modTime).toBe(Date.UTC(2024, 1, 2, 3, 4, 5));
		expect((await provider.stat('a.txt')).modTime).toBe(Date.UTC(2024, 1, 2, 3, 4, 5));
	});

	it('a replacement leaves the old file in Recently Deleted and no staged file behind', async () => {
		const provider = await open();
		await put(provider, 'r.txt', 'old');
		await put(provider, 'r.txt', 'new content');
		expect(await text(provider, 'r.txt')).toBe('new content');
		expect(emulator.paths(root)).toEqual(['r.txt']);
		expect(emulator.trashed()).toContain('r.txt');
	});

	it('a staged upload left by a run that stopped is hidden from listings and removed by housekeeping', async () => {
		const provider = await open();
		await put(provider, 'keep.txt', 'kept');
		emulator.seedFile(`${root}/.cloudsync-upload-0123456789ab-keep.txt`, 'half-done replacement');
		expect((await collect(provider.list(''))).map((entry) => entry.path)).toEqual(['keep.txt']);
		expect(await provider.housekeeping()).toEqual(['.cloudsync-upload-0123456789ab-keep.txt']);
		expect(emulator.paths(root)).toEqual(['keep.txt']);
	});

	it('a replacement stopped after the old file was trashed and before the new one took its name: the new one is the file, and housekeeping gives it the name', async () => {
		const provider = await open();
		await put(provider, 'plan.md', 'v1');
		// The rename fails for good (a run that stops there is the same): the old version is already in Recently Deleted.
		emulator.inject({ route: /renameItems/, kind: 'server-error', probability: 1 });
		await expect(put(provider, 'plan.md', 'v2, complete')).rejects.toThrow();
		emulator.server.clearFaults();
		expect(emulator.trashed()).toContain('plan.md');

		// A later run must not take the file for deleted (a two-way would delete it on the other side): it lists, stats and reads the new version.
		const later = await open();
		expect((await collect(later.list(''))).map((entry) => [entry.path, entry.size])).toEqual([['plan.md', 12]]);
		expect((await later.stat('plan.md')).size).toBe(12);
		expect(await text(later, 'plan.md')).toBe('v2, complete');
		expect(await later.housekeeping()).toEqual(['plan.md: completed a replacement a run left unfinished']);
		expect(emulator.paths(root)).toEqual(['plan.md']);
		expect(await text(await open(), 'plan.md')).toBe('v2, complete');

		// Writing over such a file replaces it as any other.
		emulator.seedFile(`${root}/.cloudsync-upload-0123456789ab-notes.txt`, 'staged');
		await put(later, 'notes.txt', 'written over');
		expect(emulator.paths(root).sort()).toEqual(['notes.txt', 'plan.md']);
		expect(await text(await open(), 'notes.txt')).toBe('written over');
	});

	it('names from the cloud that could climb out of the folder are not listed', async () => {
		const provider = await open();
		const folder = emulator.find(root)!;
		emulator.tree.add({ name: '..', parentId: folder.id, folder: false, content: Buffer.from('x'), meta: {} });
		emulator.tree.add({ name: 'a/b', parentId: folder.id, folder: false, content: Buffer.from('x'), meta: {} });
		await put(provider, 'fine.txt', 'fine');
		expect((await collect(provider.list(''))).map((entry) => entry.path)).toEqual(['fine.txt']);
	});

	it('a 200 whose item status is an error is a failure, not a success', async () => {
		const provider = await open();
		await put(provider, 'd.txt', 'still here');
		emulator.auth.failWith({ route: /moveItemsToTrash/, status: 200, times: 1, body: { items: [{ drivewsid: 'x', status: 'ID_INVALID' }] } });
		await expect(provider.delete('d.txt')).rejects.toBeInstanceOf(NotFoundError);
		emulator.auth.failWith({ route: /update\/documents/, status: 200, times: 1, body: { status: { status_code: 7, error_message: 'conflict' }, results: [] } });
		await expect(put(provider, 'never.txt', 'x')).rejects.toBeInstanceOf(CloudSyncError);
		expect(emulator.paths(root)).toEqual(['d.txt']);
	});

	it('a name conflict on rename is refused as AlreadyExists', async () => {
		const provider = await open();
		await put(provider, 'one.txt', '1');
		emulator.auth.failWith({ route: /renameItems/, status: 200, times: 1, body: { items: [{ drivewsid: 'x', status: 'NAME_CONFLICT' }] } });
		await expect(provider.move('one.txt', 'two.txt')).rejects.toBeInstanceOf(AlreadyExistsError);
	});
});

describe('iCloud Drive folder listings', () => {
	const listings = (mark: number) => since(mark).filter((call) => call.endsWith('/retrieveItemDetailsInFolders')).length;

	it('a folder of files written is listed once or twice, not once per file', async () => {
		const provider = await open();
		const mark = emulator.requests().length;
		for (let i = 0; i < 20; i++) await put(provider, `batch/f${i}.txt`, `content ${i}`);
		expect(listings(mark)).toBeLessThanOrEqual(2);
		expect(emulator.paths(`${root}/batch`)).toHaveLength(20);
		// A file written in this run and written again is replaced, not doubled.
		await put(provider, 'batch/f0.txt', 'second version');
		expect(await text(provider, 'batch/f0.txt')).toBe('second version');
		expect(emulator.paths(`${root}/batch`)).toHaveLength(20);
		expect(emulator.trashed()).toContain('f0.txt');
	});

	it('a file another client put in the folder after it was listed is replaced, not kept beside as "name 2"', async () => {
		const provider = await open();
		await put(provider, 'a.txt', 'first');
		emulator.seedFile(`${root}/b.txt`, 'theirs');
		await put(provider, 'b.txt', 'ours');
		expect(emulator.paths(root)).toEqual(['a.txt', 'b.txt']);
		expect(await text(provider, 'b.txt')).toBe('ours');
		expect(emulator.trashed()).toContain('b.txt');
	});

	it('a folder another client made where a file is being written is neither replaced nor shadowed', async () => {
		const provider = await open();
		await put(provider, 'a.txt', 'first');
		emulator.seedFile(`${root}/c.txt/inside.txt`, 'kept');
		await expect(put(provider, 'c.txt', 'a file')).rejects.toBeInstanceOf(AlreadyExistsError);
		expect(emulator.paths(root)).toEqual(['a.txt', 'c.txt/', 'c.txt/inside.txt']);
	});
});

describe('iCloud Drive faults', () => {
	it.each([
		['429 with Retry-After', 'rate-limit'],
		['503 with Retry-After', 'unavailable'],
	] as const)('%s on listing, upload and download is retried and the run succeeds', async (_label, kind) => {
		const provider = await open();
		emulator.inject({ route: /retrieveItemDetailsInFolders|upload\/web|\/upload\/|download\/by_id/, kind, probability: 0.2, retryAfterSeconds: 0 });
		for (let i = 0; i < 5; i++) await put(provider, `f${i}.txt`, `content ${i}`);
		for (let i = 0; i < 5; i++) expect(await text(provider, `f${i}.txt`)).toBe(`content ${i}`);
		expect(emulator.requests().some((entry) => entry.fault === kind)).toBe(true);
		expect(provider.pacer.retries).toBeGreaterThan(0);
	});

	it('a dropped connection during a download fails as retryable (never as a short file), and the next read is whole', async () => {
		const provider = await open();
		const data = randomBytes(300_000);
		await provider.write('big.bin', bufferStream(data), { size: data.length });
		emulator.inject({ route: /^GET \/content\//, kind: 'reset', times: 1 });
		const broken = await readAll(await provider.read('big.bin')).catch((caught: unknown) => caught);
		expect(broken).toBeInstanceOf(CloudSyncError);
		expect((broken as CloudSyncError).retryable).toBe(true);
		emulator.inject({ route: /^GET \/content\//, kind: 'truncate', times: 1 });
		await expect(readAll(await provider.read('big.bin'))).rejects.toMatchObject({ retryable: true });
		expect((await readAll(await provider.read('big.bin'))).equals(data)).toBe(true);
	});

	it('Apple statuses 421/450 (session ended) renew the session with the trust token, without a person', async () => {
		const provider = await open();
		await put(provider, 's.txt', 'session');
		const codes = emulator.auth.codesSent.get(emulator.user.appleId.toLowerCase())?.length;
		emulator.auth.endWebSessions();
		expect(await text(provider, 's.txt')).toBe('session');
		emulator.auth.failWith({ route: /retrieveItemDetailsInFolders/, status: 450, times: 1 });
		expect((await provider.stat('s.txt')).size).toBe(7);
		expect(emulator.auth.codesSent.get(emulator.user.appleId.toLowerCase())?.length).toBe(codes);
	});

	it('a session Apple ends again and again (throttling) stops with "wait", after one fresh sign-in, not one per retry', async () => {
		const provider = await open();
		const key = emulator.user.appleId.toLowerCase();
		const signIns = emulator.auth.signIns.get(key) ?? 0;
		emulator.auth.failWith({ route: /retrieveItemDetailsInFolders/, status: 421 });
		const error = (await provider.stat('x').catch((caught: unknown) => caught)) as CloudSyncError;
		expect(error.message).toMatch(/HTTP 421/);
		expect(error.hint).toMatch(/throttles.*wait at least an hour/);
		expect((emulator.auth.signIns.get(key) ?? 0) - signIns).toBeLessThanOrEqual(1);
	});

	it('423 (encryption cookies missing) stops with the Advanced Data Protection instructions', async () => {
		const provider = await open();
		emulator.auth.failWith({ route: /retrieveItemDetailsInFolders/, status: 423 });
		const error = (await provider.stat('x').catch((caught: unknown) => caught)) as ICloudSignInError;
		expect(error).toBeInstanceOf(ICloudSignInError);
		expect(error.hint).toMatch(/Access iCloud Data on the Web/);
	});

	it('throttled sign-in (503) stops before anything is read or changed', async () => {
		emulator.auth.failWith({ route: /signin\/init|setup\/ws\/1\/validate/, status: 503 });
		const mark = emulator.requests().length;
		const error = (await open().catch((caught: unknown) => caught)) as ICloudSignInError;
		expect(error.kind).toBe('throttled');
		expect(since(mark).some((call) => call.includes('drivews') || call.includes('docws'))).toBe(false);
	});
});

describe('iCloud Drive accounts a person must fix', () => {
	it('Advanced Data Protection: opening waits for a device to approve, then works', async () => {
		const adp = await ICloudDriveEmulator.start({ user: { appleId: 'adp@example.com', password: 'pw with ADP', dsid: '3', advancedDataProtection: true } });
		try {
			const saved = await trustedSession(adp.auth, adp.baseUrl, adp.user);
			const error = (await ICloudDriveProvider.open({ signIn: driveSignIn(adp, saved), pacer: quickPacer() }).catch((caught: unknown) => caught)) as ICloudSignInError;
			expect(error.kind).toBe('advanced-data-protection');
			adp.approvePcs();
			const provider = await ICloudDriveProvider.open({ signIn: driveSignIn(adp, saved), pacer: quickPacer() });
			await put(provider, 'ok.txt', 'works');
			expect(adp.paths()).toEqual(['ok.txt']);
		} finally {
			await adp.stop();
		}
	});
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
	const items: T[] = [];
	for await (const item of iterable) items.push(item);
	return items;
}
