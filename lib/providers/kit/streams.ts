import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { createHasher } from '../../core/hashing';
import { fillOf, offerFill, offersFill, type Fill } from '../../core/fill';
import { VerificationError } from '../../core/errors';
import type { HashType, Hashes } from '../../core/types';

/** What a filling reader reads ahead to learn whether the source ended (copied into the next piece). */
const LOOKAHEAD_BYTES = 64 * 1024;
/** The size of each new buffer a piece is filled in when the source's length is unknown. */
const FRESH_PIECE_BYTES = 1024 * 1024;

/**
 * Hands out a stream's bytes in pieces of exactly `size` (fewer only at the end) for chunked uploads,
 * holding one piece and what the source gave beyond it, so a file of any size goes through in
 * bounded memory. A read looks ahead, so `done` is known as soon as the last piece is handed out (an
 * upload can then say "this is the final chunk" in the same request).
 *
 * A source that can fill buffers (core/fill.ts: a local file, through the engine's streams) is read
 * straight into the buffer a piece is handed out in, the caller's (`into`) or the reader's own
 * (`reuse`): read as a stream, every 1 MiB file read was a new buffer, garbage once copied into the
 * piece, and V8 frees such buffers only once about 64 MiB of them piled up (most of a large upload's
 * peak RSS).
 *
 * With `reuse`, every piece is assembled in one buffer kept for the whole upload, so a piece is only
 * valid until the next read: for callers that send a chunk, wait for its answer (retries included)
 * and only then read the next. Without it each piece is a new buffer.
 */
export class ChunkReader {
	private iterator?: AsyncIterator<Buffer>;
	/** The source's fill, once the first read found that it offers one. */
	private fill?: Fill;
	private started?: Promise<void>;
	/** What the source gave beyond the last piece: a source chunk's rest, or (filling) the look-ahead's bytes. */
	private pending: Buffer = Buffer.alloc(0);
	private ended = false;
	/** The buffer pieces are assembled in when `reuse` is set, grown to the largest piece asked for. */
	private assembly?: Buffer;
	/** Where a filling reader reads ahead; refilled only once its bytes were copied into a piece. */
	private lookahead?: Buffer;
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
		if (options.measure) this.hashers = new Map([...new Set(options.measure.hashTypes)].map((type) => [type, createHasher(type)]));
		// A source that cannot fill is iterated from the start, without a choice to await on every read.
		if (!offersFill(stream)) this.iterator = stream[Symbol.asyncIterator]();
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
		if (!this.iterator) await (this.started ??= this.start());
		if (this.fill) {
			// A piece is never larger than what the source is said to hold: a 2 MiB file needs no 8 MiB buffer.
			const target = into !== undefined && into.length >= size ? into : this.options.reuse ? this.assemblyOf(Math.min(size, this.left() ?? size)) : undefined;
			return target ? this.filled(target, size) : this.freshPiece(size);
		}
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
		if (!target && this.options.reuse) target = this.assemblyOf(size);
		if (!target) return Buffer.concat(parts, length);
		let filled = 0;
		for (const part of parts) filled += part.copy(target, filled);
		return target.subarray(0, length);
	}

	/**
	 * Up to `max` bytes, for bytes passed straight on to a socket, which may hold them after the next
	 * read, so no buffer of the reader is reused for them: as the source gave them, uncopied, or
	 * (filling) in a new buffer. Empty at the end.
	 */
	async readSome(max: number): Promise<Buffer> {
		if (!this.iterator) await (this.started ??= this.start());
		if (this.fill) return this.freshPiece(this.pending.length > 0 ? Math.min(max, this.pending.length) : max);
		while (this.pending.length === 0 && !this.ended) await this.pull();
		const piece = this.pending.subarray(0, max);
		this.pending = this.pending.subarray(piece.length);
		return piece;
	}

	/** Whether nothing is left; reaching the end also runs the checks a measuring source does there. */
	async atEnd(): Promise<boolean> {
		if (!this.iterator) await (this.started ??= this.start());
		if (this.pending.length === 0 && !this.ended) await (this.fill ? this.lookAhead() : this.pull());
		return this.done;
	}

	close(): void {
		this.stream.destroy();
	}

	/** Takes the fill a source offers, at the first read; a source that withdrew its offer is iterated. */
	private async start(): Promise<void> {
		this.fill = await fillOf(this.stream);
		if (!this.fill) this.iterator = this.stream[Symbol.asyncIterator]();
	}

	private assemblyOf(length: number): Buffer {
		if (!this.assembly || this.assembly.length < length) this.assembly = Buffer.allocUnsafeSlow(length);
		return this.assembly;
	}

	/** The next piece of up to `size` bytes filled into `target`, then the look-ahead that says whether the source ended. */
	private async filled(target: Buffer, size: number): Promise<Buffer> {
		const length = await this.fillUpTo(target, Math.min(size, target.length));
		if (this.pending.length === 0 && !this.ended) await this.lookAhead();
		return target.subarray(0, length);
	}

	/**
	 * The next piece in a new buffer the caller keeps: one buffer of what is left when the source's
	 * size is known (a source longer than that fails at the look-ahead), else pieces of a megabyte
	 * joined, as a stream's reads would have been.
	 */
	private async freshPiece(size: number): Promise<Buffer> {
		const left = this.left();
		if (left !== undefined) return this.filled(Buffer.allocUnsafeSlow(Math.min(size, left)), size);
		const parts: Buffer[] = [];
		let length = 0;
		while (length < size && !this.done) {
			const part = await this.filled(Buffer.allocUnsafeSlow(Math.min(size - length, FRESH_PIECE_BYTES)), size - length);
			parts.push(part);
			length += part.length;
		}
		return parts.length === 1 ? parts[0] : Buffer.concat(parts, length);
	}

	/** What the source has yet to hand out, when its size was given. */
	private left(): number | undefined {
		const expected = this.options.measure?.size;
		return expected !== undefined && expected >= 0 ? Math.max(0, expected - this.bytes) + this.pending.length : undefined;
	}

	/** Fills `target` up to `end` with the bytes read ahead, then from the source; how far it got (less only at the end). */
	private async fillUpTo(target: Buffer, end: number): Promise<number> {
		let length = this.pending.copy(target, 0, 0, end);
		this.pending = this.pending.subarray(length);
		while (length < end && !this.ended) {
			const got = await this.fill!(target.subarray(length, end));
			if (got === 0) this.reachedEnd();
			else this.took(target.subarray(length, length + got));
			length += got;
		}
		return length;
	}

	private async lookAhead(): Promise<void> {
		this.lookahead ??= Buffer.allocUnsafeSlow(LOOKAHEAD_BYTES);
		const got = await this.fill!(this.lookahead);
		if (got === 0) return this.reachedEnd();
		this.pending = this.lookahead.subarray(0, got);
		this.took(this.pending);
	}

	private async pull(): Promise<void> {
		const next = await this.iterator!.next();
		if (next.done) return this.reachedEnd();
		this.pending = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
		// Counted and hashed here rather than through took(): with that one helper for both ways of
		// reading, 5,000 small OneDrive uploads spent 0.3–0.5 s more CPU in its inlined quickXor loop.
		this.bytes += this.pending.length;
		const size = this.options.measure?.size;
		if (size !== undefined && size >= 0 && this.bytes > size) throw new VerificationError(`Stream is longer than the expected ${size} bytes`);
		if (this.hashers) for (const hasher of this.hashers.values()) hasher.update(this.pending);
	}

	/** Counts and hashes bytes the source gave; fails when they are more than it was said to hold. */
	private took(bytes: Buffer): void {
		this.bytes += bytes.length;
		const size = this.options.measure?.size;
		if (size !== undefined && size >= 0 && this.bytes > size) throw new VerificationError(`Stream is longer than the expected ${size} bytes`);
		if (this.hashers) for (const hasher of this.hashers.values()) hasher.update(bytes);
	}

	private reachedEnd(): void {
		this.ended = true;
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
