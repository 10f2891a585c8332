import { LockedError, PairLock, twoWaySync, MemoryStateStore, ProviderStateStore } from '../lib';
import { DropboxEmulator } from './emulators/dropbox';
import { emulatedProvider, quickPacer } from './support/dropbox';

/**
 * The pair lock on a cloud that writes on a condition (Dropbox's upload in mode add / update by rev):
 * taken in one read and one conditional write (one write alone with a memo of the last release),
 * released by one conditional write, and still one owner at a time. Asserted by the emulator's request log.
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

	it('a two-way run onto Dropbox spends three calls on its lock: read, conditional write, conditional release (its own write tells it still holds the lock)', async () => {
		emulator.seedFile('/Pair/a.txt', 'alpha');
		const source = emulatedProvider(emulator, { root: '/Left' });
		emulator.seedFolder('/Left');
		emulator.seedFile('/Left/b.txt', 'bravo');
		const before = emulator.server.log.length;
		const report = await twoWaySync(source, destination(), { state: new MemoryStateStore(), pair: 'left-pair', pacer: quickPacer() });
		expect(report.status).toBe('success');
		expect(lockCalls(before)).toEqual(['download', 'upload add', 'upload update']);
	});

	it('with a memo of the last release (static data), the next run takes the lock with one conditional write, unread', async () => {
		const memo = new MemoryStateStore();
		const first = await PairLock.acquire(destination(), { id: 'pair', settleMs: 0, memo });
		first.savedAt = 1234;
		await first.release();
		const before = emulator.server.log.length;
		const second = await PairLock.acquire(destination(), { id: 'pair', settleMs: 0, memo });
		expect(lockCalls(before)).toEqual(['upload update']);
		// The lock is unchanged since the release the memo saw, so the time of the state saved under it is the memo's.
		expect(second.savedAt).toBe(1234);
		// And it is held: another run is refused.
		await expect(PairLock.acquire(destination(), { id: 'pair', settleMs: 0 })).rejects.toBeInstanceOf(LockedError);
		await second.release();
	});

	it('a memo out of date (another worker ran since) costs one refused write, then the lock is read and taken as without one', async () => {
		const memo = new MemoryStateStore();
		await (await PairLock.acquire(destination(), { id: 'pair', settleMs: 0, memo })).release();
		// A run elsewhere, whose memo this one never sees, saved a state and released.
		const elsewhere = await PairLock.acquire(destination(), { id: 'pair', settleMs: 0 });
		elsewhere.savedAt = 99;
		await elsewhere.release();
		const before = emulator.server.log.length;
		const lock = await PairLock.acquire(destination(), { id: 'pair', settleMs: 0, memo });
		expect(lockCalls(before)).toEqual(['upload update', 'download', 'upload update']);
		expect(lock.savedAt).toBe(99);
		await lock.release();
	});

	it('a memo does not take a lock another run holds', async () => {
		const memo = new MemoryStateStore();
		await (await PairLock.acquire(destination(), { id: 'pair', settleMs: 0, memo })).release();
		const holder = await PairLock.acquire(destination(), { id: 'pair', settleMs: 0 });
		await expect(PairLock.acquire(destination(), { id: 'pair', settleMs: 0, memo })).rejects.toBeInstanceOf(LockedError);
		await expect(holder.confirm()).resolves.toBeUndefined();
		await holder.release();
	});

	it('scheduled two-way runs with the memo spend two calls on the lock, and read no state copy the memo says is current', async () => {
		emulator.seedFolder('/Left');
		const source = emulatedProvider(emulator, { root: '/Left' });
		const options = { state: new MemoryStateStore(), stateCopy: new ProviderStateStore(destination(), 'left-pair'), pair: 'left-pair', pacer: quickPacer(), lock: { memo: new MemoryStateStore() } };
		emulator.seedFile('/Left/a.txt', 'alpha');
		expect((await twoWaySync(source, destination(), options)).status).toBe('success');
		emulator.seedFile('/Left/b.txt', 'bravo');
		const before = emulator.server.log.length;
		const report = await twoWaySync(source, destination(), options);
		expect(report.status).toBe('success');
		expect(report.toDestination.added).toBe(1);
		expect(report.baselineFromCopy).toBe(false);
		expect(lockCalls(before)).toEqual(['upload update', 'upload update']);
		const stateCopyReads = emulator.server.log.slice(before).filter((entry) => entry.path.endsWith('/download') && (entry.arg ?? '').includes('left-pair.state'));
		expect(stateCopyReads).toHaveLength(0);
	});
});
