import { Worker } from 'node:worker_threads';
import { CloudSyncError, VerificationError } from '../core/errors';

/** One small file to copy into its staging name; the caller has checked both paths and renames the result into place. */
export interface StageJob {
	source: string;
	/** A new name in the staging folder: created exclusively, so an existing file or link there is never written through. */
	temp: string;
	/** What the source held when it was looked at: a different length read now fails the copy. */
	size: number;
	/** Milliseconds, set on the staged file. */
	modTime: number;
	/** Permission bits, kept as the kernel's copy keeps them. */
	mode: number;
}

type Failure = { code?: string; message: string };

type StageAnswer = Failure | { read: number } | undefined;

/**
 * The thread's program, plain CommonJS so that it runs the same from dist, under ts-jest and inside
 * n8n (no file to resolve). Each job: read the whole source (one byte more than expected, to see it
 * grew), create the staged file exclusively, write, set mode (unless open() set it) and times, close; whatever fails once
 * the staged file exists removes it again, so a failed copy leaves nothing behind.
 */
const THREAD_PROGRAM = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
let buffer = Buffer.allocUnsafe(64 * 1024 + 1);
// The bits the process's umask clears from a created file, read where it can be read without
// changing it (Linux): where it clears none of the source's bits, open() alone sets them and the
// fchmod (one syscall a file) is left out. A umask made stricter later can only leave fewer bits, never more.
let umask;
try {
	const found = /^Umask:[ \t]*([0-7]+)$/m.exec(fs.readFileSync('/proc/self/status', 'latin1'));
	if (found) umask = parseInt(found[1], 8);
} catch {}
function failure(error) {
	return { code: error.code, message: error.message };
}
function stage(job) {
	let input;
	let output;
	try {
		input = fs.openSync(job.source, 'r');
		if (buffer.length < job.size + 1) buffer = Buffer.allocUnsafe(job.size + 1);
		let length = 0;
		for (;;) {
			const wanted = job.size + 1 - length;
			const read = fs.readSync(input, buffer, length, wanted, length);
			length += read;
			// A regular file reads short only at its end: once the expected length is in, a short read
			// saves the second read that would return 0 (one syscall a file).
			if (read === 0 || length > job.size || (length === job.size && read < wanted)) break;
		}
		fs.closeSync(input);
		input = undefined;
		if (length !== job.size) return { read: length };
		output = fs.openSync(job.temp, 'wx', job.mode);
		try {
			for (let written = 0; written < length; ) written += fs.writeSync(output, buffer, written, length - written);
			if (umask === undefined || (job.mode & (umask | 0o7000)) !== 0) fs.fchmodSync(output, job.mode);
			fs.futimesSync(output, job.modTime / 1000, job.modTime / 1000);
		} catch (error) {
			fs.closeSync(output);
			output = undefined;
			fs.rmSync(job.temp, { force: true });
			throw error;
		}
		fs.closeSync(output);
		output = undefined;
		return undefined;
	} catch (error) {
		if (input !== undefined) try { fs.closeSync(input); } catch {}
		if (output !== undefined) try { fs.closeSync(output); } catch {}
		return failure(error);
	}
}
parentPort.on('message', (jobs) => parentPort.postMessage(jobs.map(stage)));
`;

/** A thread that has had no work for this long ends, so an idle n8n keeps no isolate for it. */
const IDLE_MS = 5000;

function fsError(failure: Failure): Error {
	return Object.assign(new Error(failure.message), { code: failure.code });
}

/**
 * A job and the copy waiting on its answer, in one object rather than closures around each other:
 * it lives as long as the copy, and every copy the provider queues is one.
 */
class Waiting {
	constructor(
		readonly job: StageJob,
		/** The source's name, for messages. */
		private readonly name: string,
		private readonly resolve: () => void,
		private readonly reject: (error: Error) => void,
	) {}

	settle(answer: StageAnswer, threadError?: Error): void {
		if (threadError) return this.reject(threadError);
		if (answer === undefined) return this.resolve();
		const { job } = this;
		if ('read' in answer) {
			const read = answer.read > job.size ? `more than ${job.size}` : `${answer.read}`;
			return this.reject(new VerificationError(`${this.name} changed while it was copied (${read} of ${job.size} bytes read)`));
		}
		this.reject(fsError(answer));
	}
}

/**
 * One copying thread and the batches it was given. A thread answers each batch whole, in the order
 * sent, so the unanswered batches are a first-in first-out list, not a Map by job id: a Map that jobs
 * keep entering and leaving is rebuilt every few dozen jobs, and V8 builds the table of a long-lived
 * Map in the old generation, where each replaced table stays until the next full collection, pointing
 * at the jobs it held. Every job it pointed at (its promise, the copy waiting on it, that copy's
 * names and stats) then outlived young-generation collections, so V8 kept growing its young
 * generation: a first copy of 100,000 small files peaked near 250 MiB.
 */
class CopyingThread {
	private readonly sent: Waiting[][] = [];
	/** Jobs sent and not answered yet. */
	unanswered = 0;
	private idleTimer?: NodeJS.Timeout;

	constructor(
		readonly worker: Worker,
		private readonly ended: (thread: CopyingThread) => void,
	) {
		worker.on('message', (answers: StageAnswer[]) => {
			const batch = this.sent.shift() ?? [];
			this.unanswered -= batch.length;
			for (let i = 0; i < batch.length; i++) batch[i].settle(answers[i]);
			if (this.unanswered === 0) this.idle();
		});
		const stopped = (reason: string) => {
			clearTimeout(this.idleTimer);
			this.ended(this);
			const error = new CloudSyncError(`The thread that copies small local files stopped (${reason}); the files it was copying were not copied`, {
				hint: 'Run the sync again; if it keeps happening, check the memory available to n8n.',
			});
			const unanswered = this.sent.splice(0);
			this.unanswered = 0;
			for (const batch of unanswered) for (const waiting of batch) waiting.settle(undefined, error);
		};
		worker.on('error', (error) => stopped(error.message));
		worker.on('exit', (code) => stopped(`exit code ${code}`));
		// A thread started beside another may get no job at all: it must neither keep the process alive nor stay.
		this.idle();
	}

	send(batch: Waiting[]): void {
		clearTimeout(this.idleTimer);
		this.sent.push(batch);
		this.unanswered += batch.length;
		this.worker.ref();
		this.worker.postMessage(batch.map((each) => each.job));
	}

	/** Lets the process exit while the thread waits, and ends the thread if no work comes for a while. */
	private idle(): void {
		this.worker.unref();
		clearTimeout(this.idleTimer);
		this.idleTimer = setTimeout(() => {
			if (this.unanswered === 0) {
				this.ended(this);
				void this.worker.terminate();
			}
		}, IDLE_MS);
		this.idleTimer.unref();
	}
}

/**
 * Copies small files on threads of our own, so that the kernel's work (reading each source,
 * creating, writing and closing each staged file) runs beside the event loop's (listing, path
 * checks, renames) on the other cores, and several sources not in the page cache are read at once.
 * Node's thread pool would run them too, but at one round trip per call, several per file; here jobs
 * go over in batches, one message each way. Only the copy into the staging folder happens there:
 * every check of where a file may go, and the rename that makes it visible, stay with the provider
 * on the main thread.
 * (Reading folders there too was tried twice, the second time with each folder's names in one string
 * and its stats in one transferred array, read ahead 4 and 16 folders: a 100,000-file no-op mirror
 * took about 30% more CPU and 80 MiB more memory, and was no faster.)
 */
class SmallFileCopier {
	private readonly threads: CopyingThread[] = [];
	/** Jobs not sent yet: a thread that ends fails only what it was given. */
	private outbox: Waiting[] = [];
	/** Set once a thread could not be started here: the provider does the work inline from then on. */
	private unavailable = false;

	constructor(private readonly threadCount: number) {}

	/** Stages `job` (`name` is the source's name in messages); false when no thread can run here (the caller copies inline instead). */
	stage(job: StageJob, name: string): Promise<void> | false {
		if (!this.startThreads()) return false;
		return new Promise<void>((resolve, reject) => {
			// Sent once the event loop has run what is ready: the copies a batch of answers lets start go over in one message, not one each.
			if (this.outbox.length === 0) setImmediate(() => this.flush());
			this.outbox.push(new Waiting(job, name, resolve, reject));
		});
	}

	/**
	 * Starts the threads ahead of the first copy (about 30 ms of a core each to start Node in them), so
	 * that they start beside the run's other work; with no copy to do, they end after IDLE_MS as any idle thread.
	 */
	warmUp(): void {
		this.startThreads();
	}

	/** For tests: ends the threads as a crash would, failing what they still had to do. */
	async stopThread(): Promise<void> {
		await Promise.all(this.threads.map((thread) => thread.worker.terminate()));
	}

	/** Whether threads run (started here when fewer than wanted run). */
	private startThreads(): boolean {
		if (this.unavailable) return false;
		while (this.threads.length < this.threadCount) {
			try {
				const worker = new Worker(THREAD_PROGRAM, { eval: true, stdout: false, stderr: false });
				this.threads.push(new CopyingThread(worker, (ended) => this.forget(ended)));
			} catch {
				if (this.threads.length > 0) break;
				this.unavailable = true;
				return false;
			}
		}
		return true;
	}

	/** A thread that ended or is ending gets no more jobs (called again when one that was ended for idling exits). */
	private forget(thread: CopyingThread): void {
		const at = this.threads.indexOf(thread);
		if (at >= 0) this.threads.splice(at, 1);
	}

	/** Sends what was queued, each job to the thread with the fewest unanswered. */
	private flush(): void {
		const batch = this.outbox;
		this.outbox = [];
		if (batch.length === 0) return;
		// A thread that ended between queuing and sending is replaced.
		if (!this.startThreads()) {
			for (const each of batch) each.settle(undefined, new CloudSyncError('No thread could be started to copy small local files'));
			return;
		}
		// Short-lived arrays by thread index, not Maps by thread: see CopyingThread.
		const { threads } = this;
		const load = threads.map((thread) => thread.unanswered);
		const shares: Waiting[][] = threads.map(() => []);
		for (const each of batch) {
			let least = 0;
			for (let t = 1; t < threads.length; t++) if (load[t] < load[least]) least = t;
			load[least]++;
			shares[least].push(each);
		}
		for (let t = 0; t < threads.length; t++) if (shares[t].length > 0) threads[t].send(shares[t]);
	}
}

/**
 * Two copying threads for every local folder of the process: with one, a 10,000-file copy waited on
 * it; three were no faster on two cores, and each costs an isolate's memory (about 15 MiB).
 */
export const smallFileCopier = new SmallFileCopier(2);
