import type { ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

/** A Google service account: for shared drives and server-to-server syncs, no user sign-in. Tested by the Cloud Sync node. */
// The nodes take their credential entries, testedBy included, from the cloud registry (nodes/CloudSync/clouds),
// which this rule cannot read: it looks for literal entries in the node files. A key needs a signed token
// exchange, which no declarative test request can make.
// eslint-disable-next-line @n8n/community-nodes/credential-test-required
export class CloudSyncGoogleServiceAccountApi implements ICredentialType {
	name = 'cloudSyncGoogleServiceAccountApi';
	displayName = 'Cloud Sync: Google Service Account API';
	documentationUrl = 'https://cloud.google.com/iam/docs/service-account-overview';
	icon: Icon = { light: 'file:googleDrive.svg', dark: 'file:googleDrive.dark.svg' };
	properties: INodeProperties[] = [
		{
			displayName: 'Service Account Email',
			name: 'email',
			type: 'string',
			placeholder: 'sync-bot@my-project.iam.gserviceaccount.com',
			default: '',
			required: true,
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
