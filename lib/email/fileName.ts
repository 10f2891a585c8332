import { DateTime } from 'luxon';
import type { EmailMessage } from './message';

/** Names Windows, OneDrive and SharePoint refuse whatever the extension. */
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;
/** Dropbox and OneDrive cap a name at 255; UTF-8 bytes is the strictest reading of that. */
const MAX_BYTES = 200;

function truncateUtf8(text: string, maxBytes: number): string {
	let result = '';
	let bytes = 0;
	for (const char of text) {
		bytes += Buffer.byteLength(char);
		if (bytes > maxBytes) break;
		result += char;
	}
	return result;
}

/**
 * Makes `name` valid on every cloud we write to: no characters Windows, OneDrive or Dropbox
 * refuse, no characters outside the Basic Multilingual Plane (emoji: Dropbox has refused them),
 * no leading or trailing dots and spaces, no reserved device names, at most 200 bytes.
 */
export function safeFileName(name: string, extension = ''): string {
	let safe = name
		.normalize('NFC')
		.replace(/\p{Cc}/gu, ' ')
		.replace(/[<>:"/\\|?*]/g, '_')
		.replace(/[\u{10000}-\u{10ffff}]/gu, '')
		.replace(/\s+/g, ' ');
	safe = truncateUtf8(safe, MAX_BYTES - Buffer.byteLength(extension))
		.replace(/^[\s.]+|[\s.]+$/g, '')
		.replace(/^~\$/, '_');
	if (safe === '' || RESERVED.test(safe)) safe = `email${safe === '' ? '' : `-${safe}`}`;
	return safe + extension;
}

/**
 * Fills a file name template: {date} (yyyy-MM-dd), {time} (HH-mm), {subject}, {sender} (name,
 * else address), {senderAddress}; the date in `timeZone`. The result is safe for every cloud and
 * ends in ".pdf".
 */
export function pdfFileName(template: string, message: EmailMessage, timeZone = 'UTC'): string {
	const date = message.date ? DateTime.fromJSDate(message.date, { zone: timeZone }) : undefined;
	const sender = message.from[0];
	const values: Record<string, string> = {
		date: date?.toFormat('yyyy-MM-dd') ?? 'undated',
		time: date?.toFormat('HH-mm') ?? '',
		subject: message.subject || 'no subject',
		sender: sender ? sender.name || sender.address : 'unknown sender',
		senderAddress: sender?.address ?? '',
	};
	const filled = template.replace(/\{(\w+)\}/g, (match, key: string) => values[key] ?? match);
	return safeFileName(filled.replace(/\.pdf$/i, ''), '.pdf');
}
