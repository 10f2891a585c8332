import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Bytes held so that they can be sent more than once (a retry), or sent after their size is known. */
export interface Spooled {
	size: number;
	/** The bytes, when they were few enough to stay in memory. */
	bytes?: Buffer;
	/** The bytes from the start, again on each call. */
	read(options?: { highWaterMark?: number }): Readable;
	/** Removes the temporary file, if one was made. */
	dispose(): Promise<void>;
}

/**
 * Reads `source` to its end: kept in memory while it holds no more than `memoryLimit` bytes (none
 * by default), else written to a file in a temporary folder of its own, which a failure removes at once.
 */
export async function spool(source: AsyncIterable<Buffer | Uint8Array>, options: { prefix: string; memoryLimit?: number }): Promise<Spooled> {
	const iterator = source[Symbol.asyncIterator]();
	const chunks: Buffer[] = [];
	let size = 0;
	while (size <= (options.memoryLimit ?? 0)) {
		const next = await iterator.next();
		if (next.done) {
			const bytes = Buffer.concat(chunks, size);
			return { size, bytes, read: () => Readable.from([bytes]), dispose: async () => undefined };
		}
		chunks.push(Buffer.from(next.value));
		size += next.value.length;
	}
	const folder = await mkdtemp(join(tmpdir(), `cloudsync-${options.prefix}-`));
	const file = join(folder, 'spool');
	const dispose = () => rm(folder, { recursive: true, force: true });
	try {
		const rest = async function* () {
			yield* chunks.splice(0);
			for (;;) {
				const next = await iterator.next();
				if (next.done) return;
				size += next.value.length;
				yield next.value;
			}
		};
		await pipeline(rest, createWriteStream(file));
	} catch (error) {
		await dispose();
		throw error;
	}
	return { size, read: (readOptions) => createReadStream(file, readOptions), dispose };
}
