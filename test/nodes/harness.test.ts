import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { IDataObject, IBinaryData } from 'n8n-workflow';
import { fixtureCredentialTypes } from './fixtures/credentials';
import { fixtureNodeTypes } from './fixtures/nodes';
import {
	disposeHarness,
	loadWorkflow,
	outputItems,
	readBinary,
	runPoll,
	runWorkflow,
	type RunOptions,
	type WorkflowJson,
} from './harness';

const fixture = (name: string) => loadWorkflow(path.join(__dirname, 'fixtures', `${name}.workflow.json`));

const base: RunOptions = {
	nodeTypes: fixtureNodeTypes,
	credentialTypes: fixtureCredentialTypes,
	credentials: {
		fixtureApi: { user: 'ada', apiKey: 'secret-key' },
		fixtureGoogleOAuth2Api: {
			clientId: 'client-1',
			clientSecret: 'shh',
			// A stored value for a field Google's type pins: n8n ignores it, so must the harness.
			accessTokenUrl: 'https://evil.example/token',
			oauthTokenData: { access_token: 'at-1', refresh_token: 'rt-1', token_type: 'Bearer' },
		},
	},
};

/** A copy of the workflow with some parameters or settings of one node replaced. */
function withNode(workflow: WorkflowJson, name: string, patch: (node: WorkflowJson['nodes'][number]) => void): WorkflowJson {
	const copy = structuredClone(workflow);
	const node = copy.nodes.find((n) => n.name === name);
	if (!node) throw new Error(`no node ${name}`);
	patch(node);
	return copy;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

afterAll(() => disposeHarness());

describe('runWorkflow: items, parameters per item, credentials, binary data', () => {
	const workflow = fixture('make-and-read');
	// What Make Files streams for beta: its content repeated in 64 KiB chunks, up to 3 MiB.
	const beta = Buffer.concat(Array.from({ length: 48 }, () => Buffer.alloc(64 * 1024, 'hello beta')));

	it('filesystem mode: binaries are stored by id and streamed back in chunks', async () => {
		const result = await runWorkflow(workflow, base);

		expect(result.status).toBe('success');
		expect(result.executionOrder).toEqual(['Manual Trigger', 'Make Files', 'Read Files']);
		const made = outputItems(result, 'Make Files');
		expect(made.map((item) => item.json)).toEqual([
			// user from the stored credential, baseUrl the credential type's default filled in by the helper
			{ fileName: 'alpha.txt', user: 'ada', baseUrl: 'https://api.example.invalid' },
			{ fileName: 'beta.txt', user: 'ada', baseUrl: 'https://api.example.invalid' },
		]);
		expect(made.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
		const alpha = made[0].binary?.data as IBinaryData;
		expect(alpha).toMatchObject({ fileName: 'alpha.txt', mimeType: 'text/plain', bytes: 11, data: 'filesystem-v2' });
		expect(alpha.id).toMatch(/^filesystem-v2:workflows\/HarnessMakeRead01\/executions\/\d+\/binary_data\//);
		expect((await readBinary(alpha)).toString()).toBe('hello alpha');

		expect(outputItems(result, 'Read Files').map((item) => item.json)).toEqual([
			{ bytes: 11, chunks: 1, sha256: sha256(Buffer.from('hello alpha')), stored: true, storedFileName: 'alpha.txt' },
			{ bytes: beta.length, chunks: 12, sha256: sha256(beta), stored: true, storedFileName: 'beta.txt' },
		]);
	});

	it('default mode: binaries are inline base64 without an id', async () => {
		const result = await runWorkflow(workflow, { ...base, binaryDataMode: 'default' });

		expect(result.status).toBe('success');
		const alpha = outputItems(result, 'Make Files')[0].binary?.data as IBinaryData;
		expect(alpha.id).toBeUndefined();
		expect(Buffer.from(alpha.data, 'base64').toString()).toBe('hello alpha');
		expect(outputItems(result, 'Read Files')[1].json).toMatchObject({ bytes: beta.length, sha256: sha256(beta), stored: false });
	});

	it('a credential missing from the store fails the node with the message n8n gives', async () => {
		const result = await runWorkflow(workflow, { ...base, credentials: {} });

		expect(result.status).toBe('error');
		expect(result.nodes['Make Files'][0].error?.message).toBe('Credential with ID "1" does not exist for type "fixtureApi".');
		expect(result.nodes['Read Files']).toBeUndefined();
	});
});

describe('runWorkflow: node errors', () => {
	const workflow = fixture('fail');

	it('without continueOnFail the NodeOperationError stops the execution, with its item and description', async () => {
		const result = await runWorkflow(workflow, base);

		expect(result.status).toBe('error');
		expect(result.nodes['Check Items'][0].error).toMatchObject({
			name: 'NodeOperationError',
			message: 'Item 1 is broken',
			description: 'Fix item 1 and run again',
			itemIndex: 1,
		});
		expect(result.error).toMatchObject({ name: 'NodeOperationError', message: 'Item 1 is broken' });
		expect(result.executionOrder).toEqual(['Manual Trigger', 'Check Items']);
	});

	it('with continueOnFail the error becomes an output item paired with its input', async () => {
		const result = await runWorkflow(
			withNode(workflow, 'Check Items', (node) => (node.onError = 'continueRegularOutput')),
			base,
		);

		expect(result.status).toBe('success');
		expect(outputItems(result, 'Check Items')).toEqual([
			{ json: { n: 0, passed: true }, pairedItem: { item: 0 } },
			{ json: { error: 'Item 1 is broken' }, pairedItem: { item: 1 } },
			{ json: { n: 2, passed: true }, pairedItem: { item: 2 } },
		]);
		expect(outputItems(result, 'Next Step')).toHaveLength(3);
	});

	it('NodeApiError keeps its class name, HTTP code and description', async () => {
		const result = await runWorkflow(
			withNode(workflow, 'Check Items', (node) => (node.parameters.errorType = 'api')),
			base,
		);

		expect(result.nodes['Check Items'][0].error).toMatchObject({
			name: 'NodeApiError',
			message: 'The file of item 1 does not exist',
			description: 'Check the path',
			httpCode: '404',
			itemIndex: 1,
		});
	});
});

describe('runPoll: static data of a polling trigger', () => {
	const workflow = fixture('poll');
	const state = (staticData: IDataObject) => staticData['node:Fixture Poll Trigger'];

	it("persists between polls in 'trigger' mode and runs the workflow with what the poll emitted", async () => {
		const first = await runPoll(workflow, { ...base, mode: 'trigger' });
		expect(first.error).toBeUndefined();
		expect(first.items?.[0][0].json).toEqual({
			counter: 1,
			mode: 'trigger',
			activation: 'activate',
			clientId: 'client-1',
			accessToken: 'at-1',
			// defaults of the googleOAuth2Api parent and of the fixture type itself
			accessTokenUrl: 'https://oauth2.googleapis.com/token',
			scope: 'https://www.googleapis.com/auth/drive',
		});
		expect(state(first.staticData)).toEqual({ counter: 1 });
		expect(first.execution?.status).toBe('success');
		expect(first.execution?.executionOrder).toEqual(['Fixture Poll Trigger', 'After Poll']);
		expect(outputItems(first.execution!, 'After Poll')[0].json).toMatchObject({ counter: 1, passed: true });

		const second = await runPoll(workflow, { ...base, mode: 'trigger', staticData: first.staticData });
		expect(second.items?.[0][0].json.counter).toBe(2);
		expect(state(second.staticData)).toEqual({ counter: 2 });
	});

	it("does not persist in 'manual' mode (the editor's test run)", async () => {
		const stored = { 'node:Fixture Poll Trigger': { counter: 5 } };
		const first = await runPoll(workflow, { ...base, mode: 'manual', staticData: stored });
		const second = await runPoll(workflow, { ...base, mode: 'manual', staticData: first.staticData });

		expect(first.items?.[0][0].json).toMatchObject({ counter: 6, mode: 'manual', activation: 'manual' });
		expect(second.items?.[0][0].json.counter).toBe(6);
		expect(second.staticData).toEqual(stored);
	});

	it('a poll with nothing new saves its state and starts no execution; a failed poll saves nothing', async () => {
		const quiet = withNode(workflow, 'Fixture Poll Trigger', (node) => (node.parameters.outcome = 'null'));
		const nothing = await runPoll(quiet, { ...base, mode: 'trigger' });
		expect(nothing.items).toBeNull();
		expect(nothing.error).toBeUndefined();
		expect(nothing.execution).toBeUndefined();
		expect(state(nothing.staticData)).toEqual({ counter: 1 });

		const failing = withNode(workflow, 'Fixture Poll Trigger', (node) => (node.parameters.outcome = 'fail'));
		const failed = await runPoll(failing, { ...base, mode: 'trigger', staticData: nothing.staticData });
		expect(failed.error).toMatchObject({ name: 'NodeApiError', httpCode: '429' });
		expect(failed.items).toBeNull();
		expect(state(failed.staticData)).toEqual({ counter: 1 });
	});
});

describe('runWorkflow: cancellation', () => {
	const workflow = fixture('cancel');

	it('aborting the signal while a node runs cancels the execution; later nodes do not run', async () => {
		const controller = new AbortController();
		const result = await runWorkflow(workflow, {
			...base,
			signal: controller.signal,
			onNodeStart: (name) => {
				if (name === 'Wait') setImmediate(() => controller.abort());
			},
		});

		expect(result.status).toBe('canceled');
		expect(result.error?.name).toBe('ManualExecutionCancelledError');
		expect(result.nodes['After Wait']).toBeUndefined();
		// The running node saw the abort through getExecutionCancelSignal() and returned early.
		expect(outputItems(result, 'Wait')[0].json).toEqual({ cancelled: true });
	});

	it('an already aborted signal runs nothing', async () => {
		const result = await runWorkflow(workflow, { ...base, signal: AbortSignal.abort() });

		expect(result.status).toBe('canceled');
		expect(result.executionOrder).toEqual([]);
	});
});

describe('runWorkflow: authenticated requests through the credentials helper', () => {
	let server: Server;
	let url: string;
	const seen: Array<{ path: string; authorization?: string; apiKey?: string }> = [];

	beforeAll(async () => {
		server = createServer((request, response) => {
			seen.push({ path: request.url ?? '', authorization: request.headers.authorization, apiKey: request.headers['x-api-key'] as string | undefined });
			response.setHeader('content-type', 'application/json');
			if (request.url === '/token') {
				response.end(JSON.stringify({ access_token: 'at-2', refresh_token: 'rt-2', token_type: 'Bearer', expires_in: 3600 }));
			} else if (request.headers.authorization === 'Bearer at-1') {
				response.statusCode = 401;
				response.end(JSON.stringify({ error: 'expired' }));
			} else {
				response.end(JSON.stringify({ ok: true }));
			}
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	});
	afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())));
	beforeEach(() => (seen.length = 0));

	it('OAuth2: an expired token is refreshed on 401 and the new token is saved to the credential', async () => {
		const workflow = withNode(fixture('request'), 'Call API', (node) => (node.parameters.url = `${url}/data`));
		const result = await runWorkflow(workflow, {
			...base,
			credentials: {
				fixtureLocalOAuth2Api: {
					clientId: 'client-1',
					clientSecret: 'shh',
					authUrl: `${url}/authorize`,
					accessTokenUrl: `${url}/token`,
					authentication: 'body',
					oauthTokenData: { access_token: 'at-1', refresh_token: 'rt-1', token_type: 'Bearer' },
				},
			},
		});

		expect(result.status).toBe('success');
		expect(outputItems(result, 'Call API')[0].json).toEqual({ ok: true });
		expect(seen.map((request) => [request.path, request.authorization])).toEqual([
			['/data', 'Bearer at-1'],
			['/token', undefined],
			['/data', 'Bearer at-2'],
		]);
		expect(result.credentials.fixtureLocalOAuth2Api.oauthTokenData).toMatchObject({ access_token: 'at-2', refresh_token: 'rt-2' });
	});

	it('API key: the credential type’s declarative authenticate sets the header', async () => {
		const workflow = withNode(fixture('request'), 'Call API', (node) => {
			node.parameters.url = `${url}/data`;
			node.parameters.authentication = 'fixtureApi';
		});
		const result = await runWorkflow(workflow, base);

		expect(result.status).toBe('success');
		expect(seen).toEqual([{ path: '/data', authorization: undefined, apiKey: 'secret-key' }]);
	});
});
