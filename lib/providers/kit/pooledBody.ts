import type { Writable } from 'node:stream';
import type { Fill } from '../../core/fill';

const MiB = 1024 * 1024;

/**
 * A request body read from a source that fills buffers (core/fill.ts) into a few buffers kept for
 * the whole upload: each is lent to the request and filled again only once the socket has taken
 * its bytes (the write's callback), so a body of any size makes no garbage and holds at most
 * `pieces` × `pieceBytes` at a time, which is also its backpressure.
 */
export class PooledBody {
	private readonly free: Buffer[] = [];
	private made = 0;
	private first?: { buffer: Buffer; length: number };

	constructor(
		private readonly fill: Fill,
		private readonly pieceBytes = MiB,
		private readonly pieces = 4,
	) {}

	/** Reads the first piece now, so that a source that fails at once fails before anything is sent. */
	async readFirst(): Promise<void> {
		const buffer = this.take()!;
		this.first = { buffer, length: await this.fill(buffer) };
	}

	/** Writes the whole body into `out` and ends it; fails when the source fails or `out` breaks or closes first. */
	async writeTo(out: Writable): Promise<void> {
		let failure: Error | undefined;
		let wake: (() => void) | undefined;
		const stop = (error?: Error) => {
			failure ??= error ?? new Error('The request closed before its body was sent');
			wake?.();
		};
		const closed = () => stop();
		out.on('error', stop);
		out.on('close', closed);
		// A buffer whose write failed is never reused: the request is torn down anyway.
		const lend = (buffer: Buffer) => (error?: Error | null) => {
			if (error) return stop(error);
			this.free.push(buffer);
			wake?.();
		};
		try {
			let piece = this.first;
			this.first = undefined;
			for (;;) {
				if (!piece) {
					let buffer = this.take();
					while (!buffer && !failure) {
						await new Promise<void>((resolve) => (wake = resolve));
						wake = undefined;
						buffer = this.take();
					}
					if (failure) throw failure;
					piece = { buffer: buffer!, length: await this.fill(buffer!) };
					if (failure) throw failure;
				}
				if (piece.length === 0) break;
				out.write(piece.buffer.subarray(0, piece.length), lend(piece.buffer));
				piece = undefined;
			}
			out.end();
		} finally {
			out.off('error', stop);
			out.off('close', closed);
		}
	}

	private take(): Buffer | undefined {
		const reused = this.free.pop();
		if (reused) return reused;
		if (this.made === this.pieces) return undefined;
		this.made++;
		return Buffer.allocUnsafeSlow(this.pieceBytes);
	}
}
