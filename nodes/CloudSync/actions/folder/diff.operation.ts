import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import type { PairOutputs } from '../router';
import { limitFiles, withPairing } from '../../helpers/items';
import { readItemLimit } from '../../helpers/options';
import { folderPairFields, ONE_WAY, syncOptionsField } from './shared';
import { runFolderMode } from './modes';

const show = { resource: ['folder'], operation: ['diff'] };

export const description: INodeProperties[] = [
	...folderPairFields(show),
	{
		displayName: 'Include Unchanged',
		name: 'includeUnchanged',
		type: 'boolean',
		default: false,
		displayOptions: { show: { ...show, mode: ONE_WAY } },
		description: 'Whether to output files that would be skipped as well',
	},
	syncOptionsField(show),
];

/** The summary of the plan a sync would run (whether a guard would refuse it) on the first output, one item per action on the second. */
export async function execute(this: IExecuteFunctions, itemIndex: number, signal?: AbortSignal): Promise<PairOutputs> {
	const outcome = await runFolderMode(this, itemIndex, true, signal);
	if (!outcome) return { summary: [], files: [] };
	const includeUnchanged = this.getNodeParameter('includeUnchanged', itemIndex, false) === true;
	const leftOut = Number(outcome.summary.changesNotListed ?? 0) + (includeUnchanged ? Number(outcome.summary.unchangedNotListed ?? 0) : 0);
	const { summary, files } = limitFiles(outcome.summary, outcome.files, readItemLimit(this, itemIndex), leftOut);
	return { summary: withPairing([{ type: 'summary', ...summary }], itemIndex), files: withPairing(files.map((file) => ({ type: 'action', ...file })), itemIndex) };
}
