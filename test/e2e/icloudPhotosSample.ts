/**
 * The sample iCloud Photos library of the examples, for the e2e tests and `npm run demo`: the
 * Photos emulator (Apple's sign-in and CloudKit) with a few photos, the Apple ID credential already
 * trusted (the code entered once), and the environment that points n8n at it.
 */
import { ICloudPhotosEmulator } from '../emulators/icloudPhotos';
import { APPLE_USER, trustedSession } from '../support/icloud';
import type { CredentialJson } from './n8n';

export const APPLE_DEMO = { id: 'cloudSyncAppleDemo', name: 'Apple ID (demo)', type: 'cloudSyncAppleIdApi' } as const;
export const PHOTO_EXAMPLES = {
	byMonth: { file: 'icloud-photos-to-google-drive-by-month', id: 'csExampleIcpDrive', node: 'Copy iCloud Photos to Google Drive', driveFolder: 'Backups/iCloud Photos' },
	trigger: { file: 'new-icloud-photos-trigger', id: 'csExampleIcpTrig', node: 'New iCloud photos', localFolder: 'icloud-photos' },
} as const;

export interface SamplePhotos {
	emulator: ICloudPhotosEmulator;
	/** CLOUDSYNC_ICLOUD_URL: give it to n8n. */
	env: Record<string, string>;
	credential: CredentialJson;
	/** The files the library shows in the By Month layout, by path, with their bytes. */
	files(assets: string[], names: string[][]): Record<string, Buffer>;
	stop(): Promise<void>;
}

export async function startSamplePhotos(): Promise<SamplePhotos> {
	const emulator = await ICloudPhotosEmulator.start({}, [APPLE_USER]);
	const saved = await trustedSession(emulator.auth, emulator.baseUrl);
	return {
		emulator,
		env: { CLOUDSYNC_ICLOUD_URL: emulator.baseUrl },
		credential: { ...APPLE_DEMO, data: { appleId: APPLE_USER.appleId, password: APPLE_USER.password, codeDelivery: 'trustedDevice', verificationCode: '', sessionToken: JSON.stringify(saved) } },
		files: (assets, names) => libraryFiles(emulator, assets, names),
		stop: () => emulator.stop(),
	};
}

function libraryFiles(emulator: ICloudPhotosEmulator, assets: string[], names: string[][]): Record<string, Buffer> {
	const files: Record<string, Buffer> = {};
	assets.forEach((asset, index) => {
		const master = (emulator.assetRecord(asset).fields!.masterRef.value as { recordName: string }).recordName;
		const [still, video] = names[index];
		files[still] = emulator.bytesOf(master, 'resOriginalRes');
		if (video) files[video] = emulator.bytesOf(master, 'resOriginalVidComplRes');
	});
	return files;
}

/** A small library: a Live Photo, a RAW, and a video, in two months (in the Photos emulator, or one mounted on iCloud Drive's for the demo). */
export function seedSamplePhotos(photos: Pick<SamplePhotos, 'emulator'>): { assets: string[]; files: Record<string, Buffer> } {
	const at = (iso: string) => Date.parse(iso);
	const assets = photos.emulator.addPhotos([
		{ name: 'IMG_0001.HEIC', date: at('2025-07-14T09:30:00Z'), live: true },
		{ name: 'DSC_0100.DNG', date: at('2025-07-20T18:00:00Z') },
		{ name: 'IMG_0002.MOV', date: at('2026-01-02T12:00:00Z') },
	]);
	return { assets, files: libraryFiles(photos.emulator, assets, [['2025/07/IMG_0001.HEIC', '2025/07/IMG_0001.MOV'], ['2025/07/DSC_0100.DNG'], ['2026/01/IMG_0002.MOV']]) };
}
