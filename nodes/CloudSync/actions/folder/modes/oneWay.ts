import type { IExecuteFunctions } from 'n8n-workflow';
import { CloudSyncError, ProviderStateStore, pairId, sync, type SyncOptions, type SyncReport } from '../../../../../lib';
import { toNodeError } from '../../../helpers/errors';
import { readFullCheckEvery, readOneWayOptions, syncOptions } from '../../../helpers/options';
import { planActionJson, resultJson, summaryJson } from '../../../helpers/items';
import { cloudNamed } from '../../../clouds/registry';
import { StaticDataStore } from '../../../transport/staticData';
import { pairName, type FolderMode } from './mode';

interface Settings {
	sync: SyncOptions;
	/** A diff's choice to list the files it would skip too. */
	includeUnchanged: boolean;
	/** A scheduled Copy, Mirror or Update plans from the change feeds, with a full listing at least this often. */
	fullCheckEveryDays?: number;
}

const FED_MODES = ['copy', 'mirror', 'update'];

/** The error for a run that did nothing but fail, or a diff built on a folder that could not be read, with the failure that explains it. */
function failedRun(report: SyncReport, dryRun: boolean): CloudSyncError {
	const what = report.listingErrors.length > 0 && report.failed === 0 ? 'a folder could not be listed' : `${report.failed} file action(s) failed and nothing changed`;
	return new CloudSyncError(`The ${dryRun ? 'diff' : 'sync'} failed: ${what}. ${report.failure?.message ?? 'unknown error'}`, { hint: report.failure?.hint });
}

/** Copy, Mirror, Update and Move: the destination made like the source, one way. */
export const oneWay: FolderMode<Settings, SyncReport> = {
	// Input items as the source, or changed paths from them: all items together make one run.
	oneRunForAllItems(context: IExecuteFunctions, itemIndex: number) {
		return syncOptions(context, itemIndex).changedPathsOnly === true || cloudNamed(context.getNodeParameter('sourceCloud', itemIndex))?.oneRunForAllItems === true;
	},

	readSettings(context, itemIndex, dryRun) {
		const sync = readOneWayOptions(context, itemIndex);
		const fullCheckEveryDays = !dryRun && FED_MODES.includes(sync.mode) ? readFullCheckEvery(context, itemIndex) : undefined;
		return {
			sync,
			// Diff's own switch; a Sync's dry run outputs what it would change, as a sync does.
			includeUnchanged: dryRun && context.getNodeParameter('operation', itemIndex) === 'diff' && (context.getNodeParameter('includeUnchanged', itemIndex, false) as boolean),
			fullCheckEveryDays,
		};
	},

	async run({ context, itemIndex, source, destination, settings, dryRun, signal }) {
		let report: SyncReport;
		try {
			const days = settings.fullCheckEveryDays;
			const pair = pairName(context, source, destination);
			const { mode, filter, compare, newerOnly, ignoreExisting, backupDir } = settings.sync;
			// Static data holds the cursors; the copy on the destination serves runs n8n starts without it (queue-mode workers, editor runs).
			const feed =
				days === undefined
					? undefined
					: {
							state: new StaticDataStore(context.getWorkflowStaticData('node'), pairId(pair, 'one-way')),
							copy: new ProviderStateStore(destination.provider, pairId(pair, 'one-way')),
							settings: JSON.stringify({ mode, filter, compare, newerOnly, ignoreExisting, backupDir }),
							fullEveryMs: days * 86_400_000,
							// Google Drive names some changes by id alone: an index of its ids, kept beside the cursors, places them.
							index: (side: 'source' | 'destination') => new ProviderStateStore(destination.provider, `${pairId(pair, 'one-way')}-${side}-ids`),
						};
			report = await sync(source.provider, destination.provider, { ...settings.sync, feed, dryRun, signal });
		} catch (error) {
			throw toNodeError(context.getNode(), error, itemIndex);
		}
		// A run where everything failed is a node error; so is a diff built on a folder that could not be
		// read. A listing that found no folder (a destination yet to be created) is neither.
		if (report.status === 'failed' || (dryRun && report.listingErrors.length > 0)) throw toNodeError(context.getNode(), failedRun(report, dryRun), itemIndex);
		return report;
	},

	summarise: (report, { source, destination, settings, dryRun }) => ({
		summary: summaryJson(report, source.label, destination.label),
		files: dryRun
			? report.plan.actions.filter((action) => settings.includeUnchanged || action.kind !== 'skip').map(planActionJson)
			: report.results.map(resultJson),
	}),
};
