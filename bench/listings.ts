import type { Entry } from '../lib';
import type { Stepper } from '../lib/core/types';
import { steppedValues } from '../lib/core/stepper';
import { randomInt, seededRandom } from './random';

/** Shares of the files in a synthetic pair of listings; the rest are identical on both sides. */
const NEW_SHARE = 0.03;
const DELETED_SHARE = 0.03;
const CHANGED_SHARE = 0.04;
const T0 = Date.UTC(2025, 0, 1);
const FILES_PER_FOLDER = 100;
const FOLDERS_PER_PARENT = 10;

function folderEntry(path: string): Entry {
	return { path, isDir: true, size: 0, modTime: T0, hashes: {} };
}

/** A changed copy: half differ in size, half only in modification time (so only a hash could tell). */
function changed(file: Entry, random: () => number): Entry {
	return random() < 0.5 ? { ...file, size: file.size + 1 } : { ...file, modTime: file.modTime - 60_000 };
}

const padded = (n: number, digits: number) => String(n).padStart(digits, '0');

/**
 * One side of two listings of about `entries` entries each, as two providers would list one tree
 * after some edits, generated as it is read (never held) and in walk order: numbers are padded so
 * that names sort as they count. Both sides replay the same seeded rolls, so they describe one tree.
 */
export function* syntheticSide(entries: number, seed: number, side: 'source' | 'destination'): Generator<Entry> {
	const random = seededRandom(seed);
	const files = Math.round(entries * (1 - 1.1 / FILES_PER_FOLDER));
	for (let index = 0; index < files; index++) {
		const folder = Math.floor(index / FILES_PER_FOLDER);
		const parent = `dir-${padded(Math.floor(folder / FOLDERS_PER_PARENT), 6)}`;
		const sub = `${parent}/sub-${folder % FOLDERS_PER_PARENT}`;
		if (index % (FILES_PER_FOLDER * FOLDERS_PER_PARENT) === 0) yield folderEntry(parent);
		if (index % FILES_PER_FOLDER === 0) yield folderEntry(sub);
		const file: Entry = { path: `${sub}/file-${padded(index, 8)}.bin`, isDir: false, size: randomInt(random, 0, 1 << 20), modTime: T0 + randomInt(random, 0, 1e9), hashes: {} };
		const roll = random();
		if (roll < NEW_SHARE) {
			if (side === 'source') yield file;
		} else if (roll < NEW_SHARE + DELETED_SHARE) {
			if (side === 'destination') yield file;
		} else {
			const edited = roll < NEW_SHARE + DELETED_SHARE + CHANGED_SHARE ? changed(file, random) : file;
			yield side === 'source' ? file : { ...edited };
		}
	}
}

/**
 * Items as a stream that can also be stepped through without a promise per item, as a walk listing
 * of a local disk is (lib/engine/listing.ts): the march then reads it as in a sync.
 */
export function streamed<T>(items: Iterable<T>): AsyncIterable<T> & { stepper(): Stepper<T> } {
	const stepper = (): Stepper<T> => {
		const iterator = items[Symbol.iterator]();
		return { next: () => iterator.next().value as T | undefined };
	};
	return { stepper, [Symbol.asyncIterator]: () => steppedValues(stepper()) };
}
