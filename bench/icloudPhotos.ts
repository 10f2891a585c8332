/**
 * npm run bench:icloud-photos [-- --photos 50000]
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

async function main(): Promise<void> {
	const photos = argument('photos', 50_000);
	const emulator = await ICloudPhotosEmulator.start({}, [user]);
	try {
		const seeded = Date.now();
		emulator.seedLibrary(photos, { liveEvery: 3 });
		const seedMs = Date.now() - seeded;
		const options = { appleId: user.appleId, password: user.password, endpoints: appleEndpoints(emulator.baseUrl) };
		const started = await beginSignIn(options);
		if (!('pending' in started)) throw new Error('the emulator should ask for a code');
		const saved = (await completeSignIn(started.pending, emulator.auth.lastCode(user.appleId)!, options)).saved();
		const provider = async () => new ICloudPhotosProvider({ session: await openSession({ ...options, saved }), pacer: new Pacer() });
		const rows: Array<Record<string, string | number>> = [];
		const measure = async (step: string, work: () => Promise<number>) => {
			const before = emulator.server.log.length;
			const start = process.hrtime.bigint();
			const files = await work();
			const seconds = Number(process.hrtime.bigint() - start) / 1e9;
			const calls = emulator.server.log.slice(before).filter((entry) => entry.path.startsWith('/ckdatabasews/'));
			const byRoute: Record<string, number> = {};
			for (const call of calls) byRoute[call.path.split('/').slice(-2).join('/')] = (byRoute[call.path.split('/').slice(-2).join('/')] ?? 0) + 1;
			rows.push({ step, files, 'CloudKit calls': calls.length, seconds: seconds.toFixed(2), 'calls by route': JSON.stringify(byRoute) });
		};
		const count = async (source: ICloudPhotosProvider) => {
			let files = 0;
			for await (const entry of source.list('', { recursive: true })) if (!entry.isDir) files++;
			return files;
		};
		await measure(`a full listing, ${photos} photos`, async () => count(await provider()));
		const heap = process.memoryUsage().heapUsed / MiB;
		emulator.addPhotos(Array.from({ length: 10 }, (_, index) => ({ name: `NEW_${index}.HEIC`, date: Date.now() + index, live: true })));
		await measure('b next run after 10 new photos', async () => count(await provider()));
		const cursor = await (await provider()).changeCursor();
		emulator.addPhotos(Array.from({ length: 10 }, (_, index) => ({ name: `MORE_${index}.HEIC`, date: Date.now() + index })));
		await measure("c trigger's poll after 10 more", async () => (await (await provider()).changesSince(cursor)).changes.filter((change) => !change.isDir).length);
		console.log(`iCloud Photos (emulated), ${photos} photos seeded in ${seedMs} ms; heap after the full listing ${heap.toFixed(0)} MiB (emulator included)`);
		console.table(rows);
	} finally {
		await emulator.stop();
	}
}

main().catch((error: unknown) => {
	console.error(error);
	process.exitCode = 1;
});
