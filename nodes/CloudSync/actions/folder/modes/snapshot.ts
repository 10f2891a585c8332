import { snapshotBackup, type FilterOptions, type SnapshotReport } from '../../../../../lib';
import { redact, toNodeError } from '../../../helpers/errors';
import { readCommonOptions, syncOptions } from '../../../helpers/options';
import { resultJson } from '../../../helpers/items';
import { statefulFailure, summaryHeader, type FolderMode } from './mode';

interface Settings {
	filter?: FilterOptions;
	transfers?: number;
	checkers?: number;
	keepLast?: number;
	keepDays?: number;
}

const positive = (value: unknown) => (typeof value === 'number' && value > 0 ? value : undefined);

/** Full and Incremental Backup: each run writes a new dated folder on the destination. */
export const snapshot = (kind: 'full' | 'incremental'): FolderMode<Settings, SnapshotReport> => ({
	readSettings(context, itemIndex) {
		const options = syncOptions(context, itemIndex);
		return { ...readCommonOptions(context, itemIndex), keepLast: positive(options.keepLast), keepDays: positive(options.keepDays) };
	},

	async run({ context, itemIndex, source, destination, settings, dryRun, signal }) {
		try {
			const report = await snapshotBackup(source.provider, destination.provider, { kind, ...settings, dryRun, signal });
			const problem = statefulFailure(report);
			if (problem) throw problem;
			return report;
		} catch (error) {
			throw toNodeError(context.getNode(), error, itemIndex);
		}
	},

	summarise: (report, run) => ({
		summary: {
			...summaryHeader(report, run),
			folder: report.folder,
			files: report.files,
			added: report.added,
			copiedServerSide: report.copiedServerSide,
			unchanged: report.unchanged,
			bytes: report.bytes,
			removedSnapshots: report.removedSnapshots,
			changesNotListed: report.plannedOmitted,
			failed: report.failed,
			retries: report.retries,
			errors: report.errors.map((error) => ({ ...error, message: redact(error.message) })),
		},
		files: run.dryRun ? report.planned.map((file) => ({ action: file.how, path: file.path, reason: file.reason })) : report.results.map(resultJson),
	}),
});
