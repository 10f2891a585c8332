import type { ICredentialsDecrypted, ICredentialTestFunctions, INodeCredentialTestResult } from 'n8n-workflow';
import { GoogleDriveProvider } from '../../../lib/providers/drive';
import { errorText } from '../helpers/errors';

/** Signs in with the service account's key and reads the top of its drive. */
export async function testGoogleServiceAccount(this: ICredentialTestFunctions, credential: ICredentialsDecrypted): Promise<INodeCredentialTestResult> {
	const data = credential.data ?? {};
	try {
		await GoogleDriveProvider.open({
			auth: { clientEmail: String(data.email ?? ''), privateKey: String(data.privateKey ?? '').replace(/\\n/g, '\n') },
			apiBaseUrl: process.env.CLOUDSYNC_GOOGLE_API_URL || undefined,
		});
		return { status: 'OK', message: 'Connection successful' };
	} catch (error) {
		return { status: 'Error', message: errorText(error) };
	}
}
