import type { ICredentialDataDecryptedObject, ICredentialTestRequest, ICredentialType, IDataObject, IHttpRequestHelper, IHttpRequestOptions, Icon, INodeProperties } from 'n8n-workflow';
import { appleIdEndpoints, refreshAppleIdSession, savedSession } from '../nodes/CloudSync/transport/appleId';

/**
 * An Apple ID for iCloud Drive. Apple has no API keys: the account password signs in (SRP), and a
 * 6-digit code from one of the person's devices is needed once about every 30 days. The code is typed
 * in this dialog (Save, type the code, Save again); the session Apple then trusts is kept in the
 * hidden `sessionToken` field, which n8n fills in through preAuthentication and stores encrypted.
 */
export class CloudSyncAppleIdApi implements ICredentialType {
	name = 'cloudSyncAppleIdApi';
	displayName = 'Cloud Sync: Apple ID (iCloud) API';
	// The setup page of this package (docs/setup/), as published with it.
	documentationUrl = 'https://unpkg.com/n8n-nodes-cloudsync@latest/docs/setup/icloud.md';
	icon: Icon = { light: 'file:icloud.svg', dark: 'file:icloud.dark.svg' };
	properties: INodeProperties[] = [
		{
			displayName: 'Apple ID',
			name: 'appleId',
			type: 'string',
			placeholder: 'name@example.com',
			default: '',
			required: true,
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'The Apple ID password (app-specific passwords do not work for iCloud Drive)',
		},
		{
			displayName: 'Send the Code To',
			name: 'codeDelivery',
			type: 'options',
			options: [
				{ name: 'My iPhone, iPad or Mac', value: 'trustedDevice' },
				{ name: 'My Trusted Phone Number (SMS)', value: 'sms' },
			],
			default: 'trustedDevice',
		},
		{
			displayName: 'Verification Code',
			name: 'verificationCode',
			type: 'string',
			default: '',
			placeholder: '123456',
			description:
				'Leave empty and click Save: Apple sends a 6-digit code. Type it here and click Save again within 10 minutes. Needed again only when Apple stops trusting this n8n (about every 30 days); a run then says so.',
		},
		{
			displayName: 'Session Token',
			name: 'sessionToken',
			type: 'hidden',
			typeOptions: { password: true, expirable: true },
			default: '',
		},
	];

	async preAuthentication(this: IHttpRequestHelper, credentials: ICredentialDataDecryptedObject): Promise<IDataObject> {
		return refreshAppleIdSession(credentials);
	}

	/** The test's one request: setup's validate, with the session's cookies. */
	async authenticate(credentials: ICredentialDataDecryptedObject, requestOptions: IHttpRequestOptions): Promise<IHttpRequestOptions> {
		const cookies = Object.entries(savedSession(credentials)?.cookies ?? {})
			.map(([name, value]) => `${name}=${value}`)
			.join('; ');
		return { ...requestOptions, url: `${appleIdEndpoints().setup}/validate`, headers: { ...requestOptions.headers, Cookie: cookies, Origin: 'https://www.icloud.com' } };
	}

	test: ICredentialTestRequest = {
		request: { method: 'POST', url: '/validate', body: 'null' },
		rules: [{ type: 'responseCode', properties: { value: 421, message: 'Apple did not accept the new session: click Save again.' } }],
	};
}
