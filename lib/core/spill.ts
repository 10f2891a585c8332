import { createReadStream, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { createInterface } from 'node:readline';

/**
 * How many records a list, queue or folder holds in memory before the rest goes to a temporary
 * file: about 15 MiB of entries. Tests set it low to take the spill path with a handful of files.
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

async function* readLines<T>(file: string): AsyncGenerator<T> {
	const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
	try {
		for await (const line of lines) if (line !== '') yield JSON.parse(line) as T;
	} finally {
		lines.close();
	}
}

/**
 * A first-in first-out list of JSON records that keeps at most `limit` of them in memory: full
 * chunks go to files of their own, read back one chunk at a time, forwards or backwards.
 */
export class SpillQueue<T> implements AsyncIterable<T> {
	private memory: T[] = [];
	private readonly chunks: string[] = [];
	length = 0;

	constructor(
		private readonly spill: SpillDir,
		private readonly label: string,
		private readonly limit = DEFAULT_MEMORY_LIMIT,
	) {}

	/** Whether some records live in files. */
	get spilled(): boolean {
		return this.chunks.length > 0;
	}

	/** A promise only when the push filled a chunk, which then goes to disk: most pushes cost no await. */
	push(record: T): Promise<void> | void {
		this.memory.push(record);
		this.length++;
		if (this.memory.length >= Math.max(1, this.limit)) return this.flush();
	}

	private async flush(): Promise<void> {
		const full = this.memory;
		this.memory = [];
		const file = await this.spill.file(this.label);
		await writeLines(file, full);
		this.chunks.push(file);
	}

	async *[Symbol.asyncIterator](): AsyncIterator<T> {
		for (const chunk of this.chunks) yield* readLines<T>(chunk);
		yield* this.memory;
	}

	/** Last in, first out: a chunk is read whole (it holds at most `limit`), then given backwards. */
	async *reversed(): AsyncGenerator<T> {
		for (let i = this.memory.length - 1; i >= 0; i--) yield this.memory[i];
		for (let c = this.chunks.length - 1; c >= 0; c--) {
			const records: T[] = [];
			for await (const record of readLines<T>(this.chunks[c])) records.push(record);
			for (let i = records.length - 1; i >= 0; i--) yield records[i];
		}
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
