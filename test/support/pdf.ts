/**
 * Reads PDFs back as a person checking the output would, with Mozilla's PDF.js (`pdfjs-dist`, a
 * devDependency, pure JavaScript: no poppler needed): the text in reading order, the metadata and
 * page size, the embedded files, the images, the fonts, and the glyph each character is drawn
 * with (a character drawn with .notdef or with an empty outline is a box or nothing on paper).
 *
 * PDF.js is an ES module with top-level await, which jest's CommonJS runtime cannot load, so it
 * runs in a child Node process (the Node running jest) and hands back one JSON report per PDF;
 * the helpers stay synchronous, and each PDF is read once.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as path from 'node:path';

/** Runs as an ES module in a child process: the PDF on stdin, a JSON report on stdout. */
const READER = String.raw`
import { createRequire } from 'node:module';
const require = createRequire(process.env.PDF_READER_BASE);
const { getDocument, OPS, PDFDateString } = await import(require.resolve('pdfjs-dist/legacy/build/pdf.mjs'));
const fontkit = require('fontkit');
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const doc = await getDocument({ data: new Uint8Array(Buffer.concat(chunks)), fontExtraProperties: true, disableFontFace: true, isEvalSupported: false, verbosity: 0 }).promise;
const report = { info: {}, pages: [], files: {}, images: [], glyphs: [] };
const { info } = await doc.getMetadata();
for (const [key, value] of Object.entries(info)) {
	if (typeof value !== 'string') continue;
	const date = /Date$/.test(key) ? PDFDateString.toDateObject(value) : null;
	report.info[key] = date ? date.toISOString() : value;
}
report.info.Pages = String(doc.numPages);
for (const file of Object.values((await doc.getAttachments()) ?? {})) report.files[file.filename] = Buffer.from(file.content).toString('base64');
const parsed = new Map();
const outline = (font) => {
	if (!parsed.has(font)) parsed.set(font, font.data ? fontkit.create(Buffer.from(font.data)) : null);
	return parsed.get(font);
};
const render = process.env.PDF_READER_RENDER;
for (let number = 1; number <= doc.numPages; number++) {
	const page = await doc.getPage(number);
	const [, , width, height] = page.view;
	const content = await page.getTextContent();
	report.pages.push({ width, height, items: content.items.filter((item) => 'str' in item).map((item) => ({ text: item.str, x: item.transform[4], y: item.transform[5], width: item.width, size: Math.hypot(item.transform[2], item.transform[3]), dir: item.dir })) });
	const ops = await page.getOperatorList();
	let font;
	for (let i = 0; i < ops.fnArray.length; i++) {
		const [fn, args] = [ops.fnArray[i], ops.argsArray[i]];
		if (fn === OPS.setFont) font = page.commonObjs.get(args[0]);
		else if (fn === OPS.showText && font) {
			for (const glyph of args[0]) {
				if (!glyph || typeof glyph !== 'object' || /^\s*$/.test(glyph.unicode)) continue;
				const code = font.toFontChar?.[glyph.originalCharCode];
				const drawn = code === undefined ? undefined : outline(font)?.glyphForCodePoint(code);
				report.glyphs.push({ text: glyph.unicode, font: font.name.replace(/^[A-Z]{6}\+/, ''), page: number, notdef: !drawn || drawn.id === 0, empty: !drawn || drawn.path.commands.length === 0 });
			}
		} else if (fn === OPS.paintImageXObject) {
			const image = await new Promise((resolve) => page.objs.get(args[0], resolve));
			report.images.push({ page: number, width: image.width, height: image.height });
		}
	}
	if (render && number === 1) {
		const viewport = page.getViewport({ scale: Number(process.env.PDF_READER_SCALE) });
		const { canvas, context } = doc.canvasFactory.create(viewport.width, viewport.height);
		await page.render({ canvas, canvasContext: context, viewport }).promise;
		require('node:fs').writeFileSync(render, canvas.toBuffer('image/png'));
	}
}
process.stdout.write(JSON.stringify(report));
`;

interface TextItem {
	text: string;
	x: number;
	y: number;
	width: number;
	size: number;
	dir: 'ltr' | 'rtl' | 'ttb';
}

/** One character as drawn: `notdef` when the font has no glyph for it, `empty` when the glyph has no outline. */
export interface DrawnGlyph {
	text: string;
	font: string;
	page: number;
	notdef: boolean;
	empty: boolean;
}

interface Report {
	info: Record<string, string>;
	pages: Array<{ width: number; height: number; items: TextItem[] }>;
	files: Record<string, string>;
	images: Array<{ page: number; width: number; height: number }>;
	glyphs: DrawnGlyph[];
}

const reports = new Map<string, Report>();

function runReader(pdf: Buffer, env: Record<string, string> = {}): Report {
	const output = execFileSync(process.execPath, ['--input-type=module', '--eval', READER], {
		input: pdf,
		encoding: 'utf8',
		maxBuffer: 512 * 1024 * 1024,
		env: { ...process.env, PDF_READER_BASE: path.join(__dirname, '..', '..', 'package.json'), ...env },
	});
	return JSON.parse(output) as Report;
}

function read(pdf: Buffer): Report {
	const key = createHash('sha256').update(pdf).digest('hex');
	let report = reports.get(key);
	if (!report) {
		report = runReader(pdf);
		reports.set(key, report);
	}
	return report;
}

const STRONG_RTL = /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]/u;
const STRONG_LTR = /[\p{L}\p{N}]/u;

/** Items of one line, left to right on the page, put in reading order (visual to logical, per run of direction). */
function logicalOrder(items: TextItem[]): TextItem[] {
	const isRtl = (item: TextItem) => STRONG_RTL.test(item.text);
	const isLtr = (item: TextItem) => !isRtl(item) && STRONG_LTR.test(item.text);
	const rtlBase = items.filter(isRtl).length > items.filter(isLtr).length;
	// Runs of the other direction keep their inner order; the line reads from its base side.
	const ordered: TextItem[][] = [];
	for (const item of items) {
		const other = rtlBase ? !isRtl(item) : isRtl(item);
		const last = ordered.at(-1);
		if (last && other && (rtlBase ? !isRtl(last[0]) : isRtl(last[0]))) last.push(item);
		else ordered.push([item]);
	}
	const runs = ordered.map((run) => (rtlBase ? run : run.reverse()));
	if (rtlBase) runs.reverse();
	return runs.flat();
}

/** The blank between two items on a line, whichever is on the left. */
function gap(a: TextItem, b: TextItem): number {
	return a.x <= b.x ? b.x - (a.x + a.width) : a.x - (b.x + b.width);
}

/** The lines of each page, top to bottom, each in reading order; a space item or a gap wider than a fifth of the font size is a space. */
function lines(report: Report): string[] {
	const result: string[] = [];
	for (const page of report.pages) {
		const rows: TextItem[][] = [];
		for (const item of page.items.filter((candidate) => candidate.text !== '')) {
			const row = rows.find((candidate) => Math.abs(candidate[0].y - item.y) < Math.max(2, item.size * 0.3));
			if (row) row.push(item);
			else rows.push([item]);
		}
		rows.sort((a, b) => b[0].y - a[0].y);
		for (const row of rows) {
			row.sort((a, b) => a.x - b.x);
			// Visual order back to reading order when a right-to-left script is on the line.
			const ordered = row.some((item) => STRONG_RTL.test(item.text)) ? logicalOrder(row.filter((item) => item.text.trim() !== '')) : row;
			let line = '';
			let previous: TextItem | undefined;
			for (const item of ordered) {
				if (previous && gap(previous, item) > previous.size / 5) line += ' ';
				line += item.text;
				previous = item;
			}
			result.push(line.trim().replace(/\s+/g, ' '));
		}
	}
	return result.filter((line) => line !== '');
}

/** The text of the PDF in reading order, whitespace runs collapsed to one space. */
export function pdfText(pdf: Buffer): string {
	return lines(read(pdf)).join(' ');
}

/** The lines of the PDF as laid out on the page, trimmed, empty ones dropped. */
export function pdfLines(pdf: Buffer): string[] {
	return lines(read(pdf));
}

/** The document information (Title, Author, Subject, Creator, Producer, CreationDate as ISO), Pages and Page size ("595.28 x 841.89 pts"). */
export function pdfInfo(pdf: Buffer): Record<string, string> {
	const report = read(pdf);
	const round = (points: number) => String(Math.round(points * 100) / 100);
	return { ...report.info, 'Page size': `${round(report.pages[0].width)} x ${round(report.pages[0].height)} pts` };
}

/** The embedded files, by name. */
export function pdfEmbeddedFiles(pdf: Buffer): Record<string, Buffer> {
	return Object.fromEntries(Object.entries(read(pdf).files).map(([name, base64]) => [name, Buffer.from(base64, 'base64')]));
}

/** One entry per image drawn: page, width, height in pixels. */
export function pdfImages(pdf: Buffer): Array<{ page: number; width: number; height: number }> {
	return read(pdf).images;
}

/** Names of the fonts text is drawn with (subset prefix removed). */
export function pdfFonts(pdf: Buffer): string[] {
	return [...new Set(read(pdf).glyphs.map((glyph) => glyph.font))];
}

/** Every visible character drawn, with its font and whether the glyph is .notdef or empty. */
export function pdfGlyphs(pdf: Buffer): DrawnGlyph[] {
	return read(pdf).glyphs;
}

/** Page 1 as a PNG file at `target`, drawn by PDF.js on @napi-rs/canvas (PDF.js's own optional dependency). */
export function renderFirstPage(pdf: Buffer, target: string, dpi = 80): void {
	runReader(pdf, { PDF_READER_RENDER: target, PDF_READER_SCALE: String(dpi / 72) });
}

/** Fails unless each of `parts` occurs in `text` after the one before it. */
export function expectInOrder(text: string, parts: string[]): void {
	let from = 0;
	for (const part of parts) {
		const at = text.indexOf(part, from);
		if (at < 0) {
			const anywhere = text.indexOf(part);
			throw new Error(anywhere < 0 ? `"${part}" is not in the PDF text:\n${text.slice(0, 2000)}` : `"${part}" comes before the text that should precede it:\n${text.slice(0, 2000)}`);
		}
		from = at + part.length;
	}
}
