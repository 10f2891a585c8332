import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as fontkit from 'fontkit';

/*
 * pdfkit draws each run of text in one font and does no fallback, so text is cut into runs by
 * the first font of a chain that has a glyph for each character: Noto Sans (Latin, Greek,
 * Cyrillic) in the run's style, then Noto Sans S Chinese (Chinese, Japanese kana), then Noto Sans
 * Korean (Hangul). The files ship with the package (lib/email/fonts/, see its README for their
 * licences), so the output does not depend on the fonts of the machine n8n runs on.
 */

const FONT_DIR = path.join(__dirname, 'fonts');

export type FontStyle = 'regular' | 'bold' | 'italic' | 'boldItalic';

const STYLE_FILES: Record<FontStyle, string> = {
	regular: 'NotoSans-Regular.ttf',
	bold: 'NotoSans-Bold.ttf',
	italic: 'NotoSans-Italic.ttf',
	boldItalic: 'NotoSans-BoldItalic.ttf',
};
const FALLBACK_FILES = ['NotoSansHans-Regular.otf', 'NotoSansKR-Regular.otf'];

/** The font files, read once per process: they never change, and the CJK one is 8 MB. */
const loaded = new Map<string, { bytes: Buffer; font: fontkit.Font }>();

function load(file: string): { bytes: Buffer; font: fontkit.Font } {
	let entry = loaded.get(file);
	if (!entry) {
		const bytes = readFileSync(path.join(FONT_DIR, file));
		entry = { bytes, font: fontkit.create(bytes) as fontkit.Font };
		loaded.set(file, entry);
	}
	return entry;
}

export interface FontRun {
	/** File name of the font, also the name it is registered under in the document. */
	font: string;
	text: string;
}

export function fontBytes(file: string): Buffer {
	return load(file).bytes;
}

/** Height above the baseline of Noto Sans, per point of font size: every run of a line sits on this baseline. */
export function latinAscent(): number {
	const { font } = load(STYLE_FILES.regular);
	return font.ascent / font.unitsPerEm;
}

const NEUTRAL = /[\s\u00a0\u200b-\u200d\ufeff]/;
const LETTER = /[\p{L}\p{N}]/u;

/** Cuts `text` into runs, each in the first font of the chain that can draw it. */
export function fontRuns(text: string, style: FontStyle): FontRun[] {
	const chain = [STYLE_FILES[style], ...FALLBACK_FILES];
	const runs: FontRun[] = [];
	let current: string | undefined;
	let buffer = '';
	for (const char of text) {
		const codePoint = char.codePointAt(0)!;
		let font: string;
		// Spaces and punctuation stay in the run they are in, so "日本語。" is one run in one font.
		if (NEUTRAL.test(char)) font = current ?? chain[0];
		else if (current !== undefined && !LETTER.test(char) && load(current).font.hasGlyphForCodePoint(codePoint)) font = current;
		else font = chain.find((file) => load(file).font.hasGlyphForCodePoint(codePoint)) ?? chain[0];
		if (font !== current && buffer !== '') {
			runs.push({ font: current!, text: buffer });
			buffer = '';
		}
		current = font;
		buffer += char;
	}
	if (buffer !== '') runs.push({ font: current ?? chain[0], text: buffer });
	return runs;
}
