/**
 * Google Photos: the API calls that adding 1,000 photos costs, against the Google Photos emulator
 * (test/emulators/googlePhotos.ts) in this process, from a local folder. Every Library API request
 * counts against the 10,000 a Cloud project may send a day, so calls per photo decide how many photos
 * a day can bring: one batchCreate per photo (what a naive client does) halves it.
 *
 *   npm run bench:photos            1,000 photos (also run at the end of `npm run bench`)
 *   npm run bench:photos -- 5000    another count
 *
 * Prints a table; asserts nothing.
 */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { addToGooglePhotos, GooglePhotosLibrary, LocalProvider, MemoryStateStore, Pacer } from '../lib';
import { GooglePhotosEmulator } from '../test/emulators/googlePhotos';

const DAILY_QUOTA = 10_000;

interface PhotosRow {
	step: string;
	photos: number;
	seconds: number;
	requests: number;
	uploads: number;
	batchCreates: number;
	other: number;
	requestsPerPhoto: number;
	batchCreatesPerPhoto: number;
	photosPerDay: number;
}

async function cameraRoll(root: string, count: number): Promise<void> {
	for (let i = 0; i < count; i++) {
		const time = Date.UTC(2025, i % 12, 1 + (i % 28), 9, 30);
		const folder = nodePath.join(root, new Date(time).toISOString().slice(0, 7).replace('-', '/'));
		await mkdir(folder, { recursive: true });
		const file = nodePath.join(folder, `IMG_${String(i).padStart(5, '0')}.${i % 3 === 0 ? 'JPG' : 'HEIC'}`);
		// 20-60 KiB of bytes unique to the photo: Google maps identical bytes to one item.
		await writeFile(file, Buffer.concat([Buffer.from(`photo ${i}\n`), Buffer.alloc(20_480 + ((i * 7919) % 40_960), i % 251)]));
		await utimes(file, time / 1000, time / 1000);
	}
}

export async function measureGooglePhotos(count = 1000): Promise<PhotosRow[]> {
	const root = await mkdtemp(nodePath.join(tmpdir(), 'cloudsync-bench-photos-'));
	const emulator = new GooglePhotosEmulator({ dailyQuota: Number.MAX_SAFE_INTEGER });
	await emulator.start();
	try {
		await cameraRoll(root, count);
		const source = await LocalProvider.open(root);
		const library = new GooglePhotosLibrary({ auth: emulator.addOAuthClient(), apiBaseUrl: emulator.baseUrl, pacer: new Pacer() });
		const ledger = new MemoryStateStore();
		const rows: PhotosRow[] = [];
		for (const step of [`add ${count.toLocaleString('en-US')} photos to a new album`, 're-run: nothing new']) {
			const from = emulator.server.log.length;
			const started = process.hrtime.bigint();
			const report = await addToGooglePhotos(source, library, { ledger, pair: 'bench', albumTitle: 'Bench', transfers: 4 });
			const seconds = Number(process.hrtime.bigint() - started) / 1e9;
			if (report.status !== 'success') throw new Error(`the run ended ${report.status}: ${report.failure?.message ?? ''}`);
			// Token refreshes go to Google's OAuth endpoint, not the Library API: they do not count against its quota.
			const log = emulator.server.log.slice(from).filter((entry) => entry.path !== '/token');
			const uploads = log.filter((entry) => entry.path === '/v1/uploads').length;
			const batchCreates = log.filter((entry) => entry.path === '/v1/mediaItems:batchCreate').length;
			const perPhoto = log.length / count;
			rows.push({
				step,
				photos: count,
				seconds: Math.round(seconds * 100) / 100,
				requests: log.length,
				uploads,
				batchCreates,
				other: log.length - uploads - batchCreates,
				requestsPerPhoto: Math.round(perPhoto * 1000) / 1000,
				batchCreatesPerPhoto: Math.round((batchCreates / count) * 1000) / 1000,
				photosPerDay: report.uploaded > 0 ? Math.floor(DAILY_QUOTA / perPhoto) : 0,
			});
		}
		return rows;
	} finally {
		await emulator.stop();
		await rm(root, { recursive: true, force: true });
	}
}

export function printGooglePhotosTable(rows: PhotosRow[]): void {
	const header = ['Google Photos (emulated)', 'requests', 'uploads', 'batchCreate', 'other', 'requests/photo', 'batchCreate/photo', 'photos/day in 10,000 requests', 's'];
	const lines = rows.map((row) => [row.step, row.requests, row.uploads, row.batchCreates, row.other, row.requestsPerPhoto, row.batchCreatesPerPhoto, row.photosPerDay || '–', row.seconds].map(String));
	const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i].length)));
	const format = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
	console.log(format(header));
	console.log(format(widths.map((width) => '-'.repeat(width))));
	for (const line of lines) console.log(format(line));
	const naive = Math.floor(DAILY_QUOTA / 2);
	console.log(`One batchCreate per photo would cost 2 requests a photo: ${naive.toLocaleString('en-US')} photos a day.`);
}

if (require.main === module) {
	const count = Number(process.argv[2] ?? 1000);
	measureGooglePhotos(count)
		.then(printGooglePhotosTable)
		.catch((error: unknown) => {
			console.error(error);
			process.exitCode = 1;
		});
}
