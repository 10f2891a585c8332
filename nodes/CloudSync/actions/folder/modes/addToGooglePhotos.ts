import { NodeOperationError } from 'n8n-workflow';
import { addToGooglePhotos as addToLibrary, CloudSyncError, pairId, type AddToPhotosReport, type FilterOptions } from '../../../../../lib';
import { cloudNamed } from '../../../clouds/registry';
import type { OpenedLibrary } from '../../../clouds/descriptor';
import { redact, toNodeError } from '../../../helpers/errors';
import { readFilter } from '../../../helpers/options';
import { parameter } from '../../../helpers/parameters';
import { StaticDataStore } from '../../../transport/staticData';
import { pairName, summaryHeader, type FolderMode } from './mode';

interface Settings {
	filter: FilterOptions;
	transfers?: number;
}

interface AddRun {
	report: AddToPhotosReport;
	hint?: string;
}

/** About 8,000 photos: beyond it the ledger weighs on the workflow row n8n rewrites after each run. */
const LARGE_LEDGER_BYTES = 512 * 1024;
const MANUAL_RUN_HINT =
	'This was a manual run from the editor: n8n does not keep node state for those. The next run finds what this one added from the album itself (each item carries its source path in its description), at one request per 100 items.';

/**
 * Add to Google Photos: every photo and video of the source not yet added goes into the album, once;
 * nothing is ever replaced or deleted there (Google lets no app do it). The ledger of what was added
 * lives in the node's static data, and the album is its copy: each item's description names its
 * source file, so a run without the static data (queue-mode workers, editor runs) reads it back.
 */
export const addToGooglePhotos: FolderMode<Settings, AddRun, OpenedLibrary> = {
	readSettings(context, itemIndex) {
		const options = parameter<{ transfers?: number }>(context, 'options', itemIndex, {});
		return { filter: readFilter(context, itemIndex), transfers: options.transfers };
	},

	async openDestination(context, itemIndex, source) {
		const cloud = cloudNamed(context.getNodeParameter('destinationCloud', itemIndex));
		if (!cloud?.photoLibrary) {
			throw new NodeOperationError(context.getNode(), `"Add to Google Photos" needs Google Photos as the destination, not ${cloud?.label ?? 'this destination'}`, {
				itemIndex,
				description: 'Choose Destination: Google Photos, or another mode.',
			});
		}
		return cloud.photoLibrary.open({ context, side: 'destination', itemIndex, create: false }, source.label);
	},

	async run({ context, itemIndex, source, destination, settings, dryRun, signal }) {
		try {
			const pair = pairName(context, source, destination);
			const report = await addToLibrary(source.provider, destination.library, {
				ledger: new StaticDataStore(context.getWorkflowStaticData('node'), pairId(pair, 'google-photos')),
				pair,
				albumTitle: destination.albumTitle,
				filter: settings.filter,
				transfers: settings.transfers,
				dryRun,
				signal,
			});
			if (report.status === 'failed') {
				throw new CloudSyncError(`Nothing was added to Google Photos: ${report.stopped ?? report.failure?.message ?? 'unknown error'}`, { hint: report.failure?.hint });
			}
			const manual = context.getMode() === 'manual' && !dryRun;
			const hint = manual
				? MANUAL_RUN_HINT
				: report.ledgerBytes > LARGE_LEDGER_BYTES
					? `The Google Photos ledger takes ${Math.round(report.ledgerBytes / 1024)} KiB of the workflow's static data, which n8n rewrites after each run. Splitting the source into several syncs (one per year folder, say) keeps each smaller.`
					: undefined;
			if (hint) context.addExecutionHints({ message: hint, location: 'outputPane' });
			return { report, hint };
		} catch (error) {
			throw toNodeError(context.getNode(), error, itemIndex);
		}
	},

	summarise({ report, hint }, run) {
		const summary = {
			...summaryHeader(report, run),
			album: report.album ? { ...report.album } : undefined,
			sourceFiles: report.sourceFiles,
			uploaded: report.uploaded,
			// What a dry run would add: its message and report count these.
			toAdd: report.dryRun ? report.results.filter((result) => result.status === 'planned').length : undefined,
			alreadyInLibrary: report.alreadyInLibrary,
			changedAtSource: report.changedAtSource,
			movedAtSource: report.movedAtSource,
			skipped: report.skipped,
			failed: report.failed,
			notReached: report.notReached,
			awaitingCreate: report.awaitingCreate,
			bytes: report.bytes,
			deletedAtSource: report.deletedAtSource.map((gone) => ({ ...gone })),
			goneFromSource: report.goneFromSource,
			stopped: report.stopped,
			requests: report.requests,
			createRequests: report.createRequests,
			retries: report.retries,
			errors: report.errors.map((error) => ({ ...error, message: redact(error.message) })),
			ledgerSaved: report.ledgerSaved,
			ledgerFiles: report.ledgerFiles,
			ledgerBytes: report.ledgerBytes,
			recoveredFromAlbum: report.recoveredFromAlbum,
			note: report.ledgerNote,
			hint: hint ?? report.failure?.hint,
		};
		return { summary, files: report.results.map((result) => ({ ...result })) };
	},
};
