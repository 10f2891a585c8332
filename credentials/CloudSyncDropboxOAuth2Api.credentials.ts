import type { ICredentialTestRequest, ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

export class CloudSyncDropboxOAuth2Api implements ICredentialType {
	name = 'cloudSyncDropboxOAuth2Api';
	extends = ['oAuth2Api'];
	displayName = 'Cloud Sync: Dropbox OAuth2 API';
	// The setup page of this package (docs/setup/), as published with it.
	documentationUrl = 'https://unpkg.com/n8n-nodes-cloudsync@latest/docs/setup/dropbox.md';
	icon: Icon = { light: 'file:dropbox.svg', dark: 'file:dropbox.dark.svg' };
	properties: INodeProperties[] = [
		{ displayName: 'Grant Type', name: 'grantType', type: 'hidden', default: 'authorizationCode' },
		{ displayName: 'Authorization URL', name: 'authUrl', type: 'hidden', default: 'https://www.dropbox.com/oauth2/authorize' },
		{ displayName: 'Access Token URL', name: 'accessTokenUrl', type: 'hidden', default: 'https://api.dropboxapi.com/oauth2/token' },
		{
			displayName: 'Scope',
			name: 'scope',
			type: 'hidden',
			default: 'account_info.read files.metadata.read files.metadata.write files.content.read files.content.write',
		},
		// Offline access gives a refresh token, so scheduled syncs keep working after the short-lived token expires.
		{ displayName: 'Auth URI Query Parameters', name: 'authQueryParameters', type: 'hidden', default: 'token_access_type=offline' },
		{ displayName: 'Authentication', name: 'authentication', type: 'hidden', default: 'header' },
	];
	test: ICredentialTestRequest = {
		request: { baseURL: 'https://api.dropboxapi.com/2', url: '/users/get_current_account', method: 'POST' },
	};
}
