import bidiFactory from 'bidi-js';
import PDFDocument from 'pdfkit';
import { DateTime } from 'luxon';
import { htmlToBlocks, textToBlocks, type Block, type Span } from './body';
import { fontBytes, fontRuns, latinAscent, type FontStyle } from './fonts';
import type { CalendarEvent } from './calendar';
import type { Address, BodySection, EmailAttachment, EmailMessage } from './message';

import { PAGE_SIZES, type PageSize } from './pageSizes';

export { PAGE_SIZES, type PageSize };

export interface RenderOptions {
	pageSize: PageSize;
	/** Adds each attachment to the PDF as an embedded file (a PDF reader lists them in its attachments panel). */
	embedAttachments: boolean;
	/** PDF metadata; by default the subject, the sender and the email's date. */
	title?: string;
	author?: string;
	creationDate?: Date;
	/** IANA zone for the date in the header, e.g. the workflow's timezone. Default UTC. */
	timeZone?: string;
}

export interface RenderedEmail {
	pdf: Buffer;
	pages: number;
	/** The attachments listed at the end of the PDF (inline images drawn in the body are not). */
	attachments: EmailAttachment[];
}

const TEXT_SIZE = 10.5;
const HEADING_SIZES = [18, 15, 13, 11.5, 11, 10.5];
const LINE_GAP = 2;
const INDENT = 16;
const COLORS = { text: '#111111', muted: '#555555', link: '#1a55c4', rule: '#bbbbbb', quote: '#c8c8c8' };

export function formatAddresses(addresses: Address[]): string {
	return addresses.map(({ name, address }) => (name && address ? `${name} <${address}>` : name || address)).join(', ');
}

export function formatSize(bytes: number): string {
	if (bytes < 1024) return `${bytes} B`;
	const units = ['KB', 'MB', 'GB'];
	let value = bytes / 1024;
	let unit = 0;
	while (value >= 1024 && unit < units.length - 1) {
		value /= 1024;
		unit++;
	}
	return `${value.toFixed(1)} ${units[unit]}`;
}

function styleOf(span: Span): FontStyle {
	if (span.bold && span.italic) return 'boldItalic';
	if (span.bold) return 'bold';
	return span.italic ? 'italic' : 'regular';
}

/** Images are taken from the message itself (data: URIs and cid: parts); anything else is never fetched. */
function imageSource(src: string, byContentId: Map<string, EmailAttachment>): Buffer | undefined {
	const data = /^data:image\/[a-z0-9.+-]+;base64,(.*)$/is.exec(src);
	if (data) return Buffer.from(data[1].replace(/\s+/g, ''), 'base64');
	if (/^cid:/i.test(src)) return byContentId.get(decodeURIComponent(src.slice(4)).replace(/^<|>$/g, ''))?.content;
	return undefined;
}

const bidi = bidiFactory();
const STRONG_RTL = /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]/;

/** A run of characters of one style and one embedding level (odd: right to left). */
interface LevelRun {
	text: string;
	style: FontStyle;
	level: number;
}

/** Runs of one line in visual order (UAX #9, L2): from the highest level down, reverse each sequence at or above it. */
function visualOrder(runs: LevelRun[]): LevelRun[] {
	const result = [...runs];
	const highest = Math.max(...runs.map((run) => run.level));
	const lowestOdd = Math.min(...runs.map((run) => run.level).filter((level) => level % 2 === 1));
	for (let level = highest; level >= lowestOdd; level--) {
		for (let i = 0; i < result.length; i++) {
			if (result[i].level < level) continue;
			let j = i;
			while (j + 1 < result.length && result[j + 1].level >= level) j++;
			result.splice(i, j - i + 1, ...result.slice(i, j + 1).reverse());
			i = j;
		}
	}
	return result;
}

interface OpenedImage {
	width: number;
	height: number;
}

class Writer {
	private readonly registered = new Set<string>();

	constructor(readonly doc: PDFKit.PDFDocument) {}

	get left(): number {
		return this.doc.page.margins.left;
	}

	get width(): number {
		return this.doc.page.width - this.doc.page.margins.left - this.doc.page.margins.right;
	}

	get bottom(): number {
		return this.doc.page.height - this.doc.page.margins.bottom;
	}

	private useFont(file: string): void {
		if (!this.registered.has(file)) {
			this.doc.registerFont(file, fontBytes(file));
			this.registered.add(file);
		}
		this.doc.font(file);
	}

	/** Writes styled spans as one paragraph at (x, current y), wrapping within `width`. */
	spans(spans: Span[], x: number, width: number, size = TEXT_SIZE, color = COLORS.text): void {
		if (spans.some((span) => STRONG_RTL.test(span.text))) {
			this.bidiParagraph(spans, x, width, size, color);
			return;
		}
		if (spans.some((span) => span.text.includes('\n'))) {
			// pdfkit loses its place at a hard line break inside a run of continued calls in several
			// fonts ("Done ✔\nNext ✔" draws the second line over the first): each line is drawn alone.
			const lines: Span[][] = [[]];
			for (const span of spans) {
				span.text.split('\n').forEach((part, index) => {
					if (index > 0) lines.push([]);
					if (part !== '') lines.at(-1)!.push({ ...span, text: part });
				});
			}
			if (lines.length > 1 && lines.at(-1)!.length === 0) lines.pop();
			for (const line of lines) {
				if (line.length > 0) this.spans(line, x, width, size, color);
				else {
					this.useFont('NotoSans-Regular.ttf');
					this.doc.x = x;
					this.doc.y += this.doc.fontSize(size).currentLineHeight(true) + LINE_GAP;
				}
			}
			return;
		}
		const pieces: Array<{ font: string; text: string; href?: string }> = [];
		for (const span of spans) {
			for (const run of fontRuns(span.text, styleOf(span))) {
				const last = pieces.at(-1);
				// One call per font and link: pdfkit drops a line break that is a continued call of its own.
				if (last && last.font === run.font && last.href === span.href) last.text += run.text;
				else pieces.push({ ...run, href: span.href });
			}
		}
		if (pieces.length === 0) return;
		pieces.forEach((piece, index) => {
			this.useFont(piece.font);
			this.doc.fontSize(size).fillColor(piece.href ? COLORS.link : color);
			// Options carry over between continued calls unless set, hence the explicit nulls. A CJK font
			// is taller than Noto Sans: a fixed baseline keeps runs of different fonts on one line.
			const options: PDFKit.Mixins.TextOptions = {
				width,
				continued: index < pieces.length - 1,
				link: piece.href ?? (null as unknown as string),
				underline: piece.href !== undefined,
				lineGap: LINE_GAP,
				baseline: -latinAscent() * size,
			};
			if (index === 0) this.doc.text(piece.text, x, this.doc.y, options);
			else this.doc.text(piece.text, options);
		});
		this.doc.fillColor(COLORS.text);
	}

	private textWidth(text: string, style: FontStyle, size: number): number {
		let width = 0;
		for (const run of fontRuns(text, style)) {
			this.useFont(run.font);
			width += this.doc.fontSize(size).widthOfString(run.text);
		}
		return width;
	}

	/**
	 * A paragraph with right-to-left text: wrapped here, each line's runs put in visual order by
	 * the Unicode bidi algorithm (bidi-js) and drawn one by one, right-aligned when the paragraph
	 * is right to left. A right-to-left run goes to fontkit in logical order: fontkit shapes it
	 * (Arabic joining) and lays its glyphs out right to left itself.
	 */
	private bidiParagraph(spans: Span[], x: number, width: number, size: number, color: string): void {
		const text = spans.map((span) => span.text).join('');
		const styles: FontStyle[] = spans.flatMap((span) => Array.from({ length: span.text.length }, () => styleOf(span)));
		const { levels, paragraphs } = bidi.getEmbeddingLevels(text);
		const rtl = (paragraphs[0]?.level ?? 0) % 2 === 1;
		// Greedy wrapping at spaces; a hard line break ends a line.
		const lines: Array<[number, number]> = [];
		let lineStart = 0;
		let lineWidth = 0;
		for (const match of text.matchAll(/\n|[^\s]+\s*|\s+/g)) {
			const start = match.index;
			if (match[0] === '\n') {
				lines.push([lineStart, start]);
				lineStart = start + 1;
				lineWidth = 0;
				continue;
			}
			const wordWidth = this.textWidth(match[0].trimEnd(), styles[start], size);
			if (lineWidth > 0 && lineWidth + wordWidth > width) {
				lines.push([lineStart, start]);
				lineStart = start;
				lineWidth = 0;
			}
			lineWidth += this.textWidth(match[0], styles[start], size);
		}
		lines.push([lineStart, text.length]);
		this.doc.fillColor(color);
		for (const [start, end] of lines) {
			const runs: LevelRun[] = [];
			for (let i = start; i < end; i++) {
				const last = runs.at(-1);
				if (last && last.level === levels[i] && last.style === styles[i]) last.text += text[i];
				else runs.push({ text: text[i], style: styles[i], level: levels[i] });
			}
			const trimmed = runs.filter((run) => run.text.trim() !== '' || runs.length === 1);
			const pieces = visualOrder(trimmed).flatMap((run) => {
				const fonts = fontRuns(run.text, run.style);
				if (run.level % 2 === 0) return fonts;
				// Right to left: the font runs in reverse; a run with no right-to-left letter (digits and
				// punctuation that fontkit lays out left to right) is reversed here, mirrored.
				return fonts.reverse().map((piece) => (STRONG_RTL.test(piece.text) ? piece : { ...piece, text: Array.from(piece.text, (char) => bidi.getMirroredCharacter(char) ?? char).reverse().join('') }));
			});
			// With features given, pdfkit lays a piece out whole rather than word by word, so fontkit
			// reverses a right-to-left piece as one run.
			const whole = { features: [] as PDFKit.Mixins.OpenTypeFeatures[] };
			const widths = pieces.map((piece) => {
				this.useFont(piece.font);
				return this.doc.fontSize(size).widthOfString(piece.text, whole);
			});
			const total = widths.reduce((sum, value) => sum + value, 0);
			let cursor = rtl ? x + Math.max(0, width - total) : x;
			this.useFont('NotoSans-Regular.ttf');
			const lineHeight = this.doc.fontSize(size).currentLineHeight(true) + LINE_GAP;
			this.keep(lineHeight);
			const y = this.doc.y;
			pieces.forEach((piece, index) => {
				this.useFont(piece.font);
				this.doc.fontSize(size).text(piece.text, cursor, y, { ...whole, lineBreak: false, baseline: -latinAscent() * size });
				cursor += widths[index];
			});
			this.doc.x = x;
			this.doc.y = y + lineHeight;
		}
		this.doc.fillColor(COLORS.text);
	}

	plain(text: string, style: FontStyle, x: number, width: number, size = TEXT_SIZE, color = COLORS.text): void {
		this.spans([{ text, bold: style === 'bold' || style === 'boldItalic', italic: style === 'italic' || style === 'boldItalic' }], x, width, size, color);
	}

	rule(x: number, width: number): void {
		const y = this.doc.y + 4;
		this.doc.moveTo(x, y).lineTo(x + width, y).lineWidth(0.6).strokeColor(COLORS.rule).stroke();
		this.doc.y = y + 6;
	}

	space(points: number): void {
		this.doc.y += points;
	}

	/** Starts a new page when fewer than `points` are left on this one. */
	keep(points: number): void {
		if (this.doc.y + points > this.bottom && this.doc.y > this.doc.page.margins.top) this.doc.addPage();
	}

	measure(text: string, width: number, size = TEXT_SIZE): number {
		this.useFont('NotoSans-Regular.ttf');
		return this.doc.fontSize(size).heightOfString(text || ' ', { width, lineGap: LINE_GAP });
	}

	image(bytes: Buffer, x: number, maxWidth: number, requestedWidth?: number): boolean {
		let image: OpenedImage;
		try {
			// openImage is public in pdfkit but missing from its type declarations.
			image = (this.doc as unknown as { openImage(src: Buffer): OpenedImage }).openImage(bytes);
		} catch {
			return false;
		}
		// CSS pixels are 0.75 pt.
		let width = Math.min((requestedWidth ?? image.width) * 0.75, maxWidth);
		let height = (image.height * width) / image.width;
		const pageRoom = this.bottom - this.doc.page.margins.top;
		if (height > pageRoom) {
			width = (width * pageRoom) / height;
			height = pageRoom;
		}
		this.keep(height);
		this.doc.image(image as unknown as Buffer, x, this.doc.y, { width, height });
		this.doc.y += height + 4;
		return true;
	}

	quoteBars(depth: number, fromY: number, pageAtStart: PDFKit.PDFPage): void {
		if (depth === 0) return;
		const top = this.doc.page === pageAtStart ? fromY : this.doc.page.margins.top;
		for (let level = 0; level < depth; level++) {
			const x = this.left + level * INDENT + 3;
			this.doc.moveTo(x, top).lineTo(x, this.doc.y).lineWidth(2).strokeColor(COLORS.quote).stroke();
		}
	}
}

/** The header block shows at most this many characters of a field; the PDF's metadata keeps the whole subject. */
export const HEADER_FIELD_LIMIT = 1000;
const TITLE_LIMIT = 300;

function capped(text: string, limit: number): string {
	const chars = [...text];
	if (chars.length <= limit) return text;
	return `${chars.slice(0, limit).join('')}… (${(chars.length - limit).toLocaleString('en-US')} more characters; the whole subject is in the PDF's document properties)`;
}

function formatDate(date: Date, timeZone: string, format = "ccc, d LLL yyyy HH:mm 'UTC'ZZ"): string {
	return DateTime.fromJSDate(date, { zone: timeZone }).toFormat(format);
}

function drawHeader(writer: Writer, message: EmailMessage, timeZone: string): void {
	const labelWidth = 56;
	const fields: Array<[string, string]> = [
		['From', formatAddresses(message.from)],
		['To', formatAddresses(message.to)],
		['Cc', formatAddresses(message.cc)],
		['Date', message.date ? formatDate(message.date, timeZone) : ''],
		['Subject', message.subject],
	];
	writer.plain(capped(message.subject, TITLE_LIMIT) || '(no subject)', 'bold', writer.left, writer.width, HEADING_SIZES[0]);
	writer.space(6);
	for (const [label, value] of fields) {
		if (value === '') continue;
		const y = writer.doc.y;
		writer.plain(`${label}:`, 'bold', writer.left, labelWidth, TEXT_SIZE, COLORS.muted);
		writer.doc.y = y;
		writer.plain(capped(value, label === 'Subject' ? TITLE_LIMIT : HEADER_FIELD_LIMIT), 'regular', writer.left + labelWidth, writer.width - labelWidth);
	}
	writer.rule(writer.left, writer.width);
	writer.space(6);
}

const EVENT_TITLES: Record<string, string> = { REQUEST: 'Invitation', CANCEL: 'Cancelled event', REPLY: 'Reply to an invitation', COUNTER: 'Proposed new time' };

function eventWhen(event: CalendarEvent, timeZone: string): string {
	if (!event.start) return '';
	if (event.allDay) {
		// An all-day event ends on the day after its last day.
		const last = event.end ? new Date(event.end.getTime() - 86_400_000) : event.start;
		const day = (date: Date) => formatDate(date, 'UTC', 'ccc, d LLL yyyy');
		return last > event.start ? `${day(event.start)} – ${day(last)} (all day)` : `${day(event.start)} (all day)`;
	}
	const start = formatDate(event.start, timeZone);
	if (!event.end) return start;
	const sameDay = formatDate(event.start, timeZone, 'yyyy-MM-dd') === formatDate(event.end, timeZone, 'yyyy-MM-dd');
	return `${start} – ${formatDate(event.end, timeZone, sameDay ? "HH:mm 'UTC'ZZ" : "ccc, d LLL yyyy HH:mm 'UTC'ZZ")}`;
}

/** An invite as a heading and a grid of its fields: when, where, organiser, attendees, description. */
function eventBlocks(event: CalendarEvent, timeZone: string): Block[] {
	const rows: Array<[string, string]> = [
		['When', eventWhen(event, timeZone)],
		['Where', event.location ?? ''],
		['Organiser', event.organizer ?? ''],
		['Attendees', event.attendees.join('\n')],
		['Description', event.description ?? ''],
	];
	const title = `${EVENT_TITLES[event.method ?? ''] ?? 'Event'}: ${event.summary || '(no title)'}`;
	return [
		{ kind: 'text', spans: [{ text: title, bold: true }], heading: 3, quote: 0, indent: 0 },
		{ kind: 'table', rows: rows.filter(([, value]) => value !== '').map(([label, value]) => [[{ text: label, bold: true }], [{ text: value }]]), headerRows: 0, quote: 0, indent: 0 },
	];
}

/** The body's blocks, section after section, a rule between two. */
function bodyBlocks(message: EmailMessage, timeZone: string): Block[] {
	const sections: BodySection[] = message.sections ?? [message.html !== undefined && message.html.trim() !== '' ? { kind: 'html', html: message.html } : { kind: 'text', text: message.text ?? '' }];
	const blocks: Block[] = [];
	for (const section of sections) {
		const own =
			section.kind === 'html'
				? htmlToBlocks(section.html)
				: section.kind === 'text'
					? textToBlocks(section.text)
					: section.kind === 'event'
						? eventBlocks(section.event, timeZone)
						: [{ kind: 'text' as const, spans: [{ text: section.text, italic: true }], quote: 0, indent: 0 }];
		if (own.length === 0) continue;
		if (blocks.length > 0) blocks.push({ kind: 'rule', quote: 0, indent: 0 });
		blocks.push(...own);
	}
	return blocks;
}

function drawBlock(writer: Writer, block: Block, byContentId: Map<string, EmailAttachment>): void {
	const doc = writer.doc;
	const x = writer.left + (block.quote + block.indent) * INDENT;
	const width = writer.width - (block.quote + block.indent) * INDENT;
	const startY = doc.y;
	const startPage = doc.page;
	if (block.kind === 'text') {
		const size = block.heading ? HEADING_SIZES[block.heading - 1] : TEXT_SIZE;
		if (block.heading) writer.space(size / 2);
		writer.keep(size * 2);
		if (block.marker) {
			const y = doc.y;
			writer.plain(block.marker, 'regular', x - INDENT, INDENT - 2, size);
			doc.y = y;
		}
		writer.spans(block.spans, x, width, size, block.quote > 0 ? COLORS.muted : COLORS.text);
		writer.space(block.marker ? 2 : 6);
	} else if (block.kind === 'rule') {
		writer.rule(x, width);
	} else if (block.kind === 'image') {
		const bytes = imageSource(block.src, byContentId);
		if (!bytes || !writer.image(bytes, x, width, block.width)) {
			if (block.alt) writer.spans([{ text: `[image: ${block.alt}]`, italic: true }], x, width, TEXT_SIZE, COLORS.muted);
		}
	} else {
		drawTable(writer, block.rows, block.headerRows, x, width);
	}
	writer.quoteBars(block.quote, startY, startPage);
}

function drawTable(writer: Writer, rows: Span[][][], headerRows: number, x: number, width: number): void {
	const doc = writer.doc;
	const columns = Math.max(...rows.map((row) => row.length));
	const columnWidth = width / columns;
	const padding = 4;
	for (const [rowIndex, row] of rows.entries()) {
		const text = (cell: Span[]) => cell.map((span) => span.text).join('');
		const estimate = Math.max(...row.map((cell) => writer.measure(text(cell), columnWidth - 2 * padding))) + 2 * padding;
		writer.keep(estimate);
		const top = doc.y;
		let rowBottom = top + estimate;
		row.forEach((cell, column) => {
			doc.y = top + padding;
			writer.spans(cell, x + column * columnWidth + padding, columnWidth - 2 * padding);
			rowBottom = Math.max(rowBottom, doc.y + padding);
		});
		for (let column = 0; column < columns; column++) {
			if (rowIndex < headerRows) doc.rect(x + column * columnWidth, top, columnWidth, rowBottom - top).fillOpacity(0.06).fill('#000000').fillOpacity(1);
			doc.rect(x + column * columnWidth, top, columnWidth, rowBottom - top).lineWidth(0.5).strokeColor(COLORS.rule).stroke();
		}
		doc.y = rowBottom;
	}
	doc.fillColor(COLORS.text);
	writer.space(8);
}

/**
 * The attachments the body draws: those a cid: link names, and those whose bytes a data: URI
 * holds (n8n's IMAP trigger and Gmail node turn cid: links into data: URIs and drop the
 * Content-ID from the attachment binaries they pass on).
 */
function drawnAttachments(blocks: Block[], message: EmailMessage, byContentId: Map<string, EmailAttachment>): Set<EmailAttachment> {
	const drawn = new Set<EmailAttachment>();
	for (const block of blocks) {
		if (block.kind !== 'image') continue;
		const bytes = imageSource(block.src, byContentId);
		const attachment = bytes && message.attachments.find((candidate) => candidate.content.length === bytes.length && candidate.content.equals(bytes));
		if (attachment) drawn.add(attachment);
	}
	return drawn;
}

/** Renders one email as a PDF: header block, body (HTML, else text), list of attachments. */
export async function renderEmailPdf(message: EmailMessage, options: RenderOptions): Promise<RenderedEmail> {
	const timeZone = options.timeZone ?? 'UTC';
	const blocks = bodyBlocks(message, timeZone);
	const byContentId = new Map(message.attachments.filter((a) => a.contentId).map((a) => [a.contentId!, a]));
	const drawn = drawnAttachments(blocks, message, byContentId);
	const attachments = message.attachments.filter((attachment) => !drawn.has(attachment));

	const doc = new PDFDocument({
		size: options.pageSize,
		margins: { top: 50, bottom: 50, left: 54, right: 54 },
		info: {
			Title: options.title ?? message.subject,
			Author: options.author ?? formatAddresses(message.from),
			Subject: message.subject,
			Creator: 'n8n Email to PDF',
			Producer: 'n8n-nodes-cloudsync',
			CreationDate: options.creationDate ?? message.date ?? new Date(),
		},
		displayTitle: true,
		lang: 'und',
	});
	const chunks: Buffer[] = [];
	doc.on('data', (chunk: Buffer) => chunks.push(chunk));
	const finished = new Promise<void>((resolve, reject) => {
		doc.on('end', resolve);
		doc.on('error', reject);
	});
	let pages = 1;
	doc.on('pageAdded', () => pages++);

	const writer = new Writer(doc);
	drawHeader(writer, message, timeZone);
	for (const block of blocks) drawBlock(writer, block, byContentId);

	if (attachments.length > 0) {
		writer.keep(60);
		writer.rule(writer.left, writer.width);
		writer.plain(`Attachments (${attachments.length})`, 'bold', writer.left, writer.width, HEADING_SIZES[3]);
		writer.space(4);
		for (const attachment of attachments) {
			const note = options.embedAttachments ? ', embedded in this PDF' : '';
			writer.spans([{ text: '• ' }, { text: attachment.fileName, bold: true }, { text: ` (${attachment.contentType}, ${formatSize(attachment.content.length)}${note})` }], writer.left + 8, writer.width - 8);
			if (options.embedAttachments) {
				doc.file(attachment.content, { name: attachment.fileName, type: attachment.contentType, description: `Attachment of "${message.subject}"` });
			}
		}
	}
	doc.end();
	await finished;
	return { pdf: Buffer.concat(chunks), pages, attachments };
}
