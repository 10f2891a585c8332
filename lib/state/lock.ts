import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import type { Provider } from '../core/types';
import type { StateStore } from './state';
import { CloudSyncError } from '../core/errors';
import { readText } from './state';
import { STATE_FOLDER } from '../core/filters';
import { joinPath } from '../core/paths';
import type { Pacer } from '../core/pacer';

const DEFAULT_TTL_MS = 30 * 60_000;

export class LockedError extends CloudSyncError {}

export interface LockOptions {
	/** Names the pair; runs of the same pair share one lock. */
	id: string;
	/** How long a lock lasts without being renewed: a run that died leaves one that expires (default 30 minutes). */
	ttlMs?: number;
	/** How long to wait before reading a new lock back, so that two runs starting together see one owner (default 500 ms). */
	settleMs?: number;
	pacer?: Pacer;
	now?: () => number;
	/**
	 * Where the pair's runs remember the lock file as the last release left it (n8n's static data), where
	 * the cloud writes on a condition: the next run then takes the lock with one write over that version,
	 * without reading it first. A memo that is out of date only costs the read.
	 */
	memo?: StateStore;
	/**
	 * Who saved the pair's state and when, from the header of the state where every worker reads it
	 * (a file on a cloud): with it, a run that saved its state there, stamped with its owner, leaves the
	 * lock unreleased where the cloud writes on a condition, and a run that finds a lock unreleased
	 * takes it over once the state names that lock's owner (that run had finished).
	 */
	lastSave?: () => Promise<{ savedAt: number; savedBy?: string } | undefined>;
}

/** The lock file as this run's end left it (released, or held by a run whose state is stamped): its version, and the time of the state saved under it. */
interface LockMemo {
	version: string;
	savedAt?: number;
}

interface LockFile {
	owner: string;
	host: string;
	acquiredAt: string;
	expiresAt: number;
	/**
	 * When the last run of the pair that finished saved its state: lets a run tell a stale state store
	 * from a current one. Only a released lock says it: one left held was written before its run saved.
	 */
	savedAt?: number;
}

/**
 * A lock as a file in the `.cloudsync` folder of the destination, which every n8n worker reaches:
 * queue-mode workers share no memory or disk, only the clouds. It is renewed while the run lasts.
 *
 * Where the cloud writes on a condition (`writeIfUnchanged`: Dropbox's upload in mode add or update
 * by rev), taking the lock is one such write over the version just read: of two runs, the cloud lets
 * one through, so there is no read-back after a wait; renewals and the release are conditional too.
 * Elsewhere (Google Drive) the lock is written, left to settle, and read back.
 */
export class PairLock {
	private timer?: NodeJS.Timeout;
	private readonly acquiredAt: string;
	/** When the pair's state was last saved (the memo, a released lock file or the state's header say); undefined when unknown. */
	savedAt?: number;
	/** This run saved the pair's state where `lastSave` reads it, stamped with its owner: its release costs no write. */
	private stamped = false;
	/** The lock file's version as this run last wrote it, where the cloud writes on a condition. */
	private version?: string;
	/** Who took the lock over, when a conditional renewal found another owner. */
	private takenBy?: LockFile;
	/** When this run last wrote the lock file on a condition, and so knows it was still its own. */
	private wroteAt = 0;

	private constructor(
		private readonly provider: Provider,
		readonly path: string,
		/** Random for each run: the state a run saves names it (`lastSave`). */
		readonly owner: string,
		private readonly options: LockOptions,
	) {
		this.acquiredAt = new Date(this.now()).toISOString();
	}

	static async acquire(provider: Provider, options: LockOptions): Promise<PairLock> {
		const path = joinPath(STATE_FOLDER, `${options.id}.lock`);
		const lock = new PairLock(provider, path, randomBytes(8).toString('hex'), options);
		if (lock.conditional) return lock.acquireConditionally();
		const holder = await lock.read();
		const now = lock.now();
		if (holder && holder.expiresAt > now) throw lock.lockedBy(holder);
		lock.savedAt = holder?.savedAt;
		await lock.write();
		await new Promise((resolve) => setTimeout(resolve, options.settleMs ?? 500));
		const confirmed = await lock.read();
		if (confirmed && confirmed.owner !== lock.owner) throw lock.lockedBy(confirmed);
		lock.renewWhileRunning(() => lock.write());
		return lock;
	}

	private get conditional(): boolean {
		return this.provider.readVersioned !== undefined && this.provider.writeIfUnchanged !== undefined;
	}

	/**
	 * One call when the memo is current: a write over the version the last run's end left, which only
	 * succeeds if no run wrote the lock since (so that run finished, whether it released the lock or
	 * left it with its state stamped, and `savedAt` is the memo's). Else two: the lock file as it is,
	 * and one conditional write over that version; three when it is held by a run whose state must be
	 * read to tell whether it finished.
	 */
	private async acquireConditionally(): Promise<PairLock> {
		const memo = await this.loadMemo();
		if (memo) {
			this.savedAt = memo.savedAt;
			const version = await this.run(() => this.provider.writeIfUnchanged!(this.path, this.body(), memo.version));
			if (version !== undefined) {
				this.wrote(version);
				this.renewConditionally();
				return this;
			}
			this.savedAt = undefined;
		}
		const found = await this.readVersioned();
		// The write over the memo went through, and only its answer was lost.
		if (memo && found.holder?.owner === this.owner && found.version !== undefined) {
			this.savedAt = memo.savedAt;
			this.wrote(found.version);
			this.renewConditionally();
			return this;
		}
		if (found.holder && found.holder.expiresAt > this.now()) {
			// Left held by a run that saved its state where every worker reads it; stamped with that run's owner, the state says it finished.
			const saved = await this.options.lastSave?.();
			if (saved?.savedBy === undefined || saved.savedBy !== found.holder.owner) throw this.lockedBy(found.holder);
			this.savedAt = saved.savedAt;
		} else {
			// An expired lock may be one its run left held after saving its state, later than the lock says: unknown then.
			this.savedAt = found.holder?.expiresAt === 0 ? found.holder.savedAt : undefined;
		}
		if (!(await this.swap(found.version))) throw this.lockedBy(this.takenBy!);
		this.renewConditionally();
		return this;
	}

	private renewConditionally(): void {
		this.renewWhileRunning(async () => {
			if (!this.takenBy) await this.swap(this.version);
		});
	}

	private wrote(version: string): void {
		this.version = version;
		this.wroteAt = this.now();
	}

	private async loadMemo(): Promise<LockMemo | undefined> {
		const text = await this.options.memo?.load().catch(() => undefined);
		try {
			const memo = text === undefined ? undefined : (JSON.parse(text) as Partial<LockMemo>);
			return typeof memo?.version === 'string' ? { version: memo.version, savedAt: typeof memo.savedAt === 'number' ? memo.savedAt : undefined } : undefined;
		} catch {
			return undefined;
		}
	}

	private renewWhileRunning(renew: () => Promise<void>): void {
		const ttl = this.options.ttlMs ?? DEFAULT_TTL_MS;
		this.timer = setInterval(() => void renew().catch(() => undefined), Math.max(1000, ttl / 3));
		this.timer.unref();
	}

	/**
	 * Writes the lock over `expected`; false when another run's write came first (then `takenBy` says
	 * whose). A write of ours whose answer was lost looks like another's: the file, read back, tells.
	 */
	private async swap(expected: string | undefined, expiresAt?: number): Promise<boolean> {
		for (let attempt = 0; attempt < 2; attempt++) {
			const version = await this.run(() => this.provider.writeIfUnchanged!(this.path, this.body(expiresAt), attempt === 0 ? expected : this.version));
			if (version !== undefined) {
				this.wrote(version);
				return true;
			}
			const now = await this.readVersioned();
			if (now.holder?.owner !== this.owner) {
				this.takenBy = now.holder ?? { owner: '', host: 'unknown', acquiredAt: 'at an unknown time', expiresAt: this.now() };
				return false;
			}
			// Ours already, as the lost answer left it: written again over that version.
			this.version = now.version;
		}
		return true;
	}

	/**
	 * Throws when the lock file names another owner now. A conditional write of ours younger than half
	 * the lock's life answers without a call: another run takes the lock over only once it expired, and
	 * only by a write over the version we wrote, which the renewal would have found.
	 */
	async confirm(): Promise<void> {
		if (this.takenBy) throw this.lockedBy(this.takenBy);
		if (this.conditional && this.version !== undefined && this.now() - this.wroteAt < (this.options.ttlMs ?? DEFAULT_TTL_MS) / 2) return;
		const holder = await this.read();
		if (holder && holder.owner !== this.owner) throw this.lockedBy(holder);
	}

	/**
	 * The run saved the pair's state at `savedAt`, after its last change to either side; stamped with
	 * `owner` where `lastSave` reads it, when there is a `lastSave`.
	 */
	stateSaved(savedAt: number): void {
		this.savedAt = savedAt;
		this.stamped = this.options.lastSave !== undefined;
	}

	/**
	 * Marks the lock free rather than deleting it: a deleted file would land in the Drive trash after
	 * every run. Where the cloud writes on a condition and the run's state is stamped, the lock is left
	 * as it is: the next run with the memo writes over it as over a released one, and any other reads
	 * the stamp (one write a run saved).
	 */
	async release(): Promise<void> {
		clearInterval(this.timer);
		if (this.conditional) {
			// Only over the version this run wrote: a lock another run took over is left to it.
			if (this.takenBy) return;
			const released = this.stamped || (await this.swap(this.version, 0).catch(() => false));
			if (released && this.version !== undefined) await this.options.memo?.save(JSON.stringify({ version: this.version, savedAt: this.savedAt } satisfies LockMemo)).catch(() => undefined);
			return;
		}
		const holder = await this.read().catch(() => undefined);
		if (holder?.owner !== this.owner) return;
		await this.write(0).catch(() => undefined);
	}

	private now() {
		return this.options.now?.() ?? Date.now();
	}

	private run<T>(operation: () => Promise<T>): Promise<T> {
		return this.options.pacer ? this.options.pacer.run(operation) : operation();
	}

	private lockedBy(holder: LockFile): LockedError {
		const minutes = Math.ceil((holder.expiresAt - this.now()) / 60_000);
		return new LockedError(`Another run of this folder pair is in progress (started ${holder.acquiredAt} on ${holder.host})`, {
			hint: `Wait for it to finish. If no run is going on (n8n was stopped mid-run), the lock expires in ${minutes} minute(s), or delete ${this.path} on the destination.`,
		});
	}

	private async read(): Promise<LockFile | undefined> {
		return parseLock(await this.run(() => readText(this.provider, this.path)));
	}

	private async readVersioned(): Promise<{ holder?: LockFile; version?: string }> {
		const found = await this.run(() => this.provider.readVersioned!(this.path));
		return { holder: parseLock(found?.bytes.toString('utf8')), version: found?.version };
	}

	private body(expiresAt = this.now() + (this.options.ttlMs ?? DEFAULT_TTL_MS)): Buffer {
		const body: LockFile = { owner: this.owner, host: hostname(), acquiredAt: this.acquiredAt, expiresAt, savedAt: this.savedAt };
		return Buffer.from(JSON.stringify(body));
	}

	private async write(expiresAt?: number): Promise<void> {
		const bytes = this.body(expiresAt);
		await this.run(() => this.provider.write(this.path, Readable.from([bytes]), { size: bytes.length }));
	}
}

function parseLock(text: string | undefined): LockFile | undefined {
	try {
		return text === undefined ? undefined : (JSON.parse(text) as LockFile);
	} catch {
		// A lock file cut short (a crash while writing it) holds no one.
		return undefined;
	}
}
