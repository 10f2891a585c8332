import { createHash, type Hash } from 'node:crypto';
import { Transform, Writable, type TransformCallback, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { HashType, Hashes } from './types';
import { VerificationError } from './errors';
import { prematureClose } from './streams';
import { fillOf, offerFill, offersFill, type Fill } from './fill';

interface Hasher {
	update(chunk: Buffer): void;
	digest(): string;
}

const DROPBOX_BLOCK = 4 * 1024 * 1024;

/** Dropbox content_hash: SHA-256 over the SHA-256 digests of each 4 MiB block. */
class DropboxContentHasher implements Hasher {
	private readonly overall = createHash('sha256');
	private block: Hash = createHash('sha256');
	private blockFill = 0;

	update(chunk: Buffer): void {
		let offset = 0;
		while (offset < chunk.length) {
			const take = Math.min(DROPBOX_BLOCK - this.blockFill, chunk.length - offset);
			this.block.update(chunk.subarray(offset, offset + take));
			this.blockFill += take;
			offset += take;
			if (this.blockFill === DROPBOX_BLOCK) this.closeBlock();
		}
	}

	digest(): string {
		if (this.blockFill > 0) this.closeBlock();
		return this.overall.digest('hex');
	}

	private closeBlock(): void {
		this.overall.update(this.block.digest());
		this.block = createHash('sha256');
		this.blockFill = 0;
	}
}

const QUICKXOR_WIDTH_BITS = 160;
const QUICKXOR_SHIFT = 11;
const QUICKXOR_CYCLE = QUICKXOR_SHIFT * QUICKXOR_WIDTH_BITS;

/**
 * OneDrive quickXorHash, after rclone's port of namazso/QuickXorHash: bytes are XORed into a
 * 1760-byte cycle, which is folded into 160 bits at the end, with the length XORed in last.
 */
class QuickXorHasher implements Hasher {
	private readonly cycle = new Uint8Array(QUICKXOR_CYCLE);
	private position = 0;
	private length = 0n;

	update(chunk: Buffer): void {
		const cycle = this.cycle;
		let position = this.position;
		for (let i = 0; i < chunk.length; i++) {
			cycle[position] ^= chunk[i];
			if (++position === QUICKXOR_CYCLE) position = 0;
		}
		this.position = position;
		this.length += BigInt(chunk.length);
	}

	digest(): string {
		const out = new Uint8Array(21);
		for (let i = 0; i < QUICKXOR_CYCLE; i++) {
			const shift = (i * QUICKXOR_SHIFT) % QUICKXOR_WIDTH_BITS;
			const shifted = this.cycle[i] << (shift % 8);
			const at = Math.floor(shift / 8);
			out[at] ^= shifted & 0xff;
			out[at + 1] ^= shifted >> 8;
		}
		out[0] ^= out[20];
		let length = this.length;
		for (let i = 0; i < 8; i++) {
			out[12 + i] ^= Number(length & 0xffn);
			length >>= 8n;
		}
		return Buffer.from(out.subarray(0, 20)).toString('base64');
	}
}

function nodeHasher(algorithm: string): Hasher {
	const hash = createHash(algorithm);
	return { update: (chunk) => hash.update(chunk), digest: () => hash.digest('hex') };
}

export function createHasher(type: HashType): Hasher {
	switch (type) {
		case 'dropbox':
			return new DropboxContentHasher();
		case 'quickxor':
			return new QuickXorHasher();
		default:
			return nodeHasher(type);
	}
}

/** Hash values compare case-insensitively for hex; base64 (quickxor) is compared as is. */
export function sameHash(type: HashType, a: string, b: string): boolean {
	return type === 'quickxor' ? a === b : a.toLowerCase() === b.toLowerCase();
}

export interface MeasureExpectations {
	size?: number;
	hashes?: Hashes;
}

/** Why `bytes` bytes of these hashes are not what was expected; null when they are. */
function mismatchOf(bytes: number, hashes: Hashes, { size, hashes: expected }: MeasureExpectations): VerificationError | null {
	if (size !== undefined && size >= 0 && bytes !== size) {
		return new VerificationError(bytes > size ? `Stream is longer than the expected ${size} bytes` : `Stream ended after ${bytes} of ${size} bytes`);
	}
	for (const [type, wanted] of Object.entries(expected ?? {}) as Array<[HashType, string]>) {
		const actual = hashes[type];
		if (actual !== undefined && wanted && !sameHash(type, actual, wanted)) {
			return new VerificationError(`${type} of the streamed bytes is ${actual}, expected ${wanted}`);
		}
	}
	return null;
}

/**
 * What a MeasuringStream finds, for bytes already in one buffer: each hash computed once over the
 * whole, and the same checks, thrown instead of failing a stream.
 */
export function measureBuffer(bytes: Buffer, hashTypes: Iterable<HashType>, expect: MeasureExpectations = {}): Hashes {
	const hashes: Hashes = {};
	for (const type of new Set([...hashTypes, ...(Object.keys(expect.hashes ?? {}) as HashType[])])) {
		const hasher = createHasher(type);
		hasher.update(bytes);
		hashes[type] = hasher.digest();
	}
	const mismatch = mismatchOf(bytes.length, hashes, expect);
	if (mismatch) throw mismatch;
	return hashes;
}

/**
 * Counts and hashes the bytes that pass through. When expectations are given, a short or altered
 * stream fails at its end, before the consumer can commit what it wrote.
 */
export class MeasuringStream extends Transform {
	bytes = 0;
	private readonly hashers: Map<HashType, Hasher>;
	private result: Hashes = {};
	/** Pipes the source in, when that waits for the first read (a source that can fill: measure()). */
	private startPiping?: () => void;
	private filling = false;

	constructor(
		hashTypes: Iterable<HashType>,
		private readonly expect: MeasureExpectations = {},
	) {
		// Node's own buffer (64 KiB), not a megabyte: a download passes three of these (the cloud's size
		// check, the engine's hashes, the local write's), and with a megabyte each its 64 KiB socket reads
		// waited in them long enough that almost no young collection ran, so dead ones piled up to the
		// 64 MiB V8's full collection waits for (300 MiB downloads peaked at 145–147 MiB, 97–130 after).
		super();
		// Every expected hash is computed too, so an expectation can never be skipped unchecked.
		const types = new Set([...hashTypes, ...(Object.keys(expect.hashes ?? {}) as HashType[])]);
		this.hashers = new Map([...types].map((type) => [type, createHasher(type)]));
	}

	_read(size: number): void {
		// Read through its fill, nothing would ever come: a stream reader fails instead of waiting forever.
		if (this.filling) return void this.destroy(new Error('A source read through its fill cannot also be read as a stream'));
		const start = this.startPiping;
		this.startPiping = undefined;
		start?.();
		super._read(size);
	}

	_transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
		callback(this.count(chunk), chunk);
	}

	_flush(callback: TransformCallback): void {
		callback(this.finish());
	}

	get hashes(): Hashes {
		return this.result;
	}

	/** Counts and hashes bytes that went by; the error when they are more than expected. */
	private count(chunk: Buffer): VerificationError | null {
		this.bytes += chunk.length;
		if (this.expect.size !== undefined && this.bytes > this.expect.size) return new VerificationError(`Stream is longer than the expected ${this.expect.size} bytes`);
		for (const hasher of this.hashers.values()) hasher.update(chunk);
		return null;
	}

	private finish(): VerificationError | null {
		for (const [type, hasher] of this.hashers) this.result[type] = hasher.digest();
		return mismatchOf(this.bytes, this.result, this.expect);
	}

	/** Waits with piping `source` in until the first read, and offers the source's fill, measured as the stream would be. */
	deferTo(source: Readable): void {
		this.startPiping = () => source.pipe(this);
		offerFill(this, async () => {
			const inner = await fillOf(source);
			if (!inner || !this.startPiping) return undefined;
			this.startPiping = undefined;
			this.filling = true;
			let ended = false;
			const fill: Fill = async (into) => {
				if (ended) return 0;
				const length = await inner(into);
				const failure = length === 0 ? ((ended = true), this.finish()) : this.count(into.subarray(0, length));
				if (failure) throw failure;
				return length;
			};
			return fill;
		});
	}
}

/** Passes `source` through a MeasuringStream; an error on either side tears both down. */
export function measure(source: Readable, hashTypes: Iterable<HashType>, expect?: MeasureExpectations): MeasuringStream {
	const measuring = new MeasuringStream(hashTypes, expect);
	// The consumer may attach only after an await; until then an error must not crash the process.
	// It stays on `measuring.errored`, and a later pipeline from `measuring` fails with it.
	measuring.on('error', () => undefined);
	// Wired by hand, not with stream.pipeline: a pipeline's end-of-stream watchers and abort signal on
	// both streams, alive as long as the transfer, were the largest share of what every small file left
	// to outlive V8's young collections (the growth of its young generation set the peak RSS).
	source.on('error', (error) => measuring.destroy(error));
	source.on('close', () => {
		if (source.readableEnded === false) measuring.destroy(prematureClose());
	});
	measuring.on('close', () => source.destroy());
	// A source that can fill is left unread until the consumer chose how to read it.
	if (offersFill(source)) measuring.deferTo(source);
	else source.pipe(measuring);
	return measuring;
}

/** Reads a stream to its end and returns its hashes; nothing is kept in memory. */
export async function hashStream(source: Readable, hashTypes: HashType[]): Promise<{ hashes: Hashes; bytes: number }> {
	const measuring = measure(source, hashTypes);
	await pipeline(measuring, new Writable({ write: (_chunk, _encoding, done) => done() }));
	return { hashes: measuring.hashes, bytes: measuring.bytes };
}
