import type { Entry } from '../core/types';
import { DEFAULT_MEMORY_LIMIT, ExternalSorter, NumberSorter, SpillQueue, type SpillDir } from '../core/spill';
import { compareWalkOrder } from '../core/walkOrder';
import { depth } from '../core/paths';
import type { ActionKind, PlanAction, PlanQueues } from '../engine/planner';
import type { StreamedWork } from '../engine/executor';
import { BaselineWriter, openBaseline, type BaselineEntry } from '../state/state';
import type { Side, TwoWayAction, TwoWayActionKind } from './twoWay';

/**
 * A two-way action as it waits in its queue, in the one-way executor's shape: `side` there is
 * always 'destination' (the side written), `on` is the two-way side, and `source` carries the
 * entry a copy or rename writes (`destination` the one a deletion removes).
 */
export interface QueuedAction extends PlanAction {
	/** Its place in the plan: the report keeps the first ones, by this number. */
	n: number;
	/** The touched name (`TwoWayPlan.touch`) whose decision made it. */
	t: number;
	/** A move's: the touched name it moves away from. */
	tf?: number;
	on: Side;
	/** A copy's origin on the other side, or a rename's old path on this side. */
	from?: string;
	/** A deletion's cause, confirmed by the two-way executor before either side deletes anything (not the one-way `absentFrom`). */
	absent?: string;
}

/** A name an action may change, with both sides as the walk listed it; numbered in walk order. */
interface Touched {
	t: number;
	k: string;
	s?: Entry;
	d?: Entry;
}

/**
 * What one finished action left on one side under key `k`: `e`, or nothing (deleted, or moved away).
 * `t` is the touched name whose decision made it; `k` is that name's key, or a name the action made
 * (a conflict's kept copy).
 */
interface Outcome {
	t: number;
	k: string;
	on: Side;
	e?: Entry;
}

const ORDER: Record<TwoWayActionKind, number> = { mkdir: 0, rename: 1, copy: 2, update: 2, delete: 3, rmdir: 4, conflict: 5 };

/** Names made by actions (conflicts' kept copies) held in memory before a sorted run goes to a file. */
const MADE_RECORDS = 10_000;

function zeroCounts(): Record<ActionKind, number> {
	return { mkdir: 0, copy: 0, update: 0, delete: 0, rmdir: 0, skip: 0, conflict: 0 };
}

/**
 * Pushes that wait for a queue's buffer to reach disk: the planner and the executor push without
 * awaiting (most pushes need no await), and every queue is read only once these are done.
 */
class Writes {
	private readonly pending = new Set<Promise<void>>();
	private failure?: { error: unknown };

	track(push: Promise<void> | void): void {
		if (!push) return;
		const tracked: Promise<void> = push.then(
			() => void this.pending.delete(tracked),
			(error: unknown) => {
				this.failure ??= { error };
				this.pending.delete(tracked);
			},
		);
		this.pending.add(tracked);
	}

	get busy(): boolean {
		return this.pending.size > 0;
	}

	async done(): Promise<void> {
		while (this.pending.size > 0) await Promise.all(this.pending);
		if (this.failure) throw this.failure.error;
	}
}

/**
 * A two-way plan as it is made: its actions queued by phase and side as JSON lines (in memory up to
 * a bound, then on disk), the first `limit` of them kept as objects for the report, and the names
 * they touch logged for the baseline. A first run of a million new files holds about what one of ten
 * thousand holds.
 */
export class TwoWayPlan {
	readonly mkdir: Record<Side, SpillQueue<QueuedAction>>;
	readonly transfers: Record<Side, SpillQueue<QueuedAction>>;
	/** File deletions; folder deletions are in `rmdir`, read backwards (children before parents). */
	readonly deletes: Record<Side, SpillQueue<QueuedAction>>;
	readonly rmdir: Record<Side, SpillQueue<QueuedAction>>;
	readonly renames: SpillQueue<QueuedAction>;
	readonly touched: SpillQueue<Touched>;
	/** Bytes each side's copies will write, for progress. */
	readonly bytes: Record<Side, number> = { source: 0, destination: 0 };
	/** Actions planned, numbered in the order made. */
	count = 0;
	/** Planned actions beyond the first `limit`: counted, not kept in the report. */
	notKept = 0;
	unresolved = 0;
	/** The first `limit` actions, by number: the executor keeps their status current. */
	private readonly kept: TwoWayAction[] = [];
	private readonly writes = new Writes();
	private touches = 0;

	constructor(
		spill: SpillDir,
		private readonly limit: number,
		memoryLimit = DEFAULT_MEMORY_LIMIT,
	) {
		const queues = (label: string) => ({ source: new SpillQueue<QueuedAction>(spill, `${label}-source`, memoryLimit), destination: new SpillQueue<QueuedAction>(spill, `${label}-destination`, memoryLimit) });
		this.mkdir = queues('mkdir');
		this.transfers = queues('transfers');
		this.deletes = queues('deletes');
		this.rmdir = queues('rmdir');
		this.renames = new SpillQueue(spill, 'renames', memoryLimit);
		this.touched = new SpillQueue(spill, 'touched', memoryLimit);
	}

	/**
	 * Plans one action (`carries`: the entry a copy or rename writes, or the one a deletion removes); an
	 * unresolved one is only reported. `t`: the touched name (`nextTouch` for the name being decided)
	 * whose decision makes it; `tf`, a move's name of origin.
	 */
	add(action: Omit<TwoWayAction, 'status'>, status: 'planned' | 'unresolved', t: number, carries?: Entry, tf?: number): void {
		const n = this.count++;
		if (n < this.limit) this.kept.push({ ...action, status });
		else this.notKept++;
		if (status === 'unresolved') {
			this.unresolved++;
			return;
		}
		const removes = action.kind === 'delete' || action.kind === 'rmdir';
		const queued: QueuedAction = {
			kind: action.kind as ActionKind,
			path: action.path,
			side: 'destination',
			reason: action.reason,
			n,
			t,
			tf,
			on: action.side,
			from: action.from,
			absent: action.absentFrom,
			...(removes ? { destination: carries } : { source: carries }),
		};
		if (action.kind === 'copy' || action.kind === 'update') this.bytes[action.side] += Math.max(0, carries?.size ?? 0);
		const queue = action.kind === 'rename' ? this.renames : action.kind === 'rmdir' ? this.rmdir[action.side] : removes ? this.deletes[action.side] : action.kind === 'mkdir' ? this.mkdir[action.side] : this.transfers[action.side];
		this.writes.track(queue.push(queued));
	}

	/** The number the next touched name gets: names are touched in walk order, each once. */
	get nextTouch(): number {
		return this.touches;
	}

	/** Logs a name an action may change, with both sides as listed; returns its number. */
	touch(key: string, source?: Entry, destination?: Entry): number {
		const t = this.touches++;
		this.writes.track(this.touched.push({ t, k: key, s: source, d: destination }));
		return t;
	}

	/** Whether a queue's buffer is on its way to disk: the walk waits for it before going on. */
	get busy(): boolean {
		return this.writes.busy;
	}

	/** Every push on disk or in memory, so the queues may be read; throws what a write to disk threw. */
	written(): Promise<void> {
		return this.writes.done();
	}

	/** The report's status of action `n`, where it is one the report keeps. */
	update(n: number, change: Partial<Pick<TwoWayAction, 'status' | 'error' | 'keptAs'>>): void {
		const action = this.kept[n];
		if (action) Object.assign(action, change);
	}

	/** The actions the report lists: by phase, folders before their contents (deleted folders after). */
	listed(): TwoWayAction[] {
		return [...this.kept].sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || (a.kind === 'rmdir' ? depth(b.path) - depth(a.path) : depth(a.path) - depth(b.path)));
	}

	/** The kept actions of these kinds (the report's view of a phase that did not run). */
	keptOf(...kinds: TwoWayActionKind[]): TwoWayAction[] {
		return this.kept.filter((action) => kinds.includes(action.kind));
	}

	/** File and folder deletions planned on `side`. */
	deletions(side: Side): number {
		return this.deletes[side].length + this.rmdir[side].length;
	}

	/** What the one-way executor runs for `side`: the given queues, the others empty. */
	work(side: Side, queues: Partial<PlanQueues>, none: SpillQueue<PlanAction>): StreamedWork {
		return {
			queues: { mkdir: none, transfers: none, sourceDeletes: none, destinationDeletes: none, rmdir: none, conflicts: none, ...queues },
			counts: zeroCounts(),
			bytesToTransfer: queues.transfers ? this.bytes[side] : 0,
		};
	}
}

/**
 * What finished actions left, as they finish, to settle the next baseline: sorted by the touched name
 * that made them (walk order), in the order they finished (which is their phases' order: folders,
 * renames, copies, deletions), outside V8's heap until read back.
 */
export class Outcomes {
	private readonly sorter: NumberSorter<Outcome>;
	private readonly writes = new Writes();

	constructor(spill: SpillDir) {
		this.sorter = new NumberSorter(spill, 'outcomes');
	}

	get length(): number {
		return this.sorter.count;
	}

	/** `entry` is what `side` now holds under `key`; none: it holds nothing there any more. */
	record(t: number, key: string, side: Side, entry?: Entry): void {
		this.writes.track(this.sorter.add(t, { t, k: key, on: side, e: entry }));
	}

	/** Every outcome held or on disk; throws what a write to disk threw. */
	written(): Promise<void> {
		return this.writes.done();
	}

	async *sorted(): AsyncGenerator<Outcome> {
		await this.writes.done();
		yield* this.sorter.sorted();
	}
}

/** The baseline entry of a name both sides hold as the same kind; undefined otherwise. */
export function baselineEntryOf(source?: Entry, destination?: Entry): BaselineEntry | undefined {
	if (!source || !destination || destination.isDir !== source.isDir) return undefined;
	return {
		path: source.path,
		destinationPath: destination.path === source.path ? undefined : destination.path,
		isDir: source.isDir,
		size: source.isDir ? -1 : destination.size,
		sourceModTime: source.isDir ? 0 : source.modTime,
		destinationModTime: source.isDir ? 0 : destination.modTime,
	};
}

/**
 * The next baseline: the names no action touched as the walk wrote them (`listed`), merged in walk
 * order with the touched ones, on which every finished action is applied in the order they ran. The
 * touched names are logged in walk order and the outcomes sorted by them, both outside V8's heap, so
 * settling a million changes holds about what settling ten does.
 */
export async function settleBaseline(
	listed: BaselineWriter,
	plan: TwoWayPlan,
	outcomes: Outcomes,
	key: (path: string) => string,
	pair: string,
	savedAt: number,
	spill: SpillDir,
	memoryLimit = DEFAULT_MEMORY_LIMIT,
): Promise<BaselineWriter> {
	if (plan.touched.length === 0 && outcomes.length === 0) return listed;
	await plan.written();
	// Settled names come out in walk order of their keys, which is that of their paths but where a key's
	// Unicode form breaks a tie differently (rare): only then are they sorted again by path.
	const settled = new SpillQueue<BaselineEntry>(spill, 'settled', memoryLimit);
	let reordered: ExternalSorter<BaselineEntry> | undefined;
	let last: BaselineEntry | undefined;
	const byPath = (label: string) => new ExternalSorter<BaselineEntry>(spill, label, (a, b) => compareWalkOrder(a.path, b.path), Math.min(memoryLimit, MADE_RECORDS));
	const inOrder = async (entry: BaselineEntry) => {
		if (!reordered && last && compareWalkOrder(last.path, entry.path) > 0) {
			reordered = byPath('settled-paths');
			for await (const earlier of settled) await reordered.add(earlier);
		}
		last = entry;
		if (reordered) await reordered.add(entry);
		else await settled.push(entry);
	};
	/** Names that only an action made (a conflict's kept copy), apart: the walk's entry of such a name, if any, gives way. */
	const made = byPath('made');
	const madeKeys = new Set<string>();

	const results = outcomes.sorted()[Symbol.asyncIterator]();
	let result = await results.next();
	for await (const touched of plan.touched) {
		const sides: Partial<Record<Side, Entry>> = { source: touched.s, destination: touched.d };
		let others: Map<string, Partial<Record<Side, Entry>>> | undefined;
		for (; !result.done && result.value.t <= touched.t; result = await results.next()) {
			const outcome = result.value;
			if (outcome.t < touched.t) continue;
			if (outcome.k === touched.k) sides[outcome.on] = outcome.e;
			else {
				others ??= new Map();
				const elsewhere = others.get(outcome.k) ?? {};
				elsewhere[outcome.on] = outcome.e;
				others.set(outcome.k, elsewhere);
			}
		}
		const entry = baselineEntryOf(sides.source, sides.destination);
		if (entry) await inOrder(entry);
		for (const [name, pairOf] of others ?? []) {
			const madeEntry = baselineEntryOf(pairOf.source, pairOf.destination);
			if (!madeEntry) continue;
			madeKeys.add(name);
			await made.add(madeEntry);
		}
	}

	const next = new BaselineWriter(pair, savedAt, spill);
	const streams: Array<AsyncIterator<BaselineEntry>> = [reordered ? reordered.sorted() : settled[Symbol.asyncIterator](), made.sorted()];
	const heads = await Promise.all(streams.map((stream) => stream.next()));
	/** Writes the settled and made names that come before `path` in walk order (all of them without one). */
	const writeBefore = async (path?: string) => {
		for (;;) {
			let least = -1;
			for (let i = 0; i < heads.length; i++) {
				const head = heads[i];
				if (head.done || (path !== undefined && compareWalkOrder(head.value.path, path) >= 0)) continue;
				if (least < 0 || compareWalkOrder(head.value.path, (heads[least].value as BaselineEntry).path) < 0) least = i;
			}
			if (least < 0) return;
			next.add(heads[least].value as BaselineEntry);
			heads[least] = await streams[least].next();
		}
	};
	const walked = await listed.bytes();
	try {
		for await (const entry of (await openBaseline(walked)).entries()) {
			await writeBefore(entry.path);
			if (!madeKeys.has(key(entry.path))) next.add(entry);
		}
	} finally {
		await walked.dispose();
	}
	await writeBefore();
	return next;
}
