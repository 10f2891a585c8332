import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { readWhole } from '../../core/streams';

/** Statuses whose Response may not have a body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

function headersOf(init: ConstructorParameters<typeof Headers>[0], length: number, text: boolean): OutgoingHttpHeaders {
	// As fetch types a string body it was given no type for.
	const headers: OutgoingHttpHeaders = text ? { 'content-type': 'text/plain;charset=UTF-8' } : {};
	new Headers(init).forEach((value, name) => (headers[name] = value));
	headers['content-length'] = String(length);
	return headers;
}

/** Answers up to this size (an upload's JSON metadata) are read whole before the Response is made. */
const SMALL_ANSWER_BYTES = 64 * 1024;

function responseOf(reply: IncomingMessage, body: Buffer | null | undefined): Response {
	const headers = new Headers();
	for (const [name, value] of Object.entries(reply.headers)) {
		if (Array.isArray(value)) for (const one of value) headers.append(name, one);
		else if (value !== undefined) headers.set(name, value);
	}
	const status = reply.statusCode ?? 500;
	if (NULL_BODY.has(status)) reply.resume();
	const content = NULL_BODY.has(status) ? null : (body ?? (Readable.toWeb(reply) as ReadableStream<Uint8Array>));
	return new Response(content, { status, statusText: reply.statusMessage, headers });
}

/**
 * A small answer (the metadata a chunk or file upload returns) as one Buffer: wrapping every upload's
 * answer in a web stream made a dozen stream objects per file, garbage that outlived the young
 * generation's collections. Resolves undefined for an answer of unknown or larger size, which is streamed.
 */
function smallBody(reply: IncomingMessage): Promise<Buffer | null | undefined> {
	const length = Number(reply.headers['content-length'] ?? Number.NaN);
	if (NULL_BODY.has(reply.statusCode ?? 500) || !(length <= SMALL_ANSWER_BYTES)) return Promise.resolve(undefined);
	return readWhole(reply, SMALL_ANSWER_BYTES);
}

/**
 * `fetch`, except that a request whose body is a Buffer (an upload chunk) or a string (JSON) goes out
 * through node:http as it is. Node's fetch copies such a body before sending it (the Fetch standard's
 * "extract a body"), and those copies of 8–10 MiB chunks, alive for a whole request, are collected only
 * by the next full collection: a 300 MiB upload to an emulator ran 50–60 MiB of them above its live
 * memory. Node's fetch also ties every request to weak references and a finalization registry, which
 * young collections keep alive: over thousands of per-file calls that garbage grew the young
 * generation to its maximum. Every other request (no body, streams, downloads) is Node's fetch. The caller sees fetch's contract: a
 * Response for any status (no redirect is followed for an upload; clouds answer chunk PUTs
 * themselves), the signal's reason when aborted, a TypeError "fetch failed" whose cause is the
 * network error otherwise.
 */
export const bufferFetch: typeof fetch = (input, init) => {
	const given = init?.body;
	if (!(given instanceof Uint8Array) && typeof given !== 'string') return fetch(input, init);
	const body = typeof given === 'string' ? Buffer.from(given) : given;
	const url = new URL(input instanceof Request ? input.url : String(input));
	const signal = init?.signal ?? undefined;
	return new Promise<Response>((resolve, reject) => {
		if (signal?.aborted) return reject(signal.reason);
		const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
		const outgoing = send(url, { method: init?.method ?? 'POST', headers: headersOf(init?.headers, body.byteLength, typeof given === 'string') }, (reply) => {
			signal?.removeEventListener('abort', onAbort);
			// An abort after the answer began ends its body, as fetch's does.
			if (signal) {
				const endBody = () => reply.destroy(signal.reason);
				signal.addEventListener('abort', endBody, { once: true });
				reply.once('close', () => signal.removeEventListener('abort', endBody));
			}
			smallBody(reply).then(
				(body) => resolve(responseOf(reply, body)),
				(error: unknown) => reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: error })),
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
		outgoing.end(body);
	});
};
