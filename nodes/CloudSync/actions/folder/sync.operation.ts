import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { withPairing } from '../../helpers/items';
import { folderPairFields, syncOptionsField } from './shared';
import { runFolderMode } from './modes';

const show = { resource: ['folder'], operation: ['sync'] };

export const description: INodeProperties[] = [
	...folderPairFields(show),
	{
		displayName: 'Output',
		name: 'output',
		type: 'options',
		default: 'summary',
		displayOptions: { show },
		options: [
			{ name: 'Summary', value: 'summary', description: 'One item with counts, bytes, duration and errors: ready for an email report' },
			{ name: 'One Item per File', value: 'files', description: 'One item per file action with its status' },
			{ name: 'Summary and Files', value: 'both', description: 'The summary item first, then one item per file action' },
		],
	},
	syncOptionsField(show),
];

export async function execute(this: IExecuteFunctions, itemIndex: number, signal?: AbortSignal): Promise<INodeExecutionData[]> {
	const output = this.getNodeParameter('output', itemIndex, 'summary') as string;
	const outcome = await runFolderMode(this, itemIndex, false, signal);
	if (!outcome) return [];
	const summary = output === 'files' ? [] : [{ type: 'summary', ...outcome.summary }];
	// A file left alone is no news; one skipped because of an error is.
	const files = output === 'summary' ? [] : outcome.files.filter((file) => file.status !== 'skipped' || file.error).map((file) => ({ type: 'file', ...file }));
	return withPairing([...summary, ...files], itemIndex);
}
