import { LockedError, PairLock, twoWaySync, MemoryStateStore } from '../lib';
import { DropboxEmulator } from './emulators/dropbox';
import { emulatedProvider, quickPacer } from './support/dropbox';

/**
 * The pair lock on a cloud that writes on a condition (Dropbox's upload in mode add / update by rev):
 * taken in one read and one conditional write, released by one conditional write, and still one
 * owner at a time. Asserted by the emulator's request log.
 */
let emulator: DropboxEmulator;

beforeEach(async () => {
	emulator = await DropboxEmulator.start();
	emulator.seedFolder('/Pair');
});
afterEach(() => emulator.stop());

const destination = () => emulatedProvider(emulator, { root: '/Pair' });
const lockCalls = (from = 0) =>
	emulator.server.log
		.slice(from)
		.filter((entry) => (entry.arg ?? '').includes('.lock'))
		.map((entry) => `${entry.path.replace('/2/files/', '')} ${(JSON.parse(entry.arg!) as { mode?: { '.tag': string } }).mode?.['.tag'] ?? ''}`.trim());

describe('pair lock on a cloud with conditional writes (Dropbox, emulated)', () => {
	it('of two runs started together, the cloud lets one through; the other is told who holds it', async () => {
		const results = await Promise.allSettled([PairLock.acquire(destination(), { id: 'pair', settleMs: 0 }), PairLock.acquire(destination(), { id: 'pair', settleMs: 0 })]);
		const held = results.filter((result) => result.status === 'fulfilled') as Array<PromiseFulfilledResult<PairLock>>;
		const refused = results.filter((result) => result.status === 'rejected') as PromiseRejectedResult[];
		expect(held).toHaveLength(1);
		expect(refused).toHaveLength(1);
		expect(refused[0].reason).toBeInstanceOf(LockedError);
		expect(refused[0].reason.message).toMatch(/Another run of this folder pair is in progress/);
		// While it is held, a third run is refused by the first read alone.
		const before = emulator.server.log.length;
		await expect(PairLock.acquire(destination(), { id: 'pair', settleMs: 0 })).rejects.toBeInstanceOf(LockedError);
		expect(lockCalls(before)).toEqual(['download']);
		await held[0].value.release();
		await expect(PairLock.acquire(destination(), { id: 'pair', settleMs: 0 })).resolves.toBeInstanceOf(PairLock);
	});

	it('is taken with a read and a conditional write, and released with one conditional write', async () => {
		const first = await PairLock.acquire(destination(), { id: 'pair', settleMs: 0 });
		await first.release();
		const before = emulator.server.log.length;
		const lock = await PairLock.acquire(destination(), { id: 'pair', settleMs: 0 });
		expect(lockCalls(before)).toEqual(['download', 'upload update']);
		const released = emulator.server.log.length;
		await lock.release();
		expect(lockCalls(released)).toEqual(['upload update']);
		// Released, the file stays and holds no one.
		const text = (await destination().readVersioned('.cloudsync/pair.lock'))!.bytes.toString('utf8');
		expect(JSON.parse(text)).toMatchObject({ expiresAt: 0 });
	});

	it('a conditional write whose answer was lost still takes the lock (read back: it is ours)', async () => {
		emulator.server.inject({ route: /\/files\/upload$/, kind: 'drop-after-commit', times: 1 });
		const lock = await PairLock.acquire(destination(), { id: 'pair', settleMs: 0 });
		// The retried add meets the file the lost one made; read back, it names this run, which writes over it once more.
		expect(lockCalls()).toEqual(['download', 'upload add', 'upload add', 'download', 'upload update']);
		await lock.confirm();
		await lock.release();
		await expect(PairLock.acquire(destination(), { id: 'pair', settleMs: 0 })).resolves.toBeInstanceOf(PairLock);
	});

	it('a release does not free a lock another run took over (an expired one)', async () => {
		const stale = await PairLock.acquire(destination(), { id: 'pair', ttlMs: 1, settleMs: 0 });
		await new Promise((resolve) => setTimeout(resolve, 5));
		const next = await PairLock.acquire(destination(), { id: 'pair', settleMs: 0 });
		await stale.release();
		await expect(stale.confirm()).rejects.toBeInstanceOf(LockedError);
		await expect(next.confirm()).resolves.toBeUndefined();
		await expect(PairLock.acquire(destination(), { id: 'pair', settleMs: 0 })).rejects.toBeInstanceOf(LockedError);
		await next.release();
	});

	it('a two-way run onto Dropbox spends four calls on its lock: read, conditional write, a read to confirm before saving, conditional release', async () => {
		emulator.seedFile('/Pair/a.txt', 'alpha');
		const source = emulatedProvider(emulator, { root: '/Left' });
		emulator.seedFolder('/Left');
		emulator.seedFile('/Left/b.txt', 'bravo');
		const before = emulator.server.log.length;
		const report = await twoWaySync(source, destination(), { state: new MemoryStateStore(), pair: 'left-pair', pacer: quickPacer() });
		expect(report.status).toBe('success');
		expect(lockCalls(before)).toEqual(['download', 'upload add', 'download', 'upload update']);
	});
});
