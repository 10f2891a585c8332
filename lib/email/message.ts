import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { calendarEvents, type CalendarEvent } from './calendar';
import { decodeText, headerEnd, parseMime, partBytes, utf8Headers, type MimePart } from './mime';
import { signedContent } from './smime';
import { isTnef, readTnef } from './tnef';

export interface Address {
	name: string;
	address: string;
}

export interface EmailAttachment {
	fileName: string;
	contentType: string;
	content: Buffer;
	/** Content-ID without angle brackets: what `cid:` links in the HTML body point at. */
	contentId?: string;
}

/** A piece of the body, in the order a mail client shows them. */
export type BodySection = { kind: 'html'; html: string } | { kind: 'text'; text: string } | { kind: 'event'; event: CalendarEvent } | { kind: 'note'; text: string };

/** One email, whichever form it came in: a raw .eml or the JSON of an n8n email node. */
export interface EmailMessage {
	subject: string;
	from: Address[];
	to: Address[];
	cc: Address[];
	date?: Date;
	html?: string;
	text?: string;
	/** Every part a mail client would show, in order; when absent, the HTML part, else the text part. */
	sections?: BodySection[];
	attachments: EmailAttachment[];
}

/** Input that is not an email: the message says what is wrong, the hint what to change. */
export class EmailInputError extends Error {
	constructor(
		message: string,
		readonly hint: string,
	) {
		super(message);
		this.name = 'EmailInputError';
	}
}

/** Headers that any real message has at least one of; a file with none of them is something else. */
const MESSAGE_HEADERS = ['from', 'to', 'subject', 'date', 'message-id', 'content-type', 'mime-version', 'received', 'return-path'];

function flattenAddresses(value: AddressObject | AddressObject[] | undefined): Address[] {
	const objects = value === undefined ? [] : Array.isArray(value) ? value : [value];
	const addresses: Address[] = [];
	const visit = (entries: AddressObject['value']) => {
		for (const entry of entries) {
			if (entry.group) visit(entry.group);
			else if (entry.address || entry.name) addresses.push({ name: entry.name ?? '', address: entry.address ?? '' });
		}
	};
	for (const object of objects) visit(object.value);
	return addresses;
}

const HEADER_LINE = /^[!-9;-~]+[ \t]*:/;

/**
 * What a tolerant mail client skips before the first header: a UTF-8 byte-order mark, lines of
 * spaces, spaces before the first field; and "Subject :" (RFC 822's obsolete form) made "Subject:".
 */
function tidyHeaderStart(raw: Buffer): Buffer {
	let at = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? 3 : 0;
	for (;;) {
		let end = at;
		while (end < raw.length && (raw[end] === 0x20 || raw[end] === 0x09 || raw[end] === 0x0d)) end++;
		if (raw[end] === 0x0a) at = end + 1;
		else {
			at = end;
			break;
		}
	}
	const trimmed = raw.subarray(at);
	const { end } = headerEnd(trimmed);
	const block = trimmed.subarray(0, end).toString('latin1');
	const tidy = block.replace(/^([!-9;-~]+)[ \t]+:/gm, '$1:');
	return tidy === block ? trimmed : Buffer.concat([Buffer.from(tidy, 'latin1'), trimmed.subarray(end)]);
}

/** Why `raw` is not a message, or undefined when it starts like one ("From " of an mbox, or a header field). */
function notHeaders(raw: Buffer): string | undefined {
	const head = raw.subarray(0, 4096);
	if (head.includes(0)) return 'it holds binary data, not text';
	const firstLine = head.toString('latin1').split(/\r?\n/, 1)[0];
	if (/^From /.test(firstLine) || HEADER_LINE.test(firstLine)) return undefined;
	const shown = firstLine.length > 60 ? `${firstLine.slice(0, 60)}…` : firstLine;
	return `its first line "${shown}" is not a header field such as "From: …" or "Subject: …"`;
}

function looksLikeHeaders(raw: Buffer): boolean {
	return notHeaders(tidyHeaderStart(raw)) === undefined;
}

function fromParsed(mail: ParsedMail): EmailMessage {
	return {
		subject: mail.subject ?? '',
		from: flattenAddresses(mail.from),
		to: flattenAddresses(mail.to),
		cc: flattenAddresses(mail.cc),
		date: mail.date,
		html: typeof mail.html === 'string' ? mail.html : undefined,
		text: mail.text,
		attachments: mail.attachments.map((attachment, index) => ({
			fileName: attachment.filename ?? `attachment-${index + 1}${extensionFor(attachment.contentType)}`,
			contentType: attachment.contentType,
			content: attachment.content,
			contentId: attachment.contentId?.replace(/^<|>$/g, ''),
		})),
	};
}

function extensionFor(contentType: string): string {
	const known: Record<string, string> = {
		'image/png': '.png',
		'image/jpeg': '.jpg',
		'image/gif': '.gif',
		'application/pdf': '.pdf',
		'text/plain': '.txt',
		'text/html': '.html',
		'text/calendar': '.ics',
		'application/ics': '.ics',
		'message/rfc822': '.eml',
		'message/delivery-status': '.txt',
		'application/pkcs7-mime': '.p7m',
		'application/pkcs7-signature': '.p7s',
	};
	return known[contentType] ?? '';
}

const TEXT_SHOWN = /^(text\/(?!html|calendar)|message\/(delivery-status|disposition-notification|feedback-report)$)/;
const isCalendar = (part: MimePart) => part.type === 'text/calendar' || part.type === 'application/ics' || /\.ics$/i.test(part.fileName ?? '');
const isTnefFile = (type: string, fileName = '') => type === 'application/ms-tnef' || type === 'application/vnd.ms-tnef' || /^winmail\.dat$/i.test(fileName);
const isTnefPart = (part: MimePart) => isTnefFile(part.type, part.fileName);
const isSmime = (part: MimePart) => /^application\/(x-)?pkcs7-mime$/.test(part.type);

/** The alternative a mail client shows: the last one that has HTML, else the last one. */
function chosenAlternative(parts: MimePart[]): MimePart | undefined {
	const hasHtml = (part: MimePart): boolean => part.type === 'text/html' || part.children.some(hasHtml);
	return parts.filter((part) => !isCalendar(part)).findLast(hasHtml) ?? parts.filter((part) => !isCalendar(part)).at(-1);
}

interface Walk {
	sections: BodySection[];
	/** Files taken out of containers (TNEF), which replace the container in the attachments list. */
	unpacked: EmailAttachment[];
}

/** Every part a mail client would show, in order: each text and HTML part, invites, TNEF contents, signed content. */
function walkParts(part: MimePart, walk: Walk): void {
	if (part.type.startsWith('multipart/')) {
		if (part.type === 'multipart/alternative') {
			const chosen = chosenAlternative(part.children);
			if (chosen) walkParts(chosen, walk);
			for (const child of part.children.filter(isCalendar)) walkParts(child, walk);
		} else for (const child of part.children) walkParts(child, walk);
		return;
	}
	const attached = part.disposition === 'attachment';
	const text = () => decodeText(partBytes(part), part.params.charset);
	if (isCalendar(part)) {
		for (const event of calendarEvents(text())) walk.sections.push({ kind: 'event', event });
	} else if (isTnefPart(part)) {
		const bytes = partBytes(part);
		if (!isTnef(bytes)) return;
		const tnef = readTnef(bytes);
		if (tnef.html) walk.sections.push({ kind: 'html', html: tnef.html });
		else if (tnef.text) walk.sections.push({ kind: 'text', text: tnef.text });
		else if (tnef.rtfCompressed) walk.sections.push({ kind: 'note', text: 'The body of this Outlook message (winmail.dat) is in compressed RTF only, which this node does not read.' });
		walk.unpacked.push(...tnef.attachments);
	} else if (isSmime(part)) {
		const inner = /signed-data/i.test(part.params['smime-type'] ?? '') ? signedContent(partBytes(part)) : undefined;
		if (inner) {
			walk.sections.push({ kind: 'note', text: 'This message is signed (S/MIME); the signature was not checked.' });
			walkParts(parseMime(inner), walk);
		} else {
			walk.sections.push({ kind: 'note', text: 'This message is encrypted (S/MIME): its content cannot be read without the recipient\'s private key. The encrypted part is listed as an attachment.' });
		}
	} else if (part.type === 'text/html' && !attached) {
		walk.sections.push({ kind: 'html', html: text() });
	} else if (TEXT_SHOWN.test(part.type) && !attached) {
		walk.sections.push({ kind: 'text', text: text() });
	}
}

/** The signed entity of an opaque-signed message, put under the message's own headers. */
function unwrapOpaqueSigned(raw: Buffer): Buffer {
	const root = parseMime(raw);
	if (!isSmime(root) || !/signed-data/i.test(root.params['smime-type'] ?? '')) return raw;
	const inner = signedContent(partBytes(root));
	if (!inner) return raw;
	const { end } = headerEnd(raw);
	const headers = raw
		.subarray(0, end)
		.toString('latin1')
		.replace(/^content-(type|transfer-encoding|disposition|description):.*(\r?\n[ \t].*)*\r?\n/gim, '');
	return Buffer.concat([Buffer.from(headers, 'latin1'), inner]);
}

/** Parses an RFC 822 message (.eml), MIME and charsets decoded by mailparser. */
export async function parseRawEmail(input: Buffer): Promise<EmailMessage> {
	if (input.length === 0) {
		throw new EmailInputError('The email file is empty', 'The binary holds 0 bytes: check that the node before this one produced the .eml file, for example by downloading the message in "raw" or "resolved" format.');
	}
	const tidy = tidyHeaderStart(input);
	const why = notHeaders(tidy);
	if (why !== undefined) {
		throw new EmailInputError(
			`The file is not an email: ${why}`,
			'An email (.eml, RFC 822) starts with header lines such as "From: ..." and "Subject: ...". Point Binary Property at the binary that holds the raw message, or set Source to "JSON From an Email Node" when the input comes from the Email Trigger (IMAP), Gmail or Outlook node.',
		);
	}
	const unwrapped = unwrapOpaqueSigned(tidy);
	const raw = utf8Headers(unwrapped);
	// cid: links stay as they are so that the renderer, not the parser, decides which images to draw.
	const mail = await simpleParser(raw, { keepCidLinks: true, skipHtmlToText: true, skipTextToHtml: true });
	if (!MESSAGE_HEADERS.some((name) => mail.headers.has(name))) {
		throw new EmailInputError(
			'The file is not an email: it has none of the headers From, To, Subject, Date or Content-Type',
			'Point Binary Property at the binary that holds the raw message (.eml).',
		);
	}
	const message = fromParsed(mail);
	const walk: Walk = { sections: [], unpacked: [] };
	if (unwrapped !== tidy) walk.sections.push({ kind: 'note', text: 'This message is signed (S/MIME); the signature was not checked.' });
	walkParts(parseMime(raw), walk);
	const attachments = walk.unpacked.length > 0 ? message.attachments.filter((attachment) => !isTnefFile(attachment.contentType, attachment.fileName)) : message.attachments;
	return { ...message, sections: walk.sections, attachments: [...attachments, ...walk.unpacked] };
}

// ---------------------------------------------------------------------------------------------
// The JSON of n8n's email nodes. Email Trigger (IMAP) "resolved" and Gmail (simplify off) output
// mailparser's fields; IMAP "simple" outputs header strings with textHtml/textPlain; Gmail's raw
// message is the whole source in `raw` (base64url), while IMAP "raw" holds the body alone;
// Microsoft Outlook outputs Graph's message resource.

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const firstString = (...values: unknown[]): string | undefined => values.find((value): value is string => typeof value === 'string' && value !== '');

/** "Ada <ada@example.com>, bob@example.com" → two addresses (quoted commas respected). */
export function parseAddressList(text: string): Address[] {
	const parts = text.match(/(?:"[^"]*"|<[^>]*>|[^,])+/g) ?? [];
	return parts
		.map((part) => part.trim())
		.filter((part) => part !== '')
		.map((part) => {
			const angle = /^(.*?)<([^>]*)>\s*$/.exec(part);
			if (angle) return { name: angle[1].trim().replace(/^"|"$/g, ''), address: angle[2].trim() };
			return part.includes('@') ? { name: '', address: part } : { name: part.replace(/^"|"$/g, ''), address: '' };
		});
}

function addressesFrom(value: unknown): Address[] {
	if (typeof value === 'string') return parseAddressList(value);
	if (Array.isArray(value)) return value.flatMap(addressesFrom);
	if (!isObject(value)) return [];
	// Graph: { emailAddress: { name, address } }
	if (isObject(value.emailAddress)) return addressesFrom(value.emailAddress);
	// mailparser: { value: [{ name, address }], text }
	if (Array.isArray(value.value)) return value.value.flatMap(addressesFrom);
	if (typeof value.address === 'string' || typeof value.name === 'string') {
		return [{ name: typeof value.name === 'string' ? value.name : '', address: typeof value.address === 'string' ? value.address : '' }];
	}
	return typeof value.text === 'string' ? parseAddressList(value.text) : [];
}

function dateFrom(...values: unknown[]): Date | undefined {
	for (const value of values) {
		if (value === undefined || value === null || value === '') continue;
		// Gmail's internalDate is milliseconds since the epoch, as a string.
		const date = typeof value === 'string' && /^\d{12,}$/.test(value) ? new Date(Number(value)) : new Date(value as string | number);
		if (!Number.isNaN(date.getTime())) return date;
	}
	return undefined;
}

function decodeRawField(raw: string): Buffer {
	const compact = raw.replace(/\s+/g, '');
	// Gmail sends base64url, the IMAP trigger the message text itself.
	if (compact.length > 0 && /^[A-Za-z0-9+/_-]+=*$/.test(compact)) {
		const decoded = Buffer.from(compact, compact.includes('-') || compact.includes('_') ? 'base64url' : 'base64');
		if (looksLikeHeaders(decoded)) return decoded;
	}
	return Buffer.from(raw, 'utf8');
}

/**
 * Builds a message from the JSON of an n8n email node and the item's attachment binaries.
 * A `raw` field holding a whole message wins, since it is the most faithful form.
 */
export async function emailFromNodeJson(json: Json, attachments: EmailAttachment[]): Promise<EmailMessage> {
	if (typeof json.raw === 'string' && json.raw.trim() !== '') {
		const raw = decodeRawField(json.raw);
		if (looksLikeHeaders(raw)) {
			const message = await parseRawEmail(raw);
			return { ...message, attachments: [...message.attachments, ...attachments] };
		}
		if (json.subject === undefined && json.html === undefined && json.text === undefined) {
			throw new EmailInputError(
				'The raw field holds a message body without its headers',
				'The Email Trigger (IMAP) format "RAW" leaves the headers (and with them the MIME structure) out. Set its Format to "Resolved", or give this node a whole .eml.',
			);
		}
	}
	const headers = isObject(json.headers) ? json.headers : {};
	const body = isObject(json.body) ? json.body : undefined;
	const graphBody = body && typeof body.content === 'string' ? body : undefined;
	const html = firstString(json.html, json.textHtml, graphBody && String(graphBody.contentType).toLowerCase() === 'html' ? graphBody.content : undefined);
	const text = firstString(json.text, json.textPlain, graphBody && String(graphBody.contentType).toLowerCase() !== 'html' ? graphBody.content : undefined, json.bodyPreview, json.snippet);
	const subject = firstString(json.subject, json.Subject, headers.subject) ?? '';
	const from = addressesFrom(json.from ?? json.From ?? json.sender ?? headers.from);
	const to = addressesFrom(json.to ?? json.To ?? json.toRecipients ?? headers.to);
	const cc = addressesFrom(json.cc ?? json.Cc ?? json.ccRecipients ?? headers.cc);
	if (html === undefined && text === undefined && subject === '' && from.length === 0) {
		throw new EmailInputError(
			'The item holds no email fields',
			'Expected the output of the Email Trigger (IMAP), Gmail or Microsoft Outlook node: fields such as subject, from, html or text (or raw). For a raw .eml file in a binary property, set Source to "Binary File (.eml)".',
		);
	}
	return {
		subject,
		from,
		to,
		cc,
		date: dateFrom(json.date, json.Date, json.receivedDateTime, json.sentDateTime, headers.date, json.internalDate),
		html,
		text,
		attachments,
	};
}
