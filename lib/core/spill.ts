import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';

/**
 * How many records a list or folder holds in memory before the rest goes to a temporary file:
 * about 15 MiB of entries (a queue also stops at QUEUE_MEMORY_BYTES). Tests set it low to take the
 * spill path with a handful of files.
 */
export const DEFAULT_MEMORY_LIMIT = 50_000;

/** What the temporary folders of spilled lists are called, under the system's temporary folder. */
export const SPILL_PREFIX = 'cloudsync-spill-';

/** A private temporary folder, made only when something spills, removed when the run ends. */
export class SpillDir {
	private made?: Promise<string>;
	private files = 0;

	async file(label: string): Promise<string> {
		this.made ??= fs.mkdtemp(nodePath.join(tmpdir(), SPILL_PREFIX));
		return nodePath.join(await this.made, `${label}-${this.files++}.ndjson`);
	}

	async dispose(): Promise<void> {
		if (!this.made) return;
		const dir = await this.made.catch(() => undefined);
		this.made = undefined;
		if (dir) await fs.rm(dir, { recursive: true, force: true });
	}
}

async function writeLines(file: string, records: unknown[]): Promise<void> {
	const handle = await fs.open(file, 'w');
	try {
		const batch = 2_000;
		for (let i = 0; i < records.length; i += batch) {
			await handle.write(records.slice(i, i + batch).map((record) => `${JSON.stringify(record)}\n`).join(''));
		}
	} finally {
		await handle.close();
	}
}

const LINE_READ_BYTES = 64 * 1024;

/** The lines of a file, each as a string without its line feed, read a buffer at a time. */
async function* textLines(file: string): AsyncGenerator<string> {
	const handle = await fs.open(file, 'r');
	try {
		const chunk = Buffer.allocUnsafe(LINE_READ_BYTES);
		let rest = Buffer.alloc(0);
		for (;;) {
			const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
			if (bytesRead === 0) break;
			const data = rest.length > 0 ? Buffer.concat([rest, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
			let start = 0;
			for (let end = data.indexOf(NEWLINE, start); end >= 0; end = data.indexOf(NEWLINE, start)) {
				yield data.toString('utf8', start, end);
				start = end + 1;
			}
			// Copied: the chunk is read into again.
			rest = Buffer.from(data.subarray(start));
		}
		if (rest.length > 0) yield rest.toString('utf8');
	} finally {
		await handle.close();
	}
}

async function* readLines<T>(file: string): AsyncGenerator<T> {
	for await (const line of textLines(file)) if (line !== '') yield JSON.parse(line) as T;
}

/**
 * Bytes of queued records a queue holds in memory before they go to a file of their own (about
 * 1,000 plan actions), whatever `limit` allows: the records wait as JSON lines in one buffer outside
 * V8's heap, so they are not objects that outlive young-generation collections, which made V8 grow
 * its young generation to 128 MiB while two million-entry listings were planned. 1 MiB measured
 * about 5 MiB more peak RSS on those listings than 256 KiB (buffers doubling to it, and read back).
 */
export const QUEUE_MEMORY_BYTES = 256 * 1024;

const NEWLINE = 0x0a;
/** Where an empty queue's buffer starts: most queues of a run hold a few actions or none. */
const FIRST_BUFFER_BYTES = 16 * 1024;

/** The records of a buffer of JSON lines (JSON never holds a raw line feed, in a string or in UTF-8's multi-byte sequences). */
function* linesOf<T>(bytes: Buffer): Generator<T> {
	for (let start = 0; start < bytes.length; ) {
		const end = bytes.indexOf(NEWLINE, start);
		const stop = end < 0 ? bytes.length : end;
		if (stop > start) yield JSON.parse(bytes.toString('utf8', start, stop)) as T;
		start = stop + 1;
	}
}

/** The same records, last first; every line ends with a line feed. */
function* linesBackwardsOf<T>(bytes: Buffer): Generator<T> {
	for (let end = bytes.length; end > 0; ) {
		// lastIndexOf counts a negative offset from the end of the buffer, so the first line is found by hand.
		const start = end >= 2 ? bytes.lastIndexOf(NEWLINE, end - 2) + 1 : 0;
		if (end - 1 > start) yield JSON.parse(bytes.toString('utf8', start, end - 1)) as T;
		end = start;
	}
}

/**
 * Records kept as JSON lines in one buffer outside V8's heap: a record held for long costs no
 * objects that outlive young-generation collections (which V8 answers by growing its young
 * generation), only its bytes. Each record read back is a new object.
 */
export class JsonLines<T> {
	private bytes = Buffer.alloc(0);
	private used = 0;
	/** Records held. */
	count = 0;

	/** `growTo`: the size its buffer grows to by doubling; only a record that does not fit takes it past. */
	constructor(private readonly growTo = Number.POSITIVE_INFINITY) {}

	get byteLength(): number {
		return this.used;
	}

	add(record: T): void {
		const line = JSON.stringify(record);
		// A UTF-16 unit takes at most 3 bytes of UTF-8, and the line its line feed.
		const room = line.length * 3 + 1;
		if (this.used + room > this.bytes.length) {
			const grown = Buffer.allocUnsafe(Math.max(this.used + room, Math.min(this.growTo, Math.max(this.bytes.length * 2, FIRST_BUFFER_BYTES))));
			this.bytes.copy(grown, 0, 0, this.used);
			this.bytes = grown;
		}
		this.used += this.bytes.write(line, this.used);
		this.bytes[this.used++] = NEWLINE;
		this.count++;
	}

	/** The lines as they are held, for a write; valid until the next add or clear. */
	contents(): Buffer {
		return this.bytes.subarray(0, this.used);
	}

	/** Empties it, keeping the buffer for what comes next. */
	clear(): void {
		this.used = 0;
		this.count = 0;
	}

	records(): Generator<T> {
		return linesOf<T>(this.contents());
	}

	backwards(): Generator<T> {
		return linesBackwardsOf<T>(this.contents());
	}
}

/**
 * A first-in first-out list of JSON records, queued as JSON lines (JsonLines) in one buffer of at
 * most about `maxBytes` (or `limit` records, which tests set low): a full buffer goes to a file of
 * its own in one write and is filled again. Records are read back one buffer or file at a time,
 * forwards or backwards, as new objects. Read only once every push has ended.
 */
export class SpillQueue<T> implements AsyncIterable<T> {
	private readonly memory: JsonLines<T>;
	private readonly chunks: string[] = [];
	private flushing?: Promise<void>;
	length = 0;

	constructor(
		private readonly spill: SpillDir,
		private readonly label: string,
		private readonly limit = DEFAULT_MEMORY_LIMIT,
		private readonly maxBytes = QUEUE_MEMORY_BYTES,
	) {
		this.memory = new JsonLines<T>(maxBytes);
	}

	/** Whether some records live in files. */
	get spilled(): boolean {
		return this.chunks.length > 0;
	}

	/** A promise only when the push filled the buffer, which then goes to disk: most pushes cost no await. */
	push(record: T): Promise<void> | void {
		if (this.flushing) return this.flushing.then(() => this.push(record));
		this.memory.add(record);
		this.length++;
		if (this.memory.count >= Math.max(1, this.limit) || this.memory.byteLength >= this.maxBytes) return (this.flushing = this.flush());
	}

	private async flush(): Promise<void> {
		try {
			const file = await this.spill.file(this.label);
			await fs.writeFile(file, this.memory.contents());
			this.chunks.push(file);
			this.memory.clear();
		} finally {
			this.flushing = undefined;
		}
	}

	async *[Symbol.asyncIterator](): AsyncIterator<T> {
		for (const chunk of this.chunks) yield* linesOf<T>(await fs.readFile(chunk));
		yield* this.memory.records();
	}

	/** Last in, first out: each file is read whole (it holds about `maxBytes` at most), then given backwards. */
	async *reversed(): AsyncGenerator<T> {
		yield* this.memory.backwards();
		for (let c = this.chunks.length - 1; c >= 0; c--) yield* linesBackwardsOf<T>(await fs.readFile(this.chunks[c]));
	}
}

/**
 * Sorts records that may not fit in memory: runs of at most `limit` are sorted and written to
 * files, then merged; with fewer records than `limit` nothing touches the disk.
 */
export class ExternalSorter<T> {
	private memory: T[] = [];
	private readonly runs: string[] = [];
	count = 0;

	constructor(
		private readonly spill: SpillDir,
		private readonly label: string,
		private readonly compare: (a: T, b: T) => number,
		private readonly limit = DEFAULT_MEMORY_LIMIT,
	) {}

	get spilled(): boolean {
		return this.runs.length > 0;
	}

	async add(record: T): Promise<void> {
		this.memory.push(record);
		this.count++;
		if (this.memory.length >= Math.max(1, this.limit)) await this.writeRun();
	}

	private async writeRun(): Promise<void> {
		this.memory.sort(this.compare);
		const file = await this.spill.file(this.label);
		await writeLines(file, this.memory);
		this.runs.push(file);
		this.memory = [];
	}

	/** Everything added, in order; the sorter is spent afterwards. */
	async *sorted(): AsyncGenerator<T> {
		this.memory.sort(this.compare);
		if (this.runs.length === 0) {
			const records = this.memory;
			this.memory = [];
			yield* records;
			return;
		}
		const sources: Array<AsyncIterator<T>> = [...this.runs.map((run) => readLines<T>(run)), (async function* (records: T[]) {
			yield* records;
		})(this.memory)];
		this.memory = [];
		const heads: Array<{ value: T; from: AsyncIterator<T> }> = [];
		for (const from of sources) {
			const next = await from.next();
			if (!next.done) heads.push({ value: next.value, from });
		}
		while (heads.length > 0) {
			let least = 0;
			for (let i = 1; i < heads.length; i++) if (this.compare(heads[i].value, heads[least].value) < 0) least = i;
			const head = heads[least];
			yield head.value;
			const next = await head.from.next();
			if (next.done) heads.splice(least, 1);
			else head.value = next.value;
		}
	}
}

/** Bytes of records a NumberSorter holds before it writes them, sorted, to a file of their own. */
const SORT_RUN_BYTES = 1024 * 1024;
/** A line of a sorted run: its number, a tab, the record's JSON. */
function numberedLine(line: string): { key: number; json: string } {
	const tab = line.indexOf('\t');
	return { key: Number(line.slice(0, tab)), json: line.slice(tab + 1) };
}

/**
 * Records sorted by a number, ties in the order they were added, that may not fit in memory. Unlike
 * ExternalSorter, a record waits as a JSON line in a buffer outside V8's heap, and its number in a
 * typed array, until it is read back sorted: a hundred thousand records held for a while are not a
 * hundred thousand objects outliving young collections (which grew V8's young generation to 128 MiB).
 */
export class NumberSorter<T> {
	private bytes = Buffer.allocUnsafe(64 * 1024);
	private used = 0;
	private starts = new Uint32Array(1024);
	private keys = new Float64Array(1024);
	private held = 0;
	/** Sorted runs, in the order they were taken: a tie goes to the earlier run. */
	private readonly runs: Array<Promise<string>> = [];
	count = 0;

	constructor(
		private readonly spill: SpillDir,
		private readonly label: string,
		private readonly runBytes = SORT_RUN_BYTES,
	) {}

	get spilled(): boolean {
		return this.runs.length > 0;
	}

	/** A promise only when the records held reached `runBytes` and go to a file (further adds need not wait for it). */
	add(key: number, record: T): Promise<void> | void {
		const line = JSON.stringify(record);
		const room = line.length * 3 + 1;
		if (this.used + room > this.bytes.length) {
			const grown = Buffer.allocUnsafe(Math.max(this.used + room, this.bytes.length * 2));
			this.bytes.copy(grown, 0, 0, this.used);
			this.bytes = grown;
		}
		if (this.held === this.keys.length) {
			const starts = new Uint32Array(this.held * 2);
			starts.set(this.starts);
			const keys = new Float64Array(this.held * 2);
			keys.set(this.keys);
			[this.starts, this.keys] = [starts, keys];
		}
		this.starts[this.held] = this.used;
		this.keys[this.held++] = key;
		this.used += this.bytes.write(line, this.used);
		this.bytes[this.used++] = NEWLINE;
		this.count++;
		if (this.used >= this.runBytes) return this.writeRun();
	}

	/** The order of the records held: by number, then as added. */
	private order(): Uint32Array {
		const order = new Uint32Array(this.held);
		for (let i = 0; i < this.held; i++) order[i] = i;
		return order.sort((a, b) => this.keys[a] - this.keys[b] || a - b);
	}

	private line(index: number): { start: number; end: number } {
		return { start: this.starts[index], end: index + 1 < this.held ? this.starts[index + 1] : this.used };
	}

	/** Sorts what is held into a run, taken at once (the records added meanwhile start the next run), and writes it. */
	private writeRun(): Promise<void> {
		// Each line gains its number and a tab: at most 24 characters.
		const out = Buffer.allocUnsafe(this.used + this.held * 24);
		let at = 0;
		for (const index of this.order()) {
			at += out.write(`${this.keys[index]}\t`, at, 'latin1');
			const { start, end } = this.line(index);
			at += this.bytes.copy(out, at, start, end);
		}
		this.used = 0;
		this.held = 0;
		const written = (async () => {
			const file = await this.spill.file(this.label);
			await fs.writeFile(file, out.subarray(0, at));
			return file;
		})();
		this.runs.push(written);
		return written.then(() => undefined);
	}

	/** Everything added, by number; the sorter is spent afterwards. */
	async *sorted(): AsyncGenerator<T> {
		if (this.runs.length === 0) {
			for (const index of this.order()) {
				const { start, end } = this.line(index);
				yield JSON.parse(this.bytes.toString('utf8', start, end - 1)) as T;
			}
			return;
		}
		if (this.held > 0) void this.writeRun();
		const sources = (await Promise.all(this.runs)).map((run) => textLines(run));
		const heads: Array<{ key: number; json: string; from: AsyncGenerator<string> }> = [];
		for (const from of sources) {
			const next = await from.next();
			if (!next.done) heads.push({ ...numberedLine(next.value), from });
		}
		try {
			// Ties go to the earlier run, which holds the earlier records.
			while (heads.length > 0) {
				let least = 0;
				for (let i = 1; i < heads.length; i++) if (heads[i].key < heads[least].key) least = i;
				const head = heads[least];
				yield JSON.parse(head.json) as T;
				const next = await head.from.next();
				if (next.done) heads.splice(least, 1);
				else Object.assign(head, numberedLine(next.value));
			}
		} finally {
			// A reader stopped early closes its files.
			for (const head of heads) await head.from.return(undefined);
		}
	}
}
