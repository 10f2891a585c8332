import type { ICredentialDataDecryptedObject, INodeListSearchItems, INodeListSearchResult } from 'n8n-workflow';
import { WebDavProvider, type WebDavProviderOptions, type WebDavVendor } from '../../../lib';
import { CloudSyncWebDavApi } from '../../../credentials/CloudSyncWebDavApi.credentials';
import { cloudCredential } from '../transport/credentials';
import { matchesFilter, openOrCreate, pathFolderField, pickedFolder, PICKER_PAGE, rootPath } from './pickers';
import type { CloudDescriptor } from './descriptor';

const LABEL = 'WebDAV';
const TOP = '/ (the WebDAV URL itself)';
const SEARCH_METHOD = 'searchWebDavFolders';
/** WebDAV lists one folder per request: the picker stops after this many entries on a large server. */
const PICKER_SCAN = 5_000;
const VENDORS: readonly WebDavVendor[] = ['nextcloud', 'owncloud', 'other'];

/** The provider options a stored credential gives: the server's address, how to sign in, and what kind of server it is. */
function signIn(credential: ICredentialDataDecryptedObject): Pick<WebDavProviderOptions, 'url' | 'user' | 'password' | 'vendor'> {
	const vendor = VENDORS.find((known) => known === credential.vendor) ?? 'other';
	return { url: String(credential.url ?? '').trim(), user: String(credential.user ?? ''), password: String(credential.password ?? ''), vendor };
}

async function searchFolders(credential: ICredentialDataDecryptedObject, filter: string | undefined): Promise<INodeListSearchResult> {
	const provider = await WebDavProvider.open(signIn(credential));
	const results: INodeListSearchItems[] = matchesFilter('/', filter) ? [{ name: TOP, value: '/' }] : [];
	let scanned = 0;
	for await (const entry of provider.list('', { recursive: true })) {
		if (++scanned > PICKER_SCAN || results.length >= PICKER_PAGE) break;
		if (entry.isDir && matchesFilter(`/${entry.path}`, filter)) results.push({ name: `/${entry.path}`, value: `/${entry.path}` });
	}
	return { results };
}

const credential = { type: new CloudSyncWebDavApi() };

export const webDav: CloudDescriptor = {
	value: 'webDav',
	option: { name: 'WebDAV / Nextcloud', description: 'Nextcloud, ownCloud or any WebDAV server (Apache, nginx, rclone, a NAS)' },
	label: LABEL,
	phrase: 'WebDAV servers (Nextcloud, ownCloud)',
	sides: ['source', 'destination', 'target'],
	credential,
	deletions: { byDefault: 'Nextcloud and ownCloud keep deleted files in their trash bin, other WebDAV servers delete them for good', deletePermanently: false },
	folderSearch: { method: SEARCH_METHOD, search: (signedIn, filter) => searchFolders(signedIn, filter) },

	folderFields: (side, sideLabel) => [
		pathFolderField(sideLabel, { parameter: `${side}WebDavFolder`, method: SEARCH_METHOD, placeholder: '/Backups/2026', description: "A folder below the credential's WebDAV URL" }),
	],

	async open({ context, side, itemIndex, create }) {
		const folder = pickedFolder(context, side, itemIndex, { parameter: `${side}WebDavFolder`, cloud: LABEL, top: TOP });
		const root = rootPath(folder);
		const options = signIn(await cloudCredential(context, { label: LABEL, credential }, itemIndex, side));
		const provider = await openOrCreate(root, create, (at) => WebDavProvider.open({ ...options, root: at }));
		return { provider, label: `${LABEL}:${root || '/'}` };
	},
};
