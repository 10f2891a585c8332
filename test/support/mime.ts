/**
 * Builds MIME messages for the Email to PDF tests, the way a mail client writes them: headers,
 * multipart bodies with boundaries, base64 and quoted-printable transfer encodings, RFC 2047
 * encoded words, charsets other than UTF-8. Everything a test feeds the node is assembled here in
 * code, so each fixture says what it holds.
 */
import Encoding from 'encoding-japanese';
import * as iconv from 'iconv-lite';
import { deflateSync } from 'node:zlib';
import { simpleParser } from 'mailparser';

export type Charset = 'utf-8' | 'windows-1251' | 'iso-2022-jp' | 'iso-8859-7';

/** Text in a charset, as a mail client would write it. */
export function encodeText(text: string, charset: Charset): Buffer {
	if (charset === 'iso-2022-jp') return Buffer.from(Encoding.convert(Encoding.stringToCode(text), { to: 'JIS', from: 'UNICODE' }));
	return iconv.encode(text, charset);
}

/** RFC 2047 encoded word, e.g. for a subject or a display name. */
export function encodedWord(text: string, charset: Charset): string {
	return `=?${charset.toUpperCase()}?B?${encodeText(text, charset).toString('base64')}?=`;
}

function base64Lines(bytes: Buffer): string {
	return (bytes.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

/** Quoted-printable (RFC 2045 §6.7): bytes outside printable ASCII as =XX, soft line breaks at 76. */
export function quotedPrintable(bytes: Buffer): string {
	const lines: string[] = [];
	for (const line of bytes.toString('latin1').split(/\r?\n/)) {
		let encoded = '';
		let width = 0;
		const chars = [...line];
		chars.forEach((char, index) => {
			const code = char.charCodeAt(0);
			const last = index === chars.length - 1;
			const plain = (code >= 33 && code <= 126 && char !== '=') || (char === ' ' && !last);
			const piece = plain ? char : `=${code.toString(16).toUpperCase().padStart(2, '0')}`;
			if (width + piece.length > 75) {
				encoded += '=\r\n';
				width = 0;
			}
			encoded += piece;
			width += piece.length;
		});
		lines.push(encoded);
	}
	return lines.join('\r\n');
}

export interface LeafOptions {
	charset?: Charset;
	encoding?: 'base64' | 'quoted-printable' | '8bit' | '7bit';
	/** "attachment" or "inline", with a file name. */
	disposition?: 'attachment' | 'inline';
	fileName?: string;
	contentId?: string;
}

/** One body part: its headers and its encoded content. */
export function leaf(contentType: string, content: string | Buffer, options: LeafOptions = {}): string {
	const bytes = typeof content === 'string' ? encodeText(content, options.charset ?? 'utf-8') : content;
	const encoding = options.encoding ?? (typeof content === 'string' ? 'quoted-printable' : 'base64');
	const headers = [`Content-Type: ${contentType}${options.charset ? `; charset="${options.charset}"` : ''}${options.fileName ? `; name="${options.fileName}"` : ''}`, `Content-Transfer-Encoding: ${encoding}`];
	if (options.disposition) headers.push(`Content-Disposition: ${options.disposition}${options.fileName ? `; filename="${options.fileName}"` : ''}`);
	if (options.contentId) headers.push(`Content-ID: <${options.contentId}>`);
	const body = encoding === 'base64' ? base64Lines(bytes) : encoding === 'quoted-printable' ? quotedPrintable(bytes) : bytes.toString('latin1');
	return `${headers.join('\r\n')}\r\n\r\n${body}`;
}

let boundaries = 0;

/** A multipart body (mixed, alternative, related) holding `parts`. */
export function multipart(subtype: 'mixed' | 'alternative' | 'related', parts: string[]): string {
	const boundary = `----=_Part_${++boundaries}_${subtype}`;
	return `Content-Type: multipart/${subtype}; boundary="${boundary}"\r\n\r\nThis is a multi-part message in MIME format.\r\n${parts.map((part) => `--${boundary}\r\n${part}\r\n`).join('')}--${boundary}--`;
}

export interface Envelope {
	from: string;
	to: string;
	cc?: string;
	subject: string;
	date?: string;
}

/** A whole message: envelope headers, then a body part from leaf() or multipart(). */
export function message(envelope: Envelope, body: string): Buffer {
	const headers = [
		`From: ${envelope.from}`,
		`To: ${envelope.to}`,
		...(envelope.cc ? [`Cc: ${envelope.cc}`] : []),
		`Subject: ${envelope.subject}`,
		`Date: ${envelope.date ?? 'Tue, 01 Dec 2026 09:30:00 +0000'}`,
		`Message-ID: <${++boundaries}.fixture@example.com>`,
		'MIME-Version: 1.0',
	];
	return Buffer.from(`${headers.join('\r\n')}\r\n${body}\r\n`, 'latin1');
}

/** A small valid PNG (solid colour), for inline images. */
export function png(width: number, height: number, rgb: [number, number, number]): Buffer {
	const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3).map((_, i) => rgb[i % 3])]);
	const raw = Buffer.concat(Array.from({ length: height }, () => row));
	const chunk = (type: string, data: Buffer) => {
		const length = Buffer.alloc(4);
		length.writeUInt32BE(data.length);
		const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
		const crc = Buffer.alloc(4);
		crc.writeUInt32BE(crc32(body));
		return Buffer.concat([length, body, crc]);
	};
	const header = Buffer.alloc(13);
	header.writeUInt32BE(width, 0);
	header.writeUInt32BE(height, 4);
	header.set([8, 2, 0, 0, 0], 8);
	return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function crc32(bytes: Buffer): number {
	let crc = 0xffffffff;
	for (const byte of bytes) {
		crc ^= byte;
		for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
	}
	return (crc ^ 0xffffffff) >>> 0;
}

/**
 * What n8n's Email Trigger (IMAP) emits for a message in its "resolved" format (and the Gmail node
 * with Simplify off): mailparser's fields as JSON, headers as a map, each attachment as a binary
 * (here returned beside the JSON, in order: attachment_0, attachment_1, ...).
 */
export async function imapResolved(eml: Buffer): Promise<{ json: Record<string, unknown>; attachments: Array<{ fileName: string; contentType: string; content: Buffer }> }> {
	const parsed = await simpleParser(eml);
	const headers = Object.fromEntries(parsed.headerLines.map((header) => [header.key, header.line]));
	const json = JSON.parse(JSON.stringify({ ...parsed, headers, headerLines: undefined, attachments: undefined })) as Record<string, unknown>;
	const attachments = parsed.attachments.map((attachment) => ({ fileName: attachment.filename ?? 'attachment', contentType: attachment.contentType, content: attachment.content }));
	return { json, attachments };
}

/** A TNEF stream (winmail.dat) as Outlook writes one: a plain-text body and attachments with long names and MIME types. */
export function tnef(body: string, attachments: Array<{ fileName: string; contentType: string; content: Buffer }>): Buffer {
	const attribute = (level: number, id: number, data: Buffer) => {
		const head = Buffer.alloc(9);
		head[0] = level;
		head.writeUInt32LE(id, 1);
		head.writeUInt32LE(data.length, 5);
		const checksum = Buffer.alloc(2);
		checksum.writeUInt16LE(data.reduce((sum, byte) => (sum + byte) & 0xffff, 0));
		return Buffer.concat([head, data, checksum]);
	};
	const padded = (data: Buffer) => Buffer.concat([data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
	/** MAPI properties of one string (PT_UNICODE) value each. */
	const mapi = (properties: Array<[number, string]>) => {
		const parts = [Buffer.alloc(4)];
		parts[0].writeUInt32LE(properties.length);
		for (const [id, value] of properties) {
			const header = Buffer.alloc(12);
			header.writeUInt16LE(0x001f, 0);
			header.writeUInt16LE(id, 2);
			header.writeUInt32LE(1, 4);
			const text = Buffer.from(`${value}\0`, 'utf16le');
			header.writeUInt32LE(text.length, 8);
			parts.push(header, padded(text));
		}
		return Buffer.concat(parts);
	};
	const signature = Buffer.alloc(6);
	signature.writeUInt32LE(0x223e9f78);
	signature.writeUInt16LE(0x0001, 4);
	const parts = [signature, attribute(1, 0x00089006, Buffer.from([0, 0, 1, 0])), attribute(1, 0x00078008, Buffer.from('IPM.Microsoft Mail.Note\0', 'latin1')), attribute(1, 0x00069003, mapi([[0x1000, body]]))];
	for (const attachment of attachments) {
		parts.push(attribute(2, 0x00069002, Buffer.alloc(14)));
		parts.push(attribute(2, 0x00018010, Buffer.from(`${attachment.fileName.slice(0, 8)}\0`, 'latin1')));
		parts.push(attribute(2, 0x0006800f, attachment.content));
		parts.push(attribute(2, 0x00069005, mapi([[0x3707, attachment.fileName], [0x370e, attachment.contentType]])));
	}
	return Buffer.concat(parts);
}

/** DER: a tag around contents. */
function der(tag: number, ...contents: Buffer[]): Buffer {
	const body = Buffer.concat(contents);
	const length = body.length < 0x80 ? Buffer.from([body.length]) : body.length < 0x10000 ? Buffer.from([0x82, body.length >> 8, body.length & 0xff]) : Buffer.from([0x83, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]);
	return Buffer.concat([Buffer.from([tag]), length, body]);
}

/**
 * An opaque-signed S/MIME body (CMS SignedData, RFC 5652) around a MIME entity, as an Outlook
 * "send as opaque" message carries it: the content is encapsulated, in BER constructed octets
 * of 1,000 bytes; the signer info is a stand-in (nothing here checks signatures).
 */
export function opaqueSigned(entity: Buffer): Buffer {
	const oid = (hex: string) => der(0x06, Buffer.from(hex, 'hex'));
	const pieces = [];
	for (let at = 0; at < entity.length; at += 1000) pieces.push(der(0x04, entity.subarray(at, at + 1000)));
	// Constructed OCTET STRING with indefinite length, as BER encoders stream it.
	const content = Buffer.concat([Buffer.from([0x24, 0x80]), ...pieces, Buffer.from([0, 0])]);
	const encapsulated = der(0x30, oid('2a864886f70d010701'), der(0xa0, content));
	const sha256 = der(0x30, oid('608648016503040201'));
	const signedData = der(0x30, der(0x02, Buffer.from([1])), der(0x31, sha256), encapsulated, der(0x31, der(0x30, der(0x02, Buffer.from([1])))));
	return der(0x30, oid('2a864886f70d010702'), der(0xa0, signedData));
}
