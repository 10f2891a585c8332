import type { ICredentialDataDecryptedObject, INodeListSearchItems, INodeListSearchResult } from 'n8n-workflow';
import { ONEDRIVE_SCOPE, OneDriveProvider, SHAREPOINT_SCOPE, type OneDriveProviderOptions } from '../../../lib';
import { CloudSyncMicrosoftOneDriveOAuth2Api } from '../../../credentials/CloudSyncMicrosoftOneDriveOAuth2Api.credentials';
import { cloudCredential, oauthTokens } from '../transport/credentials';
import { parameter } from '../helpers/parameters';
import { matchesFilter, openOrCreate, pathFolderField, pickedFolder, PICKER_PAGE, rootPath } from './pickers';
import type { CloudDescriptor, PickerSide, Side } from './descriptor';

const LABEL = 'OneDrive';
const WHOLE_DRIVE = '/ (whole drive)';
const FOLDER_SEARCH = 'searchOneDriveFolders';
const SITE_SEARCH = 'searchSharePointSites';
/** The picker reads the drive's tree through delta; it stops after this many entries on a large drive. */
const PICKER_SCAN = 20_000;

/** Read when a request is made, so that tests and the demo can point Graph (and its sign-in) at the emulator. */
const apiBaseUrl = () => process.env.CLOUDSYNC_ONEDRIVE_API_URL || undefined;

/** The provider options a stored credential gives: the OAuth client, its tokens, the tenant and the scopes it was granted. */
function signIn(credential: ICredentialDataDecryptedObject): Pick<OneDriveProviderOptions, 'auth' | 'tenant' | 'scope' | 'apiBaseUrl'> {
	const { clientId, clientSecret, refreshToken, accessToken } = oauthTokens(credential);
	const tenant = credential.tenant === 'specific' ? String(credential.tenantId ?? '').trim() : String(credential.tenant ?? 'common');
	return {
		auth: { clientId, clientSecret: clientSecret || undefined, refreshToken, accessToken },
		tenant: tenant || 'common',
		scope: credential.sharePoint ? SHAREPOINT_SCOPE : ONEDRIVE_SCOPE,
		apiBaseUrl: apiBaseUrl(),
	};
}

const siteOf = (value: unknown) => (typeof value === 'string' ? value.trim() : '');

/** One page of the drive's folders whose path holds `filter`: the drive of the site chosen on the open picker's side, else the user's OneDrive. */
async function searchFolders(credential: ICredentialDataDecryptedObject, filter: string | undefined, picker: PickerSide): Promise<INodeListSearchResult> {
	const site = siteOf(picker.parameter(`${picker.side ?? 'target'}OneDriveSite`));
	const provider = await OneDriveProvider.open({ ...signIn(credential), siteUrl: site || undefined });
	const results: INodeListSearchItems[] = matchesFilter('/', filter) ? [{ name: WHOLE_DRIVE, value: '/' }] : [];
	let scanned = 0;
	for await (const entry of provider.list('', { recursive: true })) {
		if (++scanned > PICKER_SCAN || results.length >= PICKER_PAGE) break;
		if (entry.isDir && matchesFilter(`/${entry.path}`, filter)) results.push({ name: `/${entry.path}`, value: `/${entry.path}` });
	}
	return { results };
}

async function searchSites(credential: ICredentialDataDecryptedObject, filter: string | undefined): Promise<INodeListSearchResult> {
	const sites = await OneDriveProvider.sites(signIn(credential), filter ?? '');
	return { results: sites.slice(0, PICKER_PAGE).map((site) => ({ name: site.name, value: site.webUrl, url: site.webUrl })) };
}

const credential = { type: new CloudSyncMicrosoftOneDriveOAuth2Api() };

export const oneDrive: CloudDescriptor = {
	value: 'oneDrive',
	option: { name: 'Microsoft OneDrive / SharePoint', description: 'OneDrive (personal, work or school) or a SharePoint site’s document library' },
	label: LABEL,
	phrase: 'OneDrive and SharePoint',
	sides: ['source', 'destination', 'target'],
	credential,
	deletions: { byDefault: 'OneDrive and SharePoint move deleted files to their recycle bin', deletePermanently: false },
	folderSearch: { method: FOLDER_SEARCH, search: (signedIn, filter, _token, picker) => searchFolders(signedIn, filter, picker) },
	moreSearches: [{ method: SITE_SEARCH, search: (signedIn, filter) => searchSites(signedIn, filter) }],
	changeFeed: {
		note: 'OneDrive for Business and SharePoint send deletions without a name: the folder a file was deleted from arrives as Modified (a Cloud Sync with Changed Paths From Input Only then goes over that folder); OneDrive Personal names deleted files.',
	},

	folderFields: (side: Side, sideLabel: string) => [
		{
			displayName: `${sideLabel} SharePoint Site`,
			name: `${side}OneDriveSite`,
			type: 'resourceLocator',
			default: { mode: 'list', value: '' },
			description: "Leave empty for the signed-in user's OneDrive; pick a site (or paste its address) for its document library",
			modes: [
				{
					displayName: 'From List',
					name: 'list',
					type: 'list',
					placeholder: 'Select a site...',
					typeOptions: { searchListMethod: SITE_SEARCH, searchable: true },
				},
				{ displayName: 'By URL', name: 'url', type: 'string', placeholder: 'https://contoso.sharepoint.com/sites/Team' },
			],
		},
		pathFolderField(sideLabel, { parameter: `${side}OneDriveFolder`, method: FOLDER_SEARCH, placeholder: '/Documents/Reports' }),
	],

	async open({ context, side, itemIndex, create }) {
		const folder = pickedFolder(context, side, itemIndex, { parameter: `${side}OneDriveFolder`, cloud: LABEL, top: WHOLE_DRIVE });
		const site = siteOf(parameter<unknown>(context, `${side}OneDriveSite`, itemIndex, '', { extractValue: true }));
		const root = rootPath(folder);
		const options = { ...signIn(await cloudCredential(context, { label: LABEL, credential }, itemIndex, side)), siteUrl: site || undefined };
		const provider = await openOrCreate(root, create, (at) => OneDriveProvider.open({ ...options, root: at }));
		return { provider, label: `${LABEL}:${site ? `${site}:` : ''}${root || '/'}` };
	},
};
