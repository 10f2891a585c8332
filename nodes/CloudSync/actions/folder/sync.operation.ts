import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { Pacer, sync, type SyncReport } from '../../../../lib';
import { filterOptions, locationFields } from '../fields';
import { openLocation } from '../../transport/locations';
import { readSyncOptions } from '../../helpers/options';
import { resultJson, summaryJson, withPairing } from '../../helpers/items';
import { compareField, syncModeField, syncOptionsField } from './shared';

const show = { resource: ['folder'], operation: ['sync'] };

export const description: INodeProperties[] = [
	...locationFields('source', show),
	...locationFields('destination', show),
	syncModeField(show),
	compareField(show),
	{ ...filterOptions, displayOptions: { show } },
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

export async function runSync(context: IExecuteFunctions, itemIndex: number, dryRun: boolean, signal?: AbortSignal) {
	const pacer = new Pacer();
	const source = await openLocation(context, 'source', itemIndex, pacer);
	const destination = await openLocation(context, 'destination', itemIndex, pacer);
	const report: SyncReport = await sync(source.provider, destination.provider, { ...readSyncOptions(context, itemIndex), dryRun, pacer, signal });
	return { report, source, destination };
}

export async function execute(this: IExecuteFunctions, itemIndex: number, signal?: AbortSignal): Promise<INodeExecutionData[]> {
	// Driven by changes, all input items together are one run: the first item carries it.
	if (itemIndex > 0 && (this.getNodeParameter('options', itemIndex, {}) as IDataObject).changedPathsOnly === true) return [];
	const { report, source, destination } = await runSync(this, itemIndex, false, signal);
	const output = this.getNodeParameter('output', itemIndex, 'summary') as string;
	const summary = output === 'files' ? [] : [{ type: 'summary', ...summaryJson(report, source.label, destination.label) }];
	const files = output === 'summary' ? [] : report.results.filter((result) => result.status !== 'skipped').map((result) => ({ type: 'file', ...resultJson(result) }));
	return withPairing([...summary, ...files], itemIndex);
}
