/**
 * npm run bench:icloud-photos [-- --photos 50000]   (also run at the end of `npm run bench`, its rows in latest.json)
 *
 * What reading an iCloud Photos library costs in CloudKit calls, against the emulator of
 * test/emulators/icloudPhotos.ts (one Live Photo in three, so 50,000 photos are 66,667 files):
 *   a. a full listing (a process that has not read the library yet);
 *   b. the next run's listing after 10 new photos (the index kept in memory, brought up to date by changes/zone);
 *   c. the trigger's poll after 10 more (changesSince).
 * The emulator runs in this process, so the wall times include its work; the heap figure is after
 * the full listing, with the emulator's own copy of the library in it. Prints figures, asserts nothing.
 */
import { Pacer } from '../lib/core/pacer';
import { appleEndpoints, beginSignIn, completeSignIn, openSession } from '../lib/providers/icloud/auth';
import { ICloudPhotosProvider } from '../lib/providers/icloudPhotos';
import { ICloudPhotosEmulator } from '../test/emulators/icloudPhotos';

const MiB = 1024 * 1024;
const user = { appleId: 'bench@example.com', password: 'bench password', dsid: '99900011122' };

function argument(name: string, fallback: number): number {
	const at = process.argv.indexOf(`--${name}`);
	return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

/** A row of bench/results/latest.json for one step, told apart by its `icloud_photos` key (the library's size). */
export interface ICloudPhotosRow {
	case: string;
	icloud_photos: number;
	files: number;
	cloudkit_calls: number;
	seconds: number;
	calls_by_route: Record<string, number>;
	/** Step a only: heap after the full listing, the in-process emulator's copy of the library included. */
	heap_mib?: number;
}

export async function measureICloudPhotos(photos: number): Promise<ICloudPhotosRow[]> {
	const emulator = await ICloudPhotosEmulator.start({}, [user]);
	try {
		emulator.seedLibrary(photos, { liveEvery: 3 });
		const options = { appleId: user.appleId, password: user.password, endpoints: appleEndpoints(emulator.baseUrl) };
		const started = await beginSignIn(options);
		if (!('pending' in started)) throw new Error('the emulator should ask for a code');
		const saved = (await completeSignIn(started.pending, emulator.auth.lastCode(user.appleId)!, options)).saved();
		const provider = async () => new ICloudPhotosProvider({ session: await openSession({ ...options, saved }), pacer: new Pacer() });
		const rows: ICloudPhotosRow[] = [];
		const measure = async (step: string, work: () => Promise<number>) => {
			const before = emulator.server.log.length;
			const start = process.hrtime.bigint();
			const files = await work();
			const seconds = Number(process.hrtime.bigint() - start) / 1e9;
			const calls = emulator.server.log.slice(before).filter((entry) => entry.path.startsWith('/ckdatabasews/'));
			const byRoute: Record<string, number> = {};
			for (const call of calls) byRoute[call.path.split('/').slice(-2).join('/')] = (byRoute[call.path.split('/').slice(-2).join('/')] ?? 0) + 1;
			rows.push({ case: `iCloud Photos: ${step}`, icloud_photos: photos, files, cloudkit_calls: calls.length, seconds: Math.round(seconds * 100) / 100, calls_by_route: byRoute });
		};
		const count = async (source: ICloudPhotosProvider) => {
			let files = 0;
			for await (const entry of source.list('', { recursive: true })) if (!entry.isDir) files++;
			return files;
		};
		await measure(`a full listing, ${photos} photos`, async () => count(await provider()));
		rows[0].heap_mib = Math.round(process.memoryUsage().heapUsed / MiB);
		emulator.addPhotos(Array.from({ length: 10 }, (_, index) => ({ name: `NEW_${index}.HEIC`, date: Date.now() + index, live: true })));
		await measure('b next run after 10 new photos', async () => count(await provider()));
		const cursor = await (await provider()).changeCursor();
		emulator.addPhotos(Array.from({ length: 10 }, (_, index) => ({ name: `MORE_${index}.HEIC`, date: Date.now() + index })));
		await measure("c trigger's poll after 10 more", async () => (await (await provider()).changesSince(cursor)).changes.filter((change) => !change.isDir).length);
		return rows;
	} finally {
		await emulator.stop();
	}
}

export function printICloudPhotosTable(rows: ICloudPhotosRow[]): void {
	console.log(`iCloud Photos (emulated); heap after the full listing ${rows[0]?.heap_mib ?? '?'} MiB (emulator included)`);
	console.table(rows.map((row) => ({ step: row.case, files: row.files, 'CloudKit calls': row.cloudkit_calls, seconds: row.seconds, 'calls by route': JSON.stringify(row.calls_by_route) })));
}

if (require.main === module) {
	measureICloudPhotos(argument('photos', 50_000))
		.then(printICloudPhotosTable)
		.catch((error: unknown) => {
			console.error(error);
			process.exitCode = 1;
		});
}
