#!/usr/bin/env node
/**
 * `npm run demo`: a real sync workflow in a real n8n, on emulated Dropbox, Google Drive, OneDrive, iCloud Drive, Google Photos and Nextcloud (WebDAV),
 * and a real S3 server (s3rver) on loopback.
 *
 *   npm run demo                      build, run examples/dropbox-to-google-drive-mirror.json with
 *                                     `n8n execute --id` (its dry run, then the mirror) and print the report,
 *                                     then the iCloud Drive ⇄ Google Drive two-way example (the Apple ID
 *                                     signed in as after its one-time code), then
 *                                     examples/icloud-photos-to-google-photos.json twice
 *   npm run demo -- --editor          leave n8n running on http://localhost:5678 with the examples and
 *                                     credentials imported (and the emulators running) until Ctrl-C; the
 *                                     Apple ID credential waits for its code, which the emulated iPhone
 *                                     prints on this console
 *   npm run demo -- --screenshot F    open the mirror example in the editor, save a PNG to F and exit
 *
 * Options: --port N (editor port, default 5678), --json (also print the raw summary item),
 *          --keep (keep the throw-away n8n folder: database, logs, data).
 *
 * What it does: installs n8n 2.40.7 into a cache folder if missing (scripts/n8n/install.sh: about
 * 7 minutes and 2.9 GB the first time, then instant), starts the Google Drive, Dropbox, OneDrive, iCloud (Drive and Photos),
 * Google Photos and Nextcloud (WebDAV) protocol emulators of test/emulators and an S3 server (s3rver, bucket "backups") on 127.0.0.1 with sample files, creates a throw-away n8n
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
const { EXAMPLES, EXAMPLES_DIR, FOLDERS, loadExample, readDriveTree, seedLocalFiles, startSampleClouds, withParameters } = clouds$;
const { ICLOUD_EXAMPLE, startICloudSample } = require(path.join(REPO, 'test', 'e2e', 'icloudClouds.ts'));
const { seedSamplePhotos } = require(path.join(REPO, 'test', 'e2e', 'icloudPhotosSample.ts'));

/** Every workflow in examples/, by file name: the editor gets them all, not only those the tests name. */
function allExamples(localRoot) {
	const files = fs.readdirSync(EXAMPLES_DIR).filter((file) => file.endsWith('.json')).sort();
	return Object.fromEntries(files.map((file) => [file.slice(0, -'.json'.length), loadExample(file.slice(0, -'.json'.length), localRoot)]));
}

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

/** A dry run's plan: the summary of the first output, the actions of the second (Files). */
function printPlan(summary, actions) {
	console.log(`\n  Preview (Dry Run: nothing written) ${summary.source} → ${summary.destination}`);
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

function printTwoWayReport(title, summary) {
	const counts = (side) =>
		['added', 'updated', 'deleted', 'moved']
			.filter((kind) => side?.[kind])
			.map((kind) => `${side[kind]} ${kind}`)
			.join(', ') || 'nothing';
	console.log(`\n  ${title}`);
	for (const [label, value] of [
		['status', summary.status],
		['first run', summary.firstRun ? 'yes (both sides merged, nothing deleted)' : 'no'],
		['to Drive', counts(summary.toDestination)],
		['to iCloud', counts(summary.toSource)],
		['conflicts', summary.conflicts?.length ?? summary.conflicts ?? 0],
		['transferred', `${bytes(summary.bytes)} in ${summary.durationSeconds} s`],
		['errors', summary.errors?.length ? summary.errors.map((e) => `${e.path ?? ''} ${e.message ?? JSON.stringify(e)}`).join('; ') : 'none'],
	]) {
		console.log(`    ${label.padEnd(12)} ${value}`);
	}
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
	const icloud = await startICloudSample(clouds.drive);
	// The same iCloud emulator (one CLOUDSYNC_ICLOUD_URL, one Apple ID) also serves the photos example's library.
	const samplePhotos = seedSamplePhotos({ emulator: icloud.icloud.photoLibrary() });
	// The emulated iPhone: Apple's codes appear here, for the person to type in the Apple ID credential.
	if (serve) icloud.icloud.auth.onCodeSent = (appleId, code) => console.log(`\n  [emulated iPhone of ${appleId}] Apple ID verification code: ${code}\n`);
	step(
		`emulators with sample files: Google Drive ${clouds.drive.baseUrl}, Dropbox ${clouds.dropbox.baseUrl}, OneDrive ${clouds.onedrive.baseUrl}, iCloud Drive and iCloud Photos ${icloud.icloud.baseUrl}, Google Photos ${clouds.googlePhotos.baseUrl}, Nextcloud (WebDAV) ${clouds.nextcloud.url}, S3 ${clouds.s3.endpoint}`,
	);
	const n8n = await N8nSandbox.create({ env: { ...clouds.env, ...icloud.env }, keep: args.keep });
	let server;
	let stopping = false;
	const shutdown = async (code) => {
		if (stopping) return;
		stopping = true;
		try {
			await server?.stop();
			await n8n.cleanup();
			await clouds.stop();
			await icloud.stop();
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
		// The one-shot demo cannot wait for a person: its Apple ID is signed in as after the one-time code.
		await n8n.importCredentials([...clouds.credentials, serve ? icloud.credential : await icloud.trustedCredential()]);
		const workflows = Object.fromEntries(
			[...Object.entries(EXAMPLES), ['iCloud', ICLOUD_EXAMPLE]].map(([key, { file }]) => [key, loadExample(file, n8n.dataFolder)]),
		);
		// The editor gets every example; those the demo runs replace their shipped copy (same id).
		const every = Object.fromEntries([...Object.values(allExamples(n8n.dataFolder)), ...Object.values(workflows)].map((workflow) => [workflow.id, workflow]));
		await n8n.importWorkflows(Object.values(every));
		step(`credentials and all ${Object.keys(every).length} example workflows imported from examples/`);

		if (!serve) {
			const mirror = workflows.mirror;
			let result = await n8n.executeWorkflow(EXAMPLES.mirror.id);
			const MIRROR = 'Mirror Dropbox to Google Drive';
			step(`n8n execute --id ${EXAMPLES.mirror.id} ("${mirror.name}", as shipped: Dry Run on) in ${seconds(result.durationMs)}`);
			printPlan(result.nodes[MIRROR]?.[0] ?? {}, (result.outputs[MIRROR]?.[1] ?? []).map((item) => item.json));

			await n8n.importWorkflows([
				withParameters(mirror, MIRROR, (parameters) => {
					parameters.dryRun = false;
				}),
			]);
			result = await n8n.executeWorkflow(EXAMPLES.mirror.id);
			step(`n8n execute --id ${EXAMPLES.mirror.id} again with Dry Run off: the mirror ran in ${seconds(result.durationMs)}`);
			const summary = result.nodes[MIRROR]?.[0];
			if (!summary) throw new Error('the mirror node returned no summary item');
			printReport(`Sync report (the summary item of "${MIRROR}")`, summary);
			console.log(`  message: ${summary.message}\n`);
			if (args.json) console.log(`${JSON.stringify(summary, null, 2)}\n`);
			await printDriveFolder(clouds);

			result = await n8n.executeWorkflow(ICLOUD_EXAMPLE.id);
			step(`n8n execute --id ${ICLOUD_EXAMPLE.id} ("${workflows.iCloud.name}") in ${seconds(result.durationMs)}`);
			const icloudSummary = (result.nodes[ICLOUD_EXAMPLE.node] ?? []).find((item) => item.type === 'summary');
			if (!icloudSummary) throw new Error('the iCloud example returned no summary item');
			printTwoWayReport('Two-way report (iCloud Drive /Projects ⇄ Google Drive /Projects (iCloud))', icloudSummary);

			const photos = await runPhotos(n8n, workflows.photos, samplePhotos);
			console.log('  The other examples (OneDrive → Google Drive mirror, local folder → Dropbox, nightly local folder → S3');
			console.log('  snapshots, change trigger → local folder, upload into a dated folder) are in examples/;');
			console.log('  `npm run demo -- --editor` opens them all in the n8n editor.\n');
			step('done');
			await shutdown(summary.status === 'success' && photos.status === 'success' ? 0 : 1);
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
		for (const workflow of Object.values(every)) console.log(`    ${url}/workflow/${workflow.id}   ${workflow.name}`);
		console.log('  The mirror example previews first: turn its Dry Run off to mirror for real.');
		console.log('  The trigger example runs when published (activated): it polls the emulated Dropbox /Inbox every minute.');
		console.log('  The iCloud example needs its Apple ID connected once: open the "Apple ID (demo)" credential, click Save,');
		console.log('  type the code the emulated iPhone prints here, and click Save again.');
		console.log(
			`\n  Emulators: Google Drive ${clouds.drive.baseUrl}, Dropbox ${clouds.dropbox.baseUrl}, OneDrive ${clouds.onedrive.baseUrl}, iCloud Drive and iCloud Photos ${icloud.icloud.baseUrl}, Google Photos ${clouds.googlePhotos.baseUrl} ; S3 (s3rver) ${clouds.s3.endpoint}, bucket "backups" (in this process)`,
		);
		console.log(`  Nextcloud (WebDAV): ${clouds.nextcloud.url}, folder /${FOLDERS.nextcloudProjects} with sample files; credential "${clouds.credentials.find((c) => c.type === 'cloudSyncWebDavApi').name}"`);
		console.log(`  Local folders (N8N_RESTRICT_FILE_ACCESS_TO): ${n8n.dataFolder}`);
		console.log(`  n8n log: ${n8n.logFile}`);
		console.log('\n  Ctrl-C stops n8n and the emulators and removes the throw-away n8n folder.');
	} catch (error) {
		console.error(`\ndemo failed: ${error instanceof Error ? error.message : error}`);
		n8n.printLogs(60);
		await shutdown(1);
	}
}

const PHOTOS_NODE = 'Add new iCloud photos to Google Photos';

/** The Google Photos example, twice: the iCloud Photos library added to its album, then a run that sends nothing (the ledger). */
async function runPhotos(n8n, workflow, library) {
	const node = PHOTOS_NODE;
	let summary;
	for (const label of ['first run', 'second run']) {
		const result = await n8n.executeWorkflow(EXAMPLES.photos.id);
		summary = (result.nodes[node] ?? []).find((item) => item.type === 'summary');
		if (!summary) throw new Error('the Google Photos node returned no summary item');
		step(`n8n execute --id ${EXAMPLES.photos.id} ("${workflow.name}", ${label}) in ${seconds(result.durationMs)}`);
		console.log(
			`    ${summary.status}: ${summary.uploaded} added to the album "${summary.album?.title}", ${summary.alreadyInLibrary} already there, ` +
				`${summary.skipped} skipped (not a photo or video), ${summary.requests} requests of the daily 10,000`,
		);
	}
	console.log(`  (the emulated iCloud Photos holds ${library.assets.length} photos, ${Object.keys(library.files).length} files: ${Object.keys(library.files).join(', ')};`);
	console.log('  a Live Photo goes in as its still and its video; the second run finds every photo in its ledger and sends nothing)\n');
	return summary;
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
