/**
 * The Cloud Sync node on Google Drive and Dropbox, through n8n-core's engine, against the protocol
 * emulators: every operation on each cloud, the errors a user meets (each a node error naming the item
 * and saying what to change), continue-on-fail, secrets kept out of every output, cancellation, and the
 * folder pickers' list searches.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { LoadOptionsContext } from 'n8n-core';
import {
	Workflow,
	type ICredentialDataDecryptedObject,
	type ICredentialsHelper,
	type IDataObject,
	type INode,
	type INodeListSearchResult,
	type INodeParameters,
	type INodeType,
	type INodeTypes,
	type IWorkflowExecuteAdditionalData,
} from 'n8n-workflow';
import { CloudSync } from '../../nodes/CloudSync/CloudSync.node';
import { CloudSyncTrigger } from '../../nodes/CloudSyncTrigger/CloudSyncTrigger.node';
import { CloudSyncDropboxOAuth2Api } from '../../credentials/CloudSyncDropboxOAuth2Api.credentials';
import { CloudSyncMicrosoftOneDriveOAuth2Api } from '../../credentials/CloudSyncMicrosoftOneDriveOAuth2Api.credentials';
import { CloudSyncGoogleDriveOAuth2Api } from '../../credentials/CloudSyncGoogleDriveOAuth2Api.credentials';
import { CloudSyncGoogleServiceAccountApi } from '../../credentials/CloudSyncGoogleServiceAccountApi.credentials';
import { CloudSyncWebDavApi } from '../../credentials/CloudSyncWebDavApi.credentials';
import { fixtureCredentialTypes } from './fixtures/credentials';
import { fixtureNodeTypes } from './fixtures/nodes';
import { workflow as fixtureWorkflow } from './fixtures/workflow';
import { disposeHarness, outputItems, readBinary, runWorkflow, type ErrorSummary, type RunOptions, type WorkflowJson, type WorkflowRunResult } from './harness';
import { DropboxEmulator } from '../emulators/dropbox';
import { OneDriveEmulator } from '../emulators/onedrive';
import { WebDavEmulator } from '../emulators/webdav';
import { recordingPacer, sdkClient, startDrive, type DriveFixture, cloudSecrets } from '../support/drive';
import { GoogleDriveProvider } from '../../lib/providers/drive';
import { pseudoRandomBytes, readAll } from '../conformance/suite';
import { readTree, removeTempDirs, tempDir, writeTree } from '../support/trees';

const MiB = 1024 * 1024;
const NODE = 'n8n-nodes-cloudsync.cloudSync';

let drive: DriveFixture;
let dropbox: DropboxEmulator;
let onedrive: OneDriveEmulator;
/** A Nextcloud server, emulated. */
let nextcloud: WebDavEmulator;
/** A SharePoint site of the OneDrive emulator's tenant, with its document library. */
let site: { siteId: string; driveId: string; webUrl: string };
let allowed: string;
let outside: string;
/** An access token Drive issued to the test's OAuth client, as n8n keeps the last one in oauthTokenData. */
let driveAccessToken: string;
let counter = 0;

beforeAll(async () => {
	[drive, dropbox, onedrive, nextcloud] = await Promise.all([
		startDrive(),
		DropboxEmulator.start(),
		OneDriveEmulator.start({ driveType: 'business' }),
		WebDavEmulator.start({ flavour: 'nextcloud' }),
	]);
	site = onedrive.addSite('contoso.sharepoint.com', 'Finance', 'Finance Team');
	process.env.CLOUDSYNC_GOOGLE_API_URL = drive.emulator.baseUrl;
	process.env.CLOUDSYNC_DROPBOX_API_URL = dropbox.baseUrl;
	process.env.CLOUDSYNC_ONEDRIVE_API_URL = onedrive.baseUrl;
	allowed = await tempDir('n8n-files');
	outside = await tempDir('not-allowed');
	process.env.N8N_RESTRICT_FILE_ACCESS_TO = allowed;
	driveAccessToken = (await sdkClient(drive).client.getAccessToken()).token!;
});
afterAll(async () => {
	await Promise.all([drive.emulator.stop(), dropbox.stop(), onedrive.stop(), nextcloud.stop()]);
	disposeHarness();
	await removeTempDirs();
});
beforeEach(() => {
	drive.emulator.server.clearFaults();
	drive.emulator.quotaBytes = undefined;
	dropbox.server.clearFaults();
	dropbox.quotaBytes = Number.POSITIVE_INFINITY;
	onedrive.server.clearFaults();
});

// ---------------------------------------------------------------------------------------------
// Workflows

/** Credentials as n8n stores them: the OAuth2 client, and the token data of the sign-in. */
function storedCredentials(overrides: Record<string, ICredentialDataDecryptedObject> = {}): Record<string, ICredentialDataDecryptedObject> {
	return {
		fixtureApi: { user: 'ada', apiKey: 'secret-key' },
		cloudSyncGoogleDriveOAuth2Api: {
			clientId: drive.auth.clientId,
			clientSecret: drive.auth.clientSecret,
			oauthTokenData: { access_token: driveAccessToken, refresh_token: drive.auth.refreshToken, token_type: 'Bearer' },
		},
		cloudSyncDropboxOAuth2Api: {
			clientId: dropbox.credentials.clientId,
			clientSecret: dropbox.credentials.clientSecret,
			oauthTokenData: { access_token: dropbox.issueAccessToken(), refresh_token: dropbox.credentials.refreshToken, token_type: 'bearer' },
		},
		cloudSyncMicrosoftOneDriveOAuth2Api: {
			clientId: onedrive.credentials.clientId,
			clientSecret: onedrive.credentials.clientSecret,
			tenant: 'organizations',
			sharePoint: true,
			oauthTokenData: { refresh_token: onedrive.credentials.refreshToken, token_type: 'Bearer' },
		},
		cloudSyncWebDavApi: { vendor: 'nextcloud', url: nextcloud.url, user: nextcloud.user, password: nextcloud.password },
		...overrides,
	};
}

const baseOptions = (): RunOptions => ({
	nodeTypes: { ...fixtureNodeTypes, [NODE]: new CloudSync() },
	credentialTypes: [
		...fixtureCredentialTypes,
		new CloudSyncGoogleDriveOAuth2Api(),
		new CloudSyncDropboxOAuth2Api(),
		new CloudSyncGoogleServiceAccountApi(),
		new CloudSyncMicrosoftOneDriveOAuth2Api(),
		new CloudSyncWebDavApi(),
	],
	credentials: storedCredentials(),
});

interface Step {
	name: string;
	type: string;
	parameters: INodeParameters;
	continueOnFail?: boolean;
	/** Credential types to attach; by default those the parameters' clouds need. */
	credentials?: string[];
}

const CREDENTIAL_OF: Record<string, string> = {
	googleDrive: 'cloudSyncGoogleDriveOAuth2Api',
	googleDriveServiceAccount: 'cloudSyncGoogleServiceAccountApi',
	dropbox: 'cloudSyncDropboxOAuth2Api',
	oneDrive: 'cloudSyncMicrosoftOneDriveOAuth2Api',
	webDav: 'cloudSyncWebDavApi',
};

function credentialsFor(step: Step): INode['credentials'] {
	if (step.type.includes('fixtureFileMaker')) return { fixtureApi: { id: 'fixture', name: 'Fixture' } };
	const types =
		step.credentials ??
		['sourceCloud', 'destinationCloud', 'targetCloud'].map((key) => CREDENTIAL_OF[String(step.parameters[key])]).filter((type): type is string => Boolean(type));
	return types.length > 0 ? Object.fromEntries(types.map((type) => [type, { id: type, name: `My ${type}` }])) : undefined;
}

/** Manual Trigger (emitting `items`) → each step in turn, each with the credentials its clouds need. */
function workflow(steps: Step[], items: IDataObject[] = [{}]): WorkflowJson {
	return fixtureWorkflow(
		steps.map((step) => ({ ...step, credentials: credentialsFor(step) })),
		items,
	);
}

const cloudSync = (parameters: INodeParameters, extra: Partial<Step> = {}): Step => ({ name: 'Cloud Sync', type: NODE, parameters, ...extra });

type Side = 'source' | 'destination' | 'target';
const onDrive = (side: Side, folderId: string): INodeParameters => ({ [`${side}Cloud`]: 'googleDrive', [`${side}DriveFolder`]: { __rl: true, mode: 'id', value: folderId } });
const onDropbox = (side: Side, folder: string): INodeParameters => ({ [`${side}Cloud`]: 'dropbox', [`${side}DropboxFolder`]: { __rl: true, mode: 'path', value: folder } });
const onOneDrive = (side: Side, folder: string, siteUrl = ''): INodeParameters => ({
	[`${side}Cloud`]: 'oneDrive',
	[`${side}OneDriveSite`]: { __rl: true, mode: 'url', value: siteUrl },
	[`${side}OneDriveFolder`]: { __rl: true, mode: 'path', value: folder },
});
const onWebDav = (side: Side, folder: string): INodeParameters => ({ [`${side}Cloud`]: 'webDav', [`${side}WebDavFolder`]: { __rl: true, mode: 'path', value: folder } });
const onLocal = (side: Side, folder: string): INodeParameters => ({ [`${side}Cloud`]: 'local', [`${side}LocalPath`]: folder });

const run = (steps: Step[], items?: IDataObject[], options: Partial<RunOptions> = {}) => runWorkflow(workflow(steps, items), { ...baseOptions(), ...options });

/** The node's error in its first run. */
function nodeError(result: WorkflowRunResult, name = 'Cloud Sync'): ErrorSummary {
	const error = result.nodes[name]?.[0]?.error;
	if (!error) throw new Error(`${name} did not fail: ${JSON.stringify(result.nodes[name]?.[0]?.outputs)}`);
	return error;
}

// ---------------------------------------------------------------------------------------------
// Clouds

const unique = (label: string) => `${label}-${++counter}`;

/** A new Drive folder under My Drive holding `files` (path → content). */
function driveFolder(files: Record<string, string | Buffer> = {}, modifiedTime?: number): string {
	const folderId = drive.emulator.addFolder(drive.emulator.myDriveRootId, unique('drive'));
	for (const [file, content] of Object.entries(files)) {
		const parent = path.posix.dirname(file) === '.' ? folderId : drive.emulator.folderAt(path.posix.dirname(file), folderId);
		drive.emulator.addFile(parent, path.posix.basename(file), content, { modifiedTime });
	}
	return folderId;
}

/** A new Dropbox folder holding `files`; returns its path. */
function dropboxFolder(files: Record<string, string | Buffer> = {}, clientModified?: number): string {
	const folder = `/${unique('dropbox')}`;
	dropbox.seedFolder(folder);
	for (const [file, content] of Object.entries(files)) dropbox.seedFile(`${folder}/${file}`, content, { clientModified });
	return folder;
}

/** Every file below a Drive folder but the engine's own (.cloudsync): path → content (one char per byte), read through the provider (not the node). */
async function driveTree(folderId: string): Promise<Record<string, string>> {
	const provider = await GoogleDriveProvider.open({ auth: drive.auth, root: folderId, apiBaseUrl: drive.emulator.baseUrl, pacer: recordingPacer().pacer });
	const tree: Record<string, string> = {};
	for await (const entry of provider.list('', { recursive: true })) {
		if (!entry.isDir && !entry.path.startsWith('.cloudsync/')) tree[entry.path] = (await readAll(await provider.read(entry.path))).toString('latin1');
	}
	return tree;
}

/** Every file below a Dropbox folder but the engine's own (.cloudsync): path → content (one char per byte). */
function dropboxTree(folder: string): Record<string, string> {
	const tree: Record<string, string> = {};
	for (const display of dropbox.paths(folder)) {
		const content = dropbox.content(display);
		const path = display.slice(folder.length + 1);
		if (content !== undefined && !path.startsWith('.cloudsync/')) tree[path] = content.toString('latin1');
	}
	return tree;
}

function secrets(): string[] {
	return [...cloudSecrets(drive, dropbox, onedrive), nextcloud.password, Buffer.from(`${nextcloud.user}:${nextcloud.password}`).toString('base64'), 'secret-key'];
}

/** No secret in any output item, error message, description or error object of the run. */
function expectNoSecrets(result: WorkflowRunResult, more: string[] = []): void {
	const shown = [JSON.stringify(result.nodes, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value)), inspect(result.nodes, { depth: 12 }), inspect(result.error, { depth: 12 })].join('\n');
	for (const secret of [...secrets(), ...more]) expect(shown).not.toContain(secret);
}

function expectNodeError(error: ErrorSummary, message: RegExp, description: RegExp, itemIndex = 0): void {
	expect(error.name).toMatch(/^Node(Operation|Api)Error$/);
	expect(error.message).toMatch(message);
	expect(error.description ?? '').toMatch(description);
	expect(error.itemIndex).toBe(itemIndex);
}

const sha1 = (content: Buffer | string) => createHash('sha1').update(typeof content === 'string' ? Buffer.from(content, 'latin1') : content).digest('hex');
const hashed = (tree: Record<string, string | Buffer>) => Object.fromEntries(Object.entries(tree).map(([file, content]) => [file, sha1(content)]));

async function localFolder(files: Record<string, string | Buffer> = {}): Promise<string> {
	const folder = await fs.mkdtemp(path.join(allowed, 'local-'));
	await writeTree(folder, files);
	return folder;
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) throw new Error('condition not met in time');
		await new Promise((resolve) => setTimeout(resolve, 5));
	}
}

// ---------------------------------------------------------------------------------------------

describe('every operation on Google Drive and Dropbox', () => {
	it('lists a Google Drive folder and a Dropbox folder, subfolders included, one item per file', async () => {
		const files = { 'a.txt': 'alpha', 'docs/b.pdf': 'bravo', 'docs/deep/c.jpg': 'charlie' };
		const folderId = driveFolder(files);
		const folder = dropboxFolder(files);
		for (const [location, label] of [
			[onDrive('target', folderId), `Google Drive:${folderId}`],
			[onDropbox('target', folder), `Dropbox:${folder}`],
		] as const) {
			const result = await run([cloudSync({ resource: 'folder', operation: 'list', ...location })]);
			expect(result.status).toBe('success');
			const items = outputItems(result, 'Cloud Sync');
			expect(items.map((item) => item.json.path).sort()).toEqual(['a.txt', 'docs/b.pdf', 'docs/deep/c.jpg']);
			expect(items.find((item) => item.json.path === 'a.txt')).toMatchObject({ json: { name: 'a.txt', type: 'file', size: 5, cloud: label }, pairedItem: { item: 0 } });
			expectNoSecrets(result);
		}
	});

	it('Diff from Google Drive to Dropbox says what a mirror would do and why, and changes nothing', async () => {
		const hourAgo = Date.now() - 3_600_000;
		const folderId = driveFolder({ 'new.txt': 'new', 'same.txt': 'same', 'changed.txt': 'changed at the source' }, hourAgo);
		const folder = dropboxFolder({ 'same.txt': 'same', 'changed.txt': 'old', 'extra.txt': 'only here', 'keep.txt': 'k' }, hourAgo);
		drive.emulator.addFile(folderId, 'keep.txt', 'k', { modifiedTime: hourAgo });
		const before = dropboxTree(folder);
		const result = await run([cloudSync({ resource: 'folder', operation: 'diff', ...onDrive('source', folderId), ...onDropbox('destination', folder), mode: 'mirror' })]);
		const actions = outputItems(result, 'Cloud Sync', 1).map((item) => item.json);
		expect(actions.map((json) => `${json.action} ${json.path}`).sort()).toEqual(['copy new.txt', 'delete extra.txt', 'update changed.txt']);
		const summaries = outputItems(result, 'Cloud Sync').map((item) => item.json);
		expect(summaries).toHaveLength(1);
		expect(summaries[0]).toMatchObject({ type: 'summary', status: 'planned', dryRun: true, source: `Google Drive:${folderId}`, destination: `Dropbox:${folder}` });
		expect(dropboxTree(folder)).toEqual(before);
	});

	it('syncs Google Drive → Dropbox and Dropbox → Google Drive; a second run finds nothing to do', async () => {
		const files = { 'a.txt': 'alpha', 'docs/b.pdf': 'bravo', 'docs/deep/c.bin': pseudoRandomBytes(300_000, 'c.bin') };
		const driveSource = driveFolder(files);
		const dropboxDestination = dropboxFolder();
		const toDropbox = cloudSync({ resource: 'folder', operation: 'sync', ...onDrive('source', driveSource), ...onDropbox('destination', dropboxDestination), mode: 'mirror', output: 'both' });
		const first = await run([toDropbox]);
		const [summary, ...others] = outputItems(first, 'Cloud Sync');
		const results = outputItems(first, 'Cloud Sync', 1);
		expect(others).toEqual([]);
		expect(summary.json).toMatchObject({ type: 'summary', status: 'success', added: 3, updated: 0, deleted: 0, failed: 0, bytes: 300_010 });
		expect(results.map((item) => `${item.json.action} ${item.json.path} ${item.json.status}`).sort()).toEqual([
			'copy a.txt done',
			'copy docs/b.pdf done',
			'copy docs/deep/c.bin done',
			'mkdir docs done',
			'mkdir docs/deep done',
		]);
		expect(results.every((item) => (item.pairedItem as { item: number }).item === 0)).toBe(true);
		expect(hashed(dropboxTree(dropboxDestination))).toEqual(hashed(files));
		const again = await run([toDropbox]);
		expect(outputItems(again, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0 });

		const driveDestination = driveFolder();
		const toDrive = cloudSync({ resource: 'folder', operation: 'sync', ...onDropbox('source', dropboxDestination), ...onDrive('destination', driveDestination), mode: 'mirror' });
		const back = await run([toDrive]);
		expect(outputItems(back, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 3, failed: 0, source: `Dropbox:${dropboxDestination}`, destination: `Google Drive:${driveDestination}` });
		expect(hashed(await driveTree(driveDestination))).toEqual(hashed(files));
		const backAgain = await run([toDrive]);
		expect(outputItems(backAgain, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0 });
		expectNoSecrets(backAgain);
	});

	it('a scheduled Two-Way Dropbox ⇄ Google Drive plans its next runs from both change feeds and says so', async () => {
		const source = dropboxFolder({ 'a.txt': 'alpha', 'docs/b.txt': 'bravo' }, Date.UTC(2026, 0, 1));
		const destination = driveFolder();
		const step = cloudSync({ resource: 'folder', operation: 'sync', ...onDropbox('source', source), ...onDrive('destination', destination), mode: 'twoWay' });
		const first = await run([step], undefined, { mode: 'trigger' });
		expect(outputItems(first, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 2, listing: 'full', listingReason: expect.stringMatching(/first run/) });
		dropbox.seedFile(`${source}/docs/b.txt`, 'bravo, edited', { clientModified: Date.UTC(2026, 0, 2) });
		const second = await run([step], undefined, { mode: 'trigger', staticData: first.staticData });
		expect(outputItems(second, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', updated: 1, listing: 'changes', listingReason: expect.stringMatching(/changed path/) });
		expect(await driveTree(destination)).toEqual({ 'a.txt': 'alpha', 'docs/b.txt': 'bravo, edited' });
		const third = await run([step], undefined, { mode: 'trigger', staticData: second.staticData });
		expect(outputItems(third, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0, listing: 'changes' });
	});

	it('syncs a local folder to Dropbox (the Dropbox credential serves the destination only)', async () => {
		const source = await localFolder({ 'a.txt': 'alpha', 'sub/b.txt': 'bravo', 'keep.txt': 'kept' });
		const folder = dropboxFolder({ 'a.txt': 'stale content', 'keep.txt': 'kept', 'old.txt': 'gone at the source' });
		const result = await run([cloudSync({ resource: 'folder', operation: 'sync', ...onLocal('source', source), ...onDropbox('destination', folder), mode: 'mirror' })]);
		expect(outputItems(result, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 1, updated: 1, deleted: 1, source: `Local:${source}`, destination: `Dropbox:${folder}` });
		expect(dropboxTree(folder)).toEqual({ 'a.txt': 'alpha', 'sub/b.txt': 'bravo', 'keep.txt': 'kept' });
	});

	it.each(['Google Drive', 'Dropbox'])('uploads a binary from an earlier node to a path expression, creating its folders, and downloads it back (%s)', async (cloud) => {
		const folderId = driveFolder();
		const folder = dropboxFolder();
		const location = cloud === 'Dropbox' ? onDropbox('target', folder) : onDrive('target', folderId);
		const result = await run([
			{ name: 'Make', type: 'test-fixtures.fixtureFileMaker', parameters: { fileName: 'report.pdf', content: 'PDF bytes', size: 300_000 } },
			cloudSync({ resource: 'file', operation: 'upload', ...location, filePath: "={{ 'Reports/' + $json.user + '/2026/' + $binary.data.fileName }}" }, { name: 'Upload' }),
			cloudSync({ resource: 'file', operation: 'download', ...location, filePath: '={{ $json.path }}', binaryPropertyName: 'file' }, { name: 'Download' }),
		]);
		expect(result.status).toBe('success');
		expect(outputItems(result, 'Upload')[0]).toMatchObject({ json: { path: 'Reports/ada/2026/report.pdf', type: 'file', size: 300_000 }, pairedItem: { item: 0 } });
		const stored = cloud === 'Dropbox' ? dropbox.content(`${folder}/Reports/ada/2026/report.pdf`)! : drive.emulator.content(drive.emulator.statPath('Reports/ada/2026/report.pdf', folderId)!.id!);
		expect(stored.length).toBe(300_000);
		const downloaded = outputItems(result, 'Download')[0];
		expect(downloaded).toMatchObject({ json: { path: 'Reports/ada/2026/report.pdf', size: 300_000 }, pairedItem: { item: 0 } });
		expect(downloaded.binary!.file.fileName).toBe('report.pdf');
		expect((await readBinary(downloaded.binary!.file)).equals(stored)).toBe(true);
		expectNoSecrets(result);
	});

	it.each(['Google Drive', 'Dropbox'])('moves a file into new folders, never over an existing file unless asked, and deletes one (%s)', async (cloud) => {
		const files = { 'in/a.txt': 'a', 'out/a.txt': 'existing' };
		const folderId = driveFolder(files);
		const folder = dropboxFolder(files);
		const location = cloud === 'Dropbox' ? onDropbox('target', folder) : onDrive('target', folderId);
		const tree = () => (cloud === 'Dropbox' ? Promise.resolve(dropboxTree(folder)) : driveTree(folderId));

		const refused = await run([cloudSync({ resource: 'file', operation: 'move', ...location, fromPath: 'in/a.txt', toPath: 'out/a.txt' })]);
		expectNodeError(nodeError(refused), /"out\/a.txt" already exists/, /If File Exists to Replace It/);
		const moved = await run([cloudSync({ resource: 'file', operation: 'move', ...location, fromPath: 'in/a.txt', toPath: 'archive/2026/a.txt' })]);
		expect(outputItems(moved, 'Cloud Sync')[0]).toMatchObject({ json: { path: 'archive/2026/a.txt', previousPath: 'in/a.txt', type: 'file' }, pairedItem: { item: 0 } });
		const deleted = await run([cloudSync({ resource: 'file', operation: 'delete', ...location, filePath: 'out/a.txt' })]);
		expect(outputItems(deleted, 'Cloud Sync')[0].json).toMatchObject({ path: 'out/a.txt', deleted: true, type: 'file' });
		expect(await tree()).toEqual({ 'archive/2026/a.txt': 'a' });
	});
});

describe('errors a user meets: a node error for the item, saying what to change, and no secret anywhere', () => {
	it('an expired access token is refreshed without the user noticing, on both clouds', async () => {
		const folderId = driveFolder({ 'a.txt': 'alpha' });
		const folder = dropboxFolder();
		// The tokens n8n saved at sign-in have expired since.
		const credentials = storedCredentials();
		drive.emulator.expireAccessTokens();
		dropbox.expireAccessTokens();
		drive.emulator.clearLog();
		dropbox.server.log.length = 0;
		const result = await run([cloudSync({ resource: 'folder', operation: 'sync', ...onDrive('source', folderId), ...onDropbox('destination', folder), mode: 'copy' })], undefined, { credentials });
		expect(outputItems(result, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 1 });
		expect(dropboxTree(folder)).toEqual({ 'a.txt': 'alpha' });
		const driveLog = drive.emulator.server.log.map((entry) => `${entry.method} ${entry.path} ${entry.status}`);
		expect(driveLog.slice(0, 3)).toEqual([expect.stringMatching(/^GET \/drive\/v3\/files\/\S+ 401$/), 'POST /token 200', expect.stringMatching(/^GET \/drive\/v3\/files\/\S+ 200$/)]);
		expect(dropbox.requestCount('oauth2/token')).toBeGreaterThanOrEqual(1);
		expect(dropbox.requests().filter((entry) => entry.status === 401)).toEqual([]);
		expectNoSecrets(result);
		driveAccessToken = (await sdkClient(drive).client.getAccessToken()).token!;
	});

	it('revoked Google access fails with an error that says to reconnect the credential', async () => {
		// The user signed in (n8n saved the tokens), then removed the app's access in their Google account.
		const own = drive.emulator.addOAuthClient();
		const signedIn = (await sdkClient({ emulator: drive.emulator, auth: own }).client.getAccessToken()).token!;
		drive.emulator.revokeRefreshToken(own.refreshToken);
		const credentials = storedCredentials({
			cloudSyncGoogleDriveOAuth2Api: { clientId: own.clientId, clientSecret: own.clientSecret, oauthTokenData: { access_token: signedIn, refresh_token: own.refreshToken } },
		});
		const result = await run([cloudSync({ resource: 'folder', operation: 'list', ...onDrive('target', driveFolder({ 'a.txt': 'a' })) })], undefined, { credentials });
		expectNodeError(nodeError(result), /Google refused the Drive credential/, /Reconnect the credential/);
		expectNoSecrets(result, [own.clientSecret, own.refreshToken]);
	});

	it('revoked Dropbox access fails with an error that says to reconnect, not with a refusal to mirror an "empty" source', async () => {
		// Revoking is account-wide in the emulator: this test has its own.
		const revoked = await DropboxEmulator.start();
		const shared = process.env.CLOUDSYNC_DROPBOX_API_URL;
		process.env.CLOUDSYNC_DROPBOX_API_URL = revoked.baseUrl;
		try {
			revoked.seedFile('/Photos/a.jpg', 'a');
			const credentials = storedCredentials({
				cloudSyncDropboxOAuth2Api: {
					clientId: revoked.credentials.clientId,
					clientSecret: revoked.credentials.clientSecret,
					oauthTokenData: { access_token: revoked.issueAccessToken(), refresh_token: revoked.credentials.refreshToken },
				},
			});
			revoked.revokeAccess();
			const destination = await localFolder({ 'a.jpg': 'a', 'b.jpg': 'b' });
			const sync = await run([cloudSync({ resource: 'folder', operation: 'sync', ...onDropbox('source', '/Photos'), ...onLocal('destination', destination), mode: 'mirror' })], undefined, {
				credentials,
			});
			expectNodeError(nodeError(sync), /Dropbox refused to renew the access token \(invalid_grant\)/, /Reconnect the credential/);
			expect(await fs.readdir(destination)).toEqual(['a.jpg', 'b.jpg']);
			const list = await run([cloudSync({ resource: 'folder', operation: 'list', ...onDropbox('target', '/Photos') })], undefined, { credentials });
			expectNodeError(nodeError(list), /Dropbox refused/, /Reconnect the credential/);
			for (const result of [sync, list]) expectNoSecrets(result, [revoked.credentials.clientSecret, revoked.credentials.refreshToken, ...revoked.issuedAccessTokens]);
		} finally {
			process.env.CLOUDSYNC_DROPBOX_API_URL = shared;
			await revoked.stop();
		}
	});

	it('a full Dropbox fails the upload with an error that says to free space', async () => {
		const folder = dropboxFolder();
		dropbox.quotaBytes = dropbox.usedBytes + 1000;
		const result = await run([
			{ name: 'Make', type: 'test-fixtures.fixtureFileMaker', parameters: { fileName: 'big.bin', size: 5000 } },
			cloudSync({ resource: 'file', operation: 'upload', ...onDropbox('target', folder), filePath: 'big.bin' }),
		]);
		expectNodeError(nodeError(result), /The Dropbox account is full/, /Free space in the destination account/);
		expect(dropboxTree(folder)).toEqual({});
		expectNoSecrets(result);
	});

	it('a full Google Drive fails a sync that could copy nothing, with an error that says to free space', async () => {
		const folder = dropboxFolder({ 'a.bin': pseudoRandomBytes(5000, 'a'), 'b.bin': pseudoRandomBytes(5000, 'b') });
		const folderId = driveFolder();
		drive.emulator.quotaBytes = drive.emulator.usage() + 1000;
		const result = await run([cloudSync({ resource: 'folder', operation: 'sync', ...onDropbox('source', folder), ...onDrive('destination', folderId), mode: 'copy' })]);
		expectNodeError(nodeError(result), /The sync failed: 2 file action\(s\) failed and nothing changed\. Google Drive storage is full/, /Free space/);
		expect(await driveTree(folderId)).toEqual({});
		expectNoSecrets(result);
	});

	it.each(['Google Drive', 'Dropbox'])('downloading a missing path fails with an error that says which path to check (%s)', async (cloud) => {
		const location = cloud === 'Dropbox' ? onDropbox('target', dropboxFolder({ 'a.txt': 'a' })) : onDrive('target', driveFolder({ 'a.txt': 'a' }));
		const result = await run([cloudSync({ resource: 'file', operation: 'download', ...location, filePath: 'reports/missing.pdf' })]);
		expectNodeError(nodeError(result), /Not found: reports\/missing\.pdf/, /Check the path "reports\/missing\.pdf": it is relative to the folder chosen in this node/);
		expectNoSecrets(result);
	});

	it.each(['Google Drive', 'Dropbox'])('writing where the account may not fails with an error that says to ask for access (%s)', async (cloud) => {
		const folderId = driveFolder({ 'kept.txt': 'kept' });
		const folder = dropboxFolder({ 'kept.txt': 'kept' });
		if (cloud === 'Dropbox') dropbox.denyWrites(folder);
		else drive.emulator.setReadOnly(folderId, true);
		const location = cloud === 'Dropbox' ? onDropbox('target', folder) : onDrive('target', folderId);
		const result = await run([
			{ name: 'Make', type: 'test-fixtures.fixtureFileMaker', parameters: { fileName: 'new.txt', content: 'new' } },
			cloudSync({ resource: 'file', operation: 'upload', ...location }),
		]);
		expectNodeError(nodeError(result), cloud === 'Dropbox' ? /Dropbox does not allow this account to change new\.txt/ : /No permission for new\.txt: The user does not have sufficient permissions/, /Ask the owner for edit access/);
		expect(cloud === 'Dropbox' ? dropboxTree(folder) : await driveTree(folderId)).toEqual({ 'kept.txt': 'kept' });
		expectNoSecrets(result);
	});

	it.each(['Google Drive', 'Dropbox'])('a cloud that keeps answering 429 fails after the retries with an error that says to run later (%s)', async (cloud) => {
		const folderId = driveFolder({ 'a.txt': 'a' });
		const folder = dropboxFolder({ 'a.txt': 'a' });
		if (cloud === 'Dropbox') dropbox.server.inject({ route: /\/2\/files\/download$/, kind: 'rate-limit', retryAfterSeconds: 0 });
		else drive.emulator.server.inject({ route: /^GET \/drive\/v3\/files/, kind: 'rate-limit', retryAfterSeconds: 0 });
		const location = cloud === 'Dropbox' ? onDropbox('target', folder) : onDrive('target', folderId);
		const result = await run([cloudSync({ resource: 'file', operation: 'download', ...location, filePath: 'a.txt' })]);
		expectNodeError(nodeError(result), cloud === 'Dropbox' ? /Dropbox asked to slow down \(too_many_requests\)/ : /Google Drive is rate limiting/, /rate limiting this account: run the sync later/);
		const limited = cloud === 'Dropbox' ? dropbox.requests('files/download') : drive.emulator.server.requests(/^GET \/drive\/v3\/files/);
		expect(limited.filter((entry) => entry.status === 429)).toHaveLength(6);
		expectNoSecrets(result);
	});

	it('a mirror that would delete most of the destination is refused with an error that says how to allow it; nothing changes', async () => {
		const folder = dropboxFolder({ 'a.txt': 'a' });
		const folderId = driveFolder({ 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c', 'd.txt': 'd' });
		const result = await run([cloudSync({ resource: 'folder', operation: 'sync', ...onDropbox('source', folder), ...onDrive('destination', folderId), mode: 'mirror' })]);
		expectNodeError(nodeError(result), /would delete 3 of the destination's 4 files/, /Nothing was changed\. If the deletions are intended, turn on Options > Force/);
		expect(Object.keys(await driveTree(folderId)).sort()).toEqual(['a.txt', 'b.txt', 'c.txt', 'd.txt']);
		expectNoSecrets(result);
	});

	it('bad input: a relative local folder, a folder outside N8N_RESTRICT_FILE_ACCESS_TO, a path climbing out with ".."', async () => {
		const folder = dropboxFolder();
		const relative = await run([cloudSync({ resource: 'folder', operation: 'sync', ...onLocal('source', 'photos/2026'), ...onDropbox('destination', folder), mode: 'copy' })]);
		expectNodeError(nodeError(relative), /"photos\/2026" is not an absolute path/, /Enter the folder as an absolute path/);
		const blocked = await run([cloudSync({ resource: 'folder', operation: 'sync', ...onLocal('source', outside), ...onDropbox('destination', folder), mode: 'copy' })]);
		expectNodeError(nodeError(blocked), /n8n may not access the folder/, /N8N_RESTRICT_FILE_ACCESS_TO/);
		const climbing = await run([
			{ name: 'Make', type: 'test-fixtures.fixtureFileMaker', parameters: { fileName: 'x.txt', content: 'x' } },
			cloudSync({ resource: 'file', operation: 'upload', ...onDropbox('target', folder), filePath: '../escaped.txt' }),
		]);
		expectNodeError(nodeError(climbing), /Invalid path "\.\.\/escaped\.txt"/, /without "\.\."/);
		expect(dropbox.stat('/escaped.txt')).toBeUndefined();
		expect(dropboxTree(folder)).toEqual({});
		for (const result of [relative, blocked, climbing]) expectNoSecrets(result);
	});

	it('a cloud with no credential selected says which side lacks it and which slot to fill', async () => {
		const result = await run([cloudSync({ resource: 'folder', operation: 'list', ...onDropbox('target', dropboxFolder()) }, { credentials: [] })]);
		expectNodeError(nodeError(result), /^The Dropbox folder has no credential selected$/, /Under "Dropbox Credential" in this node, select a "Cloud Sync: Dropbox OAuth2 API" credential/);
		const source = await localFolder({ 'a.txt': 'a' });
		const sync = await run([cloudSync({ resource: 'folder', operation: 'sync', ...onLocal('source', source), ...onDropbox('destination', dropboxFolder()), mode: 'copy' }, { credentials: [] })]);
		expectNodeError(nodeError(sync), /^The destination folder \(Dropbox\) has no credential selected$/, /Under "Destination Credential \(Dropbox\)" in this node/);
		const twoWay = await run([cloudSync({ resource: 'folder', operation: 'sync', ...onDropbox('source', dropboxFolder()), ...onDropbox('destination', dropboxFolder()), mode: 'twoWay' }, { credentials: [] })]);
		expectNodeError(nodeError(twoWay), /^The left folder \(Dropbox\) has no credential selected$/, /Under "Left and Right Credential \(Dropbox\)" in this node/);
	});

	it('with Continue On Fail the other items pass and the failing one carries its error and pairedItem', async () => {
		const folder = dropboxFolder({ 'a.txt': 'alpha', 'c.txt': 'charlie' });
		const result = await run(
			[cloudSync({ resource: 'file', operation: 'download', ...onDropbox('target', folder), filePath: '={{ $json.file }}' }, { continueOnFail: true })],
			[{ file: 'a.txt' }, { file: 'missing.txt' }, { file: 'c.txt' }],
		);
		expect(result.status).toBe('success');
		const items = outputItems(result, 'Cloud Sync');
		expect(items).toHaveLength(3);
		expect(items[0]).toMatchObject({ json: { path: 'a.txt' }, pairedItem: { item: 0 } });
		expect(items[1]).toEqual({ json: { error: 'Not found: missing.txt' }, pairedItem: { item: 1 } });
		expect(items[2]).toMatchObject({ json: { path: 'c.txt' }, pairedItem: { item: 2 } });
		expect((await readBinary(items[2].binary!.data)).toString()).toBe('charlie');
		expectNoSecrets(result);
	});
});

describe('cancellation', () => {
	it.each(['Dropbox', 'Google Drive'])('an execution stopped in the middle of a large upload ends cleanly: no half-written file on %s', async (cloud) => {
		const big = pseudoRandomBytes(20 * MiB, 'big');
		const source = await localFolder({ 'big.bin': big });
		const folder = dropboxFolder();
		const folderId = driveFolder();
		// Chunks (Dropbox: after the first) take a while, so the stop lands while the file is on its way.
		const chunkRoute = cloud === 'Dropbox' ? /upload_session\/append_v2$/ : /^PUT \/upload\/drive\/v3\/files/;
		const chunksSent = () => (cloud === 'Dropbox' ? dropbox.requestCount('files/upload_session/start') : drive.emulator.requestCount(chunkRoute));
		dropbox.server.log.length = 0;
		drive.emulator.clearLog();
		(cloud === 'Dropbox' ? dropbox.server : drive.emulator.server).inject({ route: chunkRoute, kind: 'slow', delayMs: 1500 });
		const destination = cloud === 'Dropbox' ? onDropbox('destination', folder) : onDrive('destination', folderId);
		const controller = new AbortController();
		const result = await run([cloudSync({ resource: 'folder', operation: 'sync', ...onLocal('source', source), ...destination, mode: 'copy' })], undefined, {
			signal: controller.signal,
			onNodeStart: (name) => {
				if (name === 'Cloud Sync') void until(() => chunksSent() > 0).then(() => controller.abort());
			},
		});
		expect(result.status).toBe('canceled');
		expect(result.error?.name).toBe('ManualExecutionCancelledError');
		// The node stopped on the signal: nothing after the chunk in flight was sent, and no upload was committed.
		if (cloud === 'Dropbox') {
			expect(dropbox.requestCount('files/upload_session/append_v2')).toBeLessThanOrEqual(1);
			expect(dropbox.requestCount('files/upload_session/finish') + dropbox.requestCount('files/upload_session/finish_batch_v2')).toBe(0);
			expect(dropbox.stat(`${folder}/big.bin`)).toBeUndefined();
			expect(dropboxTree(folder)).toEqual({});
		} else {
			expect(drive.emulator.requestCount(chunkRoute)).toBe(1);
			expect(drive.emulator.filesAt('big.bin', folderId)).toEqual([]);
			expect(await driveTree(folderId)).toEqual({});
			// The upload's session is kept for the next run to resume.
			expect(drive.emulator.filesAt('.cloudsync/uploads.state', folderId)).toHaveLength(1);
		}
		expectNoSecrets(result);
	});
});

// ---------------------------------------------------------------------------------------------
// Folder pickers

interface Search {
	search(method: 'searchDriveFolders' | 'searchDropboxFolders' | 'searchOneDriveFolders' | 'searchSharePointSites' | 'searchWebDavFolders', filter?: string, paginationToken?: string): Promise<INodeListSearchResult>;
	/** Credential types the method asked n8n for. */
	requested: string[];
}

/**
 * What n8n's editor does when a folder picker opens: POST /dynamic-node-parameters/resource-locator-results
 * with the node's parameters, its credentials and the path of the parameter; the cli builds a one-node
 * workflow and calls the method on n8n-core's LoadOptionsContext. The credential store stands in for
 * the database; n8n-core's own checks (is the credential set, is its entry shown) run as in n8n.
 */
function picker(parameters: INodeParameters, parameterPath: string, attached: string[], store = storedCredentials(), nodeType: CloudSync | CloudSyncTrigger = new CloudSync()): Search {
	const nodeTypes: INodeTypes = { getByName: () => nodeType, getByNameAndVersion: () => nodeType as INodeType, getKnownTypes: () => ({}) };
	const workflow = new Workflow({
		nodes: [
			{
				id: 'uuid-1234',
				name: 'Temp-Node',
				type: nodeType instanceof CloudSync ? NODE : 'n8n-nodes-cloudsync.cloudSyncTrigger',
				typeVersion: 1,
				position: [0, 0],
				parameters,
				credentials: Object.fromEntries(attached.map((type) => [type, { id: type, name: `My ${type}` }])),
			},
		],
		connections: {},
		active: false,
		nodeTypes,
	});
	const node = workflow.getNode('Temp-Node')!;
	const requested: string[] = [];
	const credentialsHelper = {
		isCredentialUsableByNode: () => true,
		getDecrypted: async (_additionalData: unknown, _details: unknown, type: string) => {
			requested.push(type);
			return structuredClone(store[type]);
		},
	} as unknown as ICredentialsHelper;
	// The editor sends the node's resolved parameters (defaults filled in) as currentNodeParameters.
	const additionalData = { credentialsHelper, currentNodeParameters: node.parameters } as unknown as IWorkflowExecuteAdditionalData;
	const context = new LoadOptionsContext(workflow, node, additionalData, parameterPath);
	const methods = nodeType.methods.listSearch;
	return { search: async (method, filter, token) => methods[method].call(context, filter, token), requested };
}

describe('folder pickers (list searches)', () => {
	it('Google Drive: folders whose name holds the typed text, shown by path, valued by id, with their Drive link', async () => {
		const tag = unique('Invoices');
		const top = drive.emulator.addFolder(drive.emulator.myDriveRootId, `Picker ${tag}`);
		const nested = drive.emulator.addFolder(drive.emulator.addFolder(top, 'Accounting'), tag);
		const old = drive.emulator.addFolder(top, `${tag} old`);
		drive.emulator.addFile(top, `${tag}.pdf`, 'a file, not a folder');
		const { search, requested } = picker({ resource: 'folder', operation: 'list', ...onDrive('target', 'root') }, 'parameters.targetDriveFolder', ['cloudSyncGoogleDriveOAuth2Api']);
		const found = await search('searchDriveFolders', tag);
		expect(found).toEqual({
			results: [
				{ name: `/Picker ${tag}`, value: top, url: `https://drive.google.com/drive/folders/${top}` },
				{ name: `/Picker ${tag}/Accounting/${tag}`, value: nested, url: `https://drive.google.com/drive/folders/${nested}` },
				{ name: `/Picker ${tag}/${tag} old`, value: old, url: `https://drive.google.com/drive/folders/${old}` },
			],
			paginationToken: undefined,
		});
		expect(requested).toEqual(['cloudSyncGoogleDriveOAuth2Api']);
		const all = await search('searchDriveFolders');
		expect(all.results[0]).toEqual({ name: '/ (My Drive)', value: 'root', url: 'https://drive.google.com/drive/my-drive' });
	});

	it('Google Drive: pages through many folders with the pagination token', async () => {
		const tag = unique('Paged');
		const parent = drive.emulator.addFolder(drive.emulator.myDriveRootId, tag);
		const ids = Array.from({ length: 150 }, (_, i) => drive.emulator.addFolder(parent, `${tag}-x-${String(i).padStart(3, '0')}`));
		const { search } = picker({ resource: 'folder', operation: 'list', ...onDrive('target', 'root') }, 'parameters.targetDriveFolder', ['cloudSyncGoogleDriveOAuth2Api']);
		const first = await search('searchDriveFolders', `${tag}-x`);
		expect(first.results).toHaveLength(100);
		expect(first.paginationToken).toEqual(expect.any(String));
		const second = await search('searchDriveFolders', `${tag}-x`, first.paginationToken);
		expect(second.paginationToken).toBeUndefined();
		expect([...first.results, ...second.results].map((result) => result.value).sort()).toEqual([...ids].sort());
		expect(second.results[0].name).toMatch(new RegExp(`^/${tag}/${tag}-x-\\d{3}$`));
	});

	it("Google Drive: the open picker's side decides between the OAuth2 and the service-account credential", async () => {
		const account = drive.emulator.addServiceAccount();
		const store = storedCredentials({ cloudSyncGoogleServiceAccountApi: { email: account.clientEmail, privateKey: account.privateKey } });
		const parameters = { resource: 'folder', operation: 'sync', ...onDrive('source', 'root'), ...onDrive('destination', 'root'), destinationCloud: 'googleDriveServiceAccount' };
		const attached = ['cloudSyncGoogleDriveOAuth2Api', 'cloudSyncGoogleServiceAccountApi'];
		const tag = unique('Sides');
		drive.emulator.addFolder(drive.emulator.myDriveRootId, tag);
		for (const [side, type] of [
			['source', 'cloudSyncGoogleDriveOAuth2Api'],
			['destination', 'cloudSyncGoogleServiceAccountApi'],
		] as const) {
			const { search, requested } = picker(parameters, `parameters.${side}DriveFolder`, attached, store);
			expect((await search('searchDriveFolders', tag)).results.map((result) => result.name)).toEqual([`/${tag}`]);
			expect(requested).toEqual([type]);
		}
	});

	it('Dropbox: folders whose path holds the typed text (any case), shown and valued by path, for any side', async () => {
		const tag = unique('Photos');
		dropbox.seedFile(`/${tag}/2026/Summer/a.jpg`, 'a');
		dropbox.seedFile(`/Archive/${tag.toUpperCase()}-old/b.jpg`, 'b');
		// The destination's picker of a Local → Dropbox sync: the credential shows for the destination only.
		const { search, requested } = picker({ resource: 'folder', operation: 'sync', ...onLocal('source', allowed), ...onDropbox('destination', '') }, 'parameters.destinationDropboxFolder', [
			'cloudSyncDropboxOAuth2Api',
		]);
		const found = await search('searchDropboxFolders', tag.toLowerCase());
		expect(found.paginationToken).toBeUndefined();
		expect(found.results.map((result) => [result.name, result.value]).sort()).toEqual(
			[`/Archive/${tag.toUpperCase()}-old`, `/${tag}`, `/${tag}/2026`, `/${tag}/2026/Summer`].map((folder) => [folder, folder]).sort(),
		);
		expect(requested).toEqual(['cloudSyncDropboxOAuth2Api']);
		const all = await search('searchDropboxFolders');
		expect(all.results[0]).toEqual({ name: '/ (whole Dropbox)', value: '/' });
	});

	it('Dropbox: an account with more folders than one listing page is searched page by page', async () => {
		const tag = unique('Many');
		for (let i = 0; i < 2100; i++) dropbox.seedFolder(`/${tag}/f${String(i).padStart(4, '0')}`);
		const { search } = picker({ resource: 'folder', operation: 'list', ...onDropbox('target', '') }, 'parameters.targetDropboxFolder', ['cloudSyncDropboxOAuth2Api']);
		const pages: INodeListSearchResult[] = [await search('searchDropboxFolders', tag)];
		while (pages.at(-1)!.paginationToken) pages.push(await search('searchDropboxFolders', tag, pages.at(-1)!.paginationToken));
		expect(pages.length).toBeGreaterThan(1);
		const values = pages.flatMap((page) => page.results.map((result) => result.value));
		expect(new Set(values).size).toBe(2101);
		expect(values).toContain(`/${tag}/f2099`);
	});

	it('a picker without its credential says which credential to select; a revoked one says to reconnect', async () => {
		const { search } = picker({ resource: 'folder', operation: 'list', ...onDropbox('target', '') }, 'parameters.targetDropboxFolder', []);
		await expect(search('searchDropboxFolders')).rejects.toMatchObject({
			message: 'The Dropbox folder has no credential selected',
			description: expect.stringMatching(/Under "Dropbox Credential" in this node, select a "Cloud Sync: Dropbox OAuth2 API" credential/),
		});
		const own = drive.emulator.addOAuthClient();
		drive.emulator.revokeRefreshToken(own.refreshToken);
		const store = storedCredentials({ cloudSyncGoogleDriveOAuth2Api: { clientId: own.clientId, clientSecret: own.clientSecret, oauthTokenData: { refresh_token: own.refreshToken } } });
		const revoked = picker({ resource: 'folder', operation: 'list', ...onDrive('target', 'root') }, 'parameters.targetDriveFolder', ['cloudSyncGoogleDriveOAuth2Api'], store);
		const error = await revoked.search('searchDriveFolders').catch((caught: unknown) => caught);
		expect(error).toMatchObject({ name: 'NodeOperationError', description: expect.stringMatching(/Reconnect the credential/) });
		expect(inspect(error, { depth: 8 })).not.toContain(own.refreshToken);
		expect(inspect(error, { depth: 8 })).not.toContain(own.clientSecret);
	});

	it('the trigger offers the same pickers, with its own credential', async () => {
		expect(Object.keys(new CloudSyncTrigger().methods.listSearch).sort()).toEqual(['searchDriveFolders', 'searchDropboxFolders', 'searchOneDriveFolders', 'searchSharePointSites']);
		const tag = unique('Watched');
		dropbox.seedFolder(`/${tag}/Inbox`);
		const { search, requested } = picker(onDropbox('target', ''), 'parameters.targetDropboxFolder', ['cloudSyncDropboxOAuth2Api'], storedCredentials(), new CloudSyncTrigger());
		expect((await search('searchDropboxFolders', tag)).results.map((result) => result.value)).toEqual([`/${tag}`, `/${tag}/Inbox`]);
		expect(requested).toEqual(['cloudSyncDropboxOAuth2Api']);
	});
});

describe('known gaps (lib/)', () => {
	// The destination's listing fails with "Not found: /" and the engine keeps that as a listing error,
	// although writing creates the folder: the run is reported "partial" with nothing wrong. A missing
	// destination root should list as empty (lib/sync.ts listAll). Fails until then.
	it('syncs into a Dropbox folder that does not exist yet, reported as a plain success', async () => {
		const source = await localFolder({ 'a.txt': 'alpha' });
		const folder = `/${unique('not-yet')}/Backups`;
		const result = await run([cloudSync({ resource: 'folder', operation: 'sync', ...onLocal('source', source), ...onDropbox('destination', folder), mode: 'mirror' })]);
		expect(dropboxTree(folder)).toEqual({ 'a.txt': 'alpha' });
		expect(outputItems(result, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 1, listingErrors: [] });
	});
});

describe('a broken service-account key', () => {
	const serviceAccount = (privateKey: string, email?: string) => {
		const account = drive.emulator.addServiceAccount();
		return { account, credentials: storedCredentials({ cloudSyncGoogleServiceAccountApi: { email: email ?? account.clientEmail, privateKey } }) };
	};
	const listWith = (credentials: Record<string, ICredentialDataDecryptedObject>, folderId: string) =>
		run([cloudSync({ resource: 'folder', operation: 'list', ...onDrive('target', folderId), targetCloud: 'googleDriveServiceAccount' })], undefined, { credentials });
	/** The key's base64 body, in pieces long enough that none could appear by chance. */
	const keyPieces = (pem: string) => (pem.replace(/-----[A-Z ]+-----|\s/g, '').match(/.{24}/g) ?? []).filter((_, index) => index % 8 === 0);

	it('a damaged, cut or wrongly pasted key names the credential field and what to paste, and never shows the key', async () => {
		const folderId = driveFolder({ 'a.txt': 'alpha' });
		const pem = drive.emulator.addServiceAccount().privateKey;
		const body = pem.split('\n').slice(1, -2);
		const json = JSON.stringify({ type: 'service_account', client_email: 'x@y.iam.gserviceaccount.com', private_key: pem });
		for (const [privateKey, problem] of [
			[['-----BEGIN PRIVATE KEY-----', ...body.slice(0, 5), '-----END PRIVATE KEY-----'].join('\n'), /private key cannot be read: the text between its BEGIN and END lines is damaged or cut short/],
			[body.join('\n'), /private key is not a PEM key: it must start with its BEGIN PRIVATE KEY line and end with its END PRIVATE KEY line/],
			[json, /private key field holds the whole JSON key file instead of only the key inside it/],
			['', /private key is empty/],
		] as const) {
			const result = await listWith(serviceAccount(privateKey).credentials, folderId);
			expectNodeError(nodeError(result), problem, /Private Key field, paste the whole private_key value .* from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY----- included/);
			expect(nodeError(result).message).not.toMatch(/DECODER|routines|asn1|OpenSSL/i);
			expectNoSecrets(result, keyPieces(pem));
		}
		const noEmail = await listWith(serviceAccount(pem, ' ').credentials, folderId);
		expectNodeError(nodeError(noEmail), /service account's email is missing or not an email address/, /Service Account Email field, enter the client_email value/);
	});

	it('a key pasted on one line, with its quotes or "\\n" escapes, is repaired and signs in', async () => {
		const folderId = driveFolder({ 'a.txt': 'alpha' });
		const { account } = serviceAccount('');
		const pasted = [
			account.privateKey.replace(/\n/g, ' '),
			`"${account.privateKey.replace(/\n/g, '\\n')}",`,
		];
		for (const privateKey of pasted) {
			const result = await listWith(storedCredentials({ cloudSyncGoogleServiceAccountApi: { email: account.clientEmail, privateKey } }), folderId);
			expect(outputItems(result, 'Cloud Sync').map((item) => item.json.path)).toEqual(['a.txt']);
		}
	});

	it('the credential test says the same, naming the field', async () => {
		// One line of a real key, without its BEGIN and END lines.
		const line = drive.emulator.addServiceAccount().privateKey.split('\n')[1];
		const data = { email: 'bot@p.iam.gserviceaccount.com', privateKey: line };
		// As n8n calls it: the method the credential entry's testedBy names.
		const result = await new CloudSync().methods.credentialTest.testGoogleServiceAccount.call({} as never, { id: '1', name: 'Key', type: 'cloudSyncGoogleServiceAccountApi', data });
		expect(result).toEqual({
			status: 'Error',
			message: expect.stringMatching(/^The service account's private key is not a PEM key: .*\. In the credential's Private Key field, paste/),
		});
		expect(result.message).not.toContain(line.slice(0, 24));
	});

});

describe('an empty cloud folder', () => {
	it('an empty folder from an expression is refused, not read as the whole My Drive or Dropbox; the top is chosen explicitly', async () => {
		const folder = dropboxFolder({ 'a.txt': 'alpha' });
		const rl = (mode: string) => ({ __rl: true, mode, value: '={{ $json.folder }}' });
		const drivePicked = await run([cloudSync({ resource: 'folder', operation: 'list', targetCloud: 'googleDrive', targetDriveFolder: rl('id') })], [{ folder: '' }]);
		expectNodeError(nodeError(drivePicked), /^The Google Drive folder is empty$/, /Choose the folder, or fix the expression that gives it .*pick "\/ \(My Drive\)" in the folder list/);
		expect(outputItems(drivePicked, 'Cloud Sync')).toEqual([]);

		const steps = [cloudSync({ resource: 'folder', operation: 'sync', mode: 'copy', ...onDropbox('source', folder), destinationCloud: 'dropbox', destinationDropboxFolder: rl('path') })];
		const dropboxPicked = await run(steps, [{ folder: `${folder}/copy` }, { folder: '  ' }]);
		expectNodeError(nodeError(dropboxPicked), /^The destination Dropbox folder is empty$/, /pick "\/ \(whole Dropbox\)" in the folder list/, 1);
		expect(dropboxTree(`${folder}/copy`)).toEqual({ 'a.txt': 'alpha' });

		const top = await run([cloudSync({ resource: 'folder', operation: 'list', targetCloud: 'googleDrive', targetDriveFolder: rl('id'), returnAll: false, limit: 1 })], [{ folder: 'root' }]);
		expect(outputItems(top, 'Cloud Sync')).toHaveLength(1);
		const whole = await run([cloudSync({ resource: 'folder', operation: 'list', targetCloud: 'dropbox', targetDropboxFolder: rl('path'), returnAll: false, limit: 1 })], [{ folder: '/' }]);
		expect(outputItems(whole, 'Cloud Sync')).toHaveLength(1);
	});

	it('a Google Drive folder by path: read from the top of My Drive, made when the destination of a sync is missing; a missing one names its side', async () => {
		const name = unique('by-path');
		const source = await localFolder({ 'a.txt': 'alpha' });
		const byPath = (side: Side, value: string): INodeParameters => ({ [`${side}Cloud`]: 'googleDrive', [`${side}DriveFolder`]: { __rl: true, mode: 'path', value } });
		const diff = await run([cloudSync({ resource: 'folder', operation: 'diff', mode: 'copy', ...onLocal('source', source), ...byPath('destination', `/${name}/Photos`) })]);
		expectNodeError(nodeError(diff), new RegExp(`^The destination Google Drive folder "/${name}/Photos" was not found$`), /starts at the top of My Drive \("\/" is My Drive itself\).*A Diff creates nothing; a Sync creates a missing destination folder/);
		const sync = await run([cloudSync({ resource: 'folder', operation: 'sync', mode: 'copy', ...onLocal('source', source), ...byPath('destination', `${name}/Photos`) })]);
		expect(outputItems(sync, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 1, destination: `Google Drive:/${name}/Photos` });
		const listed = await run([cloudSync({ resource: 'folder', operation: 'list', ...byPath('target', `/${name}/Photos`) })]);
		expect(outputItems(listed, 'Cloud Sync').map((item) => item.json.path)).toEqual(['a.txt']);
		const byId = await run([cloudSync({ resource: 'folder', operation: 'sync', mode: 'twoWay', ...onDrive('source', 'no-such-folder-id'), ...onLocal('destination', source) })]);
		expectNodeError(nodeError(byId), /^The left Google Drive folder "no-such-folder-id" was not found$/, /a service account sees only what is shared with its email/);
	});
});

describe('a chosen folder that does not exist', () => {
	it('names its side and cloud on Dropbox, OneDrive and WebDAV, instead of "Not found: /" about a path inside it; nothing is created', async () => {
		const local = await localFolder({ 'a.txt': 'alpha' });
		const missing = unique('/missing');
		const source = await run([cloudSync({ resource: 'folder', operation: 'sync', mode: 'mirror', ...onDropbox('source', missing), ...onLocal('destination', local) })]);
		expectNodeError(nodeError(source), new RegExp(`^The source Dropbox folder "${missing}" was not found$`), /^Pick the folder in the list, or check its path: it starts at the top of the account/);
		expect(await fs.readFile(path.join(local, 'a.txt'), 'utf8')).toBe('alpha');
		const twoWay = await run([cloudSync({ resource: 'folder', operation: 'sync', mode: 'twoWay', ...onOneDrive('source', missing), ...onLocal('destination', local) })]);
		expectNodeError(nodeError(twoWay), new RegExp(`^The left OneDrive folder "${missing}" was not found$`), /check its path/);
		const diff = await run([cloudSync({ resource: 'folder', operation: 'diff', mode: 'copy', ...onLocal('source', local), ...onWebDav('destination', missing) })]);
		expectNodeError(nodeError(diff), new RegExp(`^The destination WebDAV folder "${missing}" was not found$`), /A Diff creates nothing; a Sync creates a missing destination folder/);
		expect(dropbox.stat(missing)).toBeUndefined();
	});
});

describe('OneDrive and SharePoint', () => {
	/** A new folder in the user's OneDrive (or a site's library) holding `files`; returns its path. */
	function oneDriveFolder(files: Record<string, string> = {}, driveId?: string): string {
		const folder = unique('onedrive');
		onedrive.seedFolder(folder, driveId);
		for (const [file, content] of Object.entries(files)) onedrive.seedFile(`${folder}/${file}`, content, { driveId });
		return `/${folder}`;
	}
	function oneDriveTree(folder: string, driveId?: string): Record<string, string> {
		const tree: Record<string, string> = {};
		for (const file of onedrive.paths(folder.slice(1), driveId)) {
			const content = onedrive.content(`${folder.slice(1)}/${file}`, driveId);
			// The engine's own folder (a scheduled sync's change cursors) is no synced file.
			if (file.startsWith('.cloudsync/')) continue;
			if (content !== undefined && !onedrive.find(`${folder.slice(1)}/${file}`, driveId)?.folder) tree[file] = content.toString('latin1');
		}
		return tree;
	}

	it('lists a OneDrive folder, subfolders included, one item per file', async () => {
		const folder = oneDriveFolder({ 'a.txt': 'alpha', 'sub/b.txt': 'bravo' });
		const result = await run([cloudSync({ resource: 'folder', operation: 'list', ...onOneDrive('target', folder) })]);
		expect(result.status).toBe('success');
		expect(outputItems(result, 'Cloud Sync').map((item) => [item.json.path, item.json.cloud])).toEqual(
			expect.arrayContaining([
				['a.txt', `OneDrive:${folder}`],
				['sub/b.txt', `OneDrive:${folder}`],
			]),
		);
		expectNoSecrets(result);
	});

	it("syncs local → OneDrive and OneDrive → a SharePoint site's library (made when missing); a second run finds nothing to do", async () => {
		const source = await localFolder({ 'a.txt': 'alpha', 'sub/b.txt': 'bravo', 'odd?name.txt': 'question', 'keep.txt': 'kept' });
		const folder = oneDriveFolder({ 'old.txt': 'gone at the source', 'keep.txt': 'kept' });
		const toOneDrive = () => run([cloudSync({ resource: 'folder', operation: 'sync', ...onLocal('source', source), ...onOneDrive('destination', folder), mode: 'mirror' })]);
		const first = await toOneDrive();
		expect(outputItems(first, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 3, deleted: 1, destination: `OneDrive:${folder}` });
		expect(oneDriveTree(folder)).toEqual({ 'a.txt': 'alpha', 'sub/b.txt': 'bravo', 'odd？name.txt': 'question', 'keep.txt': 'kept' });
		expect(outputItems(await toOneDrive(), 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0 });

		const library = `/${unique('Reports')}/2026`;
		const toSite = () =>
			run([cloudSync({ resource: 'folder', operation: 'sync', ...onOneDrive('source', folder), ...onOneDrive('destination', library, site.webUrl), mode: 'mirror' })]);
		const copied = await toSite();
		expect(outputItems(copied, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 4, destination: `OneDrive:${site.webUrl}:${library}` });
		expect(oneDriveTree(library, site.driveId)).toEqual({ 'a.txt': 'alpha', 'sub/b.txt': 'bravo', 'odd？name.txt': 'question', 'keep.txt': 'kept' });
		expect(outputItems(await toSite(), 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 0, updated: 0 });
		expectNoSecrets(copied);
	});

	it('pickers: folders of the drive the side points at, and SharePoint sites by name', async () => {
		const tag = unique('Ledger');
		onedrive.seedFolder(`Picked ${tag}/Inner`);
		onedrive.seedFolder(`Library ${tag}`, site.driveId);
		const mine = picker({ resource: 'folder', operation: 'list', ...onOneDrive('target', '') }, 'parameters.targetOneDriveFolder', ['cloudSyncMicrosoftOneDriveOAuth2Api']);
		expect((await mine.search('searchOneDriveFolders', tag)).results.map((result) => result.value)).toEqual([`/Picked ${tag}`, `/Picked ${tag}/Inner`]);
		const theirs = picker({ resource: 'folder', operation: 'list', ...onOneDrive('target', '', site.webUrl) }, 'parameters.targetOneDriveFolder', ['cloudSyncMicrosoftOneDriveOAuth2Api']);
		expect((await theirs.search('searchOneDriveFolders', tag)).results.map((result) => result.value)).toEqual([`/Library ${tag}`]);
		const sites = await mine.search('searchSharePointSites', 'finance');
		expect(sites.results).toEqual([{ name: 'Finance Team', value: site.webUrl, url: site.webUrl }]);
	});

	it('an empty folder is refused; revoked access says to reconnect, with no secret shown', async () => {
		const rl = { __rl: true, mode: 'path', value: '={{ $json.folder }}' };
		const empty = await run([cloudSync({ resource: 'folder', operation: 'list', targetCloud: 'oneDrive', targetOneDriveFolder: rl })], [{ folder: '' }]);
		expectNodeError(nodeError(empty), /^The OneDrive folder is empty$/, /pick "\/ \(whole drive\)" in the folder list/);

		const revoked = await OneDriveEmulator.start();
		const shared = process.env.CLOUDSYNC_ONEDRIVE_API_URL;
		process.env.CLOUDSYNC_ONEDRIVE_API_URL = revoked.baseUrl;
		try {
			revoked.seedFile('Photos/a.jpg', 'a');
			revoked.revokeAccess();
			const credentials = storedCredentials({
				cloudSyncMicrosoftOneDriveOAuth2Api: { clientId: revoked.credentials.clientId, clientSecret: revoked.credentials.clientSecret, oauthTokenData: { refresh_token: revoked.credentials.refreshToken } },
			});
			const result = await run([cloudSync({ resource: 'folder', operation: 'list', ...onOneDrive('target', '/Photos') })], undefined, { credentials });
			expectNodeError(nodeError(result), /Microsoft refused to renew the OneDrive access token \(invalid_grant/, /Reconnect the credential/);
			expectNoSecrets(result, [revoked.credentials.clientSecret, revoked.credentials.refreshToken]);
		} finally {
			process.env.CLOUDSYNC_ONEDRIVE_API_URL = shared;
			await revoked.stop();
		}
	});
});

describe('large uploads resume in the next run', () => {
	it('a sync that failed after sending most of a file sends only the rest in the next run, from the session kept on the destination', async () => {
		const content = pseudoRandomBytes(20 * MiB, 'node-resume');
		const source = await localFolder({ 'big.bin': content });
		const folder = dropboxFolder();
		const sync = cloudSync({ resource: 'folder', operation: 'sync', ...onLocal('source', source), ...onDropbox('destination', folder), mode: 'copy' });
		// The commit is refused once every chunk but the last is in: the run fails with the session open.
		dropbox.denyWrites(`${folder}/big.bin`);
		const failed = await run([sync]);
		expect(nodeError(failed).message).toMatch(/failed/);
		const kept = JSON.parse(dropbox.content(`${folder}/.cloudsync/uploads.state`)!.toString('utf8')) as { uploads: Array<{ path: string; size: number }> };
		expect(kept.uploads).toEqual([expect.objectContaining({ path: 'big.bin', size: 20 * MiB })]);

		dropbox.allowWrites(`${folder}/big.bin`);
		const before = dropbox.server.bytesReceived;
		const result = await run([sync]);
		expect(outputItems(result, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 1 });
		// Only the last chunk (8 MiB chunks: 16 MiB were in) and small calls went up again.
		expect(dropbox.server.bytesReceived - before).toBeLessThan(5 * MiB);
		expect(createHash('sha256').update(dropbox.content(`${folder}/big.bin`)!).digest('hex')).toBe(createHash('sha256').update(content).digest('hex'));
		expect(JSON.parse(dropbox.content(`${folder}/.cloudsync/uploads.state`)!.toString('utf8')).uploads).toEqual([]);
	});
});

describe('WebDAV and Nextcloud', () => {
	/** A new folder on the Nextcloud emulator holding `files`; returns its path. */
	function webDavFolder(files: Record<string, string> = {}, modTime?: number): string {
		const folder = unique('Nextcloud folder');
		nextcloud.seedFolder(folder);
		for (const [file, content] of Object.entries(files)) nextcloud.seedFile(`${folder}/${file}`, content, { modTime });
		return `/${folder}`;
	}
	function webDavTree(folder: string): Record<string, string> {
		const tree: Record<string, string> = {};
		for (const file of nextcloud.paths(folder.slice(1))) {
			const item = nextcloud.find(`${folder.slice(1)}/${file}`);
			if (item && !item.folder) tree[file] = item.content!.toString('latin1');
		}
		return tree;
	}

	it('lists a Nextcloud folder, subfolders included, one item per file', async () => {
		const folder = webDavFolder({ 'a.txt': 'alpha', 'sub/b.txt': 'bravo' });
		const result = await run([cloudSync({ resource: 'folder', operation: 'list', ...onWebDav('target', folder) })]);
		expect(result.status).toBe('success');
		expect(outputItems(result, 'Cloud Sync').map((item) => [item.json.path, item.json.cloud])).toEqual(
			expect.arrayContaining([
				['a.txt', `WebDAV:${folder}`],
				['sub/b.txt', `WebDAV:${folder}`],
			]),
		);
		expectNoSecrets(result);
	});

	it('syncs local → Nextcloud (a folder made when missing) and back to a new local folder; second runs find nothing to do', async () => {
		const source = await localFolder({ 'a.txt': 'alpha', 'sub/b.txt': 'bravo', 'with space #1.txt': 'odd name' });
		const folder = `${webDavFolder({ 'old.txt': 'gone at the source' })}/made/here`;
		const toCloud = () => run([cloudSync({ resource: 'folder', operation: 'sync', ...onLocal('source', source), ...onWebDav('destination', folder), mode: 'mirror' })]);
		const first = await toCloud();
		expect(outputItems(first, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 3, destination: `WebDAV:${folder}` });
		expect(webDavTree(folder)).toEqual({ 'a.txt': 'alpha', 'sub/b.txt': 'bravo', 'with space #1.txt': 'odd name' });
		// Times and SHA-1 kept by Nextcloud: the second run compares and sends nothing.
		expect(outputItems(await toCloud(), 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0 });

		const back = await localFolder();
		const toLocal = () => run([cloudSync({ resource: 'folder', operation: 'sync', ...onWebDav('source', folder), ...onLocal('destination', back), mode: 'mirror' })]);
		expect(outputItems(await toLocal(), 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 3 });
		expect(await readTree(back)).toEqual({ ...hashed({ 'a.txt': 'alpha', 'sub/b.txt': 'bravo', 'with space #1.txt': 'odd name' }), sub: 'dir' });
		expect(outputItems(await toLocal(), 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 0, updated: 0 });
	});

	it('the folder picker lists folders below the WebDAV URL whose path holds the typed text', async () => {
		const tag = unique('Ledger');
		nextcloud.seedFolder(`Picked ${tag}/Inner`);
		const search = picker({ resource: 'folder', operation: 'list', ...onWebDav('target', '') }, 'parameters.targetWebDavFolder', ['cloudSyncWebDavApi']);
		expect((await search.search('searchWebDavFolders', tag)).results.map((result) => result.value)).toEqual([`/Picked ${tag}`, `/Picked ${tag}/Inner`]);
		expect(search.requested).toEqual(['cloudSyncWebDavApi']);
	});

	it('an empty folder is refused; a wrong password says to check the credential, with no password shown', async () => {
		const rl = { __rl: true, mode: 'path', value: '={{ $json.folder }}' };
		const empty = await run([cloudSync({ resource: 'folder', operation: 'list', targetCloud: 'webDav', targetWebDavFolder: rl })], [{ folder: '' }]);
		expectNodeError(nodeError(empty), /^The WebDAV folder is empty$/, /pick "\/ \(the WebDAV URL itself\)" in the folder list/);

		const wrong = 'wrong-app-password-123';
		const credentials = storedCredentials({ cloudSyncWebDavApi: { vendor: 'nextcloud', url: nextcloud.url, user: nextcloud.user, password: wrong } });
		const result = await run([cloudSync({ resource: 'folder', operation: 'list', ...onWebDav('target', webDavFolder()) })], undefined, { credentials });
		expectNodeError(nodeError(result), /refused the user name or password/, /app password/);
		expectNoSecrets(result, [wrong, Buffer.from(`${nextcloud.user}:${wrong}`).toString('base64')]);
	});
});
