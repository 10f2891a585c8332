import { itResumesAfterKills } from './support/itResumesAfterKills';
import { startDrive, type DriveFixture } from './support/drive';
import { DriveEmulator } from './emulators/drive';
import { bufferStream, fingerprint, pseudoRandomBytes } from './conformance/suite';
import { OneDriveEmulator } from './emulators/onedrive';
import { OneDriveProvider } from '../lib/providers/onedrive';
import { GoogleDriveProvider } from '../lib/providers/drive';
import { UploadSessions } from '../lib/state/uploads';
import { MemoryStateStore } from '../lib/state/state';
import { sync } from '../lib/modes/oneWay';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateMultipartUploadCommand, ListPartsCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { LocalProvider } from '../lib/providers/local';
import type { WebDavProvider } from '../lib/providers/webdav';
import { WebDavEmulator } from './emulators/webdav';
import { emulatedWebDav } from './support/webdav';
import { contiguousParts, type S3Provider } from '../lib/providers/s3';
import { ageUpload, s3Provider, startS3FaultProxy, startS3Server, type S3TestServer } from './support/s3';
import type { EmulatorServer } from './emulators/core/server';

const MiB = 1024 * 1024;
// Small enough for every `npm test`, with small chunks; the 1 GiB run of the same scenario is test/e2e/resume.e2e.test.ts.

// S3 sends one part at a time here: a kill loses the parts in flight, and four 5 MiB parts would be most of the 20% allowed.
itResumesAfterKills(96 * MiB, 3, { drive: 2 * MiB, dropbox: 4 * MiB, onedrive: 8 * 327_680, s3: 5 * MiB, nextcloud: 5 * MiB }, 1);

describe('a resumed upload whose source is a cloud that lists the same hash', () => {
	let source: DriveFixture;
	let destination: DriveFixture;
	beforeAll(async () => {
		source = await startDrive();
		// Another seed: another account, whose ids differ from the source's.
		const emulator = new DriveEmulator({ seed: 2 });
		await emulator.start();
		destination = { emulator, auth: emulator.addOAuthClient() };
	});
	afterAll(async () => {
		await source.emulator.stop();
		await destination.emulator.stop();
	});

	it('reads only the rest of the source (a ranged read) and checks the whole file by the md5 both sides list', async () => {
		const size = 24 * MiB;
		const content = pseudoRandomBytes(size, 'ranged-resume');
		const sourceFolder = source.emulator.addFolder(source.emulator.myDriveRootId, 'from');
		source.emulator.addFile(sourceFolder, 'big.bin', content);
		const destinationFolder = destination.emulator.addFolder(destination.emulator.myDriveRootId, 'to');
		const state = new MemoryStateStore();
		const open = async () => {
			const uploads = new UploadSessions(state);
			const to = await GoogleDriveProvider.open({ auth: destination.auth, root: destinationFolder, apiBaseUrl: destination.emulator.baseUrl, uploadChunkBytes: 2 * MiB });
			to.keepUploads(uploads);
			const from = await GoogleDriveProvider.open({ auth: source.auth, root: sourceFolder, apiBaseUrl: source.emulator.baseUrl });
			return { from, to, uploads };
		};

		// The first run is cancelled once 10 MiB reached the destination.
		const first = await open();
		const cancel = new AbortController();
		destination.emulator.server.onReceive = (total) => total > 10 * MiB && cancel.abort();
		const cancelled = await sync(first.from, first.to, { mode: 'copy', signal: cancel.signal });
		destination.emulator.server.onReceive = undefined;
		await first.uploads.flush();
		expect(cancelled.status).toBe('cancelled');
		expect(await first.uploads.list()).toHaveLength(1);

		source.emulator.clearLog();
		const second = await open();
		const report = await sync(second.from, second.to, { mode: 'copy' });
		expect(report).toMatchObject({ status: 'success', added: 1 });

		const downloads = source.emulator.server.requests(/^GET \/drive\/v3\/files\/[^/]+$/).filter((entry) => entry.query.includes('alt=media'));
		const ranges = downloads.map((entry) => source.emulator.headersOf(entry)?.range);
		expect(ranges).toEqual([expect.stringMatching(/^bytes=\d+-\d+$/)]);
		const resumedFrom = Number(/^bytes=(\d+)-/.exec(ranges[0]!)![1]);
		expect(resumedFrom).toBeGreaterThanOrEqual(8 * MiB);
		const stored = destination.emulator.filesAt('to/big.bin');
		expect(stored).toHaveLength(1);
		expect(fingerprint(destination.emulator.content(stored[0].id!))).toEqual(fingerprint(content));
		expect(destination.emulator.server.bytesReceived).toBeLessThan(1.2 * size);
		expect(await second.uploads.list()).toEqual([]);
	});
});

describe('a saved session for another version of the file', () => {
	let onedrive: OneDriveEmulator;
	beforeAll(async () => {
		onedrive = await OneDriveEmulator.start({ seed: 16 });
	});
	afterAll(() => onedrive.stop());

	it('is not resumed: OneDrive is told to drop it, and the new version is sent whole', async () => {
		onedrive.seedFolder('stale');
		const uploads = new UploadSessions(new MemoryStateStore());
		const provider = await OneDriveProvider.open({ auth: onedrive.credentials, root: '/stale', apiBaseUrl: onedrive.baseUrl, chunkSize: 4 * 327_680 });
		provider.keepUploads(uploads);
		const first = pseudoRandomBytes(6 * MiB, 'first version');
		const write = (data: Buffer, modTime: number, signal?: AbortSignal) =>
			provider.write('video.bin', bufferStream(data), { size: data.length, modTime, signal, from: async (offset) => bufferStream(data.subarray(offset)) });

		const cancel = new AbortController();
		const start = onedrive.server.bytesReceived;
		onedrive.server.onReceive = (total) => total - start > 2 * MiB && cancel.abort();
		await expect(write(first, 1_700_000_000_000, cancel.signal)).rejects.toThrow();
		onedrive.server.onReceive = undefined;
		const [abandoned] = await uploads.list();
		expect(abandoned).toMatchObject({ path: 'video.bin', modTime: 1_700_000_000_000 });

		const second = pseudoRandomBytes(6 * MiB, 'second version');
		onedrive.server.log.length = 0;
		onedrive.fragments.length = 0;
		await write(second, 1_700_000_100_000);

		const uploadPath = new URL(abandoned.session).pathname;
		expect(onedrive.server.requests().filter((entry) => entry.path === uploadPath).map((entry) => entry.method)).toEqual(['DELETE']);
		expect(onedrive.fragments[0]).toMatchObject({ start: 0 });
		expect(fingerprint(onedrive.content('stale/video.bin')!)).toEqual(fingerprint(second));
		expect(await uploads.list()).toEqual([]);
	});
});

describe('an S3 multipart upload resumed in a later run', () => {
	let s3: S3TestServer;
	let proxy: EmulatorServer;
	beforeAll(async () => {
		s3 = await startS3Server();
		proxy = await startS3FaultProxy(s3.endpoint);
	});
	afterAll(async () => {
		await proxy.stop();
		await s3.stop();
	});

	const open = (uploads: UploadSessions, prefix: string) => {
		const provider = s3Provider({ ...s3.connection, endpoint: proxy.baseUrl }, { prefix, partSize: 5 * MiB, queueSize: 2 });
		return provider.then((opened) => (opened.keepUploads(uploads), opened));
	};
	const write = (provider: S3Provider, data: Buffer, modTime: number, signal?: AbortSignal) =>
		provider.write('video.bin', bufferStream(data), { size: data.length, modTime, signal, from: async (offset) => bufferStream(data.subarray(offset)) });
	const partsSent = (from: number) =>
		proxy.log
			.slice(from)
			.filter((entry) => entry.method === 'PUT' && entry.query.includes('partNumber='))
			.map((entry) => Number(new URLSearchParams(entry.query).get('partNumber')));
	const stored = async (prefix: string) => (await s3Provider(s3.connection, { prefix })).read('video.bin').then(async (stream) => {
		const chunks: Buffer[] = [];
		for await (const chunk of stream) chunks.push(chunk as Buffer);
		return Buffer.concat(chunks);
	});

	it('asks S3 which parts it holds (ListParts), sends only the parts after them, and completes the same upload', async () => {
		const state = new MemoryStateStore();
		const data = pseudoRandomBytes(42 * MiB, 's3 resume');
		const cancel = new AbortController();
		const start = proxy.bytesReceived;
		proxy.onReceive = (total) => total - start > 17 * MiB && cancel.abort();
		const first = new UploadSessions(state);
		await expect(write(await open(first, 'resumed'), data, 1_700_000_000_000, cancel.signal)).rejects.toThrow();
		proxy.onReceive = undefined;
		await first.flush();
		const [kept] = await first.list();
		const { upload: uploadId } = JSON.parse(kept.session) as { upload: string };

		// What the kernel had buffered of the cancelled run still arrives after it: counted before the second run starts.
		for (let last = -1; last !== proxy.bytesReceived; ) {
			last = proxy.bytesReceived;
			await new Promise((resolve) => setTimeout(resolve, 200));
		}
		const before = proxy.log.length;
		const bytesBefore = proxy.bytesReceived;
		const second = new UploadSessions(state);
		const entry = await write(await open(second, 'resumed'), data, 1_700_000_000_000);

		const resumedParts = partsSent(before).sort((x, y) => x - y);
		// Parts of the first run that S3 holds (two at least: 17 MiB arrived, two 5 MiB parts at a time) are not sent again.
		expect(resumedParts[0]).toBeGreaterThanOrEqual(2);
		expect(resumedParts).toEqual(Array.from({ length: 10 - resumedParts[0] }, (_, index) => resumedParts[0] + index));
		const calls = proxy.log.slice(before).map((logged) => `${logged.method} ${new URLSearchParams(logged.query).get('uploadId') === uploadId ? 'same upload' : logged.query}`);
		expect(calls).toContain('GET same upload');
		expect(calls.filter((call) => call.startsWith('POST'))).toEqual(['POST same upload']);
		expect(proxy.bytesReceived - bytesBefore).toBeLessThan(data.length - (resumedParts[0] - 1) * 5 * MiB + MiB);
		expect(entry.size).toBe(data.length);
		expect(fingerprint(await stored('resumed'))).toEqual(fingerprint(data));
		expect(await second.list()).toEqual([]);
	});

	it('aborts the upload saved for another version of the file (AbortMultipartUpload), and sends the new version whole', async () => {
		const uploads = new UploadSessions(new MemoryStateStore());
		const provider = await open(uploads, 'stale');
		const cancel = new AbortController();
		const start = proxy.bytesReceived;
		proxy.onReceive = (total) => total - start > 12 * MiB && cancel.abort();
		await expect(write(provider, pseudoRandomBytes(24 * MiB, 'first version'), 1_700_000_000_000, cancel.signal)).rejects.toThrow();
		proxy.onReceive = undefined;
		const [abandoned] = await uploads.list();
		const { upload: uploadId } = JSON.parse(abandoned.session) as { upload: string };

		const second = pseudoRandomBytes(24 * MiB, 'second version');
		const before = proxy.log.length;
		await write(provider, second, 1_700_000_100_000);

		const onOldUpload = proxy.log.slice(before).filter((entry) => new URLSearchParams(entry.query).get('uploadId') === uploadId);
		expect(onOldUpload.map((entry) => entry.method)).toEqual(['DELETE']);
		expect(partsSent(before).sort()).toEqual([1, 2, 3, 4, 5]);
		// S3 holds nothing of the old upload: asking for its parts is refused as for any upload that is gone.
		const client = (await s3Provider(s3.connection, { prefix: 'stale' })).client;
		await expect(client.send(new ListPartsCommand({ Bucket: 'test', Key: 'stale/video.bin', UploadId: uploadId }))).rejects.toMatchObject({ name: 'NoSuchUpload' });
		expect(fingerprint(await stored('stale'))).toEqual(fingerprint(second));
		expect(await uploads.list()).toEqual([]);
	});
});

describe('S3 multipart uploads no run resumes any more', () => {
	let s3: S3TestServer;
	beforeAll(async () => {
		s3 = await startS3Server();
	});
	afterAll(() => s3.stop());

	it('are aborted by the next run below its folder once older than a kept session; recent ones and other folders are left alone', async () => {
		const provider = await s3Provider(s3.connection, { prefix: 'backups' });
		const open = async (Key: string, days: number) => {
			const { UploadId } = await provider.client.send(new CreateMultipartUploadCommand({ Bucket: 'test', Key }));
			await provider.client.send(new UploadPartCommand({ Bucket: 'test', Key, UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 1) }));
			await ageUpload(s3, 'test', UploadId!, days);
			return { Key, UploadId: UploadId! };
		};
		const deletedAtSource = await open('backups/gone.bin', 8);
		const inProgress = await open('backups/video.bin', 1);
		const elsewhere = await open('other/old.bin', 30);
		const parts = (upload: { Key: string; UploadId: string }) =>
			provider.client.send(new ListPartsCommand({ Bucket: 'test', ...upload })).then((answer) => answer.Parts?.length, (error: { name: string }) => error.name);

		// What a run's housekeeping reports, as a sync does before it writes.
		const report = await sync(await LocalProvider.open(await mkdtemp(join(tmpdir(), 'cloudsync-empty-'))), provider, { mode: 'copy' });

		expect(report.notes).toContainEqual(expect.stringMatching(/^s3: aborted 1 multipart upload left unfinished for over 7 days \(backups\/gone\.bin\)/));
		expect(await parts(deletedAtSource)).toBe('NoSuchUpload');
		expect(await parts(inProgress)).toBe(1);
		expect(await parts(elsewhere)).toBe(1);
		expect((await sync(await LocalProvider.open(await mkdtemp(join(tmpdir(), 'cloudsync-empty-'))), provider, { mode: 'copy' })).notes.join('\n')).not.toMatch(/aborted/);
	});
});

describe('a Nextcloud chunked upload resumed in a later run', () => {
	let nextcloud: WebDavEmulator;
	beforeAll(async () => {
		nextcloud = await WebDavEmulator.start({ flavour: 'nextcloud' });
	});
	afterAll(() => nextcloud.stop());

	const chunkSize = 5 * 1000 * 1000;
	const write = (provider: WebDavProvider, data: Buffer, modTime: number, signal?: AbortSignal) =>
		provider.write('film/video.bin', bufferStream(data), { size: data.length, modTime, signal, from: async (offset) => bufferStream(data.subarray(offset)) });
	const cancelAfter = async (provider: WebDavProvider, data: Buffer, bytes: number) => {
		const cancel = new AbortController();
		const start = nextcloud.server.bytesReceived;
		nextcloud.server.onReceive = (total) => total - start > bytes && cancel.abort();
		await expect(write(provider, data, 1_700_000_000_000, cancel.signal)).rejects.toThrow();
		nextcloud.server.onReceive = undefined;
		// A chunk the client had written out whole before the cancel may still be arriving: the server settles first.
		await nextcloud.server.idle();
	};
	const chunksPut = (from: number) =>
		nextcloud.server.log
			.slice(from)
			.filter((entry) => entry.method === 'PUT' && entry.path.includes('/uploads/'))
			.map((entry) => Number(entry.path.split('/').at(-1)));

	it('lists the upload folder (PROPFIND), sends only the chunks after those it holds, and assembles the same upload', async () => {
		const state = new MemoryStateStore();
		const data = pseudoRandomBytes(23 * MiB, 'nextcloud resume');
		const first = new UploadSessions(state);
		const provider = await emulatedWebDav(nextcloud, { chunkSize });
		provider.keepUploads(first);
		await cancelAfter(provider, data, 12 * MiB);
		await first.flush();
		const [kept] = await first.list();
		const { upload: folder } = JSON.parse(kept.session) as { upload: string };
		const folderPath = new URL(folder).pathname;

		// 12 MiB arrived, one chunk at a time: chunks 1 and 2 (10 MB) are whole; the cancel may also have come after chunk 3's last byte.
		const held = nextcloud.heldChunks(folderPath);
		expect([[1, 2], [1, 2, 3]]).toContainEqual(held);
		const rest = [1, 2, 3, 4, 5].filter((chunk) => !held.includes(chunk));

		const before = nextcloud.server.log.length;
		const second = new UploadSessions(state);
		const resumedBy = await emulatedWebDav(nextcloud, { chunkSize });
		resumedBy.keepUploads(second);
		const entry = await write(resumedBy, data, 1_700_000_000_000);

		// Only the chunks the folder did not hold are sent.
		expect(chunksPut(before)).toEqual(rest);
		const calls = nextcloud.server.log.slice(before).filter((logged) => logged.path.startsWith(folderPath.replace(/\/$/, '')));
		expect(calls.map((logged) => `${logged.method} ${logged.path.slice(folderPath.length) || '/'}`)).toEqual(['PROPFIND /', ...rest.map((chunk) => `PUT ${chunk}`), 'MOVE .file']);
		expect(entry).toMatchObject({ size: data.length, modTime: 1_700_000_000_000 });
		expect(fingerprint(nextcloud.content('film/video.bin')!)).toEqual(fingerprint(data));
		expect(nextcloud.openUploads).toBe(0);
		expect(await second.list()).toEqual([]);
	});

	it('deletes the upload folder saved for another version of the file, and sends the new version whole', async () => {
		const uploads = new UploadSessions(new MemoryStateStore());
		const provider = await emulatedWebDav(nextcloud, { chunkSize });
		provider.keepUploads(uploads);
		await cancelAfter(provider, pseudoRandomBytes(12 * MiB, 'first version'), 6 * MiB);
		const [abandoned] = await uploads.list();
		const folderPath = new URL((JSON.parse(abandoned.session) as { upload: string }).upload).pathname;
		expect(nextcloud.openUploads).toBe(1);

		const second = pseudoRandomBytes(12 * MiB, 'second version');
		const before = nextcloud.server.log.length;
		await provider.write('film/video.bin', bufferStream(second), { size: second.length, modTime: 1_700_000_100_000, from: async (offset) => bufferStream(second.subarray(offset)) });

		expect(nextcloud.server.log.slice(before).filter((entry) => entry.path === folderPath).map((entry) => entry.method)).toEqual(['DELETE']);
		expect(chunksPut(before)).toEqual([1, 2, 3]);
		expect(fingerprint(nextcloud.content('film/video.bin')!)).toEqual(fingerprint(second));
		expect(nextcloud.openUploads).toBe(0);
		expect(await uploads.list()).toEqual([]);
	});
});

describe('the S3 parts a resumed upload builds on', () => {
	const part = (PartNumber: number, Size: number) => ({ PartNumber, Size, ETag: `"${String(PartNumber).padStart(32, '0')}"` });

	it('are the parts from the first on with none missing, each of the part size, the last of what is left', () => {
		expect(contiguousParts([part(1, 5), part(2, 5), part(3, 2)], 5, 12).map((each) => each.PartNumber)).toEqual([1, 2, 3]);
		// A gap: part 3 and after are sent again.
		expect(contiguousParts([part(1, 5), part(2, 5), part(4, 5)], 5, 22).map((each) => each.PartNumber)).toEqual([1, 2]);
		// A part of another size (cut at another part size, or cut short): it and after are sent again.
		expect(contiguousParts([part(1, 5), part(2, 4), part(3, 5)], 5, 22).map((each) => each.PartNumber)).toEqual([1]);
		expect(contiguousParts([part(2, 5)], 5, 22)).toEqual([]);
	});
});
