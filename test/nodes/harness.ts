/**
 * Runs n8n workflow JSON through n8n-core's real engine (WorkflowExecute, PollContext,
 * PollTriggerExecutor, BinaryDataService), so node tests assert on what n8n itself would produce:
 * output items, node errors, binary data and the static data n8n would save.
 *
 * What is not n8n's own code here, and stands in for n8n's cli (not installed): the credentials
 * helper (credentials come from a plain map instead of the database), the lifecycle hook that
 * decides which static data is saved, and the wiring of a poll's emit to a workflow execution.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import {
	BinaryDataConfig,
	BinaryDataService,
	ErrorReporter,
	ExecutionLifecycleHooks,
	ExternalSecretsProxy,
	PollContext,
	PollTriggerExecutor,
	WorkflowExecute,
	getAdditionalKeys,
} from 'n8n-core';
// Not re-exported by n8n-core's index; the loader adds these to every polling node ("pollTimes").
import { commonPollingParameters } from 'n8n-core/dist/nodes-loader/constants';
import {
	ICredentialsHelper,
	NodeHelpers,
	UnexpectedError,
	UserError,
	Workflow,
	createRunExecutionData,
	isExpression,
	type ExecutionError,
	type ExecutionStatus,
	type IBinaryData,
	type ICredentialDataDecryptedObject,
	type ICredentialType,
	type ICredentialsExpressionResolveValues,
	type IConnections,
	type IDataObject,
	type IExecuteData,
	type IHttpRequestHelper,
	type IHttpRequestOptions,
	type INode,
	type INodeCredentialsDetails,
	type INodeExecutionData,
	type INodeParameters,
	type INodeProperties,
	type INodeType,
	type INodeTypes,
	type IPinData,
	type IRequestOptionsSimplified,
	type IRun,
	type IVersionedNodeType,
	type IWorkflowBase,
	type IWorkflowExecuteAdditionalData,
	type IWorkflowSettings,
	type WorkflowActivateMode,
	type WorkflowExecuteMode,
} from 'n8n-workflow';
import { builtInCredentialTypes } from './fixtures/credentials';
import { ManualTrigger } from './fixtures/manual-trigger';

// ---------------------------------------------------------------------------------------------
// Public types

/** A workflow as n8n exports it (extra fields such as meta or tags are ignored). */
export interface WorkflowJson {
	id?: string;
	name?: string;
	nodes: INode[];
	connections: IConnections;
	settings?: IWorkflowSettings;
	pinData?: IPinData;
}

export interface RunOptions {
	/** Node types by the type name the workflow uses ('n8n-nodes-cloudsync.cloudSync'). The Manual Trigger is built in. */
	nodeTypes: Record<string, INodeType | IVersionedNodeType>;
	/** Our credential classes; n8n's OAuth2 base types (oAuth2Api, googleOAuth2Api) are built in. */
	credentialTypes?: ICredentialType[];
	/** Decrypted credential data by credential type, as stored (n8n fills in the type's defaults). */
	credentials?: Record<string, ICredentialDataDecryptedObject>;
	/** The workflow's static data as stored, e.g. the `staticData` a previous run returned. */
	staticData?: IDataObject;
	/** Default 'manual' (an editor run: static data is not saved); 'trigger' is a production run. */
	mode?: WorkflowExecuteMode;
	/** 'filesystem' (n8n's default in regular mode, stored by id) or 'default' (inline base64). Default 'filesystem'. */
	binaryDataMode?: 'filesystem' | 'default';
	/** Aborting it cancels the execution as the editor's Stop button does. */
	signal?: AbortSignal;
	/** Node to start from; default the workflow's trigger, as n8n picks it. */
	startNode?: string;
	/** Input of the start node: what its trigger emitted. Default one empty item. */
	startInput?: INodeExecutionData[][];
	/** Called as each node starts (the engine's nodeExecuteBefore hook), e.g. to cancel while a given node runs. */
	onNodeStart?: (nodeName: string) => void;
}

export interface PollOptions extends RunOptions {
	/** The polling node; default the workflow's only polling node. */
	pollNode?: string;
	/** How the workflow was activated, as the node sees it in getActivationMode(). Default 'activate'. */
	activation?: WorkflowActivateMode;
}

export interface ErrorSummary {
	/** n8n's error class ('NodeOperationError', 'NodeApiError', 'ManualExecutionCancelledError', ...); 'Error' for others, whose class the engine drops. */
	name: string;
	message: string;
	description?: string | null;
	itemIndex?: number;
	httpCode?: string | null;
	/** The error as the engine recorded it, for anything not summarised here. */
	raw: unknown;
}

export interface NodeRun {
	/** Items per output, as the node returned them after the engine's pairing (json, binary, pairedItem). */
	outputs: INodeExecutionData[][];
	error?: ErrorSummary;
	status: ExecutionStatus;
}

export interface WorkflowRunResult {
	status: ExecutionStatus;
	/** Every run of every node that ran, by node name. */
	nodes: Record<string, NodeRun[]>;
	executionOrder: string[];
	/** The execution's error: the failing node's error, or the cancellation. */
	error?: ErrorSummary;
	/** Static data as n8n would have it stored after this run (only non-manual runs save it): keys 'global' and 'node:<node name>'. */
	staticData: IDataObject;
	/** The credential store after the run: refreshed OAuth2 tokens land here, as n8n saves them. */
	credentials: Record<string, ICredentialDataDecryptedObject>;
	run: IRun;
}

export interface PollResult {
	/** What poll() returned (null: nothing new). */
	items: INodeExecutionData[][] | null;
	error?: ErrorSummary;
	/** Static data as stored after the poll and the execution it started. */
	staticData: IDataObject;
	/** The execution the emitted items started (n8n starts one per emit), if any. */
	execution?: WorkflowRunResult;
}

// ---------------------------------------------------------------------------------------------
// n8n-core's service container

/*
 * n8n-core resolves its services (BinaryDataService, InstanceSettings, Logger, ...) from the
 * container of the @n8n/di copy *it* depends on, which is not the one hoisted to our
 * node_modules (another version, pulled in by @n8n/node-cli). So take @n8n/di, and the Logger
 * class used as a key, from n8n-core's own resolution path. Jest routes createRequire through its
 * module registry, so this is the same instance n8n-core sees in the test.
 */
type ServiceKey<T> = abstract new (...args: never[]) => T;
interface ServiceContainer {
	get<T>(key: ServiceKey<T>): T;
	set<T>(key: ServiceKey<T>, value: T): void;
}
type CoreLogger = ConstructorParameters<typeof BinaryDataService>[2];
const coreRequire = createRequire(require.resolve('n8n-core'));
const { Container } = coreRequire('@n8n/di') as { Container: ServiceContainer };
const { Logger } = coreRequire('@n8n/backend-common') as { Logger: ServiceKey<CoreLogger> };

interface CoreServices {
	root: string;
	logger: CoreLogger;
	errorReporter: ErrorReporter;
	binaryData: Map<string, BinaryDataService>;
}
let coreServices: CoreServices | undefined;

/** n8n's real services, built once per test file from the environment n8n reads. */
function services(): CoreServices {
	if (coreServices) return coreServices;
	const root = mkdtempSync(path.join(os.tmpdir(), 'cloudsync-n8n-'));
	// InstanceSettings creates `<N8N_USER_FOLDER>/.n8n/config` with an encryption key: keep it out of ~/.n8n.
	process.env.N8N_USER_FOLDER = root;
	// Silent unless the developer asks for n8n's logs (N8N_LOG_LEVEL=debug npx jest ...).
	process.env.N8N_LOG_LEVEL ??= 'silent';
	coreServices = { root, logger: Container.get(Logger), errorReporter: Container.get(ErrorReporter), binaryData: new Map() };
	return coreServices;
}

/**
 * Installs the BinaryDataService the binary helpers (prepareBinaryData, getBinaryStream, ...) use,
 * set up as n8n's startup does (`init()`), storing files in the per-test-file temp folder.
 * One per mode: runs in one file are sequential (Jest's default), so switching is safe.
 */
async function useBinaryDataMode(mode: 'filesystem' | 'default'): Promise<void> {
	const { root, logger, errorReporter, binaryData } = services();
	let service = binaryData.get(mode);
	if (!service) {
		// The real config (signing secret derived from the instance key), with our mode and folder.
		const config = Object.assign(Object.create(BinaryDataConfig.prototype) as BinaryDataConfig, Container.get(BinaryDataConfig), {
			mode,
			localStoragePath: path.join(root, 'binaryData'),
		});
		service = new BinaryDataService(config, errorReporter, logger);
		await service.init();
		binaryData.set(mode, service);
	}
	Container.set(BinaryDataService, service);
}

/** Content of a binary from a run's output, whichever mode stored it. */
export async function readBinary(binary: IBinaryData): Promise<Buffer> {
	return Container.get(BinaryDataService).getAsBuffer(binary);
}

/** Removes this test file's temp folder (binary data, instance settings). Call in afterAll. */
export function disposeHarness(): void {
	if (coreServices) rmSync(coreServices.root, { recursive: true, force: true });
}

export function loadWorkflow(file: string): WorkflowJson {
	return JSON.parse(readFileSync(file, 'utf8')) as WorkflowJson;
}

/** The items a node put on an output in one of its runs (default: first output, first run). */
export function outputItems(result: WorkflowRunResult, nodeName: string, output = 0, run = 0): INodeExecutionData[] {
	const nodeRun = result.nodes[nodeName]?.[run];
	if (!nodeRun) throw new UnexpectedError(`Node "${nodeName}" did not run (ran: ${result.executionOrder.join(', ')})`);
	return nodeRun.outputs[output] ?? [];
}

// ---------------------------------------------------------------------------------------------
// Node types and credentials

class HarnessNodeTypes implements INodeTypes {
	private readonly types: Record<string, INodeType | IVersionedNodeType>;

	constructor(types: Record<string, INodeType | IVersionedNodeType>) {
		this.types = { 'n8n-nodes-base.manualTrigger': new ManualTrigger(), ...types };
		for (const type of Object.values(this.types)) {
			const versions = 'nodeVersions' in type ? Object.values(type.nodeVersions) : [type];
			for (const { description } of versions) {
				// What n8n's loader does to polling nodes; guarded because the instances are shared between runs.
				if (description.polling && !description.properties.some((p) => p.name === 'pollTimes')) {
					description.properties.unshift(...commonPollingParameters);
				}
			}
		}
	}

	getByName(type: string): INodeType | IVersionedNodeType {
		const nodeType = this.types[type];
		if (!nodeType) throw new UserError(`Unknown node type "${type}": pass it in nodeTypes`);
		return nodeType;
	}

	getByNameAndVersion(type: string, version?: number): INodeType {
		return NodeHelpers.getVersionedNodeType(this.getByName(type), version);
	}

	getKnownTypes(): IDataObject {
		return {};
	}
}

/** The cli's OAUTH_PINNED_FIELDS: flow fields a credential type owns when it declares them hidden. */
const PINNED_OAUTH_FIELDS = ['authUrl', 'accessTokenUrl', 'grantType', 'authentication', 'requestTokenUrl', 'signatureMethod'];

/**
 * n8n's credentials helper reads credentials from the database and decrypts them; this one keeps
 * them decrypted in a map by type and otherwise follows the cli's (packages/cli credentials-helper):
 * type defaults and hidden fields filled in, oauthTokenData kept, expressions resolved against the
 * calling item, refreshed tokens written back.
 */
class HarnessCredentialsHelper extends ICredentialsHelper {
	constructor(
		private readonly types: Map<string, ICredentialType>,
		readonly store: Record<string, ICredentialDataDecryptedObject>,
	) {
		super();
	}

	private type(name: string): ICredentialType {
		const type = this.types.get(name);
		if (!type) throw new UserError(`Unknown credential type "${name}": pass it in credentialTypes`);
		return type;
	}

	getParentTypes(name: string): string[] {
		const parents = this.type(name).extends ?? [];
		return parents.flatMap((parent) => [parent, ...this.getParentTypes(parent)]);
	}

	isCredentialUsableByNode(credentialType: string, nodeType: string): boolean {
		const type = this.types.get(credentialType);
		if (!type?.restrictToSupportedNodes) return true;
		return (type.supportedNodes ?? []).some((name) => nodeType === name || nodeType.endsWith(`.${name}`));
	}

	getCredentialsProperties(name: string): INodeProperties[] {
		const type = this.type(name);
		if (!type.extends) {
			// n8n adds the field holding access/refresh tokens to the two OAuth roots.
			const oauth: INodeProperties[] = ['oAuth1Api', 'oAuth2Api'].includes(name)
				? [{ displayName: 'oauthTokenData', name: 'oauthTokenData', type: 'json', default: {} }]
				: [];
			return [...type.properties, ...oauth];
		}
		const merged: INodeProperties[] = [];
		for (const parent of type.extends) NodeHelpers.mergeNodeProperties(merged, this.getCredentialsProperties(parent));
		NodeHelpers.mergeNodeProperties(merged, type.properties);
		return merged;
	}

	async getDecrypted(
		additionalData: IWorkflowExecuteAdditionalData,
		nodeCredentials: INodeCredentialsDetails,
		type: string,
		mode: WorkflowExecuteMode,
		executeData?: IExecuteData,
		raw?: boolean,
		expressionResolveValues?: ICredentialsExpressionResolveValues,
	): Promise<ICredentialDataDecryptedObject> {
		const stored = this.store[type];
		// The cli's CredentialNotFoundError message.
		if (!stored) throw new UserError(`Credential with ID "${nodeCredentials.id}" does not exist for type "${type}".`);
		if (raw) return structuredClone(stored);
		const properties = this.getCredentialsProperties(type);
		// OAuth endpoints a type pins as hidden fields (Google's token URL) win over stored values, as in n8n.
		const data = { ...stored };
		for (const property of properties) if (property.type === 'hidden' && PINNED_OAUTH_FIELDS.includes(property.name)) delete data[property.name];
		let decrypted = NodeHelpers.getNodeParameters(properties, data as INodeParameters, true, false, null, null) as ICredentialDataDecryptedObject;
		if (stored.oauthTokenData !== undefined) decrypted.oauthTokenData = structuredClone(stored.oauthTokenData);
		if (expressionResolveValues) {
			const { workflow, runExecutionData, runIndex, itemIndex, node, connectionInputData } = expressionResolveValues;
			decrypted = workflow.expression.getParameterValue(
				decrypted as INodeParameters,
				runExecutionData,
				runIndex,
				itemIndex,
				node.name,
				connectionInputData,
				mode,
				getAdditionalKeys(additionalData, mode, null, { isCredential: true }),
				executeData,
				false,
				decrypted,
			) as ICredentialDataDecryptedObject;
		}
		return decrypted;
	}

	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		requestOptions: IHttpRequestOptions | IRequestOptionsSimplified,
		workflow?: Workflow,
		node?: INode,
	): Promise<IHttpRequestOptions> {
		const { authenticate } = this.type(typeName);
		if (typeof authenticate === 'function') return await authenticate(credentials, requestOptions as IHttpRequestOptions);
		if (authenticate?.type === 'generic') {
			if (!workflow || !node) throw new UnexpectedError('Declarative credential authentication needs the workflow and node');
			const resolve = (value: string) =>
				isExpression(value) ? String(workflow.expression.getSimpleParameterValue(node, value, 'internal', { $credentials: credentials }, undefined, '') ?? '') : value;
			const target = requestOptions as unknown as Record<string, Record<string, string> | undefined>;
			for (const [section, entries] of Object.entries(authenticate.properties)) {
				const resolved = (target[section] ??= {});
				for (const [key, value] of Object.entries(entries as Record<string, string>)) resolved[resolve(key)] = resolve(value);
			}
		}
		return requestOptions as IHttpRequestOptions;
	}

	/** The expirable-token flow of non-OAuth credentials (`preAuthentication`), persisted like n8n does. */
	async preAuthentication(
		helpers: IHttpRequestHelper,
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		_node: INode,
		credentialsExpired: boolean,
	): Promise<ICredentialDataDecryptedObject | undefined> {
		const type = this.type(typeName);
		const expirable = type.properties.find((p) => p.type === 'hidden' && p.typeOptions?.expirable === true);
		if (!expirable || typeof type.preAuthentication !== 'function') return undefined;
		if (credentials[expirable.name] !== '' && !credentialsExpired) return undefined;
		const output = (await type.preAuthentication.call(helpers, credentials)) as ICredentialDataDecryptedObject;
		if (output[expirable.name] === undefined) return undefined;
		this.store[typeName] = { ...this.store[typeName], ...output };
		return Object.assign(credentials, output);
	}

	async runPreAuthentication(
		helpers: IHttpRequestHelper,
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
	): Promise<ICredentialDataDecryptedObject | undefined> {
		const { preAuthentication } = this.type(typeName);
		if (typeof preAuthentication !== 'function') return undefined;
		return (await preAuthentication.call(helpers, credentials)) as ICredentialDataDecryptedObject;
	}

	async updateCredentials(_nodeCredentials: INodeCredentialsDetails, type: string, data: ICredentialDataDecryptedObject): Promise<void> {
		this.store[type] = structuredClone(data);
	}

	async updateCredentialsOauthTokenData(_nodeCredentials: INodeCredentialsDetails, type: string, data: ICredentialDataDecryptedObject): Promise<void> {
		this.store[type] = { ...this.store[type], oauthTokenData: structuredClone(data.oauthTokenData) };
	}

	// Only the cli's own preAuthentication calls this (to reach the database); n8n-core never does.
	async getCredentials(): Promise<never> {
		throw new UnexpectedError('The harness keeps no encrypted credentials');
	}
}

// ---------------------------------------------------------------------------------------------
// Running

let executionCounter = 0;

/** The static data n8n writes to the workflow row: plain JSON, without the change marker. */
function storedStaticData(staticData: IDataObject): IDataObject {
	const data = JSON.parse(JSON.stringify(staticData)) as IDataObject;
	delete data.__dataChanged;
	return data;
}

function summarizeError(error: unknown): ErrorSummary | undefined {
	if (error === undefined || error === null) return undefined;
	const e = error as Partial<ExecutionError> & { httpCode?: string | null; context?: { itemIndex?: number } };
	return {
		// The engine spreads node errors into plain objects: only n8n's own errors keep a name.
		name: e.name ?? 'Error',
		message: e.message ?? String(error),
		description: e.description,
		itemIndex: e.context?.itemIndex,
		httpCode: e.httpCode,
		raw: error,
	};
}

interface PreparedRun {
	workflow: Workflow;
	workflowData: IWorkflowBase;
	additionalData: IWorkflowExecuteAdditionalData;
	credentials: HarnessCredentialsHelper;
	mode: WorkflowExecuteMode;
	executionOrder: string[];
	/** Static data as stored; replaced when a hook or emit saves it. */
	saved: { staticData: IDataObject };
}

async function prepare(json: WorkflowJson, options: RunOptions): Promise<PreparedRun> {
	const mode = options.mode ?? 'manual';
	await useBinaryDataMode(options.binaryDataMode ?? 'filesystem');
	// The Workflow constructor writes parameter defaults into the nodes: never touch the caller's JSON.
	const data = structuredClone(json);
	const id = data.id ?? 'harness-workflow';
	const staticData = structuredClone(options.staticData ?? {});
	const workflow = new Workflow({
		id,
		name: data.name ?? 'Harness workflow',
		nodes: data.nodes,
		connections: data.connections,
		settings: data.settings,
		staticData: structuredClone(staticData),
		active: mode !== 'manual',
		nodeTypes: new HarnessNodeTypes(options.nodeTypes),
	});
	const types = new Map([...builtInCredentialTypes, ...(options.credentialTypes ?? [])].map((type) => [type.name, type]));
	const credentials = new HarnessCredentialsHelper(types, structuredClone(options.credentials ?? {}));
	const executionId = String(++executionCounter);
	const now = new Date();
	const workflowData: IWorkflowBase = {
		...data,
		id,
		name: workflow.name ?? id,
		active: mode !== 'manual',
		isArchived: false,
		activeVersionId: null,
		createdAt: now,
		updatedAt: now,
	};

	const saved = { staticData };
	const executionOrder: string[] = [];
	const hooks = new ExecutionLifecycleHooks(mode, executionId, workflowData);
	hooks.addHandler('nodeExecuteBefore', (nodeName) => options.onNodeStart?.(nodeName));
	hooks.addHandler('nodeExecuteAfter', (nodeName) => void executionOrder.push(nodeName));
	// The cli's save hook: n8n stores changed static data after the run, except for manual runs.
	hooks.addHandler('workflowExecuteAfter', (_run, newStaticData) => {
		if (mode !== 'manual' && newStaticData) saved.staticData = storedStaticData(newStaticData);
	});

	const urls = 'http://localhost:5678';
	const additionalData: IWorkflowExecuteAdditionalData = {
		credentialsHelper: credentials,
		hooks,
		executionId,
		workflowId: id,
		currentNodeExecutionIndex: 0,
		restApiUrl: `${urls}/rest`,
		instanceBaseUrl: `${urls}/`,
		formBaseUrl: `${urls}/form`,
		formWaitingBaseUrl: `${urls}/form-waiting`,
		formTestBaseUrl: `${urls}/form-test`,
		webhookBaseUrl: `${urls}/webhook`,
		webhookWaitingBaseUrl: `${urls}/webhook-waiting`,
		webhookTestBaseUrl: `${urls}/webhook-test`,
		mcpBaseUrl: `${urls}/mcp`,
		mcpTestBaseUrl: `${urls}/mcp-test`,
		variables: {},
		externalSecretsProxy: new ExternalSecretsProxy(),
		logAiEvent: () => {},
		getRunExecutionData: async () => undefined,
		getRuntimeCredential: async () => undefined,
		executeWorkflow: async () => {
			throw new UnexpectedError('Sub-workflows are not supported by the harness');
		},
		startRunnerTask: async () => {
			throw new UnexpectedError('Task runners (Code node) are not supported by the harness');
		},
	};
	return { workflow, workflowData, additionalData, credentials, mode, executionOrder, saved };
}

/** Executes the workflow from its trigger, as a manual (editor) run or a production run. */
export async function runWorkflow(json: WorkflowJson, options: RunOptions): Promise<WorkflowRunResult> {
	const prepared = await prepare(json, options);
	const { workflow, additionalData, mode, saved } = prepared;
	const startNode = options.startNode ? workflow.getNode(options.startNode) : workflow.getStartNode();
	if (!startNode) throw new UserError(`No start node${options.startNode ? ` named "${options.startNode}"` : ''} in the workflow`);

	// What n8n's WorkflowRunner builds: the trigger on the stack with what it emitted.
	const runExecutionData = createRunExecutionData({
		executionData: { nodeExecutionStack: [{ node: startNode, data: { main: options.startInput ?? [[{ json: {} }]] }, source: null }] },
		// n8n only honours pinned data in editor runs.
		resultData: { pinData: mode === 'manual' ? prepared.workflowData.pinData : undefined },
	});
	const execution = new WorkflowExecute(additionalData, mode, runExecutionData).processRunExecutionData(workflow);
	const cancel = () => execution.cancel();
	if (options.signal?.aborted) cancel();
	else options.signal?.addEventListener('abort', cancel, { once: true });
	let run: IRun;
	try {
		// The engine resolves even when cancelled, once the running node returns.
		run = await execution;
	} finally {
		options.signal?.removeEventListener('abort', cancel);
	}

	const nodes: Record<string, NodeRun[]> = {};
	for (const [name, tasks] of Object.entries(run.data.resultData.runData)) {
		nodes[name] = tasks.map((task) => ({
			outputs: (task.data?.main ?? []).map((items) => items ?? []),
			error: summarizeError(task.error),
			status: task.executionStatus ?? 'unknown',
		}));
	}
	return {
		status: run.status,
		nodes,
		executionOrder: prepared.executionOrder,
		error: summarizeError(run.data.resultData.error),
		staticData: saved.staticData,
		credentials: prepared.credentials.store,
		run,
	};
}

/**
 * One poll of a polling trigger.
 *
 * 'manual' mode is the editor's test run: the engine calls poll() itself (WorkflowExecute's poll
 * branch) and nothing is saved. Any other mode is a scheduled tick of an active workflow: n8n-core's
 * PollTriggerExecutor runs poll() in a PollContext; items it returns are emitted, which (as in n8n)
 * saves the static data and starts an execution of the workflow with them; a poll returning null
 * saves its static data through the cursor commit; a poll that throws saves nothing.
 * Pass the returned staticData to the next call to continue from it, as n8n reloads it from the row.
 * A signal cancels the execution a poll starts, not the poll itself.
 */
export async function runPoll(json: WorkflowJson, options: PollOptions): Promise<PollResult> {
	const nodeTypes = new HarnessNodeTypes(options.nodeTypes);
	const pollNodes = json.nodes.filter((node) => nodeTypes.getByNameAndVersion(node.type, node.typeVersion).poll);
	const pollNode = options.pollNode ?? (pollNodes.length === 1 ? pollNodes[0].name : undefined);
	if (!pollNode) throw new UserError('Name the polling node in pollNode');

	if ((options.mode ?? 'manual') === 'manual') {
		const execution = await runWorkflow(json, { ...options, startNode: pollNode });
		const run = execution.nodes[pollNode]?.[0];
		return { items: run?.outputs.length ? run.outputs : null, error: run?.error, staticData: execution.staticData, execution };
	}

	const { workflow, additionalData, mode, saved } = await prepare(json, options);
	const node = workflow.getNode(pollNode) as INode;
	const save = () => {
		if (workflow.staticData.__dataChanged !== true) return;
		saved.staticData = storedStaticData(workflow.staticData);
		workflow.staticData.__dataChanged = false;
	};
	let items: INodeExecutionData[][] | null = null;
	let error: unknown;
	const pollFunctions = new PollContext(
		workflow,
		node,
		additionalData,
		mode,
		options.activation ?? 'activate',
		(data) => {
			save();
			items = data;
		},
		(e) => {
			error = e;
		},
		async () => save(),
	);
	// The executor a schedule tick calls (not a "testing" run: errors go to __emitError).
	await Container.get(PollTriggerExecutor).create(workflow, node, pollFunctions, () => true)();

	const result: PollResult = { items, error: summarizeError(error), staticData: saved.staticData };
	if (items) {
		result.execution = await runWorkflow(json, { ...options, staticData: saved.staticData, startNode: pollNode, startInput: items });
		result.staticData = result.execution.staticData;
	}
	return result;
}
