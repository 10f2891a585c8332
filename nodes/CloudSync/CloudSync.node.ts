import { NodeConnectionTypes, type IExecuteFunctions, type INodeExecutionData, type INodeType, type INodeTypeDescription } from 'n8n-workflow';
import { descriptions, OUTPUTS_EXPRESSION, router } from './actions/router';
import { CLOUDS, cloudsInProse, credentialTestMethods, labelsExpression, listSearchMethods, nodeCredentials } from './clouds/registry';
import { MODE_NAMES } from './helpers/report';

const CLOUD_LABELS = labelsExpression();
const MODES = JSON.stringify(MODE_NAMES);
const OPERATIONS = JSON.stringify({ list: 'List', upload: 'Upload', download: 'Download', delete: 'Delete', move: 'Move' });

/** "Mirror: Dropbox → Google Drive", "Two-Way: Local ⇄ Dropbox", "Diff Mirror: …", "Mirror (dry run): …", "Upload: Google Drive". */
export const SUBTITLE = `={{ $parameter["resource"] === "folder" && $parameter["operation"] !== "list" ? ($parameter["operation"] === "diff" ? "Diff " : "") + (${MODES}[$parameter["mode"]] || $parameter["mode"]) + ($parameter["operation"] === "sync" && $parameter["dryRun"] === true ? " (dry run)" : "") + ": " + ${CLOUD_LABELS}[$parameter["sourceCloud"]] + ($parameter["mode"] === "twoWay" ? " ⇄ " : " → ") + ${CLOUD_LABELS}[$parameter["destinationCloud"]] : ${OPERATIONS}[$parameter["operation"]] + ": " + ${CLOUD_LABELS}[$parameter["targetCloud"]] }}`;

/** What Cloud Sync does, as its description and the node creator's entry (see the trigger's description) say it. */
export const SYNC_DESCRIPTION = `Mirror, copy, back up or two-way sync folders between ${cloudsInProse(CLOUDS, 'and')}`;

export class CloudSync implements INodeType {
	// The subtitle below is built, as the clouds' labels come from the registry; this rule only sees literal ones.
	// eslint-disable-next-line n8n-nodes-base/node-class-description-missing-subtitle
	description: INodeTypeDescription = {
		displayName: 'Cloud Sync',
		name: 'cloudSync',
		icon: { light: 'file:cloudSync.svg', dark: 'file:cloudSync.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: SUBTITLE,
		description: `${SYNC_DESCRIPTION}; list, upload, download and move files`,
		defaults: { name: 'Cloud Sync' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: OUTPUTS_EXPRESSION,
		credentials: nodeCredentials(),
		properties: [
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				default: 'folder',
				options: [
					{ name: 'Folder', value: 'folder', description: 'List, compare or sync whole folders' },
					{ name: 'File', value: 'file', description: 'Upload, download, delete or move one file' },
				],
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['folder'] } },
				default: 'sync',
				options: [
					{ name: 'Diff', value: 'diff', action: 'Preview a sync without running it', description: 'Show what a sync would do, and why, touching nothing' },
					{ name: 'List', value: 'list', action: 'List files in a folder', description: 'One item per file, with size, date and hashes' },
					{ name: 'Sync', value: 'sync', action: 'Sync two folders', description: 'Mirror, copy, update or move one folder into another' },
				],
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['file'] } },
				default: 'upload',
				options: [
					{ name: 'Delete', value: 'delete', action: 'Delete a file or folder' },
					{ name: 'Download', value: 'download', action: 'Download a file' },
					{ name: 'Move', value: 'move', action: 'Move or rename a file' },
					{ name: 'Upload', value: 'upload', action: 'Upload a file' },
				],
			},
			...descriptions,
		],
	};

	methods = {
		credentialTest: credentialTestMethods(CLOUDS),
		listSearch: listSearchMethods(CLOUDS),
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return router.call(this);
	}
}
