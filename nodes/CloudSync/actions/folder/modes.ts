import { NodeOperationError, type IDataObject, type IExecuteFunctions } from 'n8n-workflow';
import {
	CloudSyncError,
	ProviderStateStore,
	pairId,
	snapshotBackup,
	twoWaySync,
	type ConflictPolicy,
	type SnapshotReport,
	type StateStore,
	type TwoWayReport,
} from '../../../../lib';
import { RecordingPacer, redact, toNodeError } from '../../helpers/errors';
import { readSyncOptions } from '../../helpers/options';
import { inputItems } from '../../clouds/inputItems';
import { resultJson } from '../../helpers/items';
import { openLocation, type Location } from '../../transport/locations';

/** Modes that keep state or write dated folders, rather than making one folder like another. */
export const STATEFUL_MODES = ['twoWay', 'incremental', 'fullBackup'];

const MANUAL_RUN_HINT =
	'This was a manual run from the editor: n8n does not save node state for those. The two-way state of this run was kept in its copy ' +
	'in the .cloudsync folder of the destination, which the next run reads because the copy in n8n is older.';
const COPY_USED_HINT =
	'n8n started this run without the state its last run saved (queue-mode workers and editor runs do not get or keep node state), ' +
	'so the copy in the .cloudsync folder of the destination was used. To keep the state there only, choose Options > State Storage > File on the Destination.';

/** About 40,000 files: beyond it the state is better kept out of the workflow row. */
const LARGE_STATE_BYTES = 512 * 1024;
const largeStateHint = (bytes: number) =>
	`The two-way state takes ${Math.round(bytes / 1024)} KiB of the workflow's static data, which n8n rewrites with the workflow after each run. ` +
	'For folders this large, choose Options > State Storage > File on the Destination.';

/** n8n's static data of this node: saved with the workflow after production runs, on whichever worker ran it. */
class StaticDataStore implements StateStore {
	readonly where = "this node's static data in n8n";
	constructor(
		private readonly data: IDataObject,
		private readonly key: string,
	) {}
	async load() {
		return typeof this.data[this.key] === 'string' ? (this.data[this.key] as string) : undefined;
	}
	async save(state: string) {
		this.data[this.key] = state;
	}
}

/** What names a folder pair: both folders and the accounts used to reach them (ids only, never secrets). */
function pairName(context: IExecuteFunctions, source: Location, destination: Location): string {
	const accounts = Object.entries(context.getNode().credentials ?? {}).map(([type, details]) => `${type}=${details.id ?? details.name}`);
	return `${source.label} ⇄ ${destination.label} [${accounts.sort().join(',')}]`;
}

interface Opened {
	source: Location;
	destination: Location;
	pacer: RecordingPacer;
}

async function open(context: IExecuteFunctions, itemIndex: number, mode: string, dryRun: boolean): Promise<Opened> {
	if (context.getNodeParameter('sourceCloud', itemIndex) === inputItems.value) {
		throw new NodeOperationError(context.getNode(), `Input items cannot be the source of ${mode === 'twoWay' ? 'a two-way sync' : 'a snapshot backup'}`, {
			itemIndex,
			description: 'Choose a folder as the source, or use Copy or Mirror with input items.',
		});
	}
	const pacer = new RecordingPacer();
	return { pacer, source: await openLocation(context, 'source', itemIndex, pacer), destination: await openLocation(context, 'destination', itemIndex, pacer, { create: !dryRun }) };
}

/** A run in which nothing worked is a node error; one that half worked is reported in its summary. */
function failure(status: string, errors: Array<{ message: string; hint?: string }>, pacer: RecordingPacer): CloudSyncError | undefined {
	if (status !== 'failed') return undefined;
	const first = pacer.failure?.message ?? errors[0]?.message ?? 'unknown error';
	return new CloudSyncError(`The run failed and changed nothing: ${first}`, { hint: pacer.failure?.hint ?? errors[0]?.hint });
}

export async function runStatefulMode(context: IExecuteFunctions, itemIndex: number, dryRun: boolean, signal?: AbortSignal): Promise<{ summary: IDataObject; files: IDataObject[] }> {
	const mode = context.getNodeParameter('mode', itemIndex) as string;
	const common = readSyncOptions(context, itemIndex);
	const { source, destination, pacer } = await open(context, itemIndex, mode, dryRun);
	const options = context.getNodeParameter('options', itemIndex, {}) as IDataObject;
	const labels = { source: source.label, destination: destination.label };
	const run = { transfers: common.transfers, checkers: common.checkers, dryRun, signal, pacer };
	try {
		if (mode === 'twoWay') {
			const pair = pairName(context, source, destination);
			const storage = options.stateStorage === 'destination' ? 'destination' : 'n8n';
			const onDestination = new ProviderStateStore(destination.provider, pairId(pair));
			const inN8n = new StaticDataStore(context.getWorkflowStaticData('node'), pairId(pair));
			const report = await twoWaySync(source.provider, destination.provider, {
				state: storage === 'destination' ? onDestination : inN8n,
				stateCopy: storage === 'destination' ? undefined : onDestination,
				pair,
				conflict: (options.conflict as ConflictPolicy) || 'keepBoth',
				resync: options.resync === true,
				filter: common.filter,
				maxDeletePercent: common.maxDeletePercent,
				maxDeletes: common.maxDeletes,
				force: common.force,
				backupDir: common.backupDir,
				...run,
			});
			const problem = failure(report.status, report.errors, pacer);
			if (problem) throw problem;
			const manual = context.getMode() === 'manual' && storage === 'n8n' && !dryRun;
			const large = storage === 'n8n' && report.stateBytes > LARGE_STATE_BYTES;
			const hint = manual ? MANUAL_RUN_HINT : report.baselineFromCopy ? COPY_USED_HINT : large ? largeStateHint(report.stateBytes) : undefined;
			if (hint) context.addExecutionHints({ message: hint, location: 'outputPane' });
			return { summary: twoWaySummary(report, labels, storage, hint), files: report.actions.map(({ kind, ...action }) => ({ action: kind, ...action })) };
		}
		const report = await snapshotBackup(source.provider, destination.provider, {
			kind: mode === 'fullBackup' ? 'full' : 'incremental',
			filter: common.filter,
			keepLast: typeof options.keepLast === 'number' && options.keepLast > 0 ? options.keepLast : undefined,
			keepDays: typeof options.keepDays === 'number' && options.keepDays > 0 ? options.keepDays : undefined,
			...run,
		});
		const problem = failure(report.status, report.errors, pacer);
		if (problem) throw problem;
		const files = dryRun ? report.planned.map((file) => ({ action: file.how, path: file.path, reason: file.reason })) : report.results.map(resultJson);
		return { summary: snapshotSummary(report, labels), files };
	} catch (error) {
		throw toNodeError(context.getNode(), error, itemIndex);
	}
}

const seconds = (ms: number) => Math.round(ms) / 1000;

type Labels = { source: string; destination: string };

/** What every summary starts with: the outcome, the folders and the time taken. */
function header(report: Pick<TwoWayReport | SnapshotReport, 'status' | 'mode' | 'dryRun' | 'startedAt' | 'finishedAt' | 'durationMs' | 'notes' | 'recovery'>, labels: Labels): IDataObject {
	const { status, mode, dryRun, startedAt, finishedAt, durationMs, notes, recovery } = report;
	return { status, mode, dryRun, ...labels, startedAt, finishedAt, durationSeconds: seconds(durationMs), notes, recovery: { ...recovery } };
}

function twoWaySummary(report: TwoWayReport, labels: Labels, storage: string, hint?: string): IDataObject {
	const sum = (field: 'added' | 'updated' | 'deleted' | 'renamed') => report.toDestination[field] + report.toSource[field];
	return {
		...header(report, labels),
		firstRun: report.firstRun,
		note: report.baselineNote,
		stateFromCopy: report.baselineFromCopy,
		added: sum('added'),
		updated: sum('updated'),
		deleted: sum('deleted'),
		renamed: sum('renamed'),
		toDestination: { ...report.toDestination },
		toSource: { ...report.toSource },
		conflicts: report.conflicts.map((conflict) => ({ ...conflict })),
		unresolved: report.unresolved,
		failed: report.failed,
		bytes: report.bytes,
		retries: report.retries,
		refusal: report.refusal,
		deletesHeld: report.deletesHeld,
		errors: report.errors.map((error) => ({ ...error, message: redact(error.message) })),
		planned: report.dryRun ? report.actions.length : undefined,
		stateStorage: storage,
		stateSaved: report.baselineSaved,
		stateFiles: report.baselineFiles,
		stateBytes: report.stateBytes,
		hint,
	};
}

function snapshotSummary(report: SnapshotReport, labels: Labels): IDataObject {
	return {
		...header(report, labels),
		folder: report.folder,
		files: report.files,
		added: report.added,
		copiedServerSide: report.copiedServerSide,
		unchanged: report.unchanged,
		bytes: report.bytes,
		removedSnapshots: report.removedSnapshots,
		failed: report.failed,
		retries: report.retries,
		errors: report.errors.map((error) => ({ ...error, message: redact(error.message) })),
	};
}
