import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ICredentialDataDecryptedObject, INode, INodeParameters } from 'n8n-workflow';
import { LocalProvider, NotFoundError, type Entry, type Provider } from '../../lib';
import { GoogleDriveProvider } from '../../lib/providers/drive';
import { DropboxProvider } from '../../lib/providers/dropbox';
import { DriveEmulator } from '../emulators/drive';
import { DropboxEmulator } from '../emulators/dropbox';
import { OneDriveEmulator } from '../emulators/onedrive';
import { OneDriveProvider } from '../../lib/providers/onedrive';
import { WebDavEmulator, type WebDavFlavour } from '../emulators/webdav';
import { emulatedWebDav } from './webdav';
import { quickPacer } from './dropbox';
import { s3Provider, startS3Server } from './s3';
import { ICloudDriveEmulator } from '../emulators/icloudDrive';
import { emulatedICloudDrive, savedSessionOf } from './icloud';
import { tempDir } from './trees';

/** Writes a file through the provider itself, with a chosen modification time, as a user's edit would land. */
export async function put(provider: Provider, path: string, content: string, modTime: number): Promise<void> {
	const bytes = Buffer.from(content);
	await provider.write(path, Readable.from([bytes]), { size: bytes.length, modTime });
}

/** Every file below the root (the engine's own `.cloudsync` folder aside) as path → sha256, read back through the provider. */
export async function tree(provider: Provider, options: { withState?: boolean } = {}): Promise<Record<string, string>> {
	const files: Record<string, string> = {};
	// A local folder leaves its `.cloudsync` out of a listing of the whole tree; named, it is listed.
	const listings = [provider.list('', { recursive: true }), ...(options.withState ? [listOrNothing(provider, '.cloudsync')] : [])];
	for await (const entry of merged(listings)) {
		if (entry.isDir || (!options.withState && entry.path.startsWith('.cloudsync/'))) continue;
		const hash = createHash('sha256');
		for await (const chunk of await provider.read(entry.path)) hash.update(chunk as Buffer);
		files[entry.path.normalize('NFC')] = hash.digest('hex');
	}
	return Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1)));
}

async function* listOrNothing(provider: Provider, path: string): AsyncIterable<Entry> {
	try {
		yield* provider.list(path, { recursive: true });
	} catch (error) {
		if (!(error instanceof NotFoundError)) throw error;
	}
}

async function* merged(listings: AsyncIterable<Entry>[]): AsyncIterable<Entry> {
	for (const listing of listings) yield* listing;
}

export const sha = (content: string) => createHash('sha256').update(content).digest('hex');

/** The expected tree for path → content. */
export function expected(files: Record<string, string>): Record<string, string> {
	return Object.fromEntries(Object.entries(files).map(([path, content]) => [path, sha(content)] as const).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Two fresh, empty folders, as providers and as the Cloud Sync node's parameters and credentials. */
export interface Pair {
	source: Provider;
	destination: Provider;
	parameters: INodeParameters;
	/** The node's credential references and the store they resolve in (n8n's credential database, in the harness). */
	nodeCredentials?: INode['credentials'];
	credentials?: Record<string, ICredentialDataDecryptedObject>;
}

export interface Backend {
	name: string;
	pair(): Promise<Pair>;
	stop(): Promise<void>;
}

export const localBackend = (): Backend => ({
	name: 'local ↔ local',
	pair: async () => {
		const [a, b] = [await tempDir('a'), await tempDir('b')];
		return {
			source: await LocalProvider.open(a),
			destination: await LocalProvider.open(b),
			parameters: { sourceCloud: 'local', sourceLocalPath: a, destinationCloud: 'local', destinationLocalPath: b },
		};
	},
	stop: async () => undefined,
});

/** Google Drive on one side, Dropbox (case-insensitive, second-precision times, no shared hash) on the other, both emulated. */
export async function cloudBackend(): Promise<Backend> {
	const drive = new DriveEmulator();
	await drive.start();
	const dropbox = await DropboxEmulator.start({ seed: 5 });
	const auth = drive.addOAuthClient();
	// The nodes find the emulators here, as the demo's n8n does.
	process.env.CLOUDSYNC_GOOGLE_API_URL = drive.baseUrl;
	process.env.CLOUDSYNC_DROPBOX_API_URL = dropbox.baseUrl;
	return {
		name: 'Google Drive ↔ Dropbox (emulated)',
		pair: async () => {
			const name = `pair-${randomBytes(4).toString('hex')}`;
			const folderId = drive.addFolder(drive.myDriveRootId, name);
			dropbox.seedFolder(`/${name}`);
			const source = await GoogleDriveProvider.open({ auth, root: folderId, apiBaseUrl: drive.baseUrl, pacer: quickPacer() });
			const destination = new DropboxProvider({ auth: dropbox.credentials, root: `/${name}`, apiBaseUrl: dropbox.baseUrl, pacer: quickPacer() });
			return {
				source,
				destination,
				parameters: {
					sourceCloud: 'googleDrive',
					sourceDriveFolder: { __rl: true, mode: 'id', value: folderId },
					destinationCloud: 'dropbox',
					destinationDropboxFolder: { __rl: true, mode: 'path', value: `/${name}` },
				},
				nodeCredentials: {
					cloudSyncGoogleDriveOAuth2Api: { id: 'drive', name: 'Drive' },
					cloudSyncDropboxOAuth2Api: { id: 'dropbox', name: 'Dropbox' },
				},
				credentials: {
					cloudSyncGoogleDriveOAuth2Api: { clientId: auth.clientId, clientSecret: auth.clientSecret, oauthTokenData: { refresh_token: auth.refreshToken, token_type: 'Bearer' } },
					cloudSyncDropboxOAuth2Api: {
						clientId: dropbox.credentials.clientId,
						clientSecret: dropbox.credentials.clientSecret,
						oauthTokenData: { refresh_token: dropbox.credentials.refreshToken, token_type: 'bearer' },
					},
				},
			};
		},
		stop: async () => {
			await drive.server.stop();
			await dropbox.server.stop();
		},
	};
}

/** OneDrive (case-insensitive, quickXorHash, delta) on one side, Dropbox (case-insensitive, content_hash) on the other, both emulated: no shared hash. */
export async function oneDriveBackend(): Promise<Backend> {
	const onedrive = await OneDriveEmulator.start({ driveType: 'business', seed: 6 });
	const dropbox = await DropboxEmulator.start({ seed: 7 });
	process.env.CLOUDSYNC_ONEDRIVE_API_URL = onedrive.baseUrl;
	process.env.CLOUDSYNC_DROPBOX_API_URL = dropbox.baseUrl;
	return {
		name: 'OneDrive ↔ Dropbox (emulated)',
		pair: async () => {
			const name = `pair-${randomBytes(4).toString('hex')}`;
			onedrive.seedFolder(name);
			dropbox.seedFolder(`/${name}`);
			const source = await OneDriveProvider.open({ auth: onedrive.credentials, root: `/${name}`, apiBaseUrl: onedrive.baseUrl, pacer: quickPacer() });
			const destination = new DropboxProvider({ auth: dropbox.credentials, root: `/${name}`, apiBaseUrl: dropbox.baseUrl, pacer: quickPacer() });
			return {
				source,
				destination,
				parameters: {
					sourceCloud: 'oneDrive',
					sourceOneDriveFolder: { __rl: true, mode: 'path', value: `/${name}` },
					destinationCloud: 'dropbox',
					destinationDropboxFolder: { __rl: true, mode: 'path', value: `/${name}` },
				},
				nodeCredentials: {
					cloudSyncMicrosoftOneDriveOAuth2Api: { id: 'onedrive', name: 'OneDrive' },
					cloudSyncDropboxOAuth2Api: { id: 'dropbox', name: 'Dropbox' },
				},
				credentials: {
					cloudSyncMicrosoftOneDriveOAuth2Api: {
						clientId: onedrive.credentials.clientId,
						clientSecret: onedrive.credentials.clientSecret,
						tenant: 'common',
						oauthTokenData: { refresh_token: onedrive.credentials.refreshToken, token_type: 'Bearer' },
					},
					cloudSyncDropboxOAuth2Api: {
						clientId: dropbox.credentials.clientId,
						clientSecret: dropbox.credentials.clientSecret,
						oauthTokenData: { refresh_token: dropbox.credentials.refreshToken, token_type: 'bearer' },
					},
				},
			};
		},
		stop: async () => {
			await onedrive.stop();
			await dropbox.stop();
		},
	};
}

/** A local folder on one side, a prefix of a bucket on a real S3 server (s3rver, loopback) on the other: MD5 shared, no empty folders on S3. */
export async function s3Backend(): Promise<Backend> {
	const server = await startS3Server();
	return {
		name: 'local ↔ S3 (s3rver)',
		pair: async () => {
			const prefix = `pair-${randomBytes(4).toString('hex')}`;
			const local = await tempDir('s3-pair');
			return {
				source: await LocalProvider.open(local),
				destination: await s3Provider(server.connection, { prefix }),
				parameters: {
					sourceCloud: 'local',
					sourceLocalPath: local,
					destinationCloud: 's3',
					destinationS3Folder: { __rl: true, mode: 'path', value: `test/${prefix}` },
				},
				nodeCredentials: { cloudSyncS3Api: { id: 's3', name: 'S3' } },
				credentials: { cloudSyncS3Api: { ...server.connection } as unknown as ICredentialDataDecryptedObject },
			};
		},
		stop: () => server.stop(),
	};
}

/** iCloud Drive (no hash, case-insensitive, second-precision times, staged replacements) on one side, Google Drive (md5) on the other, both emulated. */
export async function iCloudDriveBackend(): Promise<Backend> {
	const icloud = await ICloudDriveEmulator.start();
	const drive = new DriveEmulator();
	await drive.start();
	const auth = drive.addOAuthClient();
	process.env.CLOUDSYNC_ICLOUD_URL = icloud.baseUrl;
	process.env.CLOUDSYNC_GOOGLE_API_URL = drive.baseUrl;
	return {
		name: 'iCloud Drive ↔ Google Drive (emulated)',
		pair: async () => {
			const name = `pair-${randomBytes(4).toString('hex')}`;
			icloud.seedFolder(name);
			const folderId = drive.addFolder(drive.myDriveRootId, name);
			const source = await emulatedICloudDrive(icloud, { root: `/${name}` });
			const destination = await GoogleDriveProvider.open({ auth, root: folderId, apiBaseUrl: drive.baseUrl, pacer: quickPacer() });
			return {
				source,
				destination,
				parameters: {
					sourceCloud: 'iCloudDrive',
					sourceICloudDriveFolder: { __rl: true, mode: 'path', value: `/${name}` },
					destinationCloud: 'googleDrive',
					destinationDriveFolder: { __rl: true, mode: 'id', value: folderId },
				},
				nodeCredentials: {
					cloudSyncAppleIdApi: { id: 'apple', name: 'Apple ID' },
					cloudSyncGoogleDriveOAuth2Api: { id: 'drive', name: 'Drive' },
				},
				credentials: {
					cloudSyncAppleIdApi: { appleId: icloud.user.appleId, password: icloud.user.password, verificationCode: '', sessionToken: JSON.stringify(savedSessionOf(icloud)) },
					cloudSyncGoogleDriveOAuth2Api: { clientId: auth.clientId, clientSecret: auth.clientSecret, oauthTokenData: { refresh_token: auth.refreshToken, token_type: 'Bearer' } },
				},
			};
		},
		stop: async () => {
			await icloud.stop();
			await drive.server.stop();
		},
	};
}

/** A local folder on one side, a WebDAV server (emulated Nextcloud: second-precision times, SHA-1; or a generic one: neither) on the other. */
export async function webDavBackend(flavour: WebDavFlavour = 'nextcloud'): Promise<Backend> {
	const server = await WebDavEmulator.start({ flavour, seed: 8 });
	const vendor = flavour === 'nextcloud' ? 'nextcloud' : 'other';
	return {
		name: `local ↔ WebDAV (${flavour}, emulated)`,
		pair: async () => {
			const folder = await tempDir('webdav-pair');
			const name = `pair-${randomBytes(4).toString('hex')}`;
			server.seedFolder(name);
			const credential = { url: server.url, user: server.user, password: server.password, vendor } as const;
			return {
				source: await LocalProvider.open(folder),
				destination: await emulatedWebDav(server, { root: `/${name}` }),
				parameters: {
					sourceCloud: 'local',
					sourceLocalPath: folder,
					destinationCloud: 'webDav',
					destinationWebDavFolder: { __rl: true, mode: 'path', value: `/${name}` },
				},
				nodeCredentials: { cloudSyncWebDavApi: { id: 'webdav', name: 'WebDAV' } },
				credentials: { cloudSyncWebDavApi: { ...credential } },
			};
		},
		stop: () => server.stop(),
	};
}

/** A Drive and a Dropbox emulator for the enclosing describe block: started before its tests, stopped after them. */
export function emulatorsForBlock(seed: number): { drive: DriveEmulator; dropbox: DropboxEmulator } {
	const emulators = {} as { drive: DriveEmulator; dropbox: DropboxEmulator };
	beforeAll(async () => {
		emulators.drive = new DriveEmulator();
		await emulators.drive.start();
		emulators.dropbox = await DropboxEmulator.start({ seed });
	});
	afterAll(async () => {
		await emulators.drive.server.stop();
		await emulators.dropbox.server.stop();
	});
	return emulators;
}

/**
 * A new Dropbox folder and a new Drive folder on the emulators, each opened as often as asked: a
 * scheduled sync opens new providers per run (as each n8n execution does), and a user edits through
 * providers of their own.
 */
export async function feedPair(emulators: { drive: DriveEmulator; dropbox: DropboxEmulator }) {
	const { drive, dropbox } = emulators;
	const name = `pair-${randomBytes(4).toString('hex')}`;
	const folderId = drive.addFolder(drive.myDriveRootId, name);
	dropbox.seedFolder(`/${name}`);
	const openDrive = () => GoogleDriveProvider.open({ auth: drive.addOAuthClient(), root: folderId, apiBaseUrl: drive.baseUrl, pacer: quickPacer() });
	const openDropbox = () => new DropboxProvider({ auth: dropbox.credentials, root: `/${name}`, apiBaseUrl: dropbox.baseUrl, pacer: quickPacer() });
	return { name, folderId, openDrive, openDropbox, driveUser: await openDrive(), dropboxUser: openDropbox() };
}
