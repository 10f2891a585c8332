/**
 * iCloud Drive through the Cloud Sync node: the Apple ID credential's one-time code (its
 * preAuthentication, as n8n's credential test calls it when the dialog is saved), runs that sign in
 * with the stored trust and no person, the instructions when Apple wants a new code, and secrets kept
 * out of every output and error.
 */
import * as path from 'node:path';
import type { ICredentialDataDecryptedObject, IDataObject } from 'n8n-workflow';
import { CloudSync } from '../../nodes/CloudSync/CloudSync.node';
import { CloudSyncAppleIdApi } from '../../credentials/CloudSyncAppleIdApi.credentials';
import { forgetAppleIdSignIns } from '../../nodes/CloudSync/transport/appleId';
import { iCloudDrive } from '../../nodes/CloudSync/clouds/icloudDrive';
import { ICloudDriveEmulator } from '../emulators/icloudDrive';
import { fixtureCredentialTypes } from './fixtures/credentials';
import { fixtureNodeTypes } from './fixtures/nodes';
import { cloudSync, workflow } from './fixtures/workflow';
import { disposeHarness, outputItems, runWorkflow } from './harness';
import { removeTempDirs, tempDir, writeTree } from '../support/trees';

const DAY = 86_400_000;
const credentialType = new CloudSyncAppleIdApi();
let emulator: ICloudDriveEmulator;
let allowed: string;

beforeAll(async () => {
	emulator = await ICloudDriveEmulator.start();
	process.env.CLOUDSYNC_ICLOUD_URL = emulator.baseUrl;
	allowed = await tempDir('n8n-files');
	process.env.N8N_RESTRICT_FILE_ACCESS_TO = allowed;
});
afterAll(async () => {
	await emulator.stop();
	disposeHarness();
	await removeTempDirs();
});
beforeEach(() => forgetAppleIdSignIns());

/** What the credential dialog holds; Save runs the credential test, which calls preAuthentication. */
const dialog = (fields: Partial<ICredentialDataDecryptedObject> = {}): ICredentialDataDecryptedObject => ({
	appleId: emulator.user.appleId,
	password: emulator.user.password,
	codeDelivery: 'trustedDevice',
	verificationCode: '',
	sessionToken: '',
	...fields,
});
const save = (data: ICredentialDataDecryptedObject) => credentialType.preAuthentication.call({ helpers: {} } as never, data);
const codesSent = () => emulator.auth.codesSent.get(emulator.user.appleId.toLowerCase())?.length ?? 0;

/** The person's one-time setup: Save, read the code on the phone, type it, Save again. */
async function connect(): Promise<ICredentialDataDecryptedObject> {
	await expect(save(dialog())).rejects.toThrow(/Apple sent a 6-digit verification code to your iPhone, iPad or Mac.*Save again within 10 minutes/);
	const stored = dialog({ verificationCode: emulator.auth.lastCode(emulator.user.appleId) });
	const written = await save(stored);
	return { ...stored, ...(written as ICredentialDataDecryptedObject) };
}

async function list(credential: ICredentialDataDecryptedObject, folder: string) {
	return runWorkflow(
		workflow([cloudSync({ resource: 'folder', operation: 'list', targetCloud: 'iCloudDrive', targetICloudDriveFolder: { __rl: true, mode: 'path', value: folder } }, { credentials: { cloudSyncAppleIdApi: { id: 'apple', name: 'Apple ID' } } })]),
		{ nodeTypes: { ...fixtureNodeTypes, 'n8n-nodes-cloudsync.cloudSync': new CloudSync() }, credentialTypes: [...fixtureCredentialTypes, credentialType], credentials: { cloudSyncAppleIdApi: credential }, mode: 'trigger' },
	);
}

const secretsOf = (credential: ICredentialDataDecryptedObject) => {
	const saved = JSON.parse(String(credential.sessionToken)) as { trustToken: string; cookies?: Record<string, string> };
	return [String(credential.password), saved.trustToken, ...Object.values(saved.cookies ?? {}), String(credential.verificationCode)].filter((secret) => secret.length >= 6);
};

describe('Apple ID credential and iCloud Drive runs', () => {
	it('the code is entered once in the dialog; scheduled runs then work without a person, even after the web session ended', async () => {
		const credential = await connect();
		expect(JSON.parse(String(credential.sessionToken)).trustToken).toBeTruthy();
		emulator.seedFile('Photos 2024/a.txt', 'alpha');
		const sent = codesSent();

		const first = await list(credential, '/Photos 2024');
		expect(first.status).toBe('success');
		expect(outputItems(first, 'Cloud Sync').map((item) => (item.json as IDataObject).path)).toContain('a.txt');

		// Hours later Apple has ended the web session: the run signs in with the trust token alone.
		emulator.auth.endWebSessions();
		const later = await list(credential, '/Photos 2024');
		expect(later.status).toBe('success');
		expect(codesSent()).toBe(sent);
		for (const secret of secretsOf(credential)) expect(JSON.stringify(outputItems(later, 'Cloud Sync'))).not.toContain(secret);
	});

	it('saving the dialog again after the code worked keeps the session and sends no new code', async () => {
		const credential = await connect();
		const sent = codesSent();
		// The dialog still holds the session (n8n restores password fields) or, opened before the code, an empty one.
		expect(await save(credential)).toHaveProperty('sessionToken');
		expect(await save({ ...credential, sessionToken: '' })).toHaveProperty('sessionToken');
		expect(codesSent()).toBe(sent);
	});

	it('when the trust ran out, a run stops before changing anything and says how to enter a new code; no code is sent', async () => {
		const credential = await connect();
		emulator.seedFile('Expired/a.txt', 'alpha');
		emulator.auth.advance(31 * DAY);
		emulator.auth.endWebSessions();
		const sent = codesSent();
		const result = await list(credential, '/Expired');
		expect(result.status).toBe('error');
		const error = result.nodes['Cloud Sync'][0].error!;
		expect(error.message).toMatch(/Apple asked for a new verification code/);
		expect(error.description).toMatch(/clear "Verification Code" and click Save.*Type it in "Verification Code" and click Save again/);
		expect(codesSent()).toBe(sent);
		for (const secret of secretsOf(credential)) expect(JSON.stringify([error.message, error.description])).not.toContain(secret);
		emulator.auth.advance(-31 * DAY);
	});

	it('a credential never verified with a code stops the run with the same instructions', async () => {
		const result = await list(dialog(), '/');
		expect(result.nodes['Cloud Sync'][0].error?.description).toMatch(/Verification Code/);
	});

	it('another dialog with the same Apple ID and a wrong password gets nothing of the session signed in before it', async () => {
		const credential = await connect();
		const sent = codesSent();
		await expect(save(dialog({ password: 'not the password' }))).rejects.toThrow(/Apple ID or password/);
		await expect(save(dialog({ password: 'not the password', verificationCode: String(credential.verificationCode) }))).rejects.toThrow(/Apple ID or password/);
		expect(codesSent()).toBe(sent);
	});

	it('a wrong password is refused in the dialog with what to check, and Apple sends no code', async () => {
		const sent = codesSent();
		await expect(save(dialog({ password: 'not the password' }))).rejects.toThrow(/Apple ID or password.*app-specific passwords/);
		expect(codesSent()).toBe(sent);
	});

	it('a wrong code is refused, and the right one still completes the sign-in', async () => {
		await expect(save(dialog())).rejects.toThrow(/Apple sent/);
		const right = emulator.auth.lastCode(emulator.user.appleId)!;
		await expect(save(dialog({ verificationCode: right === '000000' ? '111111' : '000000' }))).rejects.toThrow(/refused the verification code/);
		await expect(save(dialog({ verificationCode: right }))).resolves.toHaveProperty('sessionToken');
	});

	it('"Access iCloud Data on the Web" off stops the dialog with where to turn it on', async () => {
		emulator.auth.user(emulator.user.appleId).webAccessOff = true;
		try {
			await expect(connect()).rejects.toThrow(/Settings > \[your name\] > iCloud/);
		} finally {
			emulator.auth.user(emulator.user.appleId).webAccessOff = false;
		}
	});

	it('the folder picker lists iCloud Drive folders matching what was typed', async () => {
		const credential = await connect();
		emulator.seedFolder('Picker/Holiday Photos/2024');
		emulator.seedFile('Picker/Holiday Photos/not-a-folder.jpg', 'x');
		const found = await iCloudDrive.folderSearch!.search(credential, 'holiday', undefined, { parameter: () => undefined });
		expect(found.results.map((result) => result.value)).toEqual(['/Picker/Holiday Photos', '/Picker/Holiday Photos/2024']);
	});

	it('syncs a local folder into iCloud Drive through the node', async () => {
		const credential = await connect();
		const local = path.join(allowed, 'to-icloud');
		await writeTree(local, { 'a.txt': 'alpha', 'sub/b.txt': 'beta' });
		emulator.seedFolder('Backup');
		const result = await runWorkflow(
			workflow([
				cloudSync(
					{ resource: 'folder', operation: 'sync', sourceCloud: 'local', sourceLocalPath: local, destinationCloud: 'iCloudDrive', destinationICloudDriveFolder: { __rl: true, mode: 'path', value: '/Backup' } },
					{ credentials: { cloudSyncAppleIdApi: { id: 'apple', name: 'Apple ID' } } },
				),
			]),
			{ nodeTypes: { ...fixtureNodeTypes, 'n8n-nodes-cloudsync.cloudSync': new CloudSync() }, credentialTypes: [...fixtureCredentialTypes, credentialType], credentials: { cloudSyncAppleIdApi: credential }, mode: 'trigger' },
		);
		expect(result.status).toBe('success');
		expect(emulator.paths('Backup')).toEqual(['a.txt', 'sub/', 'sub/b.txt']);
	});
});
