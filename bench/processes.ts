import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, openSync, promises as fs, readdirSync, readSync } from 'node:fs';
import * as nodePath from 'node:path';
import type { RunnerResult, SyncRun } from './runner';

const RUNNER = nodePath.join(__dirname, 'runner.js');
const GNU_TIME = '/usr/bin/time';
const MiB_IN_KiB = 1024;

export interface Tools {
	/** rclone's version line, when rclone can run. */
	rclone?: string;
	/** Why rclone cannot run. */
	rcloneMissing?: string;
	/** GNU time, which reports rclone's peak RSS and CPU time. */
	gnuTime: boolean;
}

function tail(text: string, lines = 15): string {
	return text.trim().split('\n').slice(-lines).join('\n');
}

function rcloneVersion(): string | undefined {
	const probe = spawnSync('rclone', ['version'], { encoding: 'utf8' });
	return probe.status === 0 ? probe.stdout.split('\n')[0].trim() : undefined;
}

function aptGet(args: string[]): { ok: boolean; output: string } {
	const run = spawnSync('apt-get', args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
	return { ok: run.status === 0, output: run.error ? run.error.message : `${run.stdout ?? ''}${run.stderr ?? ''}` };
}

/** Installs Debian packages, refreshing the package lists once if the first attempt fails. */
function installPackages(packages: string[]): string | undefined {
	console.log(`Installing ${packages.join(', ')} with apt-get…`);
	let install = aptGet(['install', '-y', ...packages]);
	if (!install.ok && aptGet(['update']).ok) install = aptGet(['install', '-y', ...packages]);
	return install.ok ? undefined : tail(install.output, 5);
}

/** Finds rclone and GNU time, installing whichever is missing. */
export function prepareTools(): Tools {
	const missing = [rcloneVersion() ? undefined : 'rclone', existsSync(GNU_TIME) ? undefined : 'time'].filter(
		(name): name is string => name !== undefined,
	);
	const failure = missing.length > 0 ? installPackages(missing) : undefined;
	const rclone = rcloneVersion();
	return {
		rclone,
		rcloneMissing: rclone ? undefined : `rclone is not installed and apt-get could not install it: ${failure ?? 'unknown error'}`,
		gnuTime: existsSync(GNU_TIME),
	};
}

/** Writes dirty pages out, so one run's writes are not flushed during the next one's timing. */
export function flushDisks(): void {
	spawnSync('sync');
}

/**
 * Reads every file under `root` once, so that each timed run finds its source in the page cache.
 * rclone's local backend drops what it has read from the cache as it goes (posix_fadvise
 * DONTNEED): without this, each of our runs after an rclone run read its source from disk, while
 * rclone read what our run had left cached (measured: 85,094 of 85,094 pages cached before an
 * rclone copy of case 1's source, none after).
 */
export function warmFiles(root: string): void {
	const buffer = Buffer.allocUnsafe(1024 * 1024);
	for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
		if (!entry.isFile()) continue;
		const fd = openSync(nodePath.join(entry.parentPath, entry.name), 'r');
		try {
			while (readSync(fd, buffer, 0, buffer.length, null) > 0);
		} finally {
			closeSync(fd);
		}
	}
}

/**
 * Looks up every file and folder under `root` once, so that each timed run of a no-op case finds
 * the trees' metadata cached: in a sitting, the run that went first after the large-file cases
 * read it from disk and left it cached for the other tool (a 400,000-file mirror measured 8.2 s
 * for us, first, against 2.6 s once warm).
 */
export function warmMetadata(root: string): void {
	for (const name of readdirSync(root, { recursive: true })) lstatSync(nodePath.join(root, String(name)));
}

interface Finished {
	seconds: number;
	stdout: string;
	stderr: string;
}

/** Runs a command to its end, timed from spawn to exit; throws when it fails. */
async function timed(command: string, args: string[]): Promise<Finished> {
	const started = performance.now();
	const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
	const stdout: Buffer[] = [];
	const stderr: Buffer[] = [];
	child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
	child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
	const code = await new Promise<number | null>((resolve, reject) => {
		child.once('error', reject);
		child.once('close', resolve);
	});
	const seconds = (performance.now() - started) / 1000;
	const finished = { seconds, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() };
	if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}:\n${tail(finished.stderr || finished.stdout)}`);
	return finished;
}

export interface Measured {
	seconds: number;
	/** User plus system CPU time, when known. */
	cpuSeconds: number | null;
	peakRssMiB: number | null;
}

/** One run of bench/runner.js in a fresh Node process (the same Node as this one). */
export async function runOurs(args: string[], nodeFlags: string[] = []): Promise<Measured & { result: RunnerResult }> {
	const { seconds, stdout } = await timed(process.execPath, [...nodeFlags, RUNNER, ...args]);
	const result = JSON.parse(stdout.trim().split('\n').pop()!) as RunnerResult;
	return { seconds, cpuSeconds: result.cpuSeconds, peakRssMiB: result.maxRssKiB / MiB_IN_KiB, result };
}

/** A run's one-line summary: wall time, CPU time when known, peak RSS. */
export function describeRun(run: Measured): string {
	const cpu = run.cpuSeconds === null ? '' : ` (CPU ${run.cpuSeconds.toFixed(2)} s)`;
	return `${run.seconds.toFixed(2)} s${cpu}, ${run.peakRssMiB === null ? '?' : run.peakRssMiB.toFixed(0)} MiB`;
}

/** The sync run a runner reported, once it succeeded with exactly `transfers` transfers and no deletion. */
export function expectSuccess(result: RunnerResult, transfers: number): SyncRun {
	const run = result as SyncRun;
	if (run.status !== 'success' || run.transferred !== transfers || run.deleted !== 0) {
		throw new Error(`our run ended ${run.status} with ${run.transferred} transfers (expected ${transfers}), ${run.deleted} deletes: ${run.firstError ?? ''}`);
	}
	return run;
}

export interface RcloneStats {
	/** Files transferred, from the stats rclone prints at the end. */
	transferred: number;
	checks: number;
}

/** Reads the file counts of rclone's final stats block; its byte line has units and does not match. */
export function parseRcloneStats(log: string): RcloneStats {
	if (!/^Elapsed time:/m.test(log)) throw new Error(`rclone printed no final stats:\n${tail(log)}`);
	// A run longer than a minute prints stats every minute as well: the last block is the final one.
	const count = (label: string) => Number([...log.matchAll(new RegExp(`^${label}:\\s+(\\d+) / \\d+`, 'gm'))].at(-1)?.[1] ?? 0);
	return { transferred: count('Transferred'), checks: count('Checks') };
}

/** One rclone run; GNU time, when present, reports its peak RSS and CPU time into `usageFile`. */
export async function runRclone(args: string[], tools: Tools, usageFile: string): Promise<Measured & { stats: RcloneStats }> {
	if (!tools.gnuTime) {
		const { seconds, stderr } = await timed('rclone', args);
		return { seconds, cpuSeconds: null, peakRssMiB: null, stats: parseRcloneStats(stderr) };
	}
	const { seconds, stderr } = await timed(GNU_TIME, ['-f', '%M %U %S', '-o', usageFile, 'rclone', ...args]);
	// GNU time puts a line of its own before the figures when the command says something on exit: the figures are the last line.
	const [maxRssKiB, user, system] = (await fs.readFile(usageFile, 'utf8')).trim().split('\n').at(-1)!.split(' ').map(Number);
	return { seconds, cpuSeconds: user + system, peakRssMiB: maxRssKiB / MiB_IN_KiB, stats: parseRcloneStats(stderr) };
}
