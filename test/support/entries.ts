import type { Entry, Hashes } from '../../lib';

export const T0 = Date.UTC(2026, 0, 1);

export function file(path: string, options: { size?: number; modTime?: number; hashes?: Hashes } = {}): Entry {
	return { path, isDir: false, size: options.size ?? 10, modTime: options.modTime ?? T0, hashes: options.hashes ?? {} };
}

export function folder(path: string): Entry {
	return { path, isDir: true, size: 0, modTime: T0, hashes: {} };
}
