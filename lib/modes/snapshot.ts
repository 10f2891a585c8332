import type { Entry, Provider } from '../core/types';
import { createFilter, type Filter, type FilterOptions } from '../core/filters';
import { SpillDir, SpillQueue } from '../core/spill';
import { marchGroups } from '../engine/march';
import { emptyExecutionReport, execute, type ExecutionReport, type RunSettings } from '../engine/executor';
import { DEFAULT_ITEM_LIMIT, type PlanAction } from '../engine/planner';
import { Pacer } from '../core/pacer';
import { CloudSyncError } from '../core/errors';
import { fileStamp, joinPath } from '../core/paths';
import { forEachLimitStream } from '../core/concurrency';
import { Run, type RunReport } from '../engine/run';
import { recoveryOf, listAll, missingRootIsEmpty, requireComplete, WalkListing, type SyncStatus } from '../engine/listing';

/** Incremental: each run writes a dated folder holding what changed since the last run. Full: each run writes a complete dated copy. */
export type SnapshotKind = 'incremental' | 'full';

export interface SnapshotOptions extends RunSettings {
	kind: SnapshotKind;
	filter?: FilterOptions;
	/** Keep the newest N snapshots (and any the day rule keeps); older ones are deleted after a successful run. */
	keepLast?: number;
	/** Keep the snapshots of the last D days (and any the count rule keeps). */
	keepDays?: number;
	dryRun?: boolean;
	/** Files listed in `planned`; the rest are counted in `plannedOmitted` (default 10,000). */
	itemLimit?: number;
	/** Entries held in memory per sorted listing or queue before a temporary file takes the rest (tests set it low). */
	memoryLimit?: number;
}

export interface SnapshotReport extends ExecutionReport, RunReport {
	errors: ExecutionReport['errors'];
	mode: 'incremental' | 'fullBackup';
	dryRun: boolean;
	/** The dated folder this run wrote, relative to the destination; empty when an incremental run found nothing new. */
	folder: string;
	/** Files in the new snapshot: uploaded from the source plus copied inside the destination. */
	files: number;
	/** Unchanged files a full backup copied from an earlier snapshot without moving their bytes through n8n. */
	copiedServerSide: number;
	/** Source files already held, unchanged, by an earlier snapshot (an incremental run leaves them out). */
	unchanged: number;
	/** Earlier snapshots removed by the retention rules. */
	removedSnapshots: string[];
	/** Where the snapshots this run pruned can be recovered from. */
	recovery: Partial<Record<'source' | 'destination', string>>;
	/** What the run writes (a dry run: would write), file by file, up to the item limit. */
	planned: Array<{ path: string; how: 'upload' | 'copy inside the destination'; reason: string }>;
	/** Files written but not listed in `planned`, beyond the item limit. */
	plannedOmitted?: number;
	startedAt: string;
	finishedAt: string;
	durationMs: number;
}

const SNAPSHOT_NAME = /^\d{4}-\d{2}-\d{2} \d{2}-\d{2}-\d{2}$/;
const PARTIAL = '.partial';
const DAY = 86_400_000;

/** The time a snapshot folder was written, read back from its name. */
function snapshotTime(name: string): number {
	const [date, time] = name.split(' ');
	return Date.parse(`${date}T${time.replace(/-/g, ':')}Z`);
}

/**
 * Writes a new dated folder on the destination. It is filled under a `.partial` name and renamed
 * when every file is in, so a dated folder is always complete; a failed run leaves the partial one
 * for inspection and never triggers retention.
 */
export async function snapshotBackup(source: Provider, destination: Provider, options: SnapshotOptions): Promise<SnapshotReport> {
	const run = new Run(source, destination, options);
	const { started, pacer } = run;
	const { signal } = options;
	// A backup never changes its source, so it may live inside it: that folder is then left out of the source.
	const nested = await run.checkFolders('The backup', 'allow');
	const sourceFilter = createFilter({ ...options.filter, reserved: nested ? [nested] : [] });
	const top = missingRootIsEmpty(await listAll(destination, createFilter({ skipSystemFiles: false }), pacer, signal, false));
	requireComplete({ source: { entries: [] }, destination: top }, 'The backup stopped before writing anything', 'nothing was written');
	const snapshots = top.entries.filter((entry) => entry.isDir && SNAPSHOT_NAME.test(entry.path)).map((entry) => entry.path).sort();
	const folder = fileStamp(started);
	if (snapshots.includes(folder)) throw new CloudSyncError(`A snapshot named "${folder}" already exists`, { hint: 'Run the backup again a second later.' });

	const spill = new SpillDir();
	try {
		return await walkAndBackUp(run, source, destination, options, sourceFilter, snapshots, folder, spill);
	} finally {
		await spill.dispose();
	}
}

/** A snapshot's files with their paths inside it, in walk order. */
async function* inside(name: string, walk: WalkListing): AsyncGenerator<{ path: string; entry: Entry }> {
	for await (const entry of walk) if (entry.path !== name) yield { path: entry.path.slice(name.length + 1), entry };
}

async function walkAndBackUp(run: Run, source: Provider, destination: Provider, options: SnapshotOptions, sourceFilter: Filter, snapshots: string[], folder: string, spill: SpillDir): Promise<SnapshotReport> {
	const { started, pacer } = run;
	const { signal } = options;
	const walk = (provider: Provider, filter: Filter, path?: string) => new WalkListing(provider, filter, pacer, signal, { path, memoryLimit: options.memoryLimit, spill });
	// The snapshots compared with: every one for an incremental run (a file may last have changed in any of them), only the newest for a full one (it holds everything).
	const compared = options.kind === 'full' ? snapshots.slice(-1) : snapshots;
	const sourceWalk = walk(source, sourceFilter);
	const snapshotWalks = compared.map((name) => walk(destination, createFilter({ skipSystemFiles: false }), name));
	const window = Math.max(source.capabilities.modTimePrecisionMs, destination.capabilities.modTimePrecisionMs, 1);
	const work = `${folder}${PARTIAL}`;
	const uploads: PlanAction[] = [];
	const copies = new SpillQueue<{ from: string; to: string; entry: Entry }>(spill, 'copies', options.memoryLimit);
	const planned: SnapshotReport['planned'] = [];
	const itemLimit = options.itemLimit ?? DEFAULT_ITEM_LIMIT;
	let plannedOmitted = 0;
	const plan = (item: SnapshotReport['planned'][number]) => {
		if (planned.length < itemLimit) planned.push(item);
		else plannedOmitted++;
	};
	let same = 0;
	// An incremental snapshot may hold the only copy of a file unchanged since: before retention lets that snapshot go, the copy goes
	// into the new one. Which snapshots go depends on whether this run writes one (then it counts among the kept); those that go
	// even if it does not make it write one.
	const expiringAnyway = new Set(options.kind === 'incremental' ? expired(snapshots, options, started) : []);
	const expiringIfWritten = new Set(options.kind === 'incremental' ? expired([...snapshots, folder], options, started) : []);
	const rescues = new SpillQueue<{ from: string; to: string; entry: Entry }>(spill, 'rescues', options.memoryLimit);
	let mustWrite = false;
	const snapshotOf = (path: string) => path.slice(0, path.indexOf('/'));
	const keepUnchanged = async (item: { from: string; to: string; entry: Entry }, why = '') => {
		if (destination.copy) {
			await copies.push(item);
			plan({ path: item.entry.path, how: 'copy inside the destination', reason: `unchanged since ${snapshotOf(item.from)}${why}` });
		} else {
			const reason = 'unchanged; this cloud cannot copy by itself';
			uploads.push({ kind: 'copy', path: item.to, side: 'destination', reason, source: item.entry });
			plan({ path: item.entry.path, how: 'upload', reason });
		}
	};
	const streams = [sourceWalk, ...snapshotWalks.map((each, i) => inside(compared[i], each))];
	const pathOf = (value: Entry | { path: string }) => value.path;
	await marchGroups<Array<Entry | { path: string; entry: Entry }>>(streams, pathOf, ['source', ...compared], async ([files, ...kept]) => {
		for (const entry of files as Entry[]) {
			if (entry.isDir) continue;
			// The newest copy of this path among the snapshots: what this one compares with and copies from.
			let latest: Entry | undefined;
			for (const group of kept as Array<Array<{ path: string; entry: Entry }>>) {
				for (const candidate of group) {
					if (candidate.path === entry.path && !candidate.entry.isDir && (!latest || latest.path < candidate.entry.path)) latest = candidate.entry;
				}
			}
			const target = joinPath(work, entry.path);
			const unchanged = latest !== undefined && latest.size === entry.size && Math.abs(latest.modTime - entry.modTime) <= window;
			if (!unchanged) {
				const reason = latest ? 'changed since the last snapshot' : 'new';
				uploads.push({ kind: 'copy', path: target, side: 'destination', reason, source: entry });
				plan({ path: entry.path, how: 'upload', reason });
			} else if (options.kind === 'full') {
				await keepUnchanged({ from: latest!.path, to: target, entry });
			} else if (expiringIfWritten.has(snapshotOf(latest!.path))) {
				await rescues.push({ from: latest!.path, to: target, entry });
				if (expiringAnyway.has(snapshotOf(latest!.path))) mustWrite = true;
			} else {
				same++;
			}
		}
	});
	requireComplete(
		{ source: { entries: [], error: sourceWalk.error }, destination: { entries: [], error: snapshotWalks.find((each) => each.error)?.error } },
		'The backup stopped before writing anything',
		'nothing was written',
	);
	if (options.kind === 'full') same = copies.length;
	if (mustWrite || uploads.length + copies.length > 0) {
		for await (const rescue of rescues) await keepUnchanged(rescue, `, a snapshot retention removes`);
	} else {
		same += rescues.length;
	}
	const writes = uploads.length + copies.length;
	const written = writes > 0 || options.kind === 'full';

	const report: SnapshotReport = {
		...emptyExecutionReport(),
		notes: [],
		recovery: {},
		mode: options.kind === 'full' ? 'fullBackup' : 'incremental',
		status: 'planned',
		dryRun: options.dryRun ?? false,
		folder: written ? folder : '',
		files: writes,
		copiedServerSide: 0,
		unchanged: same,
		removedSnapshots: [],
		planned: [...planned.filter((item) => item.how === 'upload'), ...planned.filter((item) => item.how !== 'upload')],
		plannedOmitted: plannedOmitted > 0 ? plannedOmitted : undefined,
		startedAt: new Date(started).toISOString(),
		finishedAt: '',
		durationMs: 0,
	};
	const finish = (status: SyncStatus) => {
		if (report.removedSnapshots.length > 0 && !options.dryRun) report.recovery = recoveryOf({ destination });
		return run.finish(report, status);
	};
	if (!options.dryRun) await run.tidy(destination);
	if (options.dryRun) {
		report.removedSnapshots = expired([...snapshots, ...(written ? [folder] : [])], options, started);
		return finish('planned');
	}
	if (!written) {
		report.removedSnapshots = await prune(destination, snapshots, options, started, pacer);
		return finish('success');
	}

	await pacer.run(() => destination.mkdir(work), signal);
	await forEachLimitStream(copies, options.checkers ?? 8, async ({ from, to, entry }) => {
		try {
			const copied = await pacer.run(() => destination.copy!(from, to), signal);
			if (copied.size !== entry.size) throw new CloudSyncError(`${to}: the copy holds ${copied.size} bytes, the source ${entry.size}`);
			report.copiedServerSide++;
		} catch {
			// Sent from the source instead: a copy that failed inside the cloud is no reason to miss a file.
			uploads.push({ kind: 'copy', path: to, side: 'destination', reason: 'the copy inside the destination failed', source: entry });
		}
	}, signal);
	const executed = await execute({ actions: uploads }, source, destination, { transfers: options.transfers, checkers: options.checkers, signal, onProgress: options.onProgress, pacer });
	Object.assign(report, executed);
	if (signal?.aborted) return finish('cancelled');
	if (executed.failed > 0) return finish(executed.added > 0 ? 'partial' : 'failed');
	await pacer.run(() => destination.move(work, folder), signal);
	// Each file now lives in the dated folder: report where it is, not the name it was written under.
	const final = (path: string) => (path.startsWith(`${work}/`) ? joinPath(folder, path.slice(work.length + 1)) : path);
	for (const result of report.results) result.path = final(result.path);
	report.removedSnapshots = await prune(destination, [...snapshots, folder], options, started, pacer);
	return finish('success');
}

/** The snapshots the retention rules let go: neither among the newest `keepLast` nor younger than `keepDays`; never the newest. */
function expired(snapshots: string[], options: SnapshotOptions, now: number): string[] {
	const { keepLast, keepDays } = options;
	if (!keepLast && !keepDays) return [];
	const newestFirst = [...snapshots].sort().reverse();
	return newestFirst.filter((name, index) => {
		if (index === 0) return false;
		if (keepLast && index < keepLast) return false;
		if (keepDays && snapshotTime(name) >= now - keepDays * DAY) return false;
		return true;
	});
}

async function prune(destination: Provider, snapshots: string[], options: SnapshotOptions, now: number, pacer: Pacer): Promise<string[]> {
	const removed: string[] = [];
	for (const name of expired(snapshots, options, now)) {
		await pacer.run(() => destination.delete(name, { recursive: true }), options.signal);
		removed.push(name);
	}
	return removed;
}
