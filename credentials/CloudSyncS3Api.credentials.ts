import type { ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

/** An S3 or S3-compatible access key. Tested by the Cloud Sync node: a request must be signed (SigV4), which no declarative test request can do. */
// The nodes take their credential entries, testedBy included, from the cloud registry (nodes/CloudSync/clouds),
// which this rule cannot read: it looks for literal entries in the node files.
// eslint-disable-next-line @n8n/community-nodes/credential-test-required
export class CloudSyncS3Api implements ICredentialType {
	name = 'cloudSyncS3Api';
	displayName = 'Cloud Sync: S3 (AWS, R2, B2, Wasabi, MinIO) API';
	documentationUrl = 'https://unpkg.com/n8n-nodes-cloudsync@latest/docs/setup/s3.md';
	icon: Icon = { light: 'file:s3.svg', dark: 'file:s3.dark.svg' };
	properties: INodeProperties[] = [
		{
			displayName: 'Service',
			name: 'preset',
			type: 'options',
			options: [
				{ name: 'Amazon S3', value: 'aws' },
				{ name: 'Backblaze B2', value: 'b2', description: 'Needs an application key (not the master key)' },
				{ name: 'Cloudflare R2', value: 'r2' },
				{ name: 'MinIO', value: 'minio' },
				{ name: 'Other S3-Compatible', value: 'other' },
				{ name: 'Wasabi', value: 'wasabi' },
			],
			default: 'aws',
		},
		{ displayName: 'Access Key ID', name: 'accessKeyId', type: 'string', default: '', required: true },
		{ displayName: 'Secret Access Key', name: 'secretAccessKey', type: 'string', typeOptions: { password: true }, default: '', required: true },
		{
			displayName: 'Region',
			name: 'region',
			type: 'string',
			default: '',
			placeholder: 'us-east-1',
			description: "The bucket's region (B2: the us-west-004 part of its endpoint; R2: auto). Empty: us-east-1, or auto for R2.",
		},
		{
			displayName: 'Endpoint',
			name: 'endpoint',
			type: 'string',
			default: '',
			placeholder: 'https://<account id>.r2.cloudflarestorage.com',
			description: 'The service address with https:// or http://. Needed for R2, MinIO and other services; for AWS, B2 and Wasabi it follows from the region when empty.',
		},
		{
			displayName: 'Force Path-Style Addressing',
			name: 'forcePathStyle',
			type: 'boolean',
			default: false,
			description: 'Whether buckets are addressed as https://host/bucket instead of https://bucket.host (MinIO, most self-hosted servers, and buckets with dots need it; R2, B2, Wasabi and MinIO use it anyway)',
		},
	];
}
