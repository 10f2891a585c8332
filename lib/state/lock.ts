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
}

/** The lock file as a release left it: its version, and the time of the state saved under it. */
interface LockMemo {
	version: string;
	savedAt?: number;
}

interface LockFile {
	owner: string;
	host: string;
	acquiredAt: string;
	expiresAt: number;
	/** When the last run of the pair that finished saved its state: lets a run tell a stale state store from a current one. */
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
	/** When the pair's state was last saved, as the lock file says; undefined before any run saved one. */
	savedAt?: number;
	/** The lock file's version as this run last wrote it, where the cloud writes on a condition. */
	private version?: string;
	/** Who took the lock over, when a conditional renewal found another owner. */
	private takenBy?: LockFile;
	/** When this run last wrote the lock file on a condition, and so knows it was still its own. */
	private wroteAt = 0;

	private constructor(
		private readonly provider: Provider,
		readonly path: string,
		private readonly owner: string,
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
	 * One call when the memo is current: a write over the version the last release left, which only
	 * succeeds if no run wrote the lock since (so it is free, and its `savedAt` is the memo's). Else two:
	 * the lock file as it is, and one conditional write over that version.
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
		if (found.holder && found.holder.expiresAt > this.now()) throw this.lockedBy(found.holder);
		this.savedAt = found.holder?.savedAt;
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

	/** Marks the lock free rather than deleting it: a deleted file would land in the Drive trash after every run. */
	async release(): Promise<void> {
		clearInterval(this.timer);
		if (this.conditional) {
			// Only over the version this run wrote: a lock another run took over is left to it.
			if (this.takenBy) return;
			const released = await this.swap(this.version, 0).catch(() => false);
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
