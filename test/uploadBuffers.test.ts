import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { ChunkReader, lazyStream } from '../lib/providers/kit/streams';
import { PooledBody } from '../lib/providers/kit/pooledBody';
import { fillOf, type Fill } from '../lib/core/fill';
import { measure } from '../lib/core/hashing';
import { VerificationError } from '../lib/core/errors';
import { chunksOf } from '../lib/core/streams';
import { LocalProvider } from '../lib';
import { removeTempDirs, tempDir } from './support/trees';
import { bufferFetch } from '../lib/providers/kit/bufferFetch';
import { classifyError } from '../lib/core/pacer';
import { fetchGlobalsTouched } from './support/fetchTrap';

const sha1 = (bytes: Buffer) => createHash('sha1').update(bytes).digest('hex');

/** A source that hands out `bytes` in pieces of `piece` bytes, as a file read stream does. */
function pieces(bytes: Buffer, piece: number): Readable {
	const parts: Buffer[] = [];
	for (let at = 0; at < bytes.length; at += piece) parts.push(bytes.subarray(at, at + piece));
	return Readable.from(parts);
}

describe('ChunkReader reusing one buffer for the chunks of an upload', () => {
	const file = Buffer.from(Array.from({ length: 1000 }, (_, index) => index % 251));

	it('hands out the same bytes as a fresh buffer per chunk, whatever the source piece size', async () => {
		for (const piece of [7, 64, 333, 1000]) {
			const reuse = new ChunkReader(pieces(file, piece), { reuse: true });
			const fresh = new ChunkReader(pieces(file, piece));
			const sent: string[] = [];
			const expected: string[] = [];
			while (!(await reuse.atEnd())) sent.push(sha1(await reuse.read(128)));
			while (!(await fresh.atEnd())) expected.push(sha1(await fresh.read(128)));
			expect(sent).toEqual(expected);
			expect(sent).toHaveLength(Math.ceil(file.length / 128));
		}
	});

	it('rebuilds the whole file when each chunk is sent before the next is read', async () => {
		const reader = new ChunkReader(pieces(file, 100), { reuse: true });
		const received: Buffer[] = [];
		// Each chunk "sent" is copied by the receiver, as a socket write completes before the next read.
		while (!(await reader.atEnd())) received.push(Buffer.from(await reader.read(300)));
		expect(Buffer.concat(received).equals(file)).toBe(true);
		expect(reader.done).toBe(true);
	});
});

describe('ChunkReader passing a stream on', () => {
	const file = Buffer.from(Array.from({ length: 1000 }, (_, index) => (index * 7) % 256));

	it('hands out the source bytes in order, uncopied, at most the size asked for, then nothing', async () => {
		const source = [file.subarray(0, 300), file.subarray(300, 350), file.subarray(350)];
		const reader = new ChunkReader(Readable.from(source));
		const received: Buffer[] = [];
		for (let piece = await reader.readSome(256); piece.length > 0; piece = await reader.readSome(256)) received.push(piece);
		expect(received.map((piece) => piece.length)).toEqual([256, 44, 50, 256, 256, 138]);
		expect(Buffer.concat(received).equals(file)).toBe(true);
		// Views of the source's own buffers: nothing was copied.
		expect(received.every((piece) => piece.buffer === file.buffer)).toBe(true);
		expect(reader.done).toBe(true);
	});

	it('assembles a piece of several source chunks in the buffer the caller lends', async () => {
		const reader = new ChunkReader(pieces(file, 100));
		const lent = Buffer.alloc(300);
		const piece = await reader.read(300, lent);
		expect(piece.buffer).toBe(lent.buffer);
		expect(piece.equals(file.subarray(0, 300))).toBe(true);
		// Too small a loan is not used.
		const other = await reader.read(300, Buffer.alloc(10));
		expect(other.equals(file.subarray(300, 600))).toBe(true);
		expect(other.buffer).not.toBe(lent.buffer);
	});
});

describe('ChunkReader measuring what it reads', () => {
	const file = Buffer.from(Array.from({ length: 1000 }, (_, index) => (index * 13) % 256));
	const readAll = async (reader: ChunkReader) => {
		while (!(await reader.atEnd())) await reader.read(300);
	};

	it('counts and hashes every byte of the source once it ended', async () => {
		const reader = new ChunkReader(pieces(file, 64), { reuse: true, measure: { hashTypes: ['sha1', 'md5'], size: file.length } });
		await readAll(reader);
		expect(reader.bytes).toBe(1000);
		expect(reader.hashes).toEqual({ sha1: sha1(file), md5: createHash('md5').update(file).digest('hex') });
	});

	it('fails the read that meets a source shorter or longer than the size it was given', async () => {
		await expect(readAll(new ChunkReader(pieces(file, 64), { measure: { hashTypes: ['md5'], size: 1001 } }))).rejects.toThrow('Stream ended after 1000 of 1001 bytes');
		await expect(readAll(new ChunkReader(pieces(file, 64), { measure: { hashTypes: ['md5'], size: 999 } }))).rejects.toThrow('longer than the expected 999 bytes');
	});
});

describe('ChunkReader filling its pieces from a source that fills (a local file)', () => {
	// Several of the local stream's 1 MiB reads, and not a multiple of the pieces asked for.
	const file = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 12_345 }, (_, index) => (index * 29 + 5) % 256));
	let local: LocalProvider;
	beforeAll(async () => {
		const folder = await tempDir('filled-pieces');
		await fs.writeFile(nodePath.join(folder, 'big.bin'), file);
		local = await LocalProvider.open(folder);
	});
	afterAll(() => removeTempDirs());

	/** The source as the engine hands a local file to an upload: opened on first use, measured. */
	const engineSource = () => lazyStream(async () => measure(await local.read('big.bin'), ['sha1'], { size: file.length }));

	it('hands out the file in pieces of the size asked, all in its one reused buffer, and knows the end with the last piece', async () => {
		const reader = new ChunkReader(engineSource(), { reuse: true, measure: { hashTypes: ['sha1'], size: file.length } });
		const received: Buffer[] = [];
		const buffers = new Set<ArrayBufferLike>();
		do {
			const piece = await reader.read(700 * 1024);
			buffers.add(piece.buffer);
			received.push(Buffer.from(piece));
		} while (!reader.done);
		expect(received.map((piece) => piece.length)).toEqual([...Array(4).fill(700 * 1024), file.length - 4 * 700 * 1024]);
		expect(Buffer.concat(received).equals(file)).toBe(true);
		// Read as a stream, a piece within one 1 MiB read would be handed out as a view of that read's own buffer.
		expect(buffers.size).toBe(1);
		expect(reader.bytes).toBe(file.length);
		expect(reader.hashes.sha1).toBe(sha1(file));
	});

	it("fills the buffer a caller lends, and hands out new buffers, which later reads leave alone, to callers that keep them", async () => {
		const reader = new ChunkReader(engineSource());
		const lent = Buffer.alloc(2 * 1024 * 1024);
		const first = await reader.read(lent.length, lent);
		expect(first.buffer).toBe(lent.buffer);
		const kept = [Buffer.from(first)];
		// Passed on uncopied to a socket that may hold them: none may be overwritten by a later read.
		const some: Buffer[] = [];
		for (let index = 0; index < 3; index++) some.push(await reader.readSome(100_000));
		const rest = await reader.read(file.length);
		expect(await reader.atEnd()).toBe(true);
		expect(Buffer.concat([...kept, ...some, rest]).equals(file)).toBe(true);
		expect(some.every((piece) => piece.length > 0 && piece.length <= 100_000)).toBe(true);
	});

	it('fails the read that meets a file longer or shorter than announced, even when it ends on a piece boundary', async () => {
		const readAll = async (reader: ChunkReader, piece: number) => {
			while (!(await reader.atEnd())) await reader.read(piece);
		};
		const pieceEnd = 1024 * 1024;
		await expect(readAll(new ChunkReader(await local.read('big.bin'), { reuse: true, measure: { hashTypes: ['md5'], size: 3 * pieceEnd } }), pieceEnd)).rejects.toThrow(`longer than the expected ${3 * pieceEnd} bytes`);
		await expect(readAll(new ChunkReader(await local.read('big.bin'), { measure: { hashTypes: ['md5'], size: file.length + 1 } }), pieceEnd)).rejects.toThrow(`Stream ended after ${file.length} of ${file.length + 1} bytes`);
	});
});

describe('chunksOf, a download body read chunk by chunk', () => {
	it('hands out each chunk as the stream gave it, uncopied, however many the stream has buffered', async () => {
		const bytes = Buffer.from(Array.from({ length: 50_000 }, (_, index) => index % 253));
		const source = new Readable({ read() {} });
		const given = [bytes.subarray(0, 10_000), bytes.subarray(10_000, 30_000), bytes.subarray(30_000)];
		// All buffered before the first read: iterating the stream itself would join them into one new buffer.
		for (const chunk of given) source.push(chunk);
		source.push(null);
		const received: Buffer[] = [];
		for await (const chunk of chunksOf(source)) received.push(chunk);
		expect(received.map((chunk) => chunk.length)).toEqual([10_000, 20_000, 20_000]);
		expect(received.every((chunk) => chunk.buffer === bytes.buffer)).toBe(true);
	});

	it('fails when the stream breaks or closes before its end, and closes a stream given up on', async () => {
		const broken = new Readable({ read() {} });
		broken.push(Buffer.alloc(10));
		setImmediate(() => broken.destroy(new Error('connection reset')));
		await expect((async () => {
			for await (const chunk of chunksOf(broken)) void chunk;
		})()).rejects.toThrow('connection reset');
		const closed = new Readable({ read() {} });
		setImmediate(() => closed.destroy());
		await expect((async () => {
			for await (const chunk of chunksOf(closed)) void chunk;
		})()).rejects.toThrow('Premature close');
		// Broken before its first read, as an answer that broke off while it was read ahead is handed over.
		const early = chunksOf(new Readable({ read() {} }).destroy(new Error('cut off early')));
		await new Promise((resolve) => setTimeout(resolve, 10));
		await expect(early.next()).rejects.toThrow('cut off early');
		const left = new Readable({ read() {} });
		left.push(Buffer.alloc(10));
		for await (const chunk of chunksOf(left)) {
			void chunk;
			break;
		}
		expect(left.destroyed).toBe(true);
	});
});

describe('lazyStream, the source a transfer opens on its first read', () => {
	const file = Buffer.from(Array.from({ length: 200_000 }, (_, index) => (index * 13) % 256));

	it('opens the source only when read, and passes every byte through in order', async () => {
		let opened = 0;
		const stream = lazyStream(async () => {
			opened++;
			return pieces(file, 4096);
		});
		await new Promise((resolve) => setTimeout(resolve, 20));
		expect(opened).toBe(0);
		const received: Buffer[] = [];
		for await (const chunk of stream) received.push(chunk as Buffer);
		expect(opened).toBe(1);
		expect(Buffer.concat(received).equals(file)).toBe(true);
	});

	it('closes the source when the reader gives up, and never opens one nobody reads', async () => {
		const source = pieces(file, 1024);
		const stream = lazyStream(async () => source);
		await stream[Symbol.asyncIterator]().next();
		stream.destroy();
		expect(source.destroyed).toBe(true);
		let opened = false;
		lazyStream(async () => {
			opened = true;
			return pieces(file, 1024);
		}).destroy();
		await new Promise((resolve) => setTimeout(resolve, 20));
		expect(opened).toBe(false);
	});

	it('fails with the error of a source that cannot be opened or breaks', async () => {
		const unopenable = lazyStream(async () => {
			throw new Error('gone');
		});
		await expect((async () => {
			for await (const _chunk of unopenable) void _chunk;
		})()).rejects.toThrow('gone');
		const broken = lazyStream(async () =>
			Readable.from((async function* () {
				yield Buffer.alloc(10);
				throw new Error('connection reset');
			})()),
		);
		await expect((async () => {
			for await (const _chunk of broken) void _chunk;
		})()).rejects.toThrow('connection reset');
	});
});

describe('bufferFetch, the fetch that sends upload chunks uncopied', () => {
	let server: Server;
	let url: string;
	let seen: { method?: string; headers: IncomingHttpHeaders; body: Buffer }[];
	beforeEach(async () => {
		seen = [];
		server = createServer((request, response) => {
			const parts: Buffer[] = [];
			request.on('data', (part: Buffer) => parts.push(part));
			request.on('end', () => {
				seen.push({ method: request.method, headers: request.headers, body: Buffer.concat(parts) });
				if (request.url === '/incomplete') {
					// Google's "resume incomplete": a 308 with no Location, which must come back as it is.
					response.writeHead(308, { range: `bytes=0-${Buffer.concat(parts).length - 1}` }).end();
				} else if (request.url === '/slow') {
					setTimeout(() => response.end('late'), 5_000).unref();
				} else {
					response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ size: Buffer.concat(parts).length }));
				}
			});
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	});
	afterEach(async () => {
		server.closeAllConnections();
		await new Promise((resolve) => server.close(resolve));
	});

	it('delivers a Buffer body byte for byte with its length and headers, and reads the answer like fetch', async () => {
		const chunk = Buffer.from(Array.from({ length: 300_000 }, (_, index) => (index * 7) % 256));
		const response = await bufferFetch(`${url}/chunk`, { method: 'PUT', body: chunk, headers: { 'Content-Range': 'bytes 0-299999/300000', authorization: 'Bearer t' } });
		expect(response.status).toBe(200);
		expect(await response.json()).toEqual({ size: 300_000 });
		expect(seen[0].method).toBe('PUT');
		expect(seen[0].headers).toMatchObject({ 'content-length': '300000', 'content-range': 'bytes 0-299999/300000', authorization: 'Bearer t' });
		expect(seen[0].headers['transfer-encoding']).toBeUndefined();
		expect(sha1(seen[0].body)).toBe(sha1(chunk));
	});

	it('returns a 308 with its headers instead of following it', async () => {
		const response = await bufferFetch(`${url}/incomplete`, { method: 'PUT', body: Buffer.alloc(1024, 1) });
		expect(response.status).toBe(308);
		expect(response.headers.get('range')).toBe('bytes=0-1023');
	});

	it('sends a string (JSON) body with its byte length and type, and reads the answer like fetch', async () => {
		const body = JSON.stringify({ name: 'é' });
		const response = await bufferFetch(`${url}/json`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
		expect(await response.json()).toEqual({ size: Buffer.byteLength(body) });
		expect(seen[0].headers).toMatchObject({ 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
		await bufferFetch(`${url}/json`, { method: 'POST', body: 'plain' });
		expect(seen[1].headers['content-type']).toBe('text/plain;charset=UTF-8');
	});

	it('streams an answer of unknown length instead of reading it whole first', async () => {
		server.removeAllListeners('request');
		server.on('request', (request, response) => {
			request.resume();
			response.writeHead(200, { 'content-type': 'text/plain' });
			response.write('first ');
			setTimeout(() => response.end('last'), 50);
		});
		const response = await bufferFetch(`${url}/chunked`, { method: 'PUT', body: Buffer.alloc(10) });
		expect(response.headers.get('content-length')).toBeNull();
		expect(await response.text()).toBe('first last');
	});

	it('sends a request without a body', async () => {
		const response = await bufferFetch(`${url}/json`, { method: 'GET' });
		expect(await response.json()).toEqual({ size: 0 });
		expect(seen[0].method).toBe('GET');
	});

	it('rejects with the signal reason when aborted, as fetch does, so a timeout reads as one', async () => {
		const attempt = bufferFetch(`${url}/slow`, { method: 'PUT', body: Buffer.alloc(10), signal: AbortSignal.timeout(100) });
		await expect(attempt).rejects.toMatchObject({ name: 'TimeoutError' });
	});

	it('turns a refused connection into a retryable "fetch failed", as fetch does', async () => {
		server.closeAllConnections();
		await new Promise((resolve) => server.close(resolve));
		const error = await bufferFetch(`${url}/chunk`, { method: 'PUT', body: Buffer.alloc(10) }).catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(TypeError);
		expect((error as Error).message).toBe('fetch failed');
		expect(classifyError(error).retryable).toBe(true);
		// Listening again so that afterEach can close it.
		server = createServer().listen(0);
	});
});

describe('filling buffers the caller owns instead of streaming (core/fill.ts)', () => {
	const file = Buffer.from(Array.from({ length: 300_000 }, (_, index) => (index * 7 + 3) % 256));
	let local: LocalProvider;
	let folder: string;
	beforeAll(async () => {
		folder = await tempDir('fill');
		await fs.writeFile(nodePath.join(folder, 'big.bin'), file);
		local = await LocalProvider.open(folder);
	});
	afterAll(() => removeTempDirs());

	const drain = async (fill: Fill, piece: number) => {
		const parts: Buffer[] = [];
		const into = Buffer.alloc(piece);
		for (let length = await fill(into); length > 0; length = await fill(into)) parts.push(Buffer.from(into.subarray(0, length)));
		return Buffer.concat(parts);
	};

	it('reads a local file, or a range of it, through the engine\'s measuring and lazy streams, counted and hashed as a stream would be', async () => {
		let measured: ReturnType<typeof measure> | undefined;
		const content = lazyStream(async () => (measured = measure(await local.read('big.bin'), ['sha1'], { size: file.length })));
		const fill = await fillOf(measure(content, [], { size: file.length }));
		expect(fill).toBeDefined();
		expect((await drain(fill!, 64 * 1024)).equals(file)).toBe(true);
		expect(measured!.bytes).toBe(file.length);
		expect(measured!.hashes.sha1).toBe(sha1(file));
		const range = await fillOf(await local.read('big.bin', { start: 1000, end: 5000 }));
		expect((await drain(range!, 1500)).equals(file.subarray(1000, 5000))).toBe(true);
	});

	it('fails a source longer or shorter than announced, or whose hash differs, at the fill that meets it', async () => {
		const longer = await fillOf(measure(await local.read('big.bin'), [], { size: file.length - 1 }));
		await expect(drain(longer!, 4096)).rejects.toBeInstanceOf(VerificationError);
		const shorter = await fillOf(measure(await local.read('big.bin'), [], { size: file.length + 1 }));
		await expect(drain(shorter!, 4096)).rejects.toThrow(`Stream ended after ${file.length} of ${file.length + 1} bytes`);
		const otherHash = await fillOf(measure(await local.read('big.bin'), [], { hashes: { sha1: sha1(Buffer.from('other')) } }));
		await expect(drain(otherHash!, 4096)).rejects.toBeInstanceOf(VerificationError);
	});

	it('is offered once, never for a stream already being read, and a stream that cannot fill is read as a stream', async () => {
		const stream = await local.read('big.bin');
		expect(await fillOf(stream)).toBeDefined();
		expect(await fillOf(stream)).toBeUndefined();
		stream.destroy();
		const started = measure(await local.read('big.bin'), []);
		await started[Symbol.asyncIterator]().next();
		expect(await fillOf(started)).toBeUndefined();
		started.destroy();
		// A lazy stream over a source without a fill is switched back to streaming, and still reads whole.
		const lazy = measure(lazyStream(async () => pieces(file, 4096)), ['sha1'], { size: file.length });
		expect(await fillOf(lazy)).toBeUndefined();
		const parts: Buffer[] = [];
		for await (const chunk of lazy) parts.push(chunk as Buffer);
		expect(Buffer.concat(parts).equals(file)).toBe(true);
		expect(lazy.hashes.sha1).toBe(sha1(file));
		// Once filled, a stream reader gets an error, not a wait that never ends.
		const filled = lazyStream(async () => local.read('big.bin'));
		expect(await fillOf(filled)).toBeDefined();
		await expect((async () => {
			for await (const _chunk of filled) void _chunk;
		})()).rejects.toThrow('cannot also be read as a stream');
		const measuredFill = measure(await local.read('big.bin'), []);
		expect(await fillOf(measuredFill)).toBeDefined();
		await expect((async () => {
			for await (const _chunk of measuredFill) void _chunk;
		})()).rejects.toThrow('cannot also be read as a stream');
	});
});

describe('PooledBody, a request body in a few reused buffers', () => {
	const file = Buffer.from(Array.from({ length: 1_000_003 }, (_, index) => (index * 31 + 11) % 256));

	/** A fill over `bytes` that hands out at most `most` bytes at a time. */
	const filling = (bytes: Buffer, most = Number.POSITIVE_INFINITY): Fill => {
		let at = 0;
		return async (into) => {
			const length = bytes.copy(into, 0, at, Math.min(bytes.length, at + Math.min(into.length, most)));
			at += length;
			return length;
		};
	};

	it('delivers every byte in order and refills a buffer only once its write completed, however slowly the socket takes them', async () => {
		const received: Buffer[] = [];
		const buffers = new Set<ArrayBufferLike>();
		const slow = new Writable({
			highWaterMark: 1,
			write(chunk: Buffer, _encoding, done) {
				buffers.add(chunk.buffer);
				const copy = Buffer.from(chunk);
				// The socket takes its time; the bytes lent must not change meanwhile.
				setTimeout(() => {
					received.push(copy);
					done(chunk.equals(copy) ? null : new Error('a lent buffer was refilled before its write completed'));
				}, 2);
			},
		});
		const body = new PooledBody(filling(file, 50_000), 64 * 1024, 3);
		await body.readFirst();
		await body.writeTo(slow);
		await new Promise((resolve) => slow.once('finish', resolve));
		expect(Buffer.concat(received).equals(file)).toBe(true);
		expect(buffers.size).toBeLessThanOrEqual(3);
	});

	it('fails when the source fails or the request breaks, and sends an empty body as nothing', async () => {
		const failing = new PooledBody(async () => {
			throw new Error('disk gone');
		});
		await expect(failing.readFirst()).rejects.toThrow('disk gone');
		const broken = new Writable({ write: (_chunk, _encoding, done) => done(new Error('connection reset')) });
		broken.on('error', () => undefined);
		const body = new PooledBody(filling(file), 1024, 2);
		await expect(body.writeTo(broken)).rejects.toThrow('connection reset');
		const sink: Buffer[] = [];
		const empty = new PooledBody(filling(Buffer.alloc(0)));
		await empty.readFirst();
		await empty.writeTo(new Writable({ write: (chunk, _encoding, done) => done(void sink.push(chunk)) }));
		expect(sink).toEqual([]);
	});

});

describe('bufferFetch, the fetch every cloud client sends its requests through', () => {
	const servers: Server[] = [];
	async function serve(handle: (request: IncomingMessage, response: ServerResponse) => void): Promise<string> {
		const server = createServer(handle);
		servers.push(server);
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	}
	afterEach(async () => {
		for (const server of servers.splice(0)) {
			server.closeAllConnections();
			await new Promise((resolve) => server.close(resolve));
		}
	});

	it('follows a download redirect to another host without the bearer token, as fetch does', async () => {
		const seenThere: IncomingHttpHeaders[] = [];
		const there = await serve((request, response) => {
			seenThere.push(request.headers);
			response.writeHead(200, { 'content-type': 'application/octet-stream' }).end('the bytes');
		});
		// Another origin: the same address by another name.
		const elsewhere = there.replace('127.0.0.1', 'localhost');
		const here = await serve((request, response) => response.writeHead(302, { location: `${elsewhere}/file?sig=1` }).end());
		const response = await bufferFetch(`${here}/content`, { headers: { authorization: 'Bearer secret-token', range: 'bytes=0-8' } });
		expect(response.status).toBe(200);
		expect(response.redirected).toBe(true);
		expect(await response.text()).toBe('the bytes');
		expect(seenThere[0].authorization).toBeUndefined();
		expect(seenThere[0].range).toBe('bytes=0-8');
	});

	it('keeps the token on a redirect within the same origin, turns a 303 into a GET, and leaves a manual redirect to the caller', async () => {
		const seen: Array<{ method?: string; url?: string; authorization?: string }> = [];
		const url = await serve((request, response) => {
			seen.push({ method: request.method, url: request.url, authorization: request.headers.authorization });
			request.resume();
			if (request.url === '/start') response.writeHead(303, { location: '/done' }).end();
			else response.writeHead(200).end('ok');
		});
		const followed = await bufferFetch(`${url}/start`, { method: 'POST', body: '{}', headers: { authorization: 'Bearer t' } });
		expect(await followed.text()).toBe('ok');
		expect(seen).toEqual([
			{ method: 'POST', url: '/start', authorization: 'Bearer t' },
			{ method: 'GET', url: '/done', authorization: 'Bearer t' },
		]);
		const manual = await bufferFetch(`${url}/start`, { method: 'POST', body: '{}', redirect: 'manual' });
		expect(manual.status).toBe(303);
		expect(manual.headers.get('location')).toBe('/done');
	});

	it('answers once the head is in, and fails the body read, not the request, when the body breaks off', async () => {
		const url = await serve((request, response) => {
			response.writeHead(200, { 'content-length': '1000' });
			response.write(Buffer.alloc(100), () => response.socket?.destroy());
		});
		const response = await bufferFetch(`${url}/short`);
		expect(response.status).toBe(200);
		const failure = await response.arrayBuffer().then(
			() => 'read whole',
			(error: unknown) => error,
		);
		expect(failure).not.toBe('read whole');
		expect(classifyError(failure).retryable).toBe(true);
	});

	it('streams a large answer as it arrives and hands the same body object out each time it is asked for', async () => {
		const bytes = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, index) => (index * 13) % 256));
		const url = await serve((request, response) => response.writeHead(200, { 'content-length': String(bytes.length) }).end(bytes));
		const response = await bufferFetch(`${url}/big`);
		expect(response.body).toBe(response.body);
		const received: Buffer[] = [];
		for await (const piece of Readable.fromWeb(response.body! as import('node:stream/web').ReadableStream)) received.push(piece as Buffer);
		expect(sha1(Buffer.concat(received))).toBe(sha1(bytes));
		expect(received.length).toBeGreaterThan(1);
	});

	it('sends a streamed body, and closes its source when the request fails', async () => {
		const url = await serve((request, response) => {
			const parts: Buffer[] = [];
			request.on('data', (part: Buffer) => parts.push(part));
			request.on('end', () => response.writeHead(200).end(String(Buffer.concat(parts).length)));
		});
		const sent = await bufferFetch(`${url}/stream`, { method: 'POST', body: Readable.from([Buffer.alloc(70_000, 1), Buffer.alloc(30_000, 2)]) as unknown as RequestInit['body'] });
		expect(await sent.text()).toBe('100000');
		const source = new Readable({ read() {} });
		source.push(Buffer.alloc(10));
		const refused = await bufferFetch('http://127.0.0.1:1/nowhere', { method: 'POST', body: source as unknown as RequestInit['body'] }).catch((error: unknown) => error);
		expect((refused as Error).message).toBe('fetch failed');
		await new Promise((resolve) => setImmediate(resolve));
		expect(source.destroyed).toBe(true);
	});

	it("never touches Node's own fetch or its classes (loading undici costs a process 16 MiB)", async () => {
		const touched = await fetchGlobalsTouched(async () => {
			const url = await serve((request, response) => {
				request.resume();
				if (request.url === '/moved') response.writeHead(307, { location: '/json' }).end();
				else response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
			});
			const answers = [
				await bufferFetch(`${url}/json`, { method: 'POST', body: Buffer.from('x'), headers: [['x-a', '1']] }),
				await bufferFetch(`${url}/moved`, { method: 'PUT', body: 'text' }),
				await bufferFetch(new URL(`${url}/json`), { method: 'POST', body: new URLSearchParams({ a: 'b' }) }),
				await bufferFetch(`${url}/json`),
			];
			for (const answer of answers) expect(await answer.json()).toEqual({ ok: true });
			expect(answers[0].headers.get('Content-Type')).toBe('application/json');
		});
		expect(touched).toEqual([]);
	});

});
