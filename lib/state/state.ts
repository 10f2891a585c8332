import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, rename, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, gunzipSync, gzipSync } from 'node:zlib';
import type { Provider, Stepper } from '../core/types';
import { steppedValues } from '../core/stepper';
import { CloudSyncError, NotFoundError } from '../core/errors';
import { STATE_FOLDER } from '../core/filters';
import { joinPath } from '../core/paths';
import { compareWalkOrder } from '../core/walkOrder';
import type { SpillDir } from '../core/spill';
import { spool, type Spooled } from '../core/spool';

/** One path as both sides held it after the last successful two-way run. */
export interface BaselineEntry {
	/** The source's spelling. */
	path: string;
	/** The destination's spelling, when it differs (case, Unicode form). */
	destinationPath?: string;
	isDir: boolean;
	size: number;
	sourceModTime: number;
	destinationModTime: number;
}

export interface Baseline {
	/** Which folder pair this baseline describes; a baseline of another pair is never used. */
	pair: string;
	savedAt: number;
	/** The owner of the lock the run that saved it held (lib/state/lock.ts): tells other workers that run had finished its state. */
	savedBy?: string;
	entries: BaselineEntry[];
}

/** Where a sync keeps its state between runs: n8n's static data, a file on the destination, memory in tests. */
export interface StateStore {
	/** Where the state lives, for messages. */
	readonly where: string;
	load(): Promise<string | undefined>;
	save(state: string): Promise<void>;
	/** The state spooled as it is read, where the store can stream it (a file, a cloud): a large one is never held whole. */
	loadBytes?(): Promise<StateBytes | undefined>;
	/** Saves a spooled state, streamed from where it is held. */
	saveBytes?(state: StateBytes): Promise<void>;
}

/** A state's text as bytes kept by `spool`: in memory when small, in a temporary file when large (`dispose` removes it). */
export type StateBytes = Spooled;

/** A state held in memory up to this size; beyond it, in a temporary file. */
const STATE_MEMORY_BYTES = 256 * 1024;

/** The text a state held as a string came from: read back as it is, never copied whole into bytes beside it. */
const heldTexts = new WeakMap<StateBytes, string>();

export function stateBytesOf(text: string): StateBytes {
	const state: StateBytes = { size: Buffer.byteLength(text, 'utf8'), read: () => Readable.from(utf8Pieces(text)), dispose: async () => undefined };
	heldTexts.set(state, text);
	return state;
}

const TEXT_PIECE = 16 * 1024;

/** A string's UTF-8 a piece at a time, no piece ending inside a surrogate pair. */
function* utf8Pieces(text: string): Generator<Buffer> {
	for (let at = 0; at < text.length; ) {
		let end = Math.min(at + TEXT_PIECE, text.length);
		const last = text.charCodeAt(end - 1);
		if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
		yield Buffer.from(text.slice(at, end), 'utf8');
		at = end;
	}
}

/** A store's state as bytes: streamed where the store can, else its text. */
export async function loadStateBytes(store: StateStore): Promise<StateBytes | undefined> {
	if (store.loadBytes) return store.loadBytes();
	const text = await store.load();
	return text === undefined ? undefined : stateBytesOf(text);
}

export async function saveStateBytes(store: StateStore, state: StateBytes): Promise<void> {
	if (store.saveBytes) return store.saveBytes(state);
	await store.save(await stateText(state));
}

/** The whole text, for stores that keep strings (n8n's static data holds small states only). */
export async function stateText(state: StateBytes): Promise<string> {
	const held = heldTexts.get(state);
	if (held !== undefined) return held;
	if (state.bytes) return state.bytes.toString('utf8');
	const chunks: Buffer[] = [];
	for await (const chunk of state.read()) chunks.push(chunk as Buffer);
	return Buffer.concat(chunks).toString('utf8');
}

/** The SHA-256 of a state's text: of the string itself when it is held as one, else as its bytes stream. */
export async function stateDigest(state: StateBytes): Promise<string> {
	const hash = createHash('sha256');
	const held = heldTexts.get(state);
	if (held !== undefined) hash.update(held, 'utf8');
	else for await (const chunk of state.read()) hash.update(chunk as Buffer);
	return hash.digest('hex');
}

/** Base64 of bytes that arrive in pieces, as text a piece at a time: groups of 3 bytes across pieces, so the texts join into the whole's base64. */
async function* base64Texts(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<string> {
	const carry = Buffer.alloc(3);
	let carried = 0;
	for await (const bytes of source) {
		let at = 0;
		let head = '';
		while (carried > 0 && carried < 3 && at < bytes.length) carry[carried++] = bytes[at++];
		if (carried === 3) {
			head = carry.toString('base64');
			carried = 0;
		}
		const whole = at + Math.floor((bytes.length - at) / 3) * 3;
		if (whole > at || head) yield head + bytes.toString('base64', at, whole);
		for (let i = whole; i < bytes.length; i++) carry[carried++] = bytes[i];
	}
	if (carried > 0) yield carry.toString('base64', 0, carried);
}

/** `base64Texts` as bytes (a piece of `source` may be reused once the next is asked for: each is encoded before then). */
async function* base64Of(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
	for await (const text of base64Texts(source)) yield Buffer.from(text, 'latin1');
}

/**
 * The bytes of a streamed base64 text, 4 characters at a time across pieces; line breaks and spaces
 * are skipped, as `Buffer.from` skips them. Each piece is read as text a slice at a time: a piece's
 * whole text (64 KiB from a file) would stay alive while the thousands of lines it holds are walked,
 * through young-generation collections that copy and then promote it, and what survives them is what
 * makes V8 grow its young generation (by a state's whole size at a million files).
 */
async function* bytesOfBase64(source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>): AsyncGenerator<Buffer> {
	let carry = '';
	for await (const chunk of source) {
		for (let at = 0; at < chunk.length; at += BASE64_SLICE) {
			const end = Math.min(at + BASE64_SLICE, chunk.length);
			const decoded = decodeBase64(carry + (typeof chunk === 'string' ? chunk.slice(at, end) : chunk.toString('latin1', at, end)));
			carry = decoded.carry;
			if (decoded.bytes) yield decoded.bytes;
		}
	}
	if (carry) yield Buffer.from(carry, 'base64');
}

/** Characters of base64 text read as text at once. */
const BASE64_SLICE = 4 * 1024;

/** The whole groups of 4 characters of `text` decoded, and the characters after them (fewer than 4, copied: they keep no slice's text alive). */
function decodeBase64(text: string): { bytes?: Buffer; carry: string } {
	const clean = text.replace(/\s+/g, '');
	const whole = clean.length - (clean.length % 4);
	return { bytes: whole > 0 ? Buffer.from(clean.slice(0, whole), 'base64') : undefined, carry: clean.slice(whole) };
}

export class StateError extends CloudSyncError {}

/** Entries sorted by path, the whole baseline one gzip member: still read, never written. */
const FORMAT_SORTED = 'cloudsync-baseline-2';
/** Entries in walk order (lib/core/walkOrder.ts), in gzip members of BATCH lines (a compressed dictionary each, so a writer holds one batch): written and read as a stream. */
const FORMAT = 'cloudsync-baseline-3';
const BATCH = 16_384;
/** Compressed members a writer with a spill folder holds before writing them out (about 80,000 names). */
const SPILL_BYTES = 1024 * 1024;
const b36 = (n: number) => (n === 0 ? '' : n.toString(36));
const n36 = (s: string) => (s === '' ? 0 : parseInt(s, 36));
const [TAB, NEWLINE, MINUS] = [0x09, 0x0a, 0x2d];
/** Marks a folder where a file has its size ('/'): outside the base-36 digits. */
const SLASH = 0x2f;
const DIGITS = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz', 'latin1');
/** Names may hold tabs, line breaks and backslashes; the format separates fields with the first two. */
const ESCAPED = /[\\\t\n\r]/;
const escape = (text: string) => (ESCAPED.test(text) ? text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : text);
const unescape = (text: string) => (text.indexOf('\\') < 0 ? text : text.replace(/\\(.)/g, (_match, code: string) => ({ t: '\t', n: '\n', r: '\r' })[code] ?? code));
const byWalkOrder = (a: BaselineEntry, b: BaselineEntry) => compareWalkOrder(a.path, b.path);
/**
 * The header's third line: when the state was saved, then who saved it after a colon. The time
 * comes first and the colon is no base-36 digit, so a reader that knows only the time (parseInt)
 * still reads it.
 */
const stampLine = (savedAt: number, savedBy?: string) => (savedBy === undefined ? b36(savedAt) : `${savedAt.toString(36)}:${savedBy}`);
function parseStamp(line: string): { savedAt: number; savedBy?: string } {
	const colon = line.indexOf(':');
	return colon < 0 ? { savedAt: n36(line) } : { savedAt: n36(line.slice(0, colon)), savedBy: line.slice(colon + 1) };
}
const unreadable = (cause?: unknown) => new StateError('The saved sync state is not readable', { cause, hint: 'Run once with Resync to rebuild it.' });

/**
 * Writes a baseline one entry at a time, in walk order, as a short string: each path stored as the
 * length it shares with the previous one plus the rest, numbers in base 36, the destination's time
 * as a difference (usually nothing), gzip (a member per few thousand lines) and base64. About 4–13
 * bytes per file; only bytes are held (the batch being filled and the compressed members), never
 * the entries nor their lines as strings: strings kept until a batch is full would each outlive
 * several young-generation collections, and what survives them is what makes V8 grow its heap.
 */
export class BaselineWriter {
	private batch = Buffer.allocUnsafe(64 * 1024);
	private used = 0;
	private lines = 0;
	private members: Buffer[] = [];
	private memberBytes = 0;
	/** Where members go once more than SPILL_BYTES of them are held, written in order one after the other. */
	private spilled?: { file: Promise<string>; written: Promise<void> };
	private previous = '';
	/** Files written (folders not counted). */
	files = 0;

	/** With `spill`, members beyond SPILL_BYTES go to a temporary file in it, so a million names are not held (the run disposes it). */
	constructor(
		private readonly pair: string,
		private readonly savedAt: number,
		private readonly spill?: SpillDir,
		private readonly spillAfterBytes = SPILL_BYTES,
	) {}

	add(entry: BaselineEntry): void {
		this.addFields(entry.path, entry.destinationPath, entry.isDir, entry.size, entry.sourceModTime, entry.destinationModTime);
	}

	/** `add` without an entry object: a walk adds one line per name, most of them as they were. */
	addFields(path: string, destinationPath: string | undefined, isDir: boolean, size: number, sourceModTime: number, destinationModTime: number): void {
		let shared = 0;
		const previous = this.previous;
		const limit = Math.min(previous.length, path.length);
		while (shared < limit && previous.charCodeAt(shared) === path.charCodeAt(shared)) shared++;
		const other = destinationPath !== undefined && destinationPath !== path ? destinationPath : '';
		// Room for the worst case: every code unit escaped, or 3 bytes of UTF-8; each number at most 13 digits and a sign.
		this.reserve((path.length - shared + other.length) * 3 + 80);
		this.putNumber(shared);
		this.putByte(TAB);
		this.putText(path, shared);
		this.putByte(TAB);
		if (isDir) this.putByte(SLASH);
		else this.putNumber(size);
		this.putByte(TAB);
		this.putNumber(sourceModTime);
		this.putByte(TAB);
		const delta = destinationModTime - sourceModTime;
		if (delta < 0) this.putByte(MINUS);
		this.putNumber(Math.abs(delta));
		this.putByte(TAB);
		this.putText(other, 0);
		this.putByte(NEWLINE);
		this.previous = path;
		if (!isDir) this.files++;
		if (++this.lines >= BATCH) this.flush();
	}

	private reserve(bytes: number): void {
		if (this.used + bytes <= this.batch.length) return;
		const grown = Buffer.allocUnsafe(Math.max(this.used + bytes, this.batch.length * 2));
		this.batch.copy(grown, 0, 0, this.used);
		this.batch = grown;
	}

	private putByte(byte: number): void {
		this.batch[this.used++] = byte;
	}

	/** `b36(n)` as bytes, without making the string for whole numbers. */
	private putNumber(n: number): void {
		if (n === 0) return;
		if (!Number.isSafeInteger(n) || n < 0) {
			this.putText(n.toString(36), 0);
			return;
		}
		let digits = 0;
		for (let rest = n; rest > 0; rest = Math.floor(rest / 36)) digits++;
		let at = this.used + digits;
		this.used = at;
		for (let rest = n; rest > 0; rest = Math.floor(rest / 36)) this.batch[--at] = DIGITS[rest % 36];
	}

	/** `escape(text.slice(from))` as UTF-8; byte by byte while it is plain ASCII. */
	private putText(text: string, from: number): void {
		for (let i = from; i < text.length; i++) {
			const code = text.charCodeAt(i);
			if (code >= 0x80 || code === 0x5c || code === 0x09 || code === 0x0a || code === 0x0d) {
				const tail = escape(text.slice(i));
				this.reserve(tail.length * 3);
				this.used += this.batch.write(tail, this.used, 'utf8');
				return;
			}
			this.batch[this.used++] = code;
		}
	}

	private flush(): void {
		if (this.lines === 0) return;
		const member = gzipSync(this.batch.subarray(0, this.used));
		this.used = 0;
		this.lines = 0;
		this.members.push(member);
		this.memberBytes += member.length;
		// Once a file is made, each member goes to it as it is made: held until the next megabyte, it would outlive young collections (freed only by a full one).
		if (this.spill && (this.spilled || this.memberBytes > this.spillAfterBytes)) this.spillMembers();
	}

	private spillMembers(): void {
		const members = this.members;
		this.members = [];
		this.memberBytes = 0;
		const file = this.spilled?.file ?? this.spill!.file('baseline');
		const before = this.spilled?.written ?? Promise.resolve();
		const written = before.then(async () => {
			const path = await file;
			await pipeline(Readable.from(members), createWriteStream(path, { flags: 'a' }));
		});
		// Awaited by `bytes`; a failure seen here first is not an unhandled rejection.
		written.catch(() => undefined);
		this.spilled = { file, written };
	}

	private header(savedAt: number, savedBy?: string): Buffer {
		return gzipSync(Buffer.from(`${[FORMAT, this.pair, stampLine(savedAt, savedBy)].join('\n')}\n`, 'utf8'));
	}

	/** The baseline so far as text, for small ones (a writer that spilled has `bytes` only); the header is a gzip member of its own, so another `savedAt` costs nothing. */
	text(savedAt = this.savedAt, savedBy?: string): string {
		this.flush();
		if (this.spilled) throw new Error('A baseline written to a temporary file is read with bytes()');
		return Buffer.concat([this.header(savedAt, savedBy), ...this.members]).toString('base64');
	}

	/**
	 * The length and SHA-256 of the text `bytes(savedAt)` would give, without making it. A run that
	 * changed nothing only compares this with what it loaded; at a million names, making the text to
	 * compare it cost 18 MiB of buffers, freed only later.
	 */
	async digest(savedAt = this.savedAt, savedBy?: string): Promise<{ size: number; sha256: string }> {
		const hash = createHash('sha256');
		let size = 0;
		for await (const text of base64Texts(this.compressed(savedAt, savedBy))) {
			hash.update(text, 'latin1');
			size += text.length;
		}
		return { size, sha256: hash.digest('hex') };
	}

	/**
	 * The baseline so far as text in StateBytes; when it spilled, read afresh from its temporary file
	 * on each `read` (never one string, nor a second file): valid until the spill folder is disposed,
	 * and as long as nothing more is added.
	 */
	async bytes(savedAt = this.savedAt, savedBy?: string): Promise<StateBytes> {
		this.flush();
		if (!this.spilled) return stateBytesOf(this.text(savedAt, savedBy));
		const { file, written } = this.spilled;
		await written;
		const compressed = this.header(savedAt, savedBy).length + (await stat(await file)).size;
		return { size: 4 * Math.ceil(compressed / 3), read: () => Readable.from(base64Of(this.compressed(savedAt, savedBy))), dispose: async () => undefined };
	}

	/** The header and every member as compressed bytes, the spilled ones through one reused buffer: a piece holds until the next is asked for. */
	private async *compressed(savedAt: number, savedBy?: string): AsyncGenerator<Buffer> {
		this.flush();
		yield this.header(savedAt, savedBy);
		if (this.spilled) {
			await this.spilled.written;
			const file = await open(await this.spilled.file, 'r');
			try {
				const buffer = Buffer.allocUnsafe(16 * 1024);
				for (;;) {
					const { bytesRead } = await file.read(buffer, 0, buffer.length);
					if (bytesRead === 0) break;
					yield buffer.subarray(0, bytesRead);
				}
			} finally {
				await file.close();
			}
		}
		// Once spilled, each member goes to the file as it is made: only a writer that never spilled holds any.
		yield* this.members;
	}
}

/** A saved baseline, opened: its header read, its entries streamed on demand in walk order. */
export interface BaselineReader {
	pair: string;
	savedAt: number;
	savedBy?: string;
	/** Its entries, each time afresh; stepped through too (`stepper`), which the march reads without a promise per entry. */
	entries(): AsyncIterable<BaselineEntry>;
}

/** One line of the format; `previous` is the path of the line before it. Read field by field, without splitting the line into strings. */
function parseLine(line: string, previous: string): BaselineEntry {
	// Where each of the first five fields ends (the sixth runs to the end of the line, and may be missing).
	const shared = line.indexOf('\t');
	const rest = shared < 0 ? -1 : line.indexOf('\t', shared + 1);
	const size = rest < 0 ? -1 : line.indexOf('\t', rest + 1);
	const sourceTime = size < 0 ? -1 : line.indexOf('\t', size + 1);
	if (sourceTime < 0) throw unreadable();
	const delta = line.indexOf('\t', sourceTime + 1);
	const deltaEnd = delta < 0 ? line.length : delta;
	const isDir = size - rest === 2 && line.charCodeAt(rest + 1) === SLASH;
	const sourceModTime = n36At(line, size + 1, sourceTime);
	const negative = line.charCodeAt(sourceTime + 1) === MINUS;
	const difference = negative ? -n36At(line, sourceTime + 2, deltaEnd) : n36At(line, sourceTime + 1, deltaEnd);
	const other = delta < 0 || delta === line.length - 1 ? '' : line.slice(delta + 1);
	return {
		path: previous.slice(0, n36At(line, 0, shared)) + unescape(line.slice(shared + 1, rest)),
		destinationPath: other ? unescape(other) : undefined,
		isDir,
		size: isDir ? -1 : n36At(line, rest + 1, size),
		sourceModTime,
		destinationModTime: sourceModTime + difference,
	};
}

/** `n36(text.slice(from, to))` without the slice: parseInt's reading (a sign, then digits up to the first that is not one; empty is 0). */
function n36At(text: string, from: number, to: number): number {
	if (from >= to) return 0;
	let sign = 1;
	if (text.charCodeAt(from) === MINUS) {
		sign = -1;
		from++;
	}
	let value = 0;
	let digits = 0;
	for (let i = from; i < to; i++) {
		const code = text.charCodeAt(i);
		const digit = code >= 0x30 && code <= 0x39 ? code - 0x30 : code >= 0x61 && code <= 0x7a ? code - 0x57 : code >= 0x41 && code <= 0x5a ? code - 0x37 : -1;
		if (digit < 0) break;
		value = value * 36 + digit;
		digits++;
	}
	return digits === 0 ? NaN : sign * value;
}

/** The lines of a gzip'd, base64 text (one or more members), as a stream: never decoded whole. */
export async function* textLines(text: string | StateBytes): AsyncGenerator<string> {
	const decoder = new StringDecoder('utf8');
	let partial = '';
	for await (const piece of gunzippedPieces(text)) {
		const lines = (partial + decoder.write(piece)).split('\n');
		partial = lines.pop()!;
		yield* lines;
	}
	partial += decoder.end();
	if (partial !== '') yield partial;
}

/**
 * The bytes of a gzip'd, base64 state, decoded a piece at a time, as Buffers: their bytes live outside
 * the JS heap, so the piece whose lines are being walked is not copied by each young-generation
 * collection, as its text was (decoded as strings, even 1 KiB at a time, it and the stream's strings
 * were a fifth of what survived each collection of a two-way run).
 */
async function* gunzippedPieces(text: string | StateBytes): AsyncGenerator<Buffer> {
	// A state held as a string is decoded from the string itself, not from a copy of it in bytes.
	const held = typeof text === 'string' ? text : heldTexts.get(text);
	// Read from its file a slice at a time: a 64 KiB read would stay alive while its 14,000 lines are walked, through young collections, and be freed only by a full one.
	const source = Readable.from(bytesOfBase64(held !== undefined ? [held] : (text as StateBytes).read({ highWaterMark: BASE64_SLICE })));
	const input = source.pipe(createGunzip());
	try {
		for await (const piece of input) yield piece as Buffer;
	} catch (error) {
		throw unreadable(error);
	} finally {
		// A reader that stops early (the header) closes the state's file too: `pipe` leaves its source open.
		input.destroy();
		source.destroy();
	}
}

/**
 * A baseline's entries after its header, stepped through: each line is decoded and parsed when the
 * march reaches it, from the decompressed piece in hand, so what the reader holds on the JS heap is
 * the entry it gave, never a piece's text or its entries.
 */
class BaselineSteps implements Stepper<BaselineEntry> {
	private readonly pieces: AsyncIterator<Buffer>;
	/** Decompressed bytes not yet read, from `at`. */
	private bytes: Buffer = Buffer.alloc(0);
	private at = 0;
	private headerLines = 0;
	private previous = '';
	private decompressed = false;

	constructor(source: string | StateBytes) {
		this.pieces = gunzippedPieces(source);
	}

	next(): BaselineEntry | undefined | Promise<BaselineEntry | undefined> {
		for (;;) {
			let end = this.bytes.indexOf(NEWLINE, this.at);
			if (end < 0) {
				if (!this.decompressed) return this.pieces.next().then(this.append);
				// The last line may lack its newline.
				if (this.at >= this.bytes.length) return undefined;
				end = this.bytes.length;
			}
			const start = this.at;
			this.at = end + 1;
			if (this.headerLines < 3) {
				this.headerLines++;
				continue;
			}
			if (end === start) continue;
			// A line never splits a character: UTF-8 never has a newline byte inside one.
			const entry = parseLine(this.bytes.toString('utf8', start, end), this.previous);
			this.previous = entry.path;
			return entry;
		}
	}

	private readonly append = (piece: IteratorResult<Buffer>): BaselineEntry | undefined | Promise<BaselineEntry | undefined> => {
		const rest = this.bytes.subarray(this.at);
		if (piece.done) this.decompressed = true;
		this.bytes = piece.done ? rest : rest.length > 0 ? Buffer.concat([rest, piece.value]) : piece.value;
		this.at = 0;
		return this.next();
	};
}

/** A baseline's entries after its header, entry by entry or stepped through. */
function baselineEntries(text: string | StateBytes): AsyncIterable<BaselineEntry> & { stepper(): Stepper<BaselineEntry> } {
	const stepper = () => new BaselineSteps(text);
	return { stepper, [Symbol.asyncIterator]: () => steppedValues(stepper()) };
}

/** Opens a saved baseline for streaming; one of the older, sorted format is decoded whole once and put in walk order. */
export async function openBaseline(text: string | StateBytes): Promise<BaselineReader> {
	const header: string[] = [];
	for await (const line of textLines(text)) {
		header.push(line);
		if (header.length === 3) break;
	}
	if (header[0] === FORMAT_SORTED) {
		const baseline = decodeBaseline(typeof text === 'string' ? text : await stateText(text));
		baseline.entries.sort(byWalkOrder);
		return {
			pair: baseline.pair,
			savedAt: baseline.savedAt,
			entries: async function* () {
				yield* baseline.entries;
			},
		};
	}
	if (header[0] !== FORMAT) throw new StateError(`The saved sync state has an unknown format (${(header[0] ?? '').slice(0, 40)})`, { hint: 'Run once with Resync to rebuild it.' });
	return {
		pair: header[1] ?? '',
		...parseStamp(header[2] ?? ''),
		entries: () => baselineEntries(text),
	};
}

/** A whole baseline as a string, entries in walk order (small trees, tests; a sync writes through BaselineWriter). */
export function encodeBaseline(baseline: Baseline): string {
	const writer = new BaselineWriter(baseline.pair, baseline.savedAt);
	for (const entry of [...baseline.entries].sort(byWalkOrder)) writer.add(entry);
	return writer.text();
}

/** A whole baseline decoded into memory, of either format (tests, tools; a sync streams it through openBaseline). */
export function decodeBaseline(text: string): Baseline {
	let lines: string[];
	try {
		lines = gunzipSync(Buffer.from(text, 'base64')).toString('utf8').split('\n');
	} catch (error) {
		throw unreadable(error);
	}
	if (lines[0] !== FORMAT && lines[0] !== FORMAT_SORTED) throw new StateError(`The saved sync state has an unknown format (${lines[0].slice(0, 40)})`, { hint: 'Run once with Resync to rebuild it.' });
	const entries: BaselineEntry[] = [];
	let previous = '';
	for (const line of lines.slice(3)) {
		if (line === '') continue;
		entries.push(parseLine(line, previous));
		previous = entries[entries.length - 1].path;
	}
	return { pair: lines[1], ...parseStamp(lines[2]), entries };
}

/** A short, stable name for a folder pair, for the files and keys that hold its lock and state; `kind` names whose state it is. */
export function pairId(pair: string, kind = 'two-way'): string {
	let hash = 2166136261;
	for (let i = 0; i < pair.length; i++) hash = Math.imul(hash ^ pair.charCodeAt(i), 16777619) >>> 0;
	return `${kind}-${hash.toString(36)}`;
}

/** A small file of a side as text; undefined when there is none. */
export async function readText(provider: Provider, path: string): Promise<string | undefined> {
	try {
		const chunks: Buffer[] = [];
		for await (const chunk of await provider.read(path)) chunks.push(chunk as Buffer);
		return Buffer.concat(chunks).toString('utf8');
	} catch (error) {
		if (error instanceof NotFoundError) return undefined;
		throw error;
	}
}

export class MemoryStateStore implements StateStore {
	readonly where = 'memory';
	constructor(public state?: string) {}
	async load() {
		return this.state;
	}
	async save(state: string) {
		this.state = state;
	}
}

/** The state as a file in the `.cloudsync` folder of a side: for pairs too large for n8n's static data. */
export class ProviderStateStore implements StateStore {
	readonly path: string;
	constructor(
		private readonly provider: Provider,
		name: string,
	) {
		this.path = joinPath(STATE_FOLDER, `${name}.state`);
	}

	get where() {
		return `${this.path} on ${this.provider.name}`;
	}

	async load(): Promise<string | undefined> {
		return readText(this.provider, this.path);
	}

	async save(state: string): Promise<void> {
		await this.saveBytes(stateBytesOf(state));
	}

	async loadBytes(): Promise<StateBytes | undefined> {
		try {
			return await spool(await this.provider.read(this.path), { prefix: 'state', memoryLimit: STATE_MEMORY_BYTES });
		} catch (error) {
			if (error instanceof NotFoundError) return undefined;
			throw error;
		}
	}

	async saveBytes(state: StateBytes): Promise<void> {
		await this.provider.write(this.path, state.read(), { size: state.size });
	}
}

const POINTER = 'cloudsync-state-pointer-1';

/**
 * Keeps a small state in `small` (n8n's static data, rewritten with the workflow on every save)
 * and a large one in `large` (a file on the destination), leaving in `small` only a pointer: its
 * size and where it is, a few dozen bytes whatever the tree. Use the same `large` store as twoWaySync's
 * `stateCopy`: the file is then written once.
 */
export class PointerStateStore implements StateStore {
	constructor(
		readonly small: StateStore,
		readonly large: StateStore,
		/** States up to this many bytes stay whole in `small` (default 64 KiB, about 10,000 files). */
		readonly inlineBytes = 64 * 1024,
	) {}

	get where(): string {
		return `${this.small.where} (a pointer to ${this.large.where} when large)`;
	}

	/** Whether saving `state` writes it to `large` (a state's text is base64: as many bytes as characters). */
	writesLarge(state: string | StateBytes): boolean {
		return (typeof state === 'string' ? state.length : state.size) > this.inlineBytes;
	}

	async load(): Promise<string | undefined> {
		const held = await this.small.load();
		if (held === undefined || !held.startsWith(`${POINTER}\n`)) return held;
		// The file may be newer than the pointer (another worker's run): the state's own time and the lock decide, as for any copy.
		return this.large.load();
	}

	async save(state: string): Promise<void> {
		await this.saveBytes(stateBytesOf(state));
	}

	async loadBytes(): Promise<StateBytes | undefined> {
		const held = await this.small.load();
		if (held === undefined || !held.startsWith(`${POINTER}\n`)) return held === undefined ? undefined : stateBytesOf(held);
		return loadStateBytes(this.large);
	}

	async saveBytes(state: StateBytes): Promise<void> {
		if (!this.writesLarge(state)) {
			await this.small.save(await stateText(state));
			return;
		}
		await saveStateBytes(this.large, state);
		await this.small.save(`${POINTER}\n${JSON.stringify({ bytes: state.size, where: this.large.where })}`);
	}
}

/**
 * The pair's state where every worker reads it (a file on a cloud), downloaded at most once a run: the
 * lock reads its header (who saved it, and when) only when it finds another run's lock unreleased, and
 * the run then opens the same bytes as its baseline, which it would otherwise download again.
 */
export class SharedState {
	private loaded?: Promise<StateBytes | undefined>;

	constructor(readonly store: StateStore) {}

	/** Who saved the state and when, from its header; undefined when there is none or it cannot be read. */
	async stamp(): Promise<{ savedAt: number; savedBy?: string } | undefined> {
		const bytes = await (this.loaded ??= loadStateBytes(this.store));
		const header = bytes && (await openBaseline(bytes).catch(() => undefined));
		return header && { savedAt: header.savedAt, savedBy: header.savedBy };
	}

	/** The state's bytes, for the caller to dispose: those `stamp` read, else read now. */
	async take(): Promise<StateBytes | undefined> {
		const loaded = this.loaded;
		this.loaded = undefined;
		return loaded ?? loadStateBytes(this.store);
	}

	/** Removes what `stamp` read and no one took. */
	async dispose(): Promise<void> {
		const loaded = this.loaded;
		this.loaded = undefined;
		await (await loaded?.catch(() => undefined))?.dispose();
	}
}

/** The state as a file on this machine, replaced atomically: for scripts, tests and the benchmark. */
export class FileStateStore implements StateStore {
	constructor(readonly file: string) {}

	get where() {
		return this.file;
	}

	async load(): Promise<string | undefined> {
		try {
			return await readFile(this.file, 'utf8');
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
			throw error;
		}
	}

	async save(state: string): Promise<void> {
		await this.saveBytes(stateBytesOf(state));
	}

	async loadBytes(): Promise<StateBytes | undefined> {
		try {
			return await spool(createReadStream(this.file), { prefix: 'state', memoryLimit: STATE_MEMORY_BYTES });
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
			throw error;
		}
	}

	async saveBytes(state: StateBytes): Promise<void> {
		const partial = `${this.file}.partial`;
		await pipeline(state.read(), createWriteStream(partial));
		await rename(partial, this.file);
	}
}
