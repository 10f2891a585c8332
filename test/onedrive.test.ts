import { inspect } from 'node:util';
import type { Provider } from '../lib/core/types';
import { AuthenticationError, CursorExpiredError, InvalidNameError, RateLimitError, TransientError } from '../lib/core/errors';
import { Pacer } from '../lib/core/pacer';
import { LocalProvider, MemoryStateStore, sync, twoWaySync } from '../lib';
import { tempDir } from './support/trees';
import { ONEDRIVE_FRAGMENT_UNIT, type OneDriveProviderOptions } from '../lib/providers/onedrive';
import { OneDriveEmulator, quickXor, type OneDriveEmulatorOptions } from './emulators/onedrive';
import { bufferStream, collect, fingerprint, pseudoRandomBytes, readAll } from './conformance/suite';
import { emulatedOneDrive } from './support/onedrive';

const UNIT = ONEDRIVE_FRAGMENT_UNIT;
let emulator: OneDriveEmulator;

async function restart(options: OneDriveEmulatorOptions = {}): Promise<void> {
	await emulator?.stop();
	emulator = await OneDriveEmulator.start(options);
}

beforeEach(() => restart({ driveType: 'business' }));
afterEach(() => emulator.stop());

const provider = (options: Partial<OneDriveProviderOptions> = {}) => emulatedOneDrive(emulator, options);
const text = async (onedrive: Provider, path: string) => (await readAll(await onedrive.read(path))).toString();
const put = (onedrive: Provider, path: string, data: Buffer | string, modTime?: number) => {
	const bytes = typeof data === 'string' ? Buffer.from(data) : data;
	return onedrive.write(path, bufferStream(bytes), { size: bytes.length, modTime });
};
/** Requests from now on: "METHOD /path" for each. */
function recorder(): () => string[] {
	const start = emulator.server.log.length;
	return () => emulator.server.log.slice(start).map((entry) => `${entry.method} ${entry.path}`);
}
/** A pacer that records the waits it would make instead of making them. */
function recordingPacer(waits: number[], retriesPerRequest = 5): Pacer {
	return new Pacer({ baseDelayMs: 1, maxDelayMs: 5, retriesPerRequest, sleep: async (ms) => void waits.push(ms) });
}

describe('upload sessions', () => {
	it('sends fragments in multiples of 320 KiB, without the bearer token, and keeps the modification time from the session', async () => {
		const onedrive = await provider({ chunkSize: 2 * UNIT });
		const data = pseudoRandomBytes(5 * UNIT + 123, 'fragments');
		const modTime = Date.UTC(2022, 2, 3, 4, 5, 6);
		const calls = recorder();
		const written = await put(onedrive, 'big.bin', data, modTime);
		expect(written).toMatchObject({ size: data.length, modTime, hashes: { quickxor: quickXor(data) } });
		expect(emulator.fragments.map((fragment) => fragment.length)).toEqual([2 * UNIT, 2 * UNIT, UNIT + 123]);
		// One session and its fragments: no PATCH afterwards, so Business keeps one version.
		expect(calls().some((call) => call.startsWith('PATCH'))).toBe(false);
		expect(calls().filter((call) => call.endsWith('/createUploadSession'))).toHaveLength(1);
		const uploads = emulator.server.requests(/^PUT \/upload\//);
		expect(uploads).toHaveLength(3);
		for (const upload of uploads) expect(emulator.server.headersOf(upload)?.authorization).toBeUndefined();
		expect((await onedrive.stat('big.bin')).modTime).toBe(modTime);
		expect(fingerprint(emulator.content('big.bin')!)).toEqual(fingerprint(data));
	});

	it('resumes from nextExpectedRanges when a fragment landed but its answer was lost', async () => {
		const onedrive = await provider({ chunkSize: UNIT });
		const data = pseudoRandomBytes(3 * UNIT + 5, 'resume');
		emulator.server.inject({ route: /^PUT \/upload\//, kind: 'reset', times: 1 });
		await put(onedrive, 'resumed.bin', data);
		// The lost fragment is not sent again: the session said where it stood.
		expect(emulator.fragments.filter((fragment) => fragment.status !== 416).map((fragment) => fragment.start)).toEqual([0, UNIT, 2 * UNIT, 3 * UNIT]);
		expect(emulator.server.requests(/^GET \/upload\//)).toHaveLength(1);
		expect(fingerprint(emulator.content('resumed.bin')!)).toEqual(fingerprint(data));
	});

	it('recognises a committed file whose last answer was lost, by its size and quickXorHash', async () => {
		const onedrive = await provider({ chunkSize: UNIT });
		const data = pseudoRandomBytes(UNIT + 7, 'last');
		// Both answers are lost: the first is recovered from the session, the last from the file itself.
		emulator.server.inject({ route: /^PUT \/upload\//, kind: 'reset', times: 2 });
		expect(await put(onedrive, 'last.bin', data)).toMatchObject({ size: data.length });
		expect(fingerprint(emulator.content('last.bin')!)).toEqual(fingerprint(data));
	});

	it('an expired session fails the write as a transient error and leaves the old file', async () => {
		await restart({ driveType: 'business', sessionLifetimeMs: 0 });
		const onedrive = await provider();
		emulator.seedFile('kept.txt', 'old');
		const failure = put(onedrive, 'kept.txt', 'new bytes');
		await expect(failure).rejects.toBeInstanceOf(TransientError);
		await expect(failure).rejects.toThrow(/upload session .* expired/);
		expect(emulator.content('kept.txt')?.toString()).toBe('old');
	});

	it('writes an empty file with a simple PUT, then sets its time', async () => {
		const onedrive = await provider();
		const modTime = Date.UTC(2020, 0, 1);
		const calls = recorder();
		expect(await put(onedrive, 'empty.txt', '', modTime)).toMatchObject({ size: 0, modTime });
		expect(calls().filter((call) => /^(PUT|PATCH|POST)/.test(call)).map((call) => call.split(' ')[0])).toEqual(['PUT', 'PATCH']);
	});
});

describe('delta', () => {
	/** 100 folders of 100 files, seeded as another client would have made them. */
	function seedTenThousand(root: string): void {
		for (let f = 0; f < 100; f++) for (let i = 0; i < 100; i++) emulator.seedFile(`${root}/folder ${f}/file ${i}.txt`, `${f}/${i}`);
	}

	it('lists a 10,000-file tree through one delta feed, and after one change an incremental pass costs at most 3 calls', async () => {
		seedTenThousand('Tree');
		const onedrive = await provider({ root: '/Tree' });
		const calls = recorder();
		const entries = await collect(onedrive.list('', { recursive: true }));
		expect(entries).toHaveLength(10_100);
		expect(calls().filter((call) => call.includes('/children'))).toEqual([]);
		expect(calls().filter((call) => call.endsWith('/delta')).length).toBe(11);

		const cursor = await onedrive.changeCursor();
		emulator.seedFile('Tree/folder 42/file 7.txt', 'changed by someone else');
		const pass = recorder();
		const page = await onedrive.changesSince(cursor);
		expect(pass().length).toBeLessThanOrEqual(3);
		expect(page.changes).toEqual([expect.objectContaining({ kind: 'modified', path: 'folder 42/file 7.txt', isDir: false })]);
		// Nothing more has happened: the next pass is one call and finds nothing.
		const again = recorder();
		expect((await onedrive.changesSince(page.cursor)).changes).toEqual([]);
		expect(again()).toHaveLength(1);
	});

	it('names new, moved and deleted items, even for a provider that never listed (the trigger)', async () => {
		emulator.seedFile('Root/a/keep.txt', 'keep');
		emulator.seedFile('Root/a/gone.txt', 'gone');
		emulator.seedFile('Root/a/moving.txt', 'moving');
		const first = await provider({ root: '/Root' });
		await collect(first.list('', { recursive: true }));
		const cursor = await first.changeCursor();
		emulator.seedFile('Root/b/new.txt', 'new');
		emulator.rename('Root/a/moving.txt', 'Root/b/moved.txt');
		emulator.remove('Root/a/gone.txt');
		const changes = (await first.changesSince(cursor)).changes.map(({ kind, path, previousPath }) => ({ kind, path, ...(previousPath ? { previousPath } : {}) }));
		expect(changes).toEqual(
			expect.arrayContaining([
				{ kind: 'added', path: 'b' },
				{ kind: 'added', path: 'b/new.txt' },
				{ kind: 'moved', path: 'b/moved.txt', previousPath: 'a/moving.txt' },
				{ kind: 'deleted', path: 'a/gone.txt' },
			]),
		);
		expect(changes).toHaveLength(4);

		// A fresh provider knows no ids: new files are named from the feed, deletions on Business are not nameable.
		const fresh = await provider({ root: '/Root' });
		const later = await fresh.changeCursor();
		emulator.seedFile('Root/c/fresh.txt', 'fresh');
		expect((await fresh.changesSince(later)).changes.map((change) => `${change.kind} ${change.path}`).sort()).toEqual(['added c', 'added c/fresh.txt']);

		// Business sends deletions without a name: a provider that never saw the files reports their folder, once.
		const trigger = await provider({ root: '/Root' });
		const before = await trigger.changeCursor();
		emulator.remove('Root/a/keep.txt');
		emulator.remove('Root/b/new.txt');
		emulator.remove('Root/b/moved.txt');
		expect((await trigger.changesSince(before)).changes.map((change) => `${change.kind} ${change.path}`).sort()).toEqual(['modified a', 'modified b']);
	});

	it('turns 410 Gone (resync) into CursorExpiredError with what to do', async () => {
		const onedrive = await provider();
		const cursor = await onedrive.changeCursor();
		emulator.expireDeltaTokens();
		const failure = onedrive.changesSince(cursor);
		await expect(failure).rejects.toBeInstanceOf(CursorExpiredError);
		await expect(failure).rejects.toMatchObject({ hint: expect.stringContaining('full sync') });
		await expect(onedrive.changesSince('not a cursor')).rejects.toBeInstanceOf(CursorExpiredError);
	});
});

describe('throttling and tokens', () => {
	it('honours Retry-After on 429 and 503 through the pacer', async () => {
		const waits: number[] = [];
		const onedrive = await provider({ pacer: recordingPacer(waits) });
		emulator.seedFile('t.txt', 'throttled');
		emulator.server.inject({ route: /^GET \/v1\.0\//, kind: 'rate-limit', times: 1, retryAfterSeconds: 2 });
		emulator.server.inject({ route: /^GET \/v1\.0\//, kind: 'unavailable', times: 1, retryAfterSeconds: 3 });
		expect(await onedrive.stat('t.txt')).toMatchObject({ size: 9 });
		// The pacer waits out each Retry-After (its shared pause shows up as a second wait with a recording sleep).
		expect(waits).toEqual(expect.arrayContaining([2000, 3000]));
		// The shared pause is what is left of it when the next call starts: a few milliseconds under a loaded machine.
		expect(waits.every((ms) => ms >= 1900)).toBe(true);
		expect(onedrive.pacer.retries).toBe(2);
		expect(emulator.server.log.filter((entry) => entry.fault).map((entry) => entry.status)).toEqual([429, 503]);
	});

	it('gives up with RateLimitError and a hint when throttling lasts', async () => {
		const onedrive = await provider({ pacer: recordingPacer([], 2) });
		emulator.server.inject({ route: /^GET \/v1\.0\//, kind: 'rate-limit' });
		const failure = onedrive.stat('x.txt');
		await expect(failure).rejects.toBeInstanceOf(RateLimitError);
		await expect(failure).rejects.toMatchObject({ hint: expect.stringContaining('later') });
	});

	it('renews an expired access token once, and says to reconnect when access is revoked, with no secret in the error', async () => {
		const onedrive = await provider();
		await put(onedrive, 'a.txt', 'a');
		emulator.expireAccessTokens();
		const tokenCalls = () => emulator.server.requests(/oauth2\/v2\.0\/token$/).length;
		const before = tokenCalls();
		expect(await text(onedrive, 'a.txt')).toBe('a');
		expect(tokenCalls()).toBe(before + 1);

		emulator.revokeAccess();
		emulator.expireAccessTokens();
		const failure = await onedrive.stat('a.txt').catch((error: unknown) => error);
		expect(failure).toBeInstanceOf(AuthenticationError);
		expect((failure as AuthenticationError).hint).toMatch(/Reconnect/);
		const shown = inspect(failure, { depth: 5 });
		for (const secret of [emulator.credentials.clientSecret, emulator.credentials.refreshToken, ...emulator.issuedAccessTokens]) expect(shown).not.toContain(secret);
	});

	it('uses the rotated refresh token for the next renewal in the same run', async () => {
		const before = emulator.refreshTokensPresented.length;
		const rotated: string[] = [];
		const onedrive = await provider({ onRefreshToken: (token) => rotated.push(token) });
		await put(onedrive, 'r.txt', 'r');
		emulator.expireAccessTokens();
		expect(await text(onedrive, 'r.txt')).toBe('r');
		expect(emulator.refreshTokensPresented.slice(before)).toEqual([emulator.credentials.refreshToken, rotated[0]]);
		expect(rotated).toHaveLength(2);
	});


	it('hands the rotated refresh token to the caller', async () => {
		const rotated: string[] = [];
		await provider({ onRefreshToken: (token) => rotated.push(token) });
		expect(rotated).toHaveLength(1);
		expect(rotated[0]).not.toBe(emulator.credentials.refreshToken);
	});
});

describe('copy', () => {
	it('copies server-side through the monitor URL, polled without the token until done', async () => {
		await restart({ driveType: 'business', copyPolls: 3 });
		const onedrive = await provider();
		const modTime = Date.UTC(2019, 5, 6, 7, 8, 9);
		await put(onedrive, 'src.txt', 'copy me', modTime);
		const copied = await onedrive.copy!('src.txt', 'dir/dst.txt');
		expect(copied).toMatchObject({ path: 'dir/dst.txt', size: 7, modTime });
		const polls = emulator.server.requests(/^GET \/monitor\//);
		expect(polls.length).toBeGreaterThanOrEqual(4);
		for (const poll of polls) expect(emulator.server.headersOf(poll)?.authorization).toBeUndefined();
		expect(emulator.content('dir/dst.txt')?.toString()).toBe('copy me');
	});
});

describe('names', () => {
	it('stores forbidden characters as full-width look-alikes and reads them back', async () => {
		const onedrive = await provider();
		await put(onedrive, 'what? <a|b> "c" 1:2*3\\4.txt', 'odd');
		expect(emulator.paths()).toEqual(['what？ ＜a｜b＞ ＂c＂ 1：2＊3＼4.txt']);
		expect((await collect(onedrive.list(''))).map((entry) => entry.path)).toEqual(['what? <a|b> "c" 1:2*3\\4.txt']);
		expect(await text(onedrive, 'what? <a|b> "c" 1:2*3\\4.txt')).toBe('odd');
	});

	it('reports names OneDrive refuses before any upload, and maps a refusal to InvalidNameError', async () => {
		const onedrive = await provider();
		for (const name of ['CON', 'lpt1', 'desktop.ini', '.lock', '~$report.docx', 'a_vti_b', 'trailing.', 'trailing ', ' leading', 'wide＂quote']) {
			expect({ name, problem: onedrive.nameProblem(name) }).toEqual({ name, problem: expect.any(String) });
		}
		for (const name of ['a"b', 'normal.txt', 'emoji 😀', '.hidden']) expect(onedrive.nameProblem(name)).toBeUndefined();
		await expect(put(onedrive, 'desktop.ini', 'x')).rejects.toBeInstanceOf(InvalidNameError);
		await expect(put(onedrive, `${'long folder name '.repeat(25)}/f.txt`, 'x')).rejects.toBeInstanceOf(InvalidNameError);
		expect(emulator.paths()).toEqual([]);
	});
});

describe('SharePoint', () => {
	it("opens a site's document library by its address, and keeps Office files SharePoint rewrites", async () => {
		await restart({ driveType: 'business', rewriteOfficeFiles: true });
		const site = emulator.addSite('contoso.sharepoint.com', 'Team', 'Team Site');
		const library = await provider({ siteUrl: site.webUrl });
		expect(library.drive).toEqual({ id: site.driveId, type: 'documentLibrary' });
		const docx = Buffer.from('PK office bytes');
		// SharePoint adds its properties to the file: the write is not failed for it.
		const written = await put(library, 'report.docx', docx);
		expect(written).toMatchObject({ size: docx.length, hashes: { quickxor: quickXor(docx) } });
		expect(emulator.content('report.docx', site.driveId)!.length).toBeGreaterThan(docx.length);
		// Other files are verified as everywhere.
		await put(library, 'notes.txt', 'plain');
		expect(emulator.content('notes.txt', site.driveId)?.toString()).toBe('plain');
		await expect(provider({ siteUrl: 'https://contoso.sharepoint.com/sites/Nope' })).rejects.toThrow(/no SharePoint site/);
	});

	it('syncs rewritten Office files once: a re-run compares their times only and transfers nothing', async () => {
		await restart({ driveType: 'business', rewriteOfficeFiles: true });
		const site = emulator.addSite('contoso.sharepoint.com', 'Team');
		const library = await provider({ siteUrl: site.webUrl });
		const source = await LocalProvider.open(await tempDir('office'));
		await put(source, 'report.docx', 'PK word', Date.UTC(2024, 1, 1));
		await put(source, 'sheet.xlsx', 'PK excel', Date.UTC(2024, 1, 2));
		await put(source, 'notes.txt', 'plain', Date.UTC(2024, 1, 3));
		const first = await sync(source, library, { mode: 'mirror', pacer: library.pacer });
		expect(first).toMatchObject({ added: 3, failed: 0 });
		const rerun = await sync(source, library, { mode: 'mirror', pacer: library.pacer });
		expect(rerun).toMatchObject({ added: 0, updated: 0, failed: 0 });
		// A real edit on the source still goes up.
		await put(source, 'report.docx', 'PK word v2', Date.UTC(2024, 2, 1));
		expect(await sync(source, library, { mode: 'mirror', pacer: library.pacer })).toMatchObject({ updated: 1, failed: 0 });
	});

	it('two-way: rewritten Office files are not taken for edits on the SharePoint side', async () => {
		await restart({ driveType: 'business', rewriteOfficeFiles: true });
		const site = emulator.addSite('contoso.sharepoint.com', 'Team');
		const library = await provider({ siteUrl: site.webUrl });
		const local = await LocalProvider.open(await tempDir('office-two-way'));
		await put(local, 'plan.pptx', 'PK slides', Date.UTC(2024, 3, 1));
		const state = new MemoryStateStore();
		const run = () => twoWaySync(local, library, { state, pair: 'office', lock: { settleMs: 0 }, pacer: library.pacer });
		expect(await run()).toMatchObject({ status: 'success' });
		const again = await run();
		expect(again).toMatchObject({ status: 'success' });
		expect(again.actions).toEqual([]);
		expect(await text(local, 'plan.pptx')).toBe('PK slides');

	});
});
