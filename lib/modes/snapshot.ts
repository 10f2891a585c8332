import type { Entry, Provider } from '../core/types';
import { createFilter, type FilterOptions } from '../core/filters';
import { emptyExecutionReport, execute, type ExecutionReport, type RunSettings } from '../engine/executor';
import type { PlanAction } from '../engine/planner';
import { Pacer } from '../core/pacer';
import { CloudSyncError } from '../core/errors';
import { fileStamp, joinPath } from '../core/paths';
import { forEachLimit } from '../core/concurrency';
import { Run, type RunReport } from '../engine/run';
import { recoveryOf, listAll, missingRootIsEmpty, requireComplete, type Listing, type SyncStatus } from '../engine/listing';

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
	/** What the run writes (a dry run: would write), file by file. */
	planned: Array<{ path: string; how: 'upload' | 'copy inside the destination'; reason: string }>;
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
	const [sourceListing, destinationListing] = await Promise.all([listAll(source, sourceFilter, pacer, signal), listSnapshots(destination, options.kind, pacer, signal)]);
	requireComplete({ source: sourceListing, destination: destinationListing }, 'The backup stopped before writing anything', 'nothing was written');

	const snapshots = destinationListing.entries.filter((entry) => entry.isDir && SNAPSHOT_NAME.test(entry.path)).map((entry) => entry.path).sort();
	const folder = fileStamp(started);
	if (snapshots.includes(folder)) throw new CloudSyncError(`A snapshot named "${folder}" already exists`, { hint: 'Run the backup again a second later.' });
	// The newest copy of each path in the snapshots listed: what the next one compares with and copies from.
	const latest = new Map<string, Entry>();
	for (const entry of destinationListing.entries) {
		const slash = entry.path.indexOf('/');
		if (entry.isDir || slash < 0 || !SNAPSHOT_NAME.test(entry.path.slice(0, slash))) continue;
		const relative = entry.path.slice(slash + 1);
		const known = latest.get(relative);
		if (!known || known.path < entry.path) latest.set(relative, entry);
	}
	const window = Math.max(source.capabilities.modTimePrecisionMs, destination.capabilities.modTimePrecisionMs, 1);
	const unchanged = (entry: Entry) => {
		const kept = latest.get(entry.path);
		return kept !== undefined && kept.size === entry.size && Math.abs(kept.modTime - entry.modTime) <= window;
	};

	const work = `${folder}${PARTIAL}`;
	const files = sourceListing.entries.filter((entry) => !entry.isDir);
	const uploads: PlanAction[] = [];
	const copies: Array<{ from: string; to: string }> = [];
	let same = 0;
	for (const entry of files) {
		const target = joinPath(work, entry.path);
		if (!unchanged(entry)) uploads.push({ kind: 'copy', path: target, side: 'destination', reason: latest.has(entry.path) ? 'changed since the last snapshot' : 'new', source: entry });
		else if (options.kind === 'incremental') same++;
		else if (destination.copy) copies.push({ from: latest.get(entry.path)!.path, to: target });
		else uploads.push({ kind: 'copy', path: target, side: 'destination', reason: 'unchanged; this cloud cannot copy by itself', source: entry });
	}
	if (options.kind === 'full') same = copies.length;
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
		planned: [
			...uploads.map((action) => ({ path: action.source!.path, how: 'upload' as const, reason: action.reason })),
			...copies.map(({ from }) => ({ path: from.slice(from.indexOf('/') + 1), how: 'copy inside the destination' as const, reason: `unchanged since ${from.slice(0, from.indexOf('/'))}` })),
		],
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
	const byTarget = new Map(files.map((file) => [joinPath(work, file.path), file]));
	await forEachLimit(copies, options.checkers ?? 8, async ({ from, to }) => {
		const entry = byTarget.get(to)!;
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
	for (const result of report.results) {
		result.path = final(result.path);
		if (result.written) result.written = { ...result.written, path: final(result.written.path) };
	}
	report.removedSnapshots = await prune(destination, [...snapshots, folder], options, started, pacer);
	return finish('success');
}

/**
 * The destination's snapshot folders, and the files of those the run compares with: every snapshot
 * for an incremental run (a file may last have changed in any of them), only the newest for a full
 * one (it holds everything), so a full backup with many kept snapshots does not list them all.
 */
async function listSnapshots(destination: Provider, kind: SnapshotKind, pacer: Pacer, signal?: AbortSignal): Promise<Listing> {
	const top = missingRootIsEmpty(await listAll(destination, createFilter({ skipSystemFiles: false }), pacer, signal, false));
	if (top.error) return top;
	const names = top.entries.filter((entry) => entry.isDir && SNAPSHOT_NAME.test(entry.path)).map((entry) => entry.path).sort();
	const entries = [...top.entries];
	for (const name of kind === 'full' ? names.slice(-1) : names) {
		const inside = await listAll(destination, createFilter({ skipSystemFiles: false }), pacer, signal, true, name);
		entries.push(...inside.entries);
		if (inside.error) return { entries, error: inside.error };
	}
	return { entries };
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
