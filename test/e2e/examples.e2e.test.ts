/**
 * The example workflows of examples/ in a real n8n 2.40.7, on the Google Drive and Dropbox
 * emulators (started here, in the Jest process, on 127.0.0.1, seeded with sample files):
 *
 *   (a) dropbox-to-google-drive-mirror   n8n execute: as shipped (Dry Run on), then the mirror, then a re-run
 *   (e) onedrive-to-google-drive-mirror  n8n execute: the same dry-run/mirror pair from the OneDrive emulator
 *   (b) local-folder-to-dropbox          n8n execute: copy of a local folder into Dropbox
 *   (d) upload-report-to-dated-folder    n8n execute: a Convert to File binary uploaded to Reports/yyyy/MM-dd/
 *   (f) local-folder-to-s3-nightly-backup n8n execute: Incremental Backup snapshots into a real S3 server
 *                                        (s3rver on 127.0.0.1), three runs, retention
 *   (c) dropbox-changes-to-local-folder  n8n start: the active trigger polls every minute; a change made
 *                                        on the Dropbox emulator reaches the local folder
 *
 * and a screenshot of the mirror workflow in the editor (test/e2e/output/examples-editor.png).
 * The package under test is this repo, packed (`npm run build` first: `npm run test:e2e` does), or
 * the tarball named by CLOUDSYNC_E2E_TARBALL.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { screenshot } from './browser';
import {
	EXAMPLE_CREDENTIALS,
	EXAMPLE_FILES_ROOT,
	EXAMPLES,
	FOLDERS,
	SAMPLE,
	loadExample,
	md5,
	readDriveTree,
	readDropboxTree,
	readLocalTree,
	readS3Tree,
	sampleBytes,
	seedLocalFiles,
	sha256,
	startSampleClouds,
	treeHashes,
	withParameters,
	type SampleClouds,
} from './clouds';
import { APPLE_CREDENTIAL } from './icloudClouds';
import { N8nSandbox, PACKAGE_NAME, type ExecutionResult, type RunningN8n, type WorkflowJson } from './n8n';

const describeE2E = process.env.CLOUDSYNC_E2E === '1' ? describe : describe.skip;
const OUTPUT = path.join(__dirname, 'output');
const NODE_TYPE = `${PACKAGE_NAME}.cloudSync`;
const TRIGGER_TYPE = `${PACKAGE_NAME}.cloudSyncTrigger`;

function report(line: string): void {
	process.stderr.write(`[e2e timing] ${line}\n`);
}

/** Polls until `probe` returns a value, or fails after `timeoutMs`. */
async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string, everyMs = 1000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
		await new Promise((resolve) => setTimeout(resolve, everyMs));
	}
}

/** The files of `tree` whose extension is one of `extensions`. */
function withExtensions(tree: Record<string, Buffer>, extensions: string[]): Record<string, Buffer> {
	return Object.fromEntries(Object.entries(tree).filter(([file]) => extensions.includes(path.extname(file).slice(1).toLowerCase())));
}

/** The summary of a mirror example's dry run: one file of each kind of action, and a report to email. */
function expectPlannedMirror(summary: Record<string, unknown> | undefined, source: string, destination: string): void {
	expect(summary).toMatchObject({
		type: 'summary',
		status: 'planned',
		dryRun: true,
		mode: 'mirror',
		source,
		destination,
		planned: { copy: 1, update: 1, delete: 1, skip: 1, conflict: 0 },
		message: `Mirror (dry run) ${source} → ${destination}: 1 to add, 1 to update, 1 to delete in ${Number(summary?.durationSeconds).toFixed(1)} s`,
	});
}

/** The items of a node's second output, Files: one per file action. */
const filesOf = (result: ExecutionResult, node: string) => (result.outputs[node]?.[1] ?? []).map((item) => item.json);

const summaryOf = (result: ExecutionResult, node: string) => result.nodes[node]?.find((item) => item.type === 'summary');

/** A tree without the engine's own `.cloudsync/` folder. */
const withoutState = (files: Record<string, Buffer>) => Object.fromEntries(Object.entries(files).filter(([file]) => !file.startsWith('.cloudsync/')));

describeE2E('example workflows (examples/) in n8n, on the cloud emulators', () => {
	let clouds: SampleClouds;
	let n8n: N8nSandbox;
	const examples: Record<keyof typeof EXAMPLES, WorkflowJson> = {} as Record<keyof typeof EXAMPLES, WorkflowJson>;

	beforeAll(async () => {
		let started = Date.now();
		clouds = await startSampleClouds();
		report(`emulators up in ${Date.now() - started} ms: Drive ${clouds.drive.baseUrl}, Dropbox ${clouds.dropbox.baseUrl}`);
		started = Date.now();
		n8n = await N8nSandbox.create({ env: clouds.env }); // installs n8n on first use: about 7 minutes
		seedLocalFiles(n8n.dataFolder);
		report(`sandbox ready in ${Date.now() - started} ms: ${n8n.root}`);
		started = Date.now();
		await n8n.packPackage({ tarball: process.env.CLOUDSYNC_E2E_TARBALL || undefined });
		report(`packPackage in ${Date.now() - started} ms`);
		started = Date.now();
		await n8n.importCredentials(clouds.credentials);
		for (const key of Object.keys(EXAMPLES) as Array<keyof typeof EXAMPLES>) examples[key] = loadExample(EXAMPLES[key].file, n8n.dataFolder);
		await n8n.importWorkflows(Object.values(examples));
		report(`credentials and ${Object.keys(examples).length} examples imported in ${Date.now() - started} ms`);
	}, 30 * 60 * 1000);

	afterAll(async () => {
		await n8n?.cleanup();
		await clouds?.stop();
	});

	test('every example is an n8n export with our nodes, the demo credentials and local folders under n8n-files', () => {
		for (const [key, { file, id }] of Object.entries(EXAMPLES)) {
			const workflow = loadExample(file);
			expect({ key, id: workflow.id }).toEqual({ key, id });
			expect(workflow.settings).toEqual({ executionOrder: 'v1' });
			const types = workflow.nodes.map((node) => node.type);
			expect(types.some((type) => type === NODE_TYPE)).toBe(true);
			// `n8n execute --id` needs a Manual Trigger; the trigger example runs under `n8n start` instead.
			expect(types).toContain(key === 'trigger' ? TRIGGER_TYPE : 'n8n-nodes-base.manualTrigger');
			const names = new Set(workflow.nodes.map((node) => node.name as string));
			for (const [from, outputs] of Object.entries(workflow.connections as Record<string, { main: Array<Array<{ node: string }>> }>)) {
				expect(names.has(from)).toBe(true);
				for (const target of outputs.main.flat()) expect(names.has(target.node)).toBe(true);
			}
			for (const node of workflow.nodes) {
				for (const [type, reference] of Object.entries((node.credentials ?? {}) as Record<string, { id: string; name: string }>)) {
					// The iCloud examples sign in with the demo Apple ID, which the iCloud e2e helpers own.
					const known = [...Object.values(EXAMPLE_CREDENTIALS), APPLE_CREDENTIAL].find((credential) => credential.type === type);
					expect(reference).toEqual({ id: known?.id, name: known?.name });
				}
				// Local folders lie in n8n's default file-access folder, which loadExample() moves into the sandbox.
				for (const [name, value] of Object.entries(node.parameters as Record<string, unknown>)) {
					if (name.endsWith('LocalPath')) expect(String(value)).toMatch(new RegExp(`^${EXAMPLE_FILES_ROOT.replace(/\./g, '\\.')}/`));
				}
			}
		}
	});

	describe('(a) mirror Dropbox /Photos to Google Drive /Backups/Photos, photos and PDFs only', () => {
		const driveBefore = () => readDriveTree(clouds, FOLDERS.drivePhotos);
		const expectedMirror = () => ({
			// Dropbox files with a kept extension…
			...withExtensions(SAMPLE.dropboxPhotos, SAMPLE.mirrorExtensions),
			// …and what the filter leaves out on Google Drive stays.
			'readme.txt': SAMPLE.drivePhotos['readme.txt'],
		});

		test('as shipped (Dry Run on): the summary says what the mirror would do, the Files output lists it, nothing is written', async () => {
			const before = treeHashes(await driveBefore());
			const result = await n8n.executeWorkflow(EXAMPLES.mirror.id);
			report(`(a) dry run: n8n execute in ${result.durationMs} ms`);
			expect(result.status).toBe('success');
			const summaries = result.nodes['Mirror Dropbox to Google Drive'];
			expect(summaries).toHaveLength(1);
			const actions = filesOf(result, 'Mirror Dropbox to Google Drive').map((item) => [item.action, item.path]);
			expect(actions.sort()).toEqual(
				[
					['copy', 'scans/receipt.pdf'],
					['delete', 'old-trip.jpg'],
					['update', '2024/beach.jpg'],
				].sort(),
			);
			expectPlannedMirror(summaries[0], 'Dropbox:/Photos', 'Google Drive:/Backups/Photos');
			expect(treeHashes(await driveBefore())).toEqual(before);
		});

		test('with Dry Run off: Google Drive matches the filtered Dropbox folder, hash for hash', async () => {
			const oldTripId = clouds.drive.statPath(`${FOLDERS.drivePhotos}/old-trip.jpg`)?.id;
			expect(oldTripId).toBeDefined();
			await n8n.importWorkflows([
				withParameters(examples.mirror, 'Mirror Dropbox to Google Drive', (parameters) => {
					parameters.dryRun = false;
				}),
			]);
			const result = await n8n.executeWorkflow(EXAMPLES.mirror.id);
			report(`(a) mirror: n8n execute in ${result.durationMs} ms`);
			expect(result.nodes['Mirror Dropbox to Google Drive']).toHaveLength(1);
			expect(summaryOf(result, 'Mirror Dropbox to Google Drive')).toMatchObject({
				status: 'success',
				dryRun: false,
				added: 1,
				updated: 1,
				deleted: 1,
				skipped: 1,
				failed: 0,
				errors: [],
				bytes: SAMPLE.dropboxPhotos['2024/beach.jpg'].length + SAMPLE.dropboxPhotos['scans/receipt.pdf'].length,
				message: expect.stringMatching(/^Mirror Dropbox:\/Photos → Google Drive:\/Backups\/Photos: 1 added, 1 updated, 1 moved to trash, 0 failed in \d+\.\d s$/),
			});
			expect(treeHashes(await driveBefore())).toEqual(treeHashes(expectedMirror()));
			// Deleted means moved to the Drive trash, not gone.
			expect(clouds.drive.file(oldTripId!)?.trashed).toBe(true);
			// Drive's own checksum of an uploaded file is the checksum of the Dropbox bytes.
			expect(clouds.drive.statPath(`${FOLDERS.drivePhotos}/scans/receipt.pdf`)?.md5Checksum).toBe(md5(SAMPLE.dropboxPhotos['scans/receipt.pdf']));
		});

		test('a second run finds nothing to do', async () => {
			const result = await n8n.executeWorkflow(EXAMPLES.mirror.id);
			// Scheduled runs plan from both change feeds: only what the first run wrote is checked again, not the whole tree.
			expect(summaryOf(result, 'Mirror Dropbox to Google Drive')).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0, skipped: 2, bytes: 0, listing: 'changes' });
			expect(treeHashes(await driveBefore())).toEqual(treeHashes(expectedMirror()));
		});
	});

	describe('(e) mirror OneDrive /Documents/Contracts to Google Drive /Backups/Contracts, PDFs and Office files only', () => {
		const MIRROR = 'Mirror OneDrive to Google Drive';
		const driveNow = () => readDriveTree(clouds, FOLDERS.driveContracts);

		test('as shipped (Dry Run on): the mirror is planned and nothing is written', async () => {
			const before = treeHashes(await driveNow());
			const result = await n8n.executeWorkflow(EXAMPLES.oneDriveMirror.id);
			report(`(e) dry run: n8n execute in ${result.durationMs} ms`);
			expect(result.status).toBe('success');
			expect(filesOf(result, MIRROR).map((item) => [item.action, item.path]).sort()).toEqual(
				[
					['copy', '2026/budget.xlsx'],
					['delete', 'expired.pdf'],
					['update', '2026/acme.pdf'],
				].sort(),
			);
			expectPlannedMirror(result.nodes[MIRROR][0], 'OneDrive:/Documents/Contracts', 'Google Drive:/Backups/Contracts');
			expect(treeHashes(await driveNow())).toEqual(before);
		});

		test('with Dry Run off: Google Drive matches the filtered OneDrive folder hash for hash; a re-run finds nothing to do', async () => {
			await n8n.importWorkflows([
				withParameters(examples.oneDriveMirror, MIRROR, (parameters) => {
					parameters.dryRun = false;
				}),
			]);
			const result = await n8n.executeWorkflow(EXAMPLES.oneDriveMirror.id);
			report(`(e) mirror: n8n execute in ${result.durationMs} ms`);
			expect(summaryOf(result, MIRROR)).toMatchObject({ status: 'success', added: 1, updated: 1, deleted: 1, skipped: 1, failed: 0, errors: [] });
			expect(treeHashes(await driveNow())).toEqual(treeHashes(withExtensions(SAMPLE.oneDriveContracts, SAMPLE.oneDriveMirrorExtensions)));
			const again = await n8n.executeWorkflow(EXAMPLES.oneDriveMirror.id);
			expect(summaryOf(again, MIRROR)).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0, bytes: 0 });
		});
	});

	test('(b) copy a local folder to Dropbox /Backups/outbox: new files arrive, nothing is deleted', async () => {
		const result = await n8n.executeWorkflow(EXAMPLES.localToDropbox.id);
		report(`(b) local → Dropbox: n8n execute in ${result.durationMs} ms`);
		const items = result.nodes['Copy outbox to Dropbox'];
		expect(items).toHaveLength(1);
		const sent = Object.fromEntries(Object.entries(SAMPLE.localOutbox).filter(([file]) => file !== '.DS_Store'));
		expect(items[0]).toMatchObject({
			type: 'summary',
			status: 'success',
			mode: 'copy',
			source: `Local:${n8n.dataFolder}/${FOLDERS.localOutbox}`,
			destination: `Dropbox:${FOLDERS.dropboxOutbox}`,
			added: Object.keys(sent).length,
			deleted: 0,
			failed: 0,
			bytes: Object.values(sent).reduce((sum, content) => sum + content.length, 0),
		});
		const copied = filesOf(result, 'Copy outbox to Dropbox').filter((item) => item.type === 'file' && item.action === 'copy');
		expect(copied.map((item) => [item.path, item.status, item.bytes]).sort()).toEqual(
			Object.entries(sent)
				.map(([file, content]) => [file, 'done', content.length])
				.sort(),
		);
		// .DS_Store stays home (system files are skipped by default); keep-me.txt stays on Dropbox (copy never deletes).
		expect(treeHashes(readDropboxTree(clouds.dropbox, FOLDERS.dropboxOutbox))).toEqual(treeHashes({ ...sent, ...SAMPLE.dropboxOutbox }));
	});

	test('(d) a CSV made by Convert to File is uploaded into Google Drive Reports/yyyy/MM-dd/', async () => {
		const before = new Date();
		const result = await n8n.executeWorkflow(EXAMPLES.upload.id);
		report(`(d) upload: n8n execute in ${result.durationMs} ms`);
		const csvBinary = result.outputs['Make CSV'][0][0].binary?.data;
		expect(csvBinary).toMatchObject({ fileName: 'sales.csv' });
		const [uploaded] = result.nodes['Upload to Google Drive'];
		// The path is an expression on $now (GENERIC_TIMEZONE is UTC in the sandbox); a run across midnight may see either day.
		const dayOf = (date: Date) => `${date.getUTCFullYear()}/${String(date.getUTCMonth() + 1).padStart(2, '0')}-${String(date.getUTCDate()).padStart(2, '0')}`;
		const candidates = [dayOf(before), dayOf(new Date())].map((day) => `${FOLDERS.driveReports}/${day}/sales.csv`);
		expect(candidates).toContain(uploaded.path);
		const file = clouds.drive.statPath(uploaded.path as string);
		expect(file?.id).toBe(uploaded.id);
		const content = clouds.drive.content(file!.id!);
		expect(content.toString('utf8').trim().split('\n')).toEqual(['region,orders,revenue', 'North,42,1260.5', 'South,17,498', 'East,29,911.25']);
		expect(uploaded).toMatchObject({ name: 'sales.csv', type: 'file', size: content.length, hashes: { md5: md5(content), sha256: sha256(content) } });
	});

	test('(f) nightly backup of a local folder to S3: a dated snapshot of everything, then only what changed, and nothing when nothing did', async () => {
		const NODE = 'Back up documents to S3';
		const local = path.join(n8n.dataFolder, FOLDERS.localDocuments);
		const bucket = () => readS3Tree(clouds, FOLDERS.s3Bucket, FOLDERS.s3Backups);
		const first = await n8n.executeWorkflow(EXAMPLES.localToS3Backup.id);
		report(`(f) backup to S3: n8n execute in ${first.durationMs} ms`);
		const firstSummary = summaryOf(first, NODE)!;
		expect(firstSummary).toMatchObject({ status: 'success', mode: 'incremental', files: 3, failed: 0, destination: `S3:${FOLDERS.s3Bucket}/${FOLDERS.s3Backups}` });
		const snapshot = String(firstSummary.folder);
		expect(snapshot).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}-\d{2}-\d{2}$/);
		const inSnapshot = (folder: string, files: Record<string, Buffer>) => Object.fromEntries(Object.entries(files).map(([file, content]) => [`${folder}/${file}`, content]));
		expect(treeHashes(withoutState(await bucket()))).toEqual(treeHashes(inSnapshot(snapshot, SAMPLE.localDocuments)));

		// Snapshot folders are named to the second.
		await new Promise((resolve) => setTimeout(resolve, 1100));
		const edited = Buffer.from('# Notes\nEdited after the first backup.\n');
		fs.writeFileSync(path.join(local, 'notes.md'), edited);
		const second = summaryOf(await n8n.executeWorkflow(EXAMPLES.localToS3Backup.id), NODE)!;
		expect(second).toMatchObject({ status: 'success', files: 1, unchanged: 2 });
		expect(treeHashes(withoutState(await bucket()))).toEqual(
			treeHashes({ ...inSnapshot(snapshot, SAMPLE.localDocuments), ...inSnapshot(String(second.folder), { 'notes.md': edited }) }),
		);

		await new Promise((resolve) => setTimeout(resolve, 1100));
		const third = summaryOf(await n8n.executeWorkflow(EXAMPLES.localToS3Backup.id), NODE)!;
		expect(third).toMatchObject({ status: 'success', files: 0, bytes: 0, removedSnapshots: [] });
	});

	describe('with `n8n start`', () => {
		let server: RunningN8n;

		beforeAll(async () => {
			server = await n8n.startN8n();
			report(`n8n start healthy in ${server.startupMs} ms on ${server.url}`);
			await server.setupOwner();
		}, 5 * 60 * 1000);

		afterAll(async () => {
			await server?.stop();
		});

		test('(c) the active trigger workflow brings a Dropbox change to the local folder within 2.5 minutes', async () => {
			const id = EXAMPLES.trigger.id;
			const backup = path.join(n8n.dataFolder, FOLDERS.localInboxBackup);
			expect(treeHashes(readLocalTree(backup))).toEqual(treeHashes(SAMPLE.localInboxBackup));
			let started = Date.now();
			await server.activateWorkflow(id);
			// n8n runs the first poll while activating, in the background: it records the change cursor
			// (and emits nothing). A change made before that is part of the starting point, so wait for it.
			const node = examples.trigger.nodes.find((candidate) => candidate.type === TRIGGER_TYPE)!;
			const cursor = await eventually(
				async () => {
					const workflow = await server.rest<{ staticData?: Record<string, { cursor?: string; location?: string }> | null }>('GET', `/workflows/${id}`);
					return workflow.staticData?.[`node:${node.name}`]?.cursor ? workflow.staticData[`node:${node.name}`] : undefined;
				},
				60_000,
				'the trigger recording its Dropbox cursor',
				250,
			);
			expect(cursor.location).toBe(`Dropbox:${FOLDERS.dropboxInbox}`);
			report(`(c) activated, cursor recorded in ${Date.now() - started} ms`);

			// Another Dropbox client changes the folder: a new photo in a new subfolder, an edit, a deletion.
			const photo = sampleBytes('new-photo.jpg', 30_000);
			const edited = Buffer.from('Edited on another device.\n');
			clouds.dropbox.seedFile(`${FOLDERS.dropboxInbox}/2026/new-photo.jpg`, photo);
			clouds.dropbox.seedFile(`${FOLDERS.dropboxInbox}/welcome.txt`, edited);
			clouds.dropbox.remove(`${FOLDERS.dropboxInbox}/old.txt`);
			started = Date.now();
			const expected = treeHashes({ '2026/new-photo.jpg': photo, 'welcome.txt': edited });
			await eventually(
				() => (JSON.stringify(treeHashes(readLocalTree(backup))) === JSON.stringify(expected) ? true : undefined),
				150_000,
				'the Dropbox changes in the local backup folder',
			);
			report(`(c) change arrived ${Date.now() - started} ms after it was made on the emulator`);
			expect(treeHashes(readLocalTree(backup))).toEqual(expected);
			// What the change deleted and replaced locally is kept in the folder's trash, not lost.
			const kept = Object.entries(readLocalTree(backup, { withEngineFolder: true })).filter(([file]) => file.startsWith('.cloudsync/trash/'));
			expect(kept.map(([file]) => file.replace(/^\.cloudsync\/trash\/[^/]+\//, '')).sort()).toEqual(['old.txt', 'welcome.txt']);

			const executions = await eventually(
				async () => {
					const list = await server.listExecutions(id);
					return list.some((execution) => execution.status === 'success') ? list : undefined;
				},
				30_000,
				'a saved execution',
			);
			const successful = executions.filter((execution) => execution.status === 'success');
			expect(successful.length).toBeGreaterThanOrEqual(1);
			expect(successful[0].mode).toBe('trigger');
			expect(executions.filter((execution) => execution.status === 'error')).toEqual([]);
			// One poll may have seen part of the changes: gather the trigger items of every execution.
			const runs = await Promise.all(successful.map((execution) => server.getExecution(execution.id)));
			const events = runs.flatMap((run) => run.nodes['Dropbox /Inbox changed'] ?? []).map((item) => `${item.event} ${item.type} ${item.path}`);
			// Dropbox's change feed does not tell a new file from a changed one: both are 'modified'.
			expect(events.sort()).toEqual(['added folder 2026', 'deleted file old.txt', 'modified file 2026/new-photo.jpg', 'modified file welcome.txt']);
			const totals = { added: 0, updated: 0, deleted: 0 };
			for (const run of runs) {
				const summary = summaryOf(run, 'Sync the changed files');
				expect(summary).toMatchObject({ status: 'success', failed: 0 });
				for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += Number(summary?.[key] ?? 0);
			}
			expect(totals).toEqual({ added: 1, updated: 1, deleted: 1 });
			await server.deactivateWorkflow(id);
		});

		test('the editor shows the mirror example with the Cloud Sync icons', async () => {
			const output = path.join(OUTPUT, 'examples-editor.png');
			const started = Date.now();
			const canvasNodes = examples.mirror.nodes.filter((node) => node.type !== 'n8n-nodes-base.stickyNote').length;
			const shot = await screenshot({
				url: `${server.url}/workflow/${EXAMPLES.mirror.id}`,
				output,
				cookies: Object.entries(server.cookies).map(([name, value]) => ({ name, value, url: server.url })),
				localStorage: { 'n8n-browserId': server.browserId },
				waitFor: { selector: '[data-test-id="canvas-node"]', count: canvasNodes },
				probe: `[...document.querySelectorAll('[data-test-id="canvas-node"]')].map((node) => ({
					text: node.textContent.trim().replace(/\\s+/g, ' '),
					icons: [...node.querySelectorAll('img')].map((img) => ({ src: img.getAttribute('src'), loaded: img.complete && img.naturalWidth > 0 })),
				}))`,
				logFile: n8n.logFile,
			});
			report(`editor screenshot in ${Date.now() - started} ms: ${output}`);
			expect(shot.finalUrl).toContain(`/workflow/${EXAMPLES.mirror.id}`);
			const nodes = shot.probe as Array<{ text: string; icons: Array<{ src: string | null; loaded: boolean }> }>;
			for (const name of ['Mirror Dropbox to Google Drive']) {
				const node = nodes.find((candidate) => candidate.text.includes(name));
				expect(node).toBeDefined();
				expect(node!.icons).toEqual([expect.objectContaining({ src: expect.stringContaining('cloudSync'), loaded: true })]);
			}
			expect(fs.statSync(output).size).toBeGreaterThan(20_000);
		});
	});
});
