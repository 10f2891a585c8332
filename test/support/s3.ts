import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createWriteStream, readdirSync, type Dirent } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, utimes } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Provider, type S3Connection, type S3ProviderOptions } from '../../lib/providers/s3';
import { quickPacer } from './dropbox';
import { EmulatorServer, readBody, sendBody, type FaultRule, type RequestContext } from '../emulators/core/server';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const objectController = require('s3rver/lib/controllers/object') as Record<string, (ctx: { headers: Record<string, string> }) => Promise<void>>;

/**
 * s3rver reads x-amz-copy-source with decodeURI, which leaves %23 (#), %3F (?), %2B (+) and the like
 * encoded, where S3 decodes the whole value [doc] AWS CopyObject: keys with those characters could
 * not be copied. The header is re-encoded the way decodeURI undoes, after s3rver checked its signature.
 */
for (const name of ['putObjectCopy']) {
	const original = objectController[name];
	if ((original as { patched?: boolean }).patched) continue;
	const patched = (ctx: { headers: Record<string, string> }) => {
		const source = ctx.headers['x-amz-copy-source'];
		if (source) ctx.headers['x-amz-copy-source'] = encodeURI(decodeURIComponent(source));
		return original(ctx);
	};
	objectController[name] = Object.assign(patched, { patched: true });
}

/**
 * s3rver removes the folders a delete emptied right after it, blind to deletes running beside it in
 * the same folder: a DeleteObjects of many keys (which it runs all at once) fails with a 500 when
 * two reach the same folder, which S3 never does. Its deletes run one after another here.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const FilesystemStore = require('s3rver/lib/stores/filesystem') as { prototype: { deleteObject: ((...args: unknown[]) => Promise<void>) & { patched?: boolean } } };
if (!FilesystemStore.prototype.deleteObject.patched) {
	const original = FilesystemStore.prototype.deleteObject;
	let deleting: Promise<unknown> = Promise.resolve();
	FilesystemStore.prototype.deleteObject = Object.assign(
		function (this: unknown, ...args: unknown[]) {
			const run = deleting.then(() => original.apply(this, args));
			deleting = run.catch(() => undefined);
			return run;
		},
		{ patched: true },
	);
}

/**
 * s3rver answers a PUT once its hashing stream has seen the body (a Buffer body: once it was handed
 * to the file stream), before the object file is written: a GET right after it can find the file
 * still empty, where S3 reads its own writes. A loaded machine made the conformance suite's
 * "overwrite, then read back" fail that way. The object is written before the answer here.
 */
type ObjectStore = {
	getResourcePath(bucket: string, key: string, kind: 'object'): string;
	putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
};
type PutObject = ((this: ObjectStore, object: { bucket: string; key: string; content: Buffer | NodeJS.ReadableStream; metadata: unknown }) => Promise<{ size: number; md5: string }>) & { patched?: boolean };
const objectStore = FilesystemStore.prototype as unknown as { putObject: PutObject };
if (!objectStore.putObject.patched) {
	objectStore.putObject = Object.assign(
		async function (this: ObjectStore, object: { bucket: string; key: string; content: Buffer | NodeJS.ReadableStream; metadata: unknown }) {
			const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
			await mkdir(dirname(objectPath), { recursive: true });
			const md5 = createHash('md5');
			let size = 0;
			const counting = new Transform({
				transform(chunk: Buffer, _encoding, done) {
					md5.update(chunk);
					size += chunk.length;
					done(null, chunk);
				},
			});
			await pipeline(Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content, counting, createWriteStream(objectPath));
			const digest = md5.digest('hex');
			await this.putMetadata(object.bucket, object.key, object.metadata, digest);
			return { size, md5: digest };
		},
		{ patched: true },
	);
}

type StoredObject = { key: string; size: number; lastModifiedDate: Date; metadata: Record<string, string> };
type Store = { getBucketPath(bucket: string): string; getMetadata(bucket: string, key: string): Promise<Record<string, string>> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3Object = require('s3rver/lib/models/object') as new (bucket: string, key: string, content: null, metadata: Record<string, string>) => StoredObject;
/** The file s3rver keeps an object's bytes in: `<folders of the key>/<last segment>._S3rver_object` (keys are paths as they are, off Windows). */
const OBJECT_SUFFIX = '._S3rver_object';

/**
 * The keys in a bucket that start with `prefix`, by name only: the folders that can hold such keys
 * are walked, nothing is read or stat'ed. s3rver's own listObjects stats every file it walks and reads
 * every key's metadata for every page, so a page of a 2,000-key prefix cost it 230–530 ms where S3's
 * cost follows the page; only the keys a page returns have their metadata read below.
 */
function keysStartingWith(bucketPath: string, prefix: string): string[] {
	const keys: string[] = [];
	const visit = (dir: string, folder: string) => {
		let entries: Dirent[];
		try {
			entries = readdirSync(dir, { withFileTypes: true });
		} catch {
			return;
		}
		for (const entry of entries) {
			const name = folder + entry.name;
			if (entry.isDirectory()) {
				if (`${name}/`.startsWith(prefix) || prefix.startsWith(`${name}/`)) visit(join(dir, entry.name), `${name}/`);
			} else if (entry.name.endsWith(OBJECT_SUFFIX)) {
				const key = name.slice(0, -OBJECT_SUFFIX.length);
				if (key.startsWith(prefix)) keys.push(key);
			}
		}
	};
	visit(bucketPath, '');
	return keys;
}
type ListContext = { query: Record<string, string | undefined>; params: { bucket: string }; store: Store; body: unknown };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const bucketController = require('s3rver/lib/controllers/bucket') as Record<string, (ctx: ListContext) => Promise<void>>;

/**
 * ListObjects (V2, and V1 which rclone uses for "Other" providers) as S3 answers it, in place of
 * s3rver's, which (1) makes V2 continuation tokens with DES, which OpenSSL 3 (Node 17 on) refuses, so
 * every listing longer than a page failed with a 500; (2) pages in the order its directory walk meets
 * keys, not in key order, so paged listings skipped keys; and (3) with a delimiter skips folders that
 * hold only folders. Keys come from s3rver's own store, sorted as S3 sorts (UTF-8 bytes), folded into
 * common prefixes, and cut at max-keys (prefixes counting, as in S3); a page's token or marker is the
 * last key it covered; `encoding-type=url` encodes keys as S3 does.
 */
const originalList = bucketController.getBucket;
if (!(originalList as { patched?: boolean }).patched) {
	bucketController.getBucket = Object.assign(
		async (ctx: ListContext) => {
			const v2 = ctx.query['list-type'] === '2';
			const prefix = ctx.query.prefix ?? '';
			const delimiter = ctx.query.delimiter ?? '';
			const maxKeys = Math.min(1000, Number(ctx.query['max-keys'] ?? 1000));
			const token = ctx.query['continuation-token'];
			const after = v2 ? (token ? Buffer.from(token, 'base64url').toString('utf8') : (ctx.query['start-after'] ?? '')) : (ctx.query.marker ?? '');
			const encode = ctx.query['encoding-type'] === 'url' ? (text: string) => text.split('/').map(encodeURIComponent).join('/') : (text: string) => text;
			const afterBytes = Buffer.from(after);
			const sorted = keysStartingWith(ctx.store.getBucketPath(ctx.params.bucket), prefix)
				.map((key) => ({ key, bytes: Buffer.from(key) }))
				.filter((object) => Buffer.compare(object.bytes, afterBytes) > 0)
				.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
			const contents: Array<{ key: string }> = [];
			const prefixes: string[] = [];
			let last: string | undefined;
			let truncated = false;
			for (const object of sorted) {
				const at = delimiter ? object.key.slice(prefix.length).indexOf(delimiter) : -1;
				const common = at >= 0 ? object.key.slice(0, prefix.length + at + delimiter.length) : undefined;
				if (common === undefined || common !== prefixes.at(-1)) {
					if (contents.length + prefixes.length >= maxKeys) {
						truncated = true;
						break;
					}
					if (common === undefined) contents.push(object);
					else prefixes.push(common);
				}
				last = object.key;
			}
			// A key deleted since the walk is left out, as s3rver's own listing does.
			const objects = (
				await Promise.all(
					contents.map(({ key }) =>
						ctx.store.getMetadata(ctx.params.bucket, key).then(
							(metadata) => new S3Object(ctx.params.bucket, key, null, metadata),
							(error: { code?: string }) => {
								if (error.code === 'ENOENT') return undefined;
								throw error;
							},
						),
					),
				)
			).filter((object) => object !== undefined);
			const paging = v2
				? {
						ContinuationToken: token,
						NextContinuationToken: truncated && last ? Buffer.from(last).toString('base64url') : undefined,
						KeyCount: objects.length + prefixes.length,
					}
				: { Marker: encode(after), NextMarker: truncated && last ? encode(last) : undefined };
			ctx.body = {
				ListBucketResult: {
					'@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
					Name: ctx.params.bucket,
					Prefix: encode(prefix),
					...paging,
					MaxKeys: maxKeys,
					Delimiter: delimiter ? encode(delimiter) : undefined,
					EncodingType: ctx.query['encoding-type'] || undefined,
					IsTruncated: truncated,
					Contents: objects.map((object) => ({
						Key: encode(object.key),
						LastModified: object.lastModifiedDate.toISOString(),
						ETag: object.metadata.etag,
						Size: object.size,
						StorageClass: object.metadata['x-amz-storage-class'] ?? 'STANDARD',
					})),
					CommonPrefixes: prefixes.map((common) => ({ Prefix: encode(common) })),
				},
			};
		},
		{ patched: true },
	);
}

type MultipartContext = {
	method: string;
	path: string;
	query: Record<string, string | undefined>;
	headers: Record<string, string | undefined>;
	store: {
		getResourcePath(bucket: string, key: string | undefined, resource: string): string;
		putPart(bucket: string, uploadId: string, partNumber: number, content: Readable): Promise<{ md5: string }>;
	};
	status: number;
	type: string;
	body: string;
};

const s3Error = (ctx: MultipartContext, status: number, code: string, message: string) => {
	ctx.status = status;
	ctx.type = 'application/xml';
	ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
};

const xmlText = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * What s3rver 3.7.1 leaves out of multipart uploads, as S3 does it [doc] AWS ListParts,
 * AbortMultipartUpload, UploadPart: ListParts (GET with uploadId, 404 in s3rver) with its paging
 * (max-parts, part-number-marker); AbortMultipartUpload (DELETE with uploadId); and NoSuchUpload for a
 * part or a completion sent to an upload that is not open (s3rver makes a folder for any id and
 * takes the part). Parts are read from s3rver's own store: a folder per upload id holding `key` and
 * one file per part number with its MD5 beside it.
 */
async function multipartShim(ctx: MultipartContext, next: () => Promise<void>): Promise<void> {
	const uploadId = ctx.query.uploadId;
	const [, bucket, ...rest] = ctx.path.split('/');
	if (ctx.method === 'GET' && ctx.query.uploads !== undefined && bucket && rest.join('') === '') return listUploads(ctx, bucket);
	if (!uploadId || !bucket || rest.length === 0 || !/^[0-9a-f]+$/.test(uploadId)) return next();
	const key = rest.map(decodeURIComponent).join('/');
	const folder = join(ctx.store.getResourcePath(bucket, undefined, 'uploads'), uploadId);
	const open = await readFile(join(folder, 'key'), 'utf8').then((stored) => stored === key, () => false);
	if (!open) return s3Error(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.');
	if (ctx.method === 'DELETE') {
		await rm(folder, { recursive: true, force: true });
		ctx.status = 204;
		ctx.body = '';
		return;
	}
	const copySource = ctx.headers['x-amz-copy-source'];
	if (ctx.method === 'PUT' && ctx.query.partNumber && copySource) return uploadPartCopy(ctx, bucket, uploadId, Number(ctx.query.partNumber), copySource);
	if (ctx.method !== 'GET') return next();
	const maxParts = Math.min(1000, Number(ctx.query['max-parts'] ?? 1000));
	const marker = Number(ctx.query['part-number-marker'] ?? 0);
	const numbers = (await readdir(folder))
		.filter((name) => /^\d+$/.test(name))
		.map(Number)
		.filter((number) => number > marker)
		.sort((a, b) => a - b);
	const page = numbers.slice(0, maxParts);
	const parts = await Promise.all(
		page.map(async (number) => {
			const [info, md5] = await Promise.all([stat(join(folder, String(number))), readFile(join(folder, `${number}.md5`), 'utf8')]);
			return `<Part><PartNumber>${number}</PartNumber><LastModified>${info.mtime.toISOString()}</LastModified><ETag>"${md5}"</ETag><Size>${info.size}</Size></Part>`;
		}),
	);
	const truncated = numbers.length > page.length;
	ctx.status = 200;
	ctx.type = 'application/xml';
	ctx.body = [
		'<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
		`<Bucket>${xmlText(bucket)}</Bucket><Key>${xmlText(key)}</Key><UploadId>${uploadId}</UploadId>`,
		`<PartNumberMarker>${marker}</PartNumberMarker><NextPartNumberMarker>${page.at(-1) ?? marker}</NextPartNumberMarker>`,
		`<MaxParts>${maxParts}</MaxParts><IsTruncated>${truncated}</IsTruncated><StorageClass>STANDARD</StorageClass>`,
		...parts,
		'</ListPartsResult>',
	].join('');
}

/**
 * UploadPartCopy [doc] AWS UploadPartCopy, which s3rver 3.7.1 takes for an UploadPart with an empty
 * body: the byte range `x-amz-copy-source-range` of the source object becomes the part, stored as
 * s3rver stores parts, and the answer is a CopyPartResult with the part's MD5 as its ETag.
 */
async function uploadPartCopy(ctx: MultipartContext, bucket: string, uploadId: string, partNumber: number, copySource: string): Promise<void> {
	const [sourceBucket, ...sourceKey] = decodeURIComponent(copySource.split('?')[0]).replace(/^\//, '').split('/');
	const whole = await readFile(ctx.store.getResourcePath(sourceBucket, sourceKey.join('/'), 'object')).catch(() => undefined);
	if (!whole) return s3Error(ctx, 404, 'NoSuchKey', 'The specified key does not exist.');
	const range = /^bytes=(\d+)-(\d+)$/.exec(ctx.headers['x-amz-copy-source-range'] ?? '');
	const part = range ? whole.subarray(Number(range[1]), Number(range[2]) + 1) : whole;
	const { md5 } = await ctx.store.putPart(bucket, uploadId, partNumber, Readable.from([part]));
	ctx.status = 200;
	ctx.type = 'application/xml';
	ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<CopyPartResult><LastModified>${new Date().toISOString()}</LastModified><ETag>"${md5}"</ETag></CopyPartResult>`;
}

/**
 * ListMultipartUploads [doc] AWS ListMultipartUploads, which s3rver answers NotImplemented: the open
 * uploads whose key starts with `prefix`, by key, each with when it was started (its folder's `key`
 * file's time, which a test may set back). One page: the tests open far fewer than 1,000.
 */
async function listUploads(ctx: MultipartContext, bucket: string): Promise<void> {
	const prefix = ctx.query.prefix ?? '';
	const root = ctx.store.getResourcePath(bucket, undefined, 'uploads');
	const ids = await readdir(root).catch(() => [] as string[]);
	const uploads = (
		await Promise.all(
			ids.map(async (id) => {
				const keyFile = join(root, id, 'key');
				const [key, info] = await Promise.all([readFile(keyFile, 'utf8'), stat(keyFile)]).catch(() => [undefined, undefined] as const);
				return key !== undefined && info && key.startsWith(prefix) ? { id, key, initiated: info.mtime } : undefined;
			}),
		)
	)
		.filter((upload) => upload !== undefined)
		.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
	ctx.status = 200;
	ctx.type = 'application/xml';
	ctx.body = [
		'<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
		`<Bucket>${xmlText(bucket)}</Bucket><Prefix>${xmlText(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>`,
		...uploads.map((upload) => `<Upload><Key>${xmlText(upload.key)}</Key><UploadId>${upload.id}</UploadId><Initiated>${upload.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`),
		'</ListMultipartUploadsResult>',
	].join('');
}

/** Sets back when an open upload was started, as ListMultipartUploads tells it. */
export async function ageUpload(server: S3TestServer, bucket: string, uploadId: string, days: number): Promise<void> {
	const when = new Date(Date.now() - days * 86_400_000);
	await utimes(join(server.directory, bucket, '._S3rver_uploads', uploadId, 'key'), when, when);
}

/** The credentials s3rver accepts. */
export const S3RVER_KEYS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

const rfc3986 = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text).digest();

/**
 * The SigV4 signature a request's Authorization header should carry [doc] AWS "Signature Version 4
 * signing process": s3rver 3.7.1 checks the key id but leaves the v4 signature unchecked ("Signature
 * version 4 calculation is unimplemented" in its authentication middleware), so the tests check it.
 */
export function expectedSignature(method: string, rawUrl: string, headers: Record<string, string | string[] | undefined>, secret: string): { given: string; expected: string } | undefined {
	const authorization = String(headers.authorization ?? '');
	const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/.exec(authorization);
	if (!match) return undefined;
	const [, , day, region, service, signedHeaders, given] = match;
	const [path, query = ''] = rawUrl.split('?', 2) as [string, string?];
	const canonicalQuery = query
		.split('&')
		.filter(Boolean)
		.map((pair) => {
			const [key, value = ''] = pair.split('=', 2) as [string, string?];
			return [rfc3986(decodeURIComponent(key.replace(/\+/g, ' '))), rfc3986(decodeURIComponent(value.replace(/\+/g, ' ')))];
		})
		.sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
		.map(([key, value]) => `${key}=${value}`)
		.join('&');
	const names = signedHeaders.split(';');
	const canonicalHeaders = names.map((name) => `${name}:${String(headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
	const payload = String(headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD');
	const canonical = [method, path, canonicalQuery, canonicalHeaders, signedHeaders, payload].join('\n');
	const scope = `${day}/${region}/${service}/aws4_request`;
	const toSign = ['AWS4-HMAC-SHA256', String(headers['x-amz-date'] ?? ''), scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
	const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
	return { given, expected: hmac(key, toSign).toString('hex') };
}

export interface S3TestServer {
	endpoint: string;
	connection: S3Connection;
	directory: string;
	stop(): Promise<void>;
}

/** A real S3 server (s3rver, on disk in a temporary folder) on loopback, with these buckets. */
export async function startS3Server(buckets: string[] = ['test']): Promise<S3TestServer> {
	const directory = await mkdtemp(join(tmpdir(), 'cloudsync-s3-'));
	const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: buckets.map((name) => ({ name })) });
	// Checked before s3rver's own middleware: a request signed with another secret is refused as S3 refuses it.
	(server as unknown as { middleware: unknown[] }).middleware.unshift(async (ctx: { method: string; req: { url?: string }; headers: Record<string, string>; status: number; type: string; body: string }, next: () => Promise<void>) => {
		// An unknown key id is s3rver's to refuse (InvalidAccessKeyId), as S3 does before it looks at a signature.
		const ours = String(ctx.headers.authorization ?? '').includes(`Credential=${S3RVER_KEYS.accessKeyId}/`);
		const signature = ours ? expectedSignature(ctx.method, ctx.req.url ?? '/', ctx.headers, S3RVER_KEYS.secretAccessKey) : undefined;
		if (signature && (signature.given.length !== signature.expected.length || !timingSafeEqual(Buffer.from(signature.given), Buffer.from(signature.expected)))) {
			ctx.status = 403;
			ctx.type = 'application/xml';
			ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message></Error>';
			return;
		}
		await next();
	});
	// After the signature check, before s3rver's routes.
	(server as unknown as { middleware: unknown[] }).middleware.splice(1, 0, multipartShim);
	const { port } = await server.run();
	const endpoint = `http://127.0.0.1:${port}`;
	return {
		endpoint,
		directory,
		connection: { ...S3RVER_KEYS, preset: 'other', endpoint, region: 'us-east-1', forcePathStyle: true },
		async stop() {
			await server.close();
			await rm(directory, { recursive: true, force: true });
		},
	};
}

export function s3Provider(connection: S3Connection, options: Partial<S3ProviderOptions> & { prefix?: string } = {}): Promise<S3Provider> {
	return S3Provider.open({ ...connection, bucket: 'test', pacer: quickPacer(), ...options });
}

const S3_ERRORS: Record<string, { status: number; code: string }> = {
	'rate-limit': { status: 429, code: 'SlowDown' },
	'quota-rate-limit': { status: 503, code: 'SlowDown' },
	unavailable: { status: 503, code: 'ServiceUnavailable' },
	'server-error': { status: 500, code: 'InternalError' },
};

/** An S3 error answer as S3 words it: XML with a Code, and Retry-After on slow-downs. */
function renderS3Fault(fault: FaultRule, response: ServerResponse): void {
	const { status, code } = S3_ERRORS[fault.kind] ?? S3_ERRORS['server-error'];
	const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected ${fault.kind}</Message></Error>`;
	const headers: Record<string, string> = { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)) };
	if (status !== 500) headers['retry-after'] = String(fault.retryAfterSeconds ?? 0);
	response.writeHead(status, headers);
	response.end(body);
}

/**
 * A proxy in front of a real S3 server that injects the emulator core's faults: 429/503 with
 * Retry-After, 500s, connections dropped half-way through an answer, bodies cut short. Requests pass
 * unchanged, so the server still checks their signatures.
 */
export async function startS3FaultProxy(target: string, seed = 13, inspect?: (request: IncomingMessage, body: Buffer) => void): Promise<EmulatorServer> {
	const upstream = new URL(target);
	const proxy = new EmulatorServer(
		async (request: IncomingMessage, response: ServerResponse, context: RequestContext) => {
			const body = await readBody(request);
			inspect?.(request, body);
			const answer = await new Promise<{ status: number; headers: Record<string, string>; body: Buffer }>((resolve, reject) => {
				const forward = httpRequest(
					{ host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers },
					(reply) => {
						const chunks: Buffer[] = [];
						reply.on('data', (chunk: Buffer) => chunks.push(chunk));
						reply.on('end', () => {
							const headers: Record<string, string> = {};
							for (const [name, value] of Object.entries(reply.headers)) {
								const framing = name === 'transfer-encoding' || name === 'connection' || (name === 'content-length' && request.method !== 'HEAD');
								if (value !== undefined && !framing) headers[name] = String(value);
							}
							resolve({ status: reply.statusCode ?? 502, headers, body: Buffer.concat(chunks) });
						});
						reply.on('error', reject);
					},
				);
				forward.on('error', reject);
				forward.end(body);
			});
			// HEAD answers carry the object's length with no body: it is passed on as it is.
			if (request.method === 'HEAD') {
				response.writeHead(answer.status, answer.headers);
				response.end();
				return;
			}
			sendBody(response, context, answer.status, answer.headers, answer.body);
		},
		renderS3Fault,
		seed,
	);
	await proxy.start();
	return proxy;
}
