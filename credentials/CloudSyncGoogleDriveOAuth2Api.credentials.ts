import type { ICredentialTestRequest, ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

export class CloudSyncGoogleDriveOAuth2Api implements ICredentialType {
	name = 'cloudSyncGoogleDriveOAuth2Api';
	extends = ['googleOAuth2Api'];
	displayName = 'Cloud Sync: Google Drive OAuth2 API';
	documentationUrl = 'https://developers.google.com/drive/api/guides/about-auth';
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
