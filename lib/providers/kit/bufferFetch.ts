import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline, Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { readWhole } from '../../core/streams';

/** Statuses whose answer has no body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;
/** Answers up to this size (an upload's JSON metadata, an API call's answer) are read whole before they are handed over. */
const SMALL_ANSWER_BYTES = 64 * 1024;

/** The request headers fetch accepts (a record, pairs, or anything with `forEach`, such as a Headers), as node:http takes them. */
function outgoingHeaders(init: RequestInit['headers']): OutgoingHttpHeaders {
	const headers: OutgoingHttpHeaders = {};
	if (!init) return headers;
	if (Array.isArray(init)) for (const [name, value] of init) headers[name.toLowerCase()] = value;
	else if (typeof (init as Headers).forEach === 'function') (init as Headers).forEach((value, name) => (headers[name.toLowerCase()] = value));
	else for (const [name, value] of Object.entries(init)) if (value !== undefined) headers[name.toLowerCase()] = value;
	return headers;
}

type Body = Buffer | Readable | undefined;

/** The request body as node:http sends it, and the content type fetch would give it when none was set. */
function outgoingBody(given: RequestInit['body']): { body: Body; type?: string } {
	if (given === undefined || given === null) return { body: undefined };
	if (typeof given === 'string') return { body: Buffer.from(given), type: 'text/plain;charset=UTF-8' };
	if (given instanceof URLSearchParams) return { body: Buffer.from(given.toString()), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
	if (Buffer.isBuffer(given)) return { body: given };
	if (given instanceof Uint8Array) return { body: Buffer.from(given.buffer, given.byteOffset, given.byteLength) };
	if (given instanceof ArrayBuffer) return { body: Buffer.from(given) };
	if (given instanceof Readable) return { body: given };
	if (typeof (given as WebReadableStream).getReader === 'function') return { body: Readable.fromWeb(given as WebReadableStream) };
	if (typeof (given as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') return { body: Readable.from(given as AsyncIterable<Uint8Array>) };
	throw new TypeError(`This request body cannot be sent: ${Object.prototype.toString.call(given)}`);
}

/** The answer's headers as fetch shows them (`get`, `has`, `forEach`, iteration), read from node:http's object. */
class ReplyHeaders {
	constructor(private readonly raw: IncomingHttpHeaders) {}

	get(name: string): string | null {
		const value = this.raw[name.toLowerCase()];
		if (value === undefined) return null;
		return Array.isArray(value) ? value.join(', ') : value;
	}

	has(name: string): boolean {
		return this.raw[name.toLowerCase()] !== undefined;
	}

	getSetCookie(): string[] {
		return this.raw['set-cookie'] ?? [];
	}

	forEach(each: (value: string, name: string, headers: ReplyHeaders) => void): void {
		for (const [name, value] of this) each(value, name, this);
	}

	*entries(): IterableIterator<[string, string]> {
		for (const name of Object.keys(this.raw).sort()) {
			const value = this.get(name);
			if (value !== null) yield [name, value];
		}
	}

	*keys(): IterableIterator<string> {
		for (const [name] of this.entries()) yield name;
	}

	*values(): IterableIterator<string> {
		for (const [, value] of this.entries()) yield value;
	}

	[Symbol.iterator](): IterableIterator<[string, string]> {
		return this.entries();
	}
}

/**
 * An answer with fetch's Response surface, over node:http's reply. A small answer is read whole
 * first; a larger one is streamed, as a node stream to those that ask for it (`nodeBodyOf`) and as a
 * web stream to those that read `body`.
 */
class Reply {
	readonly ok: boolean;
	readonly headers: ReplyHeaders;
	readonly type = 'basic';
	private used = false;

	constructor(
		readonly status: number,
		readonly statusText: string,
		raw: IncomingHttpHeaders,
		readonly url: string,
		readonly redirected: boolean,
		private whole: Buffer | null,
		private stream: Readable | null,
		/** Why a small answer read ahead broke off: reading the body fails with it, as fetch's body does. */
		private readonly broken?: unknown,
	) {
		this.ok = status >= 200 && status <= 299;
		this.headers = new ReplyHeaders(raw);
	}

	get bodyUsed(): boolean {
		return this.used;
	}

	/** Made on first use and the same object after, as fetch's is. */
	private webBody?: WebReadableStream<Uint8Array> | null;

	get body(): WebReadableStream<Uint8Array> | null {
		if (this.webBody !== undefined) return this.webBody;
		const stream = this.take();
		this.webBody = stream === null ? null : (Readable.toWeb(stream) as WebReadableStream<Uint8Array>);
		return this.webBody;
	}

	/** The body as a node stream, without a web stream between: what a download writes on. */
	take(): Readable | null {
		if (this.used) throw new TypeError('Body is unusable: it has already been read');
		this.used = true;
		if (this.broken !== undefined) {
			const broken = this.broken;
			return new Readable({ read: () => undefined }).destroy(broken as Error);
		}
		if (this.whole) return Readable.from([this.whole], { objectMode: false });
		return this.stream;
	}

	async bytes(): Promise<Buffer> {
		if (this.broken !== undefined) throw this.broken;
		if (this.whole && !this.used) {
			this.used = true;
			return this.whole;
		}
		const stream = this.take();
		return stream === null ? Buffer.alloc(0) : readWhole(stream, Number.POSITIVE_INFINITY);
	}

	async arrayBuffer(): Promise<ArrayBuffer> {
		const bytes = await this.bytes();
		return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
	}

	async blob(): Promise<Blob> {
		return new Blob([await this.bytes()], { type: this.headers.get('content-type') ?? '' });
	}

	async text(): Promise<string> {
		return (await this.bytes()).toString('utf8');
	}

	async json(): Promise<unknown> {
		return JSON.parse(await this.text());
	}

	clone(): never {
		throw new TypeError('This answer cannot be cloned');
	}
}

/**
 * An answer with fetch's Response surface for a client that speaks node:http itself (WebDAV), whose
 * body is read whole, streamed, or absent.
 */
export function answerOf(status: number, headers: IncomingHttpHeaders, body: Buffer | Readable | null): Response {
	return new Reply(status, '', headers, '', false, Buffer.isBuffer(body) ? body : null, body instanceof Readable ? body : null) as unknown as Response;
}

/** No headers, as fetch's Headers: for an error made without an answer. */
export const NO_HEADERS = new ReplyHeaders({}) as unknown as Headers;

/** The body of an answer from `bufferFetch` as a node stream (no web stream between), or its web body made one. */
export function nodeBodyOf(response: Response): Readable | null {
	if (response instanceof Reply) return response.take();
	return response.body === null ? null : Readable.fromWeb(response.body as WebReadableStream);
}

function smallBody(reply: IncomingMessage): Promise<Buffer | null | undefined> {
	const length = Number(reply.headers['content-length'] ?? Number.NaN);
	if (!(length <= SMALL_ANSWER_BYTES)) return Promise.resolve(undefined);
	return readWhole(reply, SMALL_ANSWER_BYTES);
}

interface Exchange {
	method: string;
	headers: OutgoingHttpHeaders;
	body: Body;
	signal?: AbortSignal;
	head: boolean;
}

interface Answer {
	reply: IncomingMessage;
	/** The body read ahead (null when there is none), or undefined when it is streamed. */
	whole: Buffer | null | undefined;
	broken?: unknown;
}

function exchange(url: URL, { method, headers, body, signal, head }: Exchange): Promise<Answer> {
	return new Promise((resolve, reject) => {
		if (signal?.aborted) return reject(signal.reason);
		const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
		const outgoing = send(url, { method, headers }, (reply) => {
			signal?.removeEventListener('abort', onAbort);
			// An abort after the answer began ends its body, as fetch's does.
			if (signal) {
				const endBody = () => reply.destroy(signal.reason);
				signal.addEventListener('abort', endBody, { once: true });
				reply.once('close', () => signal.removeEventListener('abort', endBody));
			}
			if (head || NULL_BODY.has(reply.statusCode ?? 500)) {
				reply.resume();
				return resolve({ reply, whole: null });
			}
			// A body that breaks off fails when it is read, as fetch's does, not the request.
			smallBody(reply).then(
				(whole) => resolve({ reply, whole }),
				(error: unknown) => resolve({ reply, whole: null, broken: signal?.aborted ? signal.reason : error }),
			);
		});
		const onAbort = () => {
			outgoing.destroy();
			reject(signal!.reason);
		};
		signal?.addEventListener('abort', onAbort, { once: true });
		outgoing.on('error', (error) => {
			signal?.removeEventListener('abort', onAbort);
			if (!signal?.aborted) reject(new TypeError('fetch failed', { cause: error }));
		});
		// A streamed body that fails ends the request (its 'error' rejects); a request that fails closes the body's source.
		if (body instanceof Readable) pipeline(body, outgoing, () => undefined);
		else outgoing.end(body);
	});
}

/**
 * `fetch` over node:http, with fetch's contract: a Response for any status, redirects followed
 * unless `redirect` says otherwise (an Authorization header is not sent to another origin; a 3xx
 * without a Location, such as Google's "resume incomplete" 308, comes back as it is), the signal's
 * reason when aborted, a TypeError "fetch failed" whose cause is the network error otherwise.
 *
 * Why not Node's own fetch: it copies a Buffer body before sending it (the Fetch standard's "extract
 * a body"; 8–10 MiB copies of upload chunks alive for a whole request), ties every request to weak
 * references and a finalization registry that young collections keep alive, and loading it (undici,
 * with its Headers, Request and Response) costs a process 16 MiB of RSS before any request.
 */
export const bufferFetch: typeof fetch = async (input, init) => {
	let url = new URL(input instanceof URL ? input.href : typeof input === 'string' ? input : input.url);
	let method = (init?.method ?? 'GET').toUpperCase();
	const headers = outgoingHeaders(init?.headers);
	const given = outgoingBody(init?.body);
	let body = given.body;
	if (given.type && headers['content-type'] === undefined) headers['content-type'] = given.type;
	const signal = init?.signal ?? undefined;
	for (let redirects = 0; ; redirects++) {
		if (Buffer.isBuffer(body)) headers['content-length'] = String(body.byteLength);
		else if (body === undefined && (method === 'POST' || method === 'PUT' || method === 'PATCH')) headers['content-length'] = '0';
		const { reply, whole, broken } = await exchange(url, { method, headers, body, signal, head: method === 'HEAD' });
		const status = reply.statusCode ?? 500;
		const location = reply.headers.location;
		if (!REDIRECTS.has(status) || location === undefined || init?.redirect === 'manual') {
			return new Reply(status, reply.statusMessage ?? '', reply.headers, url.href, redirects > 0, whole ?? null, whole === undefined ? reply : null, broken) as unknown as Response;
		}
		reply.resume();
		if (init?.redirect === 'error') throw new TypeError('fetch failed', { cause: new Error(`redirected to ${location}`) });
		if (redirects >= MAX_REDIRECTS) throw new TypeError('fetch failed', { cause: new Error('too many redirects') });
		const next = new URL(location, url);
		if (next.origin !== url.origin) delete headers.authorization;
		if (status === 303 ? method !== 'HEAD' : (status === 301 || status === 302) && method === 'POST') {
			method = 'GET';
			body = undefined;
			delete headers['content-type'];
			delete headers['content-length'];
		} else if (body instanceof Readable) {
			// A streamed body cannot be sent twice: the redirect is answered as it is.
			return new Reply(status, reply.statusMessage ?? '', reply.headers, url.href, redirects > 0, null, null) as unknown as Response;
		}
		url = next;
	}
};
