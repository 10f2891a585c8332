import type { drive_v3 } from '@googleapis/drive';
import { NodeOperationError } from 'n8n-workflow';
import type { ICredentialDataDecryptedObject, ICredentialsDecrypted, ICredentialTestFunctions, IDataObject, INodeCredentialTestResult, INodeListSearchItems, INodeListSearchResult, INodeProperties } from 'n8n-workflow';
import { CloudSyncError, DRIVE_FOLDER_MIME, escapeDriveQuery, GoogleDriveProvider, NotFoundError, openDriveApi, Pacer, type DriveApi, type GoogleDriveProviderOptions } from '../../../lib';
import { CloudSyncGoogleDriveOAuth2Api } from '../../../credentials/CloudSyncGoogleDriveOAuth2Api.credentials';
import { CloudSyncGoogleServiceAccountApi } from '../../../credentials/CloudSyncGoogleServiceAccountApi.credentials';
import { cloudCredential, oauthTokens } from '../transport/credentials';
import { folderOf, matchesFilter, openOrCreate, pickedFolder, PICKER_PAGE } from './pickers';
import { errorText, toNodeError } from '../helpers/errors';
import { parameter, type NodeContext } from '../helpers/parameters';
import type { CloudCredential, CloudDescriptor, Side } from './descriptor';

const LABEL = 'Google Drive';
const MY_DRIVE = '/ (My Drive)';
const SEARCH_METHOD = 'searchDriveFolders';
/** Folders above a picked one that a path is built from before it is cut short with "…". */
const MAX_DEPTH = 32;
const FOLDER_URL = 'https:\\/\\/drive\\.google\\.com(?:\\/.*|)\\/folders\\/([0-9a-zA-Z\\-_]+)(?:\\/.*|)';

type DriveAuth = GoogleDriveProviderOptions['auth'];

/** Read when a request is made, so that tests and the demo can point Drive at the emulator. */
const apiBaseUrl = () => process.env.CLOUDSYNC_GOOGLE_API_URL || undefined;

/** A service account's email and key as pasted; the Drive provider checks and repairs the key before signing with it. */
function serviceAccountKey(credential: ICredentialDataDecryptedObject) {
	return { clientEmail: String(credential.email ?? ''), privateKey: String(credential.privateKey ?? '') };
}

const folderField = (side: Side, sideLabel: string): INodeProperties => ({
	displayName: `${sideLabel} Folder`,
	name: `${side}DriveFolder`,
	type: 'resourceLocator',
	// No folder until one is chosen: the whole My Drive only when picked ("/ (My Drive)", or "/" by path).
	default: { mode: 'list', value: '' },
	required: true,
	modes: [
		{
			displayName: 'From List',
			name: 'list',
			type: 'list',
			placeholder: 'Select a folder...',
			typeOptions: { searchListMethod: SEARCH_METHOD, searchable: true },
		},
		{
			displayName: 'By URL',
			name: 'url',
			type: 'string',
			placeholder: 'https://drive.google.com/drive/folders/1anGBg0b5re2VtF2bKu201_a-Vnz5BHq9Y',
			extractValue: { type: 'regex', regex: FOLDER_URL },
			validation: [{ type: 'regex', properties: { regex: FOLDER_URL, errorMessage: 'Not a valid Google Drive folder URL' } }],
		},
		{ displayName: 'By Path', name: 'path', type: 'string', placeholder: '/Backups/Photos (from the top of My Drive)' },
		{ displayName: 'By ID', name: 'id', type: 'string', placeholder: '1anGBg0b5re2VtF2bKu201_a-Vnz5BHq9Y' },
	],
});

/** A picked value as the provider reads it: a path (from the By Path mode) starts with "/", anything else is an id. */
function rootOf(context: NodeContext, side: Side, itemIndex: number, folder: string): string {
	const locator = parameter<{ mode?: string }>(context, `${side}DriveFolder`, itemIndex, {});
	return locator?.mode === 'path' && !folder.startsWith('/') ? `/${folder}` : folder;
}

/** Opens the folder; a missing one is an error naming the side, with a hint for how it was given (a sync's destination path is made). */
async function openFolder(context: NodeContext, side: Side, itemIndex: number, options: GoogleDriveProviderOptions & { root: string }, create: boolean): Promise<GoogleDriveProvider> {
	const byPath = options.root.startsWith('/');
	try {
		// By path only: a folder given by its ID cannot be made. '' is the top of My Drive, whose ID is 'root'.
		return await openOrCreate(options.root, create && byPath, (root) => GoogleDriveProvider.open({ ...options, root: root || 'root' }));
	} catch (error) {
		if (!(error instanceof NotFoundError)) throw toNodeError(context.getNode(), error, itemIndex);
		throw new NodeOperationError(context.getNode(), `The ${folderOf(context, side, itemIndex, LABEL)} "${options.root}" was not found`, {
			itemIndex,
			description: byPath
				? `The path starts at the top of My Drive ("/" is My Drive itself) and names are case-sensitive: check it, or pick the folder in the list.${side === 'destination' ? ' A Diff creates nothing; a Sync creates a missing destination folder.' : ''}`
				: 'Pick the folder in the list, or check its ID or URL, and that the account of this credential can see it (a service account sees only what is shared with its email).',
		});
	}
}

const googleDocsOption: INodeProperties = {
	displayName: 'Google Docs',
	name: 'googleDocs',
	type: 'options',
	default: 'skip',
	options: [
		{ name: 'Skip Them', value: 'skip', description: 'Docs, Sheets and Slides have no file of their own; leave them out' },
		{ name: 'Export as Office Files', value: 'office', description: 'Docs as .docx, Sheets as .xlsx, Slides as .pptx' },
		{ name: 'Export as PDF', value: 'pdf' },
	],
	description: 'What to do with Google Docs, Sheets and Slides in the Google Drive source (those in a destination are left alone)',
};

// ---------------------------------------------------------------------------------------------
// Folder picker: straight through the Drive client, since the provider works below one root and has no search.

/**
 * One page of the folders the account can see, in My Drive and shared drives, whose name contains
 * `filter`; each shown with its path from the top of its drive, valued by id.
 */
async function searchFolderPage(auth: DriveAuth, filter: string | undefined, pageToken: string | undefined): Promise<INodeListSearchResult> {
	// No retries: someone is waiting on the list. An access token Drive no longer accepts is replaced once, as the provider does.
	const { api, remote } = openDriveApi(auth, apiBaseUrl(), new Pacer({ retriesPerRequest: 0 }));
	const call = <T>(request: () => Promise<T>): Promise<T> => remote.call('', request);

	const name = filter?.trim();
	const q = [`mimeType = '${DRIVE_FOLDER_MIME}'`, 'trashed = false', name ? `name contains '${escapeDriveQuery(name)}'` : undefined].filter(Boolean).join(' and ');
	const { data } = await call(() =>
		api.files.list({
			q,
			pageSize: PICKER_PAGE,
			pageToken,
			fields: 'nextPageToken,files(id,name,parents,driveId)',
			corpora: 'allDrives',
			includeItemsFromAllDrives: true,
			supportsAllDrives: true,
		}),
	);
	const myDrive = (await call(() => api.files.get({ fileId: 'root', fields: 'id' }))).data.id ?? 'root';
	const paths = new DrivePaths(api, call, myDrive);
	const folders = data.files ?? [];
	for (const folder of folders) paths.learn(folder);
	const results: INodeListSearchItems[] = await Promise.all(
		folders.map(async (folder) => ({ name: await paths.of(folder), value: folder.id!, url: `https://drive.google.com/drive/folders/${folder.id}` })),
	);
	results.sort((a, b) => a.name.localeCompare(b.name));
	if (!pageToken && matchesFilter(MY_DRIVE, name)) results.unshift({ name: MY_DRIVE, value: 'root', url: 'https://drive.google.com/drive/my-drive' });
	return { results, paginationToken: data.nextPageToken ?? undefined };
}

/** Paths of Drive folders, from the folders of the page and one request per unknown parent, shared by all. */
class DrivePaths {
	private readonly folders = new Map<string, Promise<drive_v3.Schema$File | undefined>>();
	private readonly paths = new Map<string, Promise<string>>();

	constructor(
		private readonly api: DriveApi,
		private readonly call: <T>(request: () => Promise<T>) => Promise<T>,
		private readonly myDrive: string,
	) {}

	learn(folder: drive_v3.Schema$File): void {
		if (folder.id) this.folders.set(folder.id, Promise.resolve(folder));
	}

	/** "/Backups/2024" in My Drive, "Team:/Backups" in the shared drive Team, "…/Backups" when a folder above cannot be read. */
	async of(folder: drive_v3.Schema$File, depth = 0): Promise<string> {
		const parent = folder.parents?.[0];
		if (!parent) return folder.id === this.myDrive ? '/' : `${folder.name}:`;
		const above = depth >= MAX_DEPTH ? '…' : await this.pathOf(parent, depth + 1);
		return above === '/' ? `/${folder.name}` : `${above}/${folder.name}`;
	}

	private pathOf(id: string, depth: number): Promise<string> {
		let path = this.paths.get(id);
		if (!path) {
			path = this.folder(id).then((folder) => (folder ? this.of(folder, depth) : '…'));
			this.paths.set(id, path);
		}
		return path;
	}

	private folder(id: string): Promise<drive_v3.Schema$File | undefined> {
		let folder = this.folders.get(id);
		if (!folder) {
			// A folder shared from elsewhere may sit in a folder this account cannot read.
			folder = this.call(() => this.api.files.get({ fileId: id, fields: 'id,name,parents,driveId', supportsAllDrives: true })).then(
				(response) => response.data,
				() => undefined,
			);
			this.folders.set(id, folder);
		}
		return folder;
	}
}

/** Signs in with the service account's key and reads the top of its drive: n8n has no request that tests a key. */
async function testServiceAccount(this: ICredentialTestFunctions, credential: ICredentialsDecrypted): Promise<INodeCredentialTestResult> {
	try {
		await GoogleDriveProvider.open({ auth: serviceAccountKey(credential.data ?? {}), apiBaseUrl: apiBaseUrl() });
		return { status: 'OK', message: 'Connection successful' };
	} catch (error) {
		const hint = error instanceof CloudSyncError ? error.hint : undefined;
		return { status: 'Error', message: hint ? `${errorText(error)}. ${hint}` : errorText(error) };
	}
}

// ---------------------------------------------------------------------------------------------

/** Both Google sign-ins reach the same Drive through the same folder picker; only the credential differs. */
function googleDriveCloud(value: string, option: CloudDescriptor['option'], credential: CloudCredential, auth: (credential: ICredentialDataDecryptedObject) => DriveAuth): CloudDescriptor {
	return {
		value,
		option,
		label: LABEL,
		phrase: LABEL,
		sides: ['source', 'destination', 'target'],
		credential,
		folderFields: (side, sideLabel) => [folderField(side, sideLabel)],
		options: [googleDocsOption],
		optionsReadOn: ['source'],
		deletions: { byDefault: 'Google Drive deletions go to its trash for 30 days', deletePermanently: true },
		folderSearch: { method: SEARCH_METHOD, search: (signIn, filter, token) => searchFolderPage(auth(signIn), filter, token) },
		changeFeed: {},

		async open({ context, side, itemIndex, create, mayDelete }) {
			const folder = pickedFolder(context, side, itemIndex, { parameter: `${side}DriveFolder`, cloud: LABEL, top: MY_DRIVE });
			const chosen = parameter<IDataObject>(context, 'options', itemIndex, {});
			// Google Docs matter where files are read from; a destination's Docs are left alone.
			const googleDocs = side === 'source' ? chosen.googleDocs : undefined;
			const trash = !(mayDelete === true && chosen.deletePermanently === true);
			const signIn = await cloudCredential(context, { label: LABEL, credential }, itemIndex, side);
			const root = rootOf(context, side, itemIndex, folder);
			const options: GoogleDriveProviderOptions & { root: string } = {
				auth: auth(signIn),
				root,
				apiBaseUrl: apiBaseUrl(),
				googleDocs: googleDocs === 'skip' || googleDocs === undefined ? 'skip' : 'export',
				exportFormat: googleDocs === 'pdf' ? 'pdf' : 'office',
				trash,
			};
			const provider = await openFolder(context, side, itemIndex, options, create);
			return { provider, label: `${LABEL}:${root}` };
		},
	};
}

export const googleDrive = googleDriveCloud(
	'googleDrive',
	{ name: 'Google Drive', description: 'Signed in as a Google user (OAuth2)' },
	{ type: new CloudSyncGoogleDriveOAuth2Api() },
	oauthTokens,
);

export const googleDriveServiceAccount = googleDriveCloud(
	'googleDriveServiceAccount',
	{ name: 'Google Drive (Service Account)', description: 'A service account, for shared drives and server-to-server syncs' },
	{ type: new CloudSyncGoogleServiceAccountApi(), test: { method: 'testGoogleServiceAccount', run: testServiceAccount } },
	serviceAccountKey,
);
