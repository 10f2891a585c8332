/**
 * The Cloud Sync node as a person meets it in the editor: which credential slots and options each
 * operation, mode and pair of clouds shows. The editor gets the node's description as JSON and
 * decides with n8n-workflow's displayParameter, as n8n-core does at run time with the live
 * description; both are evaluated here, for every pair of clouds the registry offers, so a new cloud
 * is walked without a change to this file.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { NodeHelpers, Workflow, type IExecuteFunctions, type INodeTypes, type INode, type INodeCredentialDescription, type INodeParameters, type INodeProperties, type INodeTypeDescription } from 'n8n-workflow';
import { CloudSync } from '../../nodes/CloudSync/CloudSync.node';
import { CloudSyncTrigger } from '../../nodes/CloudSyncTrigger/CloudSyncTrigger.node';
import { CLOUDS, cloudsOf, WATCHABLE } from '../../nodes/CloudSync/clouds/registry';
import type { CloudDescriptor } from '../../nodes/CloudSync/clouds/descriptor';
import { readModeSettings, sideRequests } from '../../nodes/CloudSync/actions/folder/modes';
import { openLocation } from '../../nodes/CloudSync/transport/locations';

const live = new CloudSync().description;
/** What the editor receives: n8n serves node types as JSON. */
const asEditorSees = (description: INodeTypeDescription): INodeTypeDescription => JSON.parse(JSON.stringify(description));
const editor = asEditorSees(live);

export const MODES = ['copy', 'mirror', 'update', 'move', 'twoWay', 'incremental', 'fullBackup'];

/** The node's parameters with n8n's defaults filled in, as both the editor and n8n-core hold them. */
export function withDefaults(description: INodeTypeDescription, parameters: INodeParameters): { node: INode; parameters: INodeParameters } {
	const node: INode = { id: '1', name: 'Cloud Sync', type: 'n8n-nodes-cloudsync.cloudSync', typeVersion: 1, position: [0, 0], parameters };
	const full = NodeHelpers.getNodeParameters(description.properties, parameters, true, false, node, description) ?? {};
	return { node: { ...node, parameters: full }, parameters: full };
}

/** The credential slots the editor shows: label and credential type. */
function slotsShown(description: INodeTypeDescription, parameters: INodeParameters) {
	const { node } = withDefaults(description, parameters);
	return (description.credentials ?? [])
		.filter((entry) => NodeHelpers.displayParameter(node.parameters, entry, node, description))
		.map((entry) => ({ label: entry.displayName ?? '(unlabelled)', type: entry.name, required: entry.required === true }));
}

/** Whether n8n-core lets the node read a credential type: it checks the first entry of that type. */
function runTimeAllows(type: string, parameters: INodeParameters): boolean {
	const { node } = withDefaults(live, parameters);
	const first = live.credentials!.find((entry: INodeCredentialDescription) => entry.name === type)!;
	return NodeHelpers.displayParameter(node.parameters, first, node, live);
}

const credentialOf = (cloud: string) => CLOUDS.find((candidate) => candidate.value === cloud)?.credential?.type;
const labelOf = (cloud: string) => CLOUDS.find((candidate) => candidate.value === cloud)!.label;

describe('credential slots: each side shows the credential its cloud needs, named for that side', () => {
	const pairs = cloudsOf('source').flatMap((source) => cloudsOf('destination').map((destination) => [source.value, destination.value] as const));

	it.each(pairs.flatMap(([source, destination]) => MODES.map((mode) => [source, destination, mode] as const)))('%s → %s in %s', (source, destination, mode) => {
		for (const operation of ['diff', 'sync']) {
			const parameters = { resource: 'folder', operation, mode, sourceCloud: source, destinationCloud: destination };
			const shown = slotsShown(editor, parameters);
			const [first, second] = mode === 'twoWay' ? ['Left', 'Right'] : ['Source', 'Destination'];
			const expected = [];
			const sourceType = credentialOf(source);
			const destinationType = credentialOf(destination);
			if (sourceType && sourceType.name === destinationType?.name) {
				// One credential for both sides, named for both clouds when they differ (iCloud Photos → iCloud Drive share the Apple ID).
				const clouds = source === destination ? labelOf(source) : `${labelOf(source)} / ${labelOf(destination)}`;
				expected.push({ label: `${first} and ${second} Credential (${clouds})`, type: sourceType.name, required: true });
			} else {
				if (sourceType) expected.push({ label: `${first} Credential (${labelOf(source)})`, type: sourceType.name, required: true });
				if (destinationType) expected.push({ label: `${second} Credential (${labelOf(destination)})`, type: destinationType.name, required: true });
			}
			// In the order the panel lists them: the source's (left) slot above the destination's (right), whichever type comes first.
			expect(shown).toEqual(expected);
			// And n8n-core hands the node each credential it needs at run time.
			for (const { type } of expected) expect(runTimeAllows(type, parameters)).toBe(true);
		}
	});

	it.each(cloudsOf('target').map((cloud) => cloud.value))('one folder on %s: List and the file operations show its credential only', (cloud) => {
		const type = credentialOf(cloud);
		for (const [resource, operation] of [['folder', 'list'], ['file', 'upload'], ['file', 'download'], ['file', 'delete'], ['file', 'move']]) {
			const parameters = { resource, operation, targetCloud: cloud };
			expect(slotsShown(editor, parameters)).toEqual(type ? [{ label: `${labelOf(cloud)} Credential`, type: type.name, required: true }] : []);
			if (type) expect(runTimeAllows(type.name, parameters)).toBe(true);
		}
	});

	it('the first entry of each type, which n8n-core checks, is never shown in the editor and always passes at run time', () => {
		const firstEntries = editor.credentials!.filter((entry, index, all) => all.findIndex((other) => other.name === entry.name) === index);
		expect(firstEntries.map((entry) => entry.displayName)).toEqual(firstEntries.map(() => undefined));
		for (const [source, destination] of pairs) {
			const parameters = { resource: 'folder', operation: 'sync', mode: 'mirror', sourceCloud: source, destinationCloud: destination };
			const { node } = withDefaults(editor, parameters);
			for (const entry of firstEntries) {
				expect(NodeHelpers.displayParameter(node.parameters, entry, node, editor)).toBe(false);
				expect(runTimeAllows(entry.name, parameters)).toBe(true);
			}
		}
		expect(slotsShown(editor, { resource: 'folder', operation: 'sync', mode: 'mirror', sourceCloud: 'local', destinationCloud: 'local' })).toEqual([]);
	});

	it('the trigger shows the credential of the cloud it watches, labelled with it', () => {
		const trigger = asEditorSees(new CloudSyncTrigger().description);
		for (const cloud of WATCHABLE) {
			const shown = slotsShown(trigger, { targetCloud: cloud.value });
			expect(shown).toEqual([{ label: `${cloud.label} Credential`, type: cloud.credential!.type.name, required: true }]);
		}
	});
});

// ---------------------------------------------------------------------------------------------
// Options: shown exactly where read

/** Fields every Diff and Sync reads or that choose what is read; the walk below is about the rest. */
const FRAME = new Set(['resource', 'operation', 'mode', 'sourceCloud', 'destinationCloud', 'filters', 'options', 'output', 'dryRun']);

/** A value for each folder field of a side's cloud, so that opening it gets as far as reading its options. */
function folderValues(side: 'source' | 'destination', cloud: string): INodeParameters {
	const descriptor = CLOUDS.find((candidate) => candidate.value === cloud)!;
	const values: INodeParameters = {};
	for (const field of descriptor.folderFields(side, side)) {
		if (field.type === 'resourceLocator') values[field.name] = { __rl: true, mode: field.modes?.at(-1)?.name ?? 'id', value: '/cloudsync-editor-test' };
		else if (field.type === 'string') values[field.name] = field.name.endsWith('LocalPath') ? '/nonexistent/cloudsync-editor-test' : 'data';
	}
	return values;
}

interface Reads {
	fields: Set<string>;
	options: Set<string>;
}

/** An execute context on `parameters` (with n8n's defaults) that records every parameter and Options entry read; it has no credential. */
function recordingContext(parameters: INodeParameters, reads: Reads): IExecuteFunctions {
	const { node, parameters: full } = withDefaults(live, parameters);
	const recorded = (value: unknown) =>
		new Proxy(value as object, {
			get(target, key) {
				if (typeof key === 'string') reads.options.add(key);
				return Reflect.get(target, key);
			},
		});
	const context = {
		getNode: () => node,
		getNodeParameter(name: string, _itemIndex: number, fallback?: unknown, options?: { extractValue?: boolean }) {
			reads.fields.add(name);
			const value = name in full ? full[name] : fallback;
			if (name === 'options') return recorded(value ?? {});
			if (options?.extractValue && value && typeof value === 'object' && '__rl' in value) return (value as unknown as { value: unknown }).value;
			return value;
		},
		getInputData: () => [{ json: {} }],
		// Signing in is where a cloud's open() stops here: what it reads must be read before (no request is ever made).
		getCredentials: async () => {
			throw new Error('no credential in this test');
		},
		getWorkflowStaticData: () => ({}),
		getMode: () => 'manual',
		helpers: {},
	};
	return context as unknown as IExecuteFunctions;
}

/** The Options entries and fields the editor shows for these parameters. */
function shownFor(parameters: INodeParameters) {
	const { node, parameters: full } = withDefaults(editor, parameters);
	const fields = editor.properties.filter((property) => NodeHelpers.displayParameter(full, property, node, editor)).map((property) => property.name);
	const collection = editor.properties.find((property) => property.name === 'options' && NodeHelpers.displayParameter(full, property, node, editor));
	const options = (collection?.options ?? []).filter((option) => 'displayName' in option && NodeHelpers.displayParameterPath(full, option as INodeProperties, 'options', node, editor)).map((option) => (option as INodeProperties).name);
	return { fields: new Set(fields), options: new Set(options) };
}

describe('options: each is shown exactly where the mode and the clouds read it', () => {
	// The modes a destination owns (Add to Google Photos) join the walk; a pair is walked in a mode only where a run would go ahead.
	const photoModes = [...new Set(CLOUDS.flatMap((cloud) => (cloud.photoLibrary ? [cloud.photoLibrary.mode] : [])))];
	const runs = (source: CloudDescriptor, destination: CloudDescriptor, mode: string) =>
		!source.refusesMode?.(mode) && !destination.refusesMode?.(mode) && (!photoModes.includes(mode) || destination.photoLibrary?.mode === mode);
	const walk = cloudsOf('source').flatMap((source) =>
		cloudsOf('destination').flatMap((destination) => [...MODES, ...photoModes].filter((mode) => runs(source, destination, mode)).map((mode) => [source.value, destination.value, mode] as const)),
	);

	it.each(walk)('%s → %s in %s', async (source, destination, mode) => {
		for (const operation of ['diff', 'sync']) {
			const parameters: INodeParameters = { resource: 'folder', operation, mode, sourceCloud: source, destinationCloud: destination, ...folderValues('source', source), ...folderValues('destination', destination) };
			const reads: Reads = { fields: new Set(), options: new Set() };
			const context = recordingContext(parameters, reads);
			const dryRun = operation === 'diff';
			readModeSettings(context, 0, mode, dryRun);
			const requests = sideRequests(mode, dryRun);
			await openLocation(context, 'source', 0, requests.source).catch(() => undefined);
			// A photo library is opened by its mode, after the source, whose label names its default album.
			const library = CLOUDS.find((cloud) => cloud.value === destination)!.photoLibrary;
			if (library?.mode === mode) await library.open({ context, side: 'destination', itemIndex: 0, create: false }, `${source}:/cloudsync-editor-test`).catch(() => undefined);
			else await openLocation(context, 'destination', 0, requests.destination).catch(() => undefined);

			const shown = shownFor(parameters);
			const folderFields = new Set(Object.keys(parameters));
			const notFrame = (name: string) => !FRAME.has(name) && !folderFields.has(name);
			const where = `${operation} ${source} → ${destination} in ${mode}`;
			expect({ where, options: [...shown.options].sort() }).toEqual({ where, options: [...reads.options].sort() });
			expect({ where, fields: [...shown.fields].filter(notFrame).sort() }).toEqual({ where, fields: [...reads.fields].filter(notFrame).sort() });
		}
	});
});

// ---------------------------------------------------------------------------------------------
// Subtitles, evaluated by n8n's own expression engine as the canvas shows them

function subtitleOf(description: INodeTypeDescription, parameters: INodeParameters): unknown {
	const { node } = withDefaults(description, parameters);
	const nodeTypes = { getByName: () => ({ description }), getByNameAndVersion: () => ({ description }), getKnownTypes: () => ({}) } as unknown as INodeTypes;
	const workflow = new Workflow({ nodes: [node], connections: {}, active: false, nodeTypes });
	return workflow.expression.getSimpleParameterValue(node, description.subtitle!, 'internal', {});
}

describe('subtitles name the mode and the direction', () => {
	it.each([
		[{ resource: 'folder', operation: 'sync', mode: 'mirror', sourceCloud: 'dropbox', destinationCloud: 'googleDrive' }, 'Mirror: Dropbox → Google Drive'],
		[{ resource: 'folder', operation: 'sync', mode: 'twoWay', sourceCloud: 'local', destinationCloud: 'dropbox' }, 'Two-Way: Local ⇄ Dropbox'],
		[{ resource: 'folder', operation: 'sync', mode: 'mirror', dryRun: true, sourceCloud: 'oneDrive', destinationCloud: 'local' }, 'Mirror (dry run): OneDrive → Local'],
		[{ resource: 'folder', operation: 'diff', mode: 'fullBackup', sourceCloud: 'local', destinationCloud: 'dropbox' }, 'Diff Full Backup: Local → Dropbox'],
		[{ resource: 'folder', operation: 'sync', sourceCloud: 'local', destinationCloud: 'local' }, 'Copy: Local → Local'],
		[{ resource: 'folder', operation: 'list', targetCloud: 'googleDriveServiceAccount' }, 'List: Google Drive'],
		[{ resource: 'file', operation: 'upload', targetCloud: 'dropbox' }, 'Upload: Dropbox'],
	])('%j', (parameters, expected) => {
		expect(subtitleOf(editor, parameters)).toBe(expected);
	});

	it('the trigger names the cloud it watches by its label', () => {
		const trigger = new CloudSyncTrigger().description;
		for (const cloud of WATCHABLE) expect(subtitleOf(trigger, { targetCloud: cloud.value })).toBe(`Changes in ${cloud.label}`);
	});
});

// ---------------------------------------------------------------------------------------------
// The node creator

describe('the node creator', () => {
	it('lists the trigger inside the Cloud Sync entry and shows its description there, so that description says what both do', () => {
		const action = new CloudSync().description;
		const trigger = new CloudSyncTrigger().description;
		// n8n 2.40.7 (editor bundle, generateMergedNodesAndActions) merges a trigger whose type is a node's type plus "Trigger" into that node's entry and gives the entry the trigger's description.
		expect(trigger.name.replace('Trigger', '')).toBe(action.name);
		expect(trigger.description.startsWith(action.description.split(';')[0])).toBe(true);
		expect(trigger.description).toMatch(/^Mirror, copy, back up or two-way sync folders between .*, or start a workflow when files change in a .* folder$/);
		expect(trigger.icon).not.toEqual(action.icon);
	});
});

// ---------------------------------------------------------------------------------------------
// Credentials' dialogs

describe('credential dialogs', () => {
	const types = [...new Map(CLOUDS.flatMap((cloud) => (cloud.credential ? [[cloud.credential.type.name, cloud.credential.type]] : []))).values()];

	it.each(types.map((type) => [type.displayName, type] as const))('%s links to its setup page in docs/setup, shipped with the package', (_name, type) => {
		const documentation = (type as { documentationUrl?: string }).documentationUrl ?? '';
		const match = /^https:\/\/unpkg\.com\/n8n-nodes-cloudsync@latest\/(docs\/setup\/[\w-]+\.md)(#[\w-]+)?$/.exec(documentation);
		expect(match).not.toBeNull();
		const page = readFileSync(path.join(__dirname, '..', '..', match![1]), 'utf8');
		// An anchor names a heading of the page, as GitHub-style renderers make them.
		if (match![2]) expect(page.split('\n').filter((line) => line.startsWith('#')).map((line) => `#${line.replace(/^#+\s*/, '').toLowerCase().replace(/[^\w\s-]/g, '').trim().replace(/\s+/g, '-')}`)).toContain(match![2]);
		expect(JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')).files).toContain('docs/setup');
	});

	it.each(types.map((type) => [type.displayName] as const))('the name n8n proposes for a new "%s" credential says "account" once', (displayName) => {
		// n8n drops the words API, OAuth1, OAuth2 and MCP and appends "account" (editor bundle, getNewCredentialName).
		const proposed = `${displayName.split(' ').filter((word) => !['API', 'OAuth1', 'OAuth2', 'MCP'].includes(word)).join(' ')} account`;
		expect(proposed.match(/account/gi)).toHaveLength(1);
	});
});
