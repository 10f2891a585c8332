import type { ICredentialTestRequest, ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

export class CloudSyncGoogleDriveOAuth2Api implements ICredentialType {
	name = 'cloudSyncGoogleDriveOAuth2Api';
	extends = ['googleOAuth2Api'];
	displayName = 'Cloud Sync: Google Drive OAuth2 API';
	// The setup page of this package (docs/setup/), as published with it.
	documentationUrl = 'https://unpkg.com/n8n-nodes-cloudsync@latest/docs/setup/google-drive.md';
	icon: Icon = { light: 'file:googleDrive.svg', dark: 'file:googleDrive.dark.svg' };
	properties: INodeProperties[] = [
		{
			displayName: 'Scope',
			name: 'scope',
			type: 'hidden',
			// Full Drive access: a sync reads and writes files the app did not create.
			default: 'https://www.googleapis.com/auth/drive',
		},
	];
	test: ICredentialTestRequest = {
		request: { baseURL: 'https://www.googleapis.com/drive/v3', url: '/about', qs: { fields: 'user(emailAddress)' } },
	};
}
