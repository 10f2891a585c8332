import * as iconv from 'iconv-lite';

/*
 * TNEF (winmail.dat, application/ms-tnef), the container Outlook and Exchange wrap a message's
 * body and attachments in ([MS-OXTNEF]). The one TNEF package on npm (node-tnef) overrides
 * String.prototype.replaceAll for the whole process, logs to stdout and copies the input into a
 * JavaScript array per attribute, so this reader is our own; it reads what a PDF needs: the body
 * (plain text or HTML) and each attachment's name, type and bytes.
 */

export interface TnefAttachment {
	fileName: string;
	contentType: string;
	content: Buffer;
}

export interface TnefContent {
	text?: string;
	html?: string;
	/** Compressed RTF body (PR_RTF_COMPRESSED), present when Outlook sent rich text only. */
	rtfCompressed?: Buffer;
	attachments: TnefAttachment[];
}

const SIGNATURE = 0x223e9f78;
const LEVEL_ATTACHMENT = 2;
const ATT = { body: 0x800c, attachRendData: 0x9002, attachTitle: 0x8010, attachData: 0x800f, attachment: 0x9005, mapiProps: 0x9003, oemCodepage: 0x9007 };
const PR = { body: 0x1000, bodyHtml: 0x1013, rtfCompressed: 0x1009, attachLongFilename: 0x3707, attachFilename: 0x3704, attachMimeTag: 0x370e, attachDataObject: 0x3701 };
const PT = { string8: 0x001e, unicode: 0x001f, binary: 0x0102, object: 0x000d };
const FIXED_SIZES: Record<number, number> = { 0x0002: 4, 0x0003: 4, 0x0004: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8, 0x000a: 4, 0x000b: 4, 0x0014: 8, 0x0040: 8, 0x0048: 16, 0x0001: 0 };

export function isTnef(bytes: Buffer): boolean {
	return bytes.length >= 6 && bytes.readUInt32LE(0) === SIGNATURE;
}

type MapiValue = Buffer;

/** MAPI properties ([MS-OXTNEF] 2.1.3.4): the id to the (first) value's bytes; unknown types end the walk. */
function mapiProperties(data: Buffer): Map<number, { type: number; value: MapiValue }> {
	const properties = new Map<number, { type: number; value: MapiValue }>();
	let at = 0;
	const need = (bytes: number) => at + bytes <= data.length;
	if (!need(4)) return properties;
	const count = data.readUInt32LE(at);
	at += 4;
	for (let index = 0; index < count && need(4); index++) {
		const type = data.readUInt16LE(at);
		const id = data.readUInt16LE(at + 2);
		at += 4;
		if (id >= 0x8000) {
			// A named property: GUID, then a number or a UTF-16 name.
			if (!need(20)) break;
			const kind = data.readUInt32LE(at + 16);
			at += 20;
			if (kind === 0) at += 4;
			else {
				const length = data.readUInt32LE(at);
				at += 4 + length + ((4 - (length % 4)) % 4);
			}
		}
		const multi = (type & 0x1000) !== 0;
		const base = type & ~0x1000;
		const variable = base === PT.string8 || base === PT.unicode || base === PT.binary || base === PT.object;
		let values = 1;
		if (multi || variable) {
			if (!need(4)) break;
			values = data.readUInt32LE(at);
			at += 4;
		}
		let first: Buffer | undefined;
		for (let value = 0; value < values; value++) {
			if (variable) {
				if (!need(4)) return properties;
				const length = data.readUInt32LE(at);
				at += 4;
				if (!need(length)) return properties;
				first ??= data.subarray(at, at + length);
				at += length + ((4 - (length % 4)) % 4);
			} else {
				const size = FIXED_SIZES[base];
				if (size === undefined) return properties;
				first ??= data.subarray(at, at + size);
				at += Math.max(size, 4);
			}
		}
		if (first) properties.set(id, { type: base, value: first });
	}
	return properties;
}

function mapiString(property: { type: number; value: MapiValue } | undefined, codepage: string): string | undefined {
	if (!property) return undefined;
	const { type, value } = property;
	const text = type === PT.unicode ? value.toString('utf16le') : iconv.decode(value, codepage);
	return text.replace(/\0+$/, '');
}

/** Reads a TNEF stream; what cannot be read is left out, never thrown. */
export function readTnef(bytes: Buffer): TnefContent {
	const content: TnefContent = { attachments: [] };
	let codepage = 'windows-1252';
	let current: (TnefAttachment & { title?: string }) | undefined;
	let at = 6;
	while (at + 9 <= bytes.length) {
		const level = bytes[at];
		const name = bytes.readUInt16LE(at + 1);
		const length = bytes.readUInt32LE(at + 5);
		const start = at + 9;
		if (start + length > bytes.length) break;
		const data = bytes.subarray(start, start + length);
		at = start + length + 2;
		if (name === ATT.oemCodepage && length >= 4) {
			const page = data.readUInt32LE(0);
			if (iconv.encodingExists(`cp${page}`)) codepage = `cp${page}`;
		} else if (level === LEVEL_ATTACHMENT && name === ATT.attachRendData) {
			current = { fileName: '', contentType: 'application/octet-stream', content: Buffer.alloc(0) };
			content.attachments.push(current);
		} else if (level === LEVEL_ATTACHMENT && current && name === ATT.attachTitle) {
			current.fileName = iconv.decode(data, codepage).replace(/\0+$/, '');
		} else if (level === LEVEL_ATTACHMENT && current && name === ATT.attachData) {
			current.content = Buffer.from(data);
		} else if (level === LEVEL_ATTACHMENT && current && name === ATT.attachment) {
			const properties = mapiProperties(data);
			current.fileName = mapiString(properties.get(PR.attachLongFilename), codepage) || current.fileName;
			current.contentType = mapiString(properties.get(PR.attachMimeTag), codepage)?.toLowerCase() || current.contentType;
		} else if (name === ATT.body) {
			content.text = iconv.decode(data, codepage).replace(/\0+$/, '');
		} else if (name === ATT.mapiProps) {
			const properties = mapiProperties(data);
			content.text = mapiString(properties.get(PR.body), codepage) ?? content.text;
			const html = properties.get(PR.bodyHtml);
			if (html) content.html = html.type === PT.unicode ? mapiString(html, codepage) : html.value.toString('utf8');
			content.rtfCompressed = properties.get(PR.rtfCompressed)?.value;
		}
	}
	content.attachments = content.attachments.filter((attachment) => attachment.fileName !== '' || attachment.content.length > 0);
	content.attachments.forEach((attachment, index) => {
		attachment.fileName ||= `attachment-${index + 1}`;
	});
	return content;
}
