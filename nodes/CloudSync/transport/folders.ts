/**
 * Folder searches for the editor's folder pickers, straight through the clouds' SDKs: the providers
 * work below one root folder and have no search, and a picker needs one page of folders at a time.
 */
import { drive as createDriveClient, type drive_v3 } from '@googleapis/drive';
import { Dropbox, DropboxAuth, DropboxResponseError, type files } from 'dropbox';
import type { INodeListSearchItems, INodeListSearchResult } from 'n8n-workflow';
import { AuthenticationError, CloudSyncError, PermissionError, RateLimitError, type GoogleDriveOAuth, type GoogleDriveServiceAccount } from '../../../lib';
import { createAuthClient, escapeQuery, FOLDER_MIME, mapDriveError, rootUrlFor } from '../../../lib/providers/drive';
import { redirectingFetch } from '../../../lib/providers/dropbox';

/** Folders a picker page shows; Drive returns at most this many per request. */
const PAGE = 100;
/** Dropbox has no folder query: its listing is read until a page is full or this many listing pages were read. */
const DROPBOX_LISTING_PAGES = 5;
const DROPBOX_LISTING_LIMIT = 2000;
const MAX_DEPTH = 32;

const byName = (a: INodeListSearchItems, b: INodeListSearchItems) => a.name.localeCompare(b.name);
const matches = (text: string, filter?: string) => !filter || text.toLowerCase().includes(filter.trim().toLowerCase());

// ---------------------------------------------------------------------------------------------
// Google Drive

type DriveAuth = GoogleDriveOAuth | GoogleDriveServiceAccount;

function statusOf(error: unknown): number | undefined {
	const shape = error as { status?: number; response?: { status?: number } };
	return shape?.response?.status ?? shape?.status;
}

/**
 * One page of the folders the account can see, in My Drive and shared drives, whose name contains
 * `filter`; each shown with its path from the top of its drive, valued by id.
 */
export async function searchDriveFolderPage(auth: DriveAuth, filter: string | undefined, pageToken: string | undefined, apiBaseUrl?: string): Promise<INodeListSearchResult> {
	const client = createAuthClient(auth, apiBaseUrl);
	const rootUrl = rootUrlFor(apiBaseUrl);
	const api = createDriveClient({ version: 'v3', auth: client, rootUrl, retry: false });
	// An access token Drive no longer accepts is replaced once, as the provider does.
	const call = async <T>(request: () => Promise<T>): Promise<T> => {
		try {
			return await request();
		} catch (error) {
			if (statusOf(error) !== 401) throw mapDriveError(error, '');
		}
		client.credentials = { ...client.credentials, expiry_date: 1 };
		try {
			return await request();
		} catch (error) {
			throw mapDriveError(error, '');
		}
	};

	const name = filter?.trim();
	const q = [`mimeType = '${FOLDER_MIME}'`, 'trashed = false', name ? `name contains '${escapeQuery(name)}'` : undefined].filter(Boolean).join(' and ');
	const { data } = await call(() =>
		api.files.list({
			q,
			pageSize: PAGE,
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
	results.sort(byName);
	if (!pageToken && matches('/ (My Drive)', name)) results.unshift({ name: '/ (My Drive)', value: 'root', url: 'https://drive.google.com/drive/my-drive' });
	return { results, paginationToken: data.nextPageToken ?? undefined };
}

/** Paths of Drive folders, from the folders of the page and one request per unknown parent, shared by all. */
class DrivePaths {
	private readonly folders = new Map<string, Promise<drive_v3.Schema$File | undefined>>();
	private readonly paths = new Map<string, Promise<string>>();

	constructor(
		private readonly api: drive_v3.Drive,
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

// ---------------------------------------------------------------------------------------------
// Dropbox

export interface DropboxAuthData {
	clientId: string;
	clientSecret: string;
	refreshToken: string;
	accessToken?: string;
}

/** A Dropbox answer as an engine error, with its status and summary only: the SDK's error holds the request. */
function dropboxError(error: unknown): Error {
	if (!(error instanceof DropboxResponseError)) {
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
export async function searchDropboxFolderPage(auth: DropboxAuthData, filter: string | undefined, cursor: string | undefined, apiBaseUrl?: string): Promise<INodeListSearchResult> {
	const fetchImplementation = apiBaseUrl ? redirectingFetch(apiBaseUrl) : undefined;
	const client = new Dropbox({ auth: new DropboxAuth({ ...auth, fetch: fetchImplementation }), fetch: fetchImplementation });
	const results: INodeListSearchItems[] = [];
	if (!cursor && matches('/', filter)) results.push({ name: '/ (whole Dropbox)', value: '/' });
	let next = cursor;
	try {
		for (let pages = 0; pages < DROPBOX_LISTING_PAGES && results.length < PAGE; pages++) {
			const from = next;
			const page: files.ListFolderResult = from
				? (await client.filesListFolderContinue({ cursor: from })).result
				: (await client.filesListFolder({ path: '', recursive: true, limit: DROPBOX_LISTING_LIMIT, include_deleted: false })).result;
			for (const entry of page.entries) {
				if (entry['.tag'] === 'folder' && entry.path_display && matches(entry.path_display, filter)) results.push({ name: entry.path_display, value: entry.path_display });
			}
			next = page.has_more ? page.cursor : undefined;
			if (!next) break;
		}
	} catch (error) {
		throw dropboxError(error);
	}
	return { results, paginationToken: next };
}
