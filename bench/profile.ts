import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';

/** The parts of a V8 .cpuprofile (as written by node --cpu-prof) that self time needs. */
interface CpuProfile {
	nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
	samples: number[];
	timeDeltas: number[];
}

export interface Hotspot {
	name: string;
	selfMs: number;
	share: number;
}

const REPO_ROOT = nodePath.resolve(__dirname, '..', '..');

function location(url: string, line: number): string {
	if (url === '') return '';
	const path = url.replace(/^file:\/\//, '');
	const shown = path.startsWith(REPO_ROOT) ? nodePath.relative(REPO_ROOT, path) : path;
	return ` ${shown}:${line + 1}`;
}

/** The functions that spent most time on the CPU themselves (not in what they called), summed by name and place. */
export async function hotspots(file: string, top: number): Promise<Hotspot[]> {
	const profile = JSON.parse(await fs.readFile(file, 'utf8')) as CpuProfile;
	const names = new Map(
		profile.nodes.map((node) => {
			const { functionName, url, lineNumber } = node.callFrame;
			return [node.id, `${functionName || '(anonymous)'}${location(url, lineNumber)}`];
		}),
	);
	const selfMicros = new Map<string, number>();
	let total = 0;
	// A sample's delta is the time since the previous one, so it is charged to the function that sample caught.
	profile.samples.forEach((id, index) => {
		const delta = profile.timeDeltas[index] ?? 0;
		const name = names.get(id)!;
		selfMicros.set(name, (selfMicros.get(name) ?? 0) + delta);
		total += delta;
	});
	return [...selfMicros]
		.sort((a, b) => b[1] - a[1])
		.slice(0, top)
		.map(([name, micros]) => ({ name, selfMs: micros / 1000, share: total > 0 ? micros / total : 0 }));
}

/**
 * Our own functions (dist/lib) by total time, what they called included: where self time lands in
 * Node's internals (a native lstat, a promise's machinery), this says which of ours paid for it.
 */
export async function ownTotals(file: string, top: number): Promise<Hotspot[]> {
	const profile = JSON.parse(await fs.readFile(file, 'utf8')) as CpuProfile;
	const parents = new Map<number, number>();
	for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
	const byId = new Map(profile.nodes.map((node) => [node.id, node]));
	const selfMicros = new Map<number, number>();
	let total = 0;
	profile.samples.forEach((id, index) => {
		const delta = profile.timeDeltas[index] ?? 0;
		selfMicros.set(id, (selfMicros.get(id) ?? 0) + delta);
		total += delta;
	});
	const totals = new Map<string, number>();
	for (const [id, micros] of selfMicros) {
		// A function met twice on one stack (recursion) is charged once.
		const seen = new Set<string>();
		for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
			const { functionName, url, lineNumber } = byId.get(at)!.callFrame;
			if (!url.includes('/dist/lib/')) continue;
			const name = `${functionName || '(anonymous)'}${location(url, lineNumber)}`;
			if (seen.has(name)) continue;
			seen.add(name);
			totals.set(name, (totals.get(name) ?? 0) + micros);
		}
	}
	return [...totals]
		.sort((a, b) => b[1] - a[1])
		.slice(0, top)
		.map(([name, micros]) => ({ name, selfMs: micros / 1000, share: total > 0 ? micros / total : 0 }));
}

export function formatHotspots(spots: Hotspot[]): string {
	return spots.map((spot) => `    ${spot.selfMs.toFixed(0).padStart(7)} ms ${(spot.share * 100).toFixed(1).padStart(5)}%  ${spot.name}`).join('\n');
}

/**
 * Node flags that make a measured run write its CPU profiles into the folder `<name>`, one file per
 * thread (Node names each after its process and thread id), when profiling: a fixed file name would
 * leave only the thread that ended last.
 */
export function profileFlags(profileDir: string | undefined, name: string): string[] {
	return profileDir ? ['--cpu-prof', '--cpu-prof-dir', nodePath.join(profileDir, name)] : [];
}

/** Node's profile names end in `.<pid>.<thread id>.<sequence>.cpuprofile`; the main thread is 0. */
function threadOf(file: string): number {
	return Number(/\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[1] ?? 0);
}

/** Prints the hotspots of each thread's profile that `profileFlags` asked for under `name`, main thread first, when profiling. */
export async function printProfile(profileDir: string | undefined, name: string): Promise<void> {
	if (!profileDir) return;
	const folder = nodePath.join(profileDir, name);
	const files = (await fs.readdir(folder)).filter((file) => file.endsWith('.cpuprofile')).sort((a, b) => threadOf(a) - threadOf(b));
	for (const [index, file] of files.entries()) {
		const full = nodePath.join(folder, file);
		const thread = threadOf(file) === 0 ? 'main thread' : `thread ${threadOf(file)}`;
		console.log(`  top self time of ${name}, ${thread} (${full}):\n${formatHotspots(await hotspots(full, 15))}`);
		// Worker threads run code of their own (eval'd), never dist/lib: their totals would be empty.
		if (index === 0) console.log(`  our functions by total time (what they called included):\n${formatHotspots(await ownTotals(full, 12))}`);
	}
}
