import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { MemoryStateStore, Pacer, sync, twoWaySync } from '../lib';
import { Dropbox, DropboxAuth, DropboxResponseError, type files } from 'dropbox';
import type { Entry, Provider } from '../lib/core/types';
import {
	AlreadyExistsError,
	AuthenticationError,
	ChangedSincePlannedError,
	CloudSyncError,
	InvalidNameError,
	InvalidPathError,
	NotEmptyError,
	NotFoundError,
	PermissionError,
	RateLimitError,
	StorageFullError,
	TransientError,
} from '../lib/core/errors';
import { DropboxProvider, redirectingFetch, type DropboxProviderOptions } from '../lib/providers/dropbox';
import { DropboxEmulator, type DropboxEmulatorOptions } from './emulators/dropbox';
import { bufferStream, collect, fingerprint, GeneratedStream, irregularStream, localHashes, pseudoRandomBytes, readAll } from './conformance/suite';
import { emulatedProvider, quickPacer } from './support/dropbox';
import { DROPBOX_HASH_VECTORS } from './support/hash-vectors';

const MiB = 1024 * 1024;
const CHUNK = 8 * MiB;
const LIST_PAGE = 2000;

let emulator: DropboxEmulator;

async function restart(options: DropboxEmulatorOptions = {}): Promise<void> {
	await emulator?.stop();
	emulator = await DropboxEmulator.start(options);
}

beforeEach(() => restart());
afterEach(() => emulator.stop());

const text = async (provider: Provider, path: string) => (await readAll(await provider.read(path))).toString();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const calls = (...routes: string[]) => routes.reduce((sum, route) => sum + emulator.requestCount(route), 0);
const provider = (options: Partial<DropboxProviderOptions> = {}) => emulatedProvider(emulator, options);

describe('looking up several paths at once (statMany)', () => {
	it('finds the names of one folder in one page of its listing, each spelling asked for answered; past the first page, one by one', async () => {
		emulator.seedFolder('/Root');
		for (const name of ['Alpha.txt', 'beta.txt', 'gamma.txt']) emulator.seedFile(`/Root/docs/${name}`, name);
		const dropbox = provider({ root: '/Root' });
		const before = emulator.server.log.length;
		const found = await dropbox.statMany(['docs/alpha.txt', 'docs/ALPHA.TXT', 'docs/gamma.txt', 'docs/missing.txt', 'nowhere/x.txt', 'nowhere/y.txt']);
		expect([...found.keys()].sort()).toEqual(['docs/ALPHA.TXT', 'docs/alpha.txt', 'docs/gamma.txt']);
		expect(found.get('docs/alpha.txt')).toMatchObject({ path: 'docs/Alpha.txt', isDir: false, size: 9 });
		expect(emulator.server.log.slice(before).map((entry) => entry.path).filter((path) => path.startsWith('/2/'))).toEqual(['/2/files/list_folder', '/2/files/list_folder']);
		// A folder longer than a page: what its first page leaves out is asked for one by one.
		for (let i = 0; i < LIST_PAGE + 5; i++) emulator.seedFile(`/Root/big/f${String(i).padStart(5, '0')}.txt`, 'x');
		const far = await dropbox.statMany(['big/f00000.txt', `big/f${String(LIST_PAGE + 4).padStart(5, '0')}.txt`]);
		expect(far.size).toBe(2);
	});
});

/** Seeds `folders` folders of `perFolder` files each, as another Dropbox client would have made them. */
function seedTree(root: string, folders: number, perFolder: number): number {
	for (let f = 0; f < folders; f++) {
		for (let i = 0; i < perFolder; i++) emulator.seedFile(`${root}/Folder ${f}/file ${i}.txt`, `${f}/${i}`);
	}
	return folders * (perFolder + 1);
}

/** The SDK itself, talking to the emulator, for checks below the provider. */
function rawSdk(): Dropbox {
	const fetch = redirectingFetch(emulator.baseUrl);
	return new Dropbox({ auth: new DropboxAuth({ ...emulator.credentials, fetch }), fetch });
}

/** The recursive listing of `root` in the order the emulator sends it, as paths relative to `root`. */
async function fetchRawListing(root: string): Promise<Entry[]> {
	const sdk = rawSdk();
	const entries: Entry[] = [];
	let page = (await sdk.filesListFolder({ path: root, recursive: true, limit: 500 })).result;
	for (;;) {
		for (const metadata of page.entries) {
			const path = metadata.path_display!.slice(root.length + 1);
			if (path !== '') entries.push({ path, isDir: metadata['.tag'] === 'folder', size: 0, modTime: 0, hashes: {} });
		}
		if (!page.has_more) return entries;
		page = (await sdk.filesListFolderContinue({ cursor: page.cursor })).result;
	}
}

/** Runs `count` jobs with at most `limit` at a time, as the executor's transfers do. */
async function inPool<T>(count: number, limit: number, job: (i: number) => Promise<T>): Promise<T[]> {
	const results: T[] = new Array(count);
	let next = 0;
	const worker = async () => {
		for (let i = next++; i < count; i = next++) results[i] = await job(i);
	};
	await Promise.all(Array.from({ length: limit }, worker));
	return results;
}

/** Entries listed before the folder that holds them. */
function beforeTheirFolder(entries: Entry[]): string[] {
	const seen = new Set<string>(['']);
	const early: string[] = [];
	for (const entry of entries) {
		if (!seen.has(entry.path.includes('/') ? entry.path.slice(0, entry.path.lastIndexOf('/')) : '')) early.push(entry.path);
		if (entry.isDir) seen.add(entry.path);
	}
	return early;
}

describe('the SDK against the emulator', () => {
	it('sends every call to the emulator, with a bearer token the emulator issued', async () => {
		const dropbox = provider();
		await dropbox.write('hello.txt', bufferStream('hello'), { size: 5 });
		expect(await dropbox.stat('hello.txt')).toMatchObject({ path: 'hello.txt', size: 5 });
		expect((await collect(dropbox.list(''))).map((entry) => entry.path)).toEqual(['hello.txt']);
		expect(await text(dropbox, 'hello.txt')).toBe('hello');

		const routes = emulator.server.log.map((entry) => `${entry.path} ${entry.status}`);
		expect(routes).toEqual([
			'/oauth2/token 200',
			'/2/files/upload 200',
			'/2/files/get_metadata 200',
			'/2/files/list_folder 200',
			'/2/files/download 206',
		]);
		// The emulator refuses calls without a token it issued, so the ones above carried one.
		const anonymous = await fetch(`${emulator.baseUrl}/2/files/list_folder`, { method: 'POST', body: '{"path":""}' });
		expect(anonymous.status).toBe(401);
		expect(await anonymous.json()).toMatchObject({ error: { '.tag': 'invalid_access_token' } });
	});

	it('validates a content_hash sent with an upload, and answers Dropbox-API-Result in header-safe JSON', async () => {
		const sdk = rawSdk();
		const wrong = sdk.filesUpload({ path: '/x.txt', contents: Buffer.from('abc'), content_hash: 'f'.repeat(64) });
		await expect(wrong).rejects.toBeInstanceOf(DropboxResponseError);
		await expect(wrong).rejects.toMatchObject({ status: 409, error: { error_summary: 'content_hash_mismatch/..' } });
		expect(emulator.stat('/x.txt')).toBeUndefined();

		await sdk.filesUpload({ path: '/Ünï 😀.txt', contents: Buffer.from('unicode') });
		const download = await sdk.filesDownload({ path: '/ünï 😀.TXT' });
		expect(download.result).toMatchObject({ name: 'Ünï 😀.txt', path_display: '/Ünï 😀.txt', size: 7 });
	});
});

describe('the emulator', () => {
	it('follows the upload write modes: add and update conflict unless the content is the same, strict_conflict always', async () => {
		const sdk = rawSdk();
		const upload = (mode: files.WriteMode, contents: string, strict = false) =>
			sdk.filesUpload({ path: '/m.txt', mode, contents: Buffer.from(contents), strict_conflict: strict }).then(
				(response) => response.result.rev,
				(error: DropboxResponseError<{ error_summary: string }>) => error.error.error_summary,
			);
		const first = await upload({ '.tag': 'add' }, 'one');
		expect(await upload({ '.tag': 'add' }, 'two')).toBe('path/conflict/file/..');
		expect(await upload({ '.tag': 'add' }, 'one')).toBe(first);
		expect(await upload({ '.tag': 'add' }, 'one', true)).toBe('path/conflict/file/..');
		expect(await upload({ '.tag': 'update', update: '0000000000ff' }, 'two')).toBe('path/conflict/file/..');
		const second = await upload({ '.tag': 'update', update: first }, 'two');
		expect(second).not.toBe(first);
		expect(await upload({ '.tag': 'overwrite' }, 'three')).not.toBe(second);
		expect(emulator.content('/m.txt')?.toString()).toBe('three');
	});
});

describe('listing', () => {
	it(`lists 10,000 files recursively in pages of ${LIST_PAGE}, folders before their contents`, async () => {
		const total = seedTree('/Big', 100, 100);
		const started = Date.now();
		const entries = await collect(provider({ root: '/Big' }).list('', { recursive: true }));
		const listingCalls = calls('files/list_folder', 'files/list_folder/continue');
		console.log(`dropbox: recursive listing of ${entries.length} entries took ${listingCalls} API calls, ${Date.now() - started} ms`);

		expect(entries).toHaveLength(total);
		expect(beforeTheirFolder(entries)).toEqual([]);
		expect(entries.find((entry) => entry.path === 'Folder 7/file 3.txt')).toMatchObject({ isDir: false, size: 3 });
		expect(listingCalls).toBe(Math.ceil(total / LIST_PAGE));
	});

	it('yields every folder before what it holds even when Dropbox lists files before their folders', async () => {
		await restart({ unorderedListings: true });
		const total = seedTree('/Shuffled', 30, 30);
		emulator.seedFile('/Shuffled/Folder 3/deeper/still/leaf.txt', 'leaf');
		const raw = await fetchRawListing('/Shuffled');
		expect(beforeTheirFolder(raw).length).toBeGreaterThan(0);

		const entries = await collect(provider({ root: '/Shuffled' }).list('', { recursive: true }));
		expect(entries).toHaveLength(total + 3);
		expect(beforeTheirFolder(entries)).toEqual([]);
		expect(new Set(entries.map((entry) => entry.path))).toEqual(new Set(raw.map((entry) => entry.path)));
	});

	it('lists one folder with its direct children only, paging through list_folder/continue', async () => {
		for (let i = 0; i < 2500; i++) emulator.seedFile(`/Wide/f${i}.txt`, 'x');
		emulator.seedFile('/Wide/sub/deeper.txt', 'not listed');
		const entries = await collect(provider().list('Wide'));
		expect(entries).toHaveLength(2501);
		expect(entries.filter((entry) => entry.isDir).map((entry) => entry.path)).toEqual(['Wide/sub']);
		expect(calls('files/list_folder', 'files/list_folder/continue')).toBe(2);
	});
});

describe('uploads', () => {
	it('sends a 20 MiB file through an upload session in 8 MiB chunks, retrying a chunk that failed once', async () => {
		const size = 20 * MiB + 5;
		emulator.server.inject({ route: /append_v2/, kind: 'server-error', times: 1 });
		const source = new GeneratedStream(size, 'session-20MiB', ['dropbox']);
		const written = await provider().write('big/session.bin', source, { size, hashTypes: ['dropbox'] });

		const appends = Math.ceil(size / CHUNK) - 2;
		expect(calls('files/upload_session/start')).toBe(1);
		expect(emulator.requests('files/upload_session/append_v2').map((entry) => entry.status)).toEqual([500, ...Array(appends).fill(200)]);
		expect(calls('files/upload_session/finish')).toBe(1);
		expect(calls('files/upload')).toBe(0);
		expect(sha256(emulator.content('/big/session.bin')!)).toBe(source.hashes.sha256);
		expect(written).toMatchObject({ path: 'big/session.bin', size, hashes: { dropbox: source.hashes.dropbox } });
		expect(emulator.stat('/big/session.bin')).toMatchObject({ content_hash: source.hashes.dropbox });
	});

	it('streams a large file holding about one chunk, not the file', async () => {
		const size = 48 * MiB;
		// The first append is slowed down so the source can be looked at while it is in flight.
		emulator.server.inject({ route: /append_v2/, kind: 'slow', delayMs: 300, times: 1 });
		const source = new GeneratedStream(size, 'bounded-memory', []);
		const writing = provider().write('bounded.bin', source, { size });
		while (calls('files/upload_session/append_v2') === 0) await new Promise((resolve) => setTimeout(resolve, 5));
		const generatedDuringFirstAppend = source.generated;
		await writing;
		// The chunk in flight, the next one being filled, and the streams' own small buffers.
		expect(generatedDuringFirstAppend).toBeLessThanOrEqual(2 * CHUNK + 4 * MiB);
		expect(sha256(emulator.content('/bounded.bin')!)).toBe(source.hashes.sha256);
	});

	it('writes a stream of unknown size larger than a chunk, closing the session on its last bytes', async () => {
		const data = pseudoRandomBytes(2 * CHUNK + 3, 'unknown-size');
		const written = await provider().write('unknown.bin', irregularStream(data));
		expect(written).toMatchObject({ size: data.length, hashes: localHashes(data, ['dropbox']) });
		expect(fingerprint(emulator.content('/unknown.bin')!)).toEqual(fingerprint(data));
		expect(calls('files/upload_session/finish')).toBe(1);
	});

	it('commits 200 small files written at once in far fewer commits than files, each write resolving with its own hash', async () => {
		const contents = Array.from({ length: 200 }, (_, i) => Buffer.from(`small file number ${i}\n`.repeat(i + 1)));
		const dropbox = provider();
		const written = await Promise.all(contents.map((data, i) => dropbox.write(`batch/${i}.txt`, bufferStream(data), { size: data.length })));

		const commits = calls('files/upload', 'files/upload_session/finish', 'files/upload_session/finish_batch_v2');
		console.log(`dropbox: 200 concurrent small writes took ${commits} commit calls (${calls('files/upload_session/finish_batch_v2')} batches)`);
		expect(commits).toBeLessThanOrEqual(200 / 20);
		written.forEach((entry, i) => expect(entry).toMatchObject({ path: `batch/${i}.txt`, size: contents[i].length, hashes: localHashes(contents[i], ['dropbox']) }));
		expect(contents.map((_, i) => fingerprint(emulator.content(`/batch/${i}.txt`)!))).toEqual(contents.map(fingerprint));
	});

	it('commits in batches as large as the number of concurrent transfers', async () => {
		const transfers = 8;
		const dropbox = provider();
		await inPool(200, transfers, (i) => dropbox.write(`pool/${i}.txt`, bufferStream(`file ${i}`)));
		const commits = calls('files/upload', 'files/upload_session/finish_batch_v2');
		console.log(`dropbox: 200 small writes, ${transfers} at a time, took ${commits} commit calls`);
		expect(commits).toBeLessThanOrEqual(200 / (transfers / 2));
		expect(emulator.paths('/pool')).toHaveLength(200);
	});

	it('fails only the write whose batch entry fails', async () => {
		emulator.seedFolder('/batch/taken');
		const dropbox = provider();
		const results = await Promise.allSettled(['a.txt', 'taken', 'b.txt'].map((name) => dropbox.write(`batch/${name}`, bufferStream(name))));
		expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
		expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(AlreadyExistsError);
		expect(calls('files/upload_session/finish_batch_v2')).toBe(1);
		expect(emulator.stat('/batch/taken')).toMatchObject({ '.tag': 'folder' });
	});

	it('gets every file in while concurrent commits contend for the account and are told too_many_write_operations', async () => {
		await restart({ writeLockMs: 20, contentionRetryAfterSeconds: 0 });
		// Backoff that grows as the real pacer's does, so commits that keep colliding spread out.
		const dropbox = provider({ pacer: quickPacer({ baseDelayMs: 10, maxDelayMs: 500, retriesPerRequest: 10 }) });
		const big = [0, 1, 2].map((i) => pseudoRandomBytes(CHUNK + 1000 * i, `contended-${i}`));
		// Another app holds the account's write lock when the first commit arrives, so contention is certain, not left to timing.
		const release = emulator.occupyWriteLock();
		const released = (async () => {
			while (emulator.contentionRejections === 0) await new Promise((resolve) => setTimeout(resolve, 5));
			release();
		})();
		await Promise.all([
			released,
			...big.map((data, i) => dropbox.write(`contended/big-${i}.bin`, bufferStream(data, MiB), { size: data.length })),
			...Array.from({ length: 50 }, (_, i) => dropbox.write(`contended/small-${i}.txt`, bufferStream(`small ${i}`))),
		]);
		console.log(`dropbox: write contention answered ${emulator.contentionRejections} commits with too_many_write_operations; all retried`);
		expect(emulator.contentionRejections).toBeGreaterThan(0);
		for (const [i, data] of big.entries()) expect(fingerprint(emulator.content(`/contended/big-${i}.bin`)!)).toEqual(fingerprint(data));
		expect(emulator.paths('/contended')).toHaveLength(53);
	});

	it('retries a write answered with 429 too_many_write_operations', async () => {
		emulator.server.inject({ route: /\/files\/upload$/, kind: 'quota-rate-limit', retryAfterSeconds: 0, times: 2 });
		const dropbox = provider();
		await dropbox.write('retried.txt', bufferStream('eventually'));
		expect(emulator.requests('files/upload').map((entry) => entry.status)).toEqual([429, 429, 200]);
		expect(await text(dropbox, 'retried.txt')).toBe('eventually');
	});
});

describe('answers lost after Dropbox did the work', () => {
	const big = pseudoRandomBytes(2 * CHUNK + 11, 'lost-answer');
	const smalls = Array.from({ length: 10 }, (_, i) => Buffer.from(`small ${i}`));
	const cases: Array<{ route: string; fault: RegExp; write: (dropbox: DropboxProvider) => Promise<unknown> }> = [
		{ route: 'files/upload', fault: /\/files\/upload$/, write: (dropbox) => dropbox.write('lost/big.bin', bufferStream(smalls[0])) },
		{ route: 'files/upload_session/append_v2', fault: /append_v2/, write: (dropbox) => dropbox.write('lost/big.bin', bufferStream(big, MiB), { size: big.length }) },
		{ route: 'files/upload_session/finish', fault: /\/finish$/, write: (dropbox) => dropbox.write('lost/big.bin', bufferStream(big, MiB)) },
		{
			route: 'files/upload_session/finish_batch_v2',
			fault: /finish_batch_v2/,
			write: (dropbox) => Promise.all(smalls.map((data, i) => dropbox.write(`lost/${i}.txt`, bufferStream(data)))),
		},
	];

	it.each(cases)('$route: the write still resolves, with the file in place once', async ({ route, fault, write }) => {
		emulator.server.inject({ route: fault, kind: 'reset', times: 1 });
		await write(provider());
		// The first answer never came; the retry found the work done.
		const [first] = emulator.requests(route);
		expect([first.fault, first.status]).toEqual(['reset', undefined]);
		const stored = emulator.paths('/lost').map((path) => fingerprint(emulator.content(path)!));
		const expected = route.endsWith('batch_v2') ? smalls : [route === 'files/upload' ? smalls[0] : big];
		expect(stored).toEqual(expected.map(fingerprint));
	});

	it('delete and move resolve when their answers are lost', async () => {
		emulator.seedFile('/gone.txt', 'gone');
		emulator.seedFile('/from.txt', 'moved');
		emulator.server.inject({ route: /delete_v2|move_v2/, kind: 'reset', times: 2 });
		const dropbox = provider();
		await dropbox.delete('gone.txt');
		expect(await dropbox.move('from.txt', 'to/here.txt')).toMatchObject({ path: 'to/here.txt', size: 5 });
		expect(emulator.paths()).toEqual(['/to', '/to/here.txt']);
		expect(emulator.requests().filter((entry) => entry.fault === 'reset')).toHaveLength(2);
	});
});

describe('deleting a file the sync planned on', () => {
	it('costs one delete_v2 per file, with no listing to check for a folder', async () => {
		for (const side of ['src', 'dst']) for (const name of ['k1', 'k2', 'k3']) emulator.seedFile(`/${side}/${name}.txt`, name);
		emulator.seedFile('/dst/old/a.txt', 'a');
		emulator.seedFile('/dst/b.txt', 'b');
		const result = await sync(provider({ root: '/src' }), provider({ root: '/dst' }), { mode: 'mirror', pacer: new Pacer({ baseDelayMs: 1 }) });
		expect(result).toMatchObject({ status: 'success', deleted: 2 });
		expect(emulator.paths('/dst')).toEqual(['/dst/k1.txt', '/dst/k2.txt', '/dst/k3.txt']);
		const routes = emulator.requests().map((entry) => entry.path);
		// After the listings and the source's second look, each file deleted is one request; the emptied folder is checked, then deleted.
		expect(routes.slice(routes.indexOf('/2/files/delete_v2'))).toEqual(['/2/files/delete_v2', '/2/files/delete_v2', '/2/files/list_folder', '/2/files/delete_v2']);
	});

	it('keeps a file another app rewrote between the plan and the delete, and reports it', async () => {
		for (const side of ['src', 'dst']) for (const name of ['k1', 'k2', 'k3']) emulator.seedFile(`/${side}/${name}.txt`, name);
		emulator.seedFile('/dst/old.txt', 'planned');
		const destination = provider({ root: '/dst' });
		const deleteNow = destination.delete.bind(destination);
		destination.delete = async (path, options) => {
			emulator.seedFile(`/dst/${path}`, 'rewritten meanwhile');
			return deleteNow(path, options);
		};
		const result = await sync(provider({ root: '/src' }), destination, { mode: 'mirror', pacer: new Pacer({ baseDelayMs: 1 }) });
		expect(result).toMatchObject({ deleted: 0, failed: 1 });
		expect(result.errors.map((error) => error.message)).toEqual([expect.stringContaining('old.txt changed after the sync was planned; it was not deleted')]);
		expect(emulator.content('/dst/old.txt')?.toString()).toBe('rewritten meanwhile');
	});

	it('a two-way run deletes what the other side lost with one delete_v2 each, over the rev it planned on', async () => {
		for (const side of ['src', 'dst']) for (const name of ['k1', 'k2', 'gone1', 'gone2']) emulator.seedFile(`/${side}/${name}.txt`, name);
		const options = { state: new MemoryStateStore(), pair: 'pair', pacer: new Pacer({ baseDelayMs: 1 }), lock: false as const };
		expect((await twoWaySync(provider({ root: '/src' }), provider({ root: '/dst' }), options)).status).toBe('success');
		emulator.remove('/src/gone1.txt');
		emulator.remove('/src/gone2.txt');
		const before = emulator.requests().length;
		const report = await twoWaySync(provider({ root: '/src' }), provider({ root: '/dst' }), options);
		expect(report).toMatchObject({ status: 'success', toDestination: { deleted: 2 } });
		expect(emulator.paths('/dst')).toEqual(['/dst/k1.txt', '/dst/k2.txt']);
		const deletes = emulator.requests().slice(before).filter((entry) => entry.path === '/2/files/delete_v2' || (entry.path === '/2/files/list_folder' && (entry.arg ?? '').includes('gone')));
		expect(deletes.map((entry) => [entry.path, (JSON.parse(entry.arg!) as { parent_rev?: string }).parent_rev !== undefined])).toEqual([
			['/2/files/delete_v2', true],
			['/2/files/delete_v2', true],
		]);
	});

	it('a two-way run keeps a file rewritten between its plan and the delete, and reports it', async () => {
		for (const side of ['src', 'dst']) for (const name of ['k1', 'old']) emulator.seedFile(`/${side}/${name}.txt`, name);
		const options = { state: new MemoryStateStore(), pair: 'pair', pacer: new Pacer({ baseDelayMs: 1 }), lock: false as const };
		expect((await twoWaySync(provider({ root: '/src' }), provider({ root: '/dst' }), options)).status).toBe('success');
		emulator.remove('/src/old.txt');
		const destination = provider({ root: '/dst' });
		const deleteNow = destination.delete.bind(destination);
		destination.delete = async (path, deleteOptions) => {
			emulator.seedFile(`/dst/${path}`, 'rewritten meanwhile');
			return deleteNow(path, deleteOptions);
		};
		const report = await twoWaySync(provider({ root: '/src' }), destination, options);
		expect(report).toMatchObject({ status: 'failed', toDestination: { deleted: 0 } });
		expect(report.errors.map((error) => error.message)).toEqual([expect.stringContaining('old.txt changed after the sync was planned; it was not deleted')]);
		expect(emulator.content('/dst/old.txt')?.toString()).toBe('rewritten meanwhile');
	});

	describe.each(['path_lookup/not_found', 'path_write/conflict/file'] as const)('when Dropbox refuses a stale rev with %s', (staleParentRev) => {
		beforeEach(() => restart({ staleParentRev }));

		it('keeps a file written after the plan saw it, and says it changed', async () => {
			emulator.seedFile('/notes.txt', 'planned');
			const dropbox = provider();
			const planned = await dropbox.stat('notes.txt');
			emulator.seedFile('/notes.txt', 'written by another app meanwhile');
			const refused = dropbox.delete('notes.txt', { planned });
			await expect(refused).rejects.toThrow(ChangedSincePlannedError);
			await expect(refused).rejects.toThrow('notes.txt changed after the sync was planned; it was not deleted');
			expect(emulator.content('/notes.txt')?.toString()).toBe('written by another app meanwhile');
		});

		it('is done when an earlier attempt deleted the file and its answer was lost', async () => {
			emulator.seedFile('/gone.txt', 'gone');
			const dropbox = provider();
			const planned = await dropbox.stat('gone.txt');
			emulator.server.inject({ route: /delete_v2/, kind: 'reset', times: 1 });
			await dropbox.delete('gone.txt', { planned });
			expect(emulator.paths()).toEqual([]);
			expect(emulator.requests('files/delete_v2').map((entry) => entry.fault ?? entry.status)).toEqual(['reset', 409]);
		});

		it('says not found when the planned file is gone', async () => {
			emulator.seedFile('/gone.txt', 'gone');
			const dropbox = provider();
			const planned = await dropbox.stat('gone.txt');
			emulator.remove('/gone.txt');
			await expect(dropbox.delete('gone.txt', { planned })).rejects.toThrow(NotFoundError);
		});
	});

	it('still refuses a folder that is not empty, planned or not', async () => {
		emulator.seedFile('/full/inside.txt', 'x');
		const dropbox = provider();
		const planned = await dropbox.stat('full');
		await expect(dropbox.delete('full', { planned })).rejects.toThrow(NotEmptyError);
		await expect(dropbox.delete('full')).rejects.toThrow(NotEmptyError);
		expect(emulator.paths()).toEqual(['/full', '/full/inside.txt']);
	});
});

describe('content_hash', () => {
	// The published vectors up to just past one 4 MiB block; longer ones only cost upload time here.
	const vectors = DROPBOX_HASH_VECTORS.filter(([size]) => size <= 4194305);

	it('is the published value for written, listed and hashed files, and our local computation agrees', async () => {
		const dropbox = provider();
		for (const [size, expected] of vectors) {
			const data = Buffer.alloc(size, 'A');
			expect(localHashes(data, ['dropbox']).dropbox).toBe(expected);
			expect((await dropbox.write(`vectors/${size}.bin`, bufferStream(data), { size })).hashes.dropbox).toBe(expected);
			expect(await dropbox.hash(`vectors/${size}.bin`, ['dropbox'])).toEqual({ dropbox: expected });
		}
		const listed = await collect(dropbox.list('vectors'));
		expect(Object.fromEntries(listed.map((entry) => [entry.size, entry.hashes.dropbox]))).toEqual(Object.fromEntries(vectors));
	});
});

describe('case-insensitive paths', () => {
	it('finds, reads, overwrites and moves a file by any casing, keeping the casing it was created with', async () => {
		const dropbox = provider();
		await dropbox.write('Reports/Q1 Summary.TXT', bufferStream('first'));
		expect(await dropbox.stat('reports/q1 summary.txt')).toMatchObject({ path: 'Reports/Q1 Summary.TXT', size: 5 });
		expect(await text(dropbox, 'REPORTS/Q1 SUMMARY.txt')).toBe('first');
		await dropbox.mkdir('REPORTS');
		const overwritten = await dropbox.write('reports/q1 summary.txt', bufferStream('second'));
		expect(overwritten.path).toBe('Reports/Q1 Summary.TXT');
		expect(emulator.paths()).toEqual(['/Reports', '/Reports/Q1 Summary.TXT']);
		expect(await text(dropbox, 'Reports/Q1 Summary.TXT')).toBe('second');
		const moved = await dropbox.move('REPORTS/q1 SUMMARY.txt', 'reports/Archive/q1.txt');
		expect(moved.path).toBe('Reports/Archive/q1.txt');
	});
});

describe('errors', () => {
	type Failing = { dropbox: string; action: (dropbox: DropboxProvider) => Promise<unknown>; expected: new (...args: never[]) => Error };
	const cases: Failing[] = [
		{ dropbox: 'path/not_found on stat', action: (dropbox) => dropbox.stat('missing.txt'), expected: NotFoundError },
		{ dropbox: 'from_lookup/not_found on move', action: (dropbox) => dropbox.move('missing.txt', 'there.txt'), expected: NotFoundError },
		{ dropbox: 'path/not_found on read', action: (dropbox) => dropbox.read('missing.txt'), expected: NotFoundError },
		{ dropbox: 'path/conflict/folder on upload', action: (dropbox) => dropbox.write('folder', bufferStream('x')), expected: AlreadyExistsError },
		{ dropbox: 'path/conflict/file on create_folder', action: (dropbox) => dropbox.mkdir('file.txt'), expected: AlreadyExistsError },
		{ dropbox: 'to/conflict/folder on move', action: (dropbox) => dropbox.move('other', 'folder'), expected: AlreadyExistsError },
		{ dropbox: 'path/insufficient_space on upload', action: (dropbox) => dropbox.write('huge.bin', bufferStream(Buffer.alloc(5000))), expected: StorageFullError },
		{ dropbox: 'insufficient_quota on copy', action: (dropbox) => dropbox.copy('file.txt', 'copy.txt'), expected: StorageFullError },
		{ dropbox: 'path/no_write_permission on upload', action: (dropbox) => dropbox.write('Read Only/x.txt', bufferStream('x')), expected: PermissionError },
		{ dropbox: 'path_write/no_write_permission on delete', action: (dropbox) => dropbox.delete('Read Only/kept.txt'), expected: PermissionError },
		{ dropbox: 'path/disallowed_name on upload', action: (dropbox) => dropbox.write('desktop.ini', bufferStream('x')), expected: InvalidNameError },
		{ dropbox: 'path/malformed_path on upload', action: (dropbox) => dropbox.write('ends with space ', bufferStream('x')), expected: InvalidNameError },
		{ dropbox: 'cant_move_folder_into_itself', action: (dropbox) => dropbox.move('folder', 'folder/inner/folder'), expected: InvalidPathError },
	];

	it.each(cases)('maps $dropbox to $expected.name, and changes nothing', async ({ action, expected }) => {
		await restart({ quotaBytes: 3000 });
		emulator.seedFolder('/folder');
		emulator.seedFolder('/other');
		emulator.seedFile('/file.txt', Buffer.alloc(2000));
		emulator.seedFile('/Read Only/kept.txt', 'kept');
		emulator.denyWrites('/Read Only');
		const before = emulator.paths();
		const failure = await action(provider()).then(
			() => undefined,
			(error: unknown) => error,
		);
		expect(failure).toBeInstanceOf(expected);
		// Errors that need the user to act say what to do.
		if (!(failure instanceof NotFoundError || failure instanceof AlreadyExistsError)) expect((failure as CloudSyncError).hint).toEqual(expect.any(String));
		expect(emulator.paths()).toEqual(before);
	});

	it('honours Retry-After on a 429', async () => {
		emulator.seedFile('/f.txt', 'f');
		emulator.server.inject({ route: /get_metadata/, kind: 'rate-limit', retryAfterSeconds: 1, times: 1 });
		const started = Date.now();
		await provider({ pacer: quickPacer() }).stat('f.txt');
		expect(Date.now() - started).toBeGreaterThanOrEqual(950);
		expect(emulator.requests('files/get_metadata').map((entry) => entry.status)).toEqual([429, 200]);
	});

	it('gives up with RateLimitError when the rate limit outlasts the retries', async () => {
		emulator.seedFile('/f.txt', 'f');
		emulator.server.inject({ route: /get_metadata/, kind: 'rate-limit', retryAfterSeconds: 0 });
		const failure = provider({ pacer: quickPacer({ retriesPerRequest: 2 }) }).stat('f.txt');
		await expect(failure).rejects.toBeInstanceOf(RateLimitError);
		await expect(failure).rejects.toMatchObject({ hint: expect.stringContaining('later') });
		expect(calls('files/get_metadata')).toBe(3);
	});

	it('retries 500 and 503 answers', async () => {
		emulator.seedFile('/f.txt', 'f');
		emulator.server.inject({ route: /get_metadata/, kind: 'server-error', times: 1 });
		emulator.server.inject({ route: /get_metadata/, kind: 'unavailable', times: 1 });
		expect(await provider().stat('f.txt')).toMatchObject({ path: 'f.txt', size: 1 });
		expect(emulator.requests('files/get_metadata').map((entry) => entry.status)).toEqual([500, 503, 200]);
	});

	it('reports a stale change cursor with a hint to run a full sync', async () => {
		const dropbox = provider();
		const cursor = await dropbox.changeCursor();
		emulator.resetCursors();
		await expect(dropbox.changesSince(cursor)).rejects.toMatchObject({ hint: expect.stringContaining('full sync') });
	});
});

describe('downloads', () => {
	/** The Range header of every download request, in order. */
	const rangesAsked = () => emulator.requests('files/download').map((entry) => emulator.server.headersOf(entry)?.range);

	it('reads a file in ranged pieces, asking again from the byte where a truncated or a dropped body stopped', async () => {
		const data = pseudoRandomBytes(10 * MiB + 17, 'download');
		emulator.seedFile('/d.bin', data);
		const chunk = 4 * MiB;
		const dropbox = provider({ downloadChunkSize: chunk });
		emulator.server.inject({ route: /download/, kind: 'truncate', times: 1 });
		emulator.server.inject({ route: /download/, kind: 'reset', times: 1 });
		expect(fingerprint(await readAll(await dropbox.read('d.bin')))).toEqual(fingerprint(data));
		// Each fault delivers half of what was asked; the next request starts at the first byte missing.
		expect(rangesAsked()).toEqual([`bytes=0-${chunk - 1}`, `bytes=${chunk / 2}-${chunk / 2 + chunk - 1}`, `bytes=${chunk}-${2 * chunk - 1}`, `bytes=${2 * chunk}-${data.length - 1}`]);

		const partial = await readAll(await dropbox.read('d.bin', { start: 5 * MiB, end: 9 * MiB + 7 }));
		expect(fingerprint(partial)).toEqual(fingerprint(data.subarray(5 * MiB, 9 * MiB + 7)));
	});

	it('streams a large file in bounded ranges and survives a connection dropped mid-range, byte-identical', async () => {
		const data = pseudoRandomBytes(40 * MiB + 5, 'large download');
		emulator.seedFile('/big.bin', data);
		emulator.server.inject({ route: /download/, kind: 'reset', times: 1 });
		const dropbox = provider({ downloadChunkSize: 16 * MiB });
		const stream = await dropbox.read('big.bin');
		const pieces: Buffer[] = [];
		let largest = 0;
		for await (const piece of stream as AsyncIterable<Buffer>) {
			largest = Math.max(largest, piece.length);
			pieces.push(piece);
		}
		expect(sha256(Buffer.concat(pieces))).toBe(sha256(data));
		// Handed on as the network delivers it, never a whole range at once.
		expect(largest).toBeLessThan(MiB);
		expect(rangesAsked()).toEqual([`bytes=0-${16 * MiB - 1}`, `bytes=${8 * MiB}-${24 * MiB - 1}`, `bytes=${24 * MiB}-${40 * MiB - 1}`, `bytes=${40 * MiB}-${data.length - 1}`]);
	});

	it('fails with a retryable error once requests for the rest keep breaking off before their first byte', async () => {
		emulator.seedFile('/f.bin', pseudoRandomBytes(2 * MiB, 'broken'));
		emulator.server.inject({ route: /download/, kind: 'reset', times: 100 });
		const failure = await readAll(await provider().read('f.bin')).catch((error: unknown) => error);
		expect(failure).toBeInstanceOf(TransientError);
		expect(String(failure)).toContain('broke off');
	});

	it('asks again for a download that does not answer within the request timeout', async () => {
		const data = pseudoRandomBytes(MiB + 3, 'slow');
		emulator.seedFile('/slow.bin', data);
		emulator.server.inject({ route: /download/, kind: 'slow', delayMs: 1500, times: 1 });
		const read = await readAll(await provider({ requestTimeoutMs: 300 }).read('slow.bin'));
		expect(sha256(read)).toBe(sha256(data));
		expect(calls('files/download')).toBe(2);
	});

	it('asks again for any call that does not answer within the request timeout', async () => {
		emulator.seedFile('/quick.txt', 'q');
		emulator.server.inject({ route: /get_metadata/, kind: 'slow', delayMs: 1500, times: 1 });
		expect((await provider({ requestTimeoutMs: 300 }).stat('quick.txt')).size).toBe(1);
		expect(calls('files/get_metadata')).toBe(2);
	});

	it('keeps reading the version it started with when the file is replaced mid-read', async () => {
		const original = pseudoRandomBytes(3 * MiB, 'original');
		emulator.seedFile('/v.bin', original);
		const stream = await provider({ downloadChunkSize: MiB }).read('v.bin');
		emulator.seedFile('/v.bin', pseudoRandomBytes(3 * MiB, 'replacement'));
		expect(fingerprint(await readAll(stream))).toEqual(fingerprint(original));
	});
});

describe('tokens', () => {
	it('refreshes an access token Dropbox reports expired, once for all the calls that hit it', async () => {
		emulator.seedFile('/f.txt', 'f');
		const dropbox = provider();
		await dropbox.stat('f.txt');
		emulator.expireAccessTokens();
		const stats = await Promise.all(Array.from({ length: 5 }, () => dropbox.stat('f.txt')));
		expect(stats.map((entry) => entry.size)).toEqual([1, 1, 1, 1, 1]);
		expect(calls('oauth2/token')).toBe(2);
		expect(emulator.requests('files/get_metadata').filter((entry) => entry.status === 401)).toHaveLength(5);
	});

	it('uses a stored access token until shortly before it expires, then refreshes before calling', async () => {
		emulator.seedFile('/f.txt', 'f');
		const fresh = emulated({ accessToken: emulator.issueAccessToken(3600), accessTokenExpiresAt: Date.now() + 3600_000 });
		await fresh.stat('f.txt');
		expect(calls('oauth2/token')).toBe(0);

		const expiring = emulated({ accessToken: emulator.issueAccessToken(60), accessTokenExpiresAt: Date.now() + 60_000 });
		await expiring.stat('f.txt');
		expect(calls('oauth2/token')).toBe(1);
		expect(emulator.requests('files/get_metadata').map((entry) => entry.status)).toEqual([200, 200]);
	});

	it('fails with AuthenticationError, and no secret in it, when access was revoked', async () => {
		emulator.seedFile('/f.txt', 'f');
		const dropbox = provider();
		await dropbox.stat('f.txt');
		emulator.revokeAccess();
		const failure = await dropbox.stat('f.txt').catch((error: unknown) => error);
		expect(failure).toBeInstanceOf(AuthenticationError);
		expect((failure as AuthenticationError).hint).toMatch(/Reconnect/);
		expectNoSecrets(failure);
	});

	it('fails with AuthenticationError naming the app credentials, and no secret in it, when the app secret is wrong', async () => {
		const wrongSecret = randomBytes(12).toString('hex');
		const failure = await emulated({ clientSecret: wrongSecret })
			.stat('f.txt')
			.catch((error: unknown) => error);
		expect(failure).toBeInstanceOf(AuthenticationError);
		expect((failure as AuthenticationError).hint).toMatch(/app key and app secret/);
		expectNoSecrets(failure, wrongSecret);
	});

	it('keeps secrets out of the error when Dropbox cannot be reached', async () => {
		const dropbox = provider({ pacer: quickPacer({ retriesPerRequest: 1 }) });
		await emulator.stop();
		const failure = await dropbox.stat('f.txt').catch((error: unknown) => error);
		expect(failure).toBeInstanceOf(TransientError);
		expect(String(failure)).toMatch(/could not be reached.*ECONNREFUSED/);
		expectNoSecrets(failure);
		await restart();
	});

	function emulated(auth: Partial<DropboxProviderOptions['auth']>): DropboxProvider {
		return new DropboxProvider({ auth: { ...emulator.credentials, ...auth }, apiBaseUrl: emulator.baseUrl, pacer: quickPacer() });
	}

	function expectNoSecrets(error: unknown, ...more: string[]): void {
		const everything = [String(error), (error as CloudSyncError).hint ?? '', inspect(error, { depth: 10 })].join('\n');
		for (const secret of [emulator.credentials.clientSecret, emulator.credentials.refreshToken, ...emulator.issuedAccessTokens, ...more]) {
			expect(everything).not.toContain(secret);
		}
	}
});

describe('change cursors', () => {
	it('finds one change in a 10,000-file tree in at most 3 API calls', async () => {
		seedTree('', 100, 100);
		const dropbox = provider();
		const before = emulator.server.log.length;
		const cursor = await dropbox.changeCursor();
		emulator.seedFile('/Folder 42/file 7.txt', 'changed');
		const page = await dropbox.changesSince(cursor);
		const used = emulator.server.log.length - before;
		console.log(`dropbox: an incremental pass over a 10,100-entry tree with one change took ${used} API calls (token refresh included)`);
		expect(used).toBeLessThanOrEqual(3);
		expect(page.changes).toEqual([
			{ kind: 'modified', path: 'Folder 42/file 7.txt', isDir: false, entry: expect.objectContaining({ size: 7, hashes: localHashes(Buffer.from('changed'), ['dropbox']) }) },
		]);
		expect((await dropbox.changesSince(page.cursor)).changes).toEqual([]);
	});

	it('reports deletions, changes in subfolders, and a move as deleted + added, below the root only', async () => {
		emulator.seedFile('/Sync/a/b/old.txt', 'old');
		emulator.seedFile('/Sync/gone/inside.txt', 'inside');
		emulator.seedFile('/Sync/x.txt', 'x');
		const dropbox = provider({ root: '/Sync' });
		const cursor = await dropbox.changeCursor();

		await dropbox.delete('a/b/old.txt');
		await dropbox.write('a/b/c/new.txt', bufferStream('new'));
		await dropbox.delete('gone', { recursive: true });
		await dropbox.move('x.txt', 'y/x.txt');
		emulator.seedFile('/Elsewhere/not-ours.txt', 'outside the root');
		emulator.seedFile('/Sync/a/b/c/new.txt', 'changed by another client');

		const { changes } = await dropbox.changesSince(cursor);
		expect(changes.map((change) => `${change.kind} ${change.path}`)).toEqual([
			'deleted a/b/old.txt',
			'added a/b/c',
			'modified a/b/c/new.txt',
			'deleted gone',
			'added y',
			'deleted x.txt',
			'modified y/x.txt',
			'modified a/b/c/new.txt',
		]);
		expect(changes[changes.length - 1].entry).toMatchObject({ size: 'changed by another client'.length });
	});
});
