import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { CloudSyncError, type Failure, type SnapshotReport, type TwoWayReport } from '../../../../../lib';
import type { Location } from '../../../transport/locations';

/** One run of a mode on an item: its folders, opened, and what it read from the node. */
export interface ModeRun<Settings, Destination = Location> {
	context: IExecuteFunctions;
	itemIndex: number;
	source: Location;
	destination: Destination;
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
export interface FolderMode<Settings, Report, Destination = Location> {
	/** Whether the input items as a whole make one run, carried by the first item. */
	oneRunForAllItems?(context: IExecuteFunctions, itemIndex: number): boolean;
	/** What it reads from the node; a broken value is refused here, before any folder is opened or created. */
	readSettings(context: IExecuteFunctions, itemIndex: number, dryRun: boolean): Settings;
	/** Opens a destination that is no folder (Google Photos); absent, the destination folder is opened as for every mode. */
	openDestination?(context: IExecuteFunctions, itemIndex: number, source: Location): Promise<Destination>;
	/** Runs it; a run in which nothing worked is thrown as an error. */
	run(run: ModeRun<Settings, Destination>): Promise<Report>;
	summarise(report: Report, run: ModeRun<Settings, Destination>): ModeOutcome;
}

/** A run in which nothing worked is a node error; one that half worked is reported in its summary. */
export function statefulFailure({ status, failure }: { status: string; failure?: Failure }): CloudSyncError | undefined {
	if (status !== 'failed') return undefined;
	return new CloudSyncError(`The run failed and changed nothing: ${failure?.message ?? 'unknown error'}`, { hint: failure?.hint });
}

const seconds = (ms: number) => Math.round(ms) / 1000;

/** What the two-way and snapshot summaries start with: the outcome, the folders and the time taken. */
export function summaryHeader(
	report: Pick<TwoWayReport | SnapshotReport, 'status' | 'dryRun' | 'startedAt' | 'finishedAt' | 'durationMs' | 'notes'> & { mode: string; recovery?: object },
	{ source, destination }: { source: { label: string }; destination: { label: string } },
): IDataObject {
	const { status, mode, dryRun, startedAt, finishedAt, durationMs, notes, recovery } = report;
	return { status, mode, dryRun, source: source.label, destination: destination.label, startedAt, finishedAt, durationSeconds: seconds(durationMs), notes, recovery: { ...(recovery ?? {}) } };
}

/** What names a sync's state: both sides and the accounts used to reach them (ids only, never secrets). */
export function pairName(context: IExecuteFunctions, source: { label: string }, destination: { label: string }): string {
	const accounts = Object.entries(context.getNode().credentials ?? {}).map(([type, details]) => `${type}=${details.id ?? details.name}`);
	return `${source.label} ⇄ ${destination.label} [${accounts.sort().join(',')}]`;
}

