import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { limitFiles, withPairing } from '../../helpers/items';
import { readItemLimit } from '../../helpers/options';
import type { PairOutputs } from '../router';
import { folderPairFields, syncOptionsField } from './shared';
import { runFolderMode } from './modes';

const show = { resource: ['folder'], operation: ['sync'] };

export const description: INodeProperties[] = [
	...folderPairFields(show, [
		{
			displayName: 'Dry Run',
			name: 'dryRun',
			type: 'boolean',
			default: false,
			displayOptions: { show },
			description: 'Whether to only work out what the sync would do and output that, changing nothing',
		},
	]),
	{
		displayName: 'Output',
		name: 'output',
		type: 'options',
		default: 'summary',
		displayOptions: { show },
		options: [
			{ name: 'Summary Only', value: 'summary', description: 'The summary output only: counts, bytes, times, errors, a one-line message and an HTML report' },
			{ name: 'Summary and Files', value: 'both', description: 'The summary, and one item per file action on the Files output' },
		],
	},
	syncOptionsField(show),
];

export async function execute(this: IExecuteFunctions, itemIndex: number, signal?: AbortSignal): Promise<PairOutputs> {
	const dryRun = this.getNodeParameter('dryRun', itemIndex, false) as boolean;
	// "files" is how workflows saved before the Files output asked for per-file items.
	const perFile = this.getNodeParameter('output', itemIndex, 'summary') !== 'summary';
	const outcome = await runFolderMode(this, itemIndex, dryRun, signal);
	if (!outcome) return { summary: [], files: [] };
	// A file left alone is no news; one skipped because of an error is.
	const all = perFile ? outcome.files.filter((file) => file.status !== 'skipped' || file.error).map((file) => ({ type: dryRun ? 'action' : 'file', ...file })) : [];
	// A dry run's items are the engine's plan, a run's its results: both stopped listing at the same limit.
	const leftOut = dryRun ? Number(outcome.summary.changesNotListed ?? 0) : perFile ? Number(outcome.summary.filesNotListed ?? 0) : 0;
	const { summary, files } = limitFiles(outcome.summary, all, readItemLimit(this, itemIndex), leftOut);
	return { summary: withPairing([{ type: 'summary', ...summary }], itemIndex), files: withPairing(files, itemIndex) };
}
