import { readFile, rename, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Provider } from '../core/types';
import { CloudSyncError, NotFoundError } from '../core/errors';
import { STATE_FOLDER } from '../core/filters';
import { joinPath } from '../core/paths';

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
	entries: BaselineEntry[];
}

/** Where a sync keeps its state between runs: n8n's static data, a file on the destination, memory in tests. */
export interface StateStore {
	/** Where the state lives, for messages. */
	readonly where: string;
	load(): Promise<string | undefined>;
	save(state: string): Promise<void>;
}

export class StateError extends CloudSyncError {}

const FORMAT = 'cloudsync-baseline-2';
const b36 = (n: number) => (n === 0 ? '' : n.toString(36));
const n36 = (s: string) => (s === '' ? 0 : parseInt(s, 36));
/** Marks a folder where a file has its size: outside the base-36 digits. */
const FOLDER = '/';
/** Names may hold tabs, line breaks and backslashes; the format separates fields with the first two. */
const escape = (text: string) => text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
const unescape = (text: string) => text.replace(/\\(.)/g, (_match, code: string) => ({ t: '\t', n: '\n', r: '\r' })[code] ?? code);

/**
 * A baseline as a short string: entries sorted by path, each path stored as the length it shares
 * with the previous one plus the rest, numbers in base 36, the destination's time as a difference
 * (usually nothing), then gzip and base64. About 6–10 bytes per file for typical trees.
 */
export function encodeBaseline(baseline: Baseline): string {
	const sorted = [...baseline.entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
	const lines = [FORMAT, baseline.pair, b36(baseline.savedAt)];
	let previous = '';
	for (const entry of sorted) {
		let shared = 0;
		const limit = Math.min(previous.length, entry.path.length);
		while (shared < limit && previous.charCodeAt(shared) === entry.path.charCodeAt(shared)) shared++;
		const other = entry.destinationPath !== undefined && entry.destinationPath !== entry.path ? entry.destinationPath : '';
		const delta = entry.destinationModTime - entry.sourceModTime;
		lines.push(
			[b36(shared), escape(entry.path.slice(shared)), entry.isDir ? FOLDER : b36(entry.size), b36(entry.sourceModTime), delta < 0 ? `-${b36(-delta)}` : b36(delta), escape(other)].join('\t'),
		);
		previous = entry.path;
	}
	return gzipSync(Buffer.from(lines.join('\n'), 'utf8'), { level: 9 }).toString('base64');
}

export function decodeBaseline(text: string): Baseline {
	let lines: string[];
	try {
		lines = gunzipSync(Buffer.from(text, 'base64')).toString('utf8').split('\n');
	} catch (error) {
		throw new StateError('The saved sync state is not readable', { cause: error, hint: 'Run once with Resync to rebuild it.' });
	}
	if (lines[0] !== FORMAT) throw new StateError(`The saved sync state has an unknown format (${lines[0].slice(0, 40)})`, { hint: 'Run once with Resync to rebuild it.' });
	const entries: BaselineEntry[] = [];
	let previous = '';
	for (const line of lines.slice(3)) {
		const [shared, rest, size, sourceTime, delta, other] = line.split('\t');
		const path = previous.slice(0, n36(shared)) + unescape(rest);
		const sourceModTime = n36(sourceTime);
		const difference = delta.startsWith('-') ? -n36(delta.slice(1)) : n36(delta);
		entries.push({
			path,
			destinationPath: other ? unescape(other) : undefined,
			isDir: size === FOLDER,
			size: size === FOLDER ? -1 : n36(size),
			sourceModTime,
			destinationModTime: sourceModTime + difference,
		});
		previous = path;
	}
	return { pair: lines[1], savedAt: n36(lines[2]), entries };
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
		const bytes = Buffer.from(state, 'utf8');
		await this.provider.write(this.path, Readable.from([bytes]), { size: bytes.length });
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
		const partial = `${this.file}.partial`;
		await writeFile(partial, state, 'utf8');
		await rename(partial, this.file);
	}
}

