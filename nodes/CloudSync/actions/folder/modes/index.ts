import { NodeOperationError, type IExecuteFunctions } from 'n8n-workflow';
import { cloudNamed, SOURCE_CHANGING_MODES } from '../../../clouds/registry';
import { folderNotFound, openLocation, type Location } from '../../../transport/locations';
import { NotFoundError } from '../../../../../lib';
import { describedSummary } from '../../../helpers/report';
import { keepUploads } from '../../../transport/uploads';
import type { FolderMode, ModeOutcome, ModeRun } from './mode';
import { oneWay } from './oneWay';
import { twoWay } from './twoWay';
import { snapshot } from './snapshot';
import { addToGooglePhotos } from './addToGooglePhotos';

export type { ModeOutcome };

/** The entry that runs each value of the Mode field; the one-way modes differ only in what the engine does with the plan. */
const MODES: Record<string, FolderMode<unknown, unknown, unknown>> = {
	copy: oneWay,
	mirror: oneWay,
	update: oneWay,
	move: oneWay,
	twoWay,
	incremental: snapshot('incremental'),
	fullBackup: snapshot('full'),
	addToGooglePhotos,
} as Record<string, FolderMode<unknown, unknown, unknown>>;

/** What a run of `modeName` reads from the node before it opens the folders: its settings. */
export function readModeSettings(context: IExecuteFunctions, itemIndex: number, modeName: string, dryRun: boolean): unknown {
	return (MODES[modeName] ?? oneWay).readSettings(context, itemIndex, dryRun);
}

/** How each side is opened: a sync's destination is made when missing; a side whose files the mode may delete or replace says so. */
export function sideRequests(modeName: string, dryRun: boolean) {
	return {
		source: { mayDelete: SOURCE_CHANGING_MODES.includes(modeName) },
		destination: { create: !dryRun, mayDelete: true },
	};
}

/**
 * After a failed run, the error for a chosen folder that does not exist (one looked up only when
 * listed), naming its side: the engine only knows that the top of a listing was not found ("Not
 * found: /"). Each side is asked for its top once more, on this error path only.
 */
async function missingFolder(context: IExecuteFunctions, itemIndex: number, locations: Location[]): Promise<NodeOperationError | undefined> {
	for (const [index, location] of locations.entries()) {
		try {
			for await (const entry of location.provider.list('', { recursive: false })) if (entry) break;
		} catch (error) {
			if (!(error instanceof NotFoundError)) continue;
			const label = cloudNamed(location.cloud)?.label ?? location.cloud;
			const folder = location.label.startsWith(`${label}:`) ? location.label.slice(label.length + 1) : location.label;
			return folderNotFound(context, index === 0 ? 'source' : 'destination', itemIndex, label, folder);
		}
	}
	return undefined;
}

/**
 * One Diff (`dryRun`) or Sync of the item's folder pair in its mode. Undefined when an earlier item
 * already carried a run made of all the input items.
 */
export async function runFolderMode(context: IExecuteFunctions, itemIndex: number, dryRun: boolean, signal?: AbortSignal): Promise<ModeOutcome | undefined> {
	const modeName = context.getNodeParameter('mode', itemIndex) as string;
	// A value no entry claims (an expression's typo) goes to the one-way engine, as it always did.
	const mode = MODES[modeName] ?? oneWay;
	if (itemIndex > 0 && mode.oneRunForAllItems?.(context, itemIndex)) return undefined;
	for (const side of ['source', 'destination'] as const) {
		const refusal = cloudNamed(context.getNodeParameter(`${side}Cloud`, itemIndex))?.refusesMode?.(modeName);
		if (refusal) throw new NodeOperationError(context.getNode(), refusal.message, { itemIndex, description: refusal.description });
	}
	const settings = mode.readSettings(context, itemIndex, dryRun);
	const requests = sideRequests(modeName, dryRun);
	const source = await openLocation(context, 'source', itemIndex, requests.source);
	// A destination that is no folder (Google Photos) keeps no upload sessions: its uploads are one request each.
	const folder = mode.openDestination ? undefined : await openLocation(context, 'destination', itemIndex, requests.destination);
	const destination = folder ?? (await mode.openDestination!(context, itemIndex, source));
	const run: ModeRun<unknown, unknown> = { context, itemIndex, source, destination, settings, dryRun, signal };
	const uploads = dryRun || !folder ? undefined : keepUploads(context, source, folder);
	try {
		const outcome = mode.summarise(await mode.run(run), run);
		return { ...outcome, summary: describedSummary(outcome.summary, modeName, context.getNode().name) };
	} catch (error) {
		// A Diff creates nothing, so its destination may be missing too; a Sync makes its destination.
		const mustExist = dryRun && folder ? [source, folder] : [source];
		throw (await missingFolder(context, itemIndex, mustExist)) ?? error;
	} finally {
		await uploads?.flush();
	}
}
