import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHasher, hashStream, measure, measureBuffer, sameHash } from '../lib/core/hashing';
import { bufferStream, readWhole, wholeReadStream } from '../lib/core/streams';
import { VerificationError } from '../lib/core/errors';
import type { HashType } from '../lib/core/types';
import { pseudoRandomBytes } from './conformance/suite';
import { seededRandom } from './support/faulty-provider';
import { DROPBOX_HASH_VECTORS } from './support/hash-vectors';

const MiB = 1024 * 1024;

function digest(type: HashType, data: Buffer, splits?: number[]): string {
	const hasher = createHasher(type);
	if (!splits) {
		hasher.update(data);
		return hasher.digest();
	}
	let offset = 0;
	for (const size of splits) {
		hasher.update(data.subarray(offset, offset + size));
		offset += size;
	}
	hasher.update(data.subarray(offset));
	return hasher.digest();
}

/** Chunk sizes from 1 to `max` bytes, drawn from a seeded generator, until `total` is covered. */
function randomSplits(total: number, max: number, seed: number): number[] {
	const random = seededRandom(seed);
	const sizes: number[] = [];
	for (let covered = 0; covered < total; ) {
		const size = Math.min(total - covered, 1 + Math.floor(random() * max));
		sizes.push(size);
		covered += size;
	}
	return sizes;
}

describe('Dropbox content hash', () => {
	it.each(DROPBOX_HASH_VECTORS)('of %i bytes of "A" is %s', (length, expected) => {
		expect(digest('dropbox', Buffer.alloc(length, 'A'))).toBe(expected);
	});

	it('is the same however the bytes are split into chunks', () => {
		const data = pseudoRandomBytes(9 * MiB + 5, 'dropbox-splits');
		const whole = digest('dropbox', data);
		const block = 4 * MiB;
		expect(digest('dropbox', data, [block - 1, 1, block, 1, 1])).toBe(whole);
		expect(digest('dropbox', data, [1, block, block - 2])).toBe(whole);
		expect(digest('dropbox', data, [block * 2 + 3])).toBe(whole);
		expect(digest('dropbox', data, randomSplits(data.length, 300_000, 1))).toBe(whole);
		expect(digest('dropbox', data, randomSplits(data.length, 3 * MiB, 2))).toBe(whole);
		// And it depends on every byte: one flipped bit in the second block changes it.
		const altered = Buffer.from(data);
		altered[block + 12345] ^= 0x01;
		expect(digest('dropbox', altered)).not.toBe(whole);
	});
});

describe('quickXorHash', () => {
	// The published vectors, as base64 input and base64 digest.
	it.each([
		['', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='],
		['Sg==', 'SgAAAAAAAAAAAAAAAQAAAAAAAAA='],
		['tbQ=', 'taAFAAAAAAAAAAAAAgAAAAAAAAA='],
		['0pZP', '0rDEEwAAAAAAAAAAAwAAAAAAAAA='],
		['2fuxhBJXtpWFe8dOfdGeHw==', 'O9tHLAghgSvYohKFyMMxnNCHaHg='],
		['NbYXsp5/K6mR+NmHwExjvWeWDJFnXTKWVlzYHoesp2E=', 'wjuAuWDiq04qDt1R8hHWDDcwVoQ='],
	])('of base64 %j is %s', (input, expected) => {
		expect(digest('quickxor', Buffer.from(input, 'base64'))).toBe(expected);
	});

	it('is the same however the bytes are split into chunks', () => {
		// Long enough to wrap the 160-bit state and the 1760-byte cycle many times.
		const data = pseudoRandomBytes(50_000, 'quickxor-splits');
		const whole = digest('quickxor', data);
		expect(digest('quickxor', data, new Array<number>(data.length).fill(1))).toBe(whole);
		expect(digest('quickxor', data, [159, 1, 1, 1599, 1760, 1761])).toBe(whole);
		expect(digest('quickxor', data, randomSplits(data.length, 5000, 3))).toBe(whole);
		const altered = Buffer.from(data);
		altered[31_337] ^= 0x80;
		expect(digest('quickxor', altered)).not.toBe(whole);
		// The length is part of the hash: a trailing zero byte changes it.
		expect(digest('quickxor', Buffer.concat([data, Buffer.alloc(1)]))).not.toBe(whole);
	});

	it('is the same for a large input fed in one piece and in odd chunks', () => {
		const data = pseudoRandomBytes(3 * MiB + 17, 'quickxor-large');
		expect(digest('quickxor', data, randomSplits(data.length, 100_000, 4))).toBe(digest('quickxor', data));
	});
});

describe('md5, sha1 and sha256', () => {
	it.each<[HashType, string, string]>([
		['md5', '', 'd41d8cd98f00b204e9800998ecf8427e'],
		['md5', 'The quick brown fox jumps over the lazy dog', '9e107d9d372bb6826bd81d3542a419d6'],
		['sha1', '', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'],
		['sha1', 'The quick brown fox jumps over the lazy dog', '2fd4e1c67a2d28fced849ee1bb76e7391b93eb12'],
		['sha256', '', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
		['sha256', 'abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
	])('%s of %j is %s', (type, input, expected) => {
		expect(digest(type, Buffer.from(input))).toBe(expected);
		expect(digest(type, Buffer.from(input), [1, 2, 3])).toBe(expected);
	});

	it('sameHash compares hex case-insensitively and base64 exactly', () => {
		expect(sameHash('md5', 'D41D8CD98F00B204E9800998ECF8427E', 'd41d8cd98f00b204e9800998ecf8427e')).toBe(true);
		expect(sameHash('md5', 'd41d8cd98f00b204e9800998ecf8427e', 'd41d8cd98f00b204e9800998ecf8427f')).toBe(false);
		expect(sameHash('quickxor', 'SgAAAAAAAAAAAAAAAQAAAAAAAAA=', 'sgaaaaaaaaaaaaaaaqaaaaaaaaa=')).toBe(false);
		expect(sameHash('quickxor', 'SgAAAAAAAAAAAAAAAQAAAAAAAAA=', 'SgAAAAAAAAAAAAAAAQAAAAAAAAA=')).toBe(true);
	});
});

describe('measure / MeasuringStream', () => {
	const data = pseudoRandomBytes(3 * MiB + 1, 'measure');
	const sha256 = createHash('sha256').update(data).digest('hex');
	const sink = () => new Writable({ write: (_chunk, _encoding, done) => done() });
	const source = (bytes: Buffer) => Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)], { objectMode: false });

	it('counts and hashes the bytes passing through when they match the expectations', async () => {
		const measuring = measure(source(data), ['sha256', 'dropbox'], { size: data.length, hashes: { sha256: sha256.toUpperCase() } });
		await pipeline(measuring, sink());
		expect(measuring.bytes).toBe(data.length);
		expect(measuring.hashes).toEqual({ sha256, dropbox: digest('dropbox', data) });
	});

	it('rejects a stream shorter than the expected size', async () => {
		const measuring = measure(source(data.subarray(0, data.length - 1)), ['sha256'], { size: data.length });
		await expect(pipeline(measuring, sink())).rejects.toBeInstanceOf(VerificationError);
	});

	it('rejects a stream longer than the expected size', async () => {
		const measuring = measure(source(Buffer.concat([data, Buffer.from('!')])), ['sha256'], { size: data.length });
		await expect(pipeline(measuring, sink())).rejects.toBeInstanceOf(VerificationError);
	});

	it('rejects a stream whose hash differs from the expected one', async () => {
		const altered = Buffer.from(data);
		altered[2 * MiB] ^= 0xff;
		const measuring = measure(source(altered), ['sha256'], { size: data.length, hashes: { sha256 } });
		await expect(pipeline(measuring, sink())).rejects.toBeInstanceOf(VerificationError);
		const quickxor = digest('quickxor', data);
		const byQuickXor = measure(source(altered), ['quickxor'], { hashes: { quickxor } });
		await expect(pipeline(byQuickXor, sink())).rejects.toBeInstanceOf(VerificationError);
	});

	it('passes on an error of the source stream', async () => {
		const failing = new Readable({
			read() {
				this.destroy(new Error('source broke'));
			},
		});
		const measuring = measure(failing, ['md5'], { size: 10 });
		await expect(pipeline(measuring, sink())).rejects.toThrow('source broke');
	});

	it('hashStream reads a stream to its end and returns its hashes and length', async () => {
		const result = await hashStream(source(data), ['md5', 'sha1', 'quickxor']);
		expect(result).toEqual({
			bytes: data.length,
			hashes: {
				md5: createHash('md5').update(data).digest('hex'),
				sha1: createHash('sha1').update(data).digest('hex'),
				quickxor: digest('quickxor', data),
			},
		});
	});
});

describe('a small file read whole (measureBuffer, readWhole)', () => {
	const data = pseudoRandomBytes(200_000, 'whole');
	const sha256 = createHash('sha256').update(data).digest('hex');
	const inPieces = (bytes: Buffer) => Readable.from([bytes.subarray(0, 70_000), bytes.subarray(70_000, 140_000), bytes.subarray(140_000)], { objectMode: false });

	it('finds the hashes a MeasuringStream finds, expected ones included', () => {
		expect(measureBuffer(data, ['dropbox'], { size: data.length, hashes: { sha256 } })).toEqual({ dropbox: digest('dropbox', data), sha256 });
	});

	it('refuses bytes shorter or longer than the expected size, or of another hash', () => {
		expect(() => measureBuffer(data.subarray(1), ['md5'], { size: data.length })).toThrow(new VerificationError(`Stream ended after ${data.length - 1} of ${data.length} bytes`));
		expect(() => measureBuffer(Buffer.concat([data, Buffer.from('!')]), ['md5'], { size: data.length })).toThrow(VerificationError);
		const altered = Buffer.from(data);
		altered[150_000] ^= 1;
		expect(() => measureBuffer(altered, [], { size: data.length, hashes: { sha256 } })).toThrow(/sha256 of the streamed bytes/);
	});

	it('readWhole joins a stream of several chunks, and bufferStream gives them back', async () => {
		const whole = await readWhole(inPieces(data), data.length);
		expect(whole.equals(data)).toBe(true);
		const chunks: Buffer[] = [];
		for await (const chunk of bufferStream(whole)) chunks.push(chunk as Buffer);
		expect(Buffer.concat(chunks).equals(data)).toBe(true);
		expect(await readWhole(bufferStream(Buffer.alloc(0)), 0)).toHaveLength(0);
	});

	it('wholeReadStream reads its bytes only once it is read, and fails with the read', async () => {
		let reads = 0;
		const lazy = wholeReadStream(async () => {
			reads++;
			return data;
		});
		await new Promise((resolve) => setImmediate(resolve));
		expect(reads).toBe(0);
		expect((await readWhole(lazy, data.length)).equals(data)).toBe(true);
		expect(reads).toBe(1);
		const failing = wholeReadStream(() => Promise.reject(new VerificationError('Stream ended after 4 of 7 bytes')));
		await expect(readWhole(failing, data.length)).rejects.toThrow('Stream ended after 4 of 7 bytes');
	});

	it('readWhole refuses a stream longer than announced and closes it without reading on', async () => {
		const longer = inPieces(data);
		await expect(readWhole(longer, 100_000)).rejects.toThrow(new VerificationError('Stream is longer than the expected 100000 bytes'));
		expect(longer.destroyed).toBe(true);
	});

	it('readWhole fails when the source breaks or is closed before its end', async () => {
		const broken = new Readable({
			read() {
				this.push(data.subarray(0, 10));
				this.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
			},
		});
		await expect(readWhole(broken, data.length)).rejects.toThrow('socket hang up');
		const closed = new Readable({
			read() {
				this.push(data.subarray(0, 10));
				this.destroy();
			},
		});
		await expect(readWhole(closed, data.length)).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
	});
});
