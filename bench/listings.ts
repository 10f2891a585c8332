import type { Entry } from '../lib';
import { parentPath } from '../lib/core/paths';
import { filePath } from './generate';
import { randomInt, seededRandom } from './random';

/** Shares of the files in a synthetic pair of listings; the rest are identical on both sides. */
const NEW_SHARE = 0.03;
const DELETED_SHARE = 0.03;
const CHANGED_SHARE = 0.04;
const T0 = Date.UTC(2025, 0, 1);

export interface Listings {
	source: Entry[];
	destination: Entry[];
}

function folderEntry(path: string): Entry {
	return { path, isDir: true, size: 0, modTime: T0, hashes: {} };
}

/** A changed copy: half differ in size, half only in modification time (so only a hash could tell). */
function changed(file: Entry, random: () => number): Entry {
	return random() < 0.5 ? { ...file, size: file.size + 1 } : { ...file, modTime: file.modTime - 60_000 };
}

/**
 * Two listings of `entries` entries each, as two providers would list one tree after some edits:
 * separate objects on each side, folders before their files, most files identical.
 */
export function syntheticListings(entries: number, seed: number): Listings {
	const random = seededRandom(seed);
	const source: Entry[] = [];
	const destination: Entry[] = [];
	const add = (side: Entry[], entry: Entry) => {
		if (side.length < entries) side.push(entry);
	};
	let folder: string | undefined;
	for (let index = 0; source.length < entries || destination.length < entries; index++) {
		const path = filePath(index);
		const parent = parentPath(path);
		if (parent !== folder) {
			const grandparent = parentPath(parent);
			if (folder === undefined || grandparent !== parentPath(folder)) {
				add(source, folderEntry(grandparent));
				add(destination, folderEntry(grandparent));
			}
			add(source, folderEntry(parent));
			add(destination, folderEntry(parent));
			folder = parent;
		}
		const file: Entry = { path, isDir: false, size: randomInt(random, 0, 1 << 20), modTime: T0 + randomInt(random, 0, 1e9), hashes: {} };
		const roll = random();
		if (roll < NEW_SHARE) {
			add(source, file);
		} else if (roll < NEW_SHARE + DELETED_SHARE) {
			add(destination, file);
		} else {
			add(source, file);
			add(destination, roll < NEW_SHARE + DELETED_SHARE + CHANGED_SHARE ? changed(file, random) : { ...file });
		}
	}
	return { source, destination };
}
