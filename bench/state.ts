import { decodeBaseline, encodeBaseline, type BaselineEntry } from '../lib';
import { syntheticSide } from './listings';

/**
 * Size of a two-way baseline as it is saved in n8n's static data (one string in the workflow row),
 * for a tree of `files` files with realistic nested paths, and the time to encode and decode it.
 */
export function measureStateSize(files: number): void {
	const source = [...syntheticSide(files, 7, 'source')];
	const entries: BaselineEntry[] = source.map((entry) => ({
		path: entry.path,
		isDir: entry.isDir,
		size: entry.isDir ? -1 : entry.size,
		sourceModTime: entry.isDir ? 0 : entry.modTime,
		destinationModTime: entry.isDir ? 0 : entry.modTime,
	}));
	const fileCount = entries.filter((entry) => !entry.isDir).length;
	const pathBytes = entries.reduce((sum, entry) => sum + Buffer.byteLength(entry.path), 0);
	let started = process.hrtime.bigint();
	const encoded = encodeBaseline({ pair: 'Local:/a ⇄ Dropbox:/b', savedAt: Date.now(), entries });
	const encodeMs = Number(process.hrtime.bigint() - started) / 1e6;
	started = process.hrtime.bigint();
	const decoded = decodeBaseline(encoded);
	const decodeMs = Number(process.hrtime.bigint() - started) / 1e6;
	if (decoded.entries.length !== entries.length) throw new Error('baseline did not round-trip');
	const json = JSON.stringify(entries).length;
	console.log(`\nTwo-way state for ${fileCount.toLocaleString('en')} files (${entries.length - fileCount} folders; paths ${(pathBytes / entries.length).toFixed(0)} bytes on average):`);
	console.log(`  saved string ${(encoded.length / 1024).toFixed(0)} KiB = ${(encoded.length / fileCount).toFixed(1)} bytes per file (plain JSON would be ${(json / fileCount).toFixed(0)} bytes per file); encode ${encodeMs.toFixed(0)} ms, decode ${decodeMs.toFixed(0)} ms`);
}
