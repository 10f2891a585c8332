import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';

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

/** One email, whichever form it came in: a raw .eml or the JSON of an n8n email node. */
export interface EmailMessage {
	subject: string;
	from: Address[];
	to: Address[];
	cc: Address[];
	date?: Date;
	html?: string;
	text?: string;
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

function looksLikeHeaders(raw: Buffer): boolean {
	const head = raw.subarray(0, 4096);
	if (head.includes(0)) return false;
	const firstLine = head.toString('latin1').replace(/^(\r?\n)+/, '').split(/\r?\n/, 1)[0];
	// "From sender date" opens an mbox entry; anything else must be a header field.
	return /^From /.test(firstLine) || /^[!-9;-~]+:/.test(firstLine);
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
	const known: Record<string, string> = { 'image/png': '.png', 'image/jpeg': '.jpg', 'image/gif': '.gif', 'application/pdf': '.pdf', 'text/plain': '.txt', 'message/rfc822': '.eml' };
	return known[contentType] ?? '';
}

/** Parses an RFC 822 message (.eml), MIME and charsets decoded by mailparser. */
export async function parseRawEmail(raw: Buffer): Promise<EmailMessage> {
	if (raw.length === 0) {
		throw new EmailInputError('The email file is empty', 'The binary holds 0 bytes: check that the node before this one produced the .eml file, for example by downloading the message in "raw" or "resolved" format.');
	}
	if (!looksLikeHeaders(raw)) {
		throw new EmailInputError(
			'The file is not an email',
			'An email (.eml, RFC 822) starts with header lines such as "From: ..." and "Subject: ...". Point Binary Property at the binary that holds the raw message, or set Source to "JSON From an Email Node" when the input comes from the Email Trigger (IMAP), Gmail or Outlook node.',
		);
	}
	// cid: links stay as they are so that the renderer, not the parser, decides which images to draw.
	const mail = await simpleParser(raw, { keepCidLinks: true, skipHtmlToText: true, skipTextToHtml: true });
	if (!MESSAGE_HEADERS.some((name) => mail.headers.has(name))) {
		throw new EmailInputError(
			'The file is not an email: it has none of the headers From, To, Subject, Date or Content-Type',
			'Point Binary Property at the binary that holds the raw message (.eml).',
		);
	}
	return fromParsed(mail);
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
