import { parseDocument } from 'htmlparser2';
import type { ChildNode, Element } from 'domhandler';

/** A piece of text with one style. A '\n' inside `text` is a line break. */
export interface Span {
	text: string;
	bold?: boolean;
	italic?: boolean;
	/** Only http(s) and mailto targets: a link is an annotation in the PDF, never fetched. */
	href?: string;
}

interface Placement {
	/** Nesting depth of quoted replies (blockquote, or "> " in a text body). */
	quote: number;
	/** Nesting depth of lists. */
	indent: number;
}

export type Block = Placement &
	(
		| { kind: 'text'; spans: Span[]; heading?: number; marker?: string }
		| { kind: 'rule' }
		| { kind: 'image'; src: string; alt: string; width?: number }
		| { kind: 'table'; rows: Span[][][]; headerRows: number }
	);

/**
 * Never rendered: code, styling that could hide text, and content that would need the network.
 * <head> itself is walked (its title, styles and scripts are dropped): after an unclosed <head>
 * the whole body is inside it, and a browser shows that text.
 */
const DROPPED = new Set(['script', 'style', 'title', 'base', 'meta', 'link', 'noscript', 'template', 'iframe', 'frame', 'object', 'embed', 'applet', 'svg', 'math', 'audio', 'video', 'canvas', 'input', 'select', 'textarea', 'button']);
const BLOCKS = new Set(['head', 'p', 'div', 'section', 'article', 'header', 'footer', 'main', 'nav', 'aside', 'center', 'address', 'figure', 'figcaption', 'dl', 'dt', 'dd', 'form', 'fieldset', 'legend', 'details', 'summary', 'body', 'html', 'caption']);
const HEADINGS: Record<string, number> = { h1: 1, h2: 2, h3: 3, h4: 4, h5: 5, h6: 6 };

interface Style {
	bold: boolean;
	italic: boolean;
	href?: string;
	preformatted: boolean;
}

const isElement = (node: ChildNode): node is Element => node.type === 'tag' || node.type === 'script' || node.type === 'style';

function safeHref(href: string | undefined): string | undefined {
	if (!href) return undefined;
	const trimmed = href.trim();
	return /^(https?:|mailto:)/i.test(trimmed) ? trimmed : undefined;
}

function hasDescendant(element: Element, name: string): boolean {
	return element.children.some((child) => isElement(child) && (child.name === name || hasDescendant(child, name)));
}

function rowsOf(table: Element): Element[] {
	const rows: Element[] = [];
	const visit = (element: Element) => {
		for (const child of element.children) {
			if (!isElement(child)) continue;
			if (child.name === 'tr') rows.push(child);
			else if (['thead', 'tbody', 'tfoot'].includes(child.name)) visit(child);
		}
	};
	visit(table);
	return rows;
}

/** A table of data (no nested tables, more than one column) is drawn as a grid; a layout table is read as blocks. */
function isDataTable(table: Element): boolean {
	if (hasDescendant(table, 'table')) return false;
	const rows = rowsOf(table);
	return rows.length > 0 && rows.some((row) => row.children.filter((cell) => isElement(cell) && (cell.name === 'td' || cell.name === 'th')).length > 1);
}

class BlockBuilder {
	readonly blocks: Block[] = [];
	private spans: Span[] = [];
	private heading?: number;
	private marker?: string;
	private place: Placement = { quote: 0, indent: 0 };

	/** Ends the current paragraph. */
	flush(): void {
		const spans = trimSpans(this.spans);
		if (spans.length > 0) {
			this.blocks.push({ kind: 'text', spans, heading: this.heading, marker: this.marker, ...this.place });
			this.marker = undefined;
		}
		this.spans = [];
	}

	text(raw: string, style: Style): void {
		let text = raw;
		if (!style.preformatted) {
			text = text.replace(/[\s\u00a0]+/g, (spaces) => (spaces.includes('\u00a0') ? '\u00a0' : ' '));
			const previous = this.spans.at(-1)?.text ?? '';
			if (text.startsWith(' ') && (previous === '' || /[ \n]$/.test(previous))) text = text.slice(1);
		}
		if (text === '') return;
		this.spans.push({ text, bold: style.bold || undefined, italic: style.italic || undefined, href: style.href });
	}

	lineBreak(): void {
		this.spans.push({ text: '\n' });
	}

	add(block: Block): void {
		this.flush();
		this.blocks.push(block);
	}

	within(change: Partial<Placement> & { heading?: number; marker?: string }, body: () => void): void {
		this.flush();
		const saved = { place: this.place, heading: this.heading };
		this.place = { quote: change.quote ?? this.place.quote, indent: change.indent ?? this.place.indent };
		if (change.heading !== undefined) this.heading = change.heading;
		if (change.marker !== undefined) this.marker = change.marker;
		body();
		this.flush();
		this.place = saved.place;
		this.heading = saved.heading;
	}

	get placement(): Placement {
		return this.place;
	}
}

/** Drops spaces at the ends of a paragraph and around line breaks, and empty spans. */
function trimSpans(spans: Span[]): Span[] {
	const result = spans.map((span) => ({ ...span }));
	for (let i = 0; i < result.length; i++) {
		if (result[i].text === '\n') {
			if (i > 0) result[i - 1].text = result[i - 1].text.replace(/ +$/, '');
			if (i + 1 < result.length) result[i + 1].text = result[i + 1].text.replace(/^ +/, '');
		}
	}
	while (result.length > 0 && /^[\s]*$/.test(result[0].text)) result.shift();
	while (result.length > 0 && /^[\s]*$/.test(result.at(-1)!.text)) result.pop();
	if (result.length === 0) return [];
	result[0].text = result[0].text.replace(/^ +/, '');
	result[result.length - 1].text = result[result.length - 1].text.replace(/ +$/, '');
	return result.filter((span) => span.text !== '');
}

function walk(nodes: ChildNode[], builder: BlockBuilder, style: Style): void {
	for (const node of nodes) {
		if (node.type === 'text') {
			builder.text(node.data, style);
			continue;
		}
		if (!isElement(node)) continue;
		const name = node.name.toLowerCase();
		if (DROPPED.has(name)) continue;
		const place = builder.placement;
		if (name === 'br') builder.lineBreak();
		else if (name === 'hr') builder.add({ kind: 'rule', ...place });
		else if (name === 'img') {
			const width = Number.parseInt(node.attribs.width ?? '', 10);
			const height = Number.parseInt(node.attribs.height ?? '', 10);
			// Tracking pixels carry nothing to read.
			if ((width > 0 && width <= 2) || (height > 0 && height <= 2)) continue;
			builder.add({ kind: 'image', src: (node.attribs.src ?? '').trim(), alt: (node.attribs.alt ?? '').trim(), width: width > 0 ? width : undefined, ...place });
		} else if (name in HEADINGS) builder.within({ heading: HEADINGS[name] }, () => walk(node.children, builder, { ...style, bold: true }));
		else if (name === 'blockquote') builder.within({ quote: place.quote + 1 }, () => walk(node.children, builder, style));
		else if (name === 'ul' || name === 'ol') walkList(node, builder, style, name === 'ol');
		else if (name === 'li') builder.within({ indent: place.indent + 1, marker: '•' }, () => walk(node.children, builder, style));
		else if (name === 'pre') builder.within({}, () => walk(node.children, builder, { ...style, preformatted: true }));
		else if (name === 'table') {
			if (isDataTable(node)) builder.add({ kind: 'table', ...tableOf(node, style), ...place });
			else walkLayoutTable(node, builder, style);
		} else if (name === 'tr' || name === 'td' || name === 'th' || name === 'thead' || name === 'tbody' || name === 'tfoot') walkLayoutTable(node, builder, style);
		else if (BLOCKS.has(name)) builder.within({}, () => walk(node.children, builder, style));
		else {
			const inner: Style = { ...style };
			if (name === 'b' || name === 'strong') inner.bold = true;
			if (name === 'i' || name === 'em' || name === 'cite') inner.italic = true;
			if (name === 'a') inner.href = safeHref(node.attribs.href) ?? style.href;
			walk(node.children, builder, inner);
		}
	}
}

function walkList(list: Element, builder: BlockBuilder, style: Style, ordered: boolean): void {
	let number = Number.parseInt(list.attribs.start ?? '1', 10) || 1;
	const place = builder.placement;
	builder.flush();
	for (const child of list.children) {
		if (isElement(child) && child.name === 'li') {
			const marker = ordered ? `${number++}.` : '•';
			builder.within({ indent: place.indent + 1, marker }, () => walk(child.children, builder, style));
		} else walk([child], builder, style);
	}
}

/** Layout tables (newsletters nest them for columns): each cell reads as its own paragraph. */
function walkLayoutTable(element: Element, builder: BlockBuilder, style: Style): void {
	builder.within({}, () => {
		for (const child of element.children) {
			if (isElement(child) && ['tr', 'td', 'th', 'thead', 'tbody', 'tfoot'].includes(child.name)) walkLayoutTable(child, builder, child.name === 'th' ? { ...style, bold: true } : style);
			else walk([child], builder, style);
		}
	});
}

function tableOf(table: Element, style: Style): { rows: Span[][][]; headerRows: number } {
	let headerRows = 0;
	const rows = rowsOf(table).map((row, index) => {
		const cells = row.children.filter((cell): cell is Element => isElement(cell) && (cell.name === 'td' || cell.name === 'th'));
		if (index === headerRows && cells.length > 0 && cells.every((cell) => cell.name === 'th')) headerRows++;
		return cells.map((cell) => {
			const inner = new BlockBuilder();
			walk(cell.children, inner, cell.name === 'th' ? { ...style, bold: true } : style);
			inner.flush();
			const spans: Span[] = [];
			for (const block of inner.blocks) {
				if (block.kind !== 'text') continue;
				if (spans.length > 0) spans.push({ text: '\n' });
				spans.push(...block.spans);
			}
			return spans;
		});
	});
	return { rows, headerRows };
}

/** Reads an HTML body into blocks; CSS is not applied, so nothing it would hide stays hidden. */
export function htmlToBlocks(html: string): Block[] {
	const document = parseDocument(html, { decodeEntities: true, lowerCaseTags: true });
	const builder = new BlockBuilder();
	walk(document.children, builder, { bold: false, italic: false, preformatted: false });
	builder.flush();
	return builder.blocks;
}

const URL_PATTERN = /\b(?:https?:\/\/|mailto:)[^\s<>"]+[^\s<>".,;:!?)\]]/g;

function linkify(text: string): Span[] {
	const spans: Span[] = [];
	let last = 0;
	for (const match of text.matchAll(URL_PATTERN)) {
		if (match.index > last) spans.push({ text: text.slice(last, match.index) });
		spans.push({ text: match[0], href: match[0] });
		last = match.index + match[0].length;
	}
	if (last < text.length) spans.push({ text: text.slice(last) });
	return spans;
}

/** Reads a plain-text body: paragraphs at blank lines, lines kept, "> " lines as quoted replies. */
export function textToBlocks(text: string): Block[] {
	const blocks: Block[] = [];
	let lines: string[] = [];
	let quote = 0;
	const flush = () => {
		if (lines.length > 0) blocks.push({ kind: 'text', spans: linkify(lines.join('\n')), quote, indent: 0 });
		lines = [];
	};
	for (const rawLine of text.replace(/\r\n?/g, '\n').split('\n')) {
		const depth = /^(?:> ?)+/.exec(rawLine)?.[0].replace(/ /g, '').length ?? 0;
		const line = rawLine.replace(/^(?:> ?)+/, '').replace(/\s+$/, '');
		if (depth !== quote) {
			flush();
			quote = depth;
		}
		if (line === '') flush();
		else lines.push(line);
	}
	flush();
	return blocks;
}
