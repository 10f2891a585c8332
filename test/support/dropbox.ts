import { Pacer, type PacerOptions } from '../../lib/core/pacer';
import { DropboxProvider, type DropboxProviderOptions } from '../../lib/providers/dropbox';
import { DropboxEmulator } from '../emulators/dropbox';

/** A pacer that retries as the real one does, without the real one's waits, unless a server asks for one. */
export function quickPacer(options: PacerOptions = {}): Pacer {
	return new Pacer({ baseDelayMs: 1, maxDelayMs: 20, ...options });
}

/** A provider whose SDK talks to `emulator`, with the app credentials the emulator accepts. */
export function emulatedProvider(emulator: DropboxEmulator, options: Partial<DropboxProviderOptions> = {}): DropboxProvider {
	return new DropboxProvider({ auth: emulator.credentials, apiBaseUrl: emulator.baseUrl, pacer: quickPacer(), ...options });
}

export interface RealDropboxSettings {
	clientId: string;
	clientSecret: string;
	refreshToken: string;
	/** The folder the tests may use; each test works in a new folder inside it. */
	folder: string;
}

/** The real account the tests may use, when all its environment variables are set. */
export function realDropboxSettings(env: NodeJS.ProcessEnv = process.env): RealDropboxSettings | undefined {
	const clientId = env.CLOUDSYNC_TEST_DROPBOX_CLIENT_ID;
	const clientSecret = env.CLOUDSYNC_TEST_DROPBOX_CLIENT_SECRET;
	const refreshToken = env.CLOUDSYNC_TEST_DROPBOX_REFRESH_TOKEN;
	if (!clientId || !clientSecret || !refreshToken) return undefined;
	return { clientId, clientSecret, refreshToken, folder: env.CLOUDSYNC_TEST_DROPBOX_FOLDER || '/cloudsync-tests' };
}
