import { NodeOperationError, type IExecuteFunctions } from 'n8n-workflow';
import { cloudNamed } from '../../../clouds/registry';
import { openLocation } from '../../../transport/locations';
import { keepUploads } from '../../../transport/uploads';
import type { FolderMode, ModeOutcome, ModeRun } from './mode';
import { oneWay } from './oneWay';
import { twoWay } from './twoWay';
import { snapshot } from './snapshot';

export type { ModeOutcome };

/** The entry that runs each value of the Mode field; the one-way modes differ only in what the engine does with the plan. */
const MODES: Record<string, FolderMode<unknown, unknown>> = {
	copy: oneWay,
	mirror: oneWay,
	update: oneWay,
	move: oneWay,
	twoWay,
	incremental: snapshot('incremental'),
	fullBackup: snapshot('full'),
} as Record<string, FolderMode<unknown, unknown>>;

/**
 * One Diff (`dryRun`) or Sync of the item's folder pair in its mode. Undefined when an earlier item
 * already carried a run made of all the input items.
 */
export async function runFolderMode(context: IExecuteFunctions, itemIndex: number, dryRun: boolean, signal?: AbortSignal): Promise<ModeOutcome | undefined> {
	const modeName = context.getNodeParameter('mode', itemIndex) as string;
	// A value no entry claims (an expression's typo) goes to the one-way engine, as it always did.
	const mode = MODES[modeName] ?? oneWay;
	if (itemIndex > 0 && mode.oneRunForAllItems?.(context, itemIndex)) return undefined;
	const refusal = cloudNamed(context.getNodeParameter('sourceCloud', itemIndex))?.refusesMode?.(modeName);
	if (refusal) throw new NodeOperationError(context.getNode(), refusal.message, { itemIndex, description: refusal.description });
	const settings = mode.readSettings(context, itemIndex, dryRun);
	const source = await openLocation(context, 'source', itemIndex);
	const destination = await openLocation(context, 'destination', itemIndex, { create: !dryRun });
	const run: ModeRun<unknown> = { context, itemIndex, source, destination, settings, dryRun, signal };
	const uploads = dryRun ? undefined : keepUploads(context, source, destination);
	try {
		return mode.summarise(await mode.run(run), run);
	} finally {
		await uploads?.flush();
	}
}
