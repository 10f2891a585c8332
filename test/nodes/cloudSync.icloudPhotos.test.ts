/**
 * iCloud Photos through the nodes, against the Photos emulator (with Apple's sign-in): the Cloud Sync
 * node copying the library into a local folder by month, the modes and sides it refuses, a run that
 * needs a new code stopping before it writes, and the Cloud Sync Trigger firing on new photos and
 * feeding a sync of exactly those.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import type { ICredentialDataDecryptedObject, INodeParameters, INodePropertyOptions } from 'n8n-workflow';
import { CloudSync } from '../../nodes/CloudSync/CloudSync.node';
import { CloudSyncTrigger } from '../../nodes/CloudSyncTrigger/CloudSyncTrigger.node';
import { CloudSyncAppleIdApi } from '../../credentials/CloudSyncAppleIdApi.credentials';
import { forgetICloudPhotosLibraries } from '../../lib/providers/icloudPhotos';
import { fixtureCredentialTypes } from './fixtures/credentials';
import { fixtureNodeTypes } from './fixtures/nodes';
import { cloudSync, workflow } from './fixtures/workflow';
import { disposeHarness, outputItems, runPoll, runWorkflow, type RunOptions, type WorkflowJson } from './harness';
import { ICloudPhotosEmulator } from '../emulators/icloudPhotos';
import { APPLE_USER, trustedSession } from '../support/icloud';
import { removeTempDirs, tempDir } from '../support/trees';

const TRIGGER = 'Cloud Sync Trigger';
const APPLE = { cloudSyncAppleIdApi: { id: 'apple', name: 'Apple ID' } };
const at = (iso: string) => Date.parse(iso);

let emulator: ICloudPhotosEmulator;
let allowed: string;
let stored: ICredentialDataDecryptedObject;

beforeAll(async () => {
	emulator = await ICloudPhotosEmulator.start({}, [APPLE_USER]);
	process.env.CLOUDSYNC_ICLOUD_URL = emulator.baseUrl;
	const saved = await trustedSession(emulator.auth, emulator.baseUrl);
	stored = { appleId: APPLE_USER.appleId, password: APPLE_USER.password, verificationCode: '', sessionToken: JSON.stringify(saved) };
	allowed = await tempDir('n8n-files');
	process.env.N8N_RESTRICT_FILE_ACCESS_TO = allowed;
	emulator.addPhotos([
		{ name: 'IMG_0001.HEIC', date: at('2024-03-05T10:00:00Z'), live: true },
		{ name: 'IMG_0002.JPG', date: at('2024-04-01T10:00:00Z') },
		{ name: 'IMG_0001.HEIC', date: at('2024-03-05T11:00:00Z') },
	]);
});
afterAll(async () => {
	await emulator.stop();
	disposeHarness();
	await removeTempDirs();
});
beforeEach(() => forgetICloudPhotosLibraries());

const options = (credential: ICredentialDataDecryptedObject = stored): RunOptions => ({
	nodeTypes: { ...fixtureNodeTypes, 'n8n-nodes-cloudsync.cloudSync': new CloudSync(), 'n8n-nodes-cloudsync.cloudSyncTrigger': new CloudSyncTrigger() },
	credentialTypes: [...fixtureCredentialTypes, new CloudSyncAppleIdApi()],
	credentials: { cloudSyncAppleIdApi: credential },
});

const photos = (side: 'source' | 'target', layout = 'month'): INodeParameters => ({ [`${side}Cloud`]: 'iCloudPhotos', [`${side}ICloudPhotosLibrary`]: 'personal', [`${side}ICloudPhotosLayout`]: layout });

async function localTree(root: string): Promise<string[]> {
	const found: string[] = [];
	const walk = async (folder: string) => {
		for (const entry of await fs.readdir(folder, { withFileTypes: true })) {
			if (entry.name.startsWith('.')) continue;
			const full = path.join(folder, entry.name);
			if (entry.isDirectory()) await walk(full);
			else found.push(path.relative(root, full).split(path.sep).join('/'));
		}
	};
	await walk(root);
	return found.sort();
}

const syncTo = (folder: string, extra: INodeParameters = {}) =>
	cloudSync({ resource: 'folder', operation: 'sync', ...photos('source'), destinationCloud: 'local', destinationLocalPath: folder, mode: 'copy', ...extra }, { credentials: APPLE });

describe('Cloud Sync with iCloud Photos as the source', () => {
	it('copies the library into yyyy/MM folders, Live Photo videos included and equal names kept apart; a re-run copies nothing', async () => {
		const folder = await fs.mkdtemp(path.join(allowed, 'photos-'));
		const result = await runWorkflow(workflow([syncTo(folder)]), options());
		expect(result.status).toBe('success');
		expect(outputItems(result, 'Cloud Sync')[0].json).toMatchObject({ type: 'summary', status: 'success', added: 4, failed: 0, source: 'iCloud Photos:Personal Library (By Month)' });
		const tree = await localTree(folder);
		expect(tree).toHaveLength(4);
		expect(tree).toEqual(expect.arrayContaining(['2024/03/IMG_0001.HEIC', '2024/03/IMG_0001.MOV', '2024/04/IMG_0002.JPG']));
		expect(tree.filter((file) => /^2024\/03\/IMG_0001_[0-9a-f]{8}\.HEIC$/.test(file))).toHaveLength(1);
		const stat = await fs.stat(path.join(folder, '2024/04/IMG_0002.JPG'));
		expect(stat.mtimeMs).toBe(at('2024-04-01T10:00:00Z'));
		const again = await runWorkflow(workflow([syncTo(folder)]), options());
		expect(outputItems(again, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 0, updated: 0 });
	});

	it('is offered as a source and to the trigger, never as a destination; Move and Two-Way are refused before anything runs', async () => {
		const node = new CloudSync().description.properties;
		const optionsOf = (name: string) => node.filter((property) => property.name === name).flatMap((property) => (property.options as INodePropertyOptions[]).map((option) => option.value));
		expect(optionsOf('sourceCloud')).toContain('iCloudPhotos');
		expect(optionsOf('destinationCloud')).not.toContain('iCloudPhotos');
		expect(optionsOf('targetCloud')).not.toContain('iCloudPhotos');
		const trigger = new CloudSyncTrigger().description.properties.find((property) => property.name === 'targetCloud')!;
		expect((trigger.options as INodePropertyOptions[]).map((option) => option.value)).toContain('iCloudPhotos');
		const folder = await fs.mkdtemp(path.join(allowed, 'refused-'));
		const before = emulator.server.log.length;
		const moved = await runWorkflow(workflow([syncTo(folder, { mode: 'move' })]), options());
		expect(moved.status).toBe('error');
		expect(moved.error?.message).toMatch(/iCloud Photos is read-only/);
		expect(moved.error?.description).toMatch(/Copy or Mirror/);
		expect(emulator.server.log.length).toBe(before);
	});

	it('when Apple wants a new code the run stops with the instructions, writes nothing and shows no secret', async () => {
		const folder = await fs.mkdtemp(path.join(allowed, 'code-'));
		emulator.auth.revokeTrust();
		emulator.auth.endWebSessions();
		try {
			const result = await runWorkflow(workflow([syncTo(folder)]), options());
			expect(result.status).toBe('error');
			expect(`${result.error?.message} ${result.error?.description}`).toMatch(/verification code/i);
			expect(await localTree(folder)).toEqual([]);
			const text = JSON.stringify(result.nodes);
			for (const secret of [APPLE_USER.password, JSON.parse(String(stored.sessionToken)).trustToken]) expect(text).not.toContain(secret);
		} finally {
			stored = { ...stored, sessionToken: JSON.stringify(await trustedSession(emulator.auth, emulator.baseUrl)) };
		}
	});
});

describe('iCloud Photos runs show no secret', () => {
	it('neither a run that copies nor one Apple refuses half-way has the password, a code, a token or a cookie in its items, its error or the error\'s causes', async () => {
		const shown: string[] = [];
		const copied = await runWorkflow(workflow([syncTo(await fs.mkdtemp(path.join(allowed, 'secrets-')))]), options({ ...stored, verificationCode: emulator.auth.lastCode(APPLE_USER.appleId) ?? '' }));
		expect(copied.status).toBe('success');
		shown.push(JSON.stringify(copied.nodes), inspect(copied.nodes, { depth: 12 }));
		// The library's listing is refused after the sign-in, so the session's cookies were in use when it failed.
		emulator.recordError({ route: /records\/query|changes\/zone/, code: 'ACCESS_DENIED', times: 1 });
		forgetICloudPhotosLibraries();
		const refused = await runWorkflow(workflow([syncTo(await fs.mkdtemp(path.join(allowed, 'secrets-')))]), options());
		expect(refused.status).toBe('error');
		expect(refused.error?.description).toMatch(/Access iCloud Data on the Web/);
		shown.push(JSON.stringify(refused.nodes), inspect(refused.nodes, { depth: 12 }), inspect(refused.error, { depth: 12 }));
		const secrets = [APPLE_USER.password, ...emulator.auth.secrets()].filter((secret) => secret.length >= 6);
		expect(secrets.length).toBeGreaterThan(3);
		for (const secret of secrets) expect(shown.join('\n')).not.toContain(secret);
	});
});

describe('Cloud Sync Trigger on iCloud Photos', () => {
	const triggered = (next: WorkflowJson['nodes'][number] | undefined): WorkflowJson => {
		const nodes: WorkflowJson['nodes'] = [
			{
				id: 'trigger',
				name: TRIGGER,
				type: 'n8n-nodes-cloudsync.cloudSyncTrigger',
				typeVersion: 1,
				position: [0, 0],
				parameters: { pollTimes: { item: [{ mode: 'everyMinute' }] }, ...photos('target'), events: ['added'] },
				credentials: APPLE,
			},
		];
		if (next) nodes.push(next);
		return { id: 'photos-trigger', name: 'photos trigger', nodes, connections: next ? { [TRIGGER]: { main: [[{ node: next.name, type: 'main', index: 0 }]] } } : {}, settings: { executionOrder: 'v1' } };
	};

	it('fires on new photos with one item per new file, and a sync fed with them copies exactly those', async () => {
		const folder = await fs.mkdtemp(path.join(allowed, 'new-photos-'));
		const sync = { ...syncTo(folder, { options: { changedPathsOnly: true } }), id: 'sync', typeVersion: 1, position: [220, 0] as [number, number], type: 'n8n-nodes-cloudsync.cloudSync' };
		const json = triggered(sync as WorkflowJson['nodes'][number]);
		const first = await runPoll(json, { ...options(), mode: 'trigger' });
		expect(first.items).toBeNull();
		const quiet = await runPoll(json, { ...options(), mode: 'trigger', staticData: first.staticData });
		expect(quiet.items).toBeNull();
		emulator.addPhotos([
			{ name: 'NEW_1.HEIC', date: at('2026-11-20T08:00:00Z'), live: true },
			{ name: 'NEW_2.JPG', date: at('2026-11-21T08:00:00Z') },
		]);
		const logAt = emulator.server.log.length;
		const fired = await runPoll(json, { ...options(), mode: 'trigger', staticData: quiet.staticData });
		expect((fired.items?.[0] ?? []).map((item) => `${item.json.event} ${item.json.path}`).sort()).toEqual([
			'added 2026',
			'added 2026/11',
			'added 2026/11/NEW_1.HEIC',
			'added 2026/11/NEW_1.MOV',
			'added 2026/11/NEW_2.JPG',
		]);
		// The poll and the sync it started: one change-feed call each, no listing of the library.
		const cloudKit = emulator.server.log.slice(logAt).filter((entry) => entry.path.startsWith('/ckdatabasews/'));
		expect(cloudKit.map((entry) => entry.path.split('/').slice(-2).join('/'))).toEqual(['changes/zone', 'changes/zone']);
		expect(await localTree(folder)).toEqual(['2026/11/NEW_1.HEIC', '2026/11/NEW_1.MOV', '2026/11/NEW_2.JPG']);
		// Neither the items nor the state n8n keeps with the workflow hold a secret of the session.
		const kept = JSON.stringify([first, quiet, fired].map(({ items, error, staticData }) => ({ items, error: error && inspect(error, { depth: 12 }), staticData })));
		for (const secret of [APPLE_USER.password, ...emulator.auth.secrets()].filter((secret) => secret.length >= 6)) expect(kept).not.toContain(secret);
	});
});
