import type { IAuthenticateGeneric, ICredentialTestRequest, ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

/** A WebDAV server (Nextcloud, ownCloud, Apache, nginx, rclone serve webdav, a NAS) signed in with a user name and password. */
export class CloudSyncWebDavApi implements ICredentialType {
	name = 'cloudSyncWebDavApi';
	displayName = 'Cloud Sync: WebDAV / Nextcloud API';
	documentationUrl = 'https://unpkg.com/n8n-nodes-cloudsync@latest/docs/setup/webdav.md';
	icon: Icon = { light: 'file:webdav.svg', dark: 'file:webdav.dark.svg' };
	properties: INodeProperties[] = [
		{
			displayName: 'Server',
			name: 'vendor',
			type: 'options',
			options: [
				{ name: 'Nextcloud', value: 'nextcloud', description: 'Keeps modification times and SHA-1 checksums; large files go in chunks' },
				{ name: 'ownCloud', value: 'owncloud', description: 'Keeps modification times and SHA-1 checksums' },
				{ name: 'Other WebDAV Server', value: 'other', description: 'Apache, nginx, rclone serve webdav, a NAS: no times kept, files compared by size' },
			],
			default: 'nextcloud',
		},
		{
			displayName: 'WebDAV URL',
			name: 'url',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'https://cloud.example.com/remote.php/dav/files/alice',
			description:
				'The WebDAV address. Nextcloud shows it under Files > Settings (bottom left): use https://host/remote.php/dav/files/USER, which can take large files in chunks.',
		},
		{ displayName: 'User', name: 'user', type: 'string', default: '', required: true },
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'The password, or an app password (required on Nextcloud and ownCloud accounts with two-factor sign-in: Settings > Security)',
		},
	];
	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: { auth: { username: '={{$credentials.user}}', password: '={{$credentials.password}}' } },
	};
	// PROPFIND with Depth 0 answers 207 only from a WebDAV server that accepted the password.
	test: ICredentialTestRequest = {
		request: { baseURL: '={{$credentials.url}}', url: '', method: 'PROPFIND', headers: { Depth: '0' } },
	};
}
