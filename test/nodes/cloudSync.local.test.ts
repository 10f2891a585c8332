import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CloudSync } from '../../nodes/CloudSync/CloudSync.node';
import { fixtureCredentialTypes } from './fixtures/credentials';
import { fixtureNodeTypes } from './fixtures/nodes';
import { disposeHarness, outputItems, readBinary, runWorkflow, type RunOptions } from './harness';
import { cloudSync, workflow } from './fixtures/workflow';
import { filesOnly, readTree, removeTempDirs, tempDir, writeTree } from '../support/trees';

let allowed: string;
let outside: string;

beforeAll(async () => {
	allowed = await tempDir('n8n-files');
	outside = await tempDir('not-allowed');
	// n8n reads this when the first node asks for its file-access rule.
	process.env.N8N_RESTRICT_FILE_ACCESS_TO = allowed;
});
afterAll(async () => {
	disposeHarness();
	await removeTempDirs();
});

const options: RunOptions = {
	nodeTypes: { ...fixtureNodeTypes, 'n8n-nodes-cloudsync.cloudSync': new CloudSync() },
	credentialTypes: fixtureCredentialTypes,
	credentials: { fixtureApi: { user: 'ada', apiKey: 'secret-key' } },
};

async function folders(source: Record<string, string | null>, destination: Record<string, string | null> = {}) {
	const root = await fs.mkdtemp(path.join(allowed, 'case-'));
	const src = path.join(root, 'src');
	const dst = path.join(root, 'dst');
	await fs.mkdir(src);
	await fs.mkdir(dst);
	await writeTree(src, source);
	await writeTree(dst, destination);
	return { src, dst };
}

describe('Cloud Sync node on local folders, through n8n-core', () => {
	it('syncs with Mirror and outputs one summary item a Send Email node can use', async () => {
		const { src, dst } = await folders({ 'a.txt': 'alpha', 'docs/b.pdf': 'bravo' }, { 'old.txt': 'x', 'a.txt': 'stale content', 'keep1.txt': 'k', 'keep2.txt': 'k' });
		const result = await runWorkflow(
			workflow([cloudSync({ resource: 'folder', operation: 'sync', sourceLocalPath: src, destinationLocalPath: dst, mode: 'mirror', options: { force: true } })]),
			options,
		);
		expect(result.status).toBe('success');
		const [summary, ...rest] = outputItems(result, 'Cloud Sync');
		expect(rest).toHaveLength(0);
		expect(summary.json).toMatchObject({ type: 'summary', status: 'success', mode: 'mirror', added: 1, updated: 1, deleted: 3, failed: 0 });
		expect(summary.json.message).toMatch(new RegExp(`^Mirror Local:${src} → Local:${dst}: 1 added, 1 updated, 3 moved to trash, 0 failed in \\d+\\.\\d s$`));
		expect(summary.pairedItem).toEqual({ item: 0 });
		// Per-file items go to the second output only when asked for.
		expect(outputItems(result, 'Cloud Sync', 1)).toEqual([]);
		expect(filesOnly(await readTree(dst))).toEqual(filesOnly(await readTree(src)));
	});

	it('Diff lists what a sync would do and why, and touches nothing', async () => {
		const { src, dst } = await folders({ 'new.txt': 'n', 'same.txt': 's' }, { 'same.txt': 's', 'extra.txt': 'e' });
		await fs.utimes(path.join(dst, 'same.txt'), (await fs.stat(path.join(src, 'same.txt'))).mtime, (await fs.stat(path.join(src, 'same.txt'))).mtime);
		const before = await readTree(dst);
		const result = await runWorkflow(
			workflow([cloudSync({ resource: 'folder', operation: 'diff', sourceLocalPath: src, destinationLocalPath: dst, mode: 'mirror' })]),
			options,
		);
		const summaries = outputItems(result, 'Cloud Sync').map((item) => item.json);
		const actions = outputItems(result, 'Cloud Sync', 1).map((item) => item.json);
		expect(actions.map((json) => [json.action, json.path])).toEqual([
			['copy', 'new.txt'],
			['delete', 'extra.txt'],
		]);
		expect(summaries).toHaveLength(1);
		expect(summaries[0]).toMatchObject({ type: 'summary', status: 'planned', dryRun: true, message: expect.stringMatching(/^Mirror \(dry run\) Local:.* → Local:.*: 1 to add, 0 to update, 1 to delete in /) });
		expect(await readTree(dst)).toEqual(before);
	});

	it('Sync with Dry Run outputs the plan in the shape of a sync, with a report to email, and changes nothing', async () => {
		const { src, dst } = await folders({ 'new.txt': 'n', 'keep.txt': 'k', 'keep2.txt': 'k' }, { 'extra.txt': 'e', 'keep.txt': 'k', 'keep2.txt': 'k' });
		for (const file of ['keep.txt', 'keep2.txt']) await fs.utimes(path.join(dst, file), (await fs.stat(path.join(src, file))).mtime, (await fs.stat(path.join(src, file))).mtime);
		const before = await readTree(dst);
		const result = await runWorkflow(
			workflow([cloudSync({ resource: 'folder', operation: 'sync', sourceLocalPath: src, destinationLocalPath: dst, mode: 'mirror', dryRun: true, output: 'both' })]),
			options,
		);
		expect(result.status).toBe('success');
		const summaries = outputItems(result, 'Cloud Sync').map((item) => item.json);
		expect(summaries).toHaveLength(1);
		expect(summaries[0]).toMatchObject({ type: 'summary', status: 'planned', dryRun: true, mode: 'mirror', message: expect.stringMatching(/^Mirror \(dry run\) .*: 1 to add, 0 to update, 1 to delete in /) });
		expect(summaries[0].html).toContain('<th style="padding:4px 12px;border:1px solid #ddd;text-align:left">Result</th><td style="padding:4px 12px;border:1px solid #ddd;text-align:left">Dry run: nothing changed</td>');
		expect(outputItems(result, 'Cloud Sync', 1).map((item) => [item.json.action, item.json.path])).toEqual([
			['copy', 'new.txt'],
			['delete', 'extra.txt'],
		]);
		expect(await readTree(dst)).toEqual(before);
	});

	it('a new node starts in Copy, which never deletes', async () => {
		const { src, dst } = await folders({ 'a.txt': 'a' }, { 'b.txt': 'b' });
		const result = await runWorkflow(workflow([cloudSync({ resource: 'folder', operation: 'sync', sourceLocalPath: src, destinationLocalPath: dst })]), options);
		expect(outputItems(result, 'Cloud Sync')[0].json).toMatchObject({ mode: 'copy', added: 1, deleted: 0 });
		expect(Object.keys(filesOnly(await readTree(dst))).sort()).toEqual(['a.txt', 'b.txt']);
	});

	it('a mass deletion is refused with an error that says how to allow it', async () => {
		const { src, dst } = await folders({ 'a.txt': 'a' }, { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' });
		const result = await runWorkflow(
			workflow([cloudSync({ resource: 'folder', operation: 'sync', sourceLocalPath: src, destinationLocalPath: dst, mode: 'mirror' })]),
			options,
		);
		const error = result.nodes['Cloud Sync'][0].error!;
		expect(error.name).toBe('NodeOperationError');
		expect(error.message).toMatch(/delete 2 of the destination's 3 files/);
		expect(error.itemIndex).toBe(0);
		expect(Object.keys(filesOnly(await readTree(dst)))).toHaveLength(3);
	});

	it('lists files with filters, one item per file', async () => {
		const { src } = await folders({ 'a.jpg': 'a', 'b.txt': 'b', 'sub/c.JPG': 'c', '.DS_Store': 'x' });
		const result = await runWorkflow(
			workflow([cloudSync({ resource: 'folder', operation: 'list', targetLocalPath: src, filters: { extensions: 'jpg' } })]),
			options,
		);
		const items = outputItems(result, 'Cloud Sync').map((item) => item.json);
		expect(items.map((json) => json.path).sort()).toEqual(['a.jpg', 'sub/c.JPG']);
		expect(items[0]).toMatchObject({ type: 'file', size: 1 });
	});

	it('uploads a binary made by an earlier node into a folder named by an expression, and downloads it back', async () => {
		const { dst } = await folders({});
		const result = await runWorkflow(
			workflow([
				{ name: 'Make', type: 'test-fixtures.fixtureFileMaker', parameters: { fileName: 'report.pdf', content: 'PDF bytes', size: 300_000 } },
				cloudSync({ resource: 'file', operation: 'upload', targetLocalPath: dst, filePath: "={{ 'Reports/' + $json.user + '/' + $binary.data.fileName }}" }, { name: 'Upload' }),
				cloudSync({ resource: 'file', operation: 'download', targetLocalPath: dst, filePath: '={{ $json.path }}' }, { name: 'Download' }),
			]),
			options,
		);
		expect(result.status).toBe('success');
		expect(outputItems(result, 'Upload')[0].json).toMatchObject({ path: 'Reports/ada/report.pdf', size: 300_000 });
		const stored = await fs.readFile(path.join(dst, 'Reports/ada/report.pdf'));
		expect(stored.length).toBe(300_000);
		const downloaded = outputItems(result, 'Download')[0];
		expect((await readBinary(downloaded.binary!.data)).equals(stored)).toBe(true);
		expect(downloaded.binary!.data.fileName).toBe('report.pdf');
	});

	it('moves and deletes single files; a move never overwrites unless asked', async () => {
		const { dst } = await folders({}, { 'in/a.txt': 'a', 'out/a.txt': 'existing' });
		const refused = await runWorkflow(workflow([cloudSync({ resource: 'file', operation: 'move', targetLocalPath: dst, fromPath: 'in/a.txt', toPath: 'out/a.txt' })]), options);
		expect(refused.nodes['Cloud Sync'][0].error?.message).toMatch(/already exists/);
		const moved = await runWorkflow(workflow([cloudSync({ resource: 'file', operation: 'move', targetLocalPath: dst, fromPath: 'in/a.txt', toPath: 'archive/a.txt' })]), options);
		expect(outputItems(moved, 'Cloud Sync')[0].json).toMatchObject({ path: 'archive/a.txt', previousPath: 'in/a.txt' });
		const deleted = await runWorkflow(workflow([cloudSync({ resource: 'file', operation: 'delete', targetLocalPath: dst, filePath: 'out/a.txt' })]), options);
		expect(outputItems(deleted, 'Cloud Sync')[0].json).toMatchObject({ deleted: true });
		expect(Object.keys(filesOnly(await readTree(dst)))).toEqual(['archive/a.txt']);
	});

	it('refuses a folder outside N8N_RESTRICT_FILE_ACCESS_TO; with Continue On Fail the error becomes an item', async () => {
		const parameters = { resource: 'folder', operation: 'list', targetLocalPath: outside };
		const failed = await runWorkflow(workflow([cloudSync(parameters)]), options);
		const error = failed.nodes['Cloud Sync'][0].error!;
		expect(error).toMatchObject({ name: 'NodeOperationError', itemIndex: 0 });
		expect(error.message).toMatch(/may not access/);
		expect(error.description).toMatch(/N8N_RESTRICT_FILE_ACCESS_TO/);

		const { src } = await folders({ 'ok.txt': 'fine' });
		const perItem = { ...parameters, targetLocalPath: '={{ $json.folder }}' };
		const continued = await runWorkflow(workflow([cloudSync(perItem, { continueOnFail: true })], [{ folder: outside }, { folder: src }]), options);
		const items = outputItems(continued, 'Cloud Sync');
		expect(items[0]).toMatchObject({ json: { error: expect.stringMatching(/may not access/) }, pairedItem: { item: 0 } });
		expect(items[1]).toMatchObject({ json: { path: 'ok.txt' }, pairedItem: { item: 1 } });
	});
});

describe('Cloud Sync node driven by change items', () => {
	it('syncs only the paths in the input items, as one run', async () => {
		const { src, dst } = await folders({ 'changed.txt': 'new content', 'other.txt': 'not in the changes' }, { 'changed.txt': 'old', 'removed.txt': 'gone at the source' });
		const changes = [
			{ event: 'modified', path: 'changed.txt' },
			{ event: 'deleted', path: 'removed.txt' },
		];
		const result = await runWorkflow(
			workflow(
				[cloudSync({ resource: 'folder', operation: 'sync', sourceLocalPath: src, destinationLocalPath: dst, mode: 'mirror', options: { changedPathsOnly: true } })],
				changes,
			),
			options,
		);
		const items = outputItems(result, 'Cloud Sync');
		expect(items).toHaveLength(1);
		expect(items[0].json).toMatchObject({ added: 0, updated: 1, deleted: 1 });
		expect(Object.keys(filesOnly(await readTree(dst)))).toEqual(['changed.txt']);
	});
});

describe('Cloud Sync node with input items as the source', () => {
	it('syncs binaries made by an earlier node into a folder, once for all items, and a re-run changes nothing', async () => {
		const { dst } = await folders({}, { 'old.txt': 'left from before', 'keep.txt': 'k' });
		const steps = [
			{ name: 'Make', type: 'test-fixtures.fixtureFileMaker', parameters: { fileName: '={{ $json.name }}', content: '={{ $json.content }}' } },
			cloudSync({ resource: 'folder', operation: 'sync', sourceCloud: 'items', destinationLocalPath: dst, mode: 'mirror', maxDeletePercent: 100 }),
		];
		const made = [
			{ name: 'report.csv', content: 'a,b\n1,2\n' },
			{ name: 'notes.txt', content: 'hello' },
		];
		const first = await runWorkflow(workflow(steps, made), options);
		const summaries = outputItems(first, 'Cloud Sync');
		expect(summaries).toHaveLength(1);
		expect(summaries[0].json).toMatchObject({ status: 'success', added: 2, deleted: 2, source: 'Input items (data)' });
		expect(await fs.readFile(path.join(dst, 'report.csv'), 'utf8')).toBe('a,b\n1,2\n');
		expect(Object.keys(filesOnly(await readTree(dst))).sort()).toEqual(['notes.txt', 'report.csv']);

		const again = await runWorkflow(workflow(steps, made), options);
		expect(outputItems(again, 'Cloud Sync')[0].json).toMatchObject({ added: 0, updated: 0, deleted: 0 });
	});

	it('chains two accounts: List and Download on one, then Sync from the items into the other, keeping paths', async () => {
		const { src, dst } = await folders({ 'a.txt': 'alpha', 'deep/b.txt': 'bravo' });
		const result = await runWorkflow(
			workflow([
				cloudSync({ resource: 'folder', operation: 'list', targetLocalPath: src }, { name: 'List' }),
				cloudSync({ resource: 'file', operation: 'download', targetLocalPath: src, filePath: '={{ $json.path }}' }, { name: 'Download' }),
				cloudSync({ resource: 'folder', operation: 'sync', sourceCloud: 'items', destinationLocalPath: dst, mode: 'copy' }, { name: 'Sync' }),
			]),
			options,
		);
		expect(outputItems(result, 'Sync')[0].json).toMatchObject({ status: 'success', added: 2 });
		expect(filesOnly(await readTree(dst))).toEqual(filesOnly(await readTree(src)));
		const [source, copy] = await Promise.all([fs.stat(path.join(src, 'deep/b.txt')), fs.stat(path.join(dst, 'deep/b.txt'))]);
		expect(Math.round(copy.mtimeMs)).toBe(Math.round(source.mtimeMs));
	});

	it('refuses Move with input items, saying what to choose instead', async () => {
		const { dst } = await folders({});
		const result = await runWorkflow(
			workflow([
				{ name: 'Make', type: 'test-fixtures.fixtureFileMaker', parameters: { fileName: 'x.txt', content: 'x' } },
				cloudSync({ resource: 'folder', operation: 'sync', sourceCloud: 'items', destinationLocalPath: dst, mode: 'move' }),
			]),
			options,
		);
		expect(result.nodes['Cloud Sync'][0].error).toMatchObject({ name: 'NodeOperationError', description: expect.stringMatching(/Copy or Mirror/) });
	});
});

const exists = (folder: string) => fs.stat(folder).then(() => true, () => false);
const errorOf = (result: Awaited<ReturnType<typeof runWorkflow>>) => result.nodes['Cloud Sync'][0].error!;
const sync = (parameters: Record<string, unknown>) => runWorkflow(workflow([cloudSync({ resource: 'folder', operation: 'sync', mode: 'copy', ...parameters })]), options);

describe('Cloud Sync node: broken filters', () => {
	it('a broken glob is refused with the pattern, the position and the fix, before any folder is created', async () => {
		const { src, dst } = await folders({ 'a.txt': 'alpha' });
		const destination = path.join(dst, 'new');
		const error = errorOf(await sync({ sourceLocalPath: src, destinationLocalPath: destination, filters: { include: '*.txt, [abc' } }));
		expect(error).toMatchObject({ name: 'NodeOperationError', itemIndex: 0, message: 'Include pattern "[abc" is not a valid glob: the "[" is never closed at position 1' });
		expect(error.description).toMatch(/^Fix the pattern: close the character class with "\]"/);
		expect(await exists(destination)).toBe(false);

		const perItem = cloudSync({ resource: 'folder', operation: 'list', targetLocalPath: src, filters: { exclude: '={{ $json.pattern }}' } });
		const listed = await runWorkflow(workflow([perItem], [{ pattern: '*.tmp' }, { pattern: '*.{tmp,bak' }]), options);
		expect(errorOf(listed)).toMatchObject({ name: 'NodeOperationError', itemIndex: 1, message: 'Exclude pattern "*.{tmp,bak" is not a valid glob: the "{" is never closed at position 3' });
		expect(errorOf(listed).description).toMatch(/as in \*\.\{jpg,png\}/);
	});

	it('a comma inside {…} separates alternatives of one glob, not two globs', async () => {
		const { src, dst } = await folders({ 'a.txt': 'a', 'b.md': 'b', 'c.jpg': 'c', 'd,e.jpg': 'de' });
		const result = await sync({ sourceLocalPath: src, destinationLocalPath: dst, filters: { include: '*.{txt,md}, d\\,e.jpg' } });
		expect(outputItems(result, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 3 });
		expect(Object.keys(filesOnly(await readTree(dst))).sort()).toEqual(['a.txt', 'b.md', 'd,e.jpg']);
	});
});


describe('Cloud Sync node: a local folder that does not exist yet', () => {

	it('creates a missing destination folder inside the allowed folder, as the clouds do; the next run changes nothing', async () => {
		const { src } = await folders({ 'a.txt': 'alpha', 'docs/b.txt': 'bravo' });
		const dst = path.join(path.dirname(src), 'not', 'yet', 'there');
		const first = await sync({ sourceLocalPath: src, destinationLocalPath: dst });
		expect(outputItems(first, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 2, failed: 0 });
		expect(filesOnly(await readTree(dst))).toEqual(filesOnly(await readTree(src)));
		const again = await sync({ sourceLocalPath: src, destinationLocalPath: dst });
		expect(outputItems(again, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0 });
		expect(filesOnly(await readTree(dst))).toEqual(filesOnly(await readTree(src)));
	});

	it('Upload creates its missing folder too', async () => {
		const { dst } = await folders({});
		const folder = path.join(dst, 'inbox', '2026');
		const result = await runWorkflow(
			workflow([
				{ name: 'Make', type: 'test-fixtures.fixtureFileMaker', parameters: { fileName: 'r.txt', content: 'report' } },
				cloudSync({ resource: 'file', operation: 'upload', targetLocalPath: folder }),
			]),
			options,
		);
		expect(outputItems(result, 'Cloud Sync')[0].json).toMatchObject({ path: 'r.txt' });
		expect(await fs.readFile(path.join(folder, 'r.txt'), 'utf8')).toBe('report');
	});

	it('a missing source, and a missing destination of a Diff, are errors that say what to change; nothing is created', async () => {
		const { src, dst } = await folders({ 'a.txt': 'alpha' });
		const missingSource = path.join(src, 'typo');
		const newDestination = path.join(dst, 'new');
		const noSource = errorOf(await sync({ sourceLocalPath: missingSource, destinationLocalPath: newDestination }));
		expect(noSource).toMatchObject({ name: 'NodeOperationError', itemIndex: 0, message: `The local folder "${missingSource}" does not exist` });
		expect(noSource.description).toMatch(/Check the path for a typo .*or create the folder first/);
		const diff = errorOf(await runWorkflow(workflow([cloudSync({ resource: 'folder', operation: 'diff', mode: 'copy', sourceLocalPath: src, destinationLocalPath: newDestination })]), options));
		expect(diff).toMatchObject({ name: 'NodeOperationError', itemIndex: 0, message: `The local folder "${newDestination}" does not exist` });
		expect(diff.description).toMatch(/run the Sync, which creates a missing destination folder/);
		const list = errorOf(await runWorkflow(workflow([cloudSync({ resource: 'folder', operation: 'list', targetLocalPath: missingSource })]), options));
		expect(list.message).toBe(`The local folder "${missingSource}" does not exist`);
		expect(await exists(missingSource)).toBe(false);
		expect(await exists(newDestination)).toBe(false);
	});

	it('never creates a folder outside the allowed folders: not directly, not through "..", not through a link', async () => {
		const { src, dst } = await folders({ 'a.txt': 'alpha' });
		const escapes = path.join(outside, 'made-by-sync');
		await fs.symlink(outside, path.join(dst, 'link-out'));
		await fs.symlink(path.join(outside, 'made-by-dangling-link'), path.join(dst, 'dangling'));
		const climbing = `${dst}/new/../../../../../../../../..${escapes}`;
		for (const destination of [escapes, climbing, path.join(dst, 'link-out', 'made-by-link')]) {
			const error = errorOf(await sync({ sourceLocalPath: src, destinationLocalPath: destination }));
			expect(error).toMatchObject({ name: 'NodeOperationError', itemIndex: 0, message: `n8n may not access the folder "${destination}"` });
			expect(error.description).toMatch(/N8N_RESTRICT_FILE_ACCESS_TO/);
		}
		const inside = `${dst}/new/../inside`;
		const dotted = errorOf(await sync({ sourceLocalPath: src, destinationLocalPath: inside }));
		expect(dotted.message).toBe(`Invalid path "${inside}": ".." follows a folder that does not exist`);
		expect(dotted.description).toMatch(/without "\.\."/);
		const dangling = errorOf(await sync({ sourceLocalPath: src, destinationLocalPath: path.join(dst, 'dangling', 'deeper') }));
		expect(dangling.message).toMatch(/"[^"]*dangling" is a file or a link, not a folder/);
		expect(dangling.description).toMatch(/links are not followed to create one/);
		expect(await fs.readdir(outside)).toEqual([]);
		expect((await fs.readdir(dst)).sort()).toEqual(['dangling', 'link-out']);
	});
});
