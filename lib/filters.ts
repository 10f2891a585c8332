import picomatch from 'picomatch';
import { DateTime, Duration } from 'luxon';
import type { Entry } from './types';
import { baseName, matchKey, normalizeRelativePath } from './paths';
import { CloudSyncError } from './errors';

export interface FilterOptions {
	/** rclone globs: `*.jpg` matches at any depth, `/top/**` is anchored to the root, `**` crosses folders. */
	include?: string[];
	exclude?: string[];
	/** File extensions to keep or drop, with or without the dot: `jpg`, `.tar.gz`. */
	extensions?: string[];
	excludeExtensions?: string[];
	minSize?: number;
	maxSize?: number;
	/** An ISO date, or an age such as `7d`, `12h`, `30m` counted back from now. */
	modifiedAfter?: string | number | Date;
	modifiedBefore?: string | number | Date;
	/** Drop `.DS_Store`, `Thumbs.db` and `desktop.ini`; on unless set to false. */
	skipSystemFiles?: boolean;
	/** Time the ages are counted from; defaults to when the filter is built. */
	now?: number;
	/** Folders, relative to the root, that belong to the engine rather than the user (a backup folder); `.cloudsync` always does. */
	reserved?: string[];
}

/** Where the engine keeps its lock and state files on a side; never synced, never deleted. */
export const STATE_FOLDER = '.cloudsync';

export const SYSTEM_FILES = ['.ds_store', 'thumbs.db', 'desktop.ini'];

const AGE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|M|y)$/;
const AGE_UNITS: Record<string, string> = { ms: 'milliseconds', s: 'seconds', m: 'minutes', h: 'hours', d: 'days', w: 'weeks', M: 'months', y: 'years' };

export class FilterError extends CloudSyncError {}

function toMillis(value: string | number | Date, now: number, option: string): number {
	if (value instanceof Date) return value.getTime();
	if (typeof value === 'number') return value;
	const trimmed = value.trim();
	const age = AGE.exec(trimmed);
	if (age) {
		return DateTime.fromMillis(now).minus(Duration.fromObject({ [AGE_UNITS[age[2]]]: Number(age[1]) })).toMillis();
	}
	const date = DateTime.fromISO(trimmed, { setZone: true });
	if (!date.isValid) {
		throw new FilterError(`${option} "${value}" is neither a date nor an age`, {
			hint: 'Use an ISO date such as 2026-01-31 or 2026-01-31T12:00:00Z, or an age such as 7d, 12h or 30m.',
		});
	}
	return date.toMillis();
}

/** Turns one rclone glob into a matcher over root-relative paths. */
function compileGlob(glob: string): (path: string) => boolean {
	const anchored = glob.startsWith('/');
	const body = anchored ? glob.slice(1) : glob;
	if (body === '') throw new FilterError(`Empty filter pattern "${glob}"`, { hint: 'Remove the empty pattern.' });
	// rclone: a pattern that does not start with "/" matches the end of the path, at any depth.
	const pattern = anchored ? body : `**/${body}`;
	return picomatch(pattern, { dot: true });
}

function normalizeExtension(extension: string): string {
	return extension.trim().replace(/^\*?\./, '').toLowerCase();
}

function hasExtension(name: string, extensions: string[]): boolean {
	const lower = name.toLowerCase();
	return extensions.some((extension) => lower.endsWith(`.${extension}`));
}

export interface Filter {
	/** Whether a file is part of the sync; a file outside it is neither copied nor deleted. */
	includesFile(entry: Entry): boolean;
	/** Whether a folder may be created or removed; folders are never excluded by size, date or include rules. */
	includesFolder(path: string): boolean;
	/** True when only some files are selected, so empty folders are not created on their own. */
	readonly selective: boolean;
}

export function createFilter(options: FilterOptions = {}): Filter {
	const now = options.now ?? Date.now();
	const includes = (options.include ?? []).filter((glob) => glob.trim() !== '').map(compileGlob);
	const excludes = (options.exclude ?? []).filter((glob) => glob.trim() !== '').map(compileGlob);
	const extensions = (options.extensions ?? []).map(normalizeExtension).filter(Boolean);
	const excludeExtensions = (options.excludeExtensions ?? []).map(normalizeExtension).filter(Boolean);
	const after = options.modifiedAfter === undefined || options.modifiedAfter === '' ? undefined : toMillis(options.modifiedAfter, now, 'Modified after');
	const before = options.modifiedBefore === undefined || options.modifiedBefore === '' ? undefined : toMillis(options.modifiedBefore, now, 'Modified before');
	const skipSystem = options.skipSystemFiles !== false;
	const { minSize, maxSize } = options;
	if (minSize !== undefined && maxSize !== undefined && minSize > maxSize) {
		throw new FilterError(`Minimum size ${minSize} is larger than maximum size ${maxSize}`, { hint: 'Swap or correct the size limits.' });
	}

	// Without case: a side that ignores case may spell the engine's folders (or a nested destination) otherwise.
	const reserved = [STATE_FOLDER, ...(options.reserved ?? []).map(normalizeRelativePath).filter(Boolean)].map((folder) => matchKey(folder, true));
	const isReserved = (path: string) => {
		const key = matchKey(path, true);
		return reserved.some((folder) => key === folder || key.startsWith(`${folder}/`));
	};
	const excludedByPath = (path: string) => isReserved(path) || excludes.some((matches) => matches(path));

	return {
		selective:
			includes.length > 0 || extensions.length > 0 || minSize !== undefined || maxSize !== undefined || after !== undefined || before !== undefined,
		includesFolder(path: string): boolean {
			return !excludedByPath(path) && !excludedByPath(`${path}/`);
		},
		includesFile(entry: Entry): boolean {
			const name = baseName(entry.path);
			if (skipSystem && SYSTEM_FILES.includes(name.toLowerCase())) return false;
			if (excludedByPath(entry.path)) return false;
			if (includes.length > 0 && !includes.some((matches) => matches(entry.path))) return false;
			if (extensions.length > 0 && !hasExtension(name, extensions)) return false;
			if (excludeExtensions.length > 0 && hasExtension(name, excludeExtensions)) return false;
			if (minSize !== undefined && entry.size >= 0 && entry.size < minSize) return false;
			if (maxSize !== undefined && entry.size > maxSize) return false;
			if (after !== undefined && entry.modTime < after) return false;
			if (before !== undefined && entry.modTime > before) return false;
			return true;
		},
	};
}

/** Whether a listed entry takes part in the sync: files by every rule, folders by path rules only. */
export function includes(filter: Filter, entry: Entry): boolean {
	return entry.isDir ? filter.includesFolder(entry.path) : filter.includesFile(entry);
}
