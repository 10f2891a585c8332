import { PointerStateStore, ProviderStateStore, pairId, twoWaySync, type ConflictPolicy, type SyncOptions, type TwoWayReport } from '../../../../../lib';
import { redact, toNodeError } from '../../../helpers/errors';
import { readBackupDir, readCommonOptions, readDeletionGuard, readFullCheckEvery, syncOptions } from '../../../helpers/options';
import { StaticDataStore } from '../../../transport/staticData';
import { STATE_ON_RIGHT } from '../shared';
import { pairName, statefulFailure, summaryHeader, type FolderMode } from './mode';

// Two-Way's sides are Left and Right in the panel: the hints name the folder and the option as it shows them.
const MANUAL_RUN_HINT =
	'This was a manual run from the editor: n8n does not save node state for those. The two-way state of this run was kept in its copy ' +
	'in the .cloudsync folder of the right-hand folder, which the next run reads because the copy in n8n is older.';
const COPY_USED_HINT =
	'n8n started this run without the state its last run saved (queue-mode workers and editor runs do not get or keep node state), ' +
	`so the copy in the .cloudsync folder of the right-hand folder was used. To keep the state there only, choose Options > State Storage > ${STATE_ON_RIGHT}.`;

/**
 * Static data saved before the pointer store may hold a whole large state. A run that changed
 * nothing does not rewrite it, so once the copy on the destination is known to hold the very same
 * text, only the pointer is written: nothing on the destination is touched outside the run's lock.
 */
async function leavePointer(inN8n: StaticDataStore, onDestination: ProviderStateStore, pointer: PointerStateStore): Promise<void> {
	const held = await inN8n.load();
	if (held === undefined || !pointer.writesLarge(held) || (await onDestination.load()) !== held) return;
	const alreadyThere = { where: onDestination.where, load: async () => held, save: async () => undefined };
	await new PointerStateStore(inN8n, alreadyThere, pointer.inlineBytes).save(held);
}

interface Settings {
	common: Omit<SyncOptions, 'mode'>;
	storage: 'destination' | 'n8n';
	conflict: ConflictPolicy;
	resync: boolean;
	/** A scheduled run plans from the change feeds, with a full listing at least this often; unset for a dry run. */
	fullCheckEveryDays?: number;
}

interface TwoWayRun {
	report: TwoWayReport;
	/** What this pair takes in the workflow's static data: the whole state when small, a pointer to the destination's file when large. */
	staticDataBytes?: number;
	/** Why the state may not be where the user expects it, shown in the output pane and the summary. */
	hint?: string;
}

/** Two-Way: changes carried both ways since the last run, whose state is kept in n8n or on the destination. */
export const twoWay: FolderMode<Settings, TwoWayRun> = {
	readSettings(context, itemIndex, dryRun) {
		const common = { ...readCommonOptions(context, itemIndex), ...readDeletionGuard(context, itemIndex), backupDir: readBackupDir(context, itemIndex) };
		const options = syncOptions(context, itemIndex);
		return {
			common,
			storage: options.stateStorage === 'destination' ? 'destination' : 'n8n',
			conflict: (options.conflict as ConflictPolicy) || 'keepBoth',
			resync: options.resync === true,
			fullCheckEveryDays: dryRun ? undefined : readFullCheckEvery(context, itemIndex),
		};
	},

	async run({ context, itemIndex, source, destination, settings, dryRun, signal }) {
		const { common, storage } = settings;
		try {
			const pair = pairName(context, source, destination);
			const onDestination = new ProviderStateStore(destination.provider, pairId(pair));
			const inN8n = new StaticDataStore(context.getWorkflowStaticData('node'), pairId(pair));
			// The workflow row is rewritten on every save: a large state lives in the destination's file, static data keeps a pointer to it.
			const pointer = new PointerStateStore(inN8n, onDestination);
			const days = settings.fullCheckEveryDays;
			// The cursors are a few hundred bytes: static data holds them, with a copy on the destination for runs n8n starts without it.
			const feed =
				days === undefined
					? undefined
					: {
							state: new StaticDataStore(context.getWorkflowStaticData('node'), pairId(pair, 'two-way-feed')),
							copy: new ProviderStateStore(destination.provider, pairId(pair, 'two-way-feed')),
							settings: JSON.stringify({ mode: 'twoWay', filter: common.filter, backupDir: common.backupDir, storage }),
							fullEveryMs: days * 86_400_000,
							// Google Drive names some changes by id alone: an index of its ids, kept beside the cursors, places them.
							index: (side: 'source' | 'destination') => new ProviderStateStore(destination.provider, `${pairId(pair, 'two-way-feed')}-${side}-ids`),
						};
			const report = await twoWaySync(source.provider, destination.provider, {
				state: storage === 'destination' ? onDestination : pointer,
				stateCopy: storage === 'destination' ? undefined : onDestination,
				pair,
				conflict: settings.conflict,
				resync: settings.resync,
				filter: common.filter,
				maxDeletePercent: common.maxDeletePercent,
				maxDeletes: common.maxDeletes,
				force: common.force,
				backupDir: common.backupDir,
				transfers: common.transfers,
				checkers: common.checkers,
				itemLimit: common.itemLimit,
				feed,
				// The lock's version as this pair's last release left it: the next run takes the lock in one write.
				lock: { memo: new StaticDataStore(context.getWorkflowStaticData('node'), pairId(pair, 'two-way-lock')) },
				dryRun,
				signal,
			});
			const problem = statefulFailure(report);
			if (problem) throw problem;
			if (storage === 'n8n' && !dryRun && report.baselineSaved) await leavePointer(inN8n, onDestination, pointer);
			const manual = context.getMode() === 'manual' && storage === 'n8n' && !dryRun;
			const hint = manual ? MANUAL_RUN_HINT : report.baselineFromCopy ? COPY_USED_HINT : undefined;
			if (hint) context.addExecutionHints({ message: hint, location: 'outputPane' });
			return { report, hint, staticDataBytes: storage === 'n8n' ? ((await inN8n.load())?.length ?? 0) : undefined };
		} catch (error) {
			throw toNodeError(context.getNode(), error, itemIndex);
		}
	},

	summarise({ report, hint, staticDataBytes }, run) {
		const sum = (field: 'added' | 'updated' | 'deleted' | 'renamed') => report.toDestination[field] + report.toSource[field];
		const summary = {
			...summaryHeader(report, run),
			firstRun: report.firstRun,
			// Whether a scheduled run checked only what the change feeds reported, or listed both folders, and why.
			listing: report.listing,
			listingReason: report.listingReason,
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
			errorsNotListed: report.errorsNotKept || undefined,
			planned: report.dryRun ? report.actions.length + report.actionsNotKept : undefined,
			// A run of a huge tree lists its first actions (Item Limit) and counts the rest.
			changesNotListed: report.dryRun ? report.actionsNotKept || undefined : undefined,
			filesNotListed: report.dryRun ? undefined : report.actionsNotKept || undefined,
			stateStorage: run.settings.storage,
			stateSaved: report.baselineSaved,
			stateFiles: report.baselineFiles,
			stateBytes: report.stateBytes,
			staticDataBytes,
			hint,
		};
		return { summary, files: report.actions.map(({ kind, ...action }) => ({ action: kind, ...action })) };
	},
};
