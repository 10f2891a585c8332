/**
 * The two-way example (examples/two-way-local-and-dropbox-on-schedule.json) in a real n8n 2.40.7,
 * between a local folder and the Dropbox emulator: each `n8n execute` is a new n8n process, so the
 * second run finding the first run's state shows the state survives a restart (it lives in the
 * workflow's static data in n8n's database).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXAMPLE_CREDENTIALS, SEED_TIME, loadExample, readDropboxTree, readLocalTree, sampleBytes, startSampleClouds, treeHashes, type SampleClouds } from './clouds';
import { N8nSandbox } from './n8n';

const describeE2E = process.env.CLOUDSYNC_E2E === '1' ? describe : describe.skip;
const NODE = 'Two-way sync shared folder';
const LOCAL = 'shared';
const DROPBOX = '/Shared';
const BOTH = { 'plan.md': Buffer.from('# Plan\n- v1\n') };
const LOCAL_ONLY = { 'budget.csv': Buffer.from('item,cost\nlaptop,1200\n') };
const DROPBOX_ONLY = { 'photos/team.jpg': sampleBytes('team.jpg', 30 * 1024) };

describeE2E('two-way example in n8n: local folder ⇄ Dropbox emulator, state kept across n8n processes', () => {
	let clouds: SampleClouds;
	let n8n: N8nSandbox;
	const localRoot = () => path.join(n8n.dataFolder, LOCAL);
	const writeLocal = (file: string, content: Buffer, time = SEED_TIME) => {
		const target = path.join(localRoot(), file);
		fs.mkdirSync(path.dirname(target), { recursive: true });
		fs.writeFileSync(target, content);
		fs.utimesSync(target, time / 1000, time / 1000);
	};
	const withoutVersions = (tree: Record<string, Buffer>) => Object.fromEntries(Object.entries(tree).filter(([file]) => !file.startsWith('.versions/') && !file.startsWith('.cloudsync/')));

	beforeAll(async () => {
		clouds = await startSampleClouds();
		n8n = await N8nSandbox.create({ env: clouds.env });
		for (const [file, content] of Object.entries({ ...BOTH, ...LOCAL_ONLY })) writeLocal(file, content);
		for (const [file, content] of Object.entries({ ...BOTH, ...DROPBOX_ONLY })) clouds.dropbox.seedFile(`${DROPBOX}/${file}`, content, { clientModified: SEED_TIME });
		await n8n.packPackage({ tarball: process.env.CLOUDSYNC_E2E_TARBALL || undefined });
		await n8n.importCredentials(clouds.credentials.filter((credential) => credential.id === EXAMPLE_CREDENTIALS.dropbox.id));
		await n8n.importWorkflows([loadExample('two-way-local-and-dropbox-on-schedule', n8n.dataFolder)]);
	}, 30 * 60 * 1000);

	afterAll(async () => {
		await n8n?.cleanup();
		await clouds?.stop();
	});

	test('the first run merges both folders and deletes nothing', async () => {
		const result = await n8n.executeWorkflow('csExampleTwoWay1');
		const [summary] = result.nodes[NODE];
		expect(summary).toMatchObject({ type: 'summary', status: 'success', mode: 'twoWay', firstRun: true, added: 2, deleted: 0, stateSaved: true, stateFiles: 3 });
		const expected = treeHashes({ ...BOTH, ...LOCAL_ONLY, ...DROPBOX_ONLY });
		expect(treeHashes(withoutVersions(readLocalTree(localRoot())))).toEqual(expected);
		expect(treeHashes(withoutVersions(readDropboxTree(clouds.dropbox, DROPBOX)))).toEqual(expected);
	});

	test('the next run, in a new n8n process, carries a deletion and an edit both ways and keeps the replaced versions', async () => {
		fs.rmSync(path.join(localRoot(), 'budget.csv'));
		const edited = Buffer.from('# Plan\n- v1\n- v2 from Dropbox\n');
		clouds.dropbox.seedFile(`${DROPBOX}/plan.md`, edited, { clientModified: SEED_TIME + 3_600_000 });
		const result = await n8n.executeWorkflow('csExampleTwoWay1');
		const [summary, ...others] = result.nodes[NODE];
		expect(others).toEqual([]);
		// Per-file items come on the second output, Files.
		const files = (result.outputs[NODE][1] ?? []).map((item) => item.json);
		expect(summary).toMatchObject({ status: 'success', firstRun: false, updated: 1, deleted: 1, toSource: { updated: 1 }, toDestination: { deleted: 1 } });
		expect(files.map((file) => `${file.action} ${file.side} ${file.path} ${file.status}`).sort()).toEqual(['delete destination budget.csv done', 'update source plan.md done']);
		const expected = treeHashes({ 'plan.md': edited, ...DROPBOX_ONLY });
		expect(treeHashes(withoutVersions(readLocalTree(localRoot())))).toEqual(expected);
		expect(treeHashes(withoutVersions(readDropboxTree(clouds.dropbox, DROPBOX)))).toEqual(expected);
		const localVersions = Object.keys(readLocalTree(localRoot())).filter((file) => file.startsWith('.versions/'));
		expect(localVersions).toEqual([expect.stringMatching(/^\.versions\/plan \(\d{4}-\d\d-\d\d \d\d-\d\d-\d\d\)\.md$/)]);
		const dropboxVersions = Object.keys(readDropboxTree(clouds.dropbox, DROPBOX)).filter((file) => file.startsWith('.versions/'));
		expect(dropboxVersions).toEqual([expect.stringMatching(/^\.versions\/budget \(.*\)\.csv$/)]);
	});
});
