import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { IDataObject, INodeParameters, INodeProperties, INodePropertyOptions } from 'n8n-workflow';
import { CloudSync } from '../../nodes/CloudSync/CloudSync.node';
import { localCloudSyncRuns, restrictedFileAccess } from './fixtures/localRuns';
import { cloudSync, workflow } from './fixtures/workflow';
import { outputItems, runWorkflow, type RunOptions } from './harness';
import { filesOnly, readTree, writeTree } from '../support/trees';

const allowedFolder = restrictedFileAccess();
const base = localCloudSyncRuns;

const T0 = new Date(Date.UTC(2026, 10, 1, 12));
const later = new Date(Date.UTC(2026, 10, 2, 12));

async function pair(source: Record<string, string>, destination: Record<string, string>) {
	const root = await fs.mkdtemp(path.join(allowedFolder(), 'pair-'));
	const src = path.join(root, 'src');
	const dst = path.join(root, 'dst');
	await Promise.all([fs.mkdir(src), fs.mkdir(dst)]);
	await writeTree(src, source, T0.getTime());
	await writeTree(dst, destination, T0.getTime());
	return { src, dst };
}

async function edit(file: string, content: string, when = later) {
	await fs.mkdir(path.dirname(file), { recursive: true });
	await fs.writeFile(file, content);
	await fs.utimes(file, when, when);
}

const contents = async (root: string) => {
	const files: Record<string, string> = {};
	for (const relative of Object.keys(filesOnly(await readTree(root)))) {
		if (!relative.startsWith('.cloudsync/')) files[relative] = await fs.readFile(path.join(root, relative), 'utf8');
	}
	return files;
};

/** One Cloud Sync node run, with the static data n8n kept from the previous production run. */
async function run(parameters: INodeParameters, options: Partial<RunOptions> = {}) {
	const result = await runWorkflow(workflow([cloudSync({ resource: 'folder', operation: 'sync', output: 'both', ...parameters })]), { ...base, ...options });
	// The summary first, then the per-file items of the Files output.
	const items = result.status === 'success' ? [...outputItems(result, 'Cloud Sync'), ...outputItems(result, 'Cloud Sync', 1)].map((item) => item.json) : [];
	return { result, items };
}

describe('Cloud Sync node: two-way sync on local folders, through n8n-core', () => {
	it('merges on the first run, saves its state in static data, then carries changes and deletions both ways with a conflict kept', async () => {
		const { src, dst } = await pair({ 'a.txt': 'alpha', 'b.txt': 'bravo', 'c.txt': 'charlie' }, { 'a.txt': 'alpha', 'only-dst.txt': 'd' });
		const parameters = { sourceLocalPath: src, destinationLocalPath: dst, mode: 'twoWay' };
		const first = await run(parameters, { mode: 'trigger' });
		expect(first.result.status).toBe('success');
		expect(first.items[0]).toMatchObject({ type: 'summary', status: 'success', mode: 'twoWay', firstRun: true, added: 3, deleted: 0, stateSaved: true, stateFiles: 4 });
		expect(first.items[0].message).toMatch(new RegExp(`^Two-Way Local:${src} ⇄ Local:${dst}: 3 added, 0 updated, 0 deleted, 0 failed in \\d+\\.\\d s$`));
		// The emailed report names the folders as the panel does, with no direction.
		const row = (heading: string) => new RegExp(`<th[^>]*>${heading}</th><td[^>]*>([^<]*)</td>`).exec(String(first.items[0].html))?.[1];
		expect([row('Left'), row('Right'), row('From'), row('To')]).toEqual([`Local:${src}`, `Local:${dst}`, undefined, undefined]);
		const state = first.result.staticData['node:Cloud Sync'] as IDataObject;
		const [key] = Object.keys(state);
		expect(key).toMatch(/^two-way-\w+$/);
		expect(String(state[key]).length).toBe(first.items[0].stateBytes);

		await edit(path.join(src, 'a.txt'), 'alpha from source');
		await edit(path.join(dst, 'a.txt'), 'alpha from destination', new Date(later.getTime() + 60_000));
		await fs.rm(path.join(dst, 'b.txt'));
		await edit(path.join(dst, 'sub/new.txt'), 'new on destination');
		const second = await run(parameters, { mode: 'trigger', staticData: first.result.staticData });
		const [summary, ...files] = second.items;
		expect(summary).toMatchObject({ status: 'success', firstRun: false, added: 3, deleted: 1, conflicts: [expect.objectContaining({ path: 'a.txt', winner: 'destination', policy: 'keepBoth' })] });
		expect(files.map((file) => `${file.action} ${file.side} ${file.path}`).sort()).toEqual(
			expect.arrayContaining(['delete source b.txt', 'copy source sub/new.txt', expect.stringMatching(/^rename source a \(conflict source \d{4}-\d\d-\d\d \d\d-\d\d-\d\d\)\.txt$/)]),
		);
		const expectedTree = { 'a.txt': 'alpha from destination', 'c.txt': 'charlie', 'only-dst.txt': 'd', 'sub/new.txt': 'new on destination' };
		for (const root of [src, dst]) {
			const tree = await contents(root);
			const conflictCopy = Object.keys(tree).find((name) => name.includes('(conflict source'));
			expect(tree).toEqual({ ...expectedTree, [conflictCopy!]: 'alpha from source' });
		}
	});

	it('editor runs, whose node state n8n does not keep, say so and carry on from the copy on the destination', async () => {
		const { src, dst } = await pair({ 'a.txt': 'alpha', 'b.txt': 'bravo' }, {});
		const parameters = { sourceLocalPath: src, destinationLocalPath: dst, mode: 'twoWay' };
		const first = await run(parameters);
		expect(first.items[0]).toMatchObject({ status: 'success', stateSaved: true, hint: expect.stringMatching(/manual run from the editor.*copy/) });
		expect(first.result.staticData['node:Cloud Sync']).toBeUndefined();
		expect((await fs.readdir(path.join(dst, '.cloudsync'))).filter((name) => name.endsWith('.state'))).toHaveLength(1);
		await fs.rm(path.join(src, 'a.txt'));
		const second = await run(parameters);
		expect(second.items[0]).toMatchObject({ firstRun: false, stateFromCopy: true, deleted: 1, added: 0 });
		expect(await contents(dst)).toEqual({ 'b.txt': 'bravo' });
	});

	it('a scheduled run started without its node state (a queue-mode worker) says so, naming the folder and the option as the panel shows them', async () => {
		const { src, dst } = await pair({ 'a.txt': 'alpha', 'b.txt': 'bravo' }, {});
		const parameters = { sourceLocalPath: src, destinationLocalPath: dst, mode: 'twoWay' };
		expect((await run(parameters, { mode: 'trigger' })).items[0]).toMatchObject({ status: 'success', stateSaved: true, hint: undefined });
		await fs.rm(path.join(src, 'a.txt'));
		const worker = await run(parameters, { mode: 'trigger', staticData: {} });
		expect(worker.items[0]).toMatchObject({ firstRun: false, stateFromCopy: true, deleted: 1 });
		// Two-Way's panel shows Left and Right, and State Storage's choices by these names.
		const options = new CloudSync().description.properties.find((property) => property.name === 'options' && property.displayOptions?.show?.operation?.includes('sync'))!;
		const storage = (options.options as INodeProperties[]).find((option) => option.name === 'stateStorage')!;
		const onRight = (storage.options as INodePropertyOptions[]).find((choice) => choice.value === 'destination')!.name;
		expect(worker.items[0].hint).toContain(`the .cloudsync folder of the right-hand folder was used. To keep the state there only, choose Options > State Storage > ${onRight}.`);
		expect(worker.items[0].hint).not.toMatch(/destination/i);
	});

	it('keeps its state in a file on the destination by option, so editor runs carry deletions too', async () => {
		const { src, dst } = await pair({ 'a.txt': 'alpha', 'b.txt': 'bravo', 'c.txt': 'c' }, {});
		const parameters = { sourceLocalPath: src, destinationLocalPath: dst, mode: 'twoWay', options: { stateStorage: 'destination' } };
		const first = await run(parameters);
		expect(first.items[0]).toMatchObject({ stateStorage: 'destination', stateSaved: true, hint: undefined });
		expect((await fs.readdir(path.join(dst, '.cloudsync'))).filter((name) => name.endsWith('.state'))).toHaveLength(1);
		await fs.rm(path.join(src, 'a.txt'));
		const second = await run(parameters);
		expect(second.items[0]).toMatchObject({ firstRun: false, deleted: 1 });
		expect(await contents(dst)).toEqual({ 'b.txt': 'bravo', 'c.txt': 'c' });
	});

	it('refuses a run that would empty a side with a node error that says what to change; continue-on-fail passes it on', async () => {
		const { src, dst } = await pair({ 'a.txt': 'alpha', 'b.txt': 'bravo' }, {});
		const parameters = { sourceLocalPath: src, destinationLocalPath: dst, mode: 'twoWay', options: { stateStorage: 'destination' } };
		await run(parameters);
		await fs.rm(path.join(src, 'a.txt'));
		await fs.rm(path.join(src, 'b.txt'));
		const refused = await run(parameters);
		expect(refused.result.status).toBe('error');
		expect(refused.result.nodes['Cloud Sync'][0].error).toMatchObject({ name: 'NodeOperationError', message: expect.stringMatching(/source holds no files/), description: expect.stringMatching(/Force/) });
		const passed = await runWorkflow(workflow([cloudSync({ resource: 'folder', operation: 'sync', ...parameters }, { continueOnFail: true })]), base);
		expect(outputItems(passed, 'Cloud Sync')[0]).toMatchObject({ json: { error: expect.stringMatching(/source holds no files/) }, pairedItem: { item: 0 } });
		expect(await contents(dst)).toEqual({ 'a.txt': 'alpha', 'b.txt': 'bravo' });
	});

	it('a second run of the same pair while one holds the lock is refused with the way out', async () => {
		const { src, dst } = await pair({ 'a.txt': 'alpha' }, {});
		const parameters = { sourceLocalPath: src, destinationLocalPath: dst, mode: 'twoWay' };
		const [one, two] = await Promise.all([run(parameters), run(parameters)]);
		const failed = [one, two].filter((attempt) => attempt.result.status === 'error');
		expect(failed).toHaveLength(1);
		expect(failed[0].result.nodes['Cloud Sync'][0].error).toMatchObject({ message: expect.stringMatching(/Another run of this folder pair is in progress/), description: expect.stringMatching(/lock expires/) });
	});

	it('Diff shows a two-way plan without changing anything', async () => {
		const { src, dst } = await pair({ 'a.txt': 'alpha' }, { 'b.txt': 'bravo' });
		const result = await runWorkflow(workflow([cloudSync({ resource: 'folder', operation: 'diff', sourceLocalPath: src, destinationLocalPath: dst, mode: 'twoWay' })]), base);
		// The per-file items on the Files output, the summary alone on the first.
		const items = [...outputItems(result, 'Cloud Sync', 1), ...outputItems(result, 'Cloud Sync')].map((item) => item.json);
		expect(items.map((item) => `${item.type} ${item.action ?? item.status} ${item.side ?? ''} ${item.path ?? ''}`.trim())).toEqual([
			'action copy destination a.txt',
			'action copy source b.txt',
			'summary planned',
		]);
		expect(await contents(dst)).toEqual({ 'b.txt': 'bravo' });
	});
});

describe('Cloud Sync node: snapshot backups and kept versions on local folders', () => {
	it('Full Backup writes a dated folder per run and Keep Last Snapshots prunes the oldest', async () => {
		const { src, dst } = await pair({ 'a.txt': 'alpha', 'docs/b.txt': 'bravo' }, {});
		const parameters = { sourceLocalPath: src, destinationLocalPath: dst, mode: 'fullBackup', options: { keepLast: 1 } };
		const first = await run(parameters);
		expect(first.items[0]).toMatchObject({ status: 'success', mode: 'fullBackup', files: 2, added: 2, removedSnapshots: [] });
		await new Promise((resolve) => setTimeout(resolve, 1100));
		await edit(path.join(src, 'a.txt'), 'alpha v2');
		const second = await run(parameters);
		expect(second.items[0]).toMatchObject({ status: 'success', files: 2, added: 1, copiedServerSide: 1, removedSnapshots: [first.items[0].folder] });
		expect(await contents(dst)).toEqual({ [`${second.items[0].folder}/a.txt`]: 'alpha v2', [`${second.items[0].folder}/docs/b.txt`]: 'bravo' });
	});

	it('Diff shows what a Full Backup would write, and how, without writing it', async () => {
		const { src, dst } = await pair({ 'a.txt': 'alpha', 'b.txt': 'bravo' }, {});
		await run({ sourceLocalPath: src, destinationLocalPath: dst, mode: 'fullBackup' });
		await new Promise((resolve) => setTimeout(resolve, 1100));
		await edit(path.join(src, 'b.txt'), 'bravo v2');
		const before = await contents(dst);
		const result = await runWorkflow(workflow([cloudSync({ resource: 'folder', operation: 'diff', sourceLocalPath: src, destinationLocalPath: dst, mode: 'fullBackup' })]), base);
		const items = [...outputItems(result, 'Cloud Sync', 1), ...outputItems(result, 'Cloud Sync')].map((item) => item.json);
		expect(items.map((item) => `${item.type} ${item.action ?? item.status} ${item.path ?? ''}`.trim())).toEqual([
			'action upload b.txt',
			'action copy inside the destination a.txt',
			'summary planned',
		]);
		expect(await contents(dst)).toEqual(before);
	});

	it('Incremental Backup writes only what changed', async () => {
		const { src, dst } = await pair({ 'a.txt': 'alpha', 'b.txt': 'bravo' }, {});
		const parameters = { sourceLocalPath: src, destinationLocalPath: dst, mode: 'incremental' };
		const first = await run(parameters);
		await new Promise((resolve) => setTimeout(resolve, 1100));
		await edit(path.join(src, 'b.txt'), 'bravo v2');
		const second = await run(parameters);
		expect(second.items[0]).toMatchObject({ status: 'success', mode: 'incremental', files: 1, unchanged: 1 });
		expect(await contents(dst)).toEqual({ [`${first.items[0].folder}/a.txt`]: 'alpha', [`${first.items[0].folder}/b.txt`]: 'bravo', [`${second.items[0].folder}/b.txt`]: 'bravo v2' });
	});

	it('Mirror with Keep Replaced and Deleted Files In moves them aside with the date instead of losing them', async () => {
		const { src, dst } = await pair({ 'a.txt': 'alpha v2', 'keep.txt': 'k' }, { 'a.txt': 'alpha', 'gone.txt': 'gone', 'keep.txt': 'k' });
		const { items } = await run({ sourceLocalPath: src, destinationLocalPath: dst, mode: 'mirror', options: { backupDir: 'Old versions', force: true } });
		expect(items[0]).toMatchObject({ status: 'success', updated: 1, deleted: 1 });
		const tree = await contents(dst);
		const kept = Object.keys(tree).filter((name) => name.startsWith('Old versions/')).sort();
		expect(kept).toEqual([expect.stringMatching(/^Old versions\/a \(\d{4}-\d\d-\d\d \d\d-\d\d-\d\d\)\.txt$/), expect.stringMatching(/^Old versions\/gone \(.*\)\.txt$/)]);
		expect(kept.map((name) => tree[name])).toEqual(['alpha', 'gone']);
		expect(tree['a.txt']).toBe('alpha v2');
	});
});
