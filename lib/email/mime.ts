import chardet from 'chardet';
import Encoding from 'encoding-japanese';
import * as iconv from 'iconv-lite';

/*
 * A light walk over the MIME tree of a raw message, beside mailparser: mailparser gives the
 * headers and the attachments, but joins or drops text parts and trusts every declared charset.
 * This walk keeps each part in order with its raw bytes, so that every text part a mail client
 * shows is drawn where it stands, and a charset that does not decode is detected instead.
 */

export interface MimePart {
	/** Lower-cased media type, "text/plain" when none is given. */
	type: string;
	params: Record<string, string>;
	disposition?: string;
	fileName?: string;
	transferEncoding: string;
	/** The body as it is in the message, transfer encoding included. */
	raw: Buffer;
	children: MimePart[];
}

/** Where the header block ends: the first empty line (CRLF or LF), or the end. */
export function headerEnd(raw: Buffer): { end: number; bodyStart: number } {
	for (let i = 0; i < raw.length; i++) {
		if (raw[i] !== 0x0a) continue;
		if (raw[i + 1] === 0x0a) return { end: i + 1, bodyStart: i + 2 };
		if (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a) return { end: i + 1, bodyStart: i + 3 };
	}
	return { end: raw.length, bodyStart: raw.length };
}

/** Header fields of a block, names lower-cased, folded lines joined; the first of each name wins. */
export function headerFields(block: string): Map<string, string> {
	const fields = new Map<string, string>();
	for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
		const match = /^([!-9;-~]+)[ \t]*:[ \t]*(.*)$/.exec(line);
		if (match && !fields.has(match[1].toLowerCase())) fields.set(match[1].toLowerCase(), match[2].trim());
	}
	return fields;
}

/** "text/plain; charset=utf-8; name=\"a b.txt\"" → value and parameters (RFC 2231 continuations joined). */
function parameters(value: string): { value: string; params: Record<string, string> } {
	const [first, ...rest] = value.match(/(?:"(?:[^"\\]|\\.)*"|[^;])+/g) ?? [''];
	const params: Record<string, string> = {};
	for (const piece of rest) {
		const at = piece.indexOf('=');
		if (at < 0) continue;
		const name = piece.slice(0, at).trim().toLowerCase().replace(/\*\d*\*?$/, '');
		let text = piece.slice(at + 1).trim().replace(/^"(.*)"$/s, '$1').replace(/\\(.)/g, '$1');
		if (/\*$/.test(piece.slice(0, at).trim())) text = decodeURIComponent(text.replace(/^[^']*'[^']*'/, ''));
		params[name] = (params[name] ?? '') + text;
	}
	return { value: first.trim().toLowerCase(), params };
}

export function parseMime(raw: Buffer, defaultType = 'text/plain', depth = 0): MimePart {
	const { end, bodyStart } = headerEnd(raw);
	const fields = headerFields(raw.subarray(0, end).toString('latin1'));
	const contentType = parameters(fields.get('content-type') ?? defaultType);
	const disposition = fields.has('content-disposition') ? parameters(fields.get('content-disposition')!) : undefined;
	const part: MimePart = {
		type: contentType.value.includes('/') ? contentType.value : defaultType,
		params: contentType.params,
		disposition: disposition?.value,
		fileName: disposition?.params.filename ?? contentType.params.name,
		transferEncoding: (fields.get('content-transfer-encoding') ?? '7bit').toLowerCase(),
		raw: raw.subarray(bodyStart),
		children: [],
	};
	const boundary = part.params.boundary;
	if (part.type.startsWith('multipart/') && boundary && depth < 20) {
		const body = part.raw.toString('latin1');
		const delimiter = new RegExp(`(?:^|\\r?\\n)--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(--)?[ \\t]*(?=\\r?\\n|$)`, 'g');
		const marks = [...body.matchAll(delimiter)];
		for (let i = 0; i < marks.length && !marks[i][1]; i++) {
			const start = marks[i].index + marks[i][0].length;
			const stop = i + 1 < marks.length ? marks[i + 1].index : body.length;
			const text = body.slice(start, stop).replace(/^\r?\n/, '');
			part.children.push(parseMime(Buffer.from(text, 'latin1'), part.type === 'multipart/digest' ? 'message/rfc822' : 'text/plain', depth + 1));
		}
	}
	return part;
}

function decodeQuotedPrintable(text: string): Buffer {
	const bytes: number[] = [];
	const source = text.replace(/=\r?\n/g, '');
	for (let i = 0; i < source.length; i++) {
		const hex = source[i] === '=' ? /^[0-9a-f]{2}$/i.exec(source.slice(i + 1, i + 3)) : null;
		if (hex) {
			bytes.push(Number.parseInt(hex[0], 16));
			i += 2;
		} else bytes.push(source.charCodeAt(i) & 0xff);
	}
	return Buffer.from(bytes);
}

/** The part's bytes with the transfer encoding undone. */
export function partBytes(part: MimePart): Buffer {
	if (part.transferEncoding === 'base64') return Buffer.from(part.raw.toString('latin1').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
	if (part.transferEncoding === 'quoted-printable') return decodeQuotedPrintable(part.raw.toString('latin1'));
	return part.raw;
}

const JAPANESE_7BIT = /^(iso-2022-jp|csiso2022jp)/;

/** Decodes with `charset`, or says it cannot: an unknown label, a replacement character, 8-bit bytes in a 7-bit charset. */
function decodeStrictly(bytes: Buffer, charset: string): string | undefined {
	const label = charset.toLowerCase();
	if (JAPANESE_7BIT.test(label)) {
		if (bytes.some((byte) => byte >= 0x80)) return undefined;
		return Encoding.codeToString(Encoding.convert(bytes, { to: 'UNICODE', from: 'JIS' }));
	}
	if (!iconv.encodingExists(label)) return undefined;
	const text = iconv.decode(bytes, label);
	return text.includes('\ufffd') ? undefined : text;
}

/**
 * Text from bytes: the declared charset when it decodes them, then UTF-8, then the charset a
 * detector (chardet) finds, then windows-1252, which decodes anything.
 */
export function decodeText(bytes: Buffer, declared?: string): string {
	const isAscii = !bytes.some((byte) => byte >= 0x80 || byte === 0x1b);
	if (isAscii) return bytes.toString('latin1');
	for (const charset of [declared, 'utf-8']) {
		const text = charset ? decodeStrictly(bytes, charset) : undefined;
		if (text !== undefined) return text;
	}
	const detected = chardet.detect(bytes);
	const text = detected ? decodeStrictly(bytes, detected) : undefined;
	return text ?? iconv.decode(bytes, 'windows-1252');
}

/** The charset the message declares: its own Content-Type's, else the first a part declares. */
export function declaredCharset(part: MimePart): string | undefined {
	if (part.params.charset) return part.params.charset;
	for (const child of part.children) {
		const found = declaredCharset(child);
		if (found) return found;
	}
	return undefined;
}

/**
 * The header block of a raw message with 8-bit bytes in a legacy charset, rewritten as UTF-8
 * (which mailparser reads as RFC 6532 headers), decoded with the message's declared charset,
 * then a detected one; a header block that is ASCII or UTF-8 already comes back unchanged.
 */
export function utf8Headers(raw: Buffer): Buffer {
	const { end } = headerEnd(raw);
	const block = raw.subarray(0, end);
	if (!block.some((byte) => byte >= 0x80) || decodeStrictly(block, 'utf-8') !== undefined) return raw;
	const text = decodeText(block, declaredCharset(parseMime(raw)));
	return Buffer.concat([Buffer.from(text, 'utf8'), raw.subarray(end)]);
}
