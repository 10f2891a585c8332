import { Readable, Transform, pipeline } from 'node:stream';
import { TransientError, type Entry, type HashType, type Hashes, type ListOptions, type Provider, type ReadOptions, type WriteOptions } from '../../lib';

/** A small seeded generator, so a failing run can be replayed. */
export function seededRandom(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

export interface FaultOptions {
	/** Share of calls that fail with a retryable error before doing anything. */
	failRate?: number;
	/** Share of read streams that end early without an error, as a truncated download does. */
	truncateRate?: number;
	/** Share of read streams that break mid-way with a connection reset. */
	resetRate?: number;
	/** list() fails for good after yielding this many entries. */
	listFailsAfter?: number;
	/** Flip one byte of everything written, as a corrupting cloud would. */
	corruptWrites?: boolean;
	/** Act like a cloud that reports its own hash of what it stored, so corruption can be caught. */
	reportsHash?: HashType;
	seed?: number;
}

export interface FaultCounts {
	failedCalls: number;
	truncatedReads: number;
	resetReads: number;
	listFailures: number;
	corruptedWrites: number;
}

/** Wraps a provider and injects faults into a chosen share of its calls. */
export class FaultyProvider implements Provider {
	readonly name: string;
	readonly injected: FaultCounts = { failedCalls: 0, truncatedReads: 0, resetReads: 0, listFailures: 0, corruptedWrites: 0 };
	private readonly random: () => number;

	constructor(
		private readonly inner: Provider,
		private readonly faults: FaultOptions,
	) {
		this.name = `faulty(${inner.name})`;
		this.random = seededRandom(faults.seed ?? 1);
	}

	get capabilities() {
		const reported = this.faults.reportsHash;
		return reported ? { ...this.inner.capabilities, listedHashTypes: [reported] } : this.inner.capabilities;
	}

	private maybeFail(operation: string, path: string): void {
		if (this.random() < (this.faults.failRate ?? 0)) {
			this.injected.failedCalls++;
			throw new TransientError(`injected fault: ${operation} ${path}`);
		}
	}

	async *list(path: string, options?: ListOptions): AsyncIterable<Entry> {
		this.maybeFail('list', path);
		let yielded = 0;
		for await (const entry of this.inner.list(path, options)) {
			if (this.faults.listFailsAfter !== undefined && yielded >= this.faults.listFailsAfter) {
				this.injected.listFailures++;
				throw new Error(`injected listing failure after ${yielded} entries`);
			}
			yielded++;
			yield entry;
		}
	}

	async stat(path: string): Promise<Entry> {
		this.maybeFail('stat', path);
		return this.inner.stat(path);
	}

	async read(path: string, options?: ReadOptions): Promise<Readable> {
		this.maybeFail('read', path);
		const stream = await this.inner.read(path, options);
		const roll = this.random();
		const truncate = roll < (this.faults.truncateRate ?? 0);
		const reset = !truncate && roll < (this.faults.truncateRate ?? 0) + (this.faults.resetRate ?? 0);
		if (!truncate && !reset) return stream;
		if (truncate) this.injected.truncatedReads++;
		else this.injected.resetReads++;
		// pipeline, not pipe: when the consumer gives up on the cut stream, the file under it closes too.
		const cut = cutShort(reset);
		pipeline(stream, cut, () => undefined);
		return cut;
	}

	async write(path: string, content: Readable, options?: WriteOptions): Promise<Entry> {
		this.maybeFail('write', path);
		if (!this.faults.corruptWrites) return this.inner.write(path, content, options);
		this.injected.corruptedWrites++;
		let flipped = false;
		const corrupt = new Transform({
			transform(chunk: Buffer, _encoding, done) {
				if (!flipped && chunk.length > 0) {
					chunk = Buffer.from(chunk);
					chunk[0] ^= 0xff;
					flipped = true;
				}
				done(null, chunk);
			},
		});
		pipeline(content, corrupt, () => undefined);
		return this.inner.write(path, corrupt, options);
	}

	async mkdir(path: string): Promise<void> {
		this.maybeFail('mkdir', path);
		return this.inner.mkdir(path);
	}

	async delete(path: string, options?: { recursive?: boolean }): Promise<void> {
		this.maybeFail('delete', path);
		return this.inner.delete(path, options);
	}

	async move(from: string, to: string): Promise<Entry> {
		this.maybeFail('move', from);
		return this.inner.move(from, to);
	}

	async hash(path: string, types: HashType[]): Promise<Hashes> {
		this.maybeFail('hash', path);
		return this.inner.hash(path, types);
	}
}

/** Passes half of the first chunk and drops the rest; then ends quietly (truncation) or breaks (reset). */
function cutShort(reset: boolean): Transform {
	let first = true;
	return new Transform({
		transform(chunk: Buffer, _encoding, done) {
			if (first) {
				first = false;
				const half = chunk.subarray(0, Math.floor(chunk.length / 2));
				done(null, half.length > 0 ? half : undefined);
			} else done();
		},
		flush(done) {
			done(reset ? Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) : null);
		},
	});
}

export function readableOf(content: string | Buffer): Readable {
	return Readable.from([Buffer.from(content)]);
}
