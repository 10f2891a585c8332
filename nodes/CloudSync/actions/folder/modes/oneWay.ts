import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { AuthenticationError, CloudSyncError, PermissionError, SafetyError, sync, type SyncOptions, type SyncReport } from '../../../../../lib';
import { toNodeError } from '../../../helpers/errors';
import { readSyncOptions } from '../../../helpers/options';
import { planActionJson, resultJson, summaryJson } from '../../../helpers/items';
import { cloudNamed } from '../../../clouds/registry';
import type { FolderMode } from './mode';

interface Settings {
	sync: SyncOptions;
	/** A diff's choice to list the files it would skip too. */
	includeUnchanged: boolean;
}

/**
 * The error for a run that did nothing but fail, or a diff built on a folder that could not be read:
 * the engine's report keeps only messages, the pacer kept the typed error that says what to change.
 */
function failedRun(report: SyncReport, failure: CloudSyncError | undefined, dryRun: boolean): CloudSyncError {
	const what = report.listingErrors.length > 0 && report.failed === 0 ? 'a folder could not be listed' : `${report.failed} file action(s) failed and nothing changed`;
	const first = failure?.message ?? report.listingErrors[0] ?? report.errors[0]?.message ?? 'unknown error';
	return new CloudSyncError(`The ${dryRun ? 'diff' : 'sync'} failed: ${what}. ${first}`, { hint: failure?.hint });
}

/** Copy, Mirror, Update and Move: the destination made like the source, one way. */
export const oneWay: FolderMode<Settings, SyncReport> = {
	// Input items as the source, or changed paths from them: all items together make one run.
	oneRunForAllItems(context: IExecuteFunctions, itemIndex: number) {
		const options = context.getNodeParameter('options', itemIndex, {}) as IDataObject;
		return options.changedPathsOnly === true || cloudNamed(context.getNodeParameter('sourceCloud', itemIndex))?.oneRunForAllItems === true;
	},

	readSettings: (context, itemIndex, dryRun) => ({
		sync: readSyncOptions(context, itemIndex),
		includeUnchanged: dryRun && (context.getNodeParameter('includeUnchanged', itemIndex, false) as boolean),
	}),

	async run({ context, itemIndex, source, destination, settings, dryRun, signal, pacer }) {
		let report: SyncReport;
		try {
			report = await sync(source.provider, destination.provider, { ...settings.sync, dryRun, pacer, signal });
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
		return report;
	},

	summarise: (report, { source, destination, settings, dryRun }) => ({
		summary: summaryJson(report, source.label, destination.label),
		files: dryRun
			? report.plan.actions.filter((action) => settings.includeUnchanged || action.kind !== 'skip').map(planActionJson)
			: report.results.map(resultJson),
	}),
};
