import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { withPairing } from '../../helpers/items';
import { folderPairFields, syncOptionsField } from './shared';
import { runFolderMode } from './modes';

const show = { resource: ['folder'], operation: ['diff'] };

export const description: INodeProperties[] = [
	...folderPairFields(show),
	{
		displayName: 'Include Unchanged',
		name: 'includeUnchanged',
		type: 'boolean',
		default: false,
		displayOptions: { show },
		description: 'Whether to output files that would be skipped as well',
	},
	syncOptionsField(show),
];

/** The plan a sync would run, one item per action, and a last item saying whether a guard would refuse it. */
export async function execute(this: IExecuteFunctions, itemIndex: number, signal?: AbortSignal): Promise<INodeExecutionData[]> {
	const outcome = await runFolderMode(this, itemIndex, true, signal);
	if (!outcome) return [];
	return withPairing([...outcome.files.map((file) => ({ type: 'action', ...file })), { type: 'summary', ...outcome.summary }], itemIndex);
}
