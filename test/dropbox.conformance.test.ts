import { randomBytes } from 'node:crypto';
import { DropboxProvider } from '../lib/providers/dropbox';
import { DropboxEmulator } from './emulators/dropbox';
import { runProviderConformance } from './conformance/suite';
import { emulatedProvider, realDropboxSettings } from './support/dropbox';

let emulator: DropboxEmulator | undefined;

afterAll(async () => {
	await emulator?.stop();
});

// One emulated account for the file; every case gets its own root folder in it, spelled with
// capitals and a space so the root's case and encoding are exercised too.
runProviderConformance('dropbox (emulator)', async () => {
	emulator ??= await DropboxEmulator.start();
	const account = emulator;
	const root = `/Conformance Root/Case ${randomBytes(4).toString('hex')}`;
	account.seedFolder(root);
	return { provider: emulatedProvider(account, { root }), cleanup: async () => account.remove(root) };
});

const real = realDropboxSettings();
if (real) {
	runProviderConformance('dropbox (real account)', async () => {
		const parent = new DropboxProvider({ auth: real, root: real.folder });
		const name = `run-${Date.now()}-${randomBytes(3).toString('hex')}`;
		await parent.mkdir(name);
		const provider = new DropboxProvider({ auth: real, root: `${real.folder}/${name}` });
		return { provider, cleanup: () => parent.delete(name, { recursive: true }) };
	});
} else {
	describe.skip('dropbox (real account): set CLOUDSYNC_TEST_DROPBOX_CLIENT_ID, _CLIENT_SECRET and _REFRESH_TOKEN (and optionally _FOLDER) to run', () => {
		it('runs the provider conformance suite against a real Dropbox account', () => undefined);
	});
}
