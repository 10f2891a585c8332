import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { LocalProvider, type LocalProviderOptions } from '../lib/providers/local';
import { InvalidPathError, NotFoundError, VerificationError } from '../lib/core/errors';
import { bufferStream, collect, fingerprint, gatedStream, readAll, runProviderConformance } from './conformance/suite';

async function tempRoot(label: string): Promise<string> {
	return fs.mkdtemp(path.join(os.tmpdir(), `cloudsync-${label}-`));
}

runProviderConformance('local', async () => {
	const root = await tempRoot('conformance');
	return { provider: await LocalProvider.open(root), cleanup: () => fs.rm(root, { recursive: true, force: true }) };
});

describe('local provider', () => {
	const cleanups: string[] = [];
	const made = async (label: string) => {
		const dir = await tempRoot(label);
		cleanups.push(dir);
		return dir;
	};
	afterEach(async () => {
		await Promise.all(cleanups.splice(0).map((dir) => fs.rm(dir, { recursive: true, force: true })));
	});

	const text = async (provider: LocalProvider, p: string) => (await readAll(await provider.read(p))).toString();
	const listedPaths = async (provider: LocalProvider, p = '') =>
		(await collect(provider.list(p, { recursive: true }))).map((entry) => entry.path).sort();

	describe('root confinement through symbolic links', () => {
		/**
		 * root/real.txt, root/realdir/inner.txt, and links inside the root: out → a folder outside,
		 * outfile → a file outside, infile → real.txt, indir → realdir, loop → the root itself.
		 */
		async function linkedTree() {
			const root = await made('links-root');
			const outside = await made('links-outside');
			await fs.writeFile(path.join(outside, 'secret.txt'), 'secret');
			await fs.writeFile(path.join(root, 'real.txt'), 'real');
			await fs.mkdir(path.join(root, 'realdir'));
			await fs.writeFile(path.join(root, 'realdir', 'inner.txt'), 'inner');
			await fs.symlink(outside, path.join(root, 'out'));
			await fs.symlink(path.join(outside, 'secret.txt'), path.join(root, 'outfile'));
			await fs.symlink(path.join(root, 'real.txt'), path.join(root, 'infile'));
			await fs.symlink('realdir', path.join(root, 'indir'));
			await fs.symlink(root, path.join(root, 'loop'));
			return { root, outside };
		}

		async function expectOutsideUntouched(outside: string) {
			expect(await fs.readdir(outside)).toEqual(['secret.txt']);
			expect(await fs.readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('secret');
		}

		it.each<LocalProviderOptions['symlinks']>(['skip', 'follow'])(
			'refuses to read, stat, write, delete, move or list through a link out of the root (symlinks: %s)',
			async (symlinks) => {
				const { root, outside } = await linkedTree();
				const provider = await LocalProvider.open(root, { symlinks });
				await expect(provider.read('out/secret.txt')).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.stat('out/secret.txt')).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.hash('out/secret.txt', ['sha256'])).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.write('out/new.txt', bufferStream('x'))).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.write('out/newdir/deeper/new.txt', bufferStream('x'))).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.mkdir('out/newdir')).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.delete('out/secret.txt')).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.move('out/secret.txt', 'stolen.txt')).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.move('real.txt', 'out/planted.txt')).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.copy('out/secret.txt', 'stolen.txt')).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.copy('real.txt', 'out/planted.txt')).rejects.toBeInstanceOf(InvalidPathError);
				await expect(collect(provider.list('out/', { recursive: true }))).rejects.toThrow(
					symlinks === 'follow' ? InvalidPathError : NotFoundError,
				);
				// The links out of the root are never listed.
				const listed = await listedPaths(provider);
				expect(listed).not.toContain('out');
				expect(listed).not.toContain('outfile');
				expect(listed.filter((p) => p.includes('secret'))).toEqual([]);
				await expectOutsideUntouched(outside);
				expect(await text(provider, 'real.txt')).toBe('real');
			},
		);

		it('with symlinks "follow", a link to a file outside is refused with InvalidPathError, and writing its name replaces only the link', async () => {
			const { root, outside } = await linkedTree();
			const provider = await LocalProvider.open(root, { symlinks: 'follow' });
			await expect(provider.stat('outfile')).rejects.toBeInstanceOf(InvalidPathError);
			await expect(provider.read('outfile')).rejects.toBeInstanceOf(InvalidPathError);
			await provider.write('outfile', bufferStream('new content'));
			await expectOutsideUntouched(outside);
			expect((await fs.lstat(path.join(root, 'outfile'))).isSymbolicLink()).toBe(false);
			expect(await text(provider, 'outfile')).toBe('new content');
		});

		it('with symlinks "skip" (the default), no link is listed or reachable, and deleting one removes only the link', async () => {
			const { root, outside } = await linkedTree();
			const provider = await LocalProvider.open(root);
			expect(await listedPaths(provider)).toEqual(['real.txt', 'realdir', 'realdir/inner.txt']);
			await expect(provider.stat('infile')).rejects.toBeInstanceOf(NotFoundError);
			await expect(provider.read('infile')).rejects.toBeInstanceOf(NotFoundError);
			await expect(provider.stat('outfile')).rejects.toBeInstanceOf(NotFoundError);
			await provider.write('outfile', bufferStream('replaced the link'));
			await expectOutsideUntouched(outside);
			await provider.delete('outfile');
			await expectOutsideUntouched(outside);
			expect(await fs.readFile(path.join(root, 'real.txt'), 'utf8')).toBe('real');
		});

		it('with symlinks "skip", a path through a link to a folder inside the root is refused, not followed', async () => {
			const { root } = await linkedTree();
			const provider = await LocalProvider.open(root);
			await expect(provider.stat('indir/inner.txt')).rejects.toBeInstanceOf(InvalidPathError);
			await expect(provider.read('indir/inner.txt')).rejects.toBeInstanceOf(InvalidPathError);
			await expect(provider.delete('indir/inner.txt')).rejects.toBeInstanceOf(InvalidPathError);
			await expect(provider.write('indir/new.txt', bufferStream('x'))).rejects.toBeInstanceOf(InvalidPathError);
			await expect(provider.write('indir/deeper/new.txt', bufferStream('x'))).rejects.toBeInstanceOf(InvalidPathError);
			await expect(provider.move('real.txt', 'indir/real.txt')).rejects.toBeInstanceOf(InvalidPathError);
			await expect(provider.move('indir/inner.txt', 'moved.txt')).rejects.toBeInstanceOf(InvalidPathError);
			await expect(provider.copy('real.txt', 'indir/real.txt')).rejects.toBeInstanceOf(InvalidPathError);
			expect((await fs.readdir(path.join(root, 'realdir'))).sort()).toEqual(['inner.txt']);
			expect(await listedPaths(provider)).toEqual(['real.txt', 'realdir', 'realdir/inner.txt']);
			// The folder itself is reachable by its real name.
			expect(await text(provider, 'realdir/inner.txt')).toBe('inner');
		});

		it('with symlinks "follow", links to a file and a folder inside the root are listed and readable, and a loop ends', async () => {
			const { root } = await linkedTree();
			const provider = await LocalProvider.open(root, { symlinks: 'follow' });
			const entries = await collect(provider.list('', { recursive: true }));
			expect(entries.map((entry) => entry.path).sort()).toEqual([
				'indir',
				'indir/inner.txt',
				'infile',
				'real.txt',
				'realdir',
				'realdir/inner.txt',
			]);
			expect(entries.find((entry) => entry.path === 'infile')).toMatchObject({ isDir: false, size: 4 });
			expect(entries.find((entry) => entry.path === 'indir')).toMatchObject({ isDir: true });
			expect(await text(provider, 'infile')).toBe('real');
			expect(await text(provider, 'indir/inner.txt')).toBe('inner');
			expect(await provider.stat('infile')).toMatchObject({ path: 'infile', isDir: false, size: 4 });
			await provider.write('indir/through-link.txt', bufferStream('via the link'));
			expect(await fs.readFile(path.join(root, 'realdir', 'through-link.txt'), 'utf8')).toBe('via the link');
		});

		it('refuses a root that is a link to a folder outside the allowed roots', async () => {
			const allowed = await made('allowed');
			const outside = await made('outside');
			await fs.symlink(outside, path.join(allowed, 'escape'));
			await expect(LocalProvider.open(path.join(allowed, 'escape'), { allowedRoots: [allowed] })).rejects.toBeInstanceOf(
				InvalidPathError,
			);
		});
	});

	describe('atomic writes', () => {
		/** The root's entries, with any file still staged in the engine's own folder named as `staged:<name>`. */
		async function onDisk(root: string): Promise<string[]> {
			const staged = (await fs.readdir(path.join(root, '.cloudsync', 'tmp')).catch(() => [])).map((name) => `staged:${name}`);
			return [...(await fs.readdir(root)).filter((name) => name !== '.cloudsync'), ...staged].sort();
		}

		it('leaves the old file in place while a slow stream is written, and shows no temp file', async () => {
			const root = await made('atomic');
			await fs.writeFile(path.join(root, 'f.txt'), 'old content');
			const provider = await LocalProvider.open(root);
			const first = randomBytes(256 * 1024);
			const second = randomBytes(300 * 1024);
			const { stream, firstConsumed, release } = gatedStream(first, second);
			const writing = provider.write('f.txt', stream, { size: first.length + second.length });
			writing.catch(() => undefined);
			await firstConsumed;
			await new Promise((resolve) => setTimeout(resolve, 20));
			expect(await fs.readFile(path.join(root, 'f.txt'), 'utf8')).toBe('old content');
			// The new bytes are going to a file staged in the engine's own folder, never beside it.
			const during = await onDisk(root);
			expect(during).toEqual(['f.txt', expect.stringMatching(/^staged:/)]);
			expect(await listedPaths(provider)).toEqual(['f.txt']);
			release();
			await writing;
			expect(fingerprint(await fs.readFile(path.join(root, 'f.txt')))).toEqual(fingerprint(Buffer.concat([first, second])));
			expect(await onDisk(root)).toEqual(['f.txt']);
		});

		it('a new file does not appear until it is complete', async () => {
			const root = await made('atomic-new');
			const provider = await LocalProvider.open(root);
			const { stream, firstConsumed, release } = gatedStream(Buffer.from('first half, '), Buffer.from('second half'));
			const writing = provider.write('sub/new.txt', stream);
			writing.catch(() => undefined);
			await firstConsumed;
			await expect(provider.stat('sub/new.txt')).rejects.toBeInstanceOf(NotFoundError);
			await expect(fs.access(path.join(root, 'sub', 'new.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
			expect(await listedPaths(provider)).toEqual(['sub']);
			release();
			await writing;
			expect(await text(provider, 'sub/new.txt')).toBe('first half, second half');
		});

		const failures: Array<[string, () => { stream: Readable; start?: () => void; size?: number; signal?: AbortSignal }]> = [
			['the source fails before any byte', () => ({ stream: new Readable({ read() { this.destroy(new Error('cannot open source')); } }) })],
			[
				'the source fails mid-way',
				() => {
					const gated = gatedStream(randomBytes(200 * 1024), new Error('connection reset'));
					return { stream: gated.stream, start: () => void gated.firstConsumed.then(gated.release) };
				},
			],
			['the source is shorter than the announced size', () => ({ stream: bufferStream(randomBytes(1000)), size: 5000 })],
			['the source is longer than the announced size', () => ({ stream: bufferStream(randomBytes(5000)), size: 1000 })],
			[
				'the write is aborted',
				() => {
					const controller = new AbortController();
					const gated = gatedStream(randomBytes(200 * 1024), randomBytes(10));
					return { stream: gated.stream, signal: controller.signal, start: () => void gated.firstConsumed.then(() => controller.abort()) };
				},
			],
		];

		it.each(failures)('when %s, the old content stays and no temp file remains', async (_label, make) => {
			const root = await made('atomic-fail');
			await fs.writeFile(path.join(root, 'f.txt'), 'old content');
			const provider = await LocalProvider.open(root);
			const { stream, start, size, signal } = make();
			const writing = provider.write('f.txt', stream, { size, signal });
			start?.();
			await expect(writing).rejects.toThrow();
			expect(await fs.readFile(path.join(root, 'f.txt'), 'utf8')).toBe('old content');
			expect(await onDisk(root)).toEqual(['f.txt']);
			expect(await listedPaths(provider)).toEqual(['f.txt']);

			// A failing write of a new file leaves nothing at all.
			const again = make();
			const creating = provider.write('fresh/new.txt', again.stream, { size: again.size, signal: again.signal });
			again.start?.();
			await expect(creating).rejects.toThrow();
			await expect(provider.stat('fresh/new.txt')).rejects.toBeInstanceOf(NotFoundError);
			expect(await fs.readdir(path.join(root, 'fresh')).catch(() => [])).toEqual([]);
		});

		it('a stream that does not match the announced size fails with VerificationError', async () => {
			const root = await made('verify');
			const provider = await LocalProvider.open(root);
			await expect(provider.write('short.bin', bufferStream('12345'), { size: 6 })).rejects.toBeInstanceOf(VerificationError);
			await expect(provider.write('long.bin', bufferStream('1234567'), { size: 6 })).rejects.toBeInstanceOf(VerificationError);
			expect(await onDisk(root)).toEqual([]);
		});
	});

	describe('opening a root', () => {
		it('refuses a root outside allowedRoots, also one that only shares a name prefix', async () => {
			const allowed = await made('allowed');
			const sibling = `${allowed}-evil`;
			cleanups.push(sibling);
			await fs.mkdir(sibling);
			const elsewhere = await made('elsewhere');
			await expect(LocalProvider.open(elsewhere, { allowedRoots: [allowed] })).rejects.toBeInstanceOf(InvalidPathError);
			await expect(LocalProvider.open(sibling, { allowedRoots: [allowed] })).rejects.toBeInstanceOf(InvalidPathError);

			await fs.mkdir(path.join(allowed, 'inside'));
			const inside = await LocalProvider.open(path.join(allowed, 'inside'), { allowedRoots: [elsewhere, allowed] });
			expect(inside.root).toBe(await fs.realpath(path.join(allowed, 'inside')));
			await expect(LocalProvider.open(allowed, { allowedRoots: [allowed] })).resolves.toBeInstanceOf(LocalProvider);
		});

		it('refuses a relative root, a missing root unless createRoot, and a file as root', async () => {
			const base = await made('open');
			await expect(LocalProvider.open('relative/folder')).rejects.toBeInstanceOf(InvalidPathError);
			await expect(LocalProvider.open(path.join(base, 'missing'))).rejects.toBeInstanceOf(NotFoundError);
			const created = await LocalProvider.open(path.join(base, 'missing', 'deeper'), { createRoot: true });
			expect((await fs.stat(created.root)).isDirectory()).toBe(true);
			await fs.writeFile(path.join(base, 'file.txt'), 'x');
			await expect(LocalProvider.open(path.join(base, 'file.txt'))).rejects.toBeInstanceOf(InvalidPathError);
		});

		it('detects case sensitivity as the file system behaves, and leaves no probe file behind', async () => {
			const root = await made('case');
			await fs.writeFile(path.join(root, 'probe-lower'), '');
			const fsIgnoresCase = await fs.access(path.join(root, 'PROBE-LOWER')).then(
				() => true,
				() => false,
			);
			await fs.rm(path.join(root, 'probe-lower'));
			const provider = await LocalProvider.open(root);
			expect(provider.capabilities.caseInsensitive).toBe(fsIgnoresCase);
			if (process.platform === 'linux') expect(provider.capabilities.caseInsensitive).toBe(false);
			expect(await fs.readdir(root)).toEqual([]);
		});

		it('keeps NFC and NFD names apart exactly when the file system does', async () => {
			const root = await made('nfc');
			await fs.writeFile(path.join(root, 'caf\u00e9-probe'), '');
			const fsNormalises = await fs.access(path.join(root, 'cafe\u0301-probe')).then(
				() => true,
				() => false,
			);
			await fs.rm(path.join(root, 'caf\u00e9-probe'));
			const provider = await LocalProvider.open(root);
			await provider.write('caf\u00e9.txt', bufferStream('nfc'));
			await provider.write('cafe\u0301.txt', bufferStream('nfd'));
			expect(await collect(provider.list(''))).toHaveLength(fsNormalises ? 1 : 2);
			if (process.platform === 'linux') expect(fsNormalises).toBe(false);
		});
	});

	it('never writes outside the root through an invalid path', async () => {
		const parent = await made('escape-parent');
		await fs.mkdir(path.join(parent, 'root'));
		const provider = await LocalProvider.open(path.join(parent, 'root'));
		await expect(provider.write('../escaped.txt', bufferStream('x'))).rejects.toBeInstanceOf(InvalidPathError);
		await expect(provider.mkdir('../escaped-dir')).rejects.toBeInstanceOf(InvalidPathError);
		await expect(provider.write('sub/../../escaped.txt', bufferStream('x'))).rejects.toBeInstanceOf(InvalidPathError);
		expect((await fs.readdir(parent)).sort()).toEqual(['root']);
		expect(await fs.readdir(path.join(parent, 'root'))).toEqual([]);
	});

	const openDescriptors = async () => (process.platform === 'linux' ? (await fs.readdir('/proc/self/fd')).length : 0);

	it('reads ranges, empty ones included, without leaking file handles', async () => {
		const root = await made('range');
		const provider = await LocalProvider.open(root);
		await provider.write('r.txt', bufferStream('0123456789'));
		const before = await openDescriptors();
		for (let i = 0; i < 20; i++) {
			expect((await readAll(await provider.read('r.txt', { start: 3, end: 7 }))).toString()).toBe('3456');
			expect(await readAll(await provider.read('r.txt', { start: 4, end: 4 }))).toHaveLength(0);
			expect(await readAll(await provider.read('r.txt', { start: 0, end: 0 }))).toHaveLength(0);
			expect(await readAll(await provider.read('r.txt', { start: 10 }))).toHaveLength(0);
		}
		expect(await openDescriptors()).toBeLessThan(before + 20);
	});
});
