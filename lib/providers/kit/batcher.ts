import { TransientError } from '../../core/errors';

/** A write that may still join a batch. */
export interface Ticket {
	/** This write will not join a batch (any more); a batch that waited for it may go. */
	leave(): void;
}

interface Queued<E, R> {
	entry: E;
	resolve(result: R): void;
	reject(error: unknown): void;
}

export interface BatchOptions {
	maxEntries: number;
	/** A batch waits this long for another write to join it... */
	windowMs: number;
	/** ...but no longer than this in all. */
	maxWaitMs: number;
}

/**
 * Commits many writes in one request, for clouds that take a lock per commit (Dropbox's
 * finish_batch_v2): a batch goes when every write that could still join it has joined, when it is
 * full, or when no write joined it for a short window; one batch is sent at a time.
 */
export class CommitBatcher<E, R> {
	private preparing = 0;
	private queue: Array<Queued<E, R>> = [];
	private timer?: NodeJS.Timeout;
	private openedAt = 0;
	private sending = false;

	constructor(
		private readonly send: (entries: E[]) => Promise<R[]>,
		private readonly options: BatchOptions,
	) {}

	/** Counts a starting write as one that may join the next batch. */
	join(): Ticket {
		this.preparing++;
		let left = false;
		return {
			leave: () => {
				if (left) return;
				left = true;
				this.preparing--;
				this.schedule();
			},
		};
	}

	/** No other write is on its way to a batch: a lone write is cheaper on its own. */
	alone(): boolean {
		return this.preparing <= 1 && this.queue.length === 0 && !this.sending;
	}

	commit(ticket: Ticket, entry: E): Promise<R> {
		return new Promise((resolve, reject) => {
			this.queue.push({ entry, resolve, reject });
			ticket.leave();
			this.schedule();
		});
	}

	private schedule(): void {
		if (this.sending || this.queue.length === 0) return;
		if (this.queue.length >= this.options.maxEntries || this.preparing === 0) {
			void this.flush();
			return;
		}
		if (!this.timer) this.openedAt = Date.now();
		clearTimeout(this.timer);
		const wait = Math.min(this.options.windowMs, this.openedAt + this.options.maxWaitMs - Date.now());
		this.timer = setTimeout(() => void this.flush(), Math.max(0, wait));
		this.timer.unref();
	}

	private async flush(): Promise<void> {
		clearTimeout(this.timer);
		this.timer = undefined;
		if (this.sending || this.queue.length === 0) return;
		const batch = this.queue.splice(0, this.options.maxEntries);
		this.sending = true;
		try {
			const results = await this.send(batch.map((item) => item.entry));
			batch.forEach((item, i) => (i < results.length ? item.resolve(results[i]) : item.reject(new TransientError('A batch commit was answered with fewer results than files'))));
		} catch (error) {
			for (const item of batch) item.reject(error);
		} finally {
			this.sending = false;
			this.schedule();
		}
	}
}
