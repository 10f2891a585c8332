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
