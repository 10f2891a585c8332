import type { ICredentialsDisplayOptions } from 'n8n-workflow';
import type { CloudName, Side } from '../actions/fields';

/** The credential type each cloud signs in with. */
export const CREDENTIAL_TYPE = {
	googleDrive: 'cloudSyncGoogleDriveOAuth2Api',
	googleDriveServiceAccount: 'cloudSyncGoogleServiceAccountApi',
	dropbox: 'cloudSyncDropboxOAuth2Api',
} as const satisfies Record<Exclude<CloudName, 'local'>, string>;

const FOLDER_PAIR_OPERATIONS = ['diff', 'sync'];
const SINGLE_LOCATION_OPERATIONS = ['list', 'upload', 'download', 'delete', 'move'];

/**
 * When a credential entry shows. n8n keys a node's credentials by type, so the nodes list a type once
 * per side with conditions that never hold together: the destination's entry hides itself when the
 * source already shows the same type, and both sides then use one account. `operations` is false on
 * a node that has only one side (the trigger).
 */
export function showFor(cloud: Exclude<CloudName, 'local'>, side: Side, operations = true): ICredentialsDisplayOptions {
	const show: Record<string, string[]> = { [`${side}Cloud`]: [cloud] };
	if (operations) show.operation = side === 'target' ? SINGLE_LOCATION_OPERATIONS : FOLDER_PAIR_OPERATIONS;
	return side === 'destination' ? { show, hide: { sourceCloud: [cloud] } } : { show };
}
