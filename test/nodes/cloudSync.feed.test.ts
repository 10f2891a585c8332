import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { INodeParameters } from 'n8n-workflow';
import { CloudSync } from '../../nodes/CloudSync/CloudSync.node';
import { fixtureCredentialTypes } from './fixtures/credentials';
import { fixtureNodeTypes } from './fixtures/nodes';
import { cloudSync, workflow } from './fixtures/workflow';
import { disposeHarness, outputItems, runWorkflow, type RunOptions } from './harness';
import { removeTempDirs, tempDir, writeTree } from '../support/trees';

let allowed: string;
beforeAll(async () => {
	allowed = await tempDir('n8n-files');
	process.env.N8N_RESTRICT_FILE_ACCESS_TO = allowed;
});
afterAll(async () => {
	disposeHarness();
	await removeTempDirs();
});

const base: RunOptions = {
	nodeTypes: { ...fixtureNodeTypes, 'n8n-nodes-cloudsync.cloudSync': new CloudSync() },
	credentialTypes: fixtureCredentialTypes,
	credentials: {},
};

async function run(parameters: INodeParameters) {
	const result = await runWorkflow(workflow([cloudSync({ resource: 'folder', operation: 'sync', ...parameters })]), { ...base, mode: 'trigger' });
	return { result, summary: outputItems(result, 'Cloud Sync')[0]?.json };
}

describe('Cloud Sync node: a scheduled one-way sync says which kind of listing it ran', () => {
	it('lists local folders in full every run, says why, and keeps no change state for them', async () => {
		const root = await fs.mkdtemp(path.join(allowed, 'feed-'));
		const [src, dst] = [path.join(root, 'src'), path.join(root, 'dst')];
		await writeTree(src, { 'a.txt': 'alpha' }, Date.UTC(2026, 0, 1));
		await fs.mkdir(dst);
		const { result, summary } = await run({ sourceLocalPath: src, destinationLocalPath: dst, mode: 'mirror', options: { fullCheckEveryDays: 1 } });
		expect(summary).toMatchObject({ status: 'success', added: 1, listing: 'full', listingReason: expect.stringMatching(/source \(local\) and the destination \(local\) have no change feed/) });
		expect(result.staticData['node:Cloud Sync']).toBeUndefined();
		await expect(fs.readdir(path.join(dst, '.cloudsync'))).resolves.not.toContainEqual(expect.stringMatching(/^one-way-/));
	});
});
