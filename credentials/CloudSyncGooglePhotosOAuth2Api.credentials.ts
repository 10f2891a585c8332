import type { ICredentialTestRequest, ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

export class CloudSyncGooglePhotosOAuth2Api implements ICredentialType {
	name = 'cloudSyncGooglePhotosOAuth2Api';
	extends = ['googleOAuth2Api'];
	displayName = 'Cloud Sync: Google Photos OAuth2 API';
	documentationUrl = 'https://unpkg.com/n8n-nodes-cloudsync@latest/docs/setup/google-photos.md';
	icon: Icon = { light: 'file:googlePhotos.svg', dark: 'file:googlePhotos.dark.svg' };
	properties: INodeProperties[] = [
		{
			displayName: 'Scope',
			name: 'scope',
			type: 'hidden',
			// What the Library API still grants since March 2025: add photos and albums, and read back only what this app made.
			default: 'https://www.googleapis.com/auth/photoslibrary.appendonly https://www.googleapis.com/auth/photoslibrary.readonly.appcreateddata',
		},
		{
			displayName:
				'Google Photos lets apps add photos, but read, list and change only what they added themselves, and never delete. Use your own Google Cloud project with the Photos Library API enabled: its daily quota of 10,000 requests is shared by everything signed in through it.',
			name: 'notice',
			type: 'notice',
			default: '',
		},
	];
	test: ICredentialTestRequest = {
		request: { baseURL: 'https://photoslibrary.googleapis.com/v1', url: '/albums', qs: { pageSize: 1, excludeNonAppCreatedData: true } },
	};
}
