import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import type { FilterOptions, SyncOptions } from '../../../lib';
import { parameter, type NodeContext } from './parameters';

const MIB = 1024 * 1024;

function list(value: unknown): string[] {
	return String(value ?? '')
		.split(',')
		.map((part) => part.trim())
		.filter(Boolean);
}

export function readFilter(context: NodeContext, itemIndex: number): FilterOptions {
	const filters = parameter<IDataObject>(context, 'filters', itemIndex, {});
	const size = (mib: unknown) => (typeof mib === 'number' && mib > 0 ? Math.round(mib * MIB) : undefined);
	return {
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
}

/** Every path the input items name, as the trigger emits them: a move names both of its ends. */
function changedPaths(context: IExecuteFunctions): string[] {
	return context
		.getInputData()
		.flatMap((item) => [item.json.path, item.json.previousPath])
		.filter((path): path is string => typeof path === 'string');
}

/** Everything a sync or a diff reads from the node, for one item. */
export function readSyncOptions(context: NodeContext, itemIndex: number): SyncOptions {
	const options = parameter<IDataObject>(context, 'options', itemIndex, {});
	const number = (value: unknown) => (typeof value === 'number' && value > 0 ? value : undefined);
	return {
		mode: parameter<SyncOptions['mode']>(context, 'mode', itemIndex, 'mirror'),
		compare: parameter<SyncOptions['compare']>(context, 'compare', itemIndex, 'auto'),
		filter: readFilter(context, itemIndex),
		newerOnly: options.newerOnly === true,
		ignoreExisting: options.ignoreExisting === true,
		maxDeletePercent: typeof options.maxDeletePercent === 'number' ? options.maxDeletePercent : undefined,
		maxDeletes: number(options.maxDeletes),
		force: options.force === true,
		transfers: number(options.transfers),
		checkers: number(options.checkers),
		backupDir: (options.backupDir as string) || undefined,
		paths: options.changedPathsOnly === true && 'getInputData' in context ? changedPaths(context) : undefined,
	};
}
