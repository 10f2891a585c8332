/**
 * The HEAD and small PUT that S3 syncs send past the SDK's middleware (lib/providers/s3Direct.ts)
 * must be the SDK's requests and fail as the SDK's do: each case here sends the same request both
 * ways, to the same scripted answer, and compares what the engine gets (the typed error, its message,
 * whether and when the pacer retries) and what the server got (address, path, signed headers, a
 * signature the server can check).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NotFoundError } from '../lib';
import { S3Provider, s3Client, type S3Connection } from '../lib/providers/s3';
import { DirectS3, encodeKeyPath } from '../lib/providers/s3Direct';
import { expectedSignature, startS3Server, type S3TestServer } from './support/s3';
import { FAILURES, TEST_KEYS as KEYS, scriptedServer, type compareFailures } from './support/s3Direct';
import { bufferStream } from './conformance/suite';

const SUPPORT = join(__dirname, 'support');

/** compareFailures run in a plain Node process (see s3DirectChild.ts for why). */
async function failuresCompared(): Promise<Awaited<ReturnType<typeof compareFailures>>> {
	const child = spawn(process.execPath, ['-r', join(SUPPORT, 'tsRegister.js'), join(SUPPORT, 's3DirectChild.ts')], { stdio: ['ignore', 'pipe', 'pipe'] });
	let output = '';
	let errors = '';
	child.stdout.on('data', (data: Buffer) => (output += data.toString()));
	child.stderr.on('data', (data: Buffer) => (errors += data.toString()));
	const [code] = (await once(child, 'exit')) as [number | null];
	if (code !== 0) throw new Error(`the comparison failed: ${errors}`);
	return JSON.parse(output) as Awaited<ReturnType<typeof compareFailures>>;
}

describe('HEAD and small PUT sent past the SDK fail exactly as through the SDK', () => {
	let compared: Awaited<ReturnType<typeof compareFailures>>;
	beforeAll(async () => {
		compared = await failuresCompared();
	}, 60_000);

	it.each(FAILURES.map(([name]) => name))('%s', (name) => {
		const { sdk, direct } = compared[name];
		expect(direct).toEqual(sdk);
		// A failure each time, not the stand-in for an answer that did not fail.
		for (const seen of [direct.head, direct.put]) expect(seen.message).not.toBe('no failure');
	});
});

describe('HEAD and small PUT sent past the SDK are the requests the SDK sends', () => {
	let server: Awaited<ReturnType<typeof scriptedServer>>;
	let client: S3Client;
	let direct: DirectS3;
	beforeAll(async () => {
		server = await scriptedServer();
		// Temporary keys: their session token is a header the signature covers.
		const connection: S3Connection = { ...KEYS, sessionToken: 'FwoGZXIvYXdzEXAMPLESESSIONTOKEN', preset: 'other', endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true };
		client = s3Client(connection);
		direct = new DirectS3(client, 'test', connection);
	});
	afterAll(async () => {
		client?.destroy();
		await server?.stop();
	});

	it('reads an answer as the SDK reads it: metadata, length, ETag, type and date of a HEAD; ETag and encryption of a PUT', async () => {
		const stored = {
			status: 200,
			headers: {
				'content-length': '1234',
				etag: '"9e107d9d372bb6826bd81d3542a419d6"',
				'content-type': 'image/jpeg',
				'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT',
				'x-amz-meta-mtime': '1700000000.123',
				'x-amz-meta-md5chksum': 'nhB9nTcrtoJr2B01QqQZ1g==',
				'x-amz-server-side-encryption': 'aws:kms',
				'x-amz-server-side-encryption-customer-algorithm': 'AES256',
			},
		};
		server.answer(stored);
		const Key = 'a.jpg';
		const sdkHead = await client.send(new HeadObjectCommand({ Bucket: 'test', Key }));
		const directHead = await direct.head(Key);
		for (const field of ['ContentLength', 'ETag', 'ContentType', 'LastModified', 'Metadata'] as const) expect(directHead[field]).toEqual(sdkHead[field]);
		expect(directHead).toMatchObject({ ContentLength: 1234, Metadata: { mtime: '1700000000.123', md5chksum: 'nhB9nTcrtoJr2B01QqQZ1g==' } });
		// A PUT's answer has no body.
		server.answer({ ...stored, headers: { ...stored.headers, 'content-length': '0' } });
		const sdkPut = await client.send(new PutObjectCommand({ Bucket: 'test', Key, Body: Buffer.from('x') }));
		const directPut = await direct.put({ Key }, Buffer.from('x'));
		for (const field of ['ETag', 'ServerSideEncryption', 'SSECustomerAlgorithm'] as const) expect(directPut[field]).toEqual(sdkPut[field]);
		expect(directPut).toEqual({ ETag: '"9e107d9d372bb6826bd81d3542a419d6"', ServerSideEncryption: 'aws:kms', SSECustomerAlgorithm: 'AES256' });
	});

	it('sends the request the SDK sends: same address, path, query, headers and body, signed so that the server can check it', async () => {
		server.answer({ status: 200, headers: { etag: '"x"' } });
		const Key = "backups/2026 résumé/a+b (1)!'*~#?&=.txt";
		const Body = Buffer.from('the bytes of a small file');
		const Metadata = { mtime: '1700000000.5', md5chksum: 'nhB9nTcrtoJr2B01QqQZ1g==' };
		server.received.length = 0;
		await client.send(new PutObjectCommand({ Bucket: 'test', Key, Body, ContentLength: Body.length, Metadata, StorageClass: 'STANDARD_IA' }));
		await direct.put({ Key, Metadata, StorageClass: 'STANDARD_IA' }, Body);
		await client.send(new HeadObjectCommand({ Bucket: 'test', Key }));
		await direct.head(Key);
		const [sdkPut, directPut, sdkHead, directHead] = server.received;
		expect(directPut.url).toBe(`/test/${encodeKeyPath(Key)}?x-id=PutObject`);
		for (const [sdk, ours] of [
			[sdkPut, directPut],
			[sdkHead, directHead],
		]) {
			expect([ours.method, ours.url, ours.body]).toEqual([sdk.method, sdk.url, sdk.body]);
			// Every header the SDK sends but its own bookkeeping (invocation ids, user agents) and what changes with the second.
			const sdkOnly = /^(amz-sdk-|x-amz-user-agent$|user-agent$|authorization$|x-amz-date$)/;
			const kept = (headers: IncomingMessage['headers']) => Object.fromEntries(Object.entries(headers).filter(([name]) => !sdkOnly.test(name)));
			expect(kept(ours.headers)).toEqual(kept(sdk.headers));
			const signature = expectedSignature(ours.method, ours.url, ours.headers, KEYS.secretAccessKey);
			expect(signature?.given).toBe(signature?.expected);
			expect(String(ours.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=[a-z0-9;-]*content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-md5chksum;x-amz-meta-mtime;x-amz-security-token;x-amz-storage-class,|^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/);
		}
	});

	it("signs with the server's clock once an answer showed the machine's clock 5 minutes or more off, as the SDK does", async () => {
		const ahead = new Date(Date.now() + 3_600_000);
		server.answer({ status: 200, headers: { date: ahead.toUTCString(), 'content-length': '0' } });
		const amzDates: Record<string, number> = {};
		for (const way of ['sdk', 'direct'] as const) {
			const connection: S3Connection = { ...KEYS, preset: 'other', endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true };
			const fresh = s3Client(connection);
			const send = () => (way === 'sdk' ? fresh.send(new HeadObjectCommand({ Bucket: 'test', Key: 'a' })) : new DirectS3(fresh, 'test', connection).head('a'));
			await send();
			server.received.length = 0;
			await send();
			fresh.destroy();
			const [, y, mo, d, h, mi, se] = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(String(server.received[0].headers['x-amz-date']))!.map(Number);
			amzDates[way] = Date.UTC(y, mo - 1, d, h, mi, se);
		}
		for (const way of ['sdk', 'direct']) expect(Math.abs(amzDates[way] - ahead.getTime())).toBeLessThan(60_000);
	});

	it('addresses a bucket as the SDK does for each preset: virtual-hosted on AWS (path-style for names with dots), path-style elsewhere, with the signing region of each', async () => {
		const cases: Array<[S3Connection, string]> = [
			[{ ...KEYS, preset: 'aws', region: 'eu-west-1' }, 'my-bucket'],
			[{ ...KEYS, preset: 'aws', region: 'us-east-1' }, 'dotted.bucket.name'],
			[{ ...KEYS, preset: 'r2', endpoint: 'https://0123456789abcdef.r2.cloudflarestorage.com' }, 'my-bucket'],
			[{ ...KEYS, preset: 'b2', region: 'eu-central-003' }, 'my-bucket'],
			[{ ...KEYS, preset: 'wasabi', region: 'eu-central-1' }, 'my-bucket'],
			[{ ...KEYS, preset: 'minio', endpoint: 'http://minio.local:9000' }, 'my-bucket'],
			[{ ...KEYS, preset: 'other', endpoint: 'http://minio.local:9000', forcePathStyle: false }, 'my-bucket'],
		];
		for (const [connection, bucket] of cases) {
			const requests: Array<{ protocol: string; hostname: string; port?: number; path: string; query: unknown; authorization: string; host: string }> = [];
			const capturing = s3Client(connection);
			// Both ways end in the client's request handler: it is given each request instead of the network.
			const handler = capturing.config.requestHandler as unknown as { handle: (request: Record<string, unknown>) => Promise<unknown> };
			handler.handle = async (request) => {
				const headers = request.headers as Record<string, string>;
				requests.push({ ...(request as { protocol: string; hostname: string; port?: number; path: string; query: unknown }), authorization: headers.authorization, host: headers.host ?? headers.Host });
				return { response: { statusCode: 200, headers: { etag: '"x"' }, body: Readable.from([]) } };
			};
			await capturing.send(new HeadObjectCommand({ Bucket: bucket, Key: 'a b/c.txt' }));
			await new DirectS3(capturing, bucket, connection).head('a b/c.txt');
			capturing.destroy();
			const [sdk, ours] = requests.map(({ protocol, hostname, port, path, query, authorization, host }) => ({
				protocol,
				hostname,
				port,
				path,
				query,
				host: host ?? hostname,
				scope: /Credential=[^/]+\/\d{8}\/([^,]+),/.exec(authorization)?.[1],
			}));
			expect(ours).toEqual(sdk);
		}
	});
});

describe('an S3 provider', () => {
	let server: S3TestServer;
	beforeAll(async () => {
		server = await startS3Server();
	});
	afterAll(async () => server?.stop());

	it('sends the HEADs and PUTs of small files past the SDK, and a PUT of 2 MiB or more through it, each stored and read back whole', async () => {
		const provider = await S3Provider.open({ ...server.connection, bucket: 'test', prefix: 'routes' });
		const throughSdk: string[] = [];
		provider.client.middlewareStack.add(
			(next, context) => (args) => {
				throughSdk.push(context.commandName ?? '');
				return next(args);
			},
			{ step: 'initialize', name: 'countCommands' },
		);
		const small = Buffer.alloc(64 * 1024, 7);
		const large = Buffer.alloc(2 * 1024 * 1024, 9);
		await provider.write('small.bin', bufferStream(small), { size: small.length, modTime: 1_700_000_000_250 });
		await provider.write('large.bin', bufferStream(large), { size: large.length, modTime: 1_700_000_000_500 });
		const stats = [await provider.stat('small.bin'), await provider.stat('large.bin')];
		expect(stats.map((entry) => [entry.size, entry.modTime])).toEqual([
			[small.length, 1_700_000_000_250],
			[large.length, 1_700_000_000_500],
		]);
		expect(throughSdk.filter((name) => name === 'PutObjectCommand' || name === 'HeadObjectCommand')).toEqual(['PutObjectCommand']);
		await expect(provider.stat('missing.bin')).rejects.toBeInstanceOf(NotFoundError);
		provider.client.destroy();
	});
});
