/**
 * The Cloud Sync node on S3, through n8n-core's engine, against a real S3 server (s3rver) on loopback:
 * list, sync both ways with a local folder (modification times kept in rclone's metadata), the folder
 * picker (buckets, then prefixes), an empty folder value, a missing bucket, a refused key (the secret never shown),
 * and the credential test.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { LoadOptionsContext } from 'n8n-core';
import { Workflow, type ICredentialDataDecryptedObject, type ICredentialsHelper, type IDataObject, type INodeParameters, type INodeType, type INodeTypes, type IWorkflowExecuteAdditionalData } from 'n8n-workflow';
import { CloudSync } from '../../nodes/CloudSync/CloudSync.node';
import { CloudSyncS3Api } from '../../credentials/CloudSyncS3Api.credentials';
import { fixtureCredentialTypes } from './fixtures/credentials';
import { fixtureNodeTypes } from './fixtures/nodes';
import { workflow } from './fixtures/workflow';
import { disposeHarness, outputItems, runWorkflow, type WorkflowRunResult } from './harness';
import { readAll } from '../conformance/suite';
import { s3Provider, startS3Server, type S3TestServer } from '../support/s3';
import { removeTempDirs, tempDir, writeTree } from '../support/trees';
import type { S3Provider } from '../../lib/providers/s3';

const NODE = 'n8n-nodes-cloudsync.cloudSync';
const REFUSED = ['not', 'the', 'real', 'one', '0123456789'].join('-');
let server: S3TestServer;
let allowed: string;
let counter = 0;

beforeAll(async () => {
	server = await startS3Server(['test', 'photos']);
	allowed = await tempDir('n8n-files');
	process.env.N8N_RESTRICT_FILE_ACCESS_TO = allowed;
});
afterAll(async () => {
	await server?.stop();
	disposeHarness();
	await removeTempDirs();
});

const stored = (overrides: IDataObject = {}): Record<string, ICredentialDataDecryptedObject> => ({
	cloudSyncS3Api: { preset: 'minio', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true, ...overrides },
});

function run(parameters: INodeParameters, credentials = stored()): Promise<WorkflowRunResult> {
	const json = workflow([{ name: 'Cloud Sync', type: NODE, parameters, credentials: { cloudSyncS3Api: { id: 's3', name: 'My S3' } } }]);
	return runWorkflow(json, { nodeTypes: { ...fixtureNodeTypes, [NODE]: new CloudSync() }, credentialTypes: [...fixtureCredentialTypes, new CloudSyncS3Api()], credentials });
}

type Side = 'source' | 'destination' | 'target';
const onS3 = (side: Side, folder: string): INodeParameters => ({ [`${side}Cloud`]: 's3', [`${side}S3Folder`]: { __rl: true, mode: 'path', value: folder } });
const onLocal = (side: Side, folder: string): INodeParameters => ({ [`${side}Cloud`]: 'local', [`${side}LocalPath`]: folder });
const sha1 = (content: Buffer | string) => createHash('sha1').update(content).digest('hex');

async function bucketFolder(files: Record<string, string> = {}, modTime?: number): Promise<{ folder: string; provider: S3Provider }> {
	const prefix = `node-${++counter}`;
	const provider = await s3Provider(server.connection, { prefix });
	for (const [file, content] of Object.entries(files)) {
		const { Readable } = await import('node:stream');
		await provider.write(file, Readable.from([Buffer.from(content)]), { size: Buffer.byteLength(content), modTime });
	}
	return { folder: `test/${prefix}`, provider };
}

async function s3Tree(provider: S3Provider): Promise<Record<string, string>> {
	const tree: Record<string, string> = {};
	for await (const entry of provider.list('', { recursive: true })) if (!entry.isDir) tree[entry.path] = sha1(await readAll(await provider.read(entry.path)));
	return tree;
}

function expectNoSecrets(result: WorkflowRunResult, secrets: string[]): void {
	const shown = [JSON.stringify(result.nodes), inspect(result.nodes, { depth: 12 }), inspect(result.error, { depth: 12 })].join('\n');
	for (const secret of secrets) expect(shown).not.toContain(secret);
}

describe('the Cloud Sync node on S3', () => {
	it('lists a bucket folder, subfolders included, one item per file', async () => {
		const { folder } = await bucketFolder({ 'a.txt': 'alpha', 'docs/b.pdf': 'bravo', 'docs/deep/c.jpg': 'charlie' });
		const result = await run({ resource: 'folder', operation: 'list', ...onS3('target', folder) });
		expect(result.status).toBe('success');
		const items = outputItems(result, 'Cloud Sync');
		expect(items.map((item) => item.json.path).sort()).toEqual(['a.txt', 'docs/b.pdf', 'docs/deep/c.jpg']);
		expect(items.find((item) => item.json.path === 'a.txt')).toMatchObject({ json: { name: 'a.txt', type: 'file', size: 5, cloud: `S3:${folder}` } });
	});

	it('mirrors a local folder to S3 and back, keeping modification times; a second run transfers nothing', async () => {
		const source = await fs.mkdtemp(path.join(allowed, 'local-'));
		const files = { 'a.txt': 'alpha', 'docs/b.txt': 'bravo', 'docs/deep/c.bin': 'c'.repeat(70_000) };
		await writeTree(source, files);
		const when = new Date('2024-03-01T10:20:30.456Z');
		await fs.utimes(path.join(source, 'a.txt'), when, when);
		const { folder, provider } = await bucketFolder();
		const up = { resource: 'folder', operation: 'sync', ...onLocal('source', source), ...onS3('destination', folder), mode: 'mirror', options: { s3StorageClass: 'STANDARD' } };
		const first = await run(up);
		expect(outputItems(first, 'Cloud Sync')[0].json).toMatchObject({ type: 'summary', status: 'success', added: 3, failed: 0 });
		expect(await s3Tree(provider)).toEqual(Object.fromEntries(Object.entries(files).map(([file, content]) => [file, sha1(content)])));
		// rclone's key: float seconds in the object's metadata.
		const head = await provider.stat('a.txt');
		expect(head.modTime).toBe(when.getTime());
		const again = await run(up);
		expect(outputItems(again, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0, bytes: 0 });

		const back = await fs.mkdtemp(path.join(allowed, 'back-'));
		const down = await run({ resource: 'folder', operation: 'sync', ...onS3('source', folder), ...onLocal('destination', back), mode: 'copy' });
		expect(outputItems(down, 'Cloud Sync')[0].json).toMatchObject({ status: 'success', added: 3 });
		expect((await fs.stat(path.join(back, 'a.txt'))).mtimeMs).toBe(when.getTime());
		expect(await fs.readFile(path.join(back, 'docs/deep/c.bin'), 'latin1')).toBe(files['docs/deep/c.bin']);
	});

	it('refuses an empty folder value, and names a missing bucket with what to do', async () => {
		const empty = await run({ resource: 'folder', operation: 'list', targetCloud: 's3', targetS3Folder: { __rl: true, mode: 'path', value: '={{ "" }}' } });
		expect(empty.nodes['Cloud Sync'][0].error).toMatchObject({ message: 'The S3 folder is empty', itemIndex: 0 });
		const missing = await run({ resource: 'folder', operation: 'list', ...onS3('target', 'no-such-bucket/x') });
		const error = missing.nodes['Cloud Sync'][0].error!;
		expect(error.message).toMatch(/bucket "no-such-bucket" does not exist/);
		expect(error.description).toMatch(/Create the bucket first .* check its name and the region or endpoint/);
	});

	it('says the credential was refused, with what to check, and never shows the secret', async () => {
		for (const [credential, code] of [
			[stored({ secretAccessKey: REFUSED }), 'SignatureDoesNotMatch'],
			[stored({ accessKeyId: 'AKIAWRONGKEY', secretAccessKey: REFUSED }), 'InvalidAccessKeyId'],
		] as const) {
			const result = await run({ resource: 'folder', operation: 'list', ...onS3('target', 'test') }, credential);
			const error = result.nodes['Cloud Sync'][0].error!;
			expect(error.message).toMatch(new RegExp(`refused the credential \\(${code}`));
			expect(error.description).toMatch(/Check the access key id and secret access key/);
			expectNoSecrets(result, [REFUSED]);
		}
	});
});

describe('the S3 folder picker and credential test', () => {
	function picker(parameters: INodeParameters) {
		const nodeType = new CloudSync();
		const nodeTypes: INodeTypes = { getByName: () => nodeType, getByNameAndVersion: () => nodeType as INodeType, getKnownTypes: () => ({}) };
		const flow = new Workflow({
			nodes: [{ id: '1', name: 'Temp-Node', type: NODE, typeVersion: 1, position: [0, 0], parameters, credentials: { cloudSyncS3Api: { id: 's3', name: 'My S3' } } }],
			connections: {},
			active: false,
			nodeTypes,
		});
		const node = flow.getNode('Temp-Node')!;
		const credentialsHelper = { isCredentialUsableByNode: () => true, getDecrypted: async () => structuredClone(stored().cloudSyncS3Api) } as unknown as ICredentialsHelper;
		const additionalData = { credentialsHelper, currentNodeParameters: node.parameters } as unknown as IWorkflowExecuteAdditionalData;
		const context = new LoadOptionsContext(flow, node, additionalData, 'parameters.targetS3Folder');
		return (filter?: string) => nodeType.methods.listSearch.searchS3Folders.call(context, filter);
	}

	it('lists the buckets, then the folders below what was typed', async () => {
		const { folder } = await bucketFolder({ '2026/jan/a.jpg': 'a', '2026/feb/b.jpg': 'b', 'top.txt': 't' });
		const search = picker({ resource: 'folder', operation: 'list', ...onS3('target', '') });
		expect((await search()).results.map((result) => result.value)).toEqual(expect.arrayContaining(['photos', 'test']));
		expect((await search('pho')).results).toEqual([{ name: 'photos', value: 'photos' }]);
		expect((await search(`${folder}/`)).results.map((result) => result.value)).toEqual([folder, `${folder}/2026`]);
		expect((await search(`${folder}/2026/`)).results.map((result) => result.value)).toEqual([`${folder}/2026`, `${folder}/2026/feb`, `${folder}/2026/jan`]);
		expect((await search(`${folder}/2026/ja`)).results.map((result) => result.value)).toEqual([`${folder}/2026`, `${folder}/2026/jan`]);
	});

	it('tests the key by signing a request: a good key passes, a wrong secret fails with the hint', async () => {
		const test = new CloudSync().methods.credentialTest.testS3Key;
		const good = await test.call({} as never, { id: '1', name: 'S3', type: 'cloudSyncS3Api', data: stored().cloudSyncS3Api });
		expect(good).toEqual({ status: 'OK', message: 'Connection successful' });
		const bad = await test.call({} as never, { id: '1', name: 'S3', type: 'cloudSyncS3Api', data: stored({ secretAccessKey: REFUSED }).cloudSyncS3Api });
		expect(bad.status).toBe('Error');
		expect(bad.message).toMatch(/SignatureDoesNotMatch.*Check the access key id and secret access key/);
		expect(bad.message).not.toContain(REFUSED);
	});
});
