/**
 * The iCloud Photos examples in a real n8n 2.40.7, against the iCloud Photos emulator (Apple's sign-in
 * and CloudKit) and the Google Drive emulator:
 *
 *   icloud-photos-to-google-drive-by-month  n8n execute: the library lands in Drive /Backups/iCloud Photos/yyyy/MM,
 *                                           byte for byte; a re-run copies nothing
 *   new-icloud-photos-trigger               n8n start: the active trigger sees photos added on the emulator and
 *                                           copies them (and their Live Photo videos) to the local folder
 *
 * The Apple ID credential is imported already trusted (the code entered once, as test/e2e/icloud.e2e.test.ts
 * walks through).
 */
import * as path from 'node:path';
import { EXAMPLE_CREDENTIALS, loadExample, readDriveTree, readLocalTree, treeHashes, type SampleClouds, startSampleClouds } from './clouds';
import { PHOTO_EXAMPLES, seedSamplePhotos, startSamplePhotos, type SamplePhotos } from './icloudPhotosSample';
import { N8nSandbox, type RunningN8n } from './n8n';

const describeE2E = process.env.CLOUDSYNC_E2E === '1' ? describe : describe.skip;
const BY_MONTH = PHOTO_EXAMPLES.byMonth;
const TRIGGER = PHOTO_EXAMPLES.trigger;
const at = (iso: string) => Date.parse(iso);

describeE2E('iCloud Photos examples in n8n, on the emulators', () => {
	let clouds: SampleClouds;
	let photos: SamplePhotos;
	let n8n: N8nSandbox;

	beforeAll(async () => {
		clouds = await startSampleClouds();
		photos = await startSamplePhotos();
		clouds.drive.folderAt(BY_MONTH.driveFolder);
		n8n = await N8nSandbox.create({ env: { ...clouds.env, ...photos.env } });
		await n8n.packPackage({ tarball: process.env.CLOUDSYNC_E2E_TARBALL || undefined });
		await n8n.importCredentials([...clouds.credentials.filter((credential) => credential.id === EXAMPLE_CREDENTIALS.googleDrive.id), photos.credential]);
		await n8n.importWorkflows([loadExample(BY_MONTH.file, n8n.dataFolder), loadExample(TRIGGER.file, n8n.dataFolder)]);
	}, 30 * 60 * 1000);

	afterAll(async () => {
		await n8n?.cleanup();
		await clouds?.stop();
		await photos?.stop();
	});

	test('iCloud Photos → Google Drive in yyyy/MM by photo date: every original and Live Photo video, byte for byte; a re-run copies nothing', async () => {
		const { files: expected } = seedSamplePhotos(photos);
		const result = await n8n.executeWorkflow(BY_MONTH.id);
		expect(result.nodes[BY_MONTH.node][0]).toMatchObject({ type: 'summary', status: 'success', mode: 'copy', added: 4, failed: 0 });
		expect(treeHashes(await readDriveTree(clouds, BY_MONTH.driveFolder))).toEqual(treeHashes(expected));
		// A new n8n process: the library is read again (no index in memory), and nothing is copied twice.
		const again = await n8n.executeWorkflow(BY_MONTH.id);
		expect(again.nodes[BY_MONTH.node][0]).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0 });
	});

	describe('with `n8n start`', () => {
		let server: RunningN8n;

		beforeAll(async () => {
			server = await n8n.startN8n();
			await server.setupOwner();
		}, 5 * 60 * 1000);

		afterAll(async () => {
			await server?.stop();
		});

		test('the trigger fires on new iCloud photos and the sync copies exactly those into the local folder', async () => {
			const folder = path.join(n8n.dataFolder, TRIGGER.localFolder);
			await server.activateWorkflow(TRIGGER.id);
			const deadline = (ms: number) => Date.now() + ms;
			const until = async <T>(probe: () => Promise<T | undefined> | T | undefined, ms: number, what: string): Promise<T> => {
				const end = deadline(ms);
				for (;;) {
					const value = await probe();
					if (value !== undefined) return value;
					if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
					await new Promise((resolve) => setTimeout(resolve, 500));
				}
			};
			const state = await until(
				async () => {
					const workflow = await server.rest<{ staticData?: Record<string, { cursor?: string; location?: string }> | null }>('GET', `/workflows/${TRIGGER.id}`);
					return workflow.staticData?.[`node:${TRIGGER.node}`]?.cursor ? workflow.staticData[`node:${TRIGGER.node}`] : undefined;
				},
				60_000,
				'the trigger recording its iCloud Photos cursor',
			);
			expect(state.location).toBe('iCloud Photos:Personal Library (By Month)');
			const assets = photos.emulator.addPhotos([
				{ name: 'IMG_0500.HEIC', date: at('2026-12-01T08:00:00Z'), live: true },
				{ name: 'IMG_0501.JPG', date: at('2026-12-01T08:05:00Z') },
			]);
			const expected = treeHashes(photos.files(assets, [['2026/12/IMG_0500.HEIC', '2026/12/IMG_0500.MOV'], ['2026/12/IMG_0501.JPG']]));
			await until(() => (JSON.stringify(treeHashes(readLocalTree(folder))) === JSON.stringify(expected) ? true : undefined), 150_000, 'the new photos in the local folder');
			const executions = await until(
				async () => {
					const list = await server.listExecutions(TRIGGER.id);
					return list.some((execution) => execution.status === 'success') ? list : undefined;
				},
				30_000,
				'a saved execution',
			);
			expect(executions.filter((execution) => execution.status === 'error')).toEqual([]);
			const runs = await Promise.all(executions.filter((execution) => execution.status === 'success').map((execution) => server.getExecution(execution.id)));
			const events = runs.flatMap((run) => run.nodes[TRIGGER.node] ?? []).map((item) => `${item.event} ${item.path}`);
			expect(events.filter((event) => !event.endsWith('/12') && event !== 'added 2026').sort()).toEqual(['added 2026/12/IMG_0500.HEIC', 'added 2026/12/IMG_0500.MOV', 'added 2026/12/IMG_0501.JPG']);
			await server.deactivateWorkflow(TRIGGER.id);
		});
	});
});
