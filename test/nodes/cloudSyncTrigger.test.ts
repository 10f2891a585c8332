/**
 * The Cloud Sync Trigger through n8n-core's polling machinery (PollContext, PollTriggerExecutor)
 * against the cloud emulators: the cursor first activation records, the changes each poll emits, the
 * static data n8n keeps between polls, the editor's test run, filters, expired cursors, and a workflow
 * that syncs exactly the changed paths.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ICredentialDataDecryptedObject, INode, INodeParameters } from 'n8n-workflow';
import { CloudSync } from '../../nodes/CloudSync/CloudSync.node';
import { CloudSyncTrigger } from '../../nodes/CloudSyncTrigger/CloudSyncTrigger.node';
import { CloudSyncDropboxOAuth2Api } from '../../credentials/CloudSyncDropboxOAuth2Api.credentials';
import { CloudSyncMicrosoftOneDriveOAuth2Api } from '../../credentials/CloudSyncMicrosoftOneDriveOAuth2Api.credentials';
import { CloudSyncGoogleDriveOAuth2Api } from '../../credentials/CloudSyncGoogleDriveOAuth2Api.credentials';
import { fixtureNodeTypes } from './fixtures/nodes';
import { fixtureCredentialTypes } from './fixtures/credentials';
import { disposeHarness, outputItems, runPoll, type PollOptions, type PollResult, type WorkflowJson } from './harness';
import { DropboxEmulator } from '../emulators/dropbox';
import { OneDriveEmulator } from '../emulators/onedrive';
import { startDrive, type DriveFixture, cloudSecrets } from '../support/drive';
import { readTree, removeTempDirs, tempDir, writeTree } from '../support/trees';

const TRIGGER = 'Cloud Sync Trigger';
const STATE = `node:${TRIGGER}`;

let drive: DriveFixture;
let dropbox: DropboxEmulator;
let onedrive: OneDriveEmulator;
let allowed: string;
let counter = 0;

beforeAll(async () => {
	// Personal: delta only at the drive's root (the provider reads that feed and keeps what is below its folder), deletions named.
	[drive, dropbox, onedrive] = await Promise.all([startDrive(), DropboxEmulator.start(), OneDriveEmulator.start({ driveType: 'personal', deltaOnlyAtRoot: true })]);
	process.env.CLOUDSYNC_GOOGLE_API_URL = drive.emulator.baseUrl;
	process.env.CLOUDSYNC_DROPBOX_API_URL = dropbox.baseUrl;
	process.env.CLOUDSYNC_ONEDRIVE_API_URL = onedrive.baseUrl;
	allowed = await tempDir('n8n-files');
	process.env.N8N_RESTRICT_FILE_ACCESS_TO = allowed;
});
afterAll(async () => {
	await Promise.all([drive.emulator.stop(), dropbox.stop(), onedrive.stop()]);
	disposeHarness();
	await removeTempDirs();
});

const credentials = (): Record<string, ICredentialDataDecryptedObject> => ({
	cloudSyncGoogleDriveOAuth2Api: { clientId: drive.auth.clientId, clientSecret: drive.auth.clientSecret, oauthTokenData: { refresh_token: drive.auth.refreshToken } },
	cloudSyncDropboxOAuth2Api: {
		clientId: dropbox.credentials.clientId,
		clientSecret: dropbox.credentials.clientSecret,
		oauthTokenData: { access_token: dropbox.issueAccessToken(), refresh_token: dropbox.credentials.refreshToken },
	},
	cloudSyncMicrosoftOneDriveOAuth2Api: {
		clientId: onedrive.credentials.clientId,
		clientSecret: onedrive.credentials.clientSecret,
		tenant: 'common',
		oauthTokenData: { refresh_token: onedrive.credentials.refreshToken },
	},
});

const options = (extra: Partial<PollOptions> = {}): PollOptions => ({
	nodeTypes: { ...fixtureNodeTypes, 'n8n-nodes-cloudsync.cloudSyncTrigger': new CloudSyncTrigger(), 'n8n-nodes-cloudsync.cloudSync': new CloudSync() },
	credentialTypes: [...fixtureCredentialTypes, new CloudSyncGoogleDriveOAuth2Api(), new CloudSyncDropboxOAuth2Api(), new CloudSyncMicrosoftOneDriveOAuth2Api()],
	credentials: credentials(),
	mode: 'trigger',
	...extra,
});

type Cloud = 'Dropbox' | 'Google Drive' | 'OneDrive';
const CREDENTIAL: Record<Cloud, string> = { Dropbox: 'cloudSyncDropboxOAuth2Api', 'Google Drive': 'cloudSyncGoogleDriveOAuth2Api', OneDrive: 'cloudSyncMicrosoftOneDriveOAuth2Api' };

/** The trigger's folder parameters. */
function watching(cloud: Cloud, folder: string): INodeParameters {
	if (cloud === 'OneDrive') return { targetCloud: 'oneDrive', targetOneDriveFolder: { __rl: true, mode: 'path', value: folder } };
	return cloud === 'Dropbox'
		? { targetCloud: 'dropbox', targetDropboxFolder: { __rl: true, mode: 'path', value: folder } }
		: { targetCloud: 'googleDrive', targetDriveFolder: { __rl: true, mode: 'id', value: folder } };
}

/** Cloud Sync Trigger → `next` (a pass-through fixture by default), as an active workflow. */
function workflow(cloud: Cloud, folder: string, parameters: INodeParameters = {}, next?: Partial<INode>): WorkflowJson {
	const after: INode = {
		id: 'after',
		name: 'After',
		type: 'test-fixtures.fixtureFailer',
		typeVersion: 1,
		position: [220, 0],
		parameters: { failOnItem: -1 },
		...next,
	};
	return {
		id: `trigger-${++counter}`,
		name: 'trigger',
		nodes: [
			{
				id: 'trigger',
				name: TRIGGER,
				type: 'n8n-nodes-cloudsync.cloudSyncTrigger',
				typeVersion: 1,
				position: [0, 0],
				parameters: { pollTimes: { item: [{ mode: 'everyMinute' }] }, ...watching(cloud, folder), ...parameters },
				credentials: { [CREDENTIAL[cloud]]: { id: '1', name: cloud } },
			},
			after,
		],
		connections: { [TRIGGER]: { main: [[{ node: after.name, type: 'main', index: 0 }]] } },
		settings: { executionOrder: 'v1' },
	};
}

/** A watched folder on each cloud, and how to change it as another client would. */
interface Watched {
	folder: string;
	add(file: string, content: string): void;
	modify(file: string, content: string): void;
	remove(file: string): void;
	move(from: string, toFolder: string): void;
}

function watchedFolder(cloud: Cloud, files: Record<string, string>, folders: string[] = []): Watched {
	const name = `watched-${++counter}`;
	if (cloud === 'Dropbox') {
		const root = `/${name}`;
		dropbox.seedFolder(root);
		for (const folder of folders) dropbox.seedFolder(`${root}/${folder}`);
		for (const [file, content] of Object.entries(files)) dropbox.seedFile(`${root}/${file}`, content);
		return {
			folder: root,
			add: (file, content) => void dropbox.seedFile(`${root}/${file}`, content),
			modify: (file, content) => void dropbox.seedFile(`${root}/${file}`, content),
			remove: (file) => dropbox.remove(`${root}/${file}`),
			move: (from, toFolder) => void dropbox.rename(`${root}/${from}`, `${root}/${toFolder}/${path.posix.basename(from)}`),
		};
	}
	if (cloud === 'OneDrive') {
		onedrive.seedFolder(name);
		for (const folder of folders) onedrive.seedFolder(`${name}/${folder}`);
		for (const [file, content] of Object.entries(files)) onedrive.seedFile(`${name}/${file}`, content);
		return {
			folder: `/${name}`,
			add: (file, content) => void onedrive.seedFile(`${name}/${file}`, content),
			modify: (file, content) => void onedrive.seedFile(`${name}/${file}`, content),
			remove: (file) => onedrive.remove(`${name}/${file}`),
			move: (from, toFolder) => onedrive.rename(`${name}/${from}`, `${name}/${toFolder}/${path.posix.basename(from)}`),
		};
	}
	const { emulator } = drive;
	const rootId = emulator.addFolder(emulator.myDriveRootId, name);
	const folderOf = (file: string) => (path.posix.dirname(file) === '.' ? rootId : emulator.folderAt(path.posix.dirname(file), rootId));
	for (const folder of folders) emulator.folderAt(folder, rootId);
	for (const [file, content] of Object.entries(files)) emulator.addFile(folderOf(file), path.posix.basename(file), content);
	const idOf = (file: string) => emulator.statPath(file, rootId)!.id!;
	return {
		folder: rootId,
		add: (file, content) => void emulator.addFile(folderOf(file), path.posix.basename(file), content),
		modify: (file, content) => emulator.writeContent(idOf(file), content),
		// What a user's delete does on Drive: the file goes to the trash.
		remove: (file) => emulator.trash(idOf(file)),
		move: (from, toFolder) => emulator.move(idOf(from), emulator.folderAt(toFolder, rootId)),
	};
}

const events = (result: PollResult) =>
	(result.items?.[0] ?? []).map((item) => `${item.json.event} ${item.json.path}${item.json.previousPath ? ` from ${item.json.previousPath}` : ''}`).sort();

const label = (cloud: Cloud, folder: string) => `${cloud}:${folder}`;
const state = (result: PollResult) => result.staticData[STATE] as { location?: string; cursor?: string } | undefined;

const FILES = { 'keep.txt': 'keep', 'edit.txt': 'edit', 'gone.txt': 'gone', 'old-name.txt': 'old' };

/** One of each change, as another client makes them: an addition, an edit, a deletion, a move, a file in a new subfolder. */
function changeEverything(watched: Watched): void {
	watched.add('new.txt', 'new');
	watched.modify('edit.txt', 'edited');
	watched.remove('gone.txt');
	watched.move('old-name.txt', 'archive');
	watched.add('sub/deep/x.pdf', 'pdf');
}

/**
 * What each cloud's change feed says about those changes. Dropbox reports what each changed path holds
 * now: a file, new or not, is "modified", and a move is the deletion of the old path plus the file at
 * the new one. Google Drive knows which files are new; it names a move's previous path only for a file
 * it saw before (see the failing case at the end).
 */
const EXPECTED: Record<Cloud, string[]> = {
	Dropbox: [
		'added sub/deep',
		'deleted gone.txt',
		'deleted old-name.txt',
		'modified archive/old-name.txt',
		'modified edit.txt',
		'modified new.txt',
		'modified sub/deep/x.pdf',
	],
	'Google Drive': ['added new.txt', 'added sub/deep', 'added sub/deep/x.pdf', 'deleted gone.txt', 'modified archive/old-name.txt', 'modified edit.txt'],
	// OneDrive's delta names new items by their creation time, like Drive; a move between polls has the same gap as Drive's.
	OneDrive: ['added new.txt', 'added sub/deep', 'added sub/deep/x.pdf', 'deleted gone.txt', 'modified archive/old-name.txt', 'modified edit.txt'],
};

describe.each(['Dropbox', 'Google Drive', 'OneDrive'] as const)('Cloud Sync Trigger on %s', (cloud) => {
	it('first activation records the cursor and emits nothing; the next poll emits exactly what changed; the cursor lives in static data', async () => {
		const watched = watchedFolder(cloud, FILES, ['archive', 'sub']);
		const flow = workflow(cloud, watched.folder);
		const first = await runPoll(flow, options());
		expect(first.error).toBeUndefined();
		expect(first.items).toBeNull();
		expect(first.execution).toBeUndefined();
		expect(state(first)).toEqual({ location: label(cloud, watched.folder), cursor: expect.any(String) });

		changeEverything(watched);
		const second = await runPoll(flow, options({ staticData: first.staticData }));
		expect(second.error).toBeUndefined();
		expect(events(second)).toEqual(EXPECTED[cloud]);
		const items = second.items![0].map((item) => item.json);
		expect(items.find((json) => json.path === 'edit.txt')).toMatchObject({ event: 'modified', type: 'file', name: 'edit.txt', size: 6, cloud: label(cloud, watched.folder) });
		expect(items.find((json) => json.path === 'gone.txt')).toEqual({ event: 'deleted', path: 'gone.txt', previousPath: undefined, type: 'file', cloud: label(cloud, watched.folder) });
		// n8n started the workflow with what the poll emitted.
		expect(second.execution?.status).toBe('success');
		expect(outputItems(second.execution!, 'After')).toHaveLength(EXPECTED[cloud].length);
		expect(state(second)).toEqual({ location: label(cloud, watched.folder), cursor: expect.any(String) });
		expect(state(second)!.cursor).not.toBe(state(first)!.cursor);

		const third = await runPoll(flow, options({ staticData: second.staticData }));
		expect(third.items).toBeNull();
		expect(third.execution).toBeUndefined();
		const shown = JSON.stringify([first, second, third].map((result) => ({ items: result.items, error: result.error, staticData: result.staticData, nodes: result.execution?.nodes })));
		for (const secret of cloudSecrets(drive, dropbox, onedrive)) expect(shown).not.toContain(secret);
	});

	it("a test run in the editor shows the most recent files and does not move the saved cursor", async () => {
		const hourAgo = Date.now() - 3_600_000;
		const watched = watchedFolder(cloud, {});
		for (let i = 0; i < 12; i++) {
			if (cloud === 'Dropbox') dropbox.seedFile(`${watched.folder}/f${i}.txt`, `file ${i}`, { clientModified: hourAgo + i * 60_000 });
			else if (cloud === 'OneDrive') onedrive.seedFile(`${watched.folder}/f${i}.txt`, `file ${i}`, { modTime: hourAgo + i * 60_000 });
			else drive.emulator.addFile(watched.folder, `f${i}.txt`, `file ${i}`, { modifiedTime: hourAgo + i * 60_000 });
		}
		const flow = workflow(cloud, watched.folder);
		const activated = await runPoll(flow, options());
		watched.modify('f0.txt', 'edited just now');

		const manual = await runPoll(flow, options({ mode: 'manual', staticData: activated.staticData }));
		expect(manual.error).toBeUndefined();
		expect(manual.items![0].map((item) => item.json.path)).toEqual(['f0.txt', 'f11.txt', 'f10.txt', 'f9.txt', 'f8.txt', 'f7.txt', 'f6.txt', 'f5.txt', 'f4.txt', 'f3.txt']);
		expect(manual.items![0][0].json).toMatchObject({ event: 'modified', type: 'file', size: 'edited just now'.length });
		expect(manual.staticData).toEqual(activated.staticData);

		// The change is still ahead of the saved cursor.
		const next = await runPoll(flow, options({ staticData: activated.staticData }));
		expect(events(next)).toEqual(['modified f0.txt']);
	});

	it('emits only the chosen kinds of change, and only files with the chosen extensions (folders and deletions pass)', async () => {
		const watched = watchedFolder(cloud, FILES, ['archive', 'sub']);
		const deletionsOnly = workflow(cloud, watched.folder, { events: ['deleted'] });
		const pdfOnly = workflow(cloud, watched.folder, { filters: { extensions: 'pdf' } });
		const [deletions, pdfs] = await Promise.all([runPoll(deletionsOnly, options()), runPoll(pdfOnly, options())]);
		changeEverything(watched);
		expect(events(await runPoll(deletionsOnly, options({ staticData: deletions.staticData })))).toEqual(EXPECTED[cloud].filter((event) => event.startsWith('deleted')));
		expect(events(await runPoll(pdfOnly, options({ staticData: pdfs.staticData })))).toEqual(
			EXPECTED[cloud].filter((event) => event.startsWith('deleted') || event.endsWith('.pdf') || event === 'added sub/deep'),
		);
	});

	it("a cursor the cloud no longer accepts emits one 'resync' item, then polling goes on from a new cursor", async () => {
		const watched = watchedFolder(cloud, FILES);
		const flow = workflow(cloud, watched.folder);
		const activated = await runPoll(flow, options());
		let staticData = activated.staticData;
		if (cloud === 'Dropbox') {
			dropbox.resetCursors();
		} else if (cloud === 'OneDrive') {
			onedrive.expireDeltaTokens();
		} else {
			// A cursor Drive refuses (one from another account or drive): the same answer as an expired one.
			const [token, time] = state(activated)!.cursor!.split('@');
			staticData = { [STATE]: { ...state(activated), cursor: `${Number(token) + 1_000_000}@${time}` } };
		}
		watched.add('meanwhile.txt', 'unknown to the feed');
		const resync = await runPoll(flow, options({ staticData }));
		expect(resync.error).toBeUndefined();
		expect(resync.items).toEqual([[{ json: { event: 'resync', path: '', reason: expect.stringMatching(/no longer/), cloud: label(cloud, watched.folder) } }]]);
		expect(state(resync)!.cursor).not.toBe(state({ staticData } as PollResult)!.cursor);

		watched.modify('edit.txt', 'after the resync');
		expect(events(await runPoll(flow, options({ staticData: resync.staticData })))).toEqual(['modified edit.txt']);
	});
});

describe('Cloud Sync Trigger → Cloud Sync with "Changed Paths From Input Only"', () => {
	it('syncs exactly the changed paths, and everything after a resync', async () => {
		const watched = watchedFolder('Dropbox', { 'a.txt': 'a', 'edit.txt': 'edit', 'gone.txt': 'gone', 'not-synced.txt': 'unchanged, never copied' }, ['archive']);
		const destination = await fs.mkdtemp(path.join(allowed, 'mirror-'));
		await writeTree(destination, { 'a.txt': 'a', 'edit.txt': 'edit', 'gone.txt': 'gone', 'dest-only.txt': 'a full mirror would delete this' });
		const sync: Partial<INode> = {
			name: 'Cloud Sync',
			type: 'n8n-nodes-cloudsync.cloudSync',
			parameters: {
				resource: 'folder',
				operation: 'sync',
				sourceCloud: 'dropbox',
				sourceDropboxFolder: { __rl: true, mode: 'path', value: watched.folder },
				destinationCloud: 'local',
				destinationLocalPath: destination,
				mode: 'mirror',
				options: { changedPathsOnly: true },
			},
			credentials: { cloudSyncDropboxOAuth2Api: { id: '1', name: 'Dropbox' } },
		};
		const flow = workflow('Dropbox', watched.folder, {}, sync);
		const activated = await runPoll(flow, options());

		watched.add('new.txt', 'new');
		watched.modify('edit.txt', 'edited');
		watched.remove('gone.txt');
		watched.move('a.txt', 'archive');
		const changed = await runPoll(flow, options({ staticData: activated.staticData }));
		expect(changed.execution?.status).toBe('success');
		const summaries = outputItems(changed.execution!, 'Cloud Sync');
		expect(summaries).toHaveLength(1);
		expect(summaries[0].json).toMatchObject({ type: 'summary', status: 'success', added: 2, updated: 1, deleted: 2, failed: 0 });
		const text = async () => Object.fromEntries(await Promise.all(Object.entries(await readTree(destination)).filter(([, hash]) => hash !== 'dir').map(async ([file]) => [file, await fs.readFile(path.join(destination, file), 'utf8')])));
		expect(await text()).toEqual({ 'archive/a.txt': 'a', 'edit.txt': 'edited', 'new.txt': 'new', 'dest-only.txt': 'a full mirror would delete this' });

		// After a resync item (path ''), the next run covers the whole folder.
		dropbox.resetCursors();
		const resync = await runPoll(flow, options({ staticData: changed.staticData }));
		expect(resync.items?.[0].map((item) => item.json.event)).toEqual(['resync']);
		expect(outputItems(resync.execution!, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 1, deleted: 1 });
		expect(await text()).toEqual({ 'archive/a.txt': 'a', 'edit.txt': 'edited', 'new.txt': 'new', 'not-synced.txt': 'unchanged, never copied' });
	});
});

describe('known gaps of the change feeds (lib/)', () => {
	// Each poll opens a new GoogleDriveProvider, whose id → path memory starts empty, so a file moved
	// between two polls is reported as "modified" at its new path and its old path is never reported:
	// a sync fed with these changes keeps the old copy. Fails until the provider can be given what it
	// knew (see the report that came with this test).
	it.failing('Google Drive: a file moved between polls is reported as moved, with its previous path', async () => {
		const watched = watchedFolder('Google Drive', { 'old-name.txt': 'old' }, ['archive']);
		const flow = workflow('Google Drive', watched.folder);
		const activated = await runPoll(flow, options());
		watched.move('old-name.txt', 'archive');
		expect(events(await runPoll(flow, options({ staticData: activated.staticData })))).toEqual(['moved archive/old-name.txt from old-name.txt']);
	});
});
