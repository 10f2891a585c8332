#!/usr/bin/env node
/**
 * `npm run demo`: a real sync workflow in a real n8n, on emulated Dropbox, Google Drive and OneDrive,
 * and a real S3 server (s3rver) on loopback.
 *
 *   npm run demo                      build, run examples/dropbox-to-google-drive-mirror.json with
 *                                     `n8n execute --id` (its dry run, then the mirror) and print the report
 *   npm run demo -- --editor          leave n8n running on http://localhost:5678 with the examples and
 *                                     credentials imported (and the emulators running) until Ctrl-C
 *   npm run demo -- --screenshot F    open the mirror example in the editor, save a PNG to F and exit
 *
 * Options: --port N (editor port, default 5678), --json (also print the raw summary item),
 *          --keep (keep the throw-away n8n folder: database, logs, data).
 *
 * What it does: installs n8n 2.40.7 into a cache folder if missing (scripts/n8n/install.sh: about
 * 7 minutes and 2.9 GB the first time, then instant), starts the Google Drive, Dropbox and OneDrive
 * protocol emulators of test/emulators and an S3 server (s3rver, bucket "backups") on 127.0.0.1 with sample files, creates a throw-away n8n
 * (temporary N8N_USER_FOLDER, test/e2e/n8n.ts) whose CLOUDSYNC_*_API_URL point at the emulators, installs this package into it as a community package (npm pack), imports the
 * demo credentials and the workflows of examples/, then runs or serves them.
 *
 * Needs Node >= 24 (npm scripts put this repo's Node 24 first on PATH) and a build (`npm run demo`
 * builds first). The emulators and the harness are TypeScript under test/: they are loaded by
 * transpiling them with the repo's own typescript, as scripts/n8n/editor.js does.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..');
const started = Date.now();

if (Number(process.versions.node.split('.')[0]) < 24) {
	console.error(`npm run demo needs Node >= 24 (this is ${process.version}): run it through npm (npm run demo), which uses this repo's Node 24`);
	process.exit(2);
}

require('./n8n/load-ts');

const { N8nSandbox, N8N_VERSION, freePort, installN8n, n8nBin, n8nHome } = require(path.join(REPO, 'test', 'e2e', 'n8n.ts'));
const { screenshot } = require(path.join(REPO, 'test', 'e2e', 'browser.ts'));
const clouds$ = require(path.join(REPO, 'test', 'e2e', 'clouds.ts'));
const { EXAMPLES, FOLDERS, loadExample, readDriveTree, seedLocalFiles, startSampleClouds, withParameters } = clouds$;

function parseArgs(argv) {
	const args = { editor: false, screenshot: undefined, port: 5678, json: false, keep: false };
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		const value = () => {
			const v = argv[++i];
			if (v === undefined) throw new Error(`${arg} needs a value`);
			return v;
		};
		if (arg === '--editor') args.editor = true;
		else if (arg === '--screenshot') args.screenshot = path.resolve(value());
		else if (arg === '--port') args.port = Number(value());
		else if (arg === '--json') args.json = true;
		else if (arg === '--keep') args.keep = true;
		else if (arg === '--help' || arg === '-h') {
			process.stdout.write(fs.readFileSync(__filename, 'utf8').split('*/')[0].replace(/^#!.*\n\/\*\*\n/, '').replace(/^ \* ?/gm, '') + '\n');
			process.exit(0);
		} else throw new Error(`unknown argument ${arg} (see npm run demo -- --help)`);
	}
	return args;
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const step = (message) => console.log(`[${seconds(Date.now() - started).padStart(7)}] ${message}`);
const bytes = (n) => `${Number(n).toLocaleString('en-US')} bytes`;

/** Stops if the build is missing: `npm run demo` builds first, `node scripts/demo.js` does not. */
function checkBuild() {
	const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
	const missing = [pkg.main, ...pkg.n8n.nodes, ...pkg.n8n.credentials].filter((file) => !fs.existsSync(path.join(REPO, file)));
	if (missing.length) throw new Error(`the package is not built (missing ${missing[0]}): run npm run build, or npm run demo, which builds`);
}

async function ensureN8n() {
	const home = n8nHome();
	const installed = fs.existsSync(path.join(home, '.cloudsync-installed')) && fs.existsSync(n8nBin(home));
	if (!installed) {
		step(`installing n8n ${N8N_VERSION} into ${home}`);
		console.log('           first time only: about 7 minutes and 2.9 GB (npm install, then sqlite3 built from source); later runs reuse it');
	}
	const t = Date.now();
	await installN8n();
	step(installed ? `n8n ${N8N_VERSION} found in ${home}` : `n8n ${N8N_VERSION} installed in ${seconds(Date.now() - t)}`);
}

function printPlan(items) {
	const actions = items.filter((item) => item.type === 'action');
	const summary = items.find((item) => item.type === 'summary') ?? {};
	console.log(`\n  Preview (Diff: dry run, nothing written) ${summary.source} → ${summary.destination}`);
	const width = Math.max(...actions.map((a) => a.path.length), 4);
	for (const action of actions) console.log(`    ${action.action.padEnd(7)} ${action.path.padEnd(width)}  ${action.reason}`);
	if (actions.length === 0) console.log('    nothing to do');
	const planned = summary.planned ?? {};
	console.log(
		`    planned: ${['copy', 'update', 'delete', 'mkdir', 'rmdir', 'conflict']
			.filter((kind) => planned[kind])
			.map((kind) => `${planned[kind]} ${kind}`)
			.join(', ') || 'nothing'}; ${planned.skip ?? 0} unchanged\n`,
	);
}

function printReport(title, summary) {
	const rows = [
		['status', `${summary.status}${summary.refusal ? ` (refused: ${summary.refusal})` : ''}`],
		['mode', `${summary.mode}${summary.dryRun ? ' (dry run)' : ''}`],
		['source', summary.source],
		['destination', summary.destination],
		['added', summary.added],
		['updated', summary.updated],
		['deleted', `${summary.deleted}${summary.deleted && String(summary.destination).startsWith('Google Drive') ? ' (moved to the Drive trash)' : ''}`],
		['unchanged', summary.skipped],
		['folders', `${summary.foldersCreated} created, ${summary.foldersDeleted} deleted`],
		['conflicts', summary.conflicts],
		['failed', summary.failed],
		['transferred', `${bytes(summary.bytes)} in ${summary.durationSeconds} s (${summary.retries} retries)`],
		['errors', summary.errors?.length ? summary.errors.map((e) => `${e.path ?? ''} ${e.message ?? JSON.stringify(e)}`).join('; ') : 'none'],
	];
	console.log(`\n  ${title}`);
	for (const [label, value] of rows) console.log(`    ${label.padEnd(12)} ${value}`);
	console.log();
}

async function printDriveFolder(clouds) {
	const tree = await readDriveTree(clouds, FOLDERS.drivePhotos);
	console.log(`  Google Drive /${FOLDERS.drivePhotos} now holds:`);
	for (const [file, content] of Object.entries(tree).sort(([a], [b]) => a.localeCompare(b))) {
		console.log(`    ${file.padEnd(22)} ${bytes(content.length).padStart(14)}`);
	}
	console.log('  (photos and PDFs only: notes.txt and raw/IMG_0001.cr2 stay on Dropbox; readme.txt, outside the filter, stays on Drive)\n');
}

async function main() {
	const args = parseArgs(process.argv.slice(2));
	const serve = args.editor || args.screenshot !== undefined;
	checkBuild();
	await ensureN8n();

	const clouds = await startSampleClouds();
	step(`emulators with sample files: Google Drive ${clouds.drive.baseUrl}, Dropbox ${clouds.dropbox.baseUrl}, OneDrive ${clouds.onedrive.baseUrl}, S3 ${clouds.s3.endpoint}`);
	const n8n = await N8nSandbox.create({ env: clouds.env, keep: args.keep });
	let server;
	let stopping = false;
	const shutdown = async (code) => {
		if (stopping) return;
		stopping = true;
		try {
			await server?.stop();
			await n8n.cleanup();
			await clouds.stop();
		} finally {
			process.exit(code);
		}
	};
	process.once('SIGINT', () => void shutdown(0));
	process.once('SIGTERM', () => void shutdown(0));

	try {
		seedLocalFiles(n8n.dataFolder);
		await n8n.packPackage();
		step(`this package installed into a throw-away n8n as a community package (${n8n.root})`);
		await n8n.importCredentials(clouds.credentials);
		const workflows = Object.fromEntries(Object.entries(EXAMPLES).map(([key, { file }]) => [key, loadExample(file, n8n.dataFolder)]));
		await n8n.importWorkflows(Object.values(workflows));
		step(`credentials and ${Object.keys(workflows).length} example workflows imported from examples/`);

		if (!serve) {
			const mirror = workflows.mirror;
			let result = await n8n.executeWorkflow(EXAMPLES.mirror.id);
			step(`n8n execute --id ${EXAMPLES.mirror.id} ("${mirror.name}", as shipped: Settings → dryRun on) in ${seconds(result.durationMs)}`);
			printPlan(result.nodes['Preview the mirror (Diff)'] ?? []);

			await n8n.importWorkflows([
				withParameters(mirror, 'Settings', (parameters) => {
					parameters.assignments.assignments[0].value = false;
				}),
			]);
			result = await n8n.executeWorkflow(EXAMPLES.mirror.id);
			step(`n8n execute --id ${EXAMPLES.mirror.id} again with dryRun off: the mirror ran in ${seconds(result.durationMs)}`);
			const summary = (result.nodes['Mirror Dropbox to Google Drive'] ?? []).find((item) => item.type === 'summary');
			if (!summary) throw new Error('the mirror node returned no summary item');
			printReport('Sync report (the summary item of "Mirror Dropbox to Google Drive")', summary);
			if (args.json) console.log(`${JSON.stringify(summary, null, 2)}\n`);
			await printDriveFolder(clouds);
			console.log('  The other examples (OneDrive → Google Drive mirror, local folder → Dropbox, nightly local folder → S3');
			console.log('  snapshots, change trigger → local folder, upload into a dated folder) are in examples/;');
			console.log('  `npm run demo -- --editor` opens them all in the n8n editor.\n');
			step('done');
			await shutdown(summary.status === 'success' ? 0 : 1);
			return;
		}

		let port = args.port;
		if (!(await portIsFree(port))) {
			const other = await freePort();
			console.log(`port ${port} is taken: using ${other}`);
			port = other;
		}
		server = await n8n.startN8n({ port });
		const owner = await server.setupOwner();
		step(`n8n ${N8N_VERSION} is up (start-up ${seconds(server.startupMs)})`);
		if (args.screenshot) {
			const shot = await screenshot({
				url: `${server.url}/workflow/${EXAMPLES.mirror.id}`,
				output: args.screenshot,
				cookies: Object.entries(server.cookies).map(([name, value]) => ({ name, value, url: server.url })),
				localStorage: { 'n8n-browserId': server.browserId },
				waitFor: { selector: '[data-test-id="canvas-node"]', count: workflows.mirror.nodes.filter((n) => n.type !== 'n8n-nodes-base.stickyNote').length },
				logFile: n8n.logFile,
			});
			step(`screenshot of ${shot.finalUrl}: ${args.screenshot} (${bytes(fs.statSync(args.screenshot).size)})`);
			await shutdown(0);
			return;
		}
		const url = `http://localhost:${port}`;
		console.log(`\n  Open ${url} and sign in as ${owner.email} / ${owner.password}`);
		console.log('  Workflows (open one, then press "Execute workflow"):');
		for (const [key, { id }] of Object.entries(EXAMPLES)) console.log(`    ${url}/workflow/${id}   ${workflows[key].name}`);
		console.log('  The mirror example previews first: set Settings → dryRun to false to mirror for real.');
		console.log('  The trigger example runs when published (activated): it polls the emulated Dropbox /Inbox every minute.');
		console.log(`\n  Emulators: Google Drive ${clouds.drive.baseUrl}, Dropbox ${clouds.dropbox.baseUrl}, OneDrive ${clouds.onedrive.baseUrl}; S3 (s3rver) ${clouds.s3.endpoint}, bucket "backups" (in this process)`);
		console.log(`  Local folders (N8N_RESTRICT_FILE_ACCESS_TO): ${n8n.dataFolder}`);
		console.log(`  n8n log: ${n8n.logFile}`);
		console.log('\n  Ctrl-C stops n8n and the emulators and removes the throw-away n8n folder.');
	} catch (error) {
		console.error(`\ndemo failed: ${error instanceof Error ? error.message : error}`);
		n8n.printLogs(60);
		await shutdown(1);
	}
}

async function portIsFree(port) {
	const net = require('node:net');
	return await new Promise((resolve) => {
		const probe = net.createServer();
		probe.once('error', () => resolve(false));
		probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
	});
}

main().catch((error) => {
	console.error(error instanceof Error ? error.message : error);
	process.exit(1);
});
