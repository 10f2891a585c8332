import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UploadSessions } from '../lib/state/uploads';
import { FileStateStore, MemoryStateStore } from '../lib/state/state';
import type { SavedUpload } from '../lib/core/types';

const identity = { path: 'videos/big.mov', size: 5e9, modTime: 1_700_000_000_000, hash: 'md5:abc' };
const upload = (overrides: Partial<SavedUpload> = {}): SavedUpload => ({
	...identity,
	scope: 'google-drive:root1',
	session: 'https://upload.example/session?upload_id=1',
	offset: 0,
	expiresAt: Date.now() + 3_600_000,
	...overrides,
});

describe('the upload session store', () => {
	let dir: string;
	beforeEach(async () => {
		dir = await mkdtemp(join(tmpdir(), 'cloudsync-uploads-'));
	});
	afterEach(() => rm(dir, { recursive: true, force: true }));

	it('has a new session on disk when begin resolves, so a process killed right after can resume it', async () => {
		const file = join(dir, 'uploads.json');
		await new UploadSessions(new FileStateStore(file)).begin(upload());
		// Another process, later: only the file is shared.
		const { saved } = await new UploadSessions(new FileStateStore(file)).find('google-drive:root1', identity);
		expect(saved).toMatchObject({ session: 'https://upload.example/session?upload_id=1', size: 5e9 });
	});

	it('saves confirmed offsets within the interval, and what is left when flushed', async () => {
		const file = join(dir, 'uploads.json');
		const sessions = new UploadSessions(new FileStateStore(file), { saveEveryMs: 50 });
		await sessions.begin(upload());
		sessions.advance('google-drive:root1', identity.path, 8 << 20);
		await new Promise((resolve) => setTimeout(resolve, 150));
		expect(JSON.parse(await readFile(file, 'utf8')).uploads[0].offset).toBe(8 << 20);
		sessions.end('google-drive:root1', identity.path);
		await sessions.flush();
		expect(JSON.parse(await readFile(file, 'utf8')).uploads).toEqual([]);
	});

	it.each([
		['a changed modification time', { modTime: identity.modTime + 1 }],
		['another size', { size: identity.size - 1 }],
		['another hash', { hash: 'md5:def' }],
	])('does not resume a session for another version of the source (%s): it is handed back as stale and forgotten', async (_label, change) => {
		const sessions = new UploadSessions(new MemoryStateStore());
		await sessions.begin(upload());
		const found = await sessions.find('google-drive:root1', { ...identity, ...change });
		expect(found).toEqual({ stale: expect.objectContaining({ session: upload().session }) });
		expect(await sessions.find('google-drive:root1', identity)).toEqual({});
	});

	it('forgets expired sessions, and keeps sessions of other scopes and paths apart', async () => {
		const sessions = new UploadSessions(new MemoryStateStore());
		await sessions.begin(upload({ expiresAt: Date.now() - 1 }));
		await sessions.begin(upload({ scope: 'dropbox:', session: 'dbx-1' }));
		expect(await sessions.find('google-drive:root1', identity)).toEqual({});
		expect(await sessions.find('google-drive:root1', { ...identity, path: 'other.mov' })).toEqual({});
		expect((await sessions.find('dropbox:', identity)).saved?.session).toBe('dbx-1');
	});

	it("reads the newest of its copies (n8n's static data is behind after a killed run) and saves to every copy", async () => {
		const staticData = new MemoryStateStore();
		const onDestination = new MemoryStateStore();
		const before = new UploadSessions([staticData, onDestination]);
		await before.begin(upload({ session: 'old' }));
		// The next run was killed: only the copy on the destination was saved after it began another session.
		const killedRun = new UploadSessions(onDestination);
		await killedRun.begin(upload({ session: 'new', offset: 1 }));
		const next = new UploadSessions([staticData, onDestination]);
		expect((await next.find('google-drive:root1', identity)).saved?.session).toBe('new');
		next.end('google-drive:root1', identity.path);
		await next.flush();
		expect(JSON.parse(staticData.state!).uploads).toEqual([]);
		expect(JSON.parse(onDestination.state!).uploads).toEqual([]);
	});

	it('a copy that cannot be read or saved costs only the resumption: uploads go on', async () => {
		const broken = { where: 'broken', load: () => Promise.reject(new Error('offline')), save: () => Promise.reject(new Error('offline')) };
		const sessions = new UploadSessions(broken);
		expect(await sessions.find('google-drive:root1', identity)).toEqual({});
		await expect(sessions.begin(upload())).resolves.toBeUndefined();
		expect(sessions.lastSaveError).toEqual(new Error('offline'));
	});
});
