import type { ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

/** A Google service account: for shared drives and server-to-server syncs, no user sign-in. Tested by the Cloud Sync node. */
// The nodes take their credential entries, testedBy included, from the cloud registry (nodes/CloudSync/clouds),
// which this rule cannot read: it looks for literal entries in the node files. A key needs a signed token
// exchange, which no declarative test request can make.
// eslint-disable-next-line @n8n/community-nodes/credential-test-required
export class CloudSyncGoogleServiceAccountApi implements ICredentialType {
	name = 'cloudSyncGoogleServiceAccountApi';
	// n8n names a new credential after this without "API", plus "account": "Cloud Sync: Google Drive JSON Key account".
	displayName = 'Cloud Sync: Google Drive JSON Key API';
	// The setup page of this package (docs/setup/), as published with it.
	documentationUrl = 'https://unpkg.com/n8n-nodes-cloudsync@latest/docs/setup/google-drive.md#service-account-no-user';
	icon: Icon = { light: 'file:googleDrive.svg', dark: 'file:googleDrive.dark.svg' };
	properties: INodeProperties[] = [
		{
			displayName: 'Service Account Email',
			name: 'email',
			type: 'string',
			placeholder: 'sync-bot@my-project.iam.gserviceaccount.com',
			default: '',
			required: true,
			description: 'The client_email of the JSON key file. Share each Drive folder the node should reach with this email.',
		},
		{
			displayName: 'Private Key',
			name: 'privateKey',
			type: 'string',
			typeOptions: { password: true, rows: 4 },
			default: '',
			required: true,
			description: 'The private_key value of the JSON key file, from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY-----',
		},
	];
}
