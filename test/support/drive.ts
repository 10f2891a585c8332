import type { DropboxEmulator } from '../emulators/dropbox';
import type { OneDriveEmulator } from '../emulators/onedrive';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { Transform, type Readable } from 'node:stream';
import { auth as googleAuth, drive as createDriveClient, type drive_v3 } from '@googleapis/drive';
import { Pacer, type PacerOptions } from '../../lib/core/pacer';
import { GoogleDriveProvider, type GoogleDriveProviderOptions } from '../../lib/providers/drive';
import { DriveEmulator, type OAuthClientCredentials } from '../emulators/drive';

export interface DriveFixture {
	emulator: DriveEmulator;
	auth: OAuthClientCredentials;
}

export async function startDrive(): Promise<DriveFixture> {
	const emulator = new DriveEmulator();
	await emulator.start();
	return { emulator, auth: emulator.addOAuthClient() };
}

/** A pacer whose waits are recorded and not spent, so that retry tests check delays without sleeping through them. */
export function recordingPacer(options: PacerOptions = {}): { pacer: Pacer; waits: number[] } {
	const waits: number[] = [];
	const pacer = new Pacer({
		baseDelayMs: 1,
		...options,
		sleep: async (ms) => {
			waits.push(ms);
		},
	});
	return { pacer, waits };
}

/** A provider rooted in a new, empty folder of the emulator's My Drive. */
export async function openInFreshFolder(
	{ emulator, auth }: DriveFixture,
	options: Partial<GoogleDriveProviderOptions> = {},
): Promise<{ provider: GoogleDriveProvider; folderId: string }> {
	const folderId = emulator.addFolder(emulator.myDriveRootId, `test-${randomBytes(4).toString('hex')}`);
	const provider = await GoogleDriveProvider.open({ auth, root: folderId, apiBaseUrl: emulator.baseUrl, pacer: recordingPacer().pacer, ...options });
	return { provider, folderId };
}

/** The official client signed in to the emulator, for checks that bypass the provider. */
export function sdkClient({ emulator, auth }: DriveFixture): { api: drive_v3.Drive; client: InstanceType<typeof googleAuth.OAuth2> } {
	const client = new googleAuth.OAuth2({
		clientId: auth.clientId,
		clientSecret: auth.clientSecret,
		endpoints: { oauth2TokenUrl: `${emulator.baseUrl}/token` },
		transporterOptions: { fetchImplementation: fetch, retryConfig: { retry: 0, noResponseRetries: 0 } },
	});
	client.setCredentials({ refresh_token: auth.refreshToken });
	return { api: createDriveClient({ version: 'v3', auth: client, rootUrl: `${emulator.baseUrl}/` }), client };
}

/** `folders` folders below `parentId`, each holding `files` small files named f0000.txt...; returns the folder ids. */
export function seedFlatTree(emulator: DriveEmulator, parentId: string, folders: number, files: number): string[] {
	const pad = (n: number) => String(n).padStart(4, '0');
	return Array.from({ length: folders }, (_, i) => {
		const folderId = emulator.addFolder(parentId, `d${pad(i)}`);
		for (let j = 0; j < files; j++) emulator.addFile(folderId, `f${pad(j)}.txt`, `file ${i}/${j}`);
		return folderId;
	});
}

/** Passes `source` through, telling `onBytes` how many bytes went by so far. */
export function tapped(source: Readable, onBytes: (bytes: number) => void): Readable {
	let bytes = 0;
	const tap = new Transform({
		transform(chunk: Buffer, _encoding, done) {
			bytes += chunk.length;
			onBytes(bytes);
			done(null, chunk);
		},
	});
	source.on('error', (error) => tap.destroy(error));
	return source.pipe(tap);
}

/** Every way an error can be shown or logged, to check that no secret is in any of them. */
export function renderings(error: unknown): string {
	const shape = error as { message?: string; hint?: string };
	return [String(error), shape.message, shape.hint, inspect(error, { depth: 10, showHidden: true }), JSON.stringify(error)].join('\n');
}

/** Every secret the emulated clouds handed out or their credentials hold: none may appear in an item, an error or saved data. */
export function cloudSecrets(drive: DriveFixture, dropbox: DropboxEmulator, onedrive: OneDriveEmulator): string[] {
	return [
		drive.auth.clientSecret,
		drive.auth.refreshToken,
		...drive.emulator.issuedAccessTokens(),
		dropbox.credentials.clientSecret,
		dropbox.credentials.refreshToken,
		...dropbox.issuedAccessTokens,
		onedrive.credentials.clientSecret,
		onedrive.credentials.refreshToken,
		...onedrive.issuedAccessTokens,
	];
}
