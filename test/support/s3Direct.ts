/**
 * What the tests of the S3 requests sent past the SDK (lib/providers/s3Direct.ts) share: a loopback
 * server that gives each request a scripted answer and records it, the answers S3 (or a server or
 * proxy in front of it) may give, and what the engine makes of a failure.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { CloudSyncError } from '../../lib/core/errors';
import { classifyError } from '../../lib/core/pacer';
import { mapS3Error, s3Client, type S3Connection } from '../../lib/providers/s3';
import { DirectS3 } from '../../lib/providers/s3Direct';

export const TEST_KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

/** One answer: a status with headers and body (none to a HEAD), or a connection that breaks. */
export type Answer = { status: number; headers?: Record<string, string>; body?: string } | { drop: 'before-answer' | 'mid-body' };

export interface Received {
	method: string;
	url: string;
	headers: IncomingMessage['headers'];
	body: Buffer;
}

export interface ScriptedServer {
	endpoint: string;
	/** The answer every request gets from now on. */
	answer(next: Answer): void;
	received: Received[];
	stop(): Promise<void>;
}

export async function scriptedServer(): Promise<ScriptedServer> {
	let current: Answer = { status: 200 };
	const received: Received[] = [];
	const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
		const chunks: Buffer[] = [];
		request.on('data', (chunk: Buffer) => chunks.push(chunk));
		request.on('end', () => {
			received.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
			const answer = current;
			if (!('drop' in answer)) {
				response.writeHead(answer.status, answer.headers ?? {});
				response.end(request.method === 'HEAD' ? undefined : answer.body);
			} else if (answer.drop === 'before-answer') {
				request.socket.destroy();
			} else {
				response.writeHead(request.method === 'HEAD' ? 404 : 200, { 'content-length': '100' });
				response.write('<?xml version="1.0"');
				setTimeout(() => request.socket.destroy(), 20);
			}
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		answer: (next) => (current = next),
		received,
		stop: () => new Promise((resolve) => server.close(() => resolve())),
	};
}

const s3Xml = (code: string, message: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`;
const xml = { 'content-type': 'application/xml' };

export const FAILURES: Array<[string, Answer]> = [
	['404 without a body', { status: 404, headers: { 'x-amz-request-id': 'R1' } }],
	['404 NoSuchKey', { status: 404, headers: xml, body: s3Xml('NoSuchKey', 'The specified key does not exist.') }],
	['404 NoSuchBucket', { status: 404, headers: xml, body: s3Xml('NoSuchBucket', 'The specified bucket does not exist') }],
	['403 without a body', { status: 403 }],
	['403 AccessDenied', { status: 403, headers: xml, body: s3Xml('AccessDenied', 'Access Denied') }],
	['403 SignatureDoesNotMatch', { status: 403, headers: xml, body: s3Xml('SignatureDoesNotMatch', 'The request signature we calculated does not match') }],
	['403 InvalidAccessKeyId', { status: 403, headers: xml, body: s3Xml('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.') }],
	['403 RequestTimeTooSkewed', { status: 403, headers: xml, body: s3Xml('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.') }],
	['400 AuthorizationHeaderMalformed', { status: 400, headers: xml, body: s3Xml('AuthorizationHeaderMalformed', "the region 'us-east-1' is wrong; expecting 'eu-west-1'") }],
	['400 without a body', { status: 400 }],
	['400 KeyTooLongError', { status: 400, headers: xml, body: s3Xml('KeyTooLongError', 'Your key is too long') }],
	['301 PermanentRedirect', { status: 301, headers: xml, body: s3Xml('PermanentRedirect', 'The bucket you are attempting to access must be addressed using the specified endpoint.') }],
	['429 SlowDown with Retry-After', { status: 429, headers: { ...xml, 'retry-after': '3' }, body: s3Xml('SlowDown', 'Please reduce your request rate.') }],
	['503 SlowDown with Retry-After', { status: 503, headers: { ...xml, 'retry-after': '7' }, body: s3Xml('SlowDown', 'Please reduce your request rate.') }],
	['503 without a body, with Retry-After', { status: 503, headers: { 'retry-after': '2' } }],
	['500 InternalError', { status: 500, headers: xml, body: s3Xml('InternalError', 'We encountered an internal error. Please try again.') }],
	['502 from a proxy, in HTML', { status: 502, headers: { 'content-type': 'text/html' }, body: '<html><body><h1>502 Bad Gateway</h1></body></html>' }],
	['507 QuotaExceeded', { status: 507, headers: xml, body: s3Xml('QuotaExceeded', 'Quota exceeded') }],
	['a connection dropped before the answer', { drop: 'before-answer' }],
	['a connection dropped in the middle of the answer', { drop: 'mid-body' }],
];

/** What the engine sees of a failure: the typed error, its message and hint, and the pacer's decision. */
export function seenByEngine(error: unknown) {
	const mapped = mapS3Error(error, { path: 'photos/a.jpg', bucket: 'test' });
	const { retryable, retryAfterMs } = classifyError(mapped);
	return { type: mapped.constructor.name, message: mapped.message, hint: (mapped as CloudSyncError).hint, retryable, retryAfterMs };
}

export type Seen = ReturnType<typeof seenByEngine>;

/** Each failure given to a HEAD and a small PUT through the SDK, then to the same requests sent past it. */
export async function compareFailures(): Promise<Record<string, { sdk: { head: Seen; put: Seen }; direct: { head: Seen; put: Seen } }>> {
	const server = await scriptedServer();
	const connection: S3Connection = { ...TEST_KEYS, preset: 'other', endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true };
	const client = s3Client(connection);
	const direct = new DirectS3(client, 'test', connection);
	const failure = (sending: Promise<unknown>) => sending.then(() => new Error('no failure'), (error: unknown) => error);
	const Key = 'photos/a.jpg';
	const Body = Buffer.from('small file');
	const results: Awaited<ReturnType<typeof compareFailures>> = {};
	try {
		for (const [name, answer] of FAILURES) {
			server.answer(answer);
			results[name] = {
				sdk: {
					head: seenByEngine(await failure(client.send(new HeadObjectCommand({ Bucket: 'test', Key })))),
					put: seenByEngine(await failure(client.send(new PutObjectCommand({ Bucket: 'test', Key, Body, ContentLength: Body.length })))),
				},
				direct: { head: seenByEngine(await failure(direct.head(Key))), put: seenByEngine(await failure(direct.put({ Key }, Body))) },
			};
		}
	} finally {
		client.destroy();
		await server.stop();
	}
	return results;
}
