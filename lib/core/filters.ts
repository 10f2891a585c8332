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

/** Whether `path` is the engine's own folder or in it (lock, state, cursors, trash): never synced. */
export const inStateFolder = (path: string) => path === STATE_FOLDER || path.startsWith(`${STATE_FOLDER}/`);

export const SYSTEM_FILES = ['.ds_store', 'thumbs.db', 'desktop.ini'];
const SYSTEM_NAME_LENGTHS = new Set(SYSTEM_FILES.map((name) => name.length));

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

const LITERAL_HINT = (char: string) => `or write \\${char} to match a literal "${char}".`;

/**
 * The glob as picomatch reads it, or a FilterError naming the pattern and the 1-based position of its
 * first problem: an unclosed or unopened "[" or "{", a reversed range, a trailing "\\". picomatch takes
 * such a pattern literally or as "match nothing", which silently drops every file from an include.
 * rclone's "[!a]" (any character but a) is passed on as "[^a]", which picomatch understands.
 */
function checkGlob(glob: string, kind: string): string {
	const refuse = (index: number, problem: string, hint: string) =>
		new FilterError(`${kind} pattern "${glob}" is not a valid glob: ${problem} at position ${index + 1}`, { hint: `Fix the pattern: ${hint}` });
	let out = '';
	const braces: number[] = [];
	for (let i = 0; i < glob.length; i++) {
		const char = glob[i];
		if (char === '\\') {
			if (i + 1 === glob.length) throw refuse(i, 'a "\\" escapes nothing', 'remove the trailing "\\", or write \\\\ to match a literal "\\".');
			out += glob.slice(i, i + 2);
			i++;
		} else if (char === '[') {
			let j = i + 1;
			let cls = '[';
			if (glob[j] === '!' || glob[j] === '^') {
				cls += '^';
				j++;
			}
			// A "]" right after the opening bracket is part of the class, as in POSIX.
			if (glob[j] === ']') cls += glob[j++];
			for (; j < glob.length && glob[j] !== ']'; j++) {
				if (glob.startsWith('[:', j) && glob.indexOf(':]', j + 2) > 0) {
					const end = glob.indexOf(':]', j + 2) + 2;
					cls += glob.slice(j, end);
					j = end - 1;
				} else if (glob[j] === '\\' && j + 1 < glob.length) {
					cls += glob.slice(j, j + 2);
					j++;
				} else if (glob[j + 1] === '-' && j + 2 < glob.length && glob[j + 2] !== ']' && glob[j] > glob[j + 2]) {
					throw refuse(j, `the range "${glob.slice(j, j + 3)}" runs backwards`, `write it as "${glob[j + 2]}-${glob[j]}".`);
				} else {
					cls += glob[j];
				}
			}
			if (j === glob.length) throw refuse(i, 'the "[" is never closed', `close the character class with "]", ${LITERAL_HINT('[')}`);
			out += `${cls}]`;
			i = j;
		} else if (char === ']') {
			throw refuse(i, 'a "]" has no "[" before it', `add the missing "[", ${LITERAL_HINT(']')}`);
		} else if (char === '{') {
			braces.push(i);
			out += char;
		} else if (char === '}') {
			if (braces.pop() === undefined) throw refuse(i, 'a "}" has no "{" before it', `add the missing "{", ${LITERAL_HINT('}')}`);
			out += char;
		} else {
			out += char;
		}
	}
	const unclosed = braces.pop();
	if (unclosed !== undefined) throw refuse(unclosed, 'the "{" is never closed', `close the alternatives with "}", as in *.{jpg,png}, ${LITERAL_HINT('{')}`);
	return out;
}

/** Turns one rclone glob into a matcher over root-relative paths. */
function compileGlob(glob: string, kind: string): (path: string) => boolean {
	const checked = checkGlob(glob, kind);
	const anchored = checked.startsWith('/');
	const body = anchored ? checked.slice(1) : checked;
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
	const includes = (options.include ?? []).filter((glob) => glob.trim() !== '').map((glob) => compileGlob(glob, 'Include'));
	const excludes = (options.exclude ?? []).filter((glob) => glob.trim() !== '').map((glob) => compileGlob(glob, 'Exclude'));
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
	const reservedBelow = reserved.map((folder) => `${folder}/`);
	// Every listed name passes here: nothing is allocated for the names that cannot be reserved.
	const isReserved = (path: string) => {
		const key = matchKey(path, true);
		for (let i = 0; i < reserved.length; i++) if (key === reserved[i] || key.startsWith(reservedBelow[i])) return true;
		return false;
	};
	const excludedByPath = (path: string) => isReserved(path) || (excludes.length > 0 && excludes.some((matches) => matches(path)));

	return {
		selective:
			includes.length > 0 || extensions.length > 0 || minSize !== undefined || maxSize !== undefined || after !== undefined || before !== undefined,
		includesFolder(path: string): boolean {
			return !excludedByPath(path) && !excludedByPath(`${path}/`);
		},
		includesFile(entry: Entry): boolean {
			const nameLength = entry.path.length - entry.path.lastIndexOf('/') - 1;
			if (skipSystem && SYSTEM_NAME_LENGTHS.has(nameLength) && SYSTEM_FILES.includes(baseName(entry.path).toLowerCase())) return false;
			if (excludedByPath(entry.path)) return false;
			if (includes.length > 0 && !includes.some((matches) => matches(entry.path))) return false;
			if (extensions.length > 0 && !hasExtension(baseName(entry.path), extensions)) return false;
			if (excludeExtensions.length > 0 && hasExtension(baseName(entry.path), excludeExtensions)) return false;
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
