import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalProvider, sync } from '../lib';
import { GoogleDriveProvider } from '../lib/providers/drive';
import { GOOGLE_TOKEN_URL, serviceAccountAssertion } from '../lib/providers/driveApi';
import { Pacer, classifyError } from '../lib/core/pacer';
import { plan } from '../lib/engine/planner';
import {
	AuthenticationError,
	CloudSyncError,
	CursorExpiredError,
	DuplicateNameError,
	InvalidPathError,
	NotFoundError,
	PermissionError,
	RateLimitError,
	StorageFullError,
	TransientError,
	VerificationError,
} from '../lib/core/errors';
import type { Change, Entry } from '../lib/core/types';
import { bufferStream, collect, fingerprint, GeneratedStream, pseudoRandomBytes, readAll } from './conformance/suite';
import { FOLDER_MIME, GOOGLE_DOC_MIME } from './emulators/drive';
import { openInFreshFolder, recordingPacer, renderings, sdkClient, seedFlatTree, startDrive, tapped, type DriveFixture } from './support/drive';
import { removeTempDirs, tempDir } from './support/trees';

const MiB = 1024 * 1024;
const LIST = /^GET \/drive\/v3\/files$/;
const GET_BY_ID = /^GET \/drive\/v3\/files\/[^/]+$/;
const UPLOAD = /^(POST|PATCH) \/upload\/drive\/v3\/files/;
const CHUNK = /^PUT \/upload\/drive\/v3\/files/;

let fixture: DriveFixture;
beforeAll(async () => {
	fixture = await startDrive();
});
afterAll(() => fixture.emulator.stop());
afterAll(removeTempDirs);
beforeEach(() => {
	fixture.emulator.server.clearFaults();
	fixture.emulator.quotaBytes = undefined;
	fixture.emulator.listPageCap = undefined;
});

const put = (provider: GoogleDriveProvider, path: string, data: Buffer | string, modTime?: number) =>
	provider.write(path, bufferStream(data), { size: Buffer.byteLength(data), modTime });
const text = async (provider: GoogleDriveProvider, path: string) => (await readAll(await provider.read(path))).toString();
const paths = (entries: Array<{ path: string }>) => entries.map((entry) => entry.path).sort();
/** The requests since the log was cleared, as "METHOD /path?query". */
const requestLines = () => fixture.emulator.server.log.map((entry) => `${entry.method} ${entry.path}${entry.query}`);
const queryOf = (line: string) => new URLSearchParams(line.slice(line.indexOf('?') + 1));

describe('looking up several paths at once (statMany)', () => {
	it('asks once per folder for its names, and once for the unknown folders of a level; duplicates refused as stat refuses them', async () => {
		const { provider, folderId } = await openInFreshFolder(fixture);
		const [a, b] = [fixture.emulator.addFolder(folderId, 'a'), fixture.emulator.addFolder(folderId, 'b')];
		for (let i = 0; i < 3; i++) fixture.emulator.addFile(a, `f${i}.txt`, `a ${i}`);
		fixture.emulator.addFile(b, 'g.txt', 'b');
		const before = fixture.emulator.server.log.length;
		const found = await provider.statMany(['a/f0.txt', 'a/f2.txt', 'a/missing.txt', 'b/g.txt', 'c/none.txt']);
		expect(paths([...found.values()])).toEqual(['a/f0.txt', 'a/f2.txt', 'b/g.txt']);
		const queries = fixture.emulator.server.log.slice(before).filter((entry) => LIST.test(`${entry.method} ${entry.path}`)).map((entry) => new URLSearchParams(entry.query).get('q'));
		// The folders a, b and c in one query, then a's three names in one and b's in another.
		expect(queries).toHaveLength(3);
		expect(queries[0]).toMatch(/name = 'a' or name = 'b' or name = 'c'/);
		fixture.emulator.addFile(a, 'f0.txt', 'a twin');
		await expect(provider.statMany(['a/f0.txt', 'a/f1.txt'])).rejects.toBeInstanceOf(DuplicateNameError);
	});
});

describe('the Drive client against the emulator', () => {
	it('sends the API requests, token refresh and partial-response fields to the emulator', async () => {
		fixture.emulator.clearLog();
		const { provider } = await openInFreshFolder(fixture);
		await put(provider, 'docs/a.txt', 'alpha');
		expect(await text(provider, 'docs/a.txt')).toBe('alpha');

		const log = fixture.emulator.server.log;
		expect(log[0]).toMatchObject({ method: 'POST', path: '/token', status: 200 });
		const list = log.find((entry) => LIST.test(`${entry.method} ${entry.path}`))!;
		const query = new URLSearchParams(list.query);
		expect(query.get('q')).toMatch(/^'[\w-]+' in parents and \(name = 'docs'\) and trashed = false$/);
		expect(query.get('fields')).toContain('files(id,name,mimeType,parents,size,md5Checksum');
		expect(query.get('pageSize')).toBe('1000');
		const headers = fixture.emulator.headersOf(list)!;
		expect(headers['user-agent']).toContain('n8n-nodes-cloudsync');
		expect(headers.authorization).toMatch(/^Bearer ya29\./);

		// A small file goes up in one multipart request, built whole (metadata and bytes) with its Content-Length.
		const upload = log.find((entry) => UPLOAD.test(`${entry.method} ${entry.path}`))!;
		const uploadHeaders = fixture.emulator.headersOf(upload)!;
		expect(new URLSearchParams(upload.query).get('uploadType')).toBe('multipart');
		expect(uploadHeaders['content-type']).toMatch(/^multipart\/related; boundary=/);
		expect(Number(uploadHeaders['content-length'])).toBeGreaterThan('alpha'.length);
		expect(uploadHeaders.authorization).toMatch(/^Bearer ya29\./);
		const download = log.find((entry) => GET_BY_ID.test(`${entry.method} ${entry.path}`) && entry.query.includes('alt=media'));
		expect(download).toMatchObject({ status: 200 });
	});
});

describe('listing', () => {
	it('lists 1,110 folders on 3 levels and 2,000 files with one files.list call per 50 folders', async () => {
		const { provider, folderId } = await openInFreshFolder(fixture);
		const { emulator } = fixture;
		const levels: string[][] = [[folderId]];
		for (let level = 0; level < 3; level++) {
			levels.push(levels[level].flatMap((parent) => Array.from({ length: 10 }, (_, i) => emulator.addFolder(parent, `L${level}-${i}`))));
		}
		for (const leaf of levels[3]) for (const name of ['a.bin', 'b.bin']) emulator.addFile(leaf, name, `${leaf}/${name}`);
		emulator.clearLog();

		const entries = await collect(provider.list('', { recursive: true }));

		expect(entries.filter((entry) => entry.isDir)).toHaveLength(1110);
		expect(entries.filter((entry) => !entry.isDir)).toHaveLength(2000);
		const sample = entries.find((entry) => entry.path === 'L0-3/L1-4/L2-5/b.bin')!;
		const stored = emulator.statPath('L0-3/L1-4/L2-5/b.bin', folderId)!;
		expect(sample).toMatchObject({ size: Number(stored.size), hashes: { md5: stored.md5Checksum, sha1: stored.sha1Checksum, sha256: stored.sha256Checksum } });
		// Each level's folders are asked for 50 at a time; listing folder by folder would take 1,111 calls.
		const queriesPerLevel = levels.map((folders) => Math.ceil(folders.length / 50));
		expect(emulator.requestCount(LIST)).toBe(queriesPerLevel.reduce((sum, count) => sum + count, 0));
		expect(emulator.requestCount()).toBe(emulator.requestCount(LIST));
	});

	it('follows nextPageToken through short pages and lists direct children only when not recursive', async () => {
		const { provider, folderId } = await openInFreshFolder(fixture);
		seedFlatTree(fixture.emulator, folderId, 4, 5);
		fixture.emulator.listPageCap = 3;
		const everything = await collect(provider.list('', { recursive: true }));
		expect(everything).toHaveLength(24);
		expect(paths(await collect(provider.list('')))).toEqual(['d0000', 'd0001', 'd0002', 'd0003']);
		expect(paths(await collect(provider.list('d0002')))).toEqual(['d0002/f0000.txt', 'd0002/f0001.txt', 'd0002/f0002.txt', 'd0002/f0003.txt', 'd0002/f0004.txt']);
	});

	it('opens a root given as a path, a folder address or "root", and refuses a file or a missing folder', async () => {
		const { emulator, auth } = fixture;
		const base = { auth, apiBaseUrl: emulator.baseUrl, pacer: recordingPacer().pacer };
		const yearId = emulator.folderAt('Backups/2024');
		emulator.addFile(yearId, 'jan.txt', 'january');
		const byPath = await GoogleDriveProvider.open({ ...base, root: '/Backups/2024' });
		expect(byPath.rootId).toBe(yearId);
		expect(await text(byPath, 'jan.txt')).toBe('january');
		const byAddress = await GoogleDriveProvider.open({ ...base, root: `https://drive.google.com/drive/u/0/folders/${yearId}` });
		expect(paths(await collect(byAddress.list('')))).toEqual(['jan.txt']);
		const top = await GoogleDriveProvider.open({ ...base, root: 'root' });
		expect(top.rootId).toBe(emulator.myDriveRootId);

		const fileId = emulator.addFile(yearId, 'not-a-folder.txt', 'x');
		await expect(GoogleDriveProvider.open({ ...base, root: fileId })).rejects.toBeInstanceOf(InvalidPathError);
		await expect(GoogleDriveProvider.open({ ...base, root: '/Backups/2031' })).rejects.toBeInstanceOf(NotFoundError);
		await expect(GoogleDriveProvider.open({ ...base, root: '1NoSuchFolderId' })).rejects.toBeInstanceOf(NotFoundError);
	});
});

describe('Google Docs', () => {
	async function withDocs(options: Parameters<typeof openInFreshFolder>[1]) {
		const opened = await openInFreshFolder(fixture, options);
		const { emulator } = fixture;
		const ids = {
			doc: emulator.addGoogleDoc(opened.folderId, 'Report', 'document', 'quarterly numbers'),
			sheet: emulator.addGoogleDoc(opened.folderId, 'Budget', 'spreadsheet', 'a,b\n1,2'),
			drawing: emulator.addGoogleDoc(opened.folderId, 'Sketch', 'drawing', 'lines'),
		};
		emulator.addFile(opened.folderId, 'plain.txt', 'plain');
		return { ...opened, ids };
	}

	it('leaves Google Docs out by default: not listed, not found', async () => {
		const { provider } = await withDocs({});
		expect(paths(await collect(provider.list('', { recursive: true })))).toEqual(['plain.txt']);
		await expect(provider.stat('Report')).rejects.toBeInstanceOf(NotFoundError);
	});

	it('exports them in office formats with the extension added and no size until exported', async () => {
		const { provider, ids } = await withDocs({ googleDocs: 'export' });
		const entries = await collect(provider.list(''));
		expect(paths(entries)).toEqual(['Budget.xlsx', 'Report.docx', 'Sketch.pdf', 'plain.txt']);
		const report = entries.find((entry) => entry.path === 'Report.docx')!;
		expect(report).toMatchObject({ size: -1, hashes: {}, mimeType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' });
		expect(await readAll(await provider.read('Report.docx'))).toEqual(fixture.emulator.exportOf(ids.doc, report.mimeType!));
		const sheet = await provider.stat('Budget.xlsx');
		expect(await readAll(await provider.read('Budget.xlsx', { start: 2, end: 9 }))).toEqual(fixture.emulator.exportOf(ids.sheet, sheet.mimeType!).subarray(2, 9));
		expect(await provider.hash('Report.docx', ['md5'])).toEqual({});
		expect(fixture.emulator.statPath('Report', (await provider.stat('')).id)).toMatchObject({ mimeType: GOOGLE_DOC_MIME.document });
	});

	it('exports everything as pdf when asked, and reports a document over the 10 MB export limit with a hint', async () => {
		const { provider, folderId } = await withDocs({ googleDocs: 'export', exportFormat: 'pdf' });
		expect(paths(await collect(provider.list('')))).toEqual(['Budget.pdf', 'Report.pdf', 'Sketch.pdf', 'plain.txt']);
		fixture.emulator.addGoogleDoc(folderId, 'Huge', 'document', 'x'.repeat(11 * 1000 * 1000));
		const error = await provider.read('Huge.pdf').catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(CloudSyncError);
		expect(error).toMatchObject({ hint: expect.stringContaining('10 MB') });
	});

	it('a Google Doc cannot be downloaded as bytes: Drive answers 403 fileNotDownloadable', async () => {
		const { ids } = await withDocs({});
		const { api } = sdkClient(fixture);
		const error = await api.files.get({ fileId: ids.doc, alt: 'media' }).catch((caught: unknown) => caught);
		expect(error).toMatchObject({ status: 403 });
		expect(JSON.stringify((error as { response: { data: unknown } }).response.data)).toContain('fileNotDownloadable');
		const metadata = (await api.files.get({ fileId: ids.doc, fields: 'id,size,md5Checksum,mimeType' })).data;
		expect(metadata).toEqual({ id: ids.doc, mimeType: GOOGLE_DOC_MIME.document });
	});
});

describe('duplicate names', () => {
	it('lists both, refuses to pick one for stat, read, hash and write, and the planner reports a conflict', async () => {
		const { provider, folderId } = await openInFreshFolder(fixture);
		const { emulator } = fixture;
		emulator.addFile(folderId, 'dup.txt', 'first');
		emulator.addFile(folderId, 'dup.txt', 'second, longer');
		const twinA = emulator.addFolder(folderId, 'twin');
		emulator.addFolder(folderId, 'twin');
		emulator.addFile(twinA, 'inside.txt', 'inside');

		const listed = await collect(provider.list('', { recursive: true }));
		expect(paths(listed)).toEqual(['dup.txt', 'dup.txt', 'twin', 'twin', 'twin/inside.txt']);
		for (const attempt of [provider.stat('dup.txt'), provider.read('dup.txt'), provider.hash('dup.txt', ['md5']), put(provider, 'dup.txt', 'third')]) {
			await expect(attempt).rejects.toBeInstanceOf(DuplicateNameError);
		}
		await expect(put(provider, 'twin/new.txt', 'x')).rejects.toBeInstanceOf(DuplicateNameError);
		expect(emulator.filesAt('dup.txt', folderId)).toHaveLength(2);
		expect(emulator.filesAt('twin/new.txt', folderId)).toHaveLength(0);

		const source: Entry[] = [{ path: 'dup.txt', isDir: false, size: 5, modTime: Date.now(), hashes: {} }];
		const traits = { caseInsensitive: false, modTimePrecisionMs: 1 };
		const planned = await plan(source, listed, { mode: 'mirror', source: traits, destination: traits });
		expect(planned.actions.filter((action) => action.kind === 'conflict').map((action) => action.path)).toContain('dup.txt');
	});
});

describe('deleting, moving and copying', () => {
	it('moves deletions to the trash by default, and deletes for good with trash: false', async () => {
		const { emulator } = fixture;
		const trashing = await openInFreshFolder(fixture);
		const kept = await put(trashing.provider, 'old.txt', 'recoverable');
		emulator.clearLog();
		await trashing.provider.delete('old.txt');
		expect(emulator.file(kept.id!)).toMatchObject({ trashed: true });
		expect(requestLines().filter((line) => /^(PATCH|DELETE) \/drive/.test(line))).toEqual([expect.stringMatching(/^PATCH \/drive\/v3\/files\//)]);
		await expect(trashing.provider.stat('old.txt')).rejects.toBeInstanceOf(NotFoundError);

		const deleting = await openInFreshFolder(fixture, { trash: false });
		const gone = await put(deleting.provider, 'dir/old.txt', 'gone');
		emulator.clearLog();
		await deleting.provider.delete('dir', { recursive: true });
		expect(emulator.file(gone.id!)).toBeUndefined();
		expect(requestLines().filter((line) => /^(PATCH|DELETE) \/drive/.test(line))).toEqual([expect.stringMatching(/^DELETE \/drive\/v3\/files\//)]);
	});

	it('moves with addParents/removeParents and a rename, keeping the id; copies server-side without moving bytes', async () => {
		const { provider } = await openInFreshFolder(fixture);
		const original = await put(provider, 'a/one.txt', 'payload', Date.UTC(2020, 0, 1));
		fixture.emulator.clearLog();
		const moved = await provider.move('a/one.txt', 'b/two.txt');
		expect(moved).toMatchObject({ id: original.id, path: 'b/two.txt', modTime: original.modTime });
		const patch = requestLines().find((line) => line.startsWith(`PATCH /drive/v3/files/${original.id}`))!;
		expect(queryOf(patch).get('addParents')).toBe((await provider.stat('b')).id);
		expect(queryOf(patch).get('removeParents')).toBe((await provider.stat('a')).id);

		fixture.emulator.clearLog();
		const copied = await provider.copy('b/two.txt', 'c/three.txt');
		expect(copied.id).not.toBe(original.id);
		expect(await text(provider, 'c/three.txt')).toBe('payload');
		expect(requestLines().filter((line) => line.startsWith(`POST /drive/v3/files/${original.id}/copy`))).toHaveLength(1);
		expect(fixture.emulator.requestCount(UPLOAD)).toBe(0);
	});
});

describe('uploads', () => {
	/** Bytes the server confirmed so far, from the last 308 of the upload log. */
	const confirmed = () => {
		const ranges = fixture.emulator.uploads.map((upload) => /bytes=0-(\d+)/.exec(upload.range ?? '')?.[1]).filter(Boolean);
		return ranges.length === 0 ? 0 : Number(ranges[ranges.length - 1]) + 1;
	};

	it('sends 20 MiB in 8 MiB resumable chunks, resumes a chunk that broke from the Range the server reports, and stores the same bytes', async () => {
		const { provider } = await openInFreshFolder(fixture);
		const size = 20 * MiB;
		const source = new GeneratedStream(size, 'resumable-20MiB', ['sha256']);
		let maxAhead = 0;
		let injected = false;
		const content = tapped(source, (bytes) => {
			maxAhead = Math.max(maxAhead, bytes - confirmed());
			// Chunk 0 is in by the time 14 MiB were read; the connection drops half-way through chunk 1.
			if (bytes >= 14 * MiB && !injected) {
				injected = true;
				fixture.emulator.server.inject({ route: CHUNK, kind: 'reset', times: 1 });
			}
		});
		fixture.emulator.clearLog();
		const written = await provider.write('big/file.bin', content, { size });

		expect(fingerprint(fixture.emulator.content(written.id!))).toEqual({ length: size, sha256: source.hashes.sha256 });
		expect(written).toMatchObject({ path: 'big/file.bin', size });
		const uploads = fixture.emulator.uploads;
		const broken = uploads.findIndex((upload) => upload.status === -1);
		expect(uploads[broken].contentRange).toBe(`bytes ${8 * MiB}-${16 * MiB - 1}/${size}`);
		const [statusQuery, resumed] = uploads.slice(broken + 1, broken + 3);
		expect(statusQuery).toMatchObject({ contentRange: `bytes */${size}`, status: 308, bytes: 0 });
		const kept = Number(/bytes=0-(\d+)/.exec(statusQuery.range!)![1]) + 1;
		expect(kept).toBeGreaterThan(8 * MiB);
		expect(resumed).toMatchObject({ contentRange: `bytes ${kept}-${16 * MiB - 1}/${size}`, status: 308 });
		expect(uploads.map((upload) => upload.contentRange)).toEqual([
			`bytes 0-${8 * MiB - 1}/${size}`,
			`bytes ${8 * MiB}-${16 * MiB - 1}/${size}`,
			`bytes */${size}`,
			`bytes ${kept}-${16 * MiB - 1}/${size}`,
			`bytes ${16 * MiB}-${size - 1}/${size}`,
		]);
		expect(requestLines().filter((line) => UPLOAD.test(line))).toEqual([expect.stringMatching(/^POST \/upload\/drive\/v3\/files\?.*uploadType=resumable/)]);
		// The source is read about one chunk ahead of what the server has, not all at once.
		expect(maxAhead).toBeLessThan(2 * 8 * MiB);
	});

	it('uploads a stream of unknown size with "/*" ranges until its end, and overwrites in place without a second file', async () => {
		const { provider, folderId } = await openInFreshFolder(fixture);
		const first = pseudoRandomBytes(17 * MiB + 5, 'unknown-size');
		fixture.emulator.clearLog();
		const written = await provider.write('stream.bin', bufferStream(first, 1024 * 1024 + 7));
		expect(fixture.emulator.uploads.map((upload) => upload.contentRange)).toEqual([
			`bytes 0-${8 * MiB - 1}/*`,
			`bytes ${8 * MiB}-${16 * MiB - 1}/*`,
			`bytes ${16 * MiB}-${first.length - 1}/${first.length}`,
		]);
		expect(fingerprint(fixture.emulator.content(written.id!))).toEqual(fingerprint(first));

		const second = pseudoRandomBytes(3000, 'small overwrite');
		const small = await provider.write('stream.bin', bufferStream(second), { size: second.length, modTime: Date.UTC(2022, 1, 2, 3, 4, 5, 678) });
		const third = pseudoRandomBytes(9 * MiB, 'large overwrite');
		const large = await provider.write('stream.bin', bufferStream(third), { size: third.length });
		expect([small.id, large.id]).toEqual([written.id, written.id]);
		expect(small.modTime).toBe(Date.UTC(2022, 1, 2, 3, 4, 5, 678));
		expect(fixture.emulator.filesAt('stream.bin', folderId)).toHaveLength(1);
		expect(fingerprint(fixture.emulator.content(written.id!))).toEqual(fingerprint(third));
		expect(requestLines().filter((line) => UPLOAD.test(line)).map((line) => `${line.split(' ')[0]} ${queryOf(line).get('uploadType')}`)).toEqual([
			'POST resumable',
			'PATCH multipart',
			'PATCH resumable',
		]);
	});

	it('stores common types under their MIME type, so that Drive previews them, and anything else as bytes', async () => {
		const { provider, folderId } = await openInFreshFolder(fixture);
		await put(provider, 'photo.JPG', 'jpeg bytes');
		await put(provider, 'notes.txt', 'text');
		await provider.write('video.mp4', bufferStream(pseudoRandomBytes(6 * MiB, 'video')), { size: 6 * MiB });
		await put(provider, 'archive.xyz', 'unknown');
		await put(provider, 'no-extension', 'unknown');
		const typeOf = (name: string) => fixture.emulator.statPath(name, folderId)?.mimeType;
		expect(['photo.JPG', 'notes.txt', 'video.mp4', 'archive.xyz', 'no-extension'].map(typeOf)).toEqual([
			'image/jpeg',
			'text/plain',
			'video/mp4',
			'application/octet-stream',
			'application/octet-stream',
		]);
		// Replacing the content keeps the type the file has.
		await put(provider, 'notes.txt', 'more text');
		expect(typeOf('notes.txt')).toBe('text/plain');
	});

	it('reports a full quota as StorageFullError, before any byte for a large file, and creates nothing', async () => {
		const { provider, folderId } = await openInFreshFolder(fixture);
		fixture.emulator.quotaBytes = fixture.emulator.usage() + 1000;
		const small = await put(provider, 'small.txt', 'x'.repeat(2000)).catch((caught: unknown) => caught);
		expect(small).toBeInstanceOf(StorageFullError);
		expect((small as StorageFullError).hint).toMatch(/Free space/);
		fixture.emulator.clearLog();
		await expect(provider.write('large.bin', bufferStream(pseudoRandomBytes(9 * MiB, 'quota')), { size: 9 * MiB })).rejects.toBeInstanceOf(StorageFullError);
		expect(fixture.emulator.uploads).toEqual([]);
		expect(fixture.emulator.filesAt('small.txt', folderId)).toEqual([]);
		expect(fixture.emulator.filesAt('large.bin', folderId)).toEqual([]);
	});

	it('refuses writes, deletes and moves into a read-only folder with PermissionError, and still reads it', async () => {
		const { provider, folderId } = await openInFreshFolder(fixture);
		const sharedId = fixture.emulator.addFolder(folderId, 'shared', { readOnly: true });
		fixture.emulator.addFile(sharedId, 'report.txt', 'read me');
		await put(provider, 'mine.txt', 'mine');
		expect(await text(provider, 'shared/report.txt')).toBe('read me');
		const error = await put(provider, 'shared/new.txt', 'x').catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(PermissionError);
		expect((error as PermissionError).hint).toMatch(/edit access/);
		await expect(provider.delete('shared/report.txt')).rejects.toBeInstanceOf(PermissionError);
		await expect(provider.move('mine.txt', 'shared/mine.txt')).rejects.toBeInstanceOf(PermissionError);
		expect(paths(await collect(provider.list('', { recursive: true })))).toEqual(['mine.txt', 'shared', 'shared/report.txt']);
	});
});

describe('shared drives', () => {
	it('lists, uploads (multipart and resumable) and reports changes in a shared drive', async () => {
		const { emulator, auth } = fixture;
		const driveId = emulator.addSharedDrive('Team');
		const provider = await GoogleDriveProvider.open({ auth, sharedDriveId: driveId, apiBaseUrl: emulator.baseUrl, pacer: recordingPacer().pacer });
		expect(provider.rootId).toBe(driveId);
		const cursor = await provider.changeCursor();
		const big = pseudoRandomBytes(9 * MiB, 'shared drive');
		emulator.clearLog();
		await put(provider, 'reports/q1.txt', 'first quarter');
		await provider.write('reports/big.bin', bufferStream(big), { size: big.length });

		expect(paths(await collect(provider.list('', { recursive: true })))).toEqual(['reports', 'reports/big.bin', 'reports/q1.txt']);
		expect(fingerprint(emulator.content(emulator.statPath('reports/big.bin', driveId)!.id!))).toEqual(fingerprint(big));
		expect(emulator.filesAt('reports', emulator.myDriveRootId)).toEqual([]);
		for (const line of requestLines().filter((request) => LIST.test(request))) {
			expect(Object.fromEntries(queryOf(line))).toMatchObject({ corpora: 'drive', driveId, includeItemsFromAllDrives: 'true', supportsAllDrives: 'true' });
		}
		const { changes } = await provider.changesSince(cursor);
		expect(changes.map((change) => `${change.kind} ${change.path}`).sort()).toEqual(['added reports', 'added reports/big.bin', 'added reports/q1.txt']);

		// A folder of a shared drive given by its id is found in its drive without naming the drive.
		const byFolder = await GoogleDriveProvider.open({ auth, root: (await provider.stat('reports')).id, apiBaseUrl: emulator.baseUrl, pacer: recordingPacer().pacer });
		expect(paths(await collect(byFolder.list('')))).toEqual(['big.bin', 'q1.txt']);
	});
});

describe('faults and retries', () => {
	async function providerWithFile(pacerOptions = {}) {
		const recorded = recordingPacer(pacerOptions);
		const { provider } = await openInFreshFolder(fixture, { pacer: recorded.pacer });
		await put(provider, 'f.txt', 'content');
		fixture.emulator.clearLog();
		return { provider, waits: recorded.waits };
	}

	it.each([
		['429 with Retry-After', 'rate-limit', 429],
		["403 userRateLimitExceeded (Drive's own rate limit)", 'quota-rate-limit', 403],
		['503', 'unavailable', 503],
		['500', 'server-error', 500],
	] as const)('retries %s and honours the Retry-After it carries', async (_label, kind, status) => {
		const { provider, waits } = await providerWithFile();
		fixture.emulator.server.inject({ route: LIST, kind, times: 2, retryAfterSeconds: 3 });
		expect(await provider.stat('f.txt')).toMatchObject({ path: 'f.txt', size: 7 });
		expect(fixture.emulator.server.requests(LIST).map((entry) => entry.status)).toEqual([status, status, 200]);
		expect(Math.max(0, ...waits) >= 3000).toBe(kind !== 'server-error');
	});

	it('waits out a real Retry-After before the next attempt', async () => {
		const { provider } = await openInFreshFolder(fixture, { pacer: new Pacer({ baseDelayMs: 1 }) });
		await put(provider, 'f.txt', 'content');
		fixture.emulator.server.inject({ route: LIST, kind: 'rate-limit', times: 1, retryAfterSeconds: 1 });
		const started = Date.now();
		await provider.stat('f.txt');
		expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
	});

	it('gives up with RateLimitError, with a hint, when every retry is rate limited', async () => {
		const { provider } = await providerWithFile({ retriesPerRequest: 2 });
		fixture.emulator.server.inject({ route: LIST, kind: 'quota-rate-limit' });
		const error = await provider.stat('f.txt').catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(RateLimitError);
		expect((error as RateLimitError).hint).toMatch(/rate limiting/);
		expect(fixture.emulator.requestCount(LIST)).toBe(3);
	});

	it('asks again for a call that does not answer within the request timeout, and for a download whose answer is late', async () => {
		const recorded = recordingPacer();
		const { provider } = await openInFreshFolder(fixture, { pacer: recorded.pacer, requestTimeoutMs: 300 });
		const data = pseudoRandomBytes(100_000, 'late');
		await put(provider, 'late.bin', data);
		fixture.emulator.clearLog();
		fixture.emulator.server.inject({ route: LIST, kind: 'slow', delayMs: 1500, times: 1 });
		expect(await provider.stat('late.bin')).toMatchObject({ size: data.length });
		expect(fixture.emulator.requestCount(LIST)).toBe(2);
		fixture.emulator.server.inject({ route: GET_BY_ID, kind: 'slow', delayMs: 1500, times: 1 });
		const started = Date.now();
		expect(fingerprint(await readAll(await provider.read('late.bin')))).toEqual(fingerprint(data));
		expect(Date.now() - started).toBeLessThan(1500);
	});

	it('a truncated download fails verification and a reset one fails retryably; the next read is whole', async () => {
		const { provider } = await openInFreshFolder(fixture);
		const data = pseudoRandomBytes(300_000, 'download faults');
		await put(provider, 'd.bin', data);
		fixture.emulator.server.inject({ route: GET_BY_ID, kind: 'truncate', times: 1 });
		await expect(readAll(await provider.read('d.bin'))).rejects.toBeInstanceOf(VerificationError);
		fixture.emulator.server.inject({ route: GET_BY_ID, kind: 'reset', times: 1 });
		const reset = await readAll(await provider.read('d.bin')).catch((caught: unknown) => caught);
		expect(reset).toBeInstanceOf(TransientError);
		expect(classifyError(reset).retryable).toBe(true);
		expect(fingerprint(await readAll(await provider.read('d.bin')))).toEqual(fingerprint(data));
	});
});

describe('downloads (files.get alt=media)', () => {
	const downloads = () => fixture.emulator.server.requests(GET_BY_ID).filter((entry) => entry.query.includes('alt=media'));

	/** Starts `read` with its download held in the emulator, runs `meanwhile` while it waits there, then lets it go on. */
	async function whileDownloadWaits<T>(read: () => Promise<T>, meanwhile: () => void): Promise<T> {
		const before = downloads().length;
		fixture.emulator.server.inject({ route: GET_BY_ID, kind: 'slow', delayMs: 300, times: 1 });
		const reading = read();
		while (downloads().length === before) await new Promise((resolve) => setTimeout(resolve, 5));
		meanwhile();
		return reading;
	}

	it('renews an access token refused on the download itself and delivers the same bytes', async () => {
		const { provider } = await openInFreshFolder(fixture);
		const data = pseudoRandomBytes(3 * MiB + 5, 'renewed download');
		await put(provider, 'big.bin', data);
		fixture.emulator.clearLog();
		const body = await whileDownloadWaits(() => provider.read('big.bin'), () => fixture.emulator.expireAccessTokens());
		expect(fingerprint(await readAll(body))).toEqual(fingerprint(data));
		expect(fixture.emulator.server.log.map((entry) => `${entry.method} ${entry.path} ${entry.status}`)).toEqual([
			'GET /drive/v3/files 200',
			expect.stringMatching(/^GET \/drive\/v3\/files\/[^/]+ 401$/),
			'POST /token 200',
			expect.stringMatching(/^GET \/drive\/v3\/files\/[^/]+ 200$/),
		]);
		expect(fixture.emulator.headersOf(downloads()[1])!.authorization).toMatch(/^Bearer ya29\./);
	});

	it('a file deleted between the lookup and the download is NotFoundError', async () => {
		const { provider } = await openInFreshFolder(fixture);
		await put(provider, 'gone.txt', 'soon gone');
		const { id } = await provider.stat('gone.txt');
		const error = await whileDownloadWaits(() => provider.read('gone.txt'), () => fixture.emulator.remove(id!)).catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(NotFoundError);
		expect((error as NotFoundError).message).toContain('gone.txt');
	});

	it.each([
		['429 with Retry-After', 'rate-limit', 429],
		["403 userRateLimitExceeded (Drive's own rate limit)", 'quota-rate-limit', 403],
		['503', 'unavailable', 503],
	] as const)('retries a download refused with %s after the Retry-After it carries', async (_label, kind, status) => {
		const recorded = recordingPacer();
		const { provider } = await openInFreshFolder(fixture, { pacer: recorded.pacer });
		await put(provider, 'f.txt', 'content');
		fixture.emulator.clearLog();
		fixture.emulator.server.inject({ route: GET_BY_ID, kind, times: 2, retryAfterSeconds: 3 });
		expect(await text(provider, 'f.txt')).toBe('content');
		expect(downloads().map((entry) => entry.status)).toEqual([status, status, 200]);
		expect(Math.max(0, ...recorded.waits)).toBeGreaterThanOrEqual(3000);
	});

	it('reads a range with a Range request, and the rest of a file from an offset', async () => {
		const { provider } = await openInFreshFolder(fixture);
		const data = pseudoRandomBytes(2 * MiB + 17, 'ranges');
		await put(provider, 'r.bin', data);
		fixture.emulator.clearLog();
		expect(await readAll(await provider.read('r.bin', { start: 1000, end: 70_000 }))).toEqual(data.subarray(1000, 70_000));
		expect(fingerprint(await readAll(await provider.read('r.bin', { start: MiB })))).toEqual(fingerprint(data.subarray(MiB)));
		expect(downloads().map((entry) => [entry.status, fixture.emulator.headersOf(entry)!.range])).toEqual([
			[206, 'bytes=1000-69999'],
			[206, `bytes=${MiB}-${data.length - 1}`],
		]);
	});

	it('a download cancelled part-way stops with the abort, not as a broken connection to retry', async () => {
		const { provider } = await openInFreshFolder(fixture);
		await put(provider, 'long.bin', pseudoRandomBytes(8 * MiB, 'cancelled'));
		const cancel = new AbortController();
		const body = await provider.read('long.bin', { signal: cancel.signal });
		let received = 0;
		const error = await (async () => {
			for await (const chunk of body) {
				received += (chunk as Buffer).length;
				if (received >= MiB) cancel.abort();
			}
		})().catch((caught: unknown) => caught);
		expect((error as Error).name).toBe('AbortError');
		expect(received).toBeLessThan(8 * MiB);
	});

	it('a sync whose download breaks off part-way reads the file again and ends hash-identical', async () => {
		const { provider } = await openInFreshFolder(fixture);
		const data = pseudoRandomBytes(4 * MiB + 3, 'broken download');
		await put(provider, 'movie.bin', data);
		const destinationRoot = await tempDir('drive-download');
		fixture.emulator.clearLog();
		fixture.emulator.server.inject({ route: GET_BY_ID, kind: 'reset', times: 1 });
		const report = await sync(provider, await LocalProvider.open(destinationRoot), { mode: 'mirror', pacer: new Pacer({ baseDelayMs: 1 }) });
		expect(report).toMatchObject({ status: 'success', added: 1, failed: 0 });
		expect(downloads()[0].fault).toBe('reset');
		expect(fingerprint(await readFile(join(destinationRoot, 'movie.bin')))).toEqual(fingerprint(data));
	});
});

describe('credentials', () => {
	it('refreshes an access token the server no longer accepts and carries on', async () => {
		const { provider } = await openInFreshFolder(fixture);
		await put(provider, 'f.txt', 'still here');
		fixture.emulator.expireAccessTokens();
		fixture.emulator.clearLog();
		expect(await text(provider, 'f.txt')).toBe('still here');
		expect(fixture.emulator.server.log.slice(0, 3).map((entry) => `${entry.method} ${entry.path} ${entry.status}`)).toEqual([
			expect.stringMatching(/^GET \/drive\/v3\/files 401$/),
			'POST /token 200',
			expect.stringMatching(/^GET \/drive\/v3\/files 200$/),
		]);
	});

	it('a revoked grant fails with AuthenticationError and a hint, and no token or secret shows in the error', async () => {
		const { emulator } = fixture;
		const own = emulator.addOAuthClient();
		const { provider } = await openInFreshFolder({ emulator, auth: own });
		await put(provider, 'f.txt', 'x');
		emulator.revokeRefreshToken(own.refreshToken);
		const error = await provider.stat('f.txt').catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(AuthenticationError);
		expect((error as AuthenticationError).hint).toMatch(/Reconnect the credential/);
		const shown = renderings(error);
		for (const secret of [own.clientSecret, own.refreshToken, ...emulator.issuedAccessTokens()]) expect(shown).not.toContain(secret);

		const wrongSecret = { ...emulator.addOAuthClient(), clientSecret: 'GOCSPX-not-the-secret' };
		const refused = await GoogleDriveProvider.open({ auth: wrongSecret, apiBaseUrl: emulator.baseUrl, pacer: recordingPacer().pacer }).catch((caught: unknown) => caught);
		expect(refused).toBeInstanceOf(AuthenticationError);
		expect((refused as AuthenticationError).hint).toMatch(/client ID and secret/);
		expect(renderings(refused)).not.toContain(wrongSecret.refreshToken);
	});

	it('signs in as a service account with a signed JWT, and a wrong key is refused without showing the key', async () => {
		const { emulator } = fixture;
		const account = emulator.addServiceAccount();
		emulator.clearLog();
		const provider = await GoogleDriveProvider.open({ auth: account, apiBaseUrl: emulator.baseUrl, pacer: recordingPacer().pacer });
		await put(provider, `sa-${Date.now()}.txt`, 'from a service account');
		expect(fixture.emulator.server.log[0]).toMatchObject({ method: 'POST', path: '/token', status: 200 });

		const impostor = { clientEmail: account.clientEmail, privateKey: emulator.addServiceAccount().privateKey };
		const error = await GoogleDriveProvider.open({ auth: impostor, apiBaseUrl: emulator.baseUrl, pacer: recordingPacer().pacer }).catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(AuthenticationError);
		const shown = renderings(error);
		expect(shown).not.toContain(impostor.privateKey.split('\n')[1]);
	});
});

describe('change cursors', () => {
	const describeChange = (change: Change) => `${change.kind} ${change.path}${change.previousPath ? ` from ${change.previousPath}` : ''}`;

	it('finds one change in a 10,000-file tree with at most 3 API calls, warm or from a fresh provider', async () => {
		const { provider, folderId } = await openInFreshFolder(fixture);
		const { emulator } = fixture;
		const folders = seedFlatTree(emulator, folderId, 100, 100);
		expect(await collect(provider.list('', { recursive: true }))).toHaveLength(10_100);
		const cursor = await provider.changeCursor();
		const changedId = emulator.filesAt('d0042/f0007.txt', folderId)[0].id!;
		emulator.writeContent(changedId, 'edited elsewhere');

		emulator.clearLog();
		const warm = await provider.changesSince(cursor);
		expect(warm.changes.map(describeChange)).toEqual(['modified d0042/f0007.txt']);
		expect(warm.changes[0].entry).toMatchObject({ size: 16, hashes: { md5: createHash('md5').update('edited elsewhere').digest('hex') } });
		expect(emulator.requestCount()).toBeLessThanOrEqual(3);

		const fresh = await GoogleDriveProvider.open({ auth: fixture.auth, root: folderId, apiBaseUrl: emulator.baseUrl, pacer: recordingPacer().pacer });
		emulator.clearLog();
		const cold = await fresh.changesSince(cursor);
		// Never listed, the file is new to this provider, but Drive says it is older than the cursor; its folder is looked up once.
		expect(cold.changes.map(describeChange)).toEqual(['modified d0042/f0007.txt']);
		expect(emulator.requestCount()).toBeLessThanOrEqual(3);
		expect(requestLines().filter((line) => GET_BY_ID.test(line.split('?')[0]))).toEqual([expect.stringContaining(`/drive/v3/files/${folders[42]}`)]);
		expect((await provider.changesSince(warm.cursor)).changes).toEqual([]);
	});

	it('reports additions, edits, moves, renames and deletions in subfolders, and nothing outside the root', async () => {
		const { provider, folderId } = await openInFreshFolder(fixture);
		const { emulator } = fixture;
		const a = emulator.addFolder(folderId, 'a');
		const b = emulator.addFolder(a, 'b');
		const old = emulator.addFolder(folderId, 'old');
		const ids = {
			c: emulator.addFile(b, 'c.txt', 'c'),
			r: emulator.addFile(a, 'r.txt', 'r'),
			m: emulator.addFile(a, 'm.txt', 'm'),
			t: emulator.addFile(a, 't.txt', 't'),
			p: emulator.addFile(a, 'p.txt', 'p'),
			out: emulator.addFile(a, 'out.txt', 'out'),
			inside: emulator.addFile(old, 'inside.txt', 'inside'),
		};
		const elsewhere = emulator.addFolder(emulator.myDriveRootId, `elsewhere-${folderId}`);
		const outsider = emulator.addFile(elsewhere, 'outsider.txt', 'not ours');
		await collect(provider.list('', { recursive: true }));
		const cursor = await provider.changeCursor();

		emulator.writeContent(ids.c, 'c, edited');
		emulator.addFile(b, 'new.txt', 'new');
		const x = emulator.addFolder(folderId, 'x');
		emulator.addFile(emulator.addFolder(x, 'y'), 'z.txt', 'z');
		emulator.rename(ids.r, 'r2.txt');
		emulator.move(ids.m, folderId);
		emulator.trash(ids.t);
		emulator.remove(ids.p);
		emulator.remove(old);
		emulator.move(ids.out, elsewhere);
		emulator.writeContent(outsider, 'still not ours');

		const { changes, cursor: next } = await provider.changesSince(cursor);
		expect(changes.map(describeChange).sort()).toEqual([
			'added a/b/new.txt',
			'added x',
			'added x/y',
			'added x/y/z.txt',
			'deleted a/out.txt',
			'deleted a/p.txt',
			'deleted a/t.txt',
			'deleted old',
			'deleted old/inside.txt',
			'modified a/b/c.txt',
			'moved a/r2.txt from a/r.txt',
			'moved m.txt from a/m.txt',
		]);
		expect(changes.find((change) => change.path === 'x')).toMatchObject({ isDir: true, entry: { isDir: true } });
		expect(changes.find((change) => change.path === 'old')).toMatchObject({ isDir: true });

		// A renamed folder's files are reported at its new path afterwards.
		emulator.rename(b, 'bb');
		emulator.writeContent(ids.c, 'c, edited again');
		const after = await provider.changesSince(next);
		expect(after.changes.map(describeChange)).toEqual(['moved a/bb from a/b', 'modified a/bb/c.txt']);
		expect((await provider.changesSince(after.cursor)).changes).toEqual([]);
	});

	it('a cursor Drive refuses (another account, or garbage) is CursorExpiredError, so that a full pass follows', async () => {
		const { provider } = await openInFreshFolder(fixture);
		const cursor = await provider.changeCursor();
		const [token, time] = cursor.split('@');
		await expect(provider.changesSince(`${Number(token) + 1_000_000}@${time}`)).rejects.toBeInstanceOf(CursorExpiredError);
		await expect(provider.changesSince('not a cursor')).rejects.toBeInstanceOf(CursorExpiredError);
		expect((await provider.changesSince(cursor)).changes).toEqual([]);
	});

	it('follows nextPageToken through a change list of more than one page', async () => {
		const { provider, folderId } = await openInFreshFolder(fixture);
		const cursor = await provider.changeCursor();
		seedFlatTree(fixture.emulator, folderId, 5, 500);
		fixture.emulator.clearLog();
		const { changes } = await provider.changesSince(cursor);
		expect(changes.filter((change) => change.kind === 'added')).toHaveLength(2505);
		expect(fixture.emulator.requestCount(/^GET \/drive\/v3\/changes$/)).toBe(3);
	});

	it('the cursor and the changes are in the emulator shapes the SDK types describe', async () => {
		const { api } = sdkClient(fixture);
		const { data: start } = await api.changes.getStartPageToken({});
		const folder = fixture.emulator.addFolder(fixture.emulator.myDriveRootId, 'typed');
		const { data } = await api.changes.list({ pageToken: start.startPageToken!, fields: 'newStartPageToken,changes(fileId,removed,file(id,name,mimeType))' });
		expect(data).toEqual({
			newStartPageToken: String(Number(start.startPageToken) + 1),
			changes: [{ fileId: folder, removed: false, file: { id: folder, name: 'typed', mimeType: FOLDER_MIME } }],
		});
	});
});

describe('the emulator', () => {
	it('answers Drive queries with escapes, and/or, parentheses and mimeType comparisons', async () => {
		const { emulator } = fixture;
		const folder = emulator.addFolder(emulator.myDriveRootId, 'query-test');
		for (const name of ["it's.txt", 'back\\slash.txt', 'plain.txt']) emulator.addFile(folder, name, name);
		emulator.addFolder(folder, 'sub');
		emulator.trash(emulator.addFile(folder, 'binned.txt', 'binned'));
		const { api } = sdkClient(fixture);
		const names = async (q: string) => ((await api.files.list({ q, fields: 'files(name)' })).data.files ?? []).map((file) => file.name).sort();
		const inFolder = `'${folder}' in parents`;
		expect(await names(`${inFolder} and name = 'it\\'s.txt'`)).toEqual(["it's.txt"]);
		expect(await names(`${inFolder} and name = 'back\\\\slash.txt'`)).toEqual(['back\\slash.txt']);
		expect(await names(`${inFolder} and (name = 'plain.txt' or mimeType = '${FOLDER_MIME}') and trashed = false`)).toEqual(['plain.txt', 'sub']);
		expect(await names(`${inFolder} and mimeType != '${FOLDER_MIME}' and trashed=false`)).toEqual(["back\\slash.txt", "it's.txt", 'plain.txt']);
		expect(await names(`${inFolder} and trashed = true`)).toEqual(['binned.txt']);
		await expect(api.files.list({ q: `${inFolder} and owner = 'me'` })).rejects.toMatchObject({ status: 400 });
		await expect(api.files.list({ q: inFolder, fields: 'files(nmae)' })).rejects.toMatchObject({ status: 400 });
		await expect(api.files.list({ q: inFolder, pageSize: 1001 })).rejects.toMatchObject({ status: 400 });
	});

	it('replaces content with a simple media upload (uploadType=media), as the SDK sends it without metadata', async () => {
		const { api } = sdkClient(fixture);
		const id = fixture.emulator.addFile(fixture.emulator.myDriveRootId, 'media.txt', 'before', { mimeType: 'text/plain' });
		fixture.emulator.clearLog();
		const { data } = await api.files.update(
			{ fileId: id, media: { mimeType: 'text/plain', body: bufferStream('after the media upload') }, fields: 'id,size,md5Checksum' },
			{ rootUrl: `${fixture.emulator.baseUrl}/` },
		);
		expect(data).toEqual({ id, size: '22', md5Checksum: createHash('md5').update('after the media upload').digest('hex') });
		expect(requestLines().filter((line) => UPLOAD.test(line))).toEqual([expect.stringMatching(new RegExp(`^PATCH /upload/drive/v3/files/${id}\\?.*uploadType=media`))]);
		expect(fixture.emulator.content(id).toString()).toBe('after the media upload');
	});

	it('runs the resumable protocol: 308 without Range before any byte, 256 KiB granularity, X-GUploader-No-308', async () => {
		const { client } = sdkClient(fixture);
		const start = await client.request({
			url: `${fixture.emulator.baseUrl}/upload/drive/v3/files?uploadType=resumable`,
			method: 'POST',
			data: { name: 'protocol.bin', parents: [fixture.emulator.myDriveRootId] },
		});
		const session = start.headers.get('location')!;
		const send = (contentRange: string, data?: Buffer, headers: Record<string, string> = {}) =>
			client.request({ url: session, method: 'PUT', headers: { 'Content-Range': contentRange, ...headers }, data, validateStatus: () => true });

		const empty = await send('bytes */*');
		expect([empty.status, empty.headers.get('range')]).toEqual([308, null]);
		const ragged = await send(`bytes 0-99999/*`, Buffer.alloc(100_000));
		expect(ragged.status).toBe(400);
		const chunk = await send(`bytes 0-${256 * 1024 - 1}/*`, Buffer.alloc(256 * 1024, 1), { 'X-GUploader-No-308': 'yes' });
		expect([chunk.status, chunk.headers.get('x-http-status-code-override'), chunk.headers.get('range')]).toEqual([200, '308', `bytes=0-${256 * 1024 - 1}`]);
		const last = await send(`bytes ${256 * 1024}-${256 * 1024 + 9}/${256 * 1024 + 10}`, Buffer.alloc(10, 2));
		expect(last.status).toBe(200);
		expect(last.data).toMatchObject({ name: 'protocol.bin', mimeType: 'application/octet-stream' });
		expect(fixture.emulator.statPath('protocol.bin')?.size).toBe(String(256 * 1024 + 10));
	});
});

describe('creates with ids generated in advance', () => {
	const CREATE_FILE = /^POST \/upload\/drive\/v3\/files$/;
	const CREATE_FOLDER = /^POST \/drive\/v3\/files$/;

	it('a create whose answer was lost is retried without making a second file or folder', async () => {
		const { provider, folderId } = await openInFreshFolder(fixture);
		fixture.emulator.clearLog();
		fixture.emulator.server.inject({ route: CREATE_FOLDER, kind: 'drop-after-commit', times: 1 });
		fixture.emulator.server.inject({ route: CREATE_FILE, kind: 'drop-after-commit', times: 1 });

		const written = await put(provider, 'sub/f.txt', 'only once');

		const created = fixture.emulator.server.requests(/^POST \/(upload\/)?drive\/v3\/files$/);
		// Both creates were carried out and their answers lost; the retries found them by their ids.
		expect(created.map((entry) => entry.fault)).toEqual(['drop-after-commit', 'drop-after-commit']);
		expect(fixture.emulator.server.requests(/^GET \/drive\/v3\/files\/generateIds$/).length).toBe(1);
		const sub = fixture.emulator.filesAt('sub', folderId);
		expect(sub).toHaveLength(1);
		expect(fixture.emulator.filesAt('sub/f.txt', folderId)).toEqual([expect.objectContaining({ id: written.id })]);
		expect(await text(provider, 'sub/f.txt')).toBe('only once');
	});

	it('the emulator refuses a second create with the same id (409) and an id it did not generate', async () => {
		const { folderId } = await openInFreshFolder(fixture);
		const { api } = sdkClient(fixture);
		const { data } = await api.files.generateIds({ count: 2, space: 'drive', type: 'files' });
		expect(data).toMatchObject({ kind: 'drive#generatedIds', space: 'drive', ids: [expect.any(String), expect.any(String)] });
		const id = data.ids![0];
		await api.files.create({ requestBody: { id, name: 'a', parents: [folderId] } });
		await expect(api.files.create({ requestBody: { id, name: 'a', parents: [folderId] } })).rejects.toMatchObject({ status: 409 });
		await expect(api.files.create({ requestBody: { id: 'not-generated', name: 'b', parents: [folderId] } })).rejects.toMatchObject({ status: 400 });
		expect(fixture.emulator.filesAt('a', folderId)).toHaveLength(1);
	});
});

describe('the thin client', () => {
	it("signs a service account's assertion with RS256 for Google's token endpoint, the Drive scope, and an hour at most", () => {
		const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
		const now = Date.UTC(2026, 0, 2, 3, 4, 5);
		const assertion = serviceAccountAssertion('sync@project.iam.gserviceaccount.com', privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'https://www.googleapis.com/auth/drive', now);
		const [header, claims, signature] = assertion.split('.');
		const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
		expect(decode(header)).toEqual({ alg: 'RS256', typ: 'JWT' });
		expect(decode(claims)).toEqual({
			iss: 'sync@project.iam.gserviceaccount.com',
			scope: 'https://www.googleapis.com/auth/drive',
			aud: GOOGLE_TOKEN_URL,
			iat: now / 1000,
			exp: now / 1000 + 3600,
		});
		expect(verify('RSA-SHA256', Buffer.from(`${header}.${claims}`), publicKey, Buffer.from(signature, 'base64url'))).toBe(true);
		// Another key's signature, or altered claims, do not verify.
		const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
		expect(verify('RSA-SHA256', Buffer.from(`${header}.${claims}`), other, Buffer.from(signature, 'base64url'))).toBe(false);
		expect(verify('RSA-SHA256', Buffer.from(`${header}.${claims}x`), publicKey, Buffer.from(signature, 'base64url'))).toBe(false);
	});

	it.each(['a user', 'a service account'])('retries a sign-in of %s that Google answers with 503 or whose connection drops', async (who) => {
		const { emulator } = fixture;
		const auth = who === 'a user' ? emulator.addOAuthClient() : emulator.addServiceAccount();
		emulator.clearLog();
		emulator.server.inject({ route: /^POST \/token$/, kind: 'unavailable', times: 1 });
		emulator.server.inject({ route: /^POST \/token$/, kind: 'drop-after-commit', times: 1 });
		const provider = await GoogleDriveProvider.open({ auth, apiBaseUrl: emulator.baseUrl, pacer: recordingPacer().pacer });
		expect(provider.rootId).toBe(emulator.myDriveRootId);
		expect(emulator.server.requests(/^POST \/token$/).map((entry) => entry.fault ?? entry.status)).toEqual(['unavailable', 'drop-after-commit', 200]);
	});

	it('a Drive run (uploads, downloads, a service account) loads neither @googleapis/drive, google-auth-library nor gaxios', async () => {
		const { emulator, auth } = fixture;
		const root = emulator.addFolder(emulator.myDriveRootId, 'child-run');
		const spec = { apiBaseUrl: emulator.baseUrl, root, user: auth, serviceAccount: emulator.addServiceAccount() };
		emulator.clearLog();
		const child = spawn(process.execPath, ['-r', join(__dirname, 'support', 'tsRegister.js'), join(__dirname, 'support', 'driveChild.ts')], {
			env: { ...process.env, CLOUDSYNC_DRIVE_CHILD: JSON.stringify(spec) },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
		child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
		const [code] = (await once(child, 'exit')) as [number | null];
		expect(stderr).toBe('');
		expect(code).toBe(0);
		const run = JSON.parse(stdout) as { uploaded: number; downloaded: number; serviceAccountRoot: string; packages: string[] };
		expect(run).toMatchObject({ uploaded: 2, downloaded: 2, serviceAccountRoot: emulator.myDriveRootId });
		// The large file went up in chunks, and both came back down.
		expect(emulator.server.log.filter((entry) => CHUNK.test(`${entry.method} ${entry.path}`)).length).toBeGreaterThan(1);
		expect(emulator.server.log.filter((entry) => entry.query.includes('alt=media'))).toHaveLength(2);
		expect(run.packages.filter((name) => ['@googleapis/drive', 'googleapis-common', 'google-auth-library', 'gaxios', 'gtoken'].includes(name))).toEqual([]);
	}, 60_000);
});
