import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GooglePhotosLibrary, Pacer } from '../../lib';
import type { GooglePhotosEmulator } from '../emulators/googlePhotos';
import { seededRandom } from './faulty-provider';

/**
 * A camera roll as a local folder: `count` photos in monthly folders, every other one a Live Photo
 * (a .HEIC and its .MOV companion). Each file's bytes are unique. Returns the folder and path → sha256.
 */
export async function cameraRoll(count: number, seed = 1, folder?: string): Promise<{ root: string; expected: Map<string, string> }> {
	const root = folder ?? (await mkdtemp(join(tmpdir(), 'cloudsync-roll-')));
	const random = seededRandom(seed);
	const expected = new Map<string, string>();
	const write = async (path: string, bytes: Buffer, time: number) => {
		await mkdir(join(root, path, '..'), { recursive: true });
		await writeFile(join(root, path), bytes);
		await utimes(join(root, path), time / 1000, time / 1000);
		expected.set(path, createHash('sha256').update(bytes).digest('hex'));
	};
	for (let i = 0; i < count; i++) {
		const time = Date.UTC(2024, i % 12, 1 + (i % 28), 12, 0, 0);
		const month = new Date(time).toISOString().slice(0, 7).replace('-', '/');
		const name = `IMG_${String(i).padStart(5, '0')}`;
		const live = i % 2 === 0;
		// A unique prefix, then a random tail of a few hundred bytes to a few KiB.
		const bytes = (prefix: string) => Buffer.concat([Buffer.from(`${prefix}-${seed}-${i}:`), Buffer.alloc(200 + Math.floor(random() * 3000), i % 251)]);
		await write(`${month}/${name}.${live ? 'HEIC' : 'JPG'}`, bytes('photo'), time);
		if (live) await write(`${month}/${name}.MOV`, bytes('motion'), time);
	}
	return { root, expected };
}

export function libraryOn(emulator: GooglePhotosEmulator, pacer = new Pacer({ baseDelayMs: 1, maxDelayMs: 10, retriesPerRequest: 10, retriesPerRun: 100_000 })): GooglePhotosLibrary {
	return new GooglePhotosLibrary({ auth: emulator.addOAuthClient(), apiBaseUrl: emulator.baseUrl, pacer });
}

/** The album's items by the sha256 of their bytes: what a person would see in it, one count per photo. */
export function albumContents(emulator: GooglePhotosEmulator, title: string): Map<string, number> {
	const album = emulator.albumNamed(title);
	const counts = new Map<string, number>();
	for (const id of album?.items ?? []) {
		const sha = emulator.items.get(id)!.sha256;
		counts.set(sha, (counts.get(sha) ?? 0) + 1);
	}
	return counts;
}
