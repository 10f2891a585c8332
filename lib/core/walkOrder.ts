import { matchKey } from './paths';

/**
 * The order a streamed listing comes in, so that two sides (and a saved baseline) can be merged as
 * they arrive, folder by folder, without holding either tree: depth first, a folder right before
 * what it holds, and the names of one folder sorted by their case-folded NFC form (the key names
 * are matched by), ties broken by the exact spelling. Names that fold alike ("Photos", "photos",
 * NFC and NFD "é") are therefore neighbours, and so are their subtrees: collisions are seen in one place.
 */
export function walkKey(path: string): string {
	return matchKey(path, true);
}

/** Code units in order, but '/' before everything, so that "a/b" comes before "a-c" and a folder's subtree stays together. */
export function compareSlashFirst(a: string, b: string): number {
	const shorter = Math.min(a.length, b.length);
	for (let i = 0; i < shorter; i++) {
		const x = a.charCodeAt(i);
		const y = b.charCodeAt(i);
		if (x === y) continue;
		if (x === 47) return -1;
		if (y === 47) return 1;
		return x - y;
	}
	return a.length - b.length;
}

/** Negative when path `a` comes before `b` in walk order. */
export function compareWalkOrder(a: string, b: string): number {
	return compareSlashFirst(walkKey(a), walkKey(b)) || compareSlashFirst(a, b);
}

/** The same comparison for callers that already hold each path's walk key. */
export function compareWalkKeys(aKey: string, aPath: string, bKey: string, bPath: string): number {
	return compareSlashFirst(aKey, bKey) || compareSlashFirst(aPath, bPath);
}

/** Whether `key` is `ancestor` or lies below it (both walk or match keys). */
export function isSameOrBelow(key: string, ancestor: string): boolean {
	return ancestor === '' || key === ancestor || (key.length > ancestor.length && key.charCodeAt(ancestor.length) === 47 && key.startsWith(ancestor));
}
