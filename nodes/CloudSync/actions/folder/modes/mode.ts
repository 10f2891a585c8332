import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { CloudSyncError, type Failure, type SnapshotReport, type TwoWayReport } from '../../../../../lib';
import type { Location } from '../../../transport/locations';

/** One run of a mode on an item: its folders, opened, and what it read from the node. */
export interface ModeRun<Settings> {
	context: IExecuteFunctions;
	itemIndex: number;
	source: Location;
	destination: Location;
	settings: Settings;
	dryRun: boolean;
	signal?: AbortSignal;
}

/** What Diff and Sync output: the summary, and one row per file the run acted on or, in a diff, would act on. */
export interface ModeOutcome {
	summary: IDataObject;
	files: IDataObject[];
}

/** One entry per mode the Mode field offers: read its options, run it, summarise it. */
export interface FolderMode<Settings, Report> {
	/** Whether the input items as a whole make one run, carried by the first item. */
	oneRunForAllItems?(context: IExecuteFunctions, itemIndex: number): boolean;
	/** What it reads from the node; a broken value is refused here, before any folder is opened or created. */
	readSettings(context: IExecuteFunctions, itemIndex: number, dryRun: boolean): Settings;
	/** Runs it; a run in which nothing worked is thrown as an error. */
	run(run: ModeRun<Settings>): Promise<Report>;
	summarise(report: Report, run: ModeRun<Settings>): ModeOutcome;
}

/** A run in which nothing worked is a node error; one that half worked is reported in its summary. */
export function statefulFailure({ status, failure }: { status: string; failure?: Failure }): CloudSyncError | undefined {
	if (status !== 'failed') return undefined;
	return new CloudSyncError(`The run failed and changed nothing: ${failure?.message ?? 'unknown error'}`, { hint: failure?.hint });
}

const seconds = (ms: number) => Math.round(ms) / 1000;

/** What the two-way and snapshot summaries start with: the outcome, the folders and the time taken. */
export function summaryHeader(
	report: Pick<TwoWayReport | SnapshotReport, 'status' | 'mode' | 'dryRun' | 'startedAt' | 'finishedAt' | 'durationMs' | 'notes' | 'recovery'>,
	{ source, destination }: Pick<ModeRun<unknown>, 'source' | 'destination'>,
): IDataObject {
	const { status, mode, dryRun, startedAt, finishedAt, durationMs, notes, recovery } = report;
	return { status, mode, dryRun, source: source.label, destination: destination.label, startedAt, finishedAt, durationSeconds: seconds(durationMs), notes, recovery: { ...recovery } };
}
