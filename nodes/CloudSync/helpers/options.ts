import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { createFilter, type FilterOptions, type SyncOptions } from '../../../lib';
import { parameter, type NodeContext } from './parameters';

const MIB = 1024 * 1024;

/** A comma-separated list; a comma inside {…} (a glob's alternatives, as in *.{jpg,png}) or escaped as \, separates nothing. */
function list(value: unknown): string[] {
	const text = String(value ?? '');
	const parts = [''];
	let depth = 0;
	for (let i = 0; i < text.length; i++) {
		const char = text[i];
		if (char === ',' && depth === 0) {
			parts.push('');
			continue;
		}
		if (char === '{') depth++;
		if (char === '}' && depth > 0) depth--;
		const escaped = char === '\\' ? text.slice(i, i + 2) : char;
		parts[parts.length - 1] += escaped;
		i += escaped.length - 1;
	}
	return parts.map((part) => part.trim()).filter(Boolean);
}

/** The node's filters; a broken one (a glob, a date) is refused here, before any folder is opened or created. */
export function readFilter(context: NodeContext, itemIndex: number): FilterOptions {
	const filters = parameter<IDataObject>(context, 'filters', itemIndex, {});
	const size = (mib: unknown) => (typeof mib === 'number' && mib > 0 ? Math.round(mib * MIB) : undefined);
	const options: FilterOptions = {
		include: list(filters.include),
		exclude: list(filters.exclude),
		extensions: list(filters.extensions),
		excludeExtensions: list(filters.excludeExtensions),
		minSize: size(filters.minSizeMiB),
		maxSize: size(filters.maxSizeMiB),
		modifiedAfter: (filters.modifiedAfter as string) || undefined,
		modifiedBefore: (filters.modifiedBefore as string) || undefined,
		skipSystemFiles: filters.keepSystemFiles !== true,
	};
	createFilter(options);
	return options;
}

/** Every path the input items name, as the trigger emits them: a move names both of its ends. */
function changedPaths(context: IExecuteFunctions): string[] {
	return context
		.getInputData()
		.flatMap((item) => [item.json.path, item.json.previousPath])
		.filter((path): path is string => typeof path === 'string');
}

const positive = (value: unknown) => (typeof value === 'number' && value > 0 ? value : undefined);

/** The Options collection of Diff and Sync. Each mode reads only the entries the editor shows for it. */
export const syncOptions = (context: NodeContext, itemIndex: number) => parameter<IDataObject>(context, 'options', itemIndex, {});

/** What every mode reads: filters, how much runs at once, and how many per-file items a run outputs. */
export function readCommonOptions(context: NodeContext, itemIndex: number): Pick<SyncOptions, 'filter' | 'transfers' | 'checkers' | 'itemLimit'> {
	const options = syncOptions(context, itemIndex);
	return { filter: readFilter(context, itemIndex), transfers: positive(options.transfers), checkers: positive(options.checkers), itemLimit: readItemLimit(context, itemIndex) };
}

export const DEFAULT_ITEM_LIMIT = 10_000;

/** How many per-file items Diff, or Sync with per-file output, emits before summarising the rest; undefined when no per-file items are output. */
export function readItemLimit(context: NodeContext, itemIndex: number): number | undefined {
	const operation = parameter<string>(context, 'operation', itemIndex, 'sync');
	// "files" is how workflows saved before the Files output asked for per-file items.
	const perFile = operation === 'diff' || parameter<string>(context, 'output', itemIndex, 'summary') !== 'summary';
	if (!perFile) return undefined;
	const limit = syncOptions(context, itemIndex).itemLimit;
	return typeof limit === 'number' && limit >= 0 ? Math.floor(limit) : DEFAULT_ITEM_LIMIT;
}

/** The deletion guard of the modes that delete (Mirror, Two-Way): Max Deletions (%) is a field of its own, the rest are Options. */
export function readDeletionGuard(context: NodeContext, itemIndex: number): Pick<SyncOptions, 'maxDeletePercent' | 'maxDeletes' | 'force'> {
	const options = syncOptions(context, itemIndex);
	const percent = parameter<unknown>(context, 'maxDeletePercent', itemIndex, DEFAULT_MAX_DELETE_PERCENT);
	return { maxDeletePercent: typeof percent === 'number' ? percent : DEFAULT_MAX_DELETE_PERCENT, maxDeletes: positive(options.maxDeletes), force: options.force === true };
}

export const DEFAULT_MAX_DELETE_PERCENT = 50;

/** Folders that never take part in a sync: the folder replaced and deleted files are kept in. */
export const readBackupDir = (context: NodeContext, itemIndex: number) => (syncOptions(context, itemIndex).backupDir as string) || undefined;

/** Days between full listings of a scheduled Copy, Mirror or Update that plans from change feeds. */
export function readFullCheckEvery(context: NodeContext, itemIndex: number): number {
	const days = syncOptions(context, itemIndex).fullCheckEveryDays;
	return typeof days === 'number' && days >= 0 ? days : 7;
}

/** Everything Copy, Mirror, Update and Move read from the node, for one item. */
export function readOneWayOptions(context: NodeContext, itemIndex: number): SyncOptions {
	const mode = parameter<SyncOptions['mode']>(context, 'mode', itemIndex, 'copy');
	const options = syncOptions(context, itemIndex);
	return {
		mode,
		compare: parameter<SyncOptions['compare']>(context, 'compare', itemIndex, 'auto'),
		...readCommonOptions(context, itemIndex),
		// Update keeps newer destination files anyway: the editor shows Newer Only for the other modes.
		newerOnly: mode !== 'update' && options.newerOnly === true,
		ignoreExisting: options.ignoreExisting === true,
		...(mode === 'mirror' ? readDeletionGuard(context, itemIndex) : {}),
		backupDir: readBackupDir(context, itemIndex),
		paths: options.changedPathsOnly === true && 'getInputData' in context ? changedPaths(context) : undefined,
	};
}
