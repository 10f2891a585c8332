/**
 * The Google Photos example (examples/icloud-photos-to-google-photos.json) in a real n8n 2.40.7,
 * from a local camera roll into the Google Photos emulator: each `n8n execute` is a new n8n process,
 * so the second run sending nothing shows the ledger survives in the workflow's static data, and the
 * third shows a photo deleted at the source is reported, while Google Photos keeps it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXAMPLE_CREDENTIALS, EXAMPLES, FOLDERS, SAMPLE, loadExample, seedLocalFiles, sha256, startSampleClouds, type SampleClouds } from './clouds';
import { N8nSandbox } from './n8n';

const describeE2E = process.env.CLOUDSYNC_E2E === '1' ? describe : describe.skip;
const NODE = 'Add new photos to Google Photos';

describeE2E('Google Photos example in n8n: a camera roll added to an album, add-only, the ledger kept across n8n processes', () => {
	let clouds: SampleClouds;
	let n8n: N8nSandbox;
	const uploads = () => clouds.googlePhotos.server.log.filter((entry) => entry.path === '/v1/uploads').length;
	const albumShas = () => (clouds.googlePhotos.albumNamed(FOLDERS.photosAlbum)?.items ?? []).map((id) => clouds.googlePhotos.items.get(id)!.sha256).sort();
	const photos = Object.entries(SAMPLE.cameraRoll).filter(([file]) => !file.endsWith('.AAE'));

	beforeAll(async () => {
		clouds = await startSampleClouds();
		n8n = await N8nSandbox.create({ env: clouds.env });
		seedLocalFiles(n8n.dataFolder);
		await n8n.packPackage({ tarball: process.env.CLOUDSYNC_E2E_TARBALL || undefined });
		await n8n.importCredentials(clouds.credentials.filter((credential) => credential.id === EXAMPLE_CREDENTIALS.googlePhotos.id));
		await n8n.importWorkflows([loadExample(EXAMPLES.photos.file, n8n.dataFolder)]);
	}, 30 * 60 * 1000);

	afterAll(async () => {
		await n8n?.cleanup();
		await clouds?.stop();
	});

	test('the first run creates the album and adds every photo and video, Live Photo companions included; the sidecar is skipped', async () => {
		const result = await n8n.executeWorkflow(EXAMPLES.photos.id);
		const [summary, ...files] = result.nodes[NODE];
		expect(summary).toMatchObject({ type: 'summary', status: 'success', mode: 'addToGooglePhotos', album: { title: FOLDERS.photosAlbum }, uploaded: photos.length, skipped: 1, ledgerSaved: true });
		expect(files.filter((file) => file.status === 'uploaded')).toHaveLength(photos.length);
		expect(albumShas()).toEqual(photos.map(([, content]) => sha256(content)).sort());
	});

	test('the next run, in a new n8n process, sends nothing: the ledger came back from the static data', async () => {
		const before = uploads();
		const result = await n8n.executeWorkflow(EXAMPLES.photos.id);
		expect(result.nodes[NODE][0]).toMatchObject({ status: 'success', uploaded: 0, alreadyInLibrary: photos.length, recoveredFromAlbum: 0 });
		expect(uploads()).toBe(before);
	});

	test('a photo deleted from the camera roll is reported with its link, and stays in Google Photos', async () => {
		fs.rmSync(path.join(n8n.dataFolder, FOLDERS.cameraRoll, '2024/06/IMG_0102.JPG'));
		const result = await n8n.executeWorkflow(EXAMPLES.photos.id);
		const [summary] = result.nodes[NODE];
		expect(summary).toMatchObject({ status: 'success', uploaded: 0, goneFromSource: 1, deletedAtSource: [{ path: '2024/06/IMG_0102.JPG', productUrl: expect.stringMatching(/^https:\/\/photos\.google\.com\//) }] });
		expect(albumShas()).toHaveLength(photos.length);
	});
});
