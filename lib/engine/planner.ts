import type { Capabilities, Entry, HashType } from '../core/types';
import { matchKey, depth, parentPath, baseName, joinPath } from '../core/paths';
import { sameHash } from '../core/hashing';
import { isSameOrBelow, walkKey } from '../core/walkOrder';
import { SpillDir, SpillQueue } from '../core/spill';
import { marchListings } from './march';
import { inWalkOrder } from './listing';

/** Mirror: destination made identical. Copy: never deletes. Update: only new or newer files. Move: copy, then delete the source file. */
export type SyncMode = 'mirror' | 'copy' | 'update' | 'move';
export type CompareMode = 'auto' | 'checksum' | 'size';
export type ActionKind = 'mkdir' | 'copy' | 'update' | 'delete' | 'rmdir' | 'skip' | 'conflict';

export type SideTraits = Pick<Capabilities, 'caseInsensitive' | 'modTimePrecisionMs'> & Partial<Pick<Capabilities, 'canSetModTime'>>;

export interface PlanOptions {
	mode: SyncMode;
	compare?: CompareMode;
	/** Skip files whose destination copy is newer (rclone --update); always on in Update mode. */
	newerOnly?: boolean;
	/** Skip every file that already exists on the destination. */
	ignoreExisting?: boolean;
	/** Extra slack when comparing modification times, in ms, on top of both sides' precision. */
	modifyWindowMs?: number;
	/** Create source folders that hold no file; off when a filter selects only some files. */
	createEmptyFolders?: boolean;
	/** The hash type compared when both entries carry it; any shared one otherwise. */
	hashType?: HashType;
	source: SideTraits;
	destination: SideTraits;
	/** Why the destination cannot hold a path (a name it forbids, a size above its limit); such a file is reported, not copied. */
	unstorable?: (path: string, size?: number) => string | undefined;
}

export interface PlanAction {
	kind: ActionKind;
	/** Path on the side the action changes (the destination, except for a source delete in Move mode). */
	path: string;
	side: 'source' | 'destination';
	reason: string;
	source?: Entry;
	destination?: Entry;
	/** Move mode: delete the source file once its copy is verified. */
	deleteSourceAfter?: boolean;
	/** A deletion's cause: the path the source no longer holds, asked again before anything is deleted. */
	absentFrom?: string;
}

export interface Plan {
	mode: SyncMode;
	/** Every action; for a streamed plan, the first `itemLimit` of them in the same order (`omitted` says how many more). */
	actions: PlanAction[];
	/** Actions counted but not listed in `actions`, when a streamed plan had more than its item limit: changes, and unchanged files (skips). */
	omitted?: { changes: number; unchanged: number };
	counts: Record<ActionKind, number>;
	sourceFiles: number;
	destinationFiles: number;
	bytesToTransfer: number;
}

/** All entries of both sides that share one match key; more than one on a side is a collision. */
export interface Match {
	key: string;
	/** The walk key the march grouped the pair by (lib/core/walkOrder.ts), when a march made it: spares working it out again. */
	walk?: string;
	source?: Entry;
	destination?: Entry;
	extraSources?: Entry[];
	extraDestinations?: Entry[];
}

function modifyWindow(options: PlanOptions): number {
	return Math.max(options.source.modTimePrecisionMs, options.destination.modTimePrecisionMs, options.modifyWindowMs ?? 0);
}

/** A hash type whose value both entries carry, preferring the one asked for. */
export function knownSharedHash(a: Entry, b: Entry, preferred?: HashType): HashType | undefined {
	if (preferred && a.hashes[preferred] && b.hashes[preferred]) return preferred;
	// for…in, not Object.keys: asked for every pair of a walk, and most entries carry no hash at all.
	for (const type in a.hashes) {
		if (a.hashes[type as HashType] && b.hashes[type as HashType]) return type as HashType;
	}
	return undefined;
}

/**
 * Whether deciding this pair needs hashes that the listings did not carry. The caller fetches them
 * (bounded by its checkers) and plans again; the planner itself never does I/O.
 */
export function needsHashes(match: Match, options: PlanOptions): boolean {
	const { source, destination } = match;
	if (!source || !destination || source.isDir || destination.isDir) return false;
	if (match.extraSources || match.extraDestinations || options.ignoreExisting) return false;
	const compare = options.compare ?? 'auto';
	if (compare === 'size' || source.size !== destination.size || source.size < 0) return false;
	if (knownSharedHash(source, destination, options.hashType)) return false;
	if (compare === 'checksum' || options.mode === 'move') return true;
	return options.destination.canSetModTime === false || Math.abs(source.modTime - destination.modTime) > modifyWindow(options);
}

interface Verdict {
	equal: boolean;
	reason: string;
	/** What decided: a hash compares content, size and time only metadata. */
	by?: 'content' | 'metadata';
}

/** The verdict of most pairs of a walk, made once. */
const SAME_SIZE_AND_TIME: Verdict = Object.freeze({ equal: true, reason: 'same size and modification time' });
const SAME_WITHOUT_HASH: Verdict = Object.freeze({ equal: true, reason: 'no shared hash; same size and modification time' });

/** What an unchanged file that a plan only counts is decided as: one action for all of them, never listed. */
const COUNTED_SKIP: PlanAction = Object.freeze({ kind: 'skip', path: '', side: 'destination', reason: 'unchanged' }) as PlanAction;

function formatDelta(ms: number): string {
	const seconds = Math.abs(ms) / 1000;
	return seconds < 120 ? `${seconds.toFixed(3)} s` : `${(seconds / 3600).toFixed(1)} h`;
}

/** rclone's rule: size first, then modification time within the coarser precision, then a shared hash. */
export function compareFiles(source: Entry, destination: Entry, options: PlanOptions): Verdict {
	const compare = options.compare ?? 'auto';
	const hashType = knownSharedHash(source, destination, options.hashType);
	const byHash = (): Verdict =>
		sameHash(hashType!, source.hashes[hashType!]!, destination.hashes[hashType!]!)
			? { equal: true, reason: `same ${hashType} hash`, by: 'content' }
			: { equal: false, reason: `content differs (${hashType})` };
	if (source.rewritten || destination.rewritten) {
		// Comparing size or hash would upload the file again on every run (rclone: --ignore-size --ignore-checksum).
		const delta = source.modTime - destination.modTime;
		return Math.abs(delta) <= modifyWindow(options)
			? { equal: true, reason: 'same modification time (the cloud rewrites this file, so size and hash are not compared)', by: 'metadata' }
			: { equal: false, reason: `modification time differs by ${formatDelta(delta)} (the cloud rewrites this file, so only times are compared)` };
	}
	if (source.size < 0 || destination.size < 0) {
		return hashType ? byHash() : { equal: false, reason: 'size unknown on one side' };
	}
	if (source.size !== destination.size) {
		return { equal: false, reason: `size differs (${source.size} → ${destination.size} bytes on destination)` };
	}
	if (compare === 'size') return { equal: true, reason: 'same size' };
	// A destination that stamps its own times on what it stores: a time difference says nothing.
	if (options.destination.canSetModTime === false) {
		return hashType ? byHash() : { equal: true, reason: 'same size (the destination keeps no modification times)', by: 'metadata' };
	}
	if (hashType && (compare === 'checksum' || options.mode === 'move')) return byHash();
	const delta = source.modTime - destination.modTime;
	if (Math.abs(delta) <= modifyWindow(options)) return compare === 'checksum' ? SAME_WITHOUT_HASH : SAME_SIZE_AND_TIME;
	if (hashType) {
		const verdict = byHash();
		return verdict.equal ? { equal: true, reason: `same content (${hashType}); modification time differs by ${formatDelta(delta)}`, by: 'content' } : verdict;
	}
	return { equal: false, reason: `modification time differs by ${formatDelta(delta)} and no shared hash` };
}

function collisionReason(match: Match, side: 'source' | 'destination'): string {
	const entries = side === 'source' ? [match.source!, ...(match.extraSources ?? [])] : [match.destination!, ...(match.extraDestinations ?? [])];
	const names = entries.map((entry) => `"${entry.path}"`).join(', ');
	if (entries.every((entry) => entry.path === entries[0].path)) {
		return `${entries.length} items named ${names.split(', ')[0]} on the ${side}; rename or remove the duplicates`;
	}
	return `names ${names} on the ${side} collide (case or Unicode form); rename one of them`;
}

function conflictActions(match: Match): PlanAction[] {
	const actions: PlanAction[] = [];
	if (match.extraSources) {
		const reason = collisionReason(match, 'source');
		for (const entry of [match.source!, ...match.extraSources]) {
			actions.push({ kind: 'conflict', path: entry.path, side: 'destination', reason, source: entry, destination: match.destination });
		}
	}
	if (match.extraDestinations) {
		const reason = collisionReason(match, 'destination');
		for (const entry of [match.destination!, ...match.extraDestinations]) {
			actions.push({ kind: 'conflict', path: entry.path, side: 'destination', reason, source: match.source, destination: entry });
		}
	}
	return actions;
}

function skipOf(reason: string, source: Entry, destination: Entry): PlanAction {
	return { kind: 'skip', path: destination.path, side: 'destination', reason, source, destination };
}

/** `listSkips` false: a skip is only counted, so the shared COUNTED_SKIP stands for it (a walk of a million unchanged files makes no action). */
function decide(match: Match, options: PlanOptions, destinationPath: (sourcePath: string) => string, listSkips = true): PlanAction | PlanAction[] | undefined {
	if (match.extraSources || match.extraDestinations) return conflictActions(match);
	const { source, destination } = match;
	const move = options.mode === 'move';
	if (source && destination && source.isDir !== destination.isDir) {
		return {
			kind: 'conflict',
			path: destination.path,
			side: 'destination',
			reason: source.isDir ? 'a folder on the source, a file on the destination' : 'a file on the source, a folder on the destination',
			source,
			destination,
		};
	}
	if (source && !destination) {
		// Worked out once: every new file of a first sync asks for it.
		const path = destinationPath(source.path);
		const problem = options.unstorable?.(path, source.isDir ? undefined : source.size);
		if (problem) return { kind: 'conflict', path, side: 'destination', reason: problem, source };
		if (source.isDir) {
			return options.createEmptyFolders === false ? undefined : { kind: 'mkdir', path, side: 'destination', reason: 'new folder', source };
		}
		return { kind: 'copy', path, side: 'destination', reason: 'new file', source, deleteSourceAfter: move || undefined };
	}
	if (destination && !source) {
		if (options.mode !== 'mirror') {
			if (!listSkips && !destination.isDir) return COUNTED_SKIP;
			return destination.isDir
				? undefined
				: { kind: 'skip', path: destination.path, side: 'destination', reason: `only on the destination; kept (${options.mode} never deletes)`, destination };
		}
		return destination.isDir
			? { kind: 'rmdir', path: destination.path, side: 'destination', reason: 'folder not in the source', destination }
			: { kind: 'delete', path: destination.path, side: 'destination', reason: 'not in the source', destination, absentFrom: destination.path };
	}
	if (!source || !destination || source.isDir) return undefined;

	if (options.ignoreExisting) return listSkips ? skipOf('exists on the destination (ignore existing)', source, destination) : COUNTED_SKIP;
	if ((options.newerOnly || options.mode === 'update') && destination.modTime - source.modTime > modifyWindow(options)) {
		return listSkips ? skipOf(`destination is newer by ${formatDelta(destination.modTime - source.modTime)}`, source, destination) : COUNTED_SKIP;
	}
	const verdict = compareFiles(source, destination, options);
	const tooLarge = !verdict.equal && options.unstorable?.(destination.path, source.size);
	if (tooLarge) return { kind: 'conflict', path: destination.path, side: 'destination', reason: tooLarge, source, destination };
	if (verdict.equal && move && verdict.by !== 'content') {
		// Deleting the source needs proof that the destination holds its bytes: sent again, verified, then deleted.
		return { kind: 'update', path: destination.path, side: 'destination', reason: `${verdict.reason}, but no shared hash proves the content: sent again before the source is deleted`, source, destination, deleteSourceAfter: true };
	}
	if (verdict.equal) {
		if (move) {
			return { kind: 'delete', path: source.path, side: 'source', reason: `identical copy on the destination (${verdict.reason})`, source, destination };
		}
		return listSkips ? skipOf(`identical: ${verdict.reason}`, source, destination) : COUNTED_SKIP;
	}
	return { kind: 'update', path: destination.path, side: 'destination', reason: verdict.reason, source, destination, deleteSourceAfter: move || undefined };
}

const PHASE: Record<ActionKind, number> = { mkdir: 0, copy: 1, update: 1, delete: 2, rmdir: 3, skip: 4, conflict: 4 };

/**
 * Two listings in, a plan out, through the streaming planner a sync uses (both put in walk order,
 * merged, every action listed): for small listings in hand, tests and previews. The same input
 * always gives the same plan.
 */
export async function plan(source: Iterable<Entry>, destination: Iterable<Entry>, options: PlanOptions): Promise<Plan> {
	const spill = new SpillDir();
	try {
		const builder = new PlanBuilder(options, spill, { itemLimit: Number.POSITIVE_INFINITY });
		const caseInsensitive = options.source.caseInsensitive || options.destination.caseInsensitive;
		await marchListings(inWalkOrder([...source]), inWalkOrder([...destination]), caseInsensitive, (match) => builder.add(match));
		return builder.plan();
	} finally {
		await spill.dispose();
	}
}

/**
 * Where a new source path lands: under the destination's existing spelling of each parent folder,
 * so a case-insensitive source never creates "Photos" beside an existing "photos". Made as both
 * listings stream by (walk order): only the folders on the way down to the current name are
 * remembered, since a later name never lies below an earlier branch again.
 */
export class WalkNamer {
	/** Folders on the way down, by walk key (names that fold alike share one frame): each match key with its destination spelling. */
	private readonly frames: Array<{ key: string; names: Map<string, string> }> = [];

	constructor(private readonly caseInsensitive: boolean) {}

	/** Takes the next match in walk order: leaves the branches it is not in, and remembers it when it is a folder. */
	visit(match: Match): void {
		const key = match.walk ?? walkKey((match.source ?? match.destination!).path);
		while (this.frames.length > 0 && !isSameOrBelow(key, this.frames[this.frames.length - 1].key)) this.frames.pop();
		if (!match.source?.isDir && !match.destination?.isDir) return;
		let frame = this.frames[this.frames.length - 1];
		if (frame?.key !== key) this.frames.push((frame = { key, names: new Map() }));
		if (match.destination?.isDir) frame.names.set(match.key, match.destination.path);
	}

	private folderName(sourceFolder: string): string {
		if (sourceFolder === '') return '';
		const key = matchKey(sourceFolder, this.caseInsensitive);
		for (let i = this.frames.length - 1; i >= 0; i--) {
			const name = this.frames[i].names.get(key);
			if (name !== undefined) return name;
		}
		return joinPath(this.folderName(parentPath(sourceFolder)), baseName(sourceFolder));
	}

	/**
	 * The last folder named and its name: the files of a folder come together in walk order, and a new
	 * folder's name took a string per level of its path for each of them. Its name cannot change while
	 * its files come: every folder above it was visited before them.
	 */
	private lastFolder?: { source: string; destination: string };

	readonly destinationPath = (sourcePath: string): string => {
		const folder = parentPath(sourcePath);
		if (this.lastFolder?.source !== folder) this.lastFolder = { source: folder, destination: this.folderName(folder) };
		return joinPath(this.lastFolder.destination, baseName(sourcePath));
	};
}

/** The actions of a streamed plan, by the phase they run in, each a queue that spills to disk beyond its memory limit. */
export interface PlanQueues {
	/** Parents before their children. */
	mkdir: SpillQueue<PlanAction>;
	transfers: SpillQueue<PlanAction>;
	sourceDeletes: SpillQueue<PlanAction>;
	destinationDeletes: SpillQueue<PlanAction>;
	/** In walk order: read backwards, children before their parents. */
	rmdir: SpillQueue<PlanAction>;
	conflicts: SpillQueue<PlanAction>;
}

export interface PlanBuilderOptions {
	/** Actions listed in the plan a report carries; the rest are counted (default 10,000). */
	itemLimit?: number;
	/** Actions each queue holds in memory before spilling, when fewer than fill its buffer (QUEUE_MEMORY_BYTES; tests set it low). */
	memoryLimit?: number;
}

export const DEFAULT_ITEM_LIMIT = 10_000;

/**
 * The planner, fed one match at a time in walk order: it keeps the counts the
 * deletion guards need and queues what must be done, never the unchanged files (only counted), so
 * a no-op run over a million files holds nothing but its counts.
 */
export class PlanBuilder {
	readonly counts: Record<ActionKind, number> = { mkdir: 0, copy: 0, update: 0, delete: 0, rmdir: 0, skip: 0, conflict: 0 };
	sourceFiles = 0;
	destinationFiles = 0;
	bytesToTransfer = 0;
	destinationDeletes = 0;
	readonly queues: PlanQueues;
	private readonly namer: WalkNamer;
	private readonly listed: PlanAction[][] = [[], [], [], [], []];
	private listedCount = 0;
	private readonly unchanged: PlanAction[] = [];
	private readonly itemLimit: number;

	constructor(
		private readonly options: PlanOptions,
		spill: SpillDir,
		settings: PlanBuilderOptions = {},
	) {
		this.namer = new WalkNamer(options.source.caseInsensitive || options.destination.caseInsensitive);
		this.itemLimit = settings.itemLimit ?? DEFAULT_ITEM_LIMIT;
		const queue = (label: string) => new SpillQueue<PlanAction>(spill, label, settings.memoryLimit);
		this.queues = { mkdir: queue('mkdir'), transfers: queue('transfers'), sourceDeletes: queue('source-deletes'), destinationDeletes: queue('destination-deletes'), rmdir: queue('rmdir'), conflicts: queue('conflicts') };
	}

	/**
	 * Matches come in walk order; a file pair whose hashes had to be fetched may come later, as `late`
	 * (it needs no new path, so the folders on the way down are not disturbed).
	 */
	add(match: Match, late = false): Promise<void> | void {
		if (!late) this.namer.visit(match);
		if (match.source && !match.source.isDir) this.sourceFiles += 1 + (match.extraSources?.length ?? 0);
		if (match.destination && !match.destination.isDir) this.destinationFiles += 1 + (match.extraDestinations?.length ?? 0);
		const decided = decide(match, this.options, this.namer.destinationPath, this.unchanged.length < this.itemLimit);
		if (!Array.isArray(decided)) return decided && this.tally(decided);
		return (async () => {
			for (const action of decided) await this.tally(action);
		})();
	}

	/** A promise only when a queue spills. */
	private tally(action: PlanAction): Promise<void> | void {
		this.counts[action.kind]++;
		if ((action.kind === 'copy' || action.kind === 'update') && action.source!.size > 0) this.bytesToTransfer += action.source!.size;
		// Changes are listed first; unchanged files only fill what the changes leave of the limit.
		if (action.kind === 'skip') {
			if (this.unchanged.length < this.itemLimit) this.unchanged.push(action);
		} else if (this.listedCount < this.itemLimit) {
			this.listed[PHASE[action.kind]].push(action);
			this.listedCount++;
		}
		const { queues } = this;
		switch (action.kind) {
			case 'mkdir':
				return queues.mkdir.push(action);
			case 'copy':
			case 'update':
				return queues.transfers.push(action);
			case 'delete':
				if (action.side === 'destination') this.destinationDeletes++;
				return (action.side === 'source' ? queues.sourceDeletes : queues.destinationDeletes).push(action);
			case 'rmdir':
				return queues.rmdir.push(action);
			case 'conflict':
				return queues.conflicts.push(action);
			default:
				// Unchanged files are counted, not kept.
				return;
		}
	}

	/**
	 * The plan a report carries: every count, and up to the item limit of actions, arranged by phase
	 * (folders parents first, transfers, deletions, folders deepest first, then unchanged files and
	 * conflicts): the first changes decided, then unchanged files in what is left.
	 */
	plan(): Plan {
		const [mkdirs, transfers, deletes, rmdirs, rest] = this.listed;
		mkdirs.sort((a, b) => depth(a.path) - depth(b.path));
		rmdirs.sort((a, b) => depth(b.path) - depth(a.path));
		const unchanged = this.unchanged.slice(0, this.itemLimit - this.listedCount);
		const changes = Object.values(this.counts).reduce((sum, count) => sum + count, 0) - this.counts.skip;
		const omitted = { changes: changes - this.listedCount, unchanged: this.counts.skip - unchanged.length };
		return {
			mode: this.options.mode,
			actions: [...mkdirs, ...transfers, ...deletes, ...rmdirs, ...unchanged, ...rest],
			omitted: omitted.changes + omitted.unchanged > 0 ? omitted : undefined,
			counts: { ...this.counts },
			sourceFiles: this.sourceFiles,
			destinationFiles: this.destinationFiles,
			bytesToTransfer: this.bytesToTransfer,
		};
	}
}
