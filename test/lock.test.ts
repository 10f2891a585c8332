import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalProvider, LockedError, PairLock, twoWaySync, MemoryStateStore, ProviderStateStore, decodeBaseline, pairId, type Provider } from '../lib';
import { DropboxEmulator } from './emulators/dropbox';
import { emulatedProvider, quickPacer } from './support/dropbox';
import { put, tree } from './support/sides';

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

	it('scheduled two-way runs with the memo spend one call on the lock (their state copy is stamped), and read no state copy the memo says is current', async () => {
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
		expect(lockCalls(before)).toEqual(['upload update']);
		const stateCopyReads = emulator.server.log.slice(before).filter((entry) => entry.path.endsWith('/download') && (entry.arg ?? '').includes('left-pair.state'));
		expect(stateCopyReads).toHaveLength(0);
	});
});

/**
 * A run that saved its two-way state where every worker reads it (the state's copy on the destination)
 * stamps it with its lock's owner and leaves the lock held: the next run with the memo writes over it
 * in one call, and a worker without the memo reads the stamp to tell a finished run from a running one.
 */
describe('the lock of a two-way run whose state copy is stamped (Dropbox, emulated)', () => {
	const PAIR = 'left-pair';
	const LOCK = `.cloudsync/${pairId(PAIR)}.lock`;
	const COPY = `.cloudsync/${PAIR}.state`;

	beforeEach(() => {
		emulator.seedFolder('/Left');
		for (const name of ['a', 'y', 'z']) emulator.seedFile(`/Left/${name}.txt`, name);
	});

	/** What one n8n worker keeps: its static data (the state and the lock's memo), lost when it dies or is another worker. */
	function worker(source: Provider = emulatedProvider(emulator, { root: '/Left' })) {
		const state = new MemoryStateStore();
		const memo = new MemoryStateStore();
		const run = () => twoWaySync(source, destination(), { state, stateCopy: new ProviderStateStore(destination(), PAIR), pair: PAIR, pacer: quickPacer(), lock: { memo } });
		return { state, memo, run };
	}
	const lockFile = async () => JSON.parse((await destination().readVersioned(LOCK))!.bytes.toString('utf8')) as { owner: string; expiresAt: number };
	const copyHeader = async () => decodeBaseline((await new ProviderStateStore(destination(), PAIR).load())!);
	const calls = (from: number, about: string) =>
		emulator.server.log
			.slice(from)
			.filter((entry) => (entry.arg ?? '').includes(about))
			.map((entry) => `${entry.path.replace('/2/files/', '')}${(entry.status ?? 0) >= 400 ? ' refused' : ''}`);
	/** A source whose reads of synced files wait until `go`: a run held in the middle, lock taken. */
	function heldSource() {
		let reached!: () => void;
		let go!: () => void;
		const reading = new Promise<void>((resolve) => (reached = resolve));
		const gate = new Promise<void>((resolve) => (go = resolve));
		const inner = emulatedProvider(emulator, { root: '/Left' });
		const source = new Proxy(inner, {
			get: (target, property, receiver) =>
				property === 'read'
					? async (...args: Parameters<Provider['read']>) => {
							reached();
							await gate;
							return target.read(...args);
						}
					: Reflect.get(target, property, receiver),
		});
		return { source, reading, go };
	}

	it('sequential runs with the memo: the lock taken in one call, no release call, the state stamped with the owner who left the lock held', async () => {
		const n8n = worker();
		expect((await n8n.run()).status).toBe('success');
		for (const name of ['b', 'c']) {
			emulator.seedFile(`/Left/${name}.txt`, name);
			const before = emulator.server.log.length;
			const report = await n8n.run();
			expect(report).toMatchObject({ status: 'success', toDestination: { added: 1 }, baselineFromCopy: false });
			expect(lockCalls(before)).toEqual(['upload update']);
			const held = await lockFile();
			expect(held.expiresAt).toBeGreaterThan(Date.now());
			expect((await copyHeader()).savedBy).toBe(held.owner);
		}
	});

	it('a worker without the memo after a skipped release reads the stamp, takes the lock, and uses the state it read (one download)', async () => {
		expect((await worker().run()).status).toBe('success');
		expect((await lockFile()).expiresAt).toBeGreaterThan(Date.now());
		emulator.remove('/Left/a.txt');
		const before = emulator.server.log.length;
		const report = await worker().run();
		// Its static data is empty: the state came from the copy, and the deletion it proves went through.
		expect(report).toMatchObject({ status: 'success', baselineFromCopy: true, toDestination: { deleted: 1 } });
		expect(calls(before, LOCK)).toEqual(['download', 'upload']);
		expect(calls(before, COPY)).toEqual(['download', 'upload']);
		expect(Object.keys(await tree(destination()))).not.toContain('a.txt');
	});

	it('a run still running (lock unexpired, the state stamped by the run before it) stops another worker, which changes nothing', async () => {
		expect((await worker().run()).status).toBe('success');
		const stampedBefore = (await copyHeader()).savedBy;
		emulator.seedFile('/Left/b.txt', 'bravo');
		const held = heldSource();
		const running = worker(held.source).run();
		await held.reading;
		const other = worker();
		const before = emulator.server.log.length;
		await expect(other.run()).rejects.toBeInstanceOf(LockedError);
		// Read the lock and the stamp, wrote nothing.
		expect(calls(before, LOCK)).toEqual(['download']);
		expect(calls(before, COPY)).toEqual(['download']);
		expect(emulator.server.log.slice(before).filter((entry) => entry.path.endsWith('/upload') || entry.path.includes('delete'))).toEqual([]);
		expect(other.state.state).toBeUndefined();
		expect((await copyHeader()).savedBy).toBe(stampedBefore);
		held.go();
		expect(await running).toMatchObject({ status: 'success', toDestination: { added: 1 } });
		expect((await copyHeader()).savedBy).toBe((await lockFile()).owner);
	});

	it('a holder that died after saving its state, before its memo: the next run (its memo out of date) takes the lock over the stamp', async () => {
		const n8n = worker();
		expect((await n8n.run()).status).toBe('success');
		const memoBefore = n8n.memo.state;
		emulator.seedFile('/Left/b.txt', 'bravo');
		// Its process dies once the state is saved: the memo and the rest of its static data are never stored.
		const dying = worker();
		dying.memo.save = async () => {
			throw new Error('the worker died');
		};
		expect((await dying.run()).status).toBe('success');
		expect(n8n.memo.state).toBe(memoBefore);
		emulator.seedFile('/Left/c.txt', 'charlie');
		const before = emulator.server.log.length;
		const report = await n8n.run();
		expect(report).toMatchObject({ status: 'success', toDestination: { added: 1 }, baselineFromCopy: true });
		// The write over the memo's rev is refused (the dead run wrote the lock since); the lock and the stamp are read; the lock is taken.
		expect(calls(before, LOCK)).toEqual(['upload refused', 'download', 'upload']);
		// Its static data holds the state the dead run saved before it: the copy, read once for the stamp and the baseline, is the newer.
		expect(calls(before, COPY)).toEqual(['download', 'upload']);
		expect(decodeBaseline(n8n.state.state!).entries.map((entry) => entry.path)).toEqual(['a.txt', 'b.txt', 'c.txt', 'y.txt', 'z.txt']);
	});

	it('a failed run releases the lock with a write, as does one that changed nothing (its state not rewritten)', async () => {
		const failing = new Proxy(emulatedProvider(emulator, { root: '/Left' }), {
			get: (target, property, receiver) =>
				property === 'read'
					? async () => {
							throw new Error('unreadable');
						}
					: Reflect.get(target, property, receiver),
		});
		const n8n = worker();
		expect((await n8n.run()).status).toBe('success');
		emulator.seedFile('/Left/b.txt', 'bravo');
		let before = emulator.server.log.length;
		const failed = await twoWaySync(failing, destination(), { state: n8n.state, stateCopy: new ProviderStateStore(destination(), PAIR), pair: PAIR, pacer: quickPacer(), lock: { memo: n8n.memo } });
		expect(failed.status).toBe('failed');
		expect(lockCalls(before)).toEqual(['upload update', 'upload update']);
		expect((await lockFile()).expiresAt).toBe(0);
		expect((await n8n.run()).status).toBe('success');
		before = emulator.server.log.length;
		const idle = await n8n.run();
		expect(idle).toMatchObject({ status: 'success', baselineSaved: true, toDestination: { added: 0 }, toSource: { added: 0 } });
		// The state as it was is still true (compared with its old stamp), so it is not uploaded again; the lock is released by a write.
		expect(calls(before, COPY)).toEqual([]);
		expect(lockCalls(before)).toEqual(['upload update', 'upload update']);
		expect((await lockFile()).expiresAt).toBe(0);
	});

	it('two workers without the memo racing for a lock left held: one takes it, the other is refused and changes nothing', async () => {
		expect((await worker().run()).status).toBe('success');
		emulator.seedFile('/Left/b.txt', 'bravo');
		const racers = [worker(), worker()];
		const results = await Promise.allSettled(racers.map((racer) => racer.run()));
		const refused = results.filter((result) => result.status === 'rejected') as PromiseRejectedResult[];
		expect(refused).toHaveLength(1);
		expect(refused[0].reason).toBeInstanceOf(LockedError);
		expect(results.filter((result) => result.status === 'fulfilled').map((result) => (result as PromiseFulfilledResult<{ status: string }>).value.status)).toEqual(['success']);
		expect(racers.filter((racer) => racer.state.state === undefined)).toHaveLength(1);
		expect((await copyHeader()).savedBy).toBe((await lockFile()).owner);
	});
});

describe('the lock on a destination without conditional writes (local folders)', () => {
	it('a two-way run whose state copy is stamped still releases the lock: no other worker could tell its write from another run’s', async () => {
		const [left, right] = await Promise.all([mkdtemp(join(tmpdir(), 'lock-left-')), mkdtemp(join(tmpdir(), 'lock-right-'))]);
		const [source, target] = [await LocalProvider.open(left), await LocalProvider.open(right)];
		await put(source, 'a.txt', 'alpha', Date.now());
		const report = await twoWaySync(source, target, { state: new MemoryStateStore(), stateCopy: new ProviderStateStore(target, 'pair'), pair: 'pair', pacer: quickPacer(), lock: { settleMs: 0, memo: new MemoryStateStore() } });
		expect(report.status).toBe('success');
		const lock = JSON.parse(await readFile(join(right, '.cloudsync', `${pairId('pair')}.lock`), 'utf8')) as { expiresAt: number };
		expect(lock.expiresAt).toBe(0);
	});
});
