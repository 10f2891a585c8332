/**
 * The iCloud Drive ⇄ Google Drive example (examples/icloud-drive-and-google-drive-two-way.json) in a
 * real n8n 2.40.7 against the iCloud Drive and Google Drive emulators, following the Apple ID sign-in
 * a person goes through: the first run stops and says how to enter a code; the code is entered in the
 * credential dialog (Save, type the code, Save again: n8n's credential test runs the credential's
 * preAuthentication, which stores the trusted session in the credential); later runs, each a new n8n
 * process, and a queue-mode worker run without a code; when Apple's trust runs out a run stops with
 * the instructions and changes nothing. No password, code, trust token or cookie reaches n8n's log.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { EXAMPLE_CREDENTIALS, SEED_TIME, loadExample, readDriveTree, startSampleClouds, treeHashes, type SampleClouds } from './clouds';
import { N8nSandbox, type WorkflowJson } from './n8n';
import type { ICloudDriveEmulator } from '../emulators/icloudDrive';
import { APPLE_CREDENTIAL, ICLOUD_EXAMPLE, ICLOUD_FOLDERS, ICLOUD_SAMPLE, startICloudSample, type ICloudSample } from './icloudClouds';

const describeE2E = process.env.CLOUDSYNC_E2E === '1' ? describe : describe.skip;
const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
const WORKFLOW = ICLOUD_EXAMPLE.id;
const HOOK_WORKFLOW = 'csICloudQueue001';
const HOOK = 'icloud-two-way-queue';
const NODE = ICLOUD_EXAMPLE.node;
const APPLE = APPLE_CREDENTIAL;
const ICLOUD = ICLOUD_FOLDERS.icloud;
const DRIVE = ICLOUD_FOLDERS.drive;
const DAY = 86_400_000;
const ICLOUD_ONLY = ICLOUD_SAMPLE.icloud;
const DRIVE_ONLY = ICLOUD_SAMPLE.drive;

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

describeE2E('iCloud Drive ⇄ Google Drive example in n8n: an Apple ID code entered once, then runs without a person', () => {
	let clouds: SampleClouds;
	let sample: ICloudSample;
	let icloud: ICloudDriveEmulator;
	let n8n: N8nSandbox;
	const codes = () => icloud.auth.codesSent.get(icloud.user.appleId.toLowerCase())?.length ?? 0;
	const iCloudTree = () =>
		Object.fromEntries(
			icloud
				.paths(ICLOUD)
				.filter((file) => !file.endsWith('/') && !file.startsWith('.cloudsync/') && !file.startsWith('.versions/'))
				.map((file) => [file, icloud.find(`${ICLOUD}/${file}`)!.content!]),
		);
	const driveTree = async () => Object.fromEntries(Object.entries(await readDriveTree(clouds, DRIVE)).filter(([file]) => !file.startsWith('.cloudsync/') && !file.startsWith('.versions/')));
	/** The values that must never be printed: the password, and every code, session token, trust token and cookie Apple handed out. */
	const secrets = () => [icloud.user.password, ...icloud.auth.secrets()];

	beforeAll(async () => {
		clouds = await startSampleClouds();
		sample = await startICloudSample(clouds.drive);
		icloud = sample.icloud;
		n8n = await N8nSandbox.create({ env: { ...clouds.env, ...sample.env } });
		await n8n.packPackage({ tarball: process.env.CLOUDSYNC_E2E_TARBALL || undefined });
		await n8n.importCredentials([
			...clouds.credentials.filter((credential) => credential.id === EXAMPLE_CREDENTIALS.googleDrive.id),
			// As the person first saves it: the Apple ID and its password, no code yet.
			sample.credential,
		]);
		await n8n.importWorkflows([loadExample(ICLOUD_EXAMPLE.file, n8n.dataFolder), webhookWorkflow(loadExample(ICLOUD_EXAMPLE.file, n8n.dataFolder))]);
	}, 30 * 60 * 1000);

	afterAll(async () => {
		await n8n?.cleanup();
		await clouds?.stop();
		await sample?.stop();
	});

	test('the first run, before any code was entered, stops with the instructions and changes nothing', async () => {
		const before = [treeHashes(iCloudTree()), treeHashes(await driveTree())];
		const result = await n8n.executeWorkflow(WORKFLOW, { allowFailure: true });
		expect(result.error?.message).toMatch(/verification code/i);
		expect(result.error?.description).toMatch(/clear "Verification Code" and click Save/);
		expect([treeHashes(iCloudTree()), treeHashes(await driveTree())]).toEqual(before);
		expect(codes()).toBe(0);
	});

	test('the code is entered in the credential dialog: Save sends it, Save with the code stores the trusted session', async () => {
		const main = await n8n.startN8n();
		try {
			await main.setupOwner();
			const dialog = { appleId: icloud.user.appleId, password: icloud.user.password, codeDelivery: 'trustedDevice', verificationCode: '' };
			// The editor saves the dialog, then tests the saved credential.
			await main.rest('PATCH', `/credentials/${APPLE.id}`, { ...APPLE, data: dialog });
			const first = await main.rest<{ status: string; message: string }>('POST', '/credentials/test', { credentials: { ...APPLE, data: dialog } });
			expect(first).toMatchObject({ status: 'Error', message: expect.stringMatching(/Apple sent a 6-digit verification code/) });
			expect(codes()).toBe(1);

			const code = icloud.auth.lastCode(icloud.user.appleId)!;
			await main.rest('PATCH', `/credentials/${APPLE.id}`, { ...APPLE, data: { ...dialog, verificationCode: code } });
			const second = await main.rest<{ status: string; message: string }>('POST', '/credentials/test', { credentials: { ...APPLE, data: { ...dialog, verificationCode: code } } });
			expect(second).toMatchObject({ status: 'OK' });
			for (const secret of secrets()) expect(JSON.stringify([first, second])).not.toContain(secret);
		} finally {
			await main.stop();
		}
	});

	test('scheduled runs, each a new n8n process, sync both ways without a code', async () => {
		const sent = codes();
		const first = await n8n.executeWorkflow(WORKFLOW);
		expect(first.nodes[NODE][0]).toMatchObject({ type: 'summary', status: 'success', firstRun: true, added: 3, deleted: 0, stateSaved: true });
		const both = treeHashes({ ...ICLOUD_ONLY, ...DRIVE_ONLY });
		expect(treeHashes(iCloudTree())).toEqual(both);
		expect(treeHashes(await driveTree())).toEqual(both);

		// Apple ends web sessions after a while: the next run signs in again with the trust token alone.
		icloud.auth.endWebSessions();
		const edited = Buffer.from('# Plan\n- v1\n- v2 from iCloud\n');
		icloud.remove(`${ICLOUD}/plan.md`);
		icloud.seedFile(`${ICLOUD}/plan.md`, edited, SEED_TIME + 3_600_000);
		const second = await n8n.executeWorkflow(WORKFLOW);
		expect(second.nodes[NODE][0]).toMatchObject({ status: 'success', firstRun: false, updated: 1 });
		expect(treeHashes(await driveTree())).toEqual(treeHashes({ ...ICLOUD_ONLY, ...DRIVE_ONLY, 'plan.md': edited }));
		expect(codes()).toBe(sent);
		const log = fs.readFileSync(n8n.logFile, 'utf8');
		for (const secret of secrets()) expect(log).not.toContain(secret);
	});

	(hasRedis ? test : test.skip)('a queue-mode worker runs the sync without a code, from the credential in the database', async () => {
		const sent = codes();
		const redisPort = await freePort();
		const redis = await startRedis(redisPort);
		const queue = { EXECUTIONS_MODE: 'queue', QUEUE_BULL_REDIS_HOST: '127.0.0.1', QUEUE_BULL_REDIS_PORT: String(redisPort), OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS: 'true' };
		const main = await n8n.startN8n({ env: queue });
		try {
			await main.setupOwner().catch(() => main.rest('POST', '/login', { emailOrLdapLoginId: 'owner@example.com', password: 'CloudSync-e2e-1' }));
			await main.activateWorkflow(HOOK_WORKFLOW);
			const worker = await n8n.startWorker({ env: queue });
			try {
				const added = Buffer.from('added on Google Drive for the worker\n');
				clouds.drive.addFile(clouds.drive.folderAt(DRIVE), 'from-drive.txt', added, { modifiedTime: SEED_TIME, mimeType: 'text/plain' });
				const response = await fetch(`${main.url}/webhook/${HOOK}`, { method: 'POST', signal: AbortSignal.timeout(120_000) });
				expect(response.status).toBe(200);
				const body = (await response.json()) as Array<Record<string, unknown>>;
				expect(body[0]).toMatchObject({ type: 'summary', status: 'success', toSource: { added: 1 } });
				expect(iCloudTree()['from-drive.txt']?.equals(added)).toBe(true);
				expect(codes()).toBe(sent);
			} finally {
				await worker.stop();
			}
		} finally {
			await main.stop();
			redis.kill();
		}
	});

	test('when Apple no longer trusts the session, a run stops with how to enter a new code, and changes nothing', async () => {
		const sent = codes();
		icloud.auth.advance(31 * DAY);
		icloud.auth.endWebSessions();
		icloud.seedFile(`${ICLOUD}/after-expiry.txt`, 'must not be synced yet');
		const before = treeHashes(await driveTree());
		const result = await n8n.executeWorkflow(WORKFLOW, { allowFailure: true });
		expect(result.error?.message).toMatch(/Apple asked for a new verification code/);
		expect(result.error?.description).toMatch(/clear "Verification Code" and click Save.*Save again within 10 minutes/);
		expect(treeHashes(await driveTree())).toEqual(before);
		expect(codes()).toBe(sent);
	});
});

/** The example's sync node behind a webhook that answers with the node's output, for the queue-mode worker. */
function webhookWorkflow(example: WorkflowJson): WorkflowJson {
	const sync = example.nodes.find((node) => node.name === NODE)!;
	return {
		id: HOOK_WORKFLOW,
		name: 'iCloud Drive two-way on a webhook, queue mode',
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
