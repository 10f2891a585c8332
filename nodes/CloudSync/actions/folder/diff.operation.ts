import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { planActionJson, summaryJson, withPairing } from '../../helpers/items';
import { folderPairFields, syncOptionsField } from './shared';
import { runSync, runsOnceForAllItems } from './sync.operation';
import { STATEFUL_MODES, runStatefulMode } from './modes';

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
	if (STATEFUL_MODES.includes(this.getNodeParameter('mode', itemIndex) as string)) {
		const { summary, files } = await runStatefulMode(this, itemIndex, true, signal);
		return withPairing([...files.map((file) => ({ type: 'action', ...file })), { type: 'summary', ...summary }], itemIndex);
	}
	if (itemIndex > 0 && runsOnceForAllItems(this, itemIndex)) return [];
	const { report, source, destination } = await runSync(this, itemIndex, true, signal);
	const unchanged = this.getNodeParameter('includeUnchanged', itemIndex, false) as boolean;
	const actions = report.plan.actions.filter((action) => unchanged || action.kind !== 'skip').map((action) => ({ type: 'action', ...planActionJson(action) }));
	return withPairing([...actions, { type: 'summary', ...summaryJson(report, source.label, destination.label) }], itemIndex);
}
