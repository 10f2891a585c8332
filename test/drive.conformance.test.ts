import { randomBytes } from 'node:crypto';
import { GoogleDriveProvider, type GoogleDriveOAuth } from '../lib/providers/drive';
import { Pacer } from '../lib/core/pacer';
import { runProviderConformance } from './conformance/suite';
import { DriveEmulator, type OAuthClientCredentials } from './emulators/drive';

const emulator = new DriveEmulator();
let credentials: Promise<OAuthClientCredentials> | undefined;

afterAll(() => emulator.stop());

runProviderConformance('google drive (emulator)', async () => {
	credentials ??= emulator.start().then(() => emulator.addOAuthClient());
	const auth = await credentials;
	const folderId = emulator.addFolder(emulator.myDriveRootId, `conformance-${randomBytes(4).toString('hex')}`);
	const provider = await GoogleDriveProvider.open({ auth, root: folderId, apiBaseUrl: emulator.baseUrl });
	return { provider, cleanup: async () => emulator.remove(folderId) };
});

const account = {
	clientId: process.env.CLOUDSYNC_TEST_DRIVE_CLIENT_ID,
	clientSecret: process.env.CLOUDSYNC_TEST_DRIVE_CLIENT_SECRET,
	refreshToken: process.env.CLOUDSYNC_TEST_DRIVE_REFRESH_TOKEN,
};
const folderId = process.env.CLOUDSYNC_TEST_DRIVE_FOLDER_ID;

if (account.clientId && account.clientSecret && account.refreshToken) {
	const auth = account as GoogleDriveOAuth;
	// One pacer for the whole suite, so that a rate limit slows every test down, not only the one that met it.
	const pacer = new Pacer();
	let base: Promise<GoogleDriveProvider> | undefined;
	runProviderConformance('google drive (real account)', async () => {
		base ??= GoogleDriveProvider.open({ auth, root: folderId, pacer });
		const parent = await base;
		const name = `cloudsync-conformance-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
		await parent.mkdir(name);
		const { id } = await parent.stat(name);
		const provider = await GoogleDriveProvider.open({ auth, root: id, pacer, trash: false });
		return { provider, cleanup: () => parent.delete(name, { recursive: true }) };
	});
} else {
	describe.skip('google drive (real account): set CLOUDSYNC_TEST_DRIVE_CLIENT_ID, CLOUDSYNC_TEST_DRIVE_CLIENT_SECRET and CLOUDSYNC_TEST_DRIVE_REFRESH_TOKEN (optionally CLOUDSYNC_TEST_DRIVE_FOLDER_ID) to run', () => {
		it('runs the provider conformance suite against Google Drive', () => undefined);
	});
}
