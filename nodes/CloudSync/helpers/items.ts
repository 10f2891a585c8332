import type { IDataObject, INodeExecutionData } from 'n8n-workflow';
import type { ActionResult, Entry, PlanAction, SyncReport } from '../../../lib';

const iso = (ms?: number) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function entryJson(entry: Entry, cloud: string): IDataObject {
	const json: IDataObject = {
		path: entry.path,
		name: entry.path.slice(entry.path.lastIndexOf('/') + 1),
		type: entry.isDir ? 'folder' : 'file',
		size: entry.isDir ? undefined : entry.size,
		modified: iso(entry.modTime),
		cloud,
	};
	if (Object.keys(entry.hashes).length > 0) json.hashes = { ...entry.hashes };
	if (entry.id) json.id = entry.id;
	if (entry.mimeType) json.mimeType = entry.mimeType;
	return json;
}

export function planActionJson(action: PlanAction): IDataObject {
	return {
		path: action.path,
		action: action.kind,
		side: action.side,
		reason: action.reason,
		size: action.source?.size ?? action.destination?.size,
		sourceModified: iso(action.source?.modTime),
		destinationModified: iso(action.destination?.modTime),
	};
}

export function resultJson(result: ActionResult): IDataObject {
	return { ...result, error: result.error };
}

/** The MultCloud-style report: what a Send Email node needs, one item. */
export function summaryJson(report: SyncReport, source: string, destination: string): IDataObject {
	return {
		status: report.status,
		mode: report.mode,
		dryRun: report.dryRun,
		source,
		destination,
		startedAt: report.startedAt,
		finishedAt: report.finishedAt,
		durationSeconds: Math.round(report.durationMs) / 1000,
		notes: report.notes,
		recovery: { ...report.recovery },
		added: report.added,
		updated: report.updated,
		deleted: report.deleted,
		foldersCreated: report.foldersCreated,
		foldersDeleted: report.foldersDeleted,
		movedSourcesDeleted: report.movedSourcesDeleted,
		skipped: report.skipped,
		conflicts: report.conflicts,
		failed: report.failed,
		bytes: report.bytes,
		retries: report.retries,
		refusal: report.refusal,
		deletesHeld: report.deletesHeld,
		listingErrors: report.listingErrors,
		// Whether a scheduled run checked only what the change feeds reported, or listed both folders, and why.
		listing: report.listing,
		listingReason: report.listingReason,
		errors: report.errors.map((error) => ({ ...error })),
		planned: { ...report.plan.counts },
		// A plan of a huge tree itemises its first 10,000 actions; the summary says how many changes it left out.
		changesNotListed: report.plan.omitted?.changes || undefined,
		unchangedNotListed: report.plan.omitted?.unchanged || undefined,
		// A run of a huge tree keeps its first results (Item Limit) and counts the rest; likewise errors.
		filesNotListed: report.resultsNotKept || undefined,
		errorsNotListed: report.errorsNotKept || undefined,
	};
}

/**
 * Per-file items beyond the Item Limit are counted in the summary instead of emitted, so a diff of
 * a huge tree does not hand n8n a million items. `leftOutEarlier` counts what the engine's plan
 * already left out (its own `itemLimit`).
 */
export function limitFiles(summary: IDataObject, files: IDataObject[], limit: number | undefined, leftOutEarlier = 0): { summary: IDataObject; files: IDataObject[] } {
	if (limit === undefined) return { summary, files };
	const itemsOmitted = Math.max(0, files.length - limit) + leftOutEarlier;
	if (itemsOmitted === 0) return { summary, files };
	const count = (n: number) => n.toLocaleString('en-US');
	const note = `${count(itemsOmitted)} more per-file item(s) not output, beyond the Item Limit of ${count(limit)} (Options > Item Limit)`;
	return {
		summary: { ...summary, message: summary.message ? `${String(summary.message)}; ${note}` : note, itemsOutput: Math.min(files.length, limit), itemsOmitted },
		files: files.slice(0, limit),
	};
}

export function withPairing(json: IDataObject[], itemIndex: number): INodeExecutionData[] {
	return json.map((entry) => ({ json: entry, pairedItem: { item: itemIndex } }));
}
