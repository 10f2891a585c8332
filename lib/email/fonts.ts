import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as fontkit from 'fontkit';

/*
 * pdfkit draws each run of text in one font and does no fallback, so text is cut into runs by
 * the first font of a chain that has a glyph for each character: Noto Sans (Latin, Greek,
 * Cyrillic, Devanagari) in the run's style, then the font of the character's script: Noto Sans S Chinese
 * (Chinese, Japanese kana), Noto Sans Korean (Hangul), Hebrew, Arabic, Thai, Bengali, Gurmukhi,
 * Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam, Sinhala, then Noto Emoji (emoji and common
 * symbols), Noto Sans Symbols and Symbols 2 (the symbols Emoji lacks) and Noto Sans Math
 * (mathematical operators, arrows). A script font is read from disk only when a character of its range
 * comes up, so a Latin-only email loads Noto Sans alone. A character that no font has is drawn
 * as U+FFFD (a visible placeholder), never as an empty box or nothing. The files ship with the
 * package (lib/email/fonts/, see its README for their licences), so the output does not depend
 * on the fonts of the machine n8n runs on.
 */

const FONT_DIR = path.join(__dirname, 'fonts');

export type FontStyle = 'regular' | 'bold' | 'italic' | 'boldItalic';

const STYLE_FILES: Record<FontStyle, string> = {
	regular: 'NotoSans-Regular.ttf',
	bold: 'NotoSans-Bold.ttf',
	italic: 'NotoSans-Italic.ttf',
	boldItalic: 'NotoSans-BoldItalic.ttf',
};

/** Script fonts, each tried only for the code points of its ranges. */
const FALLBACKS: Array<{ file: string; ranges: Array<[number, number]> }> = [
	{ file: 'NotoSansHans-Regular.otf', ranges: [[0x2e80, 0x2fdf], [0x3000, 0x30ff], [0x3190, 0x31ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xf900, 0xfaff], [0xfe30, 0xfe4f], [0xff00, 0xffef], [0x20000, 0x2fa1f]] },
	{ file: 'NotoSansKR-Regular.otf', ranges: [[0x1100, 0x11ff], [0x3000, 0x303f], [0x3130, 0x318f], [0xa960, 0xa97f], [0xac00, 0xd7ff], [0xff00, 0xffef]] },
	{ file: 'NotoSansHebrew-Regular.ttf', ranges: [[0x0590, 0x05ff], [0xfb1d, 0xfb4f]] },
	{ file: 'NotoNaskhArabic-Regular.ttf', ranges: [[0x0600, 0x06ff], [0x0750, 0x077f], [0x08a0, 0x08ff], [0xfb50, 0xfdff], [0xfe70, 0xfeff]] },
	{ file: 'NotoSansThai-Regular.ttf', ranges: [[0x0e00, 0x0e7f]] },
	// Indic scripts other than Devanagari (which Noto Sans has); each font has its script's danda too.
	{ file: 'NotoSansBengali-Regular.ttf', ranges: [[0x0980, 0x09ff]] },
	{ file: 'NotoSansGurmukhi-Regular.ttf', ranges: [[0x0a00, 0x0a7f]] },
	{ file: 'NotoSansGujarati-Regular.ttf', ranges: [[0x0a80, 0x0aff]] },
	{ file: 'NotoSansOriya-Regular.ttf', ranges: [[0x0b00, 0x0b7f]] },
	{ file: 'NotoSansTamil-Regular.ttf', ranges: [[0x0b80, 0x0bff]] },
	{ file: 'NotoSansTelugu-Regular.ttf', ranges: [[0x0c00, 0x0c7f]] },
	{ file: 'NotoSansKannada-Regular.ttf', ranges: [[0x0c80, 0x0cff]] },
	{ file: 'NotoSansMalayalam-Regular.ttf', ranges: [[0x0d00, 0x0d7f]] },
	{ file: 'NotoSansSinhala-Regular.ttf', ranges: [[0x0d80, 0x0dff], [0x111e0, 0x111ff]] },
	{ file: 'NotoEmoji-Regular.ttf', ranges: [[0x00a9, 0x00ae], [0x2000, 0x2bff], [0x3030, 0x303d], [0x1f000, 0x1faff], [0xfe0f, 0xfe0f], [0x200d, 0x200d]] },
	// Symbols that Noto Emoji lacks (★ ✓ ✗ ← ⌘ ☐ ♪ and the like), then mathematical operators and
	// arrows (≤ ∑ ∞ ⇒), each font only for the blocks it has glyphs in.
	{ file: 'NotoSansSymbols-Regular.ttf', ranges: [[0x20dd, 0x20e4], [0x2160, 0x2199], [0x2300, 0x23ff], [0x2460, 0x24ff], [0x2600, 0x27bf], [0x1f100, 0x1f1ff], [0x1f540, 0x1f54f], [0x1f700, 0x1f77f]] },
	{ file: 'NotoSansSymbols2-Regular.ttf', ranges: [[0x2300, 0x245f], [0x25a0, 0x27bf], [0x2800, 0x28ff], [0x2b00, 0x2bff], [0x4dc0, 0x4dff], [0x10140, 0x101ff], [0x102e0, 0x102ff], [0x10e60, 0x10e7f], [0x1d2c0, 0x1d37f], [0x1f000, 0x1f0ff], [0x1f100, 0x1f1ff], [0x1f300, 0x1f6ff], [0x1f780, 0x1fbff]] },
	{ file: 'NotoSansMath-Regular.ttf', ranges: [[0x2100, 0x214f], [0x2190, 0x23ff], [0x25a0, 0x25ff], [0x27c0, 0x27ff], [0x2900, 0x2bff], [0x1d400, 0x1d7ff], [0x1ee00, 0x1eeff]] },
];
const PLACEHOLDER = '\ufffd';

/** The font files, read once per process: they never change, and the CJK one is 8 MB. */
const loaded = new Map<string, { bytes: Buffer; font: fontkit.Font }>();

/** What fontkit's GPOS processor has that this file touches (fontkit exports neither it nor its class). */
interface GposProcessor {
	applyLookup(lookupType: number, table: unknown): boolean;
	applyAnchor(markRecord: { markAnchor: unknown }, baseAnchor: unknown, baseGlyphIndex: number): void;
	nullAnchor?: boolean;
}

const patched = new WeakSet<object>();

/**
 * fontkit 2.0.4 throws "Cannot read properties of null (reading 'xCoordinate')" on a mark
 * anchor whose offset is NULL, which OpenType allows and Noto Sans Gurmukhi, Telugu and Malayalam
 * have: ਪ੍ਰ, ప్ర or സ്ത്രീ would fail the whole PDF (foliojs/fontkit#367, unreleased fix #374).
 * As in HarfBuzz, a mark-to-base, -ligature or -mark subtable with a NULL anchor does not apply,
 * and the next subtable is tried. The methods are replaced on the processor's prototype, once per
 * copy of fontkit: ours and pdfkit's (the same copy unless npm installed two).
 */
function patchNullAnchors(engine: typeof fontkit, bytes: Buffer): void {
	const font = engine.create(bytes) as unknown as { _layoutEngine?: { engine?: { GPOSProcessor?: GposProcessor } } };
	const processor = font._layoutEngine?.engine?.GPOSProcessor;
	if (!processor) return;
	const prototype = Object.getPrototypeOf(processor) as GposProcessor;
	if (patched.has(prototype)) return;
	patched.add(prototype);
	const { applyLookup, applyAnchor } = prototype;
	prototype.applyAnchor = function (this: GposProcessor, markRecord, baseAnchor, baseGlyphIndex) {
		if (baseAnchor && markRecord.markAnchor) applyAnchor.call(this, markRecord, baseAnchor, baseGlyphIndex);
		else this.nullAnchor = true;
	};
	prototype.applyLookup = function (this: GposProcessor, lookupType, table) {
		this.nullAnchor = false;
		const applied = applyLookup.call(this, lookupType, table);
		if (!this.nullAnchor) return applied;
		this.nullAnchor = false;
		return false;
	};
}

let fontkitPatched = false;

function patchFontkit(): void {
	fontkitPatched = true;
	const bytes = readFileSync(path.join(FONT_DIR, STYLE_FILES.regular));
	patchNullAnchors(fontkit, bytes);
	// pdfkit lays text out with the fontkit it resolves itself: the same module unless npm installed two.
	patchNullAnchors(createRequire(require.resolve('pdfkit'))('fontkit') as typeof fontkit, bytes);
}

function load(file: string): { bytes: Buffer; font: fontkit.Font } {
	let entry = loaded.get(file);
	if (!entry) {
		const bytes = readFileSync(path.join(FONT_DIR, file));
		if (!fontkitPatched) patchFontkit();
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
/** The first font that has the character: the style's Noto Sans, then the script fonts whose ranges hold it. */
function fontFor(codePoint: number, style: FontStyle): string | undefined {
	const main = STYLE_FILES[style];
	if (load(main).font.hasGlyphForCodePoint(codePoint)) return main;
	const inRange = FALLBACKS.filter(({ ranges }) => ranges.some(([low, high]) => codePoint >= low && codePoint <= high));
	return inRange.find(({ file }) => load(file).font.hasGlyphForCodePoint(codePoint))?.file;
}

/** Variation selectors and joiners draw nothing of their own: they stay with the character before them. */
const INVISIBLE = /[\ufe00-\ufe0f\u200c\u200d]/;

export function fontRuns(text: string, style: FontStyle): FontRun[] {
	const main = STYLE_FILES[style];
	const runs: FontRun[] = [];
	let current: string | undefined;
	let buffer = '';
	for (let char of text) {
		const codePoint = char.codePointAt(0)!;
		let font: string;
		// Spaces and punctuation stay in the run they are in, so "日本語。" is one run in one font.
		if (INVISIBLE.test(char) && current !== undefined) {
			font = current;
			if (!load(current).font.hasGlyphForCodePoint(codePoint)) char = '';
		} else if (NEUTRAL.test(char)) font = current ?? main;
		else if (current !== undefined && !LETTER.test(char) && load(current).font.hasGlyphForCodePoint(codePoint)) font = current;
		else {
			const found = fontFor(codePoint, style);
			font = found ?? main;
			if (!found) char = INVISIBLE.test(char) ? '' : PLACEHOLDER;
		}
		if (font !== current && buffer !== '') {
			runs.push({ font: current!, text: buffer });
			buffer = '';
		}
		current = font;
		buffer += char;
	}
	if (buffer !== '') runs.push({ font: current ?? main, text: buffer });
	return runs;
}
