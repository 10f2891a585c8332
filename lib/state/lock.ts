import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import type { Provider } from '../core/types';
import { CloudSyncError } from '../core/errors';
import { readText } from './state';
import { STATE_FOLDER } from '../core/filters';
import { joinPath } from '../core/paths';
import type { Pacer } from '../core/pacer';

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
 */
export class PairLock {
	private timer?: NodeJS.Timeout;
	private readonly acquiredAt: string;
	/** When the pair's state was last saved, as the lock file says; undefined before any run saved one. */
	savedAt?: number;

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
		const holder = await lock.read();
		const now = lock.now();
		if (holder && holder.expiresAt > now) throw lock.lockedBy(holder);
		lock.savedAt = holder?.savedAt;
		await lock.write();
		await new Promise((resolve) => setTimeout(resolve, options.settleMs ?? 500));
		const confirmed = await lock.read();
		if (confirmed && confirmed.owner !== lock.owner) throw lock.lockedBy(confirmed);
		const ttl = options.ttlMs ?? 30 * 60_000;
		lock.timer = setInterval(() => void lock.write().catch(() => undefined), Math.max(1000, ttl / 3));
		lock.timer.unref();
		return lock;
	}

	/** Throws when the lock file names another owner now. */
	async confirm(): Promise<void> {
		const holder = await this.read();
		if (holder && holder.owner !== this.owner) throw this.lockedBy(holder);
	}

	/** Marks the lock free rather than deleting it: a deleted file would land in the Drive trash after every run. */
	async release(): Promise<void> {
		clearInterval(this.timer);
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
		const text = await this.run(() => readText(this.provider, this.path));
		try {
			return text === undefined ? undefined : (JSON.parse(text) as LockFile);
		} catch {
			// A lock file cut short (a crash while writing it) holds no one.
			return undefined;
		}
	}

	private async write(expiresAt = this.now() + (this.options.ttlMs ?? 30 * 60_000)): Promise<void> {
		const body: LockFile = { owner: this.owner, host: hostname(), acquiredAt: this.acquiredAt, expiresAt, savedAt: this.savedAt };
		const bytes = Buffer.from(JSON.stringify(body));
		await this.run(() => this.provider.write(this.path, Readable.from([bytes]), { size: bytes.length }));
	}
}
