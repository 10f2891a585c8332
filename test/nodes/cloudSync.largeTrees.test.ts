/**
 * The node on trees larger than what belongs in a workflow: the two-way state kept on the
 * destination with a pointer in static data, and per-file items capped by Item Limit.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { IDataObject, INodeParameters } from 'n8n-workflow';
import { localCloudSyncRuns, restrictedFileAccess } from './fixtures/localRuns';
import { cloudSync, workflow } from './fixtures/workflow';
import { outputItems, runWorkflow, type RunOptions } from './harness';
import { writeTree } from '../support/trees';

const allowedFolder = restrictedFileAccess();
const base = localCloudSyncRuns;

const T0 = Date.UTC(2026, 10, 1, 12);

async function pair(source: Record<string, string>, destination: Record<string, string>) {
	const root = await fs.mkdtemp(path.join(allowedFolder(), 'pair-'));
	const src = path.join(root, 'src');
	const dst = path.join(root, 'dst');
	await Promise.all([fs.mkdir(src), fs.mkdir(dst)]);
	await writeTree(src, source, T0);
	await writeTree(dst, destination, T0);
	return { src, dst };
}

/** `count` files with names and sizes that compress badly, so that their state outgrows the 64 KiB kept whole in static data. */
function scatteredTree(count: number): Record<string, string> {
	let seed = 7;
	const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
	const files: Record<string, string> = {};
	for (let i = 0; i < count; i++) files[`folder-${i % 40}/${next().toString(36)}-${next().toString(36)}-${next().toString(36)}.txt`] = 'x'.repeat(next() % 300);
	return files;
}

async function run(parameters: INodeParameters, options: Partial<RunOptions> = {}) {
	const result = await runWorkflow(workflow([cloudSync({ resource: 'folder', output: 'both', ...parameters })]), { ...base, ...options });
	expect(result.status).toBe('success');
	return { result, summary: outputItems(result, 'Cloud Sync')[0].json, files: outputItems(result, 'Cloud Sync', 1).map((item) => item.json) };
}

const heldState = (staticData: IDataObject) => {
	const held = staticData['node:Cloud Sync'] as IDataObject;
	const [key] = Object.keys(held);
	return { key, text: String(held[key]) };
};

describe('Cloud Sync node: the two-way state of a large tree lives on the destination, static data keeps a pointer', () => {
	it('keeps a pointer of a few dozen bytes, plans the next run from the state, and a run without static data (queue mode) still finds it', async () => {
		const tree = scatteredTree(5000);
		const { src, dst } = await pair(tree, tree);
		const parameters = { operation: 'sync', sourceLocalPath: src, destinationLocalPath: dst, mode: 'twoWay' };

		const first = await run(parameters, { mode: 'trigger' });
		expect(first.summary).toMatchObject({ status: 'success', firstRun: true, stateSaved: true, added: 0 });
		expect(first.summary.stateBytes as number).toBeGreaterThan(64 * 1024);
		const pointer = heldState(first.result.staticData);
		expect(pointer.text.length).toBeLessThan(200);
		expect(first.summary.staticDataBytes).toBe(pointer.text.length);
		const file = path.join(dst, '.cloudsync', `${pointer.key}.state`);
		expect((await fs.readFile(file, 'utf8')).length).toBe(first.summary.stateBytes);

		// The next scheduled run gets the pointer back and plans from the state it points to.
		const [changed, removed] = Object.keys(tree);
		await fs.writeFile(path.join(src, changed), 'changed on the source');
		await fs.utimes(path.join(src, changed), new Date(T0 + 86_400_000), new Date(T0 + 86_400_000));
		await fs.rm(path.join(dst, removed));
		const second = await run(parameters, { mode: 'trigger', staticData: first.result.staticData });
		expect(second.summary).toMatchObject({ status: 'success', firstRun: false, stateFromCopy: false, updated: 1, deleted: 1, conflicts: [] });
		expect(second.summary.toSource).toMatchObject({ deleted: 1 });
		await expect(fs.access(path.join(src, removed))).rejects.toThrow();
		expect(await fs.readFile(path.join(dst, changed), 'utf8')).toBe('changed on the source');
		expect(heldState(second.result.staticData).text.length).toBeLessThan(200);

		// A queue-mode worker starts with empty static data: the state is still found on the destination, so a deletion is carried, not undone.
		const [, , gone] = Object.keys(tree);
		await fs.rm(path.join(src, gone));
		const third = await run(parameters, { mode: 'trigger', staticData: {} });
		expect(third.summary).toMatchObject({ status: 'success', firstRun: false, stateFromCopy: true, deleted: 1, added: 0 });
		await expect(fs.access(path.join(dst, gone))).rejects.toThrow();
	}, 120_000);

	it('a workflow saved with the whole large state in static data has it replaced by the pointer, and plans from it', async () => {
		const tree = scatteredTree(5000);
		const { src, dst } = await pair(tree, tree);
		const parameters = { operation: 'sync', sourceLocalPath: src, destinationLocalPath: dst, mode: 'twoWay' };
		const first = await run(parameters, { mode: 'trigger' });
		const { key } = heldState(first.result.staticData);
		const whole = await fs.readFile(path.join(dst, '.cloudsync', `${key}.state`), 'utf8');
		// As the node before the pointer saved it: the state itself, with its copy on the destination.
		const saved = { 'node:Cloud Sync': { [key]: whole } };

		const [removed] = Object.keys(tree);
		await fs.rm(path.join(dst, removed));
		const second = await run(parameters, { mode: 'trigger', staticData: saved });
		expect(second.summary).toMatchObject({ status: 'success', firstRun: false, stateFromCopy: false, deleted: 1 });
		expect(heldState(second.result.staticData).text.length).toBeLessThan(200);

		// Also when the run changes nothing, and so writes no state of its own.
		const again = { 'node:Cloud Sync': { [key]: await fs.readFile(path.join(dst, '.cloudsync', `${key}.state`), 'utf8') } };
		const third = await run(parameters, { mode: 'trigger', staticData: again });
		expect(third.summary).toMatchObject({ status: 'success', firstRun: false, added: 0, updated: 0, deleted: 0 });
		expect(heldState(third.result.staticData).text.length).toBeLessThan(200);
		expect(third.summary.staticDataBytes).toBe(heldState(third.result.staticData).text.length);
	}, 120_000);
});

describe('Cloud Sync node: Item Limit caps per-file items and the summary counts the rest', () => {
	const tree = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`f${String(i).padStart(3, '0')}.txt`, `file ${i}`]));

	it('a Diff over more files than the limit emits exactly the limit, and the summary says how many were left out', async () => {
		const { src, dst } = await pair(tree(35), {});
		const { summary, files } = await run({ operation: 'diff', sourceLocalPath: src, destinationLocalPath: dst, mode: 'copy', options: { itemLimit: 20 } });
		expect(files).toHaveLength(20);
		expect(files.every((file) => file.type === 'action' && file.action === 'copy')).toBe(true);
		expect(summary).toMatchObject({ status: 'planned', planned: expect.objectContaining({ copy: 35 }), itemsOutput: 20, itemsOmitted: 15, message: expect.stringContaining('15 more per-file item(s) not output, beyond the Item Limit of 20') });
		expect(await fs.readdir(dst)).toEqual([]);
	});

	it('the default limit lists every change of a smaller tree and adds nothing to the summary', async () => {
		const { src, dst } = await pair(tree(35), {});
		const { summary, files } = await run({ operation: 'diff', sourceLocalPath: src, destinationLocalPath: dst, mode: 'copy' });
		expect(files).toHaveLength(35);
		expect(summary.itemsOmitted).toBeUndefined();
	});

	it('a Sync with per-file output copies everything but emits only the limit; a Two-Way Diff is capped the same way', async () => {
		const { src, dst } = await pair(tree(30), {});
		const synced = await run({ operation: 'sync', sourceLocalPath: src, destinationLocalPath: dst, mode: 'copy', options: { itemLimit: 10 } });
		expect(synced.files).toHaveLength(10);
		expect(synced.summary).toMatchObject({ status: 'success', added: 30, itemsOmitted: 20, filesNotListed: 20 });
		expect((await fs.readdir(dst)).filter((name) => name.endsWith('.txt'))).toHaveLength(30);

		const other = await pair(tree(12), { 'only-right.txt': 'r' });
		const diff = await run({ operation: 'diff', sourceLocalPath: other.src, destinationLocalPath: other.dst, mode: 'twoWay', options: { itemLimit: 5 } });
		expect(diff.files).toHaveLength(5);
		expect(diff.summary).toMatchObject({ status: 'planned', itemsOutput: 5, itemsOmitted: 8 });
	});
});
