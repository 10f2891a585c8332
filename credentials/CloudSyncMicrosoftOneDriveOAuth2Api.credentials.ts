import type { ICredentialTestRequest, ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

const TENANT = '{{ $self["tenant"] === "specific" ? $self["tenantId"] : $self["tenant"] }}';

export class CloudSyncMicrosoftOneDriveOAuth2Api implements ICredentialType {
	name = 'cloudSyncMicrosoftOneDriveOAuth2Api';
	extends = ['oAuth2Api'];
	displayName = 'Cloud Sync: Microsoft OneDrive / SharePoint OAuth2 API';
	// The setup page of this package (docs/setup/), as published with it.
	documentationUrl = 'https://unpkg.com/n8n-nodes-cloudsync@latest/docs/setup/onedrive.md';
	icon: Icon = { light: 'file:onedrive.svg', dark: 'file:onedrive.dark.svg' };
	properties: INodeProperties[] = [
		{ displayName: 'Grant Type', name: 'grantType', type: 'hidden', default: 'authorizationCode' },
		{
			displayName: 'Account Types',
			name: 'tenant',
			type: 'options',
			options: [
				{ name: 'Any Microsoft Account (Personal, Work or School)', value: 'common' },
				{ name: 'Work or School Accounts Only', value: 'organizations' },
				{ name: 'Personal Accounts Only', value: 'consumers' },
				{ name: 'One Organisation (Tenant ID)', value: 'specific' },
			],
			default: 'common',
			description: "Who may sign in; must match the app registration's supported account types in Microsoft Entra ID",
		},
		{
			displayName: 'Tenant ID',
			name: 'tenantId',
			type: 'string',
			default: '',
			placeholder: '00000000-0000-0000-0000-000000000000 or contoso.onmicrosoft.com',
			displayOptions: { show: { tenant: ['specific'] } },
		},
		{
			displayName: 'SharePoint Sites',
			name: 'sharePoint',
			type: 'boolean',
			default: false,
			description: 'Whether to also ask for Sites.ReadWrite.All, to sync document libraries of SharePoint sites (work and school accounts)',
		},
		{ displayName: 'Authorization URL', name: 'authUrl', type: 'hidden', default: `=https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/authorize` },
		{ displayName: 'Access Token URL', name: 'accessTokenUrl', type: 'hidden', default: `=https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token` },
		// offline_access gives a refresh token, so scheduled syncs keep working after the one-hour access token.
		{
			displayName: 'Scope',
			name: 'scope',
			type: 'hidden',
			default: '={{ "openid offline_access Files.ReadWrite.All" + ($self["sharePoint"] ? " Sites.ReadWrite.All" : "") }}',
		},
		{ displayName: 'Auth URI Query Parameters', name: 'authQueryParameters', type: 'hidden', default: 'response_mode=query' },
		{ displayName: 'Authentication', name: 'authentication', type: 'hidden', default: 'body' },
	];
	test: ICredentialTestRequest = {
		request: { baseURL: 'https://graph.microsoft.com/v1.0', url: '/me/drive' },
	};
}
