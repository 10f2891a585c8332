import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { hashStream, LocalProvider, Pacer, sync, type Provider } from '../lib';
import { GoogleDriveProvider } from '../lib/providers/drive';
import type { EmulatorServer } from './emulators/core/server';
import { DriveEmulator } from './emulators/drive';
import { DropboxEmulator } from './emulators/dropbox';
import { OneDriveEmulator } from './emulators/onedrive';
import { ONEDRIVE_FRAGMENT_UNIT } from '../lib/providers/onedrive';
import { pseudoRandomBytes, fingerprint } from './conformance/suite';
import { emulatedProvider } from './support/dropbox';
import { emulatedOneDrive } from './support/onedrive';
import { s3Provider, startS3FaultProxy, startS3Server, type S3TestServer } from './support/s3';
import { removeTempDirs, tempDir } from './support/trees';

const MiB = 1024 * 1024;

/**
 * A large local file's chunks are read straight into buffers the upload reuses (core/fill.ts, the
 * kit's ChunkReader): a chunk whose request fails must be sent again from bytes that no later read
 * overwrote. Each cloud gets a file of several chunks through a sync from a local folder, as a user
 * runs it, while its chunk requests fail in the ways the emulators know; what arrives must be the file.
 */
interface Case {
	name: string;
	size: number;
	open(): Promise<{ destination: Provider; server: EmulatorServer; chunkRoute: RegExp; stop(): Promise<void> }>;
}

const pacer = () => new Pacer({ baseDelayMs: 1, maxDelayMs: 5, retriesPerRequest: 20, retriesPerRun: 10_000 });

const cases: Case[] = [
	{
		// Parts go up three at a time: a part retried while later parts are read into the buffers finished ones gave back.
		name: 'S3, parts in flight',
		size: 26 * MiB + 4321,
		open: async () => {
			const s3: S3TestServer = await startS3Server();
			const proxy = await startS3FaultProxy(s3.endpoint, 11);
			const destination = await s3Provider({ ...s3.connection, endpoint: proxy.baseUrl }, { prefix: 'filled', partSize: 5 * MiB, queueSize: 3, pacer: pacer() });
			return { destination, server: proxy, chunkRoute: /^PUT /, stop: async () => (await proxy.stop(), await s3.stop()) };
		},
	},
	{
		name: 'OneDrive, upload session fragments',
		size: 12 * ONEDRIVE_FRAGMENT_UNIT + 777,
		open: async () => {
			const emulator = await OneDriveEmulator.start({ seed: 11 });
			const destination = await emulatedOneDrive(emulator, { chunkSize: 3 * ONEDRIVE_FRAGMENT_UNIT, pacer: pacer() });
			return { destination, server: emulator.server, chunkRoute: /^PUT \/upload\//, stop: () => emulator.stop() };
		},
	},
	{
		name: 'Dropbox, upload session chunks',
		size: 18 * MiB + 99,
		open: async () => {
			const emulator = await DropboxEmulator.start({ seed: 11 });
			emulator.seedFolder('/filled');
			const destination = emulatedProvider(emulator, { root: '/filled', chunkSize: 4 * MiB, pacer: pacer() });
			return { destination, server: emulator.server, chunkRoute: /upload_session\/(start|append_v2)$/, stop: () => emulator.stop() };
		},
	},
	{
		name: 'Google Drive, resumable upload chunks',
		size: 5 * MiB + 5,
		open: async () => {
			const emulator = new DriveEmulator({ seed: 11 });
			await emulator.start();
			const folderId = emulator.addFolder(emulator.myDriveRootId, 'filled');
			const destination = await GoogleDriveProvider.open({ auth: emulator.addOAuthClient(), root: folderId, apiBaseUrl: emulator.baseUrl, uploadChunkBytes: MiB, pacer: pacer() });
			return { destination, server: emulator.server, chunkRoute: /^PUT \/upload\/drive\/v3\/files/, stop: () => emulator.stop() };
		},
	},
];

afterAll(() => removeTempDirs());

describe.each(cases)('a local file sent to $name through reused buffers while chunk requests fail', ({ size, open }) => {
	it('arrives with the same bytes, every failed chunk sent again from what was read for it', async () => {
		const folder = await tempDir('filled');
		const data = pseudoRandomBytes(size, `filled ${size}`);
		await fs.writeFile(nodePath.join(folder, 'big.bin'), data);
		const { destination, server, chunkRoute, stop } = await open();
		try {
			// Refused, cut off after the cloud took the chunk, or answered with a wait: each sends the chunk again.
			server.inject({ route: chunkRoute, kind: 'server-error', probability: 0.3, times: 3 });
			server.inject({ route: chunkRoute, kind: 'drop-after-commit', probability: 0.3, times: 2 });
			server.inject({ route: chunkRoute, kind: 'reset', probability: 0.3, times: 2 });
			server.inject({ route: chunkRoute, kind: 'rate-limit', probability: 0.3, times: 2, retryAfterSeconds: 0 });
			const report = await sync(await LocalProvider.open(folder), destination, { mode: 'copy', pacer: pacer() });
			expect(report).toMatchObject({ status: 'success', added: 1 });
			const failed = server.log.filter((entry) => entry.fault !== undefined && chunkRoute.test(`${entry.method} ${entry.path}`));
			expect(failed.length).toBeGreaterThan(1);
			server.clearFaults();
			const stored = await hashStream(await destination.read('big.bin'), ['sha256']);
			expect({ length: stored.bytes, sha256: stored.hashes.sha256 }).toEqual(fingerprint(data));
		} finally {
			await stop();
		}
	});
});
