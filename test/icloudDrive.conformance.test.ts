import { randomBytes } from 'node:crypto';
import { ICloudDriveEmulator } from './emulators/icloudDrive';
import { runProviderConformance } from './conformance/suite';
import { emulatedICloudDrive } from './support/icloud';

let emulator: ICloudDriveEmulator | undefined;

afterAll(async () => {
	await emulator?.stop();
});

// One emulated account for the file; every case gets its own root folder in it, with capitals and a
// space so the root's case and encoding are exercised too.
runProviderConformance('icloud drive (emulator)', async () => {
	emulator ??= await ICloudDriveEmulator.start();
	const account = emulator;
	const root = `Conformance Root/Case ${randomBytes(4).toString('hex')}`;
	account.seedFolder(root);
	return { provider: await emulatedICloudDrive(account, { root: `/${root}` }), cleanup: async () => account.remove(root) };
});
