import type { LoggedRequest } from '../test/emulators/core/server';
import { DriveEmulator } from '../test/emulators/drive';
import { DropboxEmulator } from '../test/emulators/dropbox';
import { OneDriveEmulator } from '../test/emulators/onedrive';
import type { Cloud, Endpoint } from './endpoints';

/**
 * A cloud emulator running in this (the parent) process, as the runner processes see it: folders
 * to sync into, and the requests they sent. The emulator keeps every stored byte in memory, which is
 * why it lives here and not in the measured process.
 */
export interface EmulatedCloud {
	cloud: Cloud;
	/** A new, empty folder at the top of the account, as an endpoint a runner can open. */
	newFolder(name: string): Endpoint;
	/** Requests received since the last reset (token requests included), by route ("POST /2/files/upload"). */
	requestsByRoute(): Map<string, number>;
	resetLog(): void;
	stop(): Promise<void>;
}

/** What is common to both emulators: their log is their server's. */
function logOf(server: { log: LoggedRequest[] }, route: (request: LoggedRequest) => string): Pick<EmulatedCloud, 'requestsByRoute' | 'resetLog'> {
	return {
		requestsByRoute: () => {
			const counts = new Map<string, number>();
			for (const request of server.log) {
				const key = route(request);
				counts.set(key, (counts.get(key) ?? 0) + 1);
			}
			return counts;
		},
		resetLog: () => {
			server.log.length = 0;
		},
	};
}

/**
 * Drive's paths carry file ids, so they are grouped without them; the query parameters that pick
 * what a request does (an upload's type, a download) are kept, since they cost differently.
 */
function driveRoute({ method, path, query }: LoggedRequest): string {
	const params = new URLSearchParams(query);
	const kind = [params.has('uploadType') ? `uploadType=${params.get('uploadType')}` : '', params.get('alt') === 'media' ? 'alt=media' : '']
		.filter(Boolean)
		.join('&');
	// A resumable session's chunks go to the session URI, which Drive marks with upload_id.
	return `${method} ${path.replace(/\/files\/[^/]+/, '/files/{id}')}${kind ? `?${kind}` : ''}${params.has('upload_id') ? ' (chunk)' : ''}`;
}

async function startDrive(): Promise<EmulatedCloud> {
	const emulator = new DriveEmulator();
	await emulator.start();
	const auth = emulator.addOAuthClient();
	return {
		cloud: 'google-drive',
		newFolder: (name) => ({ kind: 'google-drive', apiBaseUrl: emulator.baseUrl, auth, folderId: emulator.addFolder(emulator.myDriveRootId, name) }),
		...logOf(emulator.server, driveRoute),
		stop: () => emulator.stop(),
	};
}

async function startDropbox(): Promise<EmulatedCloud> {
	const emulator = await DropboxEmulator.start();
	return {
		cloud: 'dropbox',
		newFolder: (name) => {
			emulator.seedFolder(`/${name}`);
			return { kind: 'dropbox', apiBaseUrl: emulator.baseUrl, auth: emulator.credentials, folder: `/${name}` };
		},
		...logOf(emulator.server, ({ method, path }) => `${method} ${path}`),
		stop: () => emulator.stop(),
	};
}

/**
 * Graph's paths carry drive and item ids and, when addressed by path, file names: they are grouped
 * without them. Upload fragments, download URLs and copy monitors are pre-authenticated URLs of their own.
 */
function oneDriveRoute({ method, path }: LoggedRequest): string {
	const grouped = path
		.replace(/^\/(upload|download|monitor)\/.*/, '/$1/{session}')
		.replace(/\/drives\/[^/]+/, '/drives/{drive}')
		.replace(/\/items\/[^/:]+/, '/items/{id}')
		.replace(/:\/[^:]*:?/, ':/{path}:');
	return `${method} ${grouped}`;
}

async function startOneDrive(): Promise<EmulatedCloud> {
	const emulator = await OneDriveEmulator.start({ driveType: 'business' });
	return {
		cloud: 'onedrive',
		newFolder: (name) => {
			emulator.seedFolder(name);
			return { kind: 'onedrive', apiBaseUrl: emulator.baseUrl, auth: emulator.credentials, folder: `/${name}` };
		},
		...logOf(emulator.server, oneDriveRoute),
		stop: () => emulator.stop(),
	};
}

export function startEmulator(cloud: Cloud): Promise<EmulatedCloud> {
	if (cloud === 'onedrive') return startOneDrive();
	return cloud === 'google-drive' ? startDrive() : startDropbox();
}
