import { NodeOperationError, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { AuthenticationError, CloudSyncError, PermissionError, SafetyError, sync, type SyncReport } from '../../../../lib';
import { RecordingPacer, toNodeError } from '../../helpers/errors';
import { inputItems } from '../../clouds/inputItems';
import { openLocation } from '../../transport/locations';
import { readSyncOptions } from '../../helpers/options';
import { resultJson, summaryJson, withPairing } from '../../helpers/items';
import { folderPairFields, syncOptionsField } from './shared';
import { STATEFUL_MODES, runStatefulMode } from './modes';

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

/**
 * The error for a run that did nothing but fail, or a diff built on a folder that could not be read:
 * the engine's report keeps only messages, the pacer kept the typed error that says what to change.
 */
function failedRun(report: SyncReport, failure: CloudSyncError | undefined, dryRun: boolean): CloudSyncError {
	const what = report.listingErrors.length > 0 && report.failed === 0 ? 'a folder could not be listed' : `${report.failed} file action(s) failed and nothing changed`;
	const first = failure?.message ?? report.listingErrors[0] ?? report.errors[0]?.message ?? 'unknown error';
	return new CloudSyncError(`The ${dryRun ? 'diff' : 'sync'} failed: ${what}. ${first}`, { hint: failure?.hint });
}

/** Input items as the source, or changed paths from them: all items together make one run, carried by the first. */
export function runsOnceForAllItems(context: IExecuteFunctions, itemIndex: number): boolean {
	const options = context.getNodeParameter('options', itemIndex, {}) as IDataObject;
	return options.changedPathsOnly === true || context.getNodeParameter('sourceCloud', itemIndex) === inputItems.value;
}

export async function runSync(context: IExecuteFunctions, itemIndex: number, dryRun: boolean, signal?: AbortSignal) {
	if (context.getNodeParameter('sourceCloud', itemIndex) === inputItems.value && context.getNodeParameter('mode', itemIndex) === 'move') {
		throw new NodeOperationError(context.getNode(), 'Input items cannot be moved: they are not stored anywhere to delete them from', {
			itemIndex,
			description: 'Choose Copy or Mirror with input items as the source.',
		});
	}
	const options = readSyncOptions(context, itemIndex);
	const pacer = new RecordingPacer();
	const source = await openLocation(context, 'source', itemIndex, pacer);
	const destination = await openLocation(context, 'destination', itemIndex, pacer, { create: !dryRun });
	let report: SyncReport;
	try {
		report = await sync(source.provider, destination.provider, { ...options, dryRun, pacer, signal });
	} catch (error) {
		// A folder that could not be read looks empty, and a mirror of an empty source is refused:
		// the credential or permission problem is the one to report, not the refusal.
		const failure = pacer.failure;
		const cause = error instanceof SafetyError && (failure instanceof AuthenticationError || failure instanceof PermissionError) ? failure : error;
		throw toNodeError(context.getNode(), cause, itemIndex);
	}
	// A run where everything failed is a node error; so is a diff built on a folder that could not be
	// read. A listing that found no folder (a destination yet to be created) is neither.
	const failed = report.status === 'failed' && (report.failed > 0 || pacer.failure !== undefined);
	if (failed || (dryRun && report.listingErrors.length > 0 && pacer.failure)) throw toNodeError(context.getNode(), failedRun(report, pacer.failure, dryRun), itemIndex);
	return { report, source, destination };
}

export async function execute(this: IExecuteFunctions, itemIndex: number, signal?: AbortSignal): Promise<INodeExecutionData[]> {
	const output = this.getNodeParameter('output', itemIndex, 'summary') as string;
	if (STATEFUL_MODES.includes(this.getNodeParameter('mode', itemIndex) as string)) {
		const { summary, files } = await runStatefulMode(this, itemIndex, false, signal);
		const rows = files.filter((file) => file.status !== 'skipped' || file.error).map((file) => ({ type: 'file', ...file }));
		return withPairing([...(output === 'files' ? [] : [{ type: 'summary', ...summary }]), ...(output === 'summary' ? [] : rows)], itemIndex);
	}
	if (itemIndex > 0 && runsOnceForAllItems(this, itemIndex)) return [];
	const { report, source, destination } = await runSync(this, itemIndex, false, signal);
	const summary = output === 'files' ? [] : [{ type: 'summary', ...summaryJson(report, source.label, destination.label) }];
	const files = output === 'summary' ? [] : report.results.filter((result) => result.status !== 'skipped').map((result) => ({ type: 'file', ...resultJson(result) }));
	return withPairing([...summary, ...files], itemIndex);
}
