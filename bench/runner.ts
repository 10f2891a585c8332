/**
 * One measured run of our engine, in a process of its own so that its peak RSS is the sync's alone.
 *   runner.js sync <copy|mirror> <source> <destination>
 *   runner.js plan <entries> <seed>        (needs --expose-gc)
 * Prints one JSON line: a SyncRun or a PlanRun.
 */
import { LocalProvider, matchListings, planMatches, sync, type PlanOptions, type SyncMode } from '../lib';
import { syntheticListings } from './listings';

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

export interface PlanRun {
	kind: 'plan';
	seconds: number;
	matchSeconds: number;
	planSeconds: number;
	/** Source and destination listing lengths. */
	entries: [number, number];
	matches: number;
	actions: number;
	/** Live heap once planned: the listings, the matches and the plan. */
	heapMiB: number;
	/** The part of heapMiB that the listings alone take. */
	listingsHeapMiB: number;
	maxRssKiB: number;
	cpuSeconds: number;
}

export type RunnerResult = SyncRun | PlanRun;

const MiB = 1024 * 1024;

async function runSync(mode: SyncMode, sourceRoot: string, destinationRoot: string): Promise<Omit<SyncRun, 'maxRssKiB' | 'cpuSeconds'>> {
	const started = performance.now();
	const source = await LocalProvider.open(sourceRoot);
	const destination = await LocalProvider.open(destinationRoot, { createRoot: true });
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

function collectedHeap(): number {
	const gc = (globalThis as { gc?: () => void }).gc;
	if (!gc) throw new Error('the plan runner needs node --expose-gc');
	gc();
	return process.memoryUsage().heapUsed;
}

function runPlan(entries: number, seed: number): Omit<PlanRun, 'maxRssKiB' | 'cpuSeconds'> {
	const options: PlanOptions = {
		mode: 'mirror',
		hashType: 'sha1',
		createEmptyFolders: true,
		source: { caseInsensitive: false, modTimePrecisionMs: 1 },
		destination: { caseInsensitive: false, modTimePrecisionMs: 1 },
	};
	const baseline = collectedHeap();
	const { source, destination } = syntheticListings(entries, seed);
	const listed = collectedHeap();
	const started = performance.now();
	const matches = matchListings(source, destination, options);
	const matched = performance.now();
	const plan = planMatches(matches, options);
	const planned = performance.now();
	const heap = collectedHeap();
	// The counts are read after the last collection, which keeps everything measured alive through it.
	return {
		kind: 'plan',
		seconds: (planned - started) / 1000,
		matchSeconds: (matched - started) / 1000,
		planSeconds: (planned - matched) / 1000,
		entries: [source.length, destination.length],
		matches: matches.size,
		actions: plan.actions.length,
		heapMiB: (heap - baseline) / MiB,
		listingsHeapMiB: (listed - baseline) / MiB,
	};
}

async function main(args: string[]): Promise<void> {
	const [command, ...rest] = args;
	let result: Omit<RunnerResult, 'maxRssKiB' | 'cpuSeconds'>;
	if (command === 'sync' && rest.length === 3) {
		result = await runSync(rest[0] as SyncMode, rest[1], rest[2]);
	} else if (command === 'plan' && rest.length === 2) {
		result = runPlan(Number(rest[0]), Number(rest[1]));
	} else {
		throw new Error(`usage: runner.js sync <mode> <source> <destination> | runner.js plan <entries> <seed>; got ${args.join(' ')}`);
	}
	const usage = process.resourceUsage();
	const cpuSeconds = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
	console.log(JSON.stringify({ ...result, maxRssKiB: usage.maxRSS, cpuSeconds }));
}

main(process.argv.slice(2)).catch((error: unknown) => {
	console.error(error);
	process.exitCode = 1;
});
