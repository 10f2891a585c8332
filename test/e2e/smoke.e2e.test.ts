/**
 * Proves the e2e harness with n8n's built-in nodes only: pack + install this package as a community
 * package, import credentials and a workflow, `n8n execute`, `n8n start` + /healthz, and a screenshot
 * of the workflow in the editor (test/e2e/output/editor.png).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { screenshot } from './browser';
import { N8nSandbox, PACKAGE_NAME, type RunningN8n, type WorkflowJson } from './n8n';

const describeE2E = process.env.CLOUDSYNC_E2E === '1' ? describe : describe.skip;
const OUTPUT = path.join(__dirname, 'output');
const readWorkflow = (name: string) =>
	JSON.parse(fs.readFileSync(path.join(__dirname, 'workflows', name), 'utf8')) as WorkflowJson;
const smokeWorkflow = readWorkflow('smoke.workflow.json');
const scheduleWorkflow = readWorkflow('schedule.workflow.json');

/** Polls until `probe` returns a value, or fails after `timeoutMs`. */
async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
		await new Promise((resolve) => setTimeout(resolve, 500));
	}
}

function report(line: string): void {
	process.stderr.write(`[e2e timing] ${line}\n`);
}

describeE2E('n8n smoke (built-in nodes)', () => {
	let n8n: N8nSandbox;
	let workflowId: string;

	beforeAll(async () => {
		const started = Date.now();
		n8n = await N8nSandbox.create(); // installs n8n on first use: about 7 minutes
		report(`sandbox ready (install check) in ${Date.now() - started} ms: ${n8n.root}`);
	}, 30 * 60 * 1000);

	afterAll(async () => {
		await n8n?.cleanup();
	});

	test('installs this package the way n8n installs a community package', async () => {
		const started = Date.now();
		const dir = await n8n.packPackage();
		report(`packPackage in ${Date.now() - started} ms`);
		expect(dir).toBe(path.join(n8n.userFolder, '.n8n', 'nodes', 'node_modules', PACKAGE_NAME));
		const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
		expect(pkg.name).toBe(PACKAGE_NAME);
		expect(pkg.devDependencies).toBeUndefined();
		expect(pkg.n8n).toBeDefined();
		for (const dependency of Object.keys(pkg.dependencies ?? {})) {
			expect(fs.existsSync(path.join(dir, 'node_modules', dependency, 'package.json'))).toBe(true);
		}
		expect(fs.existsSync(path.join(dir, pkg.main))).toBe(true);
	});

	test('loads and runs a node of a community package (test fixture)', async () => {
		await n8n.packPackage({ packageDir: path.join(__dirname, 'fixtures', 'n8n-nodes-e2e-fixture') });
		const id = await n8n.importWorkflow(readWorkflow('fixture-node.workflow.json'));
		const result = await n8n.executeWorkflow(id);
		expect(result.nodes['Echo']).toEqual([{ echo: 'hello from a community package', mainConnection: 'main' }]);
	});

	test('imports credentials encrypted with the sandbox key', async () => {
		const [id] = await n8n.importCredentials({
			name: 'Smoke header auth',
			type: 'httpHeaderAuth',
			data: { name: 'X-Smoke', value: 'secret-value' },
		});
		const out = path.join(n8n.root, 'export-credentials.json');
		await n8n.cli(['export:credentials', `--id=${id}`, '--decrypted', `--output=${out}`]);
		const exported = JSON.parse(fs.readFileSync(out, 'utf8'));
		expect(exported[0]).toMatchObject({ id, type: 'httpHeaderAuth', data: { name: 'X-Smoke', value: 'secret-value' } });
	});

	test('imports and executes a workflow, with every node’s output', async () => {
		workflowId = await n8n.importWorkflow(smokeWorkflow);
		expect(workflowId).toBe(smokeWorkflow.id);
		const result = await n8n.executeWorkflow(workflowId);
		report(`n8n execute --id in ${result.durationMs} ms`);
		expect(result.status).toBe('success');
		expect(result.error).toBeUndefined();
		expect(result.lastNodeExecuted).toBe('Label');
		expect(Object.keys(result.nodes).sort()).toEqual(["Label", 'Make items', "When clicking 'Execute workflow'"]);
		expect(result.nodes['Make items']).toEqual([
			{ n: 1, square: 1, runtime: expect.any(String) },
			{ n: 2, square: 4, runtime: expect.any(String) },
			{ n: 3, square: 9, runtime: expect.any(String) },
		]);
		expect(result.lastNodeOutput.map((j) => j.label)).toEqual([
			'item 1 squared is 1',
			'item 2 squared is 4',
			'item 3 squared is 9',
		]);
	});

	test('reports a failing workflow with the failing node and the data before it', async () => {
		const failing: WorkflowJson = JSON.parse(JSON.stringify(smokeWorkflow));
		failing.id = 'cloudsyncSmoke02';
		failing.name = 'CloudSync e2e smoke (failing)';
		failing.nodes[2] = {
			...failing.nodes[2],
			type: 'n8n-nodes-base.code',
			typeVersion: 2,
			parameters: { jsCode: "throw new Error('boom from the smoke test');" },
		};
		const id = await n8n.importWorkflow(failing);
		const result = await n8n.executeWorkflow(id, { allowFailure: true });
		expect(result.status).toBe('error');
		expect(result.error?.message).toContain('boom from the smoke test');
		expect(result.error?.node).toBe('Label');
		expect(result.nodes['Make items']).toHaveLength(3);
	});

	describe('n8n start', () => {
		let server: RunningN8n;
		const publishedId = scheduleWorkflow.id as string;
		const liveId = 'cloudsyncSmoke04';

		beforeAll(async () => {
			// One trigger workflow published before the start (CLI), one activated on the running server (REST).
			await n8n.importWorkflow(scheduleWorkflow);
			await n8n.publishWorkflow(publishedId);
			await n8n.importWorkflow({ ...scheduleWorkflow, id: liveId, name: `${scheduleWorkflow.name} (live)` });
			server = await n8n.startN8n();
			report(`n8n start healthy in ${server.startupMs} ms on ${server.url}`);
			await server.setupOwner();
		}, 5 * 60 * 1000);

		afterAll(async () => {
			const started = Date.now();
			await server?.stop();
			report(`n8n stop in ${Date.now() - started} ms`);
		});

		test('answers /healthz', async () => {
			const response = await fetch(`${server.url}/healthz`);
			expect(response.status).toBe(200);
			expect(await response.json()).toEqual({ status: 'ok' });
		});

		test('loads the community package without complaint', () => {
			const log = n8n.readLogs();
			expect(log).not.toMatch(new RegExp(`Skipping package[^\\n]*${PACKAGE_NAME}`));
			expect(log).not.toMatch(/Error loading package|failed to load package metadata/i);
		});

		test('runs the trigger of a workflow published before the start', async () => {
			const run = await eventually(
				async () => (await server.listExecutions(publishedId)).find((e) => e.status === 'success'),
				30_000,
				'a successful execution of the published workflow',
			);
			expect(run.mode).toBe('trigger');
			const execution = await server.getExecution(run.id);
			expect(execution.nodes['Tick']).toEqual([{ tick: true }]);
		});

		test('activates a workflow on the running server', async () => {
			await server.activateWorkflow(liveId);
			const run = await eventually(
				async () => (await server.listExecutions(liveId)).find((e) => e.status === 'success'),
				30_000,
				'a successful execution of the activated workflow',
			);
			expect(run.mode).toBe('trigger');
			await server.deactivateWorkflow(liveId);
			await server.deactivateWorkflow(publishedId);
		});

		test('shows the workflow on the editor canvas', async () => {
			const me = await server.rest<{ email: string }>('GET', '/login');
			expect(me.email).toBe(server.owner?.email);
			const output = path.join(OUTPUT, 'editor.png');
			const started = Date.now();
			const shot = await screenshot({
				url: `${server.url}/workflow/${workflowId}`,
				output,
				cookies: Object.entries(server.cookies).map(([name, value]) => ({ name, value, url: server.url })),
				// n8n ties the session to the browser-id header the editor sends from localStorage.
				localStorage: { 'n8n-browserId': server.browserId },
				waitFor: { selector: '[data-test-id="canvas-node"]', count: smokeWorkflow.nodes.length },
				logFile: n8n.logFile,
			});
			report(`editor screenshot in ${Date.now() - started} ms`);
			expect(shot.finalUrl).toContain(`/workflow/${workflowId}`);
			expect(shot.matches).toBe(smokeWorkflow.nodes.length);
			expect(fs.statSync(output).size).toBeGreaterThan(10_000);
		});
	});
});
