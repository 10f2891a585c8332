import type { ILoadOptionsFunctions, INodeListSearchResult } from 'n8n-workflow';
import type { CloudName, Side } from '../actions/fields';
import { cloudCredential, emulatorUrl, oauthTokens, serviceAccountKey } from '../transport/locations';
import { searchDriveFolderPage, searchDropboxFolderPage } from '../transport/folders';
import { toNodeError } from '../helpers/errors';

type DriveCloud = Extract<CloudName, 'googleDrive' | 'googleDriveServiceAccount'>;

const SIDES: Side[] = ['target', 'source', 'destination'];
const isDrive = (cloud: unknown): cloud is DriveCloud => cloud === 'googleDrive' || cloud === 'googleDriveServiceAccount';

/**
 * The side whose picker is open. n8n's editor sends the path of the parameter being edited with every
 * list search ("parameters.sourceDriveFolder"), and n8n-core keeps it on the LoadOptionsContext it
 * calls the method with (its `path` field; it also resolves `getCurrentNodeParameter('&...')` with it).
 * The field is not part of ILoadOptionsFunctions, so it is read defensively.
 */
function openSide(context: ILoadOptionsFunctions): Side | undefined {
	const path: unknown = Reflect.get(context, 'path');
	return typeof path === 'string' ? (/(source|destination|target)(?:Drive|Dropbox)Folder/.exec(path)?.[1] as Side | undefined) : undefined;
}

/**
 * Which Google credential the open Drive picker signs in with. n8n keys a node's credentials by type,
 * so the type alone names the credential: OAuth2 for "Google Drive", the service account for "Google
 * Drive (Service Account)". The side's cloud decides; without a known side, the first side (among the
 * parameters the node shows) that uses Google Drive does.
 */
function driveCloudOfPicker(context: ILoadOptionsFunctions): DriveCloud {
	const side = openSide(context);
	for (const candidate of side ? [side] : SIDES) {
		const cloud = context.getCurrentNodeParameter(`${candidate}Cloud`);
		if (isDrive(cloud)) return cloud;
	}
	return 'googleDrive';
}

/** Folders for the Google Drive folder pickers: path-like names, ids as values, Drive links. */
export async function searchDriveFolders(this: ILoadOptionsFunctions, filter?: string, paginationToken?: string): Promise<INodeListSearchResult> {
	const cloud = driveCloudOfPicker(this);
	const credential = await cloudCredential(this, cloud, 0);
	const auth = cloud === 'googleDriveServiceAccount' ? serviceAccountKey(credential) : oauthTokens(credential);
	try {
		return await searchDriveFolderPage(auth, filter, paginationToken, emulatorUrl('google'));
	} catch (error) {
		throw toNodeError(this.getNode(), error, 0);
	}
}

/** Folders for the Dropbox folder pickers: their paths, as names and values. One Dropbox credential serves every side. */
export async function searchDropboxFolders(this: ILoadOptionsFunctions, filter?: string, paginationToken?: string): Promise<INodeListSearchResult> {
	const credential = await cloudCredential(this, 'dropbox', 0);
	try {
		return await searchDropboxFolderPage(oauthTokens(credential), filter, paginationToken, emulatorUrl('dropbox'));
	} catch (error) {
		throw toNodeError(this.getNode(), error, 0);
	}
}
