/**
 * The Cloud Sync node adding a local folder to Google Photos, through n8n-core's engine, against the
 * Google Photos emulator: the ledger carried in static data from one production run to the next,
 * found again in the album when an editor run kept none, the daily quota, and the errors a user meets.
 */
import { inspect } from 'node:util';
import type { IDataObject, INodeParameters } from 'n8n-workflow';
import { CloudSync } from '../../nodes/CloudSync/CloudSync.node';
import { CloudSyncGooglePhotosOAuth2Api } from '../../credentials/CloudSyncGooglePhotosOAuth2Api.credentials';
import { fixtureCredentialTypes } from './fixtures/credentials';
import { fixtureNodeTypes } from './fixtures/nodes';
import { workflow as fixtureWorkflow } from './fixtures/workflow';
import { disposeHarness, outputItems, runWorkflow, type RunOptions, type WorkflowRunResult } from './harness';
import { GooglePhotosEmulator } from '../emulators/googlePhotos';
import { cameraRoll } from '../support/photos';
import { removeTempDirs, tempDir } from '../support/trees';
import type { OAuthClientCredentials } from '../emulators/core/oauth';

const NODE = 'n8n-nodes-cloudsync.cloudSync';
const CREDENTIAL = 'cloudSyncGooglePhotosOAuth2Api';

let emulator: GooglePhotosEmulator;
let allowed: string;
let client: OAuthClientCredentials;

beforeAll(async () => {
	emulator = new GooglePhotosEmulator({ seed: 9 });
	await emulator.start();
	process.env.CLOUDSYNC_GOOGLE_PHOTOS_API_URL = emulator.baseUrl;
	allowed = await tempDir('n8n-files');
	process.env.N8N_RESTRICT_FILE_ACCESS_TO = allowed;
});
afterAll(async () => {
	await emulator.stop();
	disposeHarness();
	await removeTempDirs();
});
beforeEach(() => {
	client = emulator.addOAuthClient();
	emulator.server.clearFaults();
	emulator.resetQuota();
	emulator.dailyQuota = 10_000;
});

let counter = 0;
async function roll(count: number): Promise<string> {
	const folder = `${allowed}/roll-${++counter}`;
	await cameraRoll(count, counter, folder);
	return folder;
}

function options(extra: Partial<RunOptions> = {}): RunOptions {
	return {
		nodeTypes: { ...fixtureNodeTypes, [NODE]: new CloudSync() },
		credentialTypes: [...fixtureCredentialTypes, new CloudSyncGooglePhotosOAuth2Api()],
		credentials: { [CREDENTIAL]: { clientId: client.clientId, clientSecret: client.clientSecret, oauthTokenData: { refresh_token: client.refreshToken, token_type: 'Bearer' } } },
		...extra,
	};
}

function addToPhotos(parameters: INodeParameters, operation = 'sync') {
	return fixtureWorkflow([
		{
			name: 'Cloud Sync',
			type: NODE,
			parameters: { resource: 'folder', operation, sourceCloud: 'local', destinationCloud: 'googlePhotos', mode: 'addToGooglePhotos', output: 'both', ...parameters },
			credentials: { [CREDENTIAL]: { id: 'photos', name: 'My Google Photos' } },
		},
	]);
}

const summaryOf = (result: WorkflowRunResult) => outputItems(result, 'Cloud Sync')[0].json;

function expectNoSecrets(result: WorkflowRunResult): void {
	const shown = [JSON.stringify(result.nodes), inspect(result.nodes, { depth: 12 }), inspect(result.error, { depth: 12 })].join('\n');
	for (const secret of [client.clientSecret, client.refreshToken, ...emulator.issuedAccessTokens()]) expect(shown).not.toContain(secret);
}

describe('Cloud Sync: Add to Google Photos', () => {
	it('adds a camera roll once; the next scheduled run, given the static data, sends nothing', async () => {
		const folder = await roll(20);
		const first = await runWorkflow(addToPhotos({ sourceLocalPath: folder }), options({ mode: 'trigger' }));
		expect(first.status).toBe('success');
		expect(summaryOf(first)).toMatchObject({
			type: 'summary',
			status: 'success',
			mode: 'addToGooglePhotos',
			source: `Local:${folder}`,
			destination: `Google Photos:roll-${counter}`,
			album: { title: `roll-${counter}` },
			uploaded: 30,
			ledgerSaved: true,
			ledgerFiles: 30,
		});
		// The message and the HTML report count photos added, skipped and failed: nothing is updated or deleted in Google Photos.
		expect(summaryOf(first).message).toMatch(new RegExp(`^Add to Google Photos Local:${folder} → Google Photos:roll-${counter}: 30 photos added, 0 skipped, 0 failed in [\\d.]+ s$`));
		expect(summaryOf(first).html).toMatch(/<th[^>]*>Photos added<\/th><td[^>]*>30<\/td>/);
		expect(summaryOf(first).html).not.toMatch(/Updated|Deleted/);
		// The summary is on the first output, one item per file on the second (Files).
		const files = outputItems(first, 'Cloud Sync', 1).map((item) => item.json);
		expect(files).toHaveLength(30);
		expect(files.every((file) => file.status === 'uploaded' && typeof file.mediaItemId === 'string')).toBe(true);
		expect(emulator.albumNamed(`roll-${counter}`)!.items).toHaveLength(30);
		expect(typeof (first.staticData['node:Cloud Sync'] as IDataObject)?.[Object.keys(first.staticData['node:Cloud Sync'] as IDataObject)[0]]).toBe('string');
		expectNoSecrets(first);

		const before = emulator.server.log.length;
		const second = await runWorkflow(addToPhotos({ sourceLocalPath: folder }), options({ mode: 'trigger', staticData: first.staticData }));
		expect(summaryOf(second)).toMatchObject({ status: 'success', uploaded: 0, alreadyInLibrary: 30, recoveredFromAlbum: 0 });
		expect(summaryOf(second).message).toContain(': 0 photos added, 0 skipped, 0 failed in');
		expect(summaryOf(second).html).toMatch(/<th[^>]*>Already added before<\/th><td[^>]*>30<\/td>/);
		expect(emulator.server.log.slice(before).filter((entry) => entry.path === '/v1/uploads')).toHaveLength(0);
	});

	it('an editor run keeps no static data: the next run reads what was added from the album, and says so', async () => {
		const folder = await roll(10);
		const first = await runWorkflow(addToPhotos({ sourceLocalPath: folder, destinationPhotosAlbum: 'Phone' }), options());
		expect(summaryOf(first)).toMatchObject({ uploaded: 15, album: { title: 'Phone' }, hint: expect.stringContaining('manual run') });
		expect(first.staticData['node:Cloud Sync']).toBeUndefined();
		const second = await runWorkflow(addToPhotos({ sourceLocalPath: folder, destinationPhotosAlbum: 'Phone' }), options({ mode: 'trigger' }));
		expect(summaryOf(second)).toMatchObject({ status: 'success', uploaded: 0, alreadyInLibrary: 15, recoveredFromAlbum: 15 });
		expect(emulator.albumNamed('Phone')!.items).toHaveLength(15);
	});

	it('Diff lists what would be added and creates nothing', async () => {
		const folder = await roll(2);
		const result = await runWorkflow(addToPhotos({ sourceLocalPath: folder, destinationPhotosAlbum: 'Diffed' }, 'diff'), options());
		const items = outputItems(result, 'Cloud Sync', 1).map((item) => item.json);
		expect(items.filter((item) => item.type === 'action' && item.status === 'planned')).toHaveLength(3);
		expect(summaryOf(result).message).toContain('Add to Google Photos (dry run)');
		expect(summaryOf(result).message).toContain(': 3 photos to add, 0 skipped in');
		expect(emulator.albumNamed('Diffed')).toBeUndefined();
	});

	it('stops at the daily quota with what to expect; a run with the quota already gone is an error that says the same', async () => {
		const folder = await roll(40);
		// The album (2 requests), 50 uploads and their batchCreate (up to 3 more uploads are on their way meanwhile), then a few more uploads.
		emulator.dailyQuota = emulator.requestsToday + 58;
		const first = await runWorkflow(addToPhotos({ sourceLocalPath: folder, destinationPhotosAlbum: 'Quota' }), options({ mode: 'trigger' }));
		const summary = summaryOf(first);
		expect(summary).toMatchObject({ status: 'partial', stopped: expect.stringContaining('daily request quota'), hint: expect.stringContaining('next run continues') });
		expect(summary).toMatchObject({ uploaded: 50, awaitingCreate: expect.any(Number) });
		expect(summary.awaitingCreate).toBeGreaterThan(0);
		expect((summary.uploaded as number) + (summary.awaitingCreate as number) + (summary.notReached as number)).toBe(60);

		const later = await runWorkflow(addToPhotos({ sourceLocalPath: folder, destinationPhotosAlbum: 'Quota' }), options({ mode: 'trigger', staticData: first.staticData }));
		expect(later.status).toBe('error');
		expect(later.nodes['Cloud Sync'][0].error).toMatchObject({ name: 'NodeOperationError', message: expect.stringContaining('Nothing was added to Google Photos'), description: expect.stringContaining('next run continues'), itemIndex: 0 });

		emulator.resetQuota();
		const nextDay = await runWorkflow(addToPhotos({ sourceLocalPath: folder, destinationPhotosAlbum: 'Quota' }), options({ mode: 'trigger', staticData: first.staticData }));
		expect(summaryOf(nextDay)).toMatchObject({ status: 'success', uploaded: 60 - (summary.uploaded as number) });
		expect(emulator.albumNamed('Quota')!.items).toHaveLength(60);
	});

	it('refuses Google Photos in another mode, and the mode with another destination, before touching anything', async () => {
		const folder = await roll(1);
		const mirror = await runWorkflow(addToPhotos({ sourceLocalPath: folder, mode: 'mirror' }), options());
		expect(mirror.nodes['Cloud Sync'][0].error).toMatchObject({ message: expect.stringContaining('only through the mode "Add to Google Photos"'), description: expect.stringContaining('Choose Mode: Add to Google Photos') });
		const elsewhere = await runWorkflow(addToPhotos({ sourceLocalPath: folder, destinationCloud: 'local', destinationLocalPath: `${allowed}/x` }), options());
		expect(elsewhere.nodes['Cloud Sync'][0].error).toMatchObject({ message: expect.stringContaining('needs Google Photos as the destination'), itemIndex: 0 });
	});

	it('a revoked credential is an error that says to reconnect, with no secret in it', async () => {
		const folder = await roll(1);
		emulator.revokeRefreshToken(client.refreshToken);
		const result = await runWorkflow(addToPhotos({ sourceLocalPath: folder }), options({ mode: 'trigger' }));
		expect(result.nodes['Cloud Sync'][0].error).toMatchObject({ name: 'NodeOperationError', message: expect.stringContaining('refused'), description: expect.stringContaining('Reconnect') });
		expectNoSecrets(result);
	});
});
