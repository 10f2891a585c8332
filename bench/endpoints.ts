import {
	DropboxProvider,
	GoogleDriveProvider,
	LocalProvider,
	OneDriveProvider,
	S3Provider,
	WebDavProvider,
	type DropboxCredentials,
	type S3Connection,
	type WebDavVendor,
	type OneDriveCredentials,
	type GoogleDriveOAuth,
	type Provider,
} from '../lib';

/**
 * One side of a measured sync, as the parent passes it to a runner process on its command line:
 * a local folder, or a folder of a cloud emulator that the parent hosts. The emulator lives in the
 * parent so that the runner's peak RSS is the sync's alone, without the emulator's stored files.
 */
export type Endpoint =
	| { kind: 'local'; root: string }
	| { kind: 'google-drive'; apiBaseUrl: string; auth: GoogleDriveOAuth; folderId: string }
	| { kind: 'dropbox'; apiBaseUrl: string; auth: DropboxCredentials; folder: string }
	| { kind: 'onedrive'; apiBaseUrl: string; auth: OneDriveCredentials; folder: string }
	| { kind: 'webdav'; url: string; user: string; password: string; vendor: WebDavVendor; folder: string }
	| { kind: 's3'; connection: S3Connection; bucket: string; prefix: string };

/** The emulated clouds whose API calls cases 5–6 count; WebDAV and S3 run against real servers beside rclone (webdav.ts, s3.ts). */
export type Cloud = Exclude<Endpoint['kind'], 'local' | 'webdav' | 's3'>;

/** A command-line argument: a local folder as its bare path (as cases 1–3 pass it), anything else as JSON. */
export function endpointArgument(endpoint: Endpoint): string {
	return endpoint.kind === 'local' ? endpoint.root : JSON.stringify(endpoint);
}

export function parseEndpoint(argument: string): Endpoint {
	return argument.startsWith('{') ? (JSON.parse(argument) as Endpoint) : { kind: 'local', root: argument };
}

/**
 * The provider for an endpoint, with the default pacer, as users get it. A local destination is
 * created when missing; a cloud folder is made by the parent before the run.
 */
export async function openEndpoint(endpoint: Endpoint, side: 'source' | 'destination'): Promise<Provider> {
	switch (endpoint.kind) {
		case 'local':
			return LocalProvider.open(endpoint.root, { createRoot: side === 'destination' });
		case 'google-drive':
			return GoogleDriveProvider.open({ auth: endpoint.auth, root: endpoint.folderId, apiBaseUrl: endpoint.apiBaseUrl });
		case 'dropbox':
			return new DropboxProvider({ auth: endpoint.auth, root: endpoint.folder, apiBaseUrl: endpoint.apiBaseUrl });
		case 'onedrive':
			return OneDriveProvider.open({ auth: endpoint.auth, root: endpoint.folder, apiBaseUrl: endpoint.apiBaseUrl });
		case 'webdav':
			return WebDavProvider.open({ url: endpoint.url, user: endpoint.user, password: endpoint.password, vendor: endpoint.vendor, root: endpoint.folder });
		case 's3':
			return S3Provider.open({ ...endpoint.connection, bucket: endpoint.bucket, prefix: endpoint.prefix });
	}
}
