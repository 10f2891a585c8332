/**
 * One measured run of our engine, in a process of its own so that its peak RSS is the sync's alone.
 *   runner.js sync <copy|mirror> <source> <destination>
 *   runner.js twoway <source> <destination> <state file>
 *   runner.js list <endpoint>
 *   runner.js plan <entries> <seed>        (needs --expose-gc)
 * A source, destination or endpoint is a local folder's path or a cloud endpoint's JSON (endpoints.ts).
 * Prints one JSON line: a SyncRun, a ListRun or a PlanRun.
 */
import { readFileSync } from 'node:fs';
import { FileStateStore, sync, twoWaySync, type PlanOptions, type SyncMode } from '../lib';
import { PlanBuilder } from '../lib/engine/planner';
import { marchListings } from '../lib/engine/march';
import { SpillDir } from '../lib/core/spill';
import { openEndpoint, parseEndpoint, type Endpoint } from './endpoints';
import { streamed, syntheticSide } from './listings';

export interface SyncRun {
	kind: 'sync';
	/** Inside the process, from opening the providers to the report; the parent times the whole process. */
	seconds: number;
	status: string;
	transferred: number;
	deleted: number;
	failed: number;
	firstError?: string;
	maxRssKiB: number;
	/** User plus system CPU time of the whole process. */
	cpuSeconds: number;
}

export interface ListRun {
	kind: 'list';
	/** Inside the process, from opening the provider to the last entry. */
	seconds: number;
	files: number;
	folders: number;
	maxRssKiB: number;
	cpuSeconds: number;
}

export interface PlanRun {
	kind: 'plan';
	/** Merging both streamed listings and deciding every pair, actions queued (and spilled) as a sync would. */
	seconds: number;
	/** Source and destination listing lengths. */
	entries: [number, number];
	matches: number;
	/** Actions queued for the executor (unchanged files are counted, not queued). */
	actions: number;
	/** Live heap once planned: what the plan holds, its queues' in-memory part. */
	heapMiB: number;
	maxRssKiB: number;
	cpuSeconds: number;
}

export type RunnerResult = SyncRun | ListRun | PlanRun;

const MiB = 1024 * 1024;

type Measurement<Run extends RunnerResult> = Omit<Run, 'maxRssKiB' | 'cpuSeconds'>;

async function runSync(mode: SyncMode, sourceEndpoint: Endpoint, destinationEndpoint: Endpoint): Promise<Measurement<SyncRun>> {
	const started = performance.now();
	const source = await openEndpoint(sourceEndpoint, 'source');
	const destination = await openEndpoint(destinationEndpoint, 'destination');
	const report = await sync(source, destination, { mode, transfers: 4, checkers: 8 });
	return {
		kind: 'sync',
		seconds: (performance.now() - started) / 1000,
		status: report.status,
		transferred: report.added + report.updated,
		deleted: report.deleted,
		failed: report.failed,
		firstError: report.errors[0]?.message ?? report.refusal,
	};
}

/** A two-way run whose state is a file outside both trees (no lock: the trees are cached data sets shared by other cases). */
async function runTwoWay(sourceEndpoint: Endpoint, destinationEndpoint: Endpoint, stateFile: string): Promise<Measurement<SyncRun>> {
	const started = performance.now();
	const source = await openEndpoint(sourceEndpoint, 'source');
	const destination = await openEndpoint(destinationEndpoint, 'destination');
	// Streamed from and to its file, as the node's store on the destination does for a tree this large (never one string).
	const state = new FileStateStore(stateFile);
	const report = await twoWaySync(source, destination, { state, pair: 'bench', lock: false, transfers: 4, checkers: 8 });
	const counts = [report.toDestination, report.toSource];
	return {
		kind: 'sync',
		seconds: (performance.now() - started) / 1000,
		status: report.status,
		transferred: counts.reduce((sum, side) => sum + side.added + side.updated, 0),
		deleted: counts.reduce((sum, side) => sum + side.deleted, 0),
		failed: report.failed,
		firstError: report.errors[0]?.message ?? report.refusal,
	};
}

/** The whole tree, entry by entry, as a sync lists it; nothing is kept, so memory stays the provider's. */
async function runList(endpoint: Endpoint): Promise<Measurement<ListRun>> {
	const started = performance.now();
	const provider = await openEndpoint(endpoint, 'source');
	let files = 0;
	let folders = 0;
	for await (const entry of provider.list('', { recursive: true })) {
		if (entry.isDir) folders++;
		else files++;
	}
	return { kind: 'list', seconds: (performance.now() - started) / 1000, files, folders };
}

/**
 * This process's own peak RSS, in KiB. Linux's ru_maxrss (process.resourceUsage().maxRSS) also counts
 * the parent's memory: the child starts as a copy of the parent, whose peak is recorded when exec
 * replaces it, so a runner spawned by a parent that holds an emulator's files would report the
 * parent's size. VmHWM is the high-water mark of this program's memory since exec; ru_maxrss is the
 * fallback where /proc is missing.
 */
function peakRssKiB(): number {
	try {
		const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
		if (match) return Number(match[1]);
	} catch {
		// Not Linux: no /proc.
	}
	return process.resourceUsage().maxRSS;
}

function collectedHeap(): number {
	const gc = (globalThis as { gc?: () => void }).gc;
	if (!gc) throw new Error('the plan runner needs node --expose-gc');
	gc();
	return process.memoryUsage().heapUsed;
}

/** Case 4: the streaming planner on two synthetic listings generated as they are read, as a sync plans two walks. */
async function runPlan(entries: number, seed: number): Promise<Measurement<PlanRun>> {
	const options: PlanOptions = {
		mode: 'mirror',
		hashType: 'sha1',
		createEmptyFolders: true,
		source: { caseInsensitive: false, modTimePrecisionMs: 1 },
		destination: { caseInsensitive: false, modTimePrecisionMs: 1 },
	};
	const baseline = collectedHeap();
	const spill = new SpillDir();
	const counted = { source: 0, destination: 0 };
	const side = (name: 'source' | 'destination') =>
		streamed((function* () {
			for (const entry of syntheticSide(entries, seed, name)) {
				counted[name]++;
				yield entry;
			}
		})());
	try {
		const started = performance.now();
		const builder = new PlanBuilder(options, spill);
		let matches = 0;
		await marchListings(side('source'), side('destination'), false, (match) => {
			matches++;
			return builder.add(match);
		});
		builder.plan();
		const planned = performance.now();
		const heap = collectedHeap();
		const queued = Object.values(builder.queues).reduce((sum, queue) => sum + queue.length, 0);
		return {
			kind: 'plan',
			seconds: (planned - started) / 1000,
			entries: [counted.source, counted.destination],
			matches,
			actions: queued,
			heapMiB: (heap - baseline) / MiB,
		};
	} finally {
		await spill.dispose();
	}
}

async function main(args: string[]): Promise<void> {
	const [command, ...rest] = args;
	let result: Measurement<RunnerResult>;
	if (command === 'sync' && rest.length === 3) {
		result = await runSync(rest[0] as SyncMode, parseEndpoint(rest[1]), parseEndpoint(rest[2]));
	} else if (command === 'twoway' && rest.length === 3) {
		result = await runTwoWay(parseEndpoint(rest[0]), parseEndpoint(rest[1]), rest[2]);
	} else if (command === 'list' && rest.length === 1) {
		result = await runList(parseEndpoint(rest[0]));
	} else if (command === 'plan' && rest.length === 2) {
		result = await runPlan(Number(rest[0]), Number(rest[1]));
	} else {
		throw new Error(`usage: runner.js sync <mode> <source> <destination> | runner.js twoway <source> <destination> <state> | runner.js list <endpoint> | runner.js plan <entries> <seed>; got ${args.join(' ')}`);
	}
	const usage = process.resourceUsage();
	const cpuSeconds = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
	// The run is over once its result is out: idle keep-alive connections of fetch's pool would hold the process open for seconds.
	process.stdout.write(`${JSON.stringify({ ...result, maxRssKiB: peakRssKiB(), cpuSeconds })}\n`, () => process.exit());
}

main(process.argv.slice(2)).catch((error: unknown) => {
	console.error(error);
	process.exitCode = 1;
});
