import { NodeOperationError, type ICredentialDataDecryptedObject, type IDataObject, type ILoadOptionsFunctions, type ResolvedFilePath } from 'n8n-workflow';
import { homedir } from 'node:os';
import { LocalProvider, NotFoundError, Pacer, type Provider } from '../../../lib';
import { OutsideAllowedFoldersError, type LocalRootRules } from '../../../lib/providers/local';
import { GoogleDriveProvider, type GoogleDriveProviderOptions } from '../../../lib/providers/drive';
import { DropboxProvider } from '../../../lib/providers/dropbox';
import { CREDENTIAL_LABEL, CREDENTIAL_TYPE } from './credentials';
import { errorText, toNodeError } from '../helpers/errors';
import type { CloudName, Side } from '../actions/fields';
import { parameter, type NodeContext } from '../helpers/parameters';
import { InputItemsProvider } from './items';
import { INPUT_ITEMS } from '../actions/fields';

export type { NodeContext };
/** Whatever may ask n8n for a credential: a run, a poll, or a list search in the editor. */
export type CredentialContext = NodeContext | ILoadOptionsFunctions;

export interface Location {
	provider: Provider;
	cloud: CloudName | typeof INPUT_ITEMS;
	/** How the folder is shown in reports: "Dropbox:/Photos". */
	label: string;
}

const CLOUD_LABEL: Record<CloudName, string> = { local: 'Local', googleDrive: 'Google Drive', googleDriveServiceAccount: 'Google Drive', dropbox: 'Dropbox' };

/** The folders n8n lets nodes touch, read as n8n-core reads them. */
function allowedRoots(): string[] {
	const setting = process.env.N8N_RESTRICT_FILE_ACCESS_TO ?? '~/.n8n-files';
	return setting
		.split(';')
		.map((path) => path.trim())
		.filter(Boolean)
		.map((path) => (path.startsWith('~') ? path.replace('~', homedir()) : path));
}

/**
 * A folder on this machine, where n8n lets nodes work: by n8n's own rule (N8N_RESTRICT_FILE_ACCESS_TO
 * and its blocked n8n files) when it gives one; polling triggers get no file helpers from n8n, so the
 * same setting and default apply there. A missing folder is created when `create` is set (the
 * destination of a sync, an upload's folder), as the clouds create theirs; otherwise it is an error.
 */
async function openLocal(context: NodeContext, side: Side, itemIndex: number, create: boolean): Promise<Location> {
	const path = String(parameter(context, `${side}LocalPath`, itemIndex, '')).trim();
	const node = context.getNode();
	if (!path.startsWith('/')) {
		throw new NodeOperationError(node, `The local folder "${path}" is not an absolute path`, {
			itemIndex,
			description: 'Enter the folder as an absolute path, such as /home/node/.n8n-files/photos.',
		});
	}
	// The paths given to the rule are real: LocalProvider resolves them (n8n's resolvePath does the same).
	const { helpers } = context;
	const rule: LocalRootRules & { allowedRoots?: string[] } =
		'isFilePathBlocked' in helpers ? { mayAccess: (real) => !helpers.isFilePathBlocked(real as ResolvedFilePath) } : { allowedRoots: allowedRoots() };
	try {
		const { deletePermanently } = parameter<IDataObject>(context, 'options', itemIndex, {});
		const provider = await LocalProvider.open(path, { symlinks: 'skip', createRoot: create, trashDays: deletePermanently === true ? 0 : undefined, ...rule });
		return { provider, cloud: 'local', label: `${CLOUD_LABEL.local}:${path}` };
	} catch (error) {
		if (error instanceof OutsideAllowedFoldersError) {
			throw new NodeOperationError(node, `n8n may not access the folder "${path}"`, {
				itemIndex,
				description: 'Choose a folder inside N8N_RESTRICT_FILE_ACCESS_TO (by default ~/.n8n-files), or ask the n8n administrator to allow this one.',
			});
		}
		if (error instanceof NotFoundError) {
			throw new NodeOperationError(node, `The local folder "${path}" does not exist`, {
				itemIndex,
				description:
					side === 'destination'
						? 'A Diff only compares and creates nothing: create the folder first, or run the Sync, which creates a missing destination folder.'
						: 'Check the path for a typo (names are case-sensitive), or create the folder first.',
			});
		}
		throw toNodeError(node, error, itemIndex);
	}
}

/**
 * The credential a cloud signs in with. n8n refuses one the node has not selected (or may not show):
 * the user is told which credential to pick, never n8n's bare "Credentials not found".
 */
export async function cloudCredential(context: CredentialContext, cloud: Exclude<CloudName, 'local'>, itemIndex: number): Promise<ICredentialDataDecryptedObject> {
	const type = CREDENTIAL_TYPE[cloud];
	try {
		return await context.getCredentials(type, itemIndex);
	} catch (error) {
		throw new NodeOperationError(context.getNode(), `No usable ${CLOUD_LABEL[cloud]} credential is selected (${errorText(error)})`, {
			itemIndex,
			description: `Select a "${CREDENTIAL_LABEL[cloud]}" credential in this node, or create one and connect it.`,
		});
	}
}

/** Credentials as n8n stores an OAuth2 credential: client id and secret, and the token data of the sign-in. */
export function oauthTokens(credential: ICredentialDataDecryptedObject) {
	const tokens = (credential.oauthTokenData ?? {}) as IDataObject;
	return {
		clientId: String(credential.clientId ?? ''),
		clientSecret: String(credential.clientSecret ?? ''),
		refreshToken: String(tokens.refresh_token ?? ''),
		accessToken: tokens.access_token ? String(tokens.access_token) : undefined,
	};
}

/** A service account's email and key as pasted; the Drive provider checks and repairs the key before signing with it. */
export function serviceAccountKey(credential: ICredentialDataDecryptedObject) {
	return { clientEmail: String(credential.email ?? ''), privateKey: String(credential.privateKey ?? '') };
}

/** Where the SDKs send their requests: the real clouds, unless an emulator is named (tests and the demo). */
export function emulatorUrl(cloud: 'google' | 'dropbox'): string | undefined {
	return (cloud === 'google' ? process.env.CLOUDSYNC_GOOGLE_API_URL : process.env.CLOUDSYNC_DROPBOX_API_URL) || undefined;
}

/**
 * The folder a cloud picker points at. The top of the drive is only ever chosen explicitly (the
 * pickers' "/ (My Drive)" or "/ (whole Dropbox)"): an empty value, most often an expression that gave
 * nothing, is refused rather than read as the whole account.
 */
function cloudFolder(context: NodeContext, side: Side, itemIndex: number, cloud: 'Drive' | 'Dropbox'): string {
	const value = parameter<unknown>(context, `${side}${cloud}Folder`, itemIndex, undefined, { extractValue: true });
	const folder = value === undefined || value === null ? '' : String(value).trim();
	if (folder === '') {
		const [name, top] = cloud === 'Drive' ? [CLOUD_LABEL.googleDrive, '"/ (My Drive)"'] : [CLOUD_LABEL.dropbox, '"/ (whole Dropbox)"'];
		throw new NodeOperationError(context.getNode(), `The ${side === 'target' ? '' : `${side} `}${name} folder is empty`, {
			itemIndex,
			description: `Fix the folder or the expression that gives it (it gave an empty value); to use the whole account, pick ${top} in the folder list.`,
		});
	}
	return folder;
}

async function openGoogleDrive(context: NodeContext, side: Side, itemIndex: number, pacer: Pacer, cloud: CloudName): Promise<Location> {
	const folder = cloudFolder(context, side, itemIndex, 'Drive');
	const options = parameter<IDataObject>(context, 'options', itemIndex, {});
	const credential = await cloudCredential(context, cloud === 'googleDriveServiceAccount' ? cloud : 'googleDrive', itemIndex);
	const auth: GoogleDriveProviderOptions['auth'] = cloud === 'googleDriveServiceAccount' ? serviceAccountKey(credential) : oauthTokens(credential);
	const provider = await GoogleDriveProvider.open({
		auth,
		root: folder,
		pacer,
		apiBaseUrl: emulatorUrl('google'),
		googleDocs: options.googleDocs === 'skip' || options.googleDocs === undefined ? 'skip' : 'export',
		exportFormat: options.googleDocs === 'pdf' ? 'pdf' : 'office',
		trash: options.deletePermanently !== true,
	});
	return { provider, cloud, label: `${CLOUD_LABEL[cloud]}:${folder}` };
}

async function openDropbox(context: NodeContext, side: Side, itemIndex: number, pacer: Pacer): Promise<Location> {
	const folder = cloudFolder(context, side, itemIndex, 'Dropbox');
	const root = folder === '/' ? '' : folder.startsWith('/') ? folder : `/${folder}`;
	const provider = new DropboxProvider({ auth: oauthTokens(await cloudCredential(context, 'dropbox', itemIndex)), root, pacer, apiBaseUrl: emulatorUrl('dropbox') });
	return { provider, cloud: 'dropbox', label: `${CLOUD_LABEL.dropbox}:${root || '/'}` };
}

/** The input items' binaries, as one source folder. */
async function openInputItems(context: NodeContext, side: Side, itemIndex: number): Promise<Location> {
	if (!('getInputData' in context)) {
		throw new NodeOperationError(context.getNode(), 'Input items can only be a source in the Cloud Sync node', { itemIndex });
	}
	const property = String(parameter(context, `${side}BinaryProperty`, itemIndex, 'data'));
	const pathField = String(parameter(context, `${side}PathField`, itemIndex, 'path'));
	const provider = await InputItemsProvider.open(context, context.getInputData(), property, pathField);
	return { provider, cloud: INPUT_ITEMS, label: `Input items (${property})` };
}

/** Opens the provider that one side of the node points at; `create` makes a missing local folder (clouds create theirs on the first write). */
export async function openLocation(context: NodeContext, side: Side, itemIndex: number, pacer: Pacer, { create = false } = {}): Promise<Location> {
	const cloud = parameter<CloudName | typeof INPUT_ITEMS>(context, `${side}Cloud`, itemIndex);
	switch (cloud) {
		case INPUT_ITEMS:
			return openInputItems(context, side, itemIndex);
		case 'local':
			return openLocal(context, side, itemIndex, create);
		case 'googleDrive':
		case 'googleDriveServiceAccount':
			return openGoogleDrive(context, side, itemIndex, pacer, cloud);
		case 'dropbox':
			return openDropbox(context, side, itemIndex, pacer);
		default:
			throw new NodeOperationError(context.getNode(), `Unknown cloud "${String(cloud)}"`, { itemIndex, description: 'Choose one of the listed clouds.' });
	}
}
