import type { ICredentialsDecrypted, ICredentialTestFunctions, INodeCredentialTestResult } from 'n8n-workflow';
import { CloudSyncError } from '../../../lib';
import { GoogleDriveProvider } from '../../../lib/providers/drive';
import { emulatorUrl, serviceAccountKey } from '../transport/locations';
import { errorText } from '../helpers/errors';

/** Signs in with the service account's key and reads the top of its drive; a failure says what to change. */
export async function testGoogleServiceAccount(this: ICredentialTestFunctions, credential: ICredentialsDecrypted): Promise<INodeCredentialTestResult> {
	try {
		await GoogleDriveProvider.open({ auth: serviceAccountKey(credential.data ?? {}), apiBaseUrl: emulatorUrl('google') });
		return { status: 'OK', message: 'Connection successful' };
	} catch (error) {
		const hint = error instanceof CloudSyncError ? error.hint : undefined;
		return { status: 'Error', message: hint ? `${errorText(error)}. ${hint}` : errorText(error) };
	}
}
