/**
 * The README's pictures of the Cloud Sync node, taken from the real n8n 2.40.7 editor with Debian's
 * Chromium (test/e2e/browser.ts): the Sync panel of the mirror example with Dry Run on, the panel of
 * the two-way example, and the mirror's output after "Execute step" (a dry run on the emulators):
 * the summary on its own output. Written to docs/ and checked for what a person would look for.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { screenshot, type ScreenshotOptions } from './browser';
import { EXAMPLES, loadExample, seedLocalFiles, startSampleClouds, type SampleClouds } from './clouds';
import { N8nSandbox, type RunningN8n } from './n8n';

const describeE2E = process.env.CLOUDSYNC_E2E === '1' ? describe : describe.skip;
const DOCS = path.join(__dirname, '..', '..', 'docs');
const TWO_WAY = { file: 'two-way-local-and-dropbox-on-schedule', id: 'csExampleTwoWay1', node: 'Two-way sync shared folder' };
const MIRROR = { ...EXAMPLES.mirror, node: 'Mirror Dropbox to Google Drive' };

/** The text of the open node panel, for the probe. */
const PANEL_TEXT = `(document.querySelector('[data-test-id="ndv"]')?.innerText ?? '')`;

describeE2E('the Cloud Sync node in the n8n editor (README pictures)', () => {
	let clouds: SampleClouds;
	let n8n: N8nSandbox;
	let server: RunningN8n;

	beforeAll(async () => {
		clouds = await startSampleClouds();
		n8n = await N8nSandbox.create({ env: clouds.env });
		seedLocalFiles(n8n.dataFolder);
		await n8n.packPackage({ tarball: process.env.CLOUDSYNC_E2E_TARBALL || undefined });
		await n8n.importCredentials(clouds.credentials);
		await n8n.importWorkflows([loadExample(MIRROR.file, n8n.dataFolder), loadExample(TWO_WAY.file, n8n.dataFolder)]);
		server = await n8n.startN8n();
		await server.setupOwner();
	}, 30 * 60 * 1000);

	afterAll(async () => {
		await server?.stop();
		await n8n?.cleanup();
		await clouds?.stop();
	});

	/** The editor opened on one node's panel, as a person who double-clicked it sees it. */
	function panel(workflowId: string, nodeName: string, output: string, extra: Partial<ScreenshotOptions> = {}) {
		const workflow = loadExample(workflowId === MIRROR.id ? MIRROR.file : TWO_WAY.file);
		const node = workflow.nodes.find((candidate) => candidate.name === nodeName)!;
		return screenshot({
			url: `${server.url}/workflow/${workflowId}/${node.id as string}`,
			output: path.join(DOCS, output),
			width: 1440,
			height: 1000,
			cookies: Object.entries(server.cookies).map(([name, value]) => ({ name, value, url: server.url })),
			localStorage: { 'n8n-browserId': server.browserId },
			waitFor: { selector: '[data-test-id="ndv"] [data-test-id="parameter-input-mode"]' },
			probe: PANEL_TEXT,
			logFile: n8n.logFile,
			...extra,
		});
	}

	test('the mirror example: Dry Run on, each side with its own credential, Max Deletions shown', async () => {
		const shot = await panel(MIRROR.id, MIRROR.node, 'editor-mirror-dry-run.png');
		const text = String(shot.probe);
		for (const label of ['Source Credential (Dropbox)', 'Destination Credential (Google Drive)', 'Source Cloud', 'Destination Cloud', 'Dry Run', 'Max Deletions (%)', 'Compare By']) expect(text).toContain(label);
		expect(text).not.toMatch(/Left|Right Cloud|Service Account/);
		// The source's slot above the destination's, whichever credential type n8n lists first.
		expect(text.indexOf('Source Credential (Dropbox)')).toBeLessThan(text.indexOf('Destination Credential (Google Drive)'));
		expect(fs.statSync(path.join(DOCS, 'editor-mirror-dry-run.png')).size).toBeGreaterThan(20_000);
	});

	test('the two-way example: Left and Right, no Compare By', async () => {
		const shot = await panel(TWO_WAY.id, TWO_WAY.node, 'editor-two-way.png');
		const text = String(shot.probe);
		for (const label of ['Left Cloud', 'Left Folder', 'Right Cloud', 'Right Credential (Dropbox)', 'Max Deletions (%)']) expect(text).toContain(label);
		expect(text).not.toMatch(/Source Cloud|Destination Cloud|Compare By/);
	});

	test('the mirror dry run executed in the editor: the summary alone on the first output', async () => {
		const shot = await panel(MIRROR.id, MIRROR.node, 'editor-summary-output.png', {
			steps: [
				{
					script: `document.querySelector('[data-test-id="ndv"] [data-test-id="node-execute-button"]').click()`,
					until: `${PANEL_TEXT}.includes('Files Branch')`,
					timeoutMs: 120_000,
				},
			],
		});
		const text = String(shot.probe).replace(/\s+/g, ' ');
		expect(text).toContain('Mirror (dry run) Dropbox:/Photos → Google Drive:/Backups/Photos: 1 to add, 1 to update, 1 to delete');
		// The summary alone on the first output; the plan, one item per action, on Files.
		expect(text).toContain('Summary Branch (1 item)');
		expect(text).toContain('Files Branch (3 items)');
	});
});
