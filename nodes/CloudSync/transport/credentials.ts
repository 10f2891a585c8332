import type { ICredentialsDisplayOptions } from 'n8n-workflow';
import type { CloudName } from '../actions/fields';

/** The credential type each cloud signs in with. */
export const CREDENTIAL_TYPE = {
	googleDrive: 'cloudSyncGoogleDriveOAuth2Api',
	googleDriveServiceAccount: 'cloudSyncGoogleServiceAccountApi',
	dropbox: 'cloudSyncDropboxOAuth2Api',
} as const satisfies Record<Exclude<CloudName, 'local'>, string>;

export const CREDENTIAL_LABEL: Record<Exclude<CloudName, 'local'>, string> = {
	googleDrive: 'Cloud Sync: Google Drive OAuth2 API',
	googleDriveServiceAccount: 'Cloud Sync: Google Service Account API',
	dropbox: 'Cloud Sync: Dropbox OAuth2 API',
};

const CLOUDS: CloudName[] = ['local', 'googleDrive', 'googleDriveServiceAccount', 'dropbox'];

/**
 * When the Cloud Sync node shows the credential of `cloud`: with a single-location operation (list,
 * upload, download, delete, move) only when its cloud is chosen; with a folder pair (diff, sync) always.
 *
 * Why not one entry per side: n8n keys a node's credentials by type, and when a node asks for a
 * credential (getCredentials, at run time and in list searches), n8n-core checks the display options
 * of the *first* entry of that type in `description.credentials` only. An entry "sourceCloud is X"
 * listed before "destinationCloud is X" or "targetCloud is X" made every run that used the cloud only
 * as its destination or target fail with "Credentials not found". Display options are a conjunction of
 * per-parameter conditions (show: all must hold; hide: any hides), so "source or destination is X" has
 * no single-entry form: a folder pair shows all three, optional, and the node tells which one is
 * missing when it runs.
 */
export function credentialDisplay(cloud: Exclude<CloudName, 'local'>): ICredentialsDisplayOptions {
	return { hide: { targetCloud: CLOUDS.filter((other) => other !== cloud) } };
}

/** The trigger has one location: its credential shows with its cloud. */
export function triggerCredentialDisplay(cloud: Exclude<CloudName, 'local'>): ICredentialsDisplayOptions {
	return { show: { targetCloud: [cloud] } };
}
