import { InvalidPathError } from './errors';


/**
 * Checks a provider-relative path and returns it in canonical form: '/'-separated, no leading or
 * trailing slash, '' for the root. Anything that could climb out of the root is refused.
 */
export function normalizeRelativePath(path: string): string {
	if (typeof path !== 'string') throw new InvalidPathError(String(path), 'not a string');
	if (path.includes('\0')) throw new InvalidPathError(path, 'contains a NUL character');
	if (path.startsWith('/') && path !== '/') {
		throw new InvalidPathError(path, 'absolute paths are not allowed');
	}
	const parts = path.split('/').filter((part) => part !== '');
	for (const part of parts) {
		if (part === '..' || part === '.') {
			throw new InvalidPathError(path, `"${part}" is not allowed as a path segment`);
		}
	}
	return parts.join('/');
}

/** `path` normalised, refused when it names the root folder itself: what every write, move and delete is given. */
export function writablePath(path: string, action: string): string {
	const relative = normalizeRelativePath(path);
	if (relative === '') throw new InvalidPathError(path, `cannot ${action} the root folder`);
	return relative;
}

/** The key two names are matched by: NFC always, and case-folded when either side ignores case. */
export function matchKey(path: string, caseInsensitive: boolean): string {
	// Most names are printable ASCII without capitals: their key is the path itself, and neither
	// `normalize` nor `toLowerCase` is asked (V8's `toLowerCase` copies a string even when it changes nothing).
	let printable = true;
	let capitals = false;
	for (let i = 0; i < path.length; i++) {
		const code = path.charCodeAt(i);
		if (code < 0x20 || code > 0x7e) {
			printable = false;
			break;
		}
		if (code >= 0x41 && code <= 0x5a) capitals = true;
	}
	const nfc = printable ? path : path.normalize('NFC');
	return caseInsensitive && (capitals || !printable) ? nfc.toLowerCase() : nfc;
}

export function joinPath(...parts: string[]): string {
	return parts.filter((part) => part !== '').join('/');
}

export function parentPath(path: string): string {
	const slash = path.lastIndexOf('/');
	return slash < 0 ? '' : path.slice(0, slash);
}

export function baseName(path: string): string {
	return path.slice(path.lastIndexOf('/') + 1);
}

export function depth(path: string): number {
	let count = 0;
	for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) count++;
	return count;
}

/** `a/report.docx` with `text` → `a/report (text).docx`; a name without an extension (or a dot file) gets it at the end. */
export function withSuffix(path: string, text: string): string {
	const name = baseName(path);
	const dot = name.lastIndexOf('.');
	const named = dot > 0 ? `${name.slice(0, dot)} (${text})${name.slice(dot)}` : `${name} (${text})`;
	return joinPath(parentPath(path), named);
}

/** Where a replaced or deleted file is kept: the same relative path under `dir`, stamped. */
export function backupPath(path: string, dir: string, stamp: string): string {
	return joinPath(normalizeRelativePath(dir), withSuffix(path, stamp));
}

/** A UTC time as it can appear in a file name on every cloud: 2026-12-01 21-30-05. */
export function fileStamp(ms: number): string {
	return new Date(ms).toISOString().slice(0, 19).replace('T', ' ').replace(/:/g, '-');
}

/** Whether a name holds a control character (below U+0020, or DEL), which Windows and several clouds refuse. */
export function hasControlCharacter(name: string): boolean {
	for (let i = 0; i < name.length; i++) {
		const code = name.charCodeAt(i);
		if (code < 0x20 || code === 0x7f) return true;
	}
	return false;
}
