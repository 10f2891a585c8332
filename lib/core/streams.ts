import { Readable } from 'node:stream';
import { VerificationError } from './errors';

/** What stream.pipeline reports for a source closed before its end (retryable: the source is read again). */
export const prematureClose = () => Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });

/**
 * One buffer as a stream, handed out in a single chunk: the least a small file's transfer can keep
 * alive while the destination sends it (no source stream, no measuring stream, no closures).
 */
class BufferStream extends Readable {
	constructor(private readonly bytes: Buffer) {
		super();
	}

	_read(): void {
		if (this.bytes.length > 0) this.push(this.bytes);
		this.push(null);
	}
}

export function bufferStream(bytes: Buffer): Readable {
	return new BufferStream(bytes);
}

/** The same single chunk, read on the stream's first read: what a consumer never reads (a file its destination refuses first) is never read at all. */
class WholeReadStream extends Readable {
	private started = false;

	constructor(private readonly readBytes: () => Promise<Buffer>) {
		super();
	}

	_read(): void {
		if (this.started) return;
		this.started = true;
		this.readBytes().then(
			(bytes) => {
				if (this.destroyed) return;
				if (bytes.length > 0) this.push(bytes);
				this.push(null);
			},
			(error: Error) => this.destroy(error),
		);
	}
}

export function wholeReadStream(readBytes: () => Promise<Buffer>): Readable {
	return new WholeReadStream(readBytes);
}

/**
 * A stream's bytes in one buffer (its only chunk as is, when it gave one), refusing more than
 * `maxBytes`: for a source known to be small. A source closed before its end fails as a broken one.
 */
export function readWhole(source: Readable, maxBytes: number): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		let length = 0;
		let ended = false;
		source.on('data', (chunk: Buffer) => {
			chunks.push(chunk);
			length += chunk.length;
			if (length <= maxBytes) return;
			reject(new VerificationError(`Stream is longer than the expected ${maxBytes} bytes`));
			source.destroy();
		});
		source.once('end', () => {
			ended = true;
			resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length));
		});
		source.once('error', reject);
		source.once('close', () => {
			if (!ended) reject(prematureClose());
		});
	});
}

/**
 * A byte stream's chunks as it hands them out, one at a time and uncopied, the stream paused while a
 * chunk is in hand. Iterating the stream itself (for await) reads it paused, which joins whatever it
 * has buffered into a new buffer at every step; a web stream made of it copies every chunk. A stream
 * closed before its end fails as a broken one. Its events are listened to from this call on, so an
 * error it emits before the first read (an answer that broke off while read ahead) is not lost.
 */
export function chunksOf(stream: Readable): AsyncGenerator<Buffer> {
	const queue: Buffer[] = [];
	let ended = stream.readableEnded;
	let failure: { error: unknown } | undefined = !ended && stream.destroyed ? { error: stream.errored ?? prematureClose() } : undefined;
	let wake: (() => void) | undefined;
	const onData = (chunk: Buffer) => {
		queue.push(chunk);
		stream.pause();
		wake?.();
	};
	const onEnd = () => {
		ended = true;
		wake?.();
	};
	const onError = (error: unknown) => {
		failure ??= { error };
		wake?.();
	};
	const onClose = () => {
		if (!ended) failure ??= { error: prematureClose() };
		wake?.();
	};
	stream.on('data', onData);
	stream.pause();
	stream.once('end', onEnd);
	stream.on('error', onError);
	stream.once('close', onClose);
	async function* chunks(): AsyncGenerator<Buffer> {
		try {
			for (;;) {
				const chunk = queue.shift();
				if (chunk) {
					yield chunk;
					continue;
				}
				if (failure) throw failure.error;
				if (ended) return;
				await new Promise<void>((resolve) => {
					wake = resolve;
					stream.resume();
				});
				wake = undefined;
			}
		} finally {
			stream.off('data', onData);
			stream.off('end', onEnd);
			stream.off('close', onClose);
			// A stream given up on is closed; its late errors have a listener.
			if (!ended) stream.destroy();
		}
	}
	return chunks();
}
