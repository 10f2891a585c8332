import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { HASH_TYPES, type Entry, type HashType, type Hashes, type Provider, type WriteOptions } from '../../lib/core/types';
import { AlreadyExistsError, InvalidPathError, NotEmptyError, NotFoundError } from '../../lib/core/errors';
import { createHasher } from '../../lib/core/hashing';
import { compareWalkOrder } from '../../lib/core/walkOrder';

/**
 * The cases every Provider must pass, whatever cloud is behind it. Only the Provider interface and
 * its capabilities are used here: where behaviour depends on a capability, the case branches on it.
 */

const MiB = 1024 * 1024;
const CHUNK = MiB;
const ZEROES = Buffer.alloc(CHUNK);

export interface ProviderUnderTest {
	provider: Provider;
	cleanup(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Stream helpers, shared with provider-specific tests.

/** A stream of `data` in chunks of `chunkSize` bytes. */
export function bufferStream(data: Buffer | string, chunkSize = 64 * 1024): Readable {
	const buffer = typeof data === 'string' ? Buffer.from(data) : data;
	let offset = 0;
	return new Readable({
		read() {
			if (offset >= buffer.length) {
				this.push(null);
				return;
			}
			const end = Math.min(buffer.length, offset + chunkSize);
			this.push(buffer.subarray(offset, end));
			offset = end;
		},
	});
}

/** Deterministic pseudo-random bytes (AES-128-CTR keystream of `seed`); the same seed gives the same bytes. */
export function pseudoRandomBytes(size: number, seed: string): Buffer {
	const key = createHash('sha256').update(seed).digest().subarray(0, 16);
	return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/**
 * Generates `size` pseudo-random bytes while it is read, one chunk at a time, and hashes them as
 * they go out: the whole content is never held in memory.
 */
export class GeneratedStream extends Readable {
	private readonly cipher;
	private remaining: number;
	private readonly hashers: Map<HashType, ReturnType<typeof createHasher>>;
	private result: Hashes | undefined;
	generated = 0;

	constructor(
		readonly size: number,
		seed: string,
		hashTypes: HashType[],
	) {
		super({ highWaterMark: CHUNK });
		const key = createHash('sha256').update(seed).digest().subarray(0, 16);
		this.cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
		this.remaining = size;
		this.hashers = new Map([...new Set<HashType>(['sha256', ...hashTypes])].map((type) => [type, createHasher(type)]));
	}

	_read(): void {
		if (this.remaining === 0) {
			this.push(null);
			return;
		}
		const length = Math.min(CHUNK, this.remaining);
		const chunk = this.cipher.update(ZEROES.subarray(0, length));
		this.remaining -= length;
		this.generated += length;
		for (const hasher of this.hashers.values()) hasher.update(chunk);
		this.push(chunk);
	}

	/** Hashes of everything generated; only once the stream has ended. */
	get hashes(): Hashes {
		if (this.remaining !== 0) throw new Error('the generated stream has not been read to its end');
		this.result ??= Object.fromEntries([...this.hashers].map(([type, hasher]) => [type, hasher.digest()]));
		return this.result;
	}
}

/** A stream that gives `first`, then waits until `release()` before it gives `second`. */
export function gatedStream(first: Buffer, second: Buffer | Error) {
	let release!: () => void;
	const gate = new Promise<void>((resolve) => (release = resolve));
	let firstTaken!: () => void;
	const firstConsumed = new Promise<void>((resolve) => (firstTaken = resolve));
	let step = 0;
	const stream = new Readable({
		highWaterMark: 16 * 1024,
		read() {
			if (step === 0) {
				step = 1;
				this.push(first);
				return;
			}
			if (step === 1) {
				step = 2;
				firstTaken();
				void gate.then(() => {
					if (second instanceof Error) {
						this.destroy(second);
					} else {
						if (second.length > 0) this.push(second);
						this.push(null);
					}
				});
			}
		},
	});
	return { stream, firstConsumed, release };
}

/** A stream with chunks of irregular sizes, some of them given asynchronously, and no announced length. */
export function irregularStream(data: Buffer): Readable {
	const sizes = [1, 7, 4096, 65_537, 3, 1_000_003, 2 * MiB + 5, 17];
	let offset = 0;
	let turn = 0;
	return new Readable({
		read() {
			if (offset >= data.length) {
				this.push(null);
				return;
			}
			const end = Math.min(data.length, offset + sizes[turn % sizes.length]);
			const chunk = data.subarray(offset, end);
			offset = end;
			if (turn++ % 3 === 0) setImmediate(() => this.push(chunk));
			else this.push(chunk);
		},
	});
}

export async function readAll(stream: Readable): Promise<Buffer> {
	const chunks: Buffer[] = [];
	for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
	return Buffer.concat(chunks);
}

export async function collect(entries: AsyncIterable<Entry>): Promise<Entry[]> {
	const all: Entry[] = [];
	for await (const entry of entries) all.push(entry);
	return all;
}

export function localHashes(data: Buffer, types: readonly HashType[]): Hashes {
	const hashes: Hashes = {};
	for (const type of types) {
		const hasher = createHasher(type);
		hasher.update(data);
		hashes[type] = hasher.digest();
	}
	return hashes;
}

/** Hex hashes compare case-insensitively, base64 (quickxor) exactly. */
function normalizedHashes(hashes: Hashes, types: readonly HashType[]): Hashes {
	const result: Hashes = {};
	for (const type of types) {
		const value = hashes[type];
		result[type] = value === undefined || type === 'quickxor' ? value : value.toLowerCase();
	}
	return result;
}

function sha256(data: Buffer): string {
	return createHash('sha256').update(data).digest('hex');
}

/** What two byte strings are compared by: jest compares large Buffers element by element, which is slow. */
export function fingerprint(data: Buffer): { length: number; sha256: string } {
	return { length: data.length, sha256: sha256(data) };
}

/** Asserts that every entry path is provider-relative, '/'-separated and clean. */
function expectCleanPaths(entries: Entry[]): void {
	for (const entry of entries) {
		expect(entry.path).not.toMatch(/^\//);
		expect(entry.path).not.toMatch(/\\/);
		expect(entry.path.split('/')).not.toContain('');
		expect(entry.path.split('/')).not.toContain('..');
		expect(entry.path.split('/')).not.toContain('.');
	}
}

/** Asserts that each entry's parent folder, when it lies below `base`, was listed before it. */
function expectFoldersBeforeContents(entries: Entry[], base: string): void {
	const seenFolders = new Set<string>();
	for (const entry of entries) {
		const slash = entry.path.lastIndexOf('/');
		const parent = slash < 0 ? '' : entry.path.slice(0, slash);
		if (parent !== base) expect({ entry: entry.path, parentListedBefore: seenFolders.has(parent) }).toEqual({ entry: entry.path, parentListedBefore: true });
		if (entry.isDir) seenFolders.add(entry.path);
	}
}

const byPath = (a: Entry, b: Entry) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

function shape(entries: Entry[]): Array<{ path: string; isDir: boolean; size?: number }> {
	return [...entries].sort(byPath).map((entry) => (entry.isDir ? { path: entry.path, isDir: true } : { path: entry.path, isDir: false, size: entry.size }));
}

// ---------------------------------------------------------------------------------------------

export function runProviderConformance(name: string, makeProvider: () => Promise<ProviderUnderTest>): void {
	describe(`${name} provider conformance`, () => {
		let provider: Provider;
		let cleanup: (() => Promise<void>) | undefined;

		beforeEach(async () => {
			({ provider, cleanup } = await makeProvider());
		});

		afterEach(async () => {
			await cleanup?.();
			cleanup = undefined;
		});

		const put = (path: string, data: Buffer | string, options: WriteOptions = {}) => {
			const buffer = typeof data === 'string' ? Buffer.from(data) : data;
			return provider.write(path, bufferStream(buffer), { size: buffer.length, ...options });
		};
		const text = async (path: string) => (await readAll(await provider.read(path))).toString();
		const listAll = async (path = '') => collect(provider.list(path, { recursive: true }));
		const paths = (entries: Entry[]) => entries.map((entry) => entry.path).sort();

		describe('capabilities', () => {
			it('are self-consistent', () => {
				const capabilities = provider.capabilities;
				for (const type of capabilities.hashTypes) expect(HASH_TYPES).toContain(type);
				for (const type of capabilities.listedHashTypes) expect(capabilities.hashTypes).toContain(type);
				expect(capabilities.modTimePrecisionMs).toBeGreaterThan(0);
				expect(capabilities.maxFileSize).toBeGreaterThan(0);
			});
		});

		describe('listing and folders', () => {
			it('lists a fresh root as empty, and an empty folder as a folder with nothing in it', async () => {
				expect(await listAll()).toEqual([]);
				await provider.mkdir('empty');
				if (!provider.capabilities.emptyFolders) {
					// An object store keeps no empty folder: mkdir leaves nothing to list.
					expect(await listAll()).toEqual([]);
					return;
				}
				const root = await collect(provider.list(''));
				expect(root).toHaveLength(1);
				expect(root[0]).toMatchObject({ path: 'empty', isDir: true });
				expect(await collect(provider.list('empty'))).toEqual([]);
				expect(await collect(provider.list('empty', { recursive: true }))).toEqual([]);
				expect(await provider.stat('empty')).toMatchObject({ path: 'empty', isDir: true });
			});

			it('mkdir creates missing parents, is idempotent, and refuses to turn a file into a folder', async () => {
				await provider.mkdir('x/y/z');
				await provider.mkdir('x/y/z');
				const folders = [
					{ path: 'x', isDir: true },
					{ path: 'x/y', isDir: true },
					{ path: 'x/y/z', isDir: true },
				];
				expect(shape(await listAll())).toEqual(provider.capabilities.emptyFolders ? folders : []);
				await put('x/file.txt', 'content');
				await expect(provider.mkdir('x/file.txt')).rejects.toBeInstanceOf(AlreadyExistsError);
				expect(await text('x/file.txt')).toBe('content');
			});

			it('lists nested folders: direct children only, or recursively with folders before their contents', async () => {
				await put('a/b/c.txt', 'ccc');
				await put('a/d.txt', 'dddd');
				await put('e.txt', 'e');
				await provider.mkdir('a/b/empty');

				expect(shape(await collect(provider.list('')))).toEqual([
					{ path: 'a', isDir: true },
					{ path: 'e.txt', isDir: false, size: 1 },
				]);
				expect(shape(await collect(provider.list('a')))).toEqual([
					{ path: 'a/b', isDir: true },
					{ path: 'a/d.txt', isDir: false, size: 4 },
				]);

				const everything = await listAll();
				expectCleanPaths(everything);
				expectFoldersBeforeContents(everything, '');
				const kept = (path: string) => provider.capabilities.emptyFolders || path !== 'a/b/empty';
				expect(shape(everything)).toEqual(
					[
						{ path: 'a', isDir: true },
						{ path: 'a/b', isDir: true },
						{ path: 'a/b/c.txt', isDir: false, size: 3 },
						{ path: 'a/b/empty', isDir: true },
						{ path: 'a/d.txt', isDir: false, size: 4 },
						{ path: 'e.txt', isDir: false, size: 1 },
					].filter((entry) => kept(entry.path)),
				);

				// Listing a subfolder still gives paths relative to the provider's root.
				const below = await listAll('a');
				expectFoldersBeforeContents(below, 'a');
				expect(paths(below)).toEqual(['a/b', 'a/b/c.txt', 'a/b/empty', 'a/d.txt'].filter(kept));
				const trailingSlash = await listAll('a/');
				expect(paths(trailingSlash)).toEqual(paths(below));
			});

			it('lists recursively in walk order when it says so, which the engine then takes without sorting', async () => {
				if (provider.listOrder !== 'walk') return;
				for (const path of ['a/x.txt', 'a b.txt', 'a-c/y.txt', 'a.txt', 'B.txt', 'b/z.txt', 'b/a/deep.txt', 'a0/n.txt']) await put(path, 'x');
				const listed = (await listAll()).map((entry) => entry.path);
				expect(listed).toEqual([...listed].sort(compareWalkOrder));
				expect([...listed].sort()).toEqual(['B.txt', 'a', 'a b.txt', 'a-c', 'a-c/y.txt', 'a.txt', 'a/x.txt', 'a0', 'a0/n.txt', 'b', 'b/a', 'b/a/deep.txt', 'b/z.txt']);
			});

			it('stats a file with its size and a recent modification time', async () => {
				const before = Date.now();
				const written = await put('dir/f.bin', Buffer.alloc(1234, 7));
				const stat = await provider.stat('dir/f.bin');
				expect(stat).toMatchObject({ path: 'dir/f.bin', isDir: false, size: 1234 });
				expect(written).toMatchObject({ path: 'dir/f.bin', isDir: false, size: 1234 });
				// Without an explicit modTime the file carries the time it was written.
				const slack = Math.max(provider.capabilities.modTimePrecisionMs, 2000);
				expect(stat.modTime).toBeGreaterThanOrEqual(before - slack);
				expect(stat.modTime).toBeLessThanOrEqual(Date.now() + slack);
			});
		});

		describe('optional look-ups and conditional writes', () => {
			it('statMany answers as stat would, path by path: several names of a folder, the missing ones left out, a folder missing altogether', async () => {
				if (!provider.statMany) return;
				await put('m/a.txt', 'a');
				await put('m/b.txt', 'bb');
				await provider.mkdir('m/sub');
				await put('top.txt', 'top');
				const asked = ['m/a.txt', 'm/b.txt', 'm/sub', 'm/gone.txt', 'top.txt', 'nowhere/x.txt', 'm/a.txt/below'];
				const found = await provider.statMany(asked);
				expect([...found.keys()].sort()).toEqual(['m/a.txt', 'm/b.txt', 'm/sub', 'top.txt']);
				for (const [path, entry] of found) expect(entry).toMatchObject({ path: (await provider.stat(path)).path, isDir: path === 'm/sub', size: (await provider.stat(path)).size });
			});

			it('writeIfUnchanged writes only over the version read, and only one of two writers over the same version', async () => {
				if (!provider.writeIfUnchanged || !provider.readVersioned) return;
				expect(await provider.readVersioned('.cloudsync/v.lock')).toBeUndefined();
				const first = await provider.writeIfUnchanged('.cloudsync/v.lock', Buffer.from('one'), undefined);
				expect(first).toBeDefined();
				// There is a file now: a second "only if none" write loses.
				expect(await provider.writeIfUnchanged('.cloudsync/v.lock', Buffer.from('two'), undefined)).toBeUndefined();
				const read = (await provider.readVersioned('.cloudsync/v.lock'))!;
				expect(read.bytes.toString()).toBe('one');
				const results = await Promise.all([provider.writeIfUnchanged('.cloudsync/v.lock', Buffer.from('three'), read.version), provider.writeIfUnchanged('.cloudsync/v.lock', Buffer.from('four'), read.version)]);
				expect(results.filter((version) => version !== undefined)).toHaveLength(1);
				expect(['three', 'four']).toContain((await provider.readVersioned('.cloudsync/v.lock'))!.bytes.toString());
				// A stale version loses too.
				expect(await provider.writeIfUnchanged('.cloudsync/v.lock', Buffer.from('five'), read.version)).toBeUndefined();
			});
		});

		describe('file contents', () => {
			it('stores zero-length and 1-byte files', async () => {
				const empty = await put('empty.bin', Buffer.alloc(0));
				expect(empty).toMatchObject({ path: 'empty.bin', isDir: false, size: 0 });
				const one = await put('one.bin', Buffer.from([0xff]));
				expect(one).toMatchObject({ path: 'one.bin', isDir: false, size: 1 });

				expect(await readAll(await provider.read('empty.bin'))).toEqual(Buffer.alloc(0));
				expect(await readAll(await provider.read('one.bin'))).toEqual(Buffer.from([0xff]));
				expect(shape(await listAll())).toEqual([
					{ path: 'empty.bin', isDir: false, size: 0 },
					{ path: 'one.bin', isDir: false, size: 1 },
				]);
				expect(await provider.stat('empty.bin')).toMatchObject({ size: 0, isDir: false });
			});

			it('streams a 64 MiB file generated on the fly and reads back the same bytes', async () => {
				const size = Math.min(64 * MiB, provider.capabilities.maxFileSize);
				const hashTypes = provider.capabilities.hashTypes;
				const source = new GeneratedStream(size, `${name}-64MiB`, hashTypes);
				const written = await provider.write('big/generated.bin', source, { size, hashTypes });
				expect(source.generated).toBe(size);
				const generated = source.hashes;
				expect(written).toMatchObject({ path: 'big/generated.bin', isDir: false, size });
				expect(normalizedHashes(written.hashes, hashTypes)).toEqual(normalizedHashes(generated, hashTypes));
				expect(await provider.stat('big/generated.bin')).toMatchObject({ size });

				const hasher = createHash('sha256');
				let bytes = 0;
				for await (const chunk of await provider.read('big/generated.bin')) {
					hasher.update(chunk as Buffer);
					bytes += (chunk as Buffer).length;
				}
				expect(bytes).toBe(size);
				expect(hasher.digest('hex')).toBe(generated.sha256);
			});

			it('writes streams of unknown size', async () => {
				const data = pseudoRandomBytes(5 * MiB + 11, 'unknown-size');
				const written = await provider.write('unknown.bin', irregularStream(data));
				expect(written).toMatchObject({ path: 'unknown.bin', size: data.length });
				expect(await provider.stat('unknown.bin')).toMatchObject({ size: data.length });
				expect(fingerprint(await readAll(await provider.read('unknown.bin')))).toEqual(fingerprint(data));

				const empty = await provider.write('unknown-empty.bin', irregularStream(Buffer.alloc(0)));
				expect(empty).toMatchObject({ size: 0 });
				expect(await readAll(await provider.read('unknown-empty.bin'))).toHaveLength(0);

				const one = await provider.write('unknown-one.bin', irregularStream(Buffer.from('x')));
				expect(one).toMatchObject({ size: 1 });
				expect(await text('unknown-one.bin')).toBe('x');
			});

			it('overwrites: readers see the old content until the new one is complete, then only the new one', async () => {
				const oldContent = pseudoRandomBytes(2 * MiB + 3, 'old');
				const newFirst = pseudoRandomBytes(MiB, 'new-1');
				const newSecond = pseudoRandomBytes(MiB + 9, 'new-2');
				const newContent = Buffer.concat([newFirst, newSecond]);
				await put('f.bin', oldContent);

				const { stream, firstConsumed, release } = gatedStream(newFirst, newSecond);
				const writing = provider.write('f.bin', stream, { size: newContent.length });
				writing.catch(() => undefined);
				await firstConsumed;
				// Half of the new content has been handed over: the path still holds the whole old file.
				expect(fingerprint(await readAll(await provider.read('f.bin')))).toEqual(fingerprint(oldContent));
				expect(await provider.stat('f.bin')).toMatchObject({ size: oldContent.length });
				expect(paths(await listAll())).toEqual(['f.bin']);
				release();
				expect(await writing).toMatchObject({ path: 'f.bin', size: newContent.length });

				expect(fingerprint(await readAll(await provider.read('f.bin')))).toEqual(fingerprint(newContent));
				expect(await provider.stat('f.bin')).toMatchObject({ size: newContent.length });
				expect(shape(await listAll())).toEqual([{ path: 'f.bin', isDir: false, size: newContent.length }]);

				// A shorter file replaces a longer one without leftovers of the old bytes.
				await put('f.bin', 'short');
				expect(await text('f.bin')).toBe('short');
			});

			it('keeps the old content when the source fails or is shorter than announced', async () => {
				await put('keep.txt', 'old content');
				const { stream, firstConsumed, release } = gatedStream(Buffer.from('new but '), new Error('source broke'));
				const failing = provider.write('keep.txt', stream);
				failing.catch(() => undefined);
				await firstConsumed;
				release();
				await expect(failing).rejects.toThrow();
				expect(await text('keep.txt')).toBe('old content');

				await expect(provider.write('keep.txt', bufferStream('too short'), { size: 1000 })).rejects.toThrow();
				expect(await text('keep.txt')).toBe('old content');
				expect(shape(await listAll())).toEqual([{ path: 'keep.txt', isDir: false, size: 11 }]);
			});

			it('refuses to write a file over a folder', async () => {
				await put('folder/inside.txt', 'inside');
				await expect(put('folder', 'file')).rejects.toBeInstanceOf(AlreadyExistsError);
				expect(await provider.stat('folder')).toMatchObject({ isDir: true });
				expect(await text('folder/inside.txt')).toBe('inside');
			});

			it('reads byte ranges: start inclusive, end exclusive', async () => {
				const data = pseudoRandomBytes(100_000, 'range');
				await put('range.bin', data);
				const range = async (start?: number, end?: number) => readAll(await provider.read('range.bin', { start, end }));
				expect(fingerprint(await range(10, 20))).toEqual(fingerprint(data.subarray(10, 20)));
				expect(fingerprint(await range(0, 1))).toEqual(fingerprint(data.subarray(0, 1)));
				expect(fingerprint(await range(99_999, 100_000))).toEqual(fingerprint(data.subarray(99_999)));
				expect(fingerprint(await range(65_530, 70_000))).toEqual(fingerprint(data.subarray(65_530, 70_000)));
				expect(fingerprint(await range(50_000))).toEqual(fingerprint(data.subarray(50_000)));
				expect(fingerprint(await range(undefined, 5))).toEqual(fingerprint(data.subarray(0, 5)));
				expect(fingerprint(await range(0, 100_000))).toEqual(fingerprint(data));
				// An end past the end of the file is clipped, and an empty range gives no bytes.
				expect(fingerprint(await range(99_990, 200_000))).toEqual(fingerprint(data.subarray(99_990)));
				expect(await range(10, 10)).toHaveLength(0);
				expect(await range(100_000)).toHaveLength(0);
			});
		});

		describe('delete', () => {
			it('deletes a file and an empty folder', async () => {
				await put('dir/f.txt', 'f');
				await provider.mkdir('empty');
				await provider.delete('dir/f.txt');
				await expect(provider.stat('dir/f.txt')).rejects.toBeInstanceOf(NotFoundError);
				if (!provider.capabilities.emptyFolders) {
					// The folders went with their last file: nothing is left, not even to delete.
					await expect(provider.delete('empty')).rejects.toBeInstanceOf(NotFoundError);
					expect(await listAll()).toEqual([]);
					return;
				}
				await provider.delete('empty');
				await expect(provider.stat('empty')).rejects.toBeInstanceOf(NotFoundError);
				expect(shape(await listAll())).toEqual([{ path: 'dir', isDir: true }]);
			});

			it('refuses a non-empty folder with NotEmptyError unless recursive, then removes it all', async () => {
				await put('full/a.txt', 'a');
				await put('full/sub/b.txt', 'b');
				await put('other.txt', 'other');
				await expect(provider.delete('full')).rejects.toBeInstanceOf(NotEmptyError);
				expect(paths(await listAll())).toEqual(['full', 'full/a.txt', 'full/sub', 'full/sub/b.txt', 'other.txt']);
				expect(await text('full/sub/b.txt')).toBe('b');

				await provider.delete('full', { recursive: true });
				expect(paths(await listAll())).toEqual(['other.txt']);
				await expect(provider.stat('full/sub/b.txt')).rejects.toBeInstanceOf(NotFoundError);
			});

			it('refuses to delete, move or write over the root', async () => {
				await put('a.txt', 'a');
				await expect(provider.delete('', { recursive: true })).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.move('', 'elsewhere')).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.move('a.txt', '')).rejects.toBeInstanceOf(InvalidPathError);
				await expect(put('', 'x')).rejects.toBeInstanceOf(InvalidPathError);
				if (provider.copy) await expect(provider.copy('a.txt', '')).rejects.toBeInstanceOf(InvalidPathError);
				expect(paths(await listAll())).toEqual(['a.txt']);
				expect(await text('a.txt')).toBe('a');
			});
		});

		describe('move and copy', () => {
			it('renames a file, and moves one into a subfolder that does not exist yet', async () => {
				await put('a.txt', 'alpha');
				const renamed = await provider.move('a.txt', 'b.txt');
				expect(renamed).toMatchObject({ path: 'b.txt', isDir: false, size: 5 });
				expect(await text('b.txt')).toBe('alpha');
				await expect(provider.stat('a.txt')).rejects.toBeInstanceOf(NotFoundError);

				const moved = await provider.move('b.txt', 'new/sub/c.txt');
				expect(moved).toMatchObject({ path: 'new/sub/c.txt', isDir: false, size: 5 });
				expect(await text('new/sub/c.txt')).toBe('alpha');
				expect(shape(await listAll())).toEqual([
					{ path: 'new', isDir: true },
					{ path: 'new/sub', isDir: true },
					{ path: 'new/sub/c.txt', isDir: false, size: 5 },
				]);
			});

			it('moves a folder with its contents', async () => {
				await put('d/one.txt', '1');
				await put('d/inner/two.txt', '22');
				const moved = await provider.move('d', 'e/d2');
				expect(moved).toMatchObject({ path: 'e/d2', isDir: true });
				expect(paths(await listAll())).toEqual(['e', 'e/d2', 'e/d2/inner', 'e/d2/inner/two.txt', 'e/d2/one.txt']);
				expect(await text('e/d2/inner/two.txt')).toBe('22');
			});

			it('refuses to move a folder onto an existing folder', async () => {
				await put('src/a.txt', 'a');
				await put('dst/b.txt', 'b');
				await expect(provider.move('src', 'dst')).rejects.toBeInstanceOf(AlreadyExistsError);
				expect(paths(await listAll())).toEqual(['dst', 'dst/b.txt', 'src', 'src/a.txt']);
			});

			it('refuses to move a folder into itself, and changes nothing', async () => {
				await put('d/one.txt', '1');
				await expect(provider.move('d', 'd/sub/d')).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.move('d', 'd/inside')).rejects.toBeInstanceOf(InvalidPathError);
				expect(paths(await listAll())).toEqual(['d', 'd/one.txt']);
				// A sibling whose name merely starts with the folder's name is not inside it.
				expect(await provider.move('d', 'd2')).toMatchObject({ path: 'd2', isDir: true });
				expect(paths(await listAll())).toEqual(['d2', 'd2/one.txt']);
			});

			it('keeps the modification time when moving', async () => {
				const modTime = Date.UTC(2020, 1, 29, 12, 0, 0, 0);
				const written = await put('t.txt', 'time', { modTime });
				const moved = await provider.move('t.txt', 'later/t.txt');
				expect(moved.modTime).toBe(written.modTime);
				expect((await provider.stat('later/t.txt')).modTime).toBe(written.modTime);
			});

			it('copies server-side when the provider can', async () => {
				// No copy(): the engine streams bytes through itself.
				if (!provider.copy) return;
				const modTime = Date.UTC(2019, 6, 1, 8, 30, 15, 250);
				const source = await put('orig.txt', 'original bytes', { modTime });
				const copied = await provider.copy('orig.txt', 'copies/deep/dup.txt');
				expect(copied).toMatchObject({ path: 'copies/deep/dup.txt', isDir: false, size: 14 });
				expect(await text('copies/deep/dup.txt')).toBe('original bytes');
				expect(await text('orig.txt')).toBe('original bytes');
				if (provider.capabilities.canSetModTime) expect(copied.modTime).toBe(source.modTime);

				// Copying onto an existing file replaces it.
				await put('target.txt', 'to be replaced by a copy');
				await provider.copy('orig.txt', 'target.txt');
				expect(await text('target.txt')).toBe('original bytes');
				await expect(provider.copy('missing.txt', 'x.txt')).rejects.toBeInstanceOf(NotFoundError);
				expect(paths(await listAll())).toEqual(['copies', 'copies/deep', 'copies/deep/dup.txt', 'orig.txt', 'target.txt']);
			});
		});

		describe('modification times', () => {
			it(`round-trips a set modification time within the provider's precision`, async () => {
				const { canSetModTime, modTimePrecisionMs } = provider.capabilities;
				const tolerance = Math.max(1, modTimePrecisionMs);
				const first = Date.UTC(2021, 4, 6, 7, 8, 9, 123);
				const second = Date.UTC(2001, 0, 2, 3, 4, 5, 678);
				const before = Date.now();
				const written = await put('m.txt', 'modtime', { modTime: first });
				if (!canSetModTime) {
					// The time cannot be kept: the file carries the time of the upload instead.
					const stat = await provider.stat('m.txt');
					expect(stat.modTime).toBeGreaterThanOrEqual(before - Math.max(2000, tolerance));
					return;
				}
				expect(Math.abs(written.modTime - first)).toBeLessThan(tolerance);
				expect(Math.abs((await provider.stat('m.txt')).modTime - first)).toBeLessThan(tolerance);
				const [listed] = await listAll();
				expect(Math.abs(listed.modTime - first)).toBeLessThan(tolerance);

				// Overwriting with another time replaces the time too.
				await put('m.txt', 'modtime 2', { modTime: second });
				expect(Math.abs((await provider.stat('m.txt')).modTime - second)).toBeLessThan(tolerance);
			});
		});

		describe('hashes', () => {
			const contents: Array<[string, () => Buffer]> = [
				['empty', () => Buffer.alloc(0)],
				['short text', () => Buffer.from('The quick brown fox jumps over the lazy dog\n')],
				['4 MiB + 3 bytes (crosses a Dropbox block)', () => pseudoRandomBytes(4 * MiB + 3, 'hash-block')],
			];

			it.each(contents)('hash() and write(..., {hashTypes}) agree with local hashing: %s', async (_label, make) => {
				const data = make();
				const { hashTypes, listedHashTypes } = provider.capabilities;
				const expected = normalizedHashes(localHashes(data, hashTypes), hashTypes);
				const written = await put('h.bin', data, { hashTypes });
				expect(normalizedHashes(written.hashes, hashTypes)).toEqual(expected);
				expect(normalizedHashes(await provider.hash('h.bin', hashTypes), hashTypes)).toEqual(expected);
				for (const type of hashTypes) {
					expect(normalizedHashes(await provider.hash('h.bin', [type]), [type])).toEqual({ [type]: expected[type] });
				}
				const [listed] = await listAll();
				expect(normalizedHashes(listed.hashes, listedHashTypes)).toEqual(normalizedHashes(expected, listedHashTypes));
				// Hash types the provider does not offer are not made up.
				const unsupported = HASH_TYPES.filter((type) => !hashTypes.includes(type));
				const offered = await provider.hash('h.bin', unsupported);
				for (const type of unsupported) expect(offered[type]).toBeUndefined();
			});
		});

		describe('names', () => {
			const awkward = [
				'with space.txt',
				'hash#tag.txt',
				'percent%20sign%.txt',
				"single'quote.txt",
				'double"quote.txt',
				'emoji 😀🎉.txt',
				'ünïcödé ñ 日本語.txt',
			];
			const awkwardFolder = `folder #%'" 😀`;

			it('keeps names with spaces, #, %, quotes and emoji, as files and as folders', async () => {
				for (const [i, fileName] of awkward.entries()) await put(fileName, `content ${i}`);
				const nested = `${awkwardFolder}/${awkward[5]}`;
				await put(nested, 'nested');
				expect(paths(await collect(provider.list('')))).toEqual([...awkward, awkwardFolder].sort());
				for (const [i, fileName] of awkward.entries()) {
					expect(await text(fileName)).toBe(`content ${i}`);
					expect(await provider.stat(fileName)).toMatchObject({ path: fileName, isDir: false });
				}
				expect(await provider.stat(awkwardFolder)).toMatchObject({ path: awkwardFolder, isDir: true });
				expect(paths(await listAll(awkwardFolder))).toEqual([nested]);
				expect(await text(nested)).toBe('nested');
				const renamed = await provider.move(awkward[1], `${awkwardFolder}/${awkward[2]} moved`);
				expect(renamed.path).toBe(`${awkwardFolder}/${awkward[2]} moved`);
				expect(await text(`${awkwardFolder}/${awkward[2]} moved`)).toBe('content 1');
				await provider.delete(awkward[3]);
				expect(paths(await collect(provider.list('')))).toEqual([...awkward.filter((_, i) => i !== 1 && i !== 3), awkwardFolder].sort());
			});

			it('treats NFC and NFD spellings of "café" as the listing reports them', async () => {
				const nfc = 'caf\u00e9.txt';
				const nfd = 'cafe\u0301.txt';
				await put(nfc, 'written as NFC');
				await put(nfd, 'written as NFD');
				const listed = (await collect(provider.list(''))).filter((entry) => entry.path.normalize('NFC') === nfc);
				expect([1, 2]).toContain(listed.length);
				if (listed.length === 2) {
					// The provider keeps names byte for byte: two files, each with its own content.
					expect(paths(listed)).toEqual([nfc, nfd].sort());
					expect(await text(nfc)).toBe('written as NFC');
					expect(await text(nfd)).toBe('written as NFD');
					await provider.delete(nfd);
					expect(paths(await collect(provider.list('')))).toEqual([nfc]);
				} else {
					// The provider normalises names: one file, reachable by either spelling, holding the last write.
					expect([nfc, nfd]).toContain(listed[0].path);
					expect(await text(nfc)).toBe('written as NFD');
					expect(await text(nfd)).toBe('written as NFD');
					await provider.delete(nfd);
					expect(await collect(provider.list(''))).toEqual([]);
				}
			});

			it('distinguishes names that differ only in case exactly when the provider is case-sensitive', async () => {
				await put('x.txt', 'lower');
				await put('X.txt', 'upper');
				const listed = await collect(provider.list(''));
				if (provider.capabilities.caseInsensitive) {
					expect(listed).toHaveLength(1);
					expect(['x.txt', 'X.txt']).toContain(listed[0].path);
					expect(await text('x.txt')).toBe('upper');
				} else {
					expect(paths(listed)).toEqual(['X.txt', 'x.txt']);
					expect(await text('x.txt')).toBe('lower');
					expect(await text('X.txt')).toBe('upper');
					await put('folder/own.txt', 'own');
					await put('FOLDER/kept.txt', 'kept');
					// Two folders that differ only in case are two folders: moving one onto the other is refused.
					await expect(provider.move('FOLDER', 'folder')).rejects.toBeInstanceOf(AlreadyExistsError);
					expect(await text('FOLDER/kept.txt')).toBe('kept');
				}
			});

			it('renames a file and a folder to another case only', async () => {
				await put('a.txt', 'renamed by case');
				const moved = await provider.move('a.txt', 'A.txt');
				expect(moved.path).toBe('A.txt');
				const listed = await collect(provider.list(''));
				expect(listed.filter((entry) => entry.path.toLowerCase() === 'a.txt').map((entry) => entry.path)).toEqual(['A.txt']);
				expect(await text('A.txt')).toBe('renamed by case');

				await put('photos/p.jpg', 'jpeg');
				await provider.move('photos', 'Photos');
				expect(paths(await listAll())).toEqual(['A.txt', 'Photos', 'Photos/p.jpg']);
				expect(await text('Photos/p.jpg')).toBe('jpeg');
			});

			it('handles paths 20 levels deep', async () => {
				const folders = Array.from({ length: 20 }, (_, i) => `level${String(i + 1).padStart(2, '0')}`);
				const filePath = `${folders.join('/')}/deep.txt`;
				await put(filePath, 'deep down');
				expect(await text(filePath)).toBe('deep down');
				expect(await provider.stat(filePath)).toMatchObject({ path: filePath, size: 9 });
				const listed = await listAll();
				expectFoldersBeforeContents(listed, '');
				const expected = folders.map((_, i) => folders.slice(0, i + 1).join('/'));
				expect(listed.map((entry) => entry.path)).toEqual([...expected, filePath]);
				await provider.delete('level01', { recursive: true });
				expect(await listAll()).toEqual([]);
			});
		});

		describe('errors', () => {
			it('throws NotFoundError for stat, read, list, hash, delete and move of a missing path', async () => {
				await put('file.txt', 'present');
				for (const missing of ['missing.txt', 'missing-dir/x.txt', 'file.txt/child']) {
					await expect(provider.stat(missing)).rejects.toBeInstanceOf(NotFoundError);
					await expect(provider.read(missing)).rejects.toBeInstanceOf(NotFoundError);
					await expect(provider.hash(missing, provider.capabilities.hashTypes)).rejects.toBeInstanceOf(NotFoundError);
					await expect(provider.delete(missing)).rejects.toBeInstanceOf(NotFoundError);
					await expect(provider.delete(missing, { recursive: true })).rejects.toBeInstanceOf(NotFoundError);
					await expect(provider.move(missing, 'new-folder/target.txt')).rejects.toBeInstanceOf(NotFoundError);
				}
				await expect(collect(provider.list('missing-dir'))).rejects.toBeInstanceOf(NotFoundError);
				await expect(collect(provider.list('missing-dir', { recursive: true }))).rejects.toBeInstanceOf(NotFoundError);
				// A failed move leaves no trace of its destination.
				expect(paths(await listAll())).toEqual(['file.txt']);
			});

			it.each(['../x', '/abs', 'a/../../x', '/etc/passwd'])('throws InvalidPathError for %j', async (bad) => {
				await put('ok.txt', 'ok');
				await expect(provider.stat(bad)).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.read(bad)).rejects.toBeInstanceOf(InvalidPathError);
				await expect(put(bad, 'x')).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.mkdir(bad)).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.delete(bad, { recursive: true })).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.move('ok.txt', bad)).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.move(bad, 'ok2.txt')).rejects.toBeInstanceOf(InvalidPathError);
				await expect(provider.hash(bad, ['sha256'])).rejects.toBeInstanceOf(InvalidPathError);
				await expect(collect(provider.list(bad))).rejects.toBeInstanceOf(InvalidPathError);
				if (provider.copy) {
					await expect(provider.copy('ok.txt', bad)).rejects.toBeInstanceOf(InvalidPathError);
					await expect(provider.copy(bad, 'ok2.txt')).rejects.toBeInstanceOf(InvalidPathError);
				}
				expect(paths(await listAll())).toEqual(['ok.txt']);
				expect(await text('ok.txt')).toBe('ok');
			});
		});
	});
}
