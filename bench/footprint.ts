/**
 * What loading costs before any work: the RSS of a fresh Node process once it has required one
 * module (lib/index.js, each provider, the email library, each node's entry file, each SDK alone),
 * each in a process of its own so that no module is shared with another's figure. A sync process,
 * an n8n worker and the runner of the other cases all pay this before their first byte, which is why
 * the providers load on first use (lib/index.ts) and their SDKs later still (lib/providers/kit/sdks.ts).
 *
 *   npm run bench -- --case footprint       (also printed at the end of a full `npm run bench`)
 *   node dist/bench/footprint.js <module>   (one measurement: prints one JSON line)
 */
import { spawn } from 'node:child_process';
import * as nodePath from 'node:path';
import { printTable, round } from './figures';

const MiB = 1024 * 1024;
/** dist/, where the compiled lib/ and nodes/ are next to dist/bench/. */
const DIST = nodePath.join(__dirname, '..');

export interface Footprint {
	/** RSS once the module is loaded and the heap collected, in MiB. */
	rssMiB: number;
	/** Live heap after that collection, in MiB. */
	heapMiB: number;
	/** Time `require` took, in ms (on a busy machine only a rough guide). */
	loadMs: number;
}

interface Measured extends Footprint {
	label: string;
	/** What the delta is taken over: bare Node, or n8n-workflow for the nodes (n8n has loaded it already). */
	over: string;
	deltaMiB: number;
}

const inDist = (path: string) => nodePath.join(DIST, path);

/** Each group's modules, measured over the first row of the group. */
const GROUPS: Array<{ over: { label: string; module?: string }; modules: Array<{ label: string; module: string }> }> = [
	{
		over: { label: 'bare Node' },
		modules: [
			{ label: 'lib/index (the engine; providers load on first use)', module: inDist('lib/index.js') },
			...['local', 'drive', 'dropbox', 'onedrive', 's3', 'webdav', 'googlePhotos', 'icloudDrive', 'icloudPhotos'].map((name) => ({ label: `lib/providers/${name}`, module: inDist(`lib/providers/${name}.js`) })),
			{ label: 'lib/email (Email to PDF)', module: inDist('lib/email/index.js') },
			// What a provider's first use then adds: each SDK alone.
			...['@googleapis/drive', 'dropbox', '@aws-sdk/client-s3', 'htmlparser2', 'mailparser', 'pdfkit'].map((name) => ({ label: `SDK ${name}`, module: name })),
		],
	},
	{
		over: { label: 'n8n-workflow', module: 'n8n-workflow' },
		modules: ['CloudSync/CloudSync', 'CloudSyncTrigger/CloudSyncTrigger', 'EmailToPdf/EmailToPdf'].map((node) => ({ label: `nodes/${node}.node`, module: inDist(`nodes/${node}.node.js`) })),
	},
];

/** Loads `module` in a fresh process (the same Node as this one) and reads what it costs. */
function measureOne(module: string | undefined): Promise<Footprint> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, ['--expose-gc', __filename, ...(module ? [module] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
		child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
		child.once('error', reject);
		child.once('close', (code) => {
			if (code === 0) resolve(JSON.parse(stdout.trim()) as Footprint);
			else reject(new Error(`loading ${module ?? 'nothing'} failed (${code}): ${stderr.trim().split('\n').slice(-3).join(' ')}`));
		});
	});
}

/** Median of `runs` fresh processes per module, so one slow start does not decide a figure. */
async function measureMedian(module: string | undefined, runs: number): Promise<Footprint> {
	const samples: Footprint[] = [];
	for (let run = 0; run < runs; run++) samples.push(await measureOne(module));
	const middle = (pick: (sample: Footprint) => number) => samples.map(pick).sort((a, b) => a - b)[Math.floor(runs / 2)];
	return { rssMiB: middle((sample) => sample.rssMiB), heapMiB: middle((sample) => sample.heapMiB), loadMs: middle((sample) => sample.loadMs) };
}

export async function measureFootprint(runs = 3): Promise<Measured[]> {
	const rows: Measured[] = [];
	let bare: Footprint | undefined;
	for (const group of GROUPS) {
		const base = await measureMedian(group.over.module, runs);
		bare ??= base;
		rows.push({ label: group.over.label, over: group.over.module ? 'bare Node' : '-', deltaMiB: base.rssMiB - bare.rssMiB, ...base });
		for (const { label, module } of group.modules) {
			const measured = await measureMedian(module, runs);
			rows.push({ label, over: group.over.label, deltaMiB: measured.rssMiB - base.rssMiB, ...measured });
		}
	}
	return rows;
}

export function printFootprint(rows: Measured[]): void {
	printTable(
		['module loaded in a fresh process (median of 3)', 'RSS MiB', 'over', 'added MiB', 'heap MiB', 'load ms'],
		rows.map((row) => [row.label, round(row.rssMiB, 1), row.over, row.over === '-' ? null : round(row.deltaMiB, 1), round(row.heapMiB, 1), Math.round(row.loadMs)]),
	);
}

/** The child's side: require the module named on the command line, collect, report. */
function child(module: string | undefined): void {
	const gc = (globalThis as { gc?: () => void }).gc;
	if (!gc) throw new Error('footprint.js needs node --expose-gc');
	const started = performance.now();
	// eslint-disable-next-line @typescript-eslint/no-require-imports -- the module to measure is named at run time
	if (module) require(module);
	const loadMs = performance.now() - started;
	gc();
	const usage = process.memoryUsage();
	process.stdout.write(`${JSON.stringify({ rssMiB: usage.rss / MiB, heapMiB: usage.heapUsed / MiB, loadMs })}\n`);
}

if (require.main === module) child(process.argv[2]);
