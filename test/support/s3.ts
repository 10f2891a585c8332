import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pacer, type PacerOptions } from '../../lib/core/pacer';
import { S3Provider, type S3Connection, type S3ProviderOptions } from '../../lib/providers/s3';
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

type Listing = { objects: Array<{ key: string }>; commonPrefixes: string[]; isTruncated: boolean };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const FilesystemStore = require('s3rver/lib/stores/filesystem') as { prototype: { listObjects(bucket: string, options: Record<string, unknown>): Promise<Listing> } };

/**
 * s3rver's listing with a delimiter skips the folders below a common prefix before reading their keys,
 * so a folder that holds only folders ("a/b/c.txt" and nothing else in "a/") is missing from its
 * parent's listing, where S3 shows it. The keys are listed whole and grouped here instead.
 */
const listWhole = FilesystemStore.prototype.listObjects;
if (!(listWhole as { patched?: boolean }).patched) {
	FilesystemStore.prototype.listObjects = Object.assign(
		async function (this: unknown, bucket: string, options: Record<string, unknown>): Promise<Listing> {
			const delimiter = typeof options.delimiter === 'string' ? options.delimiter : '';
			if (!delimiter) return listWhole.call(this, bucket, options);
			const prefix = typeof options.prefix === 'string' ? options.prefix : '';
			const maxKeys = typeof options.maxKeys === 'number' ? options.maxKeys : Infinity;
			const whole = await listWhole.call(this, bucket, { ...options, delimiter: '', maxKeys: Infinity });
			const commonPrefixes = new Set<string>();
			const objects: Listing['objects'] = [];
			let isTruncated = false;
			for (const object of whole.objects) {
				const at = object.key.slice(prefix.length).indexOf(delimiter);
				if (at >= 0) commonPrefixes.add(object.key.slice(0, prefix.length + at + 1));
				else if (objects.length < maxKeys) objects.push(object);
				else {
					isTruncated = true;
					break;
				}
			}
			return { objects, commonPrefixes: [...commonPrefixes].sort(), isTruncated };
		},
		{ patched: true },
	);
}

/** The credentials s3rver accepts (3.7.1 checks the key id; its SigV4 signature check is unimplemented, by its own source). */
export const S3RVER_KEYS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

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

/** A pacer that retries as the real one does, without the real one's waits, unless a server asks for one. */
export function quickS3Pacer(options: PacerOptions = {}): Pacer {
	return new Pacer({ baseDelayMs: 1, maxDelayMs: 20, ...options });
}

export function s3Provider(connection: S3Connection, options: Partial<S3ProviderOptions> & { prefix?: string } = {}): Promise<S3Provider> {
	return S3Provider.open({ ...connection, bucket: 'test', pacer: quickS3Pacer(), ...options });
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
export async function startS3FaultProxy(target: string, seed = 13): Promise<EmulatorServer> {
	const upstream = new URL(target);
	const proxy = new EmulatorServer(
		async (request: IncomingMessage, response: ServerResponse, context: RequestContext) => {
			const body = await readBody(request);
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
