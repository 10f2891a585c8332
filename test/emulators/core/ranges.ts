import type { ServerResponse } from 'node:http';
import { sendBody, type RequestContext } from './server';

/** Inclusive at both ends, as HTTP writes ranges. */
export interface ByteRange {
	start: number;
	end: number;
}

/**
 * A single `bytes=S-E`, `bytes=S-` or `bytes=-N` against a body of `size` bytes. Undefined when the
 * header is absent, malformed, names several ranges or has its end before its start: HTTP says to
 * ignore such a header and send the whole body.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
	const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
	if (!match || (match[1] === '' && match[2] === '')) return undefined;
	if (match[1] === '') {
		const suffix = Number(match[2]);
		return suffix === 0 || size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - suffix), end: size - 1 };
	}
	const start = Number(match[1]);
	const end = match[2] === '' ? size - 1 : Number(match[2]);
	if (end < start) return undefined;
	return start >= size ? 'unsatisfiable' : { start, end: Math.min(end, size - 1) };
}

/**
 * Sends `content`, or the one range the request's Range header asks for. A range outside the content
 * is the cloud's own error, made by `unsatisfiable` from the Content-Range it should carry.
 */
export function sendContent(
	response: ServerResponse,
	context: RequestContext,
	rangeHeader: string | undefined,
	headers: Record<string, string>,
	content: Buffer,
	unsatisfiable: (contentRange: string) => Error,
): void {
	const size = content.length;
	const range = parseRange(rangeHeader, size);
	if (range === 'unsatisfiable') throw unsatisfiable(`bytes */${size}`);
	const ranged: Record<string, string> = { ...headers, 'accept-ranges': 'bytes' };
	if (range === undefined) return sendBody(response, context, 200, ranged, content);
	ranged['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
	sendBody(response, context, 206, ranged, content.subarray(range.start, range.end + 1));
}

/** What an upload chunk's Content-Range says: the bytes it carries (none in a status query) and the total, once known. */
export interface ContentRange {
	range?: ByteRange;
	total?: number;
}

/** `bytes S-E/TOTAL`, `bytes S-E/*`, `bytes *\/TOTAL` (a status query, or an empty last chunk) or `bytes *\/*`; undefined when malformed. */
export function parseContentRange(header: string | undefined): ContentRange | undefined {
	const match = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(header?.trim() ?? '');
	if (!match) return undefined;
	const total = match[3] === '*' ? undefined : Number(match[3]);
	if (match[1] === undefined) return { total };
	return { range: { start: Number(match[1]), end: Number(match[2]) }, total };
}
