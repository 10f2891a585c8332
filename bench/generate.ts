import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { forEachLimit } from '../lib/core/concurrency';
import { fillRandom, randomInt, seededRandom } from './random';

export interface TreeSpec {
	files: number;
	minBytes: number;
	maxBytes: number;
	seed: number;
}

const FILES_PER_FOLDER = 100;
const FOLDERS_PER_PARENT = 10;
const POOL_BYTES = 4 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;
const WRITE_CONCURRENCY = 32;
/** Whole seconds, so source and destination carry exactly the same time at any precision. */
const FIXED_MTIME = new Date(Date.UTC(2025, 0, 1));

/** Where file number `index` of a generated tree or listing lives: 100 files a folder, 10 folders a parent. */
export function filePath(index: number): string {
	const folder = Math.floor(index / FILES_PER_FOLDER);
	return `dir-${Math.floor(folder / FOLDERS_PER_PARENT)}/sub-${folder % FOLDERS_PER_PARENT}/file-${index}.bin`;
}

interface TreeFile {
	path: string;
	offset: number;
	size: number;
}

function layout(spec: TreeSpec): TreeFile[] {
	const random = seededRandom(spec.seed);
	return Array.from({ length: spec.files }, (_, index) => {
		const size = randomInt(random, spec.minBytes, spec.maxBytes);
		return { path: filePath(index), size, offset: randomInt(random, 0, POOL_BYTES - size) };
	});
}

function randomBuffer(bytes: number): { buffer: Buffer; words: Uint32Array } {
	const buffer = Buffer.alloc(bytes);
	return { buffer, words: new Uint32Array(buffer.buffer, buffer.byteOffset, bytes / 4) };
}

/** Writes the same seeded tree under every root, all with one modification time. */
async function writeTree(roots: string[], spec: TreeSpec): Promise<void> {
	const { buffer: pool, words } = randomBuffer(POOL_BYTES);
	fillRandom(words, seededRandom(spec.seed + 1));
	const files = layout(spec);
	const folders = [...new Set(files.map((file) => nodePath.posix.dirname(file.path)))];
	for (const root of roots) {
		await forEachLimit(folders, WRITE_CONCURRENCY, async (folder) => {
			await fs.mkdir(nodePath.join(root, folder), { recursive: true });
		});
	}
	await forEachLimit(files, WRITE_CONCURRENCY, async (file) => {
		for (const root of roots) {
			const absolute = nodePath.join(root, file.path);
			await fs.writeFile(absolute, pool.subarray(file.offset, file.offset + file.size));
			await fs.utimes(absolute, FIXED_MTIME, FIXED_MTIME);
		}
	});
}

/** Streams `bytes` seeded bytes to `file` one chunk at a time, so memory stays flat whatever the size. */
async function writeBigFile(file: string, bytes: number, seed: number): Promise<void> {
	const random = seededRandom(seed);
	const { buffer, words } = randomBuffer(CHUNK_BYTES);
	const handle = await fs.open(file, 'w');
	try {
		for (let written = 0; written < bytes; written += CHUNK_BYTES) {
			fillRandom(words, random);
			const length = Math.min(CHUNK_BYTES, bytes - written);
			const { bytesWritten } = await handle.write(buffer, 0, length);
			if (bytesWritten !== length) throw new Error(`short write to ${file}: ${bytesWritten} of ${length} bytes`);
		}
	} finally {
		await handle.close();
	}
	await fs.utimes(file, FIXED_MTIME, FIXED_MTIME);
}

async function exists(path: string): Promise<boolean> {
	return fs.access(path).then(
		() => true,
		() => false,
	);
}

/**
 * A data set under `dir`, reused when a previous run left it complete. It is built under a
 * temporary name and renamed at the end, so an interrupted build is never taken for a finished one.
 */
async function cachedDataSet(dir: string, build: (into: string) => Promise<void>): Promise<string> {
	if (await exists(dir)) {
		console.log(`  reusing cached ${dir}`);
		return dir;
	}
	const partial = `${dir}.partial`;
	await fs.rm(partial, { recursive: true, force: true });
	await fs.mkdir(partial, { recursive: true });
	const started = performance.now();
	await build(partial);
	await fs.rename(partial, dir);
	console.log(`  generated ${dir} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
	return dir;
}

export interface DataSet {
	source: string;
	/** Present when the data set also holds an identical copy of the source. */
	destination?: string;
}

/** A seeded tree of small files, with an identical copy beside it when `withCopy` is set. */
export async function treeDataSet(cacheRoot: string, spec: TreeSpec, withCopy: boolean): Promise<DataSet> {
	const name = `tree-${spec.files}-${spec.minBytes}-${spec.maxBytes}-s${spec.seed}${withCopy ? '-pair' : ''}`;
	const sides = withCopy ? ['source', 'destination'] : ['source'];
	const dir = await cachedDataSet(nodePath.join(cacheRoot, name), async (into) =>
		writeTree(sides.map((side) => nodePath.join(into, side)), spec),
	);
	return { source: nodePath.join(dir, 'source'), destination: withCopy ? nodePath.join(dir, 'destination') : undefined };
}

/** A folder holding one seeded file of `bytes` bytes. */
export async function bigFileDataSet(cacheRoot: string, bytes: number, seed: number): Promise<DataSet> {
	const dir = await cachedDataSet(nodePath.join(cacheRoot, `file-${bytes}-s${seed}`), async (into) => {
		await fs.mkdir(nodePath.join(into, 'source'));
		await writeBigFile(nodePath.join(into, 'source', 'big.bin'), bytes, seed);
	});
	return { source: nodePath.join(dir, 'source') };
}
