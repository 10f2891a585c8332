import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalProvider } from '../lib/providers/local';
import { smallFileCopier } from '../lib/providers/localCopier';
import { sync } from '../lib';
import { CloudSyncError, VerificationError } from '../lib/core/errors';

/** Copies between two local folders: small files go through the copying thread, larger ones through Node's thread pool. */
describe('copying between local folders', () => {
	const cleanups: string[] = [];
	const made = async (label: string) => {
		const dir = await fs.mkdtemp(path.join(os.tmpdir(), `cloudsync-${label}-`));
		cleanups.push(dir);
		return dir;
	};
	afterEach(async () => {
		await Promise.all(cleanups.splice(0).map((dir) => fs.rm(dir, { recursive: true, force: true })));
	});

	const staged = async (root: string) => fs.readdir(path.join(root, '.cloudsync', 'tmp')).catch(() => []);
	const MODIFIED = Date.UTC(2025, 4, 6, 7, 8, 9, 123);

	it('a Copy of many small files and one large keeps every byte, modification time and permission, and leaves nothing staged', async () => {
		const source = await made('copy-src');
		const destination = await made('copy-dst');
		const files = new Map<string, { bytes: Buffer; mode: number }>();
		for (let i = 0; i < 60; i++) {
			const name = `dir-${i % 3}/sub-${i % 2}/file-${i}.bin`;
			// 0o666 and 0o777: bits a usual umask (022) clears when the staged file is created, which the copy sets again.
			const mode = i % 5 === 0 ? 0o755 : i % 7 === 0 ? 0o666 : i % 11 === 0 ? 0o777 : 0o640;
			files.set(name, { bytes: randomBytes(i === 0 ? 0 : 1 + ((i * 977) % 65536)), mode });
		}
		files.set('large.bin', { bytes: randomBytes(300 * 1024), mode: 0o600 });
		for (const [name, { bytes, mode }] of files) {
			const full = path.join(source, ...name.split('/'));
			await fs.mkdir(path.dirname(full), { recursive: true });
			await fs.writeFile(full, bytes);
			await fs.chmod(full, mode);
			await fs.utimes(full, new Date(MODIFIED), new Date(MODIFIED));
		}

		const report = await sync(await LocalProvider.open(source), await LocalProvider.open(destination), { mode: 'copy' });

		expect(report.status).toBe('success');
		expect(report.added).toBe(files.size);
		for (const [name, { bytes, mode }] of files) {
			const full = path.join(destination, ...name.split('/'));
			expect((await fs.readFile(full)).equals(bytes)).toBe(true);
			const stats = await fs.stat(full);
			expect(Math.round(stats.mtimeMs)).toBe(MODIFIED);
			expect(stats.mode & 0o777).toBe(mode);
		}
		expect(await staged(destination)).toEqual([]);
	});

	it('a source that is longer or shorter than when it was looked at is not staged, and says so', async () => {
		const root = await made('copy-changed');
		const source = path.join(root, 'source.bin');
		await fs.writeFile(source, randomBytes(5000));
		const job = { source, modTime: MODIFIED, mode: 0o644 };

		const grown = smallFileCopier.stage({ ...job, temp: path.join(root, 'staged-1'), size: 4000 }, 'source.bin');
		await expect(grown).rejects.toBeInstanceOf(VerificationError);
		await expect(grown).rejects.toThrow('source.bin changed while it was copied (more than 4000 of 4000 bytes read)');
		const shrunk = smallFileCopier.stage({ ...job, temp: path.join(root, 'staged-2'), size: 6000 }, 'source.bin');
		await expect(shrunk).rejects.toThrow('source.bin changed while it was copied (5000 of 6000 bytes read)');
		const missing = smallFileCopier.stage({ ...job, source: path.join(root, 'gone.bin'), temp: path.join(root, 'staged-3'), size: 10 }, 'gone.bin');
		await expect(missing).rejects.toMatchObject({ code: 'ENOENT' });
		expect(await fs.readdir(root)).toEqual(['source.bin']);
	});

	it('a source one byte longer than expected fails, and one of the expected length is staged whole, at every size where reading turns (empty, the thread buffer of 64 KiB, past it)', async () => {
		const root = await made('copy-edges');
		for (const size of [0, 1, 64 * 1024, 64 * 1024 + 1, 200_000]) {
			const bytes = randomBytes(size + 1);
			const source = path.join(root, `source-${size}.bin`);
			await fs.writeFile(source, bytes);
			const job = { source, size, modTime: MODIFIED, mode: 0o600 };
			await expect(smallFileCopier.stage({ ...job, temp: path.join(root, `grown-${size}`) }, `source-${size}.bin`)).rejects.toThrow(
				`source-${size}.bin changed while it was copied (more than ${size} of ${size} bytes read)`,
			);
			await fs.truncate(source, size);
			await smallFileCopier.stage({ ...job, temp: path.join(root, `staged-${size}`) }, `source-${size}.bin`);
			expect((await fs.readFile(path.join(root, `staged-${size}`))).equals(bytes.subarray(0, size))).toBe(true);
		}
		expect((await fs.readdir(root)).filter((name) => name.startsWith('grown-'))).toEqual([]);
	});

	it('jobs sent together, split over the threads, each get their own answer: content, a changed source or a missing one', async () => {
		const root = await made('copy-batch');
		const jobs = Array.from({ length: 30 }, (_, i) => {
			const kind = ['copied', 'grown', 'missing'][i % 3];
			return { i, kind, name: `source-${i}.bin`, content: randomBytes(100 + i) };
		});
		for (const { kind, name, content } of jobs) {
			if (kind !== 'missing') await fs.writeFile(path.join(root, name), content);
		}
		// Queued in one tick: they go over in one batch, shared between the threads, and answers come back per thread.
		const outcomes = await Promise.allSettled(
			jobs.map(({ i, kind, name, content }) =>
				smallFileCopier.stage(
					{ source: path.join(root, name), temp: path.join(root, `staged-${i}`), size: kind === 'grown' ? content.length - 1 : content.length, modTime: MODIFIED, mode: 0o644 },
					name,
				),
			),
		);
		for (const [at, { i, kind, name, content }] of jobs.entries()) {
			const outcome = outcomes[at];
			if (kind === 'copied') {
				expect(outcome.status).toBe('fulfilled');
				expect((await fs.readFile(path.join(root, `staged-${i}`))).equals(content)).toBe(true);
			} else if (kind === 'grown') {
				expect(outcome).toMatchObject({ status: 'rejected', reason: { message: `${name} changed while it was copied (more than ${content.length - 1} of ${content.length - 1} bytes read)` } });
			} else {
				expect(outcome).toMatchObject({ status: 'rejected', reason: { code: 'ENOENT' } });
			}
		}
		expect((await fs.readdir(root)).filter((name) => name.startsWith('staged-')).sort()).toEqual(jobs.filter(({ kind }) => kind === 'copied').map(({ i }) => `staged-${i}`).sort());
	});

	it('never writes through a file or link already at the staging name', async () => {
		const root = await made('copy-exclusive');
		const outside = await made('copy-outside');
		await fs.writeFile(path.join(root, 'source.bin'), 'new bytes');
		await fs.symlink(path.join(outside, 'target.txt'), path.join(root, 'staged'));
		const staging = smallFileCopier.stage({ source: path.join(root, 'source.bin'), temp: path.join(root, 'staged'), size: 9, modTime: MODIFIED, mode: 0o644 }, 'source.bin');
		await expect(staging).rejects.toMatchObject({ code: 'EEXIST' });
		expect(await fs.readdir(outside)).toEqual([]);
	});

	it('copies through no link: a source folder that is a link, and a destination or staging folder replaced by a link out of the root, are refused with nothing written outside', async () => {
		const sourceRoot = await made('copy-links-src');
		const destinationRoot = await made('copy-links-dst');
		const outside = await made('copy-links-outside');
		await fs.mkdir(path.join(sourceRoot, 'real'));
		await fs.writeFile(path.join(sourceRoot, 'real', 'a.txt'), 'inside');
		await fs.mkdir(path.join(outside, 'secrets'));
		await fs.writeFile(path.join(outside, 'secrets', 'b.txt'), 'outside');
		await fs.symlink(path.join(outside, 'secrets'), path.join(sourceRoot, 'linked'));
		const source = await LocalProvider.open(sourceRoot);
		const destination = await LocalProvider.open(destinationRoot);
		const outsideNames = async () => (await fs.readdir(outside)).sort();

		await expect(destination.copyFrom(source, 'linked/b.txt', 'b.txt')).rejects.toBeInstanceOf(CloudSyncError);
		await expect(fs.readdir(destinationRoot)).resolves.not.toContain('b.txt');

		await destination.copyFrom(source, 'real/a.txt', 'sub/a.txt');
		expect(await fs.readFile(path.join(destinationRoot, 'sub', 'a.txt'), 'utf8')).toBe('inside');

		await fs.rename(path.join(destinationRoot, 'sub'), path.join(destinationRoot, 'sub-moved'));
		await fs.mkdir(path.join(outside, 'sub'));
		await fs.symlink(path.join(outside, 'sub'), path.join(destinationRoot, 'sub'));
		await expect(destination.copyFrom(source, 'real/a.txt', 'sub/again.txt')).rejects.toThrow(/symbolic link/);
		expect(await fs.readdir(path.join(outside, 'sub'))).toEqual([]);

		const staging = path.join(destinationRoot, '.cloudsync', 'tmp');
		await fs.rm(staging, { recursive: true });
		await fs.mkdir(path.join(outside, 'tmp'));
		await fs.symlink(path.join(outside, 'tmp'), staging);
		await expect(destination.copyFrom(source, 'real/a.txt', 'c.txt')).rejects.toBeInstanceOf(CloudSyncError);
		expect(await fs.readdir(path.join(outside, 'tmp'))).toEqual([]);
		await expect(fs.readdir(destinationRoot)).resolves.not.toContain('c.txt');
		expect(await outsideNames()).toEqual(['secrets', 'sub', 'tmp']);
	});

	it('when the copying thread ends mid-run, its copies fail with a clear error and leave no file; the next copies start a new thread', async () => {
		const source = await made('copy-crash-src');
		const destination = await made('copy-crash-dst');
		const names = Array.from({ length: 8 }, (_, i) => `f-${i}.txt`);
		for (const name of names) await fs.writeFile(path.join(source, name), `content of ${name}`);
		const from = await LocalProvider.open(source);
		const to = await LocalProvider.open(destination);
		// A first copy makes the staging folder, so that the next ones reach the thread without waiting on the disk.
		await fs.writeFile(path.join(source, 'first.txt'), 'first');
		await to.copyFrom(from, 'first.txt', 'first.txt');
		await smallFileCopier.stopThread();

		const copies = names.map((name) => to.copyFrom(from, name, name));
		// Every job has been handed to the new thread once the microtasks ran; it is still starting.
		await new Promise((resolve) => setImmediate(resolve));
		await smallFileCopier.stopThread();
		const outcomes = await Promise.allSettled(copies);

		const failed = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
		expect(failed.length).toBeGreaterThan(0);
		for (const { reason } of failed) {
			expect(reason).toBeInstanceOf(CloudSyncError);
			expect((reason as Error).message).toMatch(/^The thread that copies small local files stopped \(exit code \d+\); the files it was copying were not copied$/);
		}
		const landed = await fs.readdir(destination);
		for (const [i, outcome] of outcomes.entries()) {
			// A copy either landed whole or left nothing at all.
			if (outcome.status === 'fulfilled') expect(await fs.readFile(path.join(destination, names[i]), 'utf8')).toBe(`content of ${names[i]}`);
			else expect(landed).not.toContain(names[i]);
		}
		expect(await staged(destination)).toEqual([]);

		await Promise.all(names.map((name) => to.copyFrom(from, name, name)));
		for (const name of names) expect(await fs.readFile(path.join(destination, name), 'utf8')).toBe(`content of ${name}`);
	});

	it('keeps several small copies queued for the copying threads, while large copies stay within the transfers asked for', async () => {
		const source = await made('copy-queue-src');
		const destination = await made('copy-queue-dst');
		const small = Array.from({ length: 40 }, (_, i) => `small-${i}.txt`);
		const large = Array.from({ length: 4 }, (_, i) => `large-${i}.bin`);
		for (const name of small) await fs.writeFile(path.join(source, name), `bytes of ${name}`);
		for (const name of large) await fs.writeFile(path.join(source, name), randomBytes(300 * 1024));
		const to = await LocalProvider.open(destination);
		const copyFrom = to.copyFrom.bind(to);
		const running = { small: 0, large: 0 };
		const most = { small: 0, large: 0 };
		to.copyFrom = async (from, fromPath, toPath) => {
			const kind = fromPath.startsWith('large') ? 'large' : 'small';
			running[kind]++;
			most[kind] = Math.max(most[kind], running[kind]);
			try {
				// Long enough for the executor to start whatever else it may start meanwhile.
				await new Promise((resolve) => setTimeout(resolve, 20));
				return await copyFrom(from, fromPath, toPath);
			} finally {
				running[kind]--;
			}
		};

		const report = await sync(await LocalProvider.open(source), to, { mode: 'copy', transfers: 1 });

		expect(report.status).toBe('success');
		expect(report.added).toBe(small.length + large.length);
		expect(most.large).toBe(1);
		expect(most.small).toBeGreaterThan(1);
		for (const name of small) expect(await fs.readFile(path.join(destination, name), 'utf8')).toBe(`bytes of ${name}`);
	});

	it('starts the copying threads when a run that copies begins, before its folders are made, and not for a run with nothing to copy', async () => {
		const source = await made('copy-warm-src');
		const destination = await made('copy-warm-dst');
		await fs.mkdir(path.join(source, 'sub'));
		await fs.writeFile(path.join(source, 'sub', 'a.txt'), 'warm bytes');
		const to = await LocalProvider.open(destination);
		const events: string[] = [];
		const queue = to.copyFromQueue;
		Object.defineProperty(to, 'copyFromQueue', { value: { ...queue, warmUp: () => (events.push('warm up'), queue.warmUp()) } });
		const mkdir = to.mkdir.bind(to);
		to.mkdir = async (folder) => {
			events.push(`mkdir ${folder}`);
			return mkdir(folder);
		};
		const from = await LocalProvider.open(source);

		expect((await sync(from, to, { mode: 'copy' })).added).toBe(1);
		expect(events).toEqual(['warm up', 'mkdir sub']);
		expect(await fs.readFile(path.join(destination, 'sub', 'a.txt'), 'utf8')).toBe('warm bytes');
		expect((await sync(from, to, { mode: 'copy' })).added).toBe(0);
		expect(events).toEqual(['warm up', 'mkdir sub']);
	});

	it('copies inline, with the same result, where no thread can start', async () => {
		const source = await made('copy-inline-src');
		const destination = await made('copy-inline-dst');
		await fs.writeFile(path.join(source, 'a.txt'), 'inline bytes');
		await fs.utimes(path.join(source, 'a.txt'), new Date(MODIFIED), new Date(MODIFIED));
		await jest.isolateModulesAsync(async () => {
			jest.doMock('node:worker_threads', () => ({
				Worker: class {
					constructor() {
						throw new Error('threads are not allowed here');
					}
				},
			}));
			const { LocalProvider: Isolated } = await import('../lib/providers/local');
			const to = await Isolated.open(destination);
			const written = await to.copyFrom(await Isolated.open(source), 'a.txt', 'sub/a.txt');
			expect(written).toMatchObject({ path: 'sub/a.txt', size: 12, modTime: MODIFIED });
		});
		jest.dontMock('node:worker_threads');
		expect(await fs.readFile(path.join(destination, 'sub', 'a.txt'), 'utf8')).toBe('inline bytes');
		expect(Math.round((await fs.stat(path.join(destination, 'sub', 'a.txt'))).mtimeMs)).toBe(MODIFIED);
		expect(await staged(destination)).toEqual([]);
	});
});
