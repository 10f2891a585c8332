import { OneDriveProvider, type OneDriveProviderOptions } from '../../lib/providers/onedrive';
import { OneDriveEmulator } from '../emulators/onedrive';
import { quickPacer } from './dropbox';

/** A provider on `emulator`'s drive (or one of its SharePoint libraries), with the app credentials it accepts. */
export function emulatedOneDrive(emulator: OneDriveEmulator, options: Partial<OneDriveProviderOptions> = {}): Promise<OneDriveProvider> {
	return OneDriveProvider.open({ auth: emulator.credentials, apiBaseUrl: emulator.baseUrl, pacer: quickPacer(), ...options });
}

export interface RealOneDriveSettings {
	clientId: string;
	clientSecret?: string;
	refreshToken: string;
	tenant: string;
	/** The folder the tests may use; each test works in a new folder inside it. */
	folder: string;
}

/** The real account the tests may use, when its environment variables are set. */
export function realOneDriveSettings(env: NodeJS.ProcessEnv = process.env): RealOneDriveSettings | undefined {
	const clientId = env.CLOUDSYNC_TEST_ONEDRIVE_CLIENT_ID;
	const refreshToken = env.CLOUDSYNC_TEST_ONEDRIVE_REFRESH_TOKEN;
	if (!clientId || !refreshToken) return undefined;
	return {
		clientId,
		clientSecret: env.CLOUDSYNC_TEST_ONEDRIVE_CLIENT_SECRET || undefined,
		refreshToken,
		tenant: env.CLOUDSYNC_TEST_ONEDRIVE_TENANT || 'common',
		folder: env.CLOUDSYNC_TEST_ONEDRIVE_FOLDER || '/cloudsync-tests',
	};
}
