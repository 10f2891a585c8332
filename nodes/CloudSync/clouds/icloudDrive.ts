import type { ICredentialDataDecryptedObject, IDataObject, INodeListSearchItems, INodeListSearchResult } from 'n8n-workflow';
import { ICloudDriveProvider, openICloudSession } from '../../../lib';
import { CloudSyncAppleIdApi } from '../../../credentials/CloudSyncAppleIdApi.credentials';
import { cloudCredential } from '../transport/credentials';
import { appleIdOptions } from '../transport/appleId';
import { parameter } from '../helpers/parameters';
import { matchesFilter, openOrCreate, pathFolderField, pickedFolder, PICKER_PAGE, rootPath } from './pickers';
import type { CloudDescriptor, Side } from './descriptor';

const LABEL = 'iCloud Drive';
const WHOLE_DRIVE = '/ (whole iCloud Drive)';
const FOLDER_SEARCH = 'searchICloudDriveFolders';
/** The picker walks the drive's folders; it stops after this many entries on a large drive. */
const PICKER_SCAN = 5_000;

async function searchFolders(credential: ICredentialDataDecryptedObject, filter: string | undefined): Promise<INodeListSearchResult> {
	const provider = await ICloudDriveProvider.open({ signIn: appleIdOptions(credential) });
	const results: INodeListSearchItems[] = matchesFilter('/', filter) ? [{ name: WHOLE_DRIVE, value: '/' }] : [];
	let scanned = 0;
	for await (const entry of provider.list('', { recursive: true })) {
		if (++scanned > PICKER_SCAN || results.length >= PICKER_PAGE) break;
		if (entry.isDir && matchesFilter(`/${entry.path}`, filter)) results.push({ name: `/${entry.path}`, value: `/${entry.path}` });
	}
	return { results };
}

const credential = { type: new CloudSyncAppleIdApi() };

/**
 * iCloud Drive through Apple's web protocol (no public API). The Apple ID credential holds the session
 * Apple trusts for about 30 days after a code is entered in its dialog; runs sign in with it and stop
 * with the instructions when Apple wants a new code.
 */
export const iCloudDrive: CloudDescriptor = {
	value: 'iCloudDrive',
	option: { name: 'iCloud Drive', description: 'Signed in with an Apple ID (a code from your devices once about every 30 days)' },
	label: LABEL,
	phrase: LABEL,
	sides: ['source', 'destination', 'target'],
	credential,
	deletions: { byDefault: 'iCloud Drive moves deleted and replaced files to Recently Deleted for 30 days', deletePermanently: true },
	folderSearch: { method: FOLDER_SEARCH, search: (signedIn, filter) => searchFolders(signedIn, filter) },

	folderFields: (side: Side, sideLabel: string) => [
		pathFolderField(sideLabel, { parameter: `${side}ICloudDriveFolder`, method: FOLDER_SEARCH, placeholder: '/Documents/Reports' }),
	],

	async open({ context, side, itemIndex, create, mayDelete }) {
		const folder = pickedFolder(context, side, itemIndex, { parameter: `${side}ICloudDriveFolder`, cloud: LABEL, top: WHOLE_DRIVE });
		const root = rootPath(folder);
		const options = parameter<IDataObject>(context, 'options', itemIndex, {});
		const deletePermanently = mayDelete === true && options.deletePermanently === true;
		const signIn = appleIdOptions(await cloudCredential(context, { label: LABEL, credential }, itemIndex, side));
		// One sign-in for the run, however many times the folder is opened.
		const settings = { session: await openICloudSession(signIn), deletePermanently };
		const provider = await openOrCreate(root, create, (at) => ICloudDriveProvider.open({ ...settings, root: at }));
		return { provider, label: `${LABEL}:${root || '/'}` };
	},
};
