/**
 * Two-way sync in n8n's queue mode: a main process that takes the webhook calls, Redis, and workers
 * that run the executions, all on this machine (Debian's redis-server on a port of its own). Shows
 * that the two-way state saved by one worker is what the next run on another worker starts from, and
 * that the lock file on the destination keeps two workers from running the same pair at once.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { EXAMPLE_CREDENTIALS, SEED_TIME, loadExample, readDropboxTree, readLocalTree, startSampleClouds, treeHashes, type SampleClouds } from './clouds';
import { N8nSandbox, type RunningN8n, type WorkflowJson } from './n8n';

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
const describeE2E = process.env.CLOUDSYNC_E2E === '1' && hasRedis ? describe : describe.skip;
const WORKFLOW_ID = 'csQueueTwoWay01';
const NODE = 'Two-way sync shared folder';
const LOCAL = 'queue-shared';
const DROPBOX = '/QueueShared';
const HOOK = 'two-way-queue';

async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address() as net.AddressInfo;
			server.close(() => resolve(port));
		});
		server.on('error', reject);
	});
}

async function startRedis(port: number): Promise<ChildProcess> {
	const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
	for (let attempt = 0; attempt < 100; attempt++) {
		const up = await new Promise<boolean>((resolve) => {
			const socket = net.connect(port, '127.0.0.1', () => {
				socket.end();
				resolve(true);
			});
			socket.on('error', () => resolve(false));
		});
		if (up) return redis;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	redis.kill();
	throw new Error(`redis-server did not listen on ${port}`);
}

/** The example's two-way node behind a webhook that answers with the node's output once it is done. */
function webhookWorkflow(dataFolder: string): WorkflowJson {
	const example = loadExample('two-way-local-and-dropbox-on-schedule', dataFolder);
	const sync = example.nodes.find((node) => node.name === NODE)!;
	const parameters = sync.parameters as Record<string, unknown>;
	parameters.sourceLocalPath = path.join(dataFolder, LOCAL);
	parameters.destinationDropboxFolder = { __rl: true, mode: 'path', value: DROPBOX };
	return {
		id: WORKFLOW_ID,
		name: 'Two-way sync on a webhook, queue mode',
		nodes: [
			{
				id: randomUUID(),
				name: 'Webhook',
				type: 'n8n-nodes-base.webhook',
				typeVersion: 2,
				position: [0, 0],
				webhookId: randomUUID(),
				parameters: { httpMethod: 'POST', path: HOOK, responseMode: 'lastNode', responseData: 'allEntries' },
			},
			{ ...sync, position: [260, 0] },
		],
		connections: { Webhook: { main: [[{ node: NODE, type: 'main', index: 0 }]] } },
		settings: { executionOrder: 'v1' },
		active: false,
	} as WorkflowJson;
}

describeE2E('two-way sync in queue mode: state and lock shared by workers', () => {
	let clouds: SampleClouds;
	let n8n: N8nSandbox;
	let redis: ChildProcess;
	let main: RunningN8n;
	const localRoot = () => path.join(n8n.dataFolder, LOCAL);
	const call = async () => {
		const response = await fetch(`${main.url}/webhook/${HOOK}`, { method: 'POST', signal: AbortSignal.timeout(120_000) });
		return { status: response.status, body: (await response.json()) as Array<Record<string, unknown>> | Record<string, unknown> };
	};
	const trees = () => [treeHashes(readLocalTree(localRoot())), treeHashes(readDropboxTree(clouds.dropbox, DROPBOX))].map(
		(tree) => Object.fromEntries(Object.entries(tree).filter(([file]) => !file.startsWith('.cloudsync/') && !file.startsWith('.versions/'))),
	);

	beforeAll(async () => {
		const redisPort = await freePort();
		redis = await startRedis(redisPort);
		clouds = await startSampleClouds();
		n8n = await N8nSandbox.create({
			env: { ...clouds.env, EXECUTIONS_MODE: 'queue', QUEUE_BULL_REDIS_HOST: '127.0.0.1', QUEUE_BULL_REDIS_PORT: String(redisPort), OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS: 'true' },
		});
		fs.mkdirSync(localRoot(), { recursive: true });
		fs.writeFileSync(path.join(localRoot(), 'notes.txt'), 'notes v1\n');
		fs.utimesSync(path.join(localRoot(), 'notes.txt'), SEED_TIME / 1000, SEED_TIME / 1000);
		clouds.dropbox.seedFile(`${DROPBOX}/from-dropbox.txt`, 'from Dropbox\n', { clientModified: SEED_TIME });
		await n8n.packPackage({ tarball: process.env.CLOUDSYNC_E2E_TARBALL || undefined });
		await n8n.importCredentials(clouds.credentials.filter((credential) => credential.id === EXAMPLE_CREDENTIALS.dropbox.id));
		await n8n.importWorkflows([webhookWorkflow(n8n.dataFolder)]);
		main = await n8n.startN8n();
		await main.setupOwner();
		await main.activateWorkflow(WORKFLOW_ID);
	}, 30 * 60 * 1000);

	afterAll(async () => {
		await n8n?.cleanup();
		await clouds?.stop();
		redis?.kill();
	});

	test('a run on one worker saves the state that the next run, on another worker, starts from', async () => {
		const first = await n8n.startWorker();
		const one = await call();
		expect(one.status).toBe(200);
		expect((one.body as Array<Record<string, unknown>>)[0]).toMatchObject({ type: 'summary', status: 'success', firstRun: true, added: 2, stateSaved: true });
		await first.stop();

		fs.rmSync(path.join(localRoot(), 'notes.txt'));
		clouds.dropbox.seedFile(`${DROPBOX}/from-dropbox.txt`, 'from Dropbox, edited\n', { clientModified: SEED_TIME + 3_600_000 });
		const second = await n8n.startWorker();
		const two = await call();
		expect(two.status).toBe(200);
		// Only the second worker is running: it ran this execution, from the state the first one saved.
		// n8n 2.40 hands a worker's new execution no static data (it is saved, but not passed on): the state's copy on the destination carries it.
		expect((two.body as Array<Record<string, unknown>>)[0]).toMatchObject({
			status: 'success',
			firstRun: false,
			stateFromCopy: true,
			deleted: 1,
			updated: 1,
			toDestination: { deleted: 1 },
			toSource: { updated: 1 },
			hint: expect.stringMatching(/copy in the .cloudsync folder/),
		});
		const [local, dropbox] = trees();
		expect(local).toEqual(dropbox);
		expect(Object.keys(local)).toEqual(['from-dropbox.txt']);
		await second.stop();
	});

	test('two workers asked to run the pair at once: one runs, the other stops at the lock and says why', async () => {
		const workers = [await n8n.startWorker(), await n8n.startWorker()];
		// Many new files, and every Dropbox answer takes a second: the first run holds the lock for several
		// seconds after it took it, longer than the second needs to find it held and to read the saved
		// state's header (which names the run before, so the lock is not free).
		const CHANGES = 24;
		for (let n = 0; n < CHANGES; n++) fs.writeFileSync(path.join(localRoot(), `big-change-${n}.txt`), `a change that takes a while to arrive (${n})\n`);
		const lockText = () =>
			Object.entries(readDropboxTree(clouds.dropbox, DROPBOX, { withEngineFolder: true }))
				.find(([file]) => file.startsWith('.cloudsync/') && file.endsWith('.lock'))?.[1]
				.toString('utf8');
		// The lock file stays between runs: left held by the last run, which saved its state to the destination (the copy names it), or marked free.
		const left = lockText();
		clouds.dropbox.server.inject({ kind: 'slow', delayMs: 1000 });
		const firstCall = call();
		// Wait until the first run holds it.
		const lockHeld = async () => {
			for (let attempt = 0; attempt < 120; attempt++) {
				const lock = lockText();
				if (lock && lock !== left && (JSON.parse(lock) as { expiresAt: number }).expiresAt > Date.now()) return;
				await new Promise((resolve) => setTimeout(resolve, 250));
			}
			throw new Error('the first run never took the lock');
		};
		await lockHeld();
		const secondCall = await call();
		const first = await firstCall;
		clouds.dropbox.server.clearFaults();
		expect(first.status).toBe(200);
		expect((first.body as Array<Record<string, unknown>>)[0]).toMatchObject({ status: 'success', added: CHANGES });
		expect(secondCall.status).toBe(500);
		const executions = await main.listExecutions(WORKFLOW_ID);
		const failed = await main.getExecution(executions.find((execution) => execution.status === 'error')!.id);
		expect(failed.error?.message).toMatch(/Another run of this folder pair is in progress/);
		const [local, dropbox] = trees();
		expect(local).toEqual(dropbox);
		for (const worker of workers) await worker.stop();
	});
});
