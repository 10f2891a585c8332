/**
 * Reads PDFs back with Debian's poppler-utils, as a person checking the output would: the text in
 * reading order (pdftotext), the metadata and page size (pdfinfo), the embedded files (pdfdetach),
 * the images (pdfimages) and the fonts (pdffonts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

function withFile<T>(pdf: Buffer, use: (file: string, dir: string) => T): T {
	const dir = mkdtempSync(path.join(os.tmpdir(), 'email-pdf-'));
	try {
		const file = path.join(dir, 'email.pdf');
		writeFileSync(file, pdf);
		return use(file, dir);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

const run = (tool: string, args: string[]) => execFileSync(tool, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

/** The text of the PDF in reading order, whitespace runs collapsed to one space. */
export function pdfText(pdf: Buffer): string {
	return withFile(pdf, (file) => run('pdftotext', ['-enc', 'UTF-8', file, '-'])).replace(/\s+/g, ' ');
}

/** The lines of the PDF as laid out on the page (pdftotext -layout), trimmed, empty ones dropped. */
export function pdfLines(pdf: Buffer): string[] {
	return withFile(pdf, (file) => run('pdftotext', ['-layout', '-enc', 'UTF-8', file, '-']))
		.split('\n')
		.map((line) => line.trim().replace(/\s+/g, ' '))
		.filter((line) => line !== '');
}

/** pdfinfo's fields (Title, Author, Pages, Page size, ...). */
export function pdfInfo(pdf: Buffer): Record<string, string> {
	const out = withFile(pdf, (file) => run('pdfinfo', ['-enc', 'UTF-8', '-isodates', file]));
	return Object.fromEntries(out.split('\n').filter((line) => line.includes(':')).map((line) => [line.slice(0, line.indexOf(':')).trim(), line.slice(line.indexOf(':') + 1).trim()]));
}

/** The embedded files, by name, as pdfdetach extracts them. */
export function pdfEmbeddedFiles(pdf: Buffer): Record<string, Buffer> {
	return withFile(pdf, (file, dir) => {
		const out = path.join(dir, 'out');
		execFileSync('mkdir', [out]);
		run('pdfdetach', ['-saveall', '-o', out, file]);
		return Object.fromEntries(readdirSync(out).map((name) => [name, readFileSync(path.join(out, name))]));
	});
}

/** One line per image: page, width, height, type. */
export function pdfImages(pdf: Buffer): Array<{ page: number; width: number; height: number }> {
	const lines = withFile(pdf, (file) => run('pdfimages', ['-list', file])).trim().split('\n').slice(2);
	return lines.map((line) => line.trim().split(/\s+/)).map((cols) => ({ page: Number(cols[0]), width: Number(cols[3]), height: Number(cols[4]) }));
}

/** Names of the embedded fonts (subset prefix removed). */
export function pdfFonts(pdf: Buffer): string[] {
	const lines = withFile(pdf, (file) => run('pdffonts', [file])).trim().split('\n').slice(2);
	return lines.map((line) => line.split(/\s+/)[0].replace(/^[A-Z]{6}\+/, ''));
}

/** Page 1 as a PNG file at `target` (pdftoppm). */
export function renderFirstPage(pdf: Buffer, target: string, dpi = 80): void {
	withFile(pdf, (file, dir) => {
		run('pdftoppm', ['-png', '-r', String(dpi), '-f', '1', '-l', '1', '-singlefile', file, path.join(dir, 'page')]);
		writeFileSync(target, readFileSync(path.join(dir, 'page.png')));
	});
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
