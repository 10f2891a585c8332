import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { INodeParameters } from 'n8n-workflow';
import { localCloudSyncRuns, restrictedFileAccess } from './fixtures/localRuns';
import { cloudSync, workflow } from './fixtures/workflow';
import { outputItems, runWorkflow } from './harness';
import { writeTree } from '../support/trees';

const allowedFolder = restrictedFileAccess();
const base = localCloudSyncRuns;

async function run(parameters: INodeParameters) {
	const result = await runWorkflow(workflow([cloudSync({ resource: 'folder', operation: 'sync', ...parameters })]), { ...base, mode: 'trigger' });
	return { result, summary: outputItems(result, 'Cloud Sync')[0]?.json };
}

describe('Cloud Sync node: a scheduled one-way sync says which kind of listing it ran', () => {
	it('lists local folders in full every run, says why, and keeps no change state for them', async () => {
		const root = await fs.mkdtemp(path.join(allowedFolder(), 'feed-'));
		const [src, dst] = [path.join(root, 'src'), path.join(root, 'dst')];
		await writeTree(src, { 'a.txt': 'alpha' }, Date.UTC(2026, 0, 1));
		await fs.mkdir(dst);
		const { result, summary } = await run({ sourceLocalPath: src, destinationLocalPath: dst, mode: 'mirror', options: { fullCheckEveryDays: 1 } });
		expect(summary).toMatchObject({ status: 'success', added: 1, listing: 'full', listingReason: expect.stringMatching(/source \(local\) and the destination \(local\) have no change feed/) });
		expect(result.staticData['node:Cloud Sync']).toBeUndefined();
		await expect(fs.readdir(path.join(dst, '.cloudsync'))).resolves.not.toContainEqual(expect.stringMatching(/^one-way-/));
	});
});
