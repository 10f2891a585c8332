import { randomBytes } from 'node:crypto';
import { OneDriveProvider } from '../lib/providers/onedrive';
import { OneDriveEmulator } from './emulators/onedrive';
import { runProviderConformance } from './conformance/suite';
import { emulatedOneDrive, realOneDriveSettings } from './support/onedrive';

let emulator: OneDriveEmulator | undefined;
let personal: OneDriveEmulator | undefined;

afterAll(async () => {
	await emulator?.stop();
	await personal?.stop();
});

// One emulated drive for the file; every case gets its own root folder in it, spelled with capitals
// and a space so the root's case and encoding are exercised too.
runProviderConformance('onedrive (emulator)', async () => {
	emulator ??= await OneDriveEmulator.start({ driveType: 'business', unorderedDelta: true });
	const account = emulator;
	const root = `Conformance Root/Case ${randomBytes(4).toString('hex')}`;
	account.seedFolder(root);
	return { provider: await emulatedOneDrive(account, { root: `/${root}` }), cleanup: async () => account.remove(root) };
});

// Personal's variants of the unconfirmed facts: delta only at the drive's root (the provider walks
// folders instead), copies that ignore conflictBehavior (the provider removes the file in the way),
// and (on the business drive above) delta pages that bring items before their folders.
runProviderConformance('onedrive personal (emulator)', async () => {
	personal ??= await OneDriveEmulator.start({ driveType: 'personal', deltaOnlyAtRoot: true, copyIgnoresConflictBehavior: true, copyPolls: 3 });
	const account = personal;
	const root = `Case ${randomBytes(4).toString('hex')}`;
	account.seedFolder(root);
	return { provider: await emulatedOneDrive(account, { root: `/${root}` }), cleanup: async () => account.remove(root) };
});

const real = realOneDriveSettings();
if (real) {
	runProviderConformance('onedrive (real account)', async () => {
		const auth = { clientId: real.clientId, clientSecret: real.clientSecret, refreshToken: real.refreshToken };
		const parent = await OneDriveProvider.open({ auth, tenant: real.tenant, root: real.folder });
		const name = `run-${Date.now()}-${randomBytes(3).toString('hex')}`;
		await parent.mkdir(name);
		const provider = await OneDriveProvider.open({ auth, tenant: real.tenant, root: `${real.folder}/${name}` });
		return { provider, cleanup: () => parent.delete(name, { recursive: true }) };
	});
} else {
	describe.skip('onedrive (real account): set CLOUDSYNC_TEST_ONEDRIVE_CLIENT_ID and _REFRESH_TOKEN (and optionally _CLIENT_SECRET, _TENANT, _FOLDER) to run', () => {
		it('runs the provider conformance suite against a real OneDrive', () => undefined);
	});
}
