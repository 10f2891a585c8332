/**
 * Cases 5 and 6: our engine against the Google Drive, Dropbox and OneDrive emulators of test/emulators/, which
 * rclone cannot talk to, so they are reported apart from the rclone comparison. The emulator runs in
 * this process and every measured step in a runner process of its own: the runner's peak RSS is the
 * sync's, never the emulator's in-memory copy of the files, and the emulator's request log counts
 * exactly the calls that step made. Each run starts a fresh emulator, so runs do not see each
 * other's files and a large file is freed once its run is over.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { endpointArgument, type Cloud } from './endpoints';
import { startEmulator } from './emulators';
import { highest, median, medianOf, printTable, round, type Targets } from './figures';
import { describeRun, expectSuccess, runOurs, type Measured } from './processes';
import { printProfile, profileFlags } from './profile';
import type { DataSet } from './generate';
import type { ListRun, RunnerResult } from './runner';

const MiB = 1024 * 1024;
export const CLOUDS: Cloud[] = ['google-drive', 'dropbox', 'onedrive'];

/** Case 5: what listing, copying and re-syncing many small files costs in API calls. */
export interface CloudCallsCase {
	kind: 'cloud-calls';
	id: number;
	name: string;
	files: number;
	/** How the files are described in row names, such as "1-64 KiB". */
	sizes: string;
	data: () => Promise<DataSet>;
	targets: Targets;
}

/** Case 6: one large file up to each cloud and back down, in memory that does not grow with it. */
export interface CloudBigFileCase {
	kind: 'cloud-big-file';
	id: number;
	name: string;
	bytes: number;
	data: () => Promise<DataSet>;
	targets: Targets;
}

export type CloudCase = CloudCallsCase | CloudBigFileCase;

export interface CloudContext {
	runs: number;
	/** Scratch space for downloads, emptied by the caller. */
	workDir: string;
	profileDir?: string;
}

/**
 * A row of cases 5–6 in bench/results/latest.json. There is no rclone figure, so there are no rclone
 * keys; the keys cases 1–4 also have mean the same there: the runner process's wall time (median of
 * the runs), its CPU time (median) and its peak RSS (highest), the emulator being in another process.
 */
export interface CloudRow {
	/** Unique across the file: the case number, the cloud and the step, such as "5b dropbox mirror …". */
	case: string;
	cloud: Cloud;
	ours_s: number;
	ours_cpu_s: number | null;
	ours_peak_rss_mib: number;
	/** Files the step lists, copies or compares (folders are not counted). */
	files: number;
	/** Requests the emulator received during the step (median of the runs): token requests and opening the root included. */
	api_calls: number;
	/** api_calls per 1,000 files (case 5); null when the step moves one large file (case 6). */
	api_calls_per_1000: number | null;
	/** Bytes moved per second of wall time (case 6); null for case 5. */
	mib_per_s: number | null;
	/** The last run's requests by route ("POST /2/files/upload": 12), to see where the calls go. */
	api_calls_by_route: Record<string, number>;
}

/** One measured step: a runner process working on the emulator's folder. */
interface Step {
	/** The row's number within its case, such as "5b". */
	id: string;
	/** A word for the step in each run's line. */
	label: string;
	/** What the step does, for its row's name. */
	what: string;
	files: number;
	/** Set for a step judged by its throughput, which moves this many bytes; unset for one judged by its calls per file. */
	bytes?: number;
	/** The runner's arguments, given the emulator folder as a command-line argument. */
	args(folder: string): string[];
	/** Prepares local state before each run of the step. */
	before?(): Promise<void>;
	/** Throws unless the run did what the step must do. */
	check(result: RunnerResult): Promise<void>;
}

interface StepRun extends Measured {
	calls: Map<string, number>;
}

const stepName = (step: Step, cloud: Cloud) => `${step.id} ${cloud} ${step.what}`;
const total = (calls: Map<string, number>) => [...calls.values()].reduce((sum, count) => sum + count, 0);

function expectListed(result: RunnerResult, files: number): void {
	const listed = result as ListRun;
	if (listed.kind !== 'list' || listed.files !== files) throw new Error(`the listing found ${listed.files} files, expected ${files}`);
}

/** The download holds every file of the source, each of the same size (its content was checked by hash during the sync). */
async function expectSameFiles(source: string, copy: string): Promise<void> {
	for (const name of await fs.readdir(source)) {
		const [original, copied] = await Promise.all([fs.stat(nodePath.join(source, name)), fs.stat(nodePath.join(copy, name))]);
		if (original.size !== copied.size) throw new Error(`${name} came back with ${copied.size} bytes, not ${original.size}`);
	}
}

/**
 * Case 5's steps, in the order they run: the mirror fills the empty folder, the same mirror again has
 * nothing to do, and the listing then reads the tree the mirror wrote (which spares seeding one).
 */
function callSteps(bench: CloudCallsCase, source: string): Step[] {
	const { files } = bench;
	const check = (transfers: number) => async (result: RunnerResult) => {
		expectSuccess(result, transfers);
	};
	const mirror = (folder: string) => ['sync', 'mirror', source, folder];
	return [
		{ id: '5b', label: 'mirror', what: `mirror ${files} files of ${bench.sizes} into an empty folder`, files, args: mirror, check: check(files) },
		{ id: '5c', label: 'no-op', what: `no-op mirror of ${files} files`, files, args: mirror, check: check(0) },
		{ id: '5a', label: 'list', what: `list ${files} files`, files, args: (folder) => ['list', folder], check: async (result) => expectListed(result, files) },
	];
}

/** Case 6's steps: the folder with the large file goes up into the empty cloud folder, then comes back down into an empty local one. */
function bigFileSteps(bench: CloudBigFileCase, source: string, workDir: string): Step[] {
	const size = `${bench.bytes / MiB} MiB`;
	const download = nodePath.join(workDir, `case${bench.id}-download`);
	return [
		{
			id: '6a',
			label: 'upload',
			what: `upload one ${size} file`,
			files: 1,
			bytes: bench.bytes,
			args: (folder) => ['sync', 'copy', source, folder],
			check: async (result) => {
				expectSuccess(result, 1);
			},
		},
		{
			id: '6b',
			label: 'download',
			what: 'download it back',
			files: 1,
			bytes: bench.bytes,
			before: () => fs.rm(download, { recursive: true, force: true }),
			args: (folder) => ['sync', 'copy', folder, download],
			check: async (result) => {
				expectSuccess(result, 1);
				await expectSameFiles(source, download);
			},
		},
	];
}

function describeStep(step: Step, run: StepRun): string {
	return `${step.label} ${describeRun(run)}, ${total(run.calls)} calls`;
}

function byRoute(calls: Map<string, number>): Record<string, number> {
	return Object.fromEntries([...calls].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

function cloudRow(cloud: Cloud, step: Step, runs: StepRun[]): CloudRow {
	const seconds = medianOf(runs.map((run) => run.seconds), 3)!;
	const calls = median(runs.map((run) => total(run.calls)));
	return {
		case: stepName(step, cloud),
		cloud,
		ours_s: seconds,
		ours_cpu_s: medianOf(runs.map((run) => run.cpuSeconds), 2),
		ours_peak_rss_mib: highest(runs.map((run) => run.peakRssMiB))!,
		files: step.files,
		api_calls: calls,
		api_calls_per_1000: step.bytes === undefined ? round((calls / step.files) * 1000, 1) : null,
		mib_per_s: step.bytes === undefined ? null : round(step.bytes / MiB / seconds, 1),
		api_calls_by_route: byRoute(runs[runs.length - 1].calls),
	};
}

/** One run of every step, in order, against a fresh emulator of `cloud`; `profileName` names a step's CPU profile. */
async function runSteps(cloud: Cloud, steps: Step[], profileName: (step: number) => string, profileDir?: string): Promise<StepRun[]> {
	const emulator = await startEmulator(cloud);
	try {
		const folder = endpointArgument(emulator.newFolder('bench'));
		const stepRuns: StepRun[] = [];
		for (const [index, step] of steps.entries()) {
			await step.before?.();
			emulator.resetLog();
			const measured = await runOurs(step.args(folder), profileFlags(profileDir, profileName(index)));
			await step.check(measured.result);
			stepRuns.push({ ...measured, calls: emulator.requestsByRoute() });
		}
		return stepRuns;
	} finally {
		await emulator.stop();
	}
}

/** Runs every step with each cloud, `context.runs` times, alternating the clouds; one row per cloud and step. */
async function measureSteps(id: number, steps: Step[], context: CloudContext): Promise<CloudRow[]> {
	const runs = new Map(CLOUDS.map((cloud) => [cloud, steps.map((): StepRun[] => [])]));
	const profileName = (cloud: Cloud, run: number) => (step: number) => `case${id}-${cloud}-step${step + 1}-run${run}`;
	for (let run = 1; run <= context.runs; run++) {
		for (const cloud of CLOUDS) {
			const stepRuns = await runSteps(cloud, steps, profileName(cloud, run), context.profileDir);
			stepRuns.forEach((stepRun, index) => runs.get(cloud)![index].push(stepRun));
			console.log(`  run ${run}/${context.runs} ${cloud}: ${stepRuns.map((stepRun, index) => describeStep(steps[index], stepRun)).join(' | ')}`);
		}
	}
	for (const cloud of CLOUDS) for (const index of steps.keys()) await printProfile(context.profileDir, profileName(cloud, 1)(index));
	// Rows read per cloud, steps in the order of their ids (5a, 5b, 5c), whatever order they ran in.
	const byId = [...steps.keys()].sort((a, b) => steps[a].id.localeCompare(steps[b].id));
	return CLOUDS.flatMap((cloud) => byId.map((index) => cloudRow(cloud, steps[index], runs.get(cloud)![index])));
}

/** Prints where each step's calls went, as the last run's request log counted them. */
function printRoutes(rows: CloudRow[]): void {
	for (const row of rows) {
		const routes = Object.entries(row.api_calls_by_route).map(([route, count]) => `${count} ${route}`);
		console.log(`  ${row.case}: ${routes.join(', ')}`);
	}
}

export async function measureCloudCase(bench: CloudCase, context: CloudContext): Promise<CloudRow[]> {
	const data = await bench.data();
	const steps = bench.kind === 'cloud-calls' ? callSteps(bench, data.source) : bigFileSteps(bench, data.source, context.workDir);
	const rows = await measureSteps(bench.id, steps, context);
	console.log('  requests by route (last run):');
	printRoutes(rows);
	return rows;
}

export function printCloudTable(rows: CloudRow[]): void {
	printTable(
		['case (our engine against the emulators; no rclone)', 's', 'CPU s', 'RSS MiB', 'calls', 'calls/1000 files', 'MiB/s'],
		rows.map((row) => [row.case, row.ours_s, row.ours_cpu_s, row.ours_peak_rss_mib, row.api_calls, row.api_calls_per_1000, row.mib_per_s]),
	);
}
