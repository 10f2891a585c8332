/**
 * S3's own cases against a real S3 server (s3rver) on loopback: 500 files from a local folder through
 * a proxy that breaks one request in ten, the metadata keys other S3 sync tools share (mtime, md5chksum), multipart
 * uploads and their ETags.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { LocalProvider, Pacer, VerificationError, sync, type Entry, type Provider } from '../lib';
import { S3Provider, formatS3Mtime, parseS3Mtime, md5OfEtag } from '../lib/providers/s3';
import { seededRandom } from './support/faulty-provider';
import { s3Provider, startS3FaultProxy, startS3Server, type S3TestServer } from './support/s3';
import { removeTempDirs, tempDir } from './support/trees';
import { bufferStream, irregularStream, pseudoRandomBytes, readAll } from './conformance/suite';
import type { EmulatorServer } from './emulators/core/server';

const MiB = 1024 * 1024;
let server: S3TestServer;

beforeAll(async () => {
	server = await startS3Server();
});
afterAll(async () => {
	await server?.stop();
	await removeTempDirs();
});

async function files(provider: Provider): Promise<Entry[]> {
	const found: Entry[] = [];
	for await (const entry of provider.list('', { recursive: true })) if (!entry.isDir) found.push(entry);
	return found;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('local → S3 and back through a proxy that breaks one request in ten', () => {
	let proxy: EmulatorServer;
	afterAll(async () => proxy?.stop());

	it('converges on 500 files both ways with matching hashes, the faults in the proxy log, and a re-run transfers nothing', async () => {
		const random = seededRandom(2026);
		const root = await tempDir('s3-faults');
		const expected = new Map<string, string>();
		for (let i = 0; i < 500; i++) {
			const file = `album-${i % 10}/img-${i}.jpg`;
			const content = randomBytes(1 + Math.floor(random() * 40_000));
			await fs.mkdir(path.join(root, path.dirname(file)), { recursive: true });
			await fs.writeFile(path.join(root, file), content);
			expected.set(file, sha256(content));
		}
		proxy = await startS3FaultProxy(server.endpoint, 7);
		const pacer = new Pacer({ baseDelayMs: 1, maxDelayMs: 10, retriesPerRequest: 10, retriesPerRun: 100_000 });
		const source = await LocalProvider.open(root);
		const destination = await S3Provider.open({ ...server.connection, endpoint: proxy.baseUrl, bucket: 'test', prefix: 'faults', pacer });
		proxy.inject({ kind: 'rate-limit', probability: 0.03, retryAfterSeconds: 0 });
		proxy.inject({ kind: 'unavailable', probability: 0.02, retryAfterSeconds: 0 });
		proxy.inject({ kind: 'server-error', probability: 0.02 });
		proxy.inject({ kind: 'reset', probability: 0.02 });
		proxy.inject({ route: /^GET /, kind: 'truncate', probability: 0.03 });

		const first = await sync(source, destination, { mode: 'mirror', pacer, transfers: 8 });
		expect(first).toMatchObject({ status: 'success', added: 500, failed: 0 });
		// And back, through the same faults: downloads cut short or dropped are caught and fetched again.
		const back = await LocalProvider.open(await tempDir('s3-faults-back'));
		const down = await sync(destination, back, { mode: 'mirror', pacer, transfers: 8 });
		expect(down).toMatchObject({ status: 'success', added: 500, failed: 0 });
		for (const entry of await files(back)) expect(sha256(await readAll(await back.read(entry.path)))).toBe(expected.get(entry.path));
		const kinds = new Map<string, number>();
		for (const entry of proxy.log) if (entry.fault) kinds.set(entry.fault, (kinds.get(entry.fault) ?? 0) + 1);
		expect([...kinds.keys()].sort()).toEqual(['rate-limit', 'reset', 'server-error', 'truncate', 'unavailable']);
		const injected = [...kinds.values()].reduce((a, b) => a + b, 0);
		expect(injected / proxy.log.length).toBeGreaterThan(0.06);
		expect(first.retries + down.retries).toBeGreaterThanOrEqual(injected / 2);

		proxy.clearFaults();
		const arrived = await files(destination);
		expect(arrived.map((entry) => entry.path).sort()).toEqual([...expected.keys()].sort());
		for (const entry of arrived) expect(sha256(await readAll(await destination.read(entry.path)))).toBe(expected.get(entry.path));
		const before = proxy.log.length;
		const rerun = await sync(source, destination, { mode: 'mirror', pacer });
		expect(rerun).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0, bytes: 0 });
		// A listing page and one HEAD per file (the stored modification times), and no upload.
		expect(proxy.log.slice(before).filter((entry) => entry.method === 'PUT' || entry.method === 'POST')).toEqual([]);
	}, 120_000);
});

describe('listing', () => {
	it('pages through more keys than one answer holds, whole tree and one level', async () => {
		const provider = await s3Provider(server.connection, { prefix: 'paged', serverModTime: true });
		const keys = Array.from({ length: 1_100 }, (_, i) => `paged/dir-${i % 4}/file-${i}.txt`);
		for (let i = 0; i < keys.length; i += 50) {
			await Promise.all(keys.slice(i, i + 50).map((Key) => provider.client.send(new PutObjectCommand({ Bucket: 'test', Key, Body: 'x' }))));
		}
		const listed = await files(provider);
		expect(listed).toHaveLength(1_100);
		expect(new Set(listed.map((entry) => entry.path)).size).toBe(1_100);
		expect(provider.capabilities.canSetModTime).toBe(false);
		const top: string[] = [];
		for await (const entry of provider.list('')) top.push(`${entry.isDir ? 'dir' : 'file'} ${entry.path}`);
		expect(top.sort()).toEqual(['dir dir-0', 'dir dir-1', 'dir dir-2', 'dir dir-3']);
	});
});

describe('the metadata keys other S3 sync tools read and write', () => {
	it('stores the modification time under the shared key and reads the one another tool stored', async () => {
		expect(formatS3Mtime(Date.UTC(2024, 0, 2, 3, 4, 5, 678))).toBe('1704164645.678');
		expect(formatS3Mtime(Date.UTC(2024, 0, 2, 3, 4, 5, 0))).toBe('1704164645');
		expect(formatS3Mtime(Date.UTC(2024, 0, 2, 3, 4, 5, 500))).toBe('1704164645.5');
		expect(parseS3Mtime('1704164645.678901234')).toBe(Date.UTC(2024, 0, 2, 3, 4, 5, 679));
		expect(parseS3Mtime('not a time')).toBeUndefined();

		const provider = await s3Provider(server.connection, { prefix: 'shared-keys' });
		const modTime = Date.UTC(2023, 5, 7, 8, 9, 10, 250);
		await provider.write('ours.txt', bufferStream('ours'), { size: 4, modTime });
		const head = await provider.client.send(new HeadObjectCommand({ Bucket: 'test', Key: ['shared-keys', 'ours.txt'].join('/') }));
		expect(head.Metadata).toEqual({ mtime: '1686125350.25' });

		// An object as another tool leaves a multipart upload: ETag not an MD5, mtime with nanoseconds, md5chksum in base64.
		const md5 = createHash('md5').update('theirs').digest();
		await provider.client.send(
			new PutObjectCommand({ Bucket: 'test', Key: ['shared-keys', 'theirs.txt'].join('/'), Body: 'theirs', Metadata: { mtime: '1600000000.123456789', md5chksum: md5.toString('base64') } }),
		);
		const stat = await provider.stat('theirs.txt');
		expect(stat).toMatchObject({ size: 6, modTime: 1_600_000_000_123, hashes: { md5: md5.toString('hex') } });
		expect(await provider.hash('theirs.txt', ['md5'])).toEqual({ md5: md5.toString('hex') });
	});

	it('never reads a multipart ETag as an MD5', () => {
		expect(md5OfEtag('"9b2cf535f27731c974343645a3985328"')).toBe('9b2cf535f27731c974343645a3985328');
		expect(md5OfEtag('"d41d8cd98f00b204e9800998ecf8427e-3"')).toBeUndefined();
		expect(md5OfEtag(undefined)).toBeUndefined();
	});

	it('uploads above the part size in parts, reports the upload id, and stores the source MD5 when it is known', async () => {
		const events: string[] = [];
		const provider = await s3Provider(server.connection, { prefix: 'multipart', partSize: 5 * MiB, onMultipartUpload: (event) => events.push(`${event.state} ${event.key}`) });
		const data = pseudoRandomBytes(12 * MiB + 5, 'multipart');
		const written = await provider.write('big.bin', Readable.from([data]), { size: data.length, modTime: 1_700_000_000_000 });
		expect(written).toMatchObject({ size: data.length, hashes: { md5: createHash('md5').update(data).digest('hex') } });
		expect(events).toEqual(['started multipart/big.bin', 'completed multipart/big.bin']);
		expect(sha256(await readAll(await provider.read('big.bin')))).toBe(sha256(data));
		expect((await provider.stat('big.bin')).modTime).toBe(1_700_000_000_000);

		// A source whose MD5 is listed (a Drive or another bucket), as the executor hands it over: it goes into md5chksum for later runs.
		const md5 = createHash('md5').update(data).digest('hex');
		await provider.write('known.bin', Readable.from([data]), { size: data.length, sourceHashes: { md5 } });
		const head = await provider.client.send(new HeadObjectCommand({ Bucket: 'test', Key: ['multipart', 'known.bin'].join('/') }));
		expect(Buffer.from(head.Metadata!.md5chksum, 'base64').toString('hex')).toBe(md5);
		// A stream that breaks once its multipart upload started aborts the upload: nothing is stored.
		const broken = new Readable({ read() {} });
		broken.push(data.subarray(0, 6 * MiB));
		const breaking = await s3Provider(server.connection, {
			prefix: 'multipart-broken',
			partSize: 5 * MiB,
			onMultipartUpload: (event) => {
				events.push(`${event.state} ${event.key}`);
				if (event.state === 'started') setImmediate(() => broken.destroy(new Error('source broke')));
			},
		});
		await expect(breaking.write('broken.bin', broken)).rejects.toThrow();
		await expect(breaking.stat('broken.bin')).rejects.toThrow(/Not found/);
		await new Promise((resolve) => setTimeout(resolve, 100));
		expect(events).toContain('started multipart-broken/broken.bin');
		expect(events).not.toContain('completed multipart-broken/broken.bin');
	});
});

describe('multipart parts in flight', () => {
	let proxy: EmulatorServer;
	afterAll(async () => proxy?.stop());

	it('stores the exact bytes when parts fail and are sent again while later parts are read into the buffers the finished ones gave back', async () => {
		proxy = await startS3FaultProxy(server.endpoint, 5);
		const pacer = new Pacer({ baseDelayMs: 1, maxDelayMs: 5, retriesPerRequest: 20, retriesPerRun: 10_000 });
		const provider = await s3Provider({ ...server.connection, endpoint: proxy.baseUrl }, { prefix: 'lent-parts', partSize: 5 * MiB, queueSize: 3, pacer });
		// Every part's answer is refused or cut off now and then, so retries overlap the reading of later parts.
		proxy.inject({ route: /^PUT /, kind: 'server-error', probability: 0.3 });
		proxy.inject({ route: /^PUT /, kind: 'reset', probability: 0.2 });
		const data = pseudoRandomBytes(41 * MiB + 3, 'lent parts');
		const written = await provider.write('big.bin', irregularStream(data), { size: data.length });
		expect(written).toMatchObject({ size: data.length, hashes: { md5: createHash('md5').update(data).digest('hex') } });
		proxy.clearFaults();
		expect(sha256(await readAll(await provider.read('big.bin')))).toBe(sha256(data));
		expect(proxy.log.filter((entry) => entry.method === 'PUT' && entry.fault !== undefined).length).toBeGreaterThan(0);
	});
});

describe('what every write sends', () => {
	let proxy: EmulatorServer;
	afterAll(async () => proxy?.stop());

	it('carries no checksum of the kind R2, B2 and most servers other than AWS refuse, and the chosen storage class: small PUT, PUT of 2 MiB or more, parts, server-side copy', async () => {
		const writes: Array<{ request: string; checksumHeaders: string[]; encoding?: string; payload?: string; storageClass?: string }> = [];
		proxy = await startS3FaultProxy(server.endpoint, 1, (request) => {
			if (request.method !== 'PUT' && request.method !== 'POST') return;
			const headers = request.headers;
			writes.push({
				request: `${request.method} ${decodeURIComponent(request.url ?? '').replace(/uploadId=[^&]+/, 'uploadId=…')}`,
				checksumHeaders: Object.keys(headers).filter((name) => name.startsWith('x-amz-checksum-') || name === 'x-amz-sdk-checksum-algorithm' || name === 'x-amz-trailer'),
				encoding: headers['content-encoding'] as string | undefined,
				payload: headers['x-amz-content-sha256'] as string | undefined,
				storageClass: headers['x-amz-storage-class'] as string | undefined,
			});
		});
		const provider = await s3Provider({ ...server.connection, endpoint: proxy.baseUrl }, { prefix: 'classes', partSize: 5 * MiB, storageClass: 'STANDARD_IA' });
		const sizes = { 'small.txt': 10, 'sdk-put.bin': 3 * MiB, 'parts.bin': 11 * MiB };
		for (const [name, size] of Object.entries(sizes)) {
			const data = pseudoRandomBytes(size, name);
			await provider.write(name, Readable.from([data]), { size, modTime: 1_700_000_000_000 });
		}
		await provider.copy('small.txt', 'copied.txt');

		// Each way of writing was taken: one PUT from memory, the SDK's PUT, a multipart upload, a copy.
		const requests = writes.map((write) => write.request);
		expect(requests).toEqual(
			expect.arrayContaining(['PUT /test/classes/small.txt?x-id=PutObject', 'PUT /test/classes/sdk-put.bin?x-id=PutObject', 'POST /test/classes/parts.bin?uploads=', 'PUT /test/classes/copied.txt?x-id=CopyObject']),
		);
		expect(requests.filter((request) => request.includes('x-id=UploadPart'))).toHaveLength(3);
		for (const write of writes) {
			expect(write).toMatchObject({ checksumHeaders: [] });
			expect(write.encoding ?? '').not.toMatch(/aws-chunked/);
			expect(write.payload ?? '').not.toMatch(/^STREAMING-/);
		}
		// The class goes with every request that makes an object; the parts and the completion belong to the upload, which has it.
		const makers = writes.filter((write) => !write.request.includes('uploadId='));
		expect(makers.map((write) => write.storageClass)).toEqual(makers.map(() => 'STANDARD_IA'));
		const listed = await provider.client.send(new ListObjectsV2Command({ Bucket: 'test', Prefix: 'classes/' }));
		const uploaded = (listed.Contents ?? []).filter((object) => object.Key !== 'classes/copied.txt');
		expect(Object.fromEntries(uploaded.map((object) => [object.Key, object.StorageClass]))).toEqual({
			'classes/small.txt': 'STANDARD_IA',
			'classes/sdk-put.bin': 'STANDARD_IA',
			'classes/parts.bin': 'STANDARD_IA',
		});
	});
});

describe('server-side copies above the copy cutoff', () => {
	let proxy: EmulatorServer;
	afterAll(async () => proxy?.stop());

	it('go part by part (UploadPartCopy) and keep the bytes, the modification time and the MD5, for a copy and for a folder moved', async () => {
		const partCopies: string[] = [];
		proxy = await startS3FaultProxy(server.endpoint, 1, (request) => {
			const range = request.headers['x-amz-copy-source-range'];
			if (request.method === 'PUT' && /[?&]partNumber=/.test(request.url ?? '') && request.headers['x-amz-copy-source']) partCopies.push(String(range));
		});
		// The cutoff and part size lowered from 4.656 GiB and 512 MiB, so that a 12 MiB file takes the path of a 5 GiB one.
		const provider = await s3Provider({ ...server.connection, endpoint: proxy.baseUrl }, { prefix: 'part-copies', copyCutoff: 6 * MiB, copyPartSize: 5 * MiB });
		const data = pseudoRandomBytes(12 * MiB + 5, 'part copies');
		const md5 = createHash('md5').update(data).digest('hex');
		await provider.write('dir/big.bin', Readable.from([data]), { size: data.length, modTime: 1_700_000_000_000, sourceHashes: { md5 } });

		const copied = await provider.copy('dir/big.bin', 'copy of big.bin');
		expect(partCopies).toEqual(['bytes=0-5242879', 'bytes=5242880-10485759', 'bytes=10485760-12582916']);
		expect(copied).toMatchObject({ path: 'copy of big.bin', size: data.length });
		expect(sha256(await readAll(await provider.read('copy of big.bin')))).toBe(sha256(data));
		expect(await provider.stat('copy of big.bin')).toMatchObject({ size: data.length, modTime: 1_700_000_000_000, hashes: { md5 } });

		await provider.move('dir', 'moved');
		expect(partCopies).toHaveLength(6);
		expect((await files(provider)).map((entry) => entry.path).sort()).toEqual(['copy of big.bin', 'moved/big.bin']);
		expect(sha256(await readAll(await provider.read('moved/big.bin')))).toBe(sha256(data));
		expect(await provider.stat('moved/big.bin')).toMatchObject({ modTime: 1_700_000_000_000, hashes: { md5 } });
	});
});

describe('a source of another length than announced', () => {
	it('is refused before anything is stored, whether longer or shorter, in one PUT or in parts', async () => {
		const provider = await s3Provider(server.connection, { prefix: 'length', partSize: 5 * MiB });
		await provider.write('kept.txt', bufferStream(Buffer.from('old content')), { size: 11 });
		await expect(provider.write('kept.txt', bufferStream(Buffer.from('longer than said')), { size: 5 })).rejects.toBeInstanceOf(VerificationError);
		await expect(provider.write('kept.txt', bufferStream(Buffer.from('short')), { size: 500 })).rejects.toBeInstanceOf(VerificationError);
		const big = pseudoRandomBytes(11 * MiB, 'length');
		await expect(provider.write('kept.txt', bufferStream(big), { size: 11 * MiB - 1 })).rejects.toBeInstanceOf(VerificationError);
		await expect(provider.write('kept.txt', bufferStream(big), { size: 11 * MiB + 1 })).rejects.toBeInstanceOf(VerificationError);
		expect((await readAll(await provider.read('kept.txt'))).toString()).toBe('old content');
		expect((await files(provider)).map((entry) => entry.path)).toEqual(['kept.txt']);
	});
});

describe('cancelling', () => {
	let proxy: EmulatorServer;
	afterAll(async () => proxy?.stop());

	it('stops a request the server is still holding as soon as the run is cancelled', async () => {
		proxy = await startS3FaultProxy(server.endpoint, 3);
		const provider = await s3Provider({ ...server.connection, endpoint: proxy.baseUrl }, { prefix: 'cancelled' });
		proxy.inject({ route: /^PUT /, kind: 'slow', delayMs: 3000, times: 1 });
		const controller = new AbortController();
		const writing = provider.write('held.txt', bufferStream(Buffer.from('held back')), { size: 9, signal: controller.signal });
		await new Promise((resolve) => setTimeout(resolve, 300));
		expect(proxy.log.some((entry) => entry.method === 'PUT')).toBe(true);
		const cancelled = Date.now();
		controller.abort();
		await expect(writing).rejects.toThrow();
		expect(Date.now() - cancelled).toBeLessThan(1500);
	});
});

describe('deleting a folder', () => {
	let proxy: EmulatorServer;
	afterAll(async () => proxy?.stop());

	it('removes its keys 1,000 a request (DeleteObjects), each request with the Content-MD5 servers other than AWS require', async () => {
		const batches: Array<{ keys: number; md5: string | undefined; bodyMd5: string; checksumHeaders: string[] }> = [];
		proxy = await startS3FaultProxy(server.endpoint, 1, (request, body) => {
			if (request.method !== 'POST' || !/[?&]delete(=|&|$)/.test(request.url ?? '')) return;
			batches.push({
				keys: (body.toString('utf8').match(/<Key>/g) ?? []).length,
				md5: request.headers['content-md5'] as string | undefined,
				bodyMd5: createHash('md5').update(body).digest('base64'),
				checksumHeaders: Object.keys(request.headers).filter((name) => name.startsWith('x-amz-checksum-')),
			});
		});
		const seed = await s3Provider(server.connection, { prefix: 'many' });
		const names = Array.from({ length: 1_203 }, (_, index) => `old/${index % 3}/file-${index}.txt`);
		for (let at = 0; at < names.length; at += 50) {
			await Promise.all(names.slice(at, at + 50).map((name) => seed.client.send(new PutObjectCommand({ Bucket: 'test', Key: `many/${name}`, Body: name }))));
		}
		await seed.client.send(new PutObjectCommand({ Bucket: 'test', Key: 'many/kept.txt', Body: 'kept' }));
		const provider = await S3Provider.open({ ...server.connection, endpoint: proxy.baseUrl, bucket: 'test', prefix: 'many', pacer: new Pacer({ baseDelayMs: 1, maxDelayMs: 5 }) });

		await provider.delete('old', { recursive: true });

		expect(batches.map((batch) => batch.keys)).toEqual([1_000, 203]);
		for (const batch of batches) expect(batch).toMatchObject({ md5: batch.bodyMd5, checksumHeaders: [] });
		expect((await files(seed)).map((entry) => entry.path)).toEqual(['kept.txt']);
		expect(proxy.log.filter((entry) => entry.method === 'DELETE')).toEqual([]);
	});
});
