import type { files } from 'dropbox';
import type { INodeListSearchItems, INodeListSearchResult } from 'n8n-workflow';
import { AuthenticationError, CloudSyncError, DropboxProvider, dropboxRedirectingFetch, dropboxSdk, isDropboxResponseError, PermissionError, RateLimitError } from '../../../lib';
import { CloudSyncDropboxOAuth2Api } from '../../../credentials/CloudSyncDropboxOAuth2Api.credentials';
import { cloudCredential, oauthTokens } from '../transport/credentials';
import { matchesFilter, pathFolderField, pickedFolder, PICKER_PAGE, rootPath } from './pickers';
import type { CloudDescriptor } from './descriptor';

const LABEL = 'Dropbox';
const WHOLE_DROPBOX = '/ (whole Dropbox)';
const SEARCH_METHOD = 'searchDropboxFolders';
/** Dropbox has no folder query: its listing is read until a picker page is full or this many listing pages were read. */
const LISTING_PAGES = 5;
const LISTING_LIMIT = 2000;

/** Read when a request is made, so that tests and the demo can point Dropbox at the emulator. */
const apiBaseUrl = () => process.env.CLOUDSYNC_DROPBOX_API_URL || undefined;

/** A Dropbox answer as an engine error, with its status and summary only: the SDK's error holds the request. */
function dropboxError(error: unknown): Error {
	if (!isDropboxResponseError(error)) {
		return new CloudSyncError(`Dropbox could not be reached (${(error as Error)?.name ?? 'error'})`, { hint: 'Check the network of the n8n server and try again.' });
	}
	const body = (typeof error.error === 'object' && error.error !== null ? error.error : {}) as { error_summary?: string; error?: unknown };
	const summary = body.error_summary ?? (typeof body.error === 'string' ? body.error : '');
	if (error.status === 401 || (error.status === 400 && typeof body.error === 'string')) {
		return new AuthenticationError(`Dropbox refused the credential (${summary || error.status})`);
	}
	if (error.status === 429) return new RateLimitError(`Dropbox asked to slow down (${summary || 429})`);
	if (error.status === 403) return new PermissionError(`Dropbox denied access (${summary || 403})`);
	return new CloudSyncError(`Dropbox refused the folder list (HTTP ${error.status}${summary ? `: ${summary}` : ''})`);
}

/**
 * One page of the account's folders whose path contains `filter`, valued by path. Dropbox lists the
 * whole account page by page; the listing cursor is the picker's pagination token.
 */
async function searchFolderPage(auth: ReturnType<typeof oauthTokens>, filter: string | undefined, cursor: string | undefined): Promise<INodeListSearchResult> {
	const baseUrl = apiBaseUrl();
	const fetchImplementation = dropboxRedirectingFetch(baseUrl);
	const { Dropbox, DropboxAuth } = dropboxSdk();
	const client = new Dropbox({ auth: new DropboxAuth({ ...auth, fetch: fetchImplementation }), fetch: fetchImplementation });
	const results: INodeListSearchItems[] = [];
	if (!cursor && matchesFilter('/', filter)) results.push({ name: WHOLE_DROPBOX, value: '/' });
	let next = cursor;
	try {
		for (let pages = 0; pages < LISTING_PAGES && results.length < PICKER_PAGE; pages++) {
			const from = next;
			const page: files.ListFolderResult = from
				? (await client.filesListFolderContinue({ cursor: from })).result
				: (await client.filesListFolder({ path: '', recursive: true, limit: LISTING_LIMIT, include_deleted: false })).result;
			for (const entry of page.entries) {
				if (entry['.tag'] === 'folder' && entry.path_display && matchesFilter(entry.path_display, filter)) results.push({ name: entry.path_display, value: entry.path_display });
			}
			next = page.has_more ? page.cursor : undefined;
			if (!next) break;
		}
	} catch (error) {
		throw dropboxError(error);
	}
	return { results, paginationToken: next };
}

const credential = { type: new CloudSyncDropboxOAuth2Api() };

export const dropbox: CloudDescriptor = {
	value: 'dropbox',
	option: { name: 'Dropbox' },
	label: LABEL,
	phrase: LABEL,
	sides: ['source', 'destination', 'target'],
	credential,
	deletions: { byDefault: 'Dropbox keeps deleted files and versions itself', deletePermanently: false },
	// Its picker lists the whole account, so one credential serves every side.
	folderSearch: { method: SEARCH_METHOD, search: (signIn, filter, token) => searchFolderPage(oauthTokens(signIn), filter, token) },
	changeFeed: { note: 'Dropbox does not tell new files from edited ones: both arrive as Modified, and a move as Deleted plus Modified.' },

	folderFields: (side, sideLabel) => [
		pathFolderField(sideLabel, { parameter: `${side}DropboxFolder`, method: SEARCH_METHOD, placeholder: '/Photos/2026' }),
	],

	async open({ context, side, itemIndex }) {
		const folder = pickedFolder(context, side, itemIndex, { parameter: `${side}DropboxFolder`, cloud: LABEL, top: WHOLE_DROPBOX });
		const root = rootPath(folder);
		const provider = new DropboxProvider({ auth: oauthTokens(await cloudCredential(context, { label: LABEL, credential }, itemIndex, side)), root, apiBaseUrl: apiBaseUrl() });
		return { provider, label: `${LABEL}:${root || '/'}` };
	},
};
