import { MemoryStateStore, ProviderStateStore, sync, type FeedOptions, type Provider } from '../lib';
import { forgetICloudPhotosLibraries } from '../lib/providers/icloudPhotos';
import { DropboxProvider } from '../lib/providers/dropbox';
import { DropboxEmulator } from './emulators/dropbox';
import type { ICloudPhotosEmulator } from './emulators/icloudPhotos';
import { photosProvider, startPhotos } from './support/icloudPhotos';
import { quickPacer } from './support/dropbox';
import { tree } from './support/sides';
import type { ICloudSession } from '../lib/providers/icloud/session';

const QUERY = /^POST \/ckdatabasews\/.*\/records\/query$/;
const CHANGES = /^POST \/ckdatabasews\/.*\/changes\/zone$/;
const DAY = 86_400_000;
const at = (iso: string) => Date.parse(iso);

/**
 * iCloud Photos keeps its library index per process (the photos' names and folders follow from the
 * whole library). A scheduled run in a new process (every n8n worker restart, every queue-mode
 * worker) still plans from the changes/zone feed, but first reads the library once to know where
 * each photo was; a later run in the same process reads the feed alone.
 */
describe('scheduled Mirror from iCloud Photos planned from its change feed', () => {
	let photos: ICloudPhotosEmulator;
	let session: () => Promise<ICloudSession>;
	let dropbox: DropboxEmulator;
	beforeAll(async () => {
		forgetICloudPhotosLibraries();
		({ emulator: photos, session } = await startPhotos());
		dropbox = await DropboxEmulator.start({ seed: 33 });
		dropbox.seedFolder('/Photos');
	});
	afterAll(async () => {
		await photos.stop();
		await dropbox.server.stop();
	});

	it('plans from changes/zone in a new process after reading the library once, and from the feed alone in the same process', async () => {
		const [, gone] = photos.addPhotos([
			{ name: 'IMG_0001.JPG', date: at('2024-03-05T10:15:00Z') },
			{ name: 'IMG_0002.JPG', date: at('2024-04-05T10:15:00Z') },
			{ name: 'IMG_0009.JPG', date: at('2024-04-09T10:15:00Z') },
		]);
		const state = new MemoryStateStore();
		let clock = at('2026-03-01T00:00:00Z');
		const run = async () => {
			const destination: Provider = new DropboxProvider({ auth: dropbox.credentials, root: '/Photos', apiBaseUrl: dropbox.baseUrl, pacer: quickPacer() });
			const feed: FeedOptions = { state, copy: new ProviderStateStore(destination, 'photos-feed'), settings: 'mirror', fullEveryMs: 7 * DAY, now: () => clock };
			const queries = photos.server.requests(QUERY).length;
			const changes = photos.server.requests(CHANGES).length;
			const report = await sync(await photosProvider(session), destination, { mode: 'mirror', feed, pacer: quickPacer() });
			return { report, queries: photos.server.requests(QUERY).length - queries, changes: photos.server.requests(CHANGES).length - changes };
		};
		const first = await run();
		expect(first.report).toMatchObject({ status: 'success', added: 3, listing: 'full' });

		// A new process: nothing of the library is known, the cursors are.
		forgetICloudPhotosLibraries();
		photos.addPhotos([{ name: 'IMG_0003.JPG', date: at('2024-04-06T10:15:00Z') }]);
		photos.softDelete(gone);
		clock += DAY;
		const second = await run();
		expect(second.report).toMatchObject({ status: 'success', added: 1, deleted: 1, listing: 'changes' });
		expect(second.queries).toBeGreaterThan(0);
		expect(second.changes).toBeGreaterThan(0);

		// The same process: the feed alone.
		photos.addPhotos([{ name: 'IMG_0004.JPG', date: at('2024-05-06T10:15:00Z') }]);
		clock += DAY;
		const third = await run();
		expect(third.report).toMatchObject({ status: 'success', added: 1, listing: 'changes' });
		expect(third.queries).toBe(0);
		expect(Object.keys(await tree(new DropboxProvider({ auth: dropbox.credentials, root: '/Photos', apiBaseUrl: dropbox.baseUrl, pacer: quickPacer() }))).sort()).toEqual([
			'2024/03/IMG_0001.JPG',
			'2024/04/IMG_0003.JPG',
			'2024/04/IMG_0009.JPG',
			'2024/05/IMG_0004.JPG',
		]);
	});
});
