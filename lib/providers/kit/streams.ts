import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { createHasher } from '../../core/hashing';
import { fillOf, offerFill } from '../../core/fill';
import { VerificationError } from '../../core/errors';
import type { HashType, Hashes } from '../../core/types';

/**
 * Hands out a stream's bytes in pieces of exactly `size` (fewer only at the end) for chunked uploads,
 * holding one piece and what the source gave beyond it, so a file of any size goes through in
 * bounded memory. A read looks one source chunk ahead, so `done` is known as soon as the last piece
 * is handed out (an upload can then say "this is the final chunk" in the same request).
 *
 * With `reuse`, every piece is assembled in one buffer kept for the whole upload, so a piece is only
 * valid until the next read: for callers that send a chunk, wait for its answer (retries included)
 * and only then read the next. Without it each piece is a new buffer.
 */
export class ChunkReader {
	private readonly iterator: AsyncIterator<Buffer>;
	private pending: Buffer = Buffer.alloc(0);
	private ended = false;
	/** The buffer pieces are assembled in when `reuse` is set, grown to the largest piece asked for. */
	private assembly?: Buffer;
	/** Bytes the source gave so far. */
	bytes = 0;
	private readonly hashers?: Map<HashType, ReturnType<typeof createHasher>>;
	/** The hashes of all the source gave, once it ended (with `measure`). */
	readonly hashes: Hashes = {};

	/**
	 * With `measure`, the source's bytes are counted and hashed as they are pulled, and a source longer
	 * or shorter than `size` fails the read that meets it, as measure() of core/hashing would, without
	 * the second stream and pipeline per file measure() costs (garbage that thousands of small uploads
	 * kept alive through young collections).
	 */
	constructor(
		private readonly stream: Readable,
		private readonly options: { reuse?: boolean; measure?: { hashTypes: Iterable<HashType>; size?: number } } = {},
	) {
		this.iterator = stream[Symbol.asyncIterator]();
		if (options.measure) this.hashers = new Map([...new Set(options.measure.hashTypes)].map((type) => [type, createHasher(type)]));
	}

	/** Whether the last read took the final bytes. */
	get done(): boolean {
		return this.ended && this.pending.length === 0;
	}

	/**
	 * The next piece of `size` bytes. A piece made of several source chunks is assembled in `into`
	 * when given (and large enough), a buffer the caller owns and lends again once done with the piece:
	 * callers with several pieces in flight cycle a few such buffers instead of leaving one new buffer
	 * of garbage per piece.
	 */
	async read(size: number, into?: Buffer): Promise<Buffer> {
		const parts: Buffer[] = [];
		let length = 0;
		for (;;) {
			if (this.pending.length > 0 && length < size) {
				const take = this.pending.subarray(0, size - length);
				parts.push(take);
				length += take.length;
				this.pending = this.pending.subarray(take.length);
				continue;
			}
			if (this.pending.length > 0 || this.ended) break;
			await this.pull();
		}
		if (parts.length === 1) return parts[0];
		let target = into !== undefined && into.length >= length ? into : undefined;
		if (!target && this.options.reuse) {
			if (!this.assembly || this.assembly.length < length) this.assembly = Buffer.allocUnsafeSlow(Math.max(length, size));
			target = this.assembly;
		}
		if (!target) return Buffer.concat(parts, length);
		let filled = 0;
		for (const part of parts) filled += part.copy(target, filled);
		return target.subarray(0, length);
	}

	/**
	 * Up to `max` bytes as the source gave them, uncopied (empty at the end): for bytes passed straight
	 * on to a socket, which may hold them after the next read, so no buffer can be reused for them.
	 */
	async readSome(max: number): Promise<Buffer> {
		while (this.pending.length === 0 && !this.ended) await this.pull();
		const piece = this.pending.subarray(0, max);
		this.pending = this.pending.subarray(piece.length);
		return piece;
	}

	/** Whether nothing is left; reaching the end also runs the checks a measuring source does there. */
	async atEnd(): Promise<boolean> {
		if (this.pending.length === 0 && !this.ended) await this.pull();
		return this.done;
	}

	close(): void {
		this.stream.destroy();
	}

	private async pull(): Promise<void> {
		const next = await this.iterator.next();
		if (next.done) {
			this.ended = true;
			this.measured();
			return;
		}
		this.pending = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
		this.bytes += this.pending.length;
		const size = this.options.measure?.size;
		if (size !== undefined && size >= 0 && this.bytes > size) throw new VerificationError(`Stream is longer than the expected ${size} bytes`);
		if (this.hashers) for (const hasher of this.hashers.values()) hasher.update(this.pending);
	}

	private measured(): void {
		if (!this.hashers) return;
		for (const [type, hasher] of this.hashers) this.hashes[type] = hasher.digest();
		const size = this.options.measure?.size;
		if (size !== undefined && size >= 0 && this.bytes !== size) throw new VerificationError(`Stream ended after ${this.bytes} of ${size} bytes`);
	}
}

/** Passes bytes [start, end) of what flows through. */
export class SliceStream extends Transform {
	private position = 0;

	constructor(
		private readonly first: number,
		private readonly stop: number,
	) {
		super();
	}

	_transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
		const from = Math.max(0, this.first - this.position);
		const to = Math.min(chunk.length, this.stop - this.position);
		this.position += chunk.length;
		callback(null, to > from ? chunk.subarray(from, to) : undefined);
	}
}

export function emptyStream(): Readable {
	return Readable.from([]);
}

/**
 * A response body (Node or web stream) as a Node stream through `output`. A broken connection
 * becomes the error `broke` makes (a retryable one), and a reader that stops early releases the
 * connection.
 */
export function bodyStream(data: unknown, broke: (cause: unknown) => Error, output: Transform = new PassThrough()): Readable {
	const source = data instanceof Readable ? data : Readable.fromWeb(data as WebReadableStream);
	source.on('error', (error) => output.destroy(error?.name === 'AbortError' ? error : broke(error)));
	output.on('close', () => source.destroy());
	return source.pipe(output);
}

/**
 * A stream opened on its first read, so that what is never read (a source a resumed upload skips) is
 * never opened. The source's chunks are passed on as they come: iterating it instead (for await)
 * would join whatever it has buffered into a new buffer at every step, a copy of the whole file in
 * pieces of up to a megabyte for a download made of 64 KiB network reads.
 */
export function lazyStream(open: () => Promise<Readable>): Readable {
	let opened: Readable | undefined;
	let opening = false;
	let filling = false;
	const wire = (source: Readable) => {
		opened = source;
		source.on('data', (chunk: Buffer) => {
			if (!stream.push(chunk)) source.pause();
		});
		source.once('end', () => stream.push(null));
		source.once('error', (error) => stream.destroy(error));
	};
	const stream = new Readable({
		read() {
			if (filling) {
				stream.destroy(new Error('A source read through its fill cannot also be read as a stream'));
				return;
			}
			if (opened) {
				opened.resume();
				return;
			}
			if (opening) return;
			opening = true;
			open().then(
				(source) => {
					// Destroyed while the source was being opened: the source is closed at once.
					if (stream.destroyed) source.destroy();
					else wire(source);
				},
				(error: Error) => stream.destroy(error),
			);
		},
		destroy(error, callback) {
			opened?.destroy();
			callback(error);
		},
	});
	// Opened by the switch instead, when the consumer would rather fill (core/fill.ts): the source's fill, if it has one.
	offerFill(stream, async () => {
		if (opening) return undefined;
		opening = true;
		const source = await open();
		opened = source;
		if (stream.destroyed) {
			source.destroy();
			return undefined;
		}
		const fill = await fillOf(source);
		if (fill) filling = true;
		else wire(source);
		return fill;
	});
	return stream;
}
