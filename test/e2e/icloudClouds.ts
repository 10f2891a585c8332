/**
 * The iCloud Drive of the iCloud example (examples/icloud-drive-and-google-drive-two-way.json), for
 * the e2e tests and `npm run demo`: the iCloud Drive emulator (with Apple's sign-in) on 127.0.0.1,
 * seeded with /Projects, the example's Google Drive folder seeded beside it, and the Apple ID
 * credential as a person first saves it (Apple ID and password, no code yet) or, for the demo's
 * one-shot run, as it is after the code was entered once.
 */
import { appleEndpoints, beginSignIn, completeSignIn } from '../../lib/providers/icloud/auth';
import { ICloudDriveEmulator } from '../emulators/icloudDrive';
import type { DriveEmulator } from '../emulators/drive';
import { SEED_TIME, sampleBytes } from './clouds';
import type { CredentialJson } from './n8n';

export const ICLOUD_EXAMPLE = { file: 'icloud-drive-and-google-drive-two-way', id: 'csExampleICloud2W', node: 'Two-way sync iCloud Drive and Google Drive' } as const;
export const APPLE_CREDENTIAL = { id: 'cloudSyncAppleDemo', name: 'Apple ID (demo)', type: 'cloudSyncAppleIdApi' } as const;
export const ICLOUD_FOLDERS = { icloud: 'Projects', drive: 'Projects (iCloud)' } as const;
export const ICLOUD_SAMPLE = {
	icloud: { 'plan.md': Buffer.from('# Plan\n- v1\n'), 'photos/team.jpg': sampleBytes('team.jpg', 30 * 1024) } as Record<string, Buffer>,
	drive: { 'budget.csv': Buffer.from('item,cost\nlaptop,1200\n') } as Record<string, Buffer>,
};

export interface ICloudSample {
	icloud: ICloudDriveEmulator;
	/** CLOUDSYNC_ICLOUD_URL: give it to n8n. */
	env: Record<string, string>;
	/** The Apple ID credential with the Apple ID and password only: the first run asks for a code. */
	credential: CredentialJson;
	/** The same credential after a person entered the code once (signed in here, the code read off the emulator). */
	trustedCredential(): Promise<CredentialJson>;
	stop(): Promise<void>;
}

export async function startICloudSample(drive: DriveEmulator): Promise<ICloudSample> {
	const icloud = await ICloudDriveEmulator.start();
	for (const [file, content] of Object.entries(ICLOUD_SAMPLE.icloud)) icloud.seedFile(`${ICLOUD_FOLDERS.icloud}/${file}`, content, SEED_TIME);
	const driveFolder = drive.folderAt(ICLOUD_FOLDERS.drive);
	for (const [file, content] of Object.entries(ICLOUD_SAMPLE.drive)) drive.addFile(driveFolder, file, content, { modifiedTime: SEED_TIME, mimeType: 'text/csv' });
	const data = { appleId: icloud.user.appleId, password: icloud.user.password };
	return {
		icloud,
		env: { CLOUDSYNC_ICLOUD_URL: icloud.baseUrl },
		credential: { ...APPLE_CREDENTIAL, data },
		async trustedCredential() {
			const options = { ...data, endpoints: appleEndpoints(icloud.baseUrl) };
			const started = await beginSignIn(options);
			const session = 'session' in started ? started.session : await completeSignIn(started.pending, icloud.auth.lastCode(icloud.user.appleId)!, options);
			return { ...APPLE_CREDENTIAL, data: { ...data, sessionToken: JSON.stringify(session.saved()) } };
		},
		stop: () => icloud.stop(),
	};
}
