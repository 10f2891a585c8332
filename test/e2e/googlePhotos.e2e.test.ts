/**
 * The Google Photos example (examples/icloud-photos-to-google-photos.json) in a real n8n 2.40.7, from
 * the iCloud Photos emulator (Apple's sign-in and CloudKit, the Apple ID already trusted) into the
 * Google Photos emulator: each `n8n execute` is a new n8n process, so the second run sending nothing
 * shows the ledger survives in the workflow's static data, and the third shows a photo deleted in
 * iCloud Photos is reported, while Google Photos keeps it.
 */
import { EXAMPLE_CREDENTIALS, EXAMPLES, FOLDERS, loadExample, sha256, startSampleClouds, type SampleClouds } from './clouds';
import { seedSamplePhotos, startSamplePhotos, type SamplePhotos } from './icloudPhotosSample';
import { N8nSandbox } from './n8n';

const describeE2E = process.env.CLOUDSYNC_E2E === '1' ? describe : describe.skip;
const NODE = 'Add new iCloud photos to Google Photos';

describeE2E('iCloud Photos → Google Photos example in n8n: add-only, the ledger kept across n8n processes', () => {
	let clouds: SampleClouds;
	let photos: SamplePhotos;
	let n8n: N8nSandbox;
	let seeded: ReturnType<typeof seedSamplePhotos>;
	const uploads = () => clouds.googlePhotos.server.log.filter((entry) => entry.path === '/v1/uploads').length;
	const albumShas = () => (clouds.googlePhotos.albumNamed(FOLDERS.photosAlbum)?.items ?? []).map((id) => clouds.googlePhotos.items.get(id)!.sha256).sort();

	beforeAll(async () => {
		clouds = await startSampleClouds();
		photos = await startSamplePhotos();
		seeded = seedSamplePhotos(photos);
		n8n = await N8nSandbox.create({ env: { ...clouds.env, ...photos.env } });
		await n8n.packPackage({ tarball: process.env.CLOUDSYNC_E2E_TARBALL || undefined });
		await n8n.importCredentials([...clouds.credentials.filter((credential) => credential.id === EXAMPLE_CREDENTIALS.googlePhotos.id), photos.credential]);
		await n8n.importWorkflows([loadExample(EXAMPLES.photos.file, n8n.dataFolder)]);
	}, 30 * 60 * 1000);

	afterAll(async () => {
		await n8n?.cleanup();
		await clouds?.stop();
		await photos?.stop();
	});

	test('the first run creates the album and adds every original, Live Photo videos and RAW included, byte for byte', async () => {
		const result = await n8n.executeWorkflow(EXAMPLES.photos.id);
		// The summary is the first output (Summary), one item per photo the second (Files).
		const [summary] = result.nodes[NODE];
		const files = (result.outputs[NODE][1] ?? []).map((item) => item.json);
		const count = Object.keys(seeded.files).length;
		expect(summary).toMatchObject({ type: 'summary', status: 'success', mode: 'addToGooglePhotos', album: { title: FOLDERS.photosAlbum }, uploaded: count, failed: 0, ledgerSaved: true });
		expect(summary.message).toContain(`: ${count} photos added, 0 skipped, 0 failed in`);
		expect(files.filter((file) => file.status === 'uploaded').map((file) => file.path).sort()).toEqual(Object.keys(seeded.files).sort());
		expect(albumShas()).toEqual(Object.values(seeded.files).map(sha256).sort());
	});

	test('the next run, in a new n8n process, sends nothing: the ledger came back from the static data', async () => {
		const before = uploads();
		const result = await n8n.executeWorkflow(EXAMPLES.photos.id);
		expect(result.nodes[NODE][0]).toMatchObject({ status: 'success', uploaded: 0, alreadyInLibrary: Object.keys(seeded.files).length, recoveredFromAlbum: 0 });
		expect(uploads()).toBe(before);
	});

	test('a photo deleted in iCloud Photos is reported with its link, and stays in Google Photos', async () => {
		photos.emulator.softDelete(seeded.assets[2]);
		const result = await n8n.executeWorkflow(EXAMPLES.photos.id);
		expect(result.nodes[NODE][0]).toMatchObject({
			status: 'success',
			uploaded: 0,
			goneFromSource: 1,
			deletedAtSource: [{ path: '2026/01/IMG_0002.MOV', productUrl: expect.stringMatching(/^https:\/\/photos\.google\.com\//) }],
		});
		expect(albumShas()).toHaveLength(Object.keys(seeded.files).length);
	});
});
