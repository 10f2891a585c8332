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
 * grew), create the staged file exclusively, write, set mode and times, close; whatever fails once
 * the staged file exists removes it again, so a failed copy leaves nothing behind.
 */
const THREAD_PROGRAM = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
let buffer = Buffer.allocUnsafe(64 * 1024 + 1);
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
			const read = fs.readSync(input, buffer, length, buffer.length - length, length);
			if (read === 0) break;
			length += read;
			if (length > job.size) break;
		}
		fs.closeSync(input);
		input = undefined;
		if (length !== job.size) return { read: length };
		output = fs.openSync(job.temp, 'wx', job.mode);
		try {
			for (let written = 0; written < length; ) written += fs.writeSync(output, buffer, written, length - written);
			fs.fchmodSync(output, job.mode);
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
parentPort.on('message', (jobs) => parentPort.postMessage(jobs.map((job) => [job.id, stage(job)])));
`;

/** A thread that has had no work for this long ends, so an idle n8n keeps no isolate for it. */
const IDLE_MS = 5000;

interface Waiting {
	id: number;
	message: object;
	settle: (answer: unknown, threadError?: Error) => void;
}

function fsError(failure: Failure): Error {
	return Object.assign(new Error(failure.message), { code: failure.code });
}

/**
 * Copies small files on a thread of our own, so that the kernel's work (reading each source,
 * creating, writing and closing each staged file) runs beside the event loop's (listing, path
 * checks, renames) on a second core. Node's thread pool would run them too, but at one round trip
 * per call, several per file; here jobs go over in batches, one message each way. Only the copy into
 * the staging folder happens there: every check of where a file may go, and the rename that makes it
 * visible, stay with the provider on the main thread.
 * (Reading folders there too was tried: a 100,000-file no-op mirror took more CPU and 45 MiB more
 * memory, and was no faster.)
 */
class SmallFileCopier {
	private thread?: Worker;
	/** Jobs sent to the thread, by id. */
	private readonly waiting = new Map<number, Waiting>();
	/** Jobs not sent yet: a thread that ends fails only what it was given. */
	private outbox: Waiting[] = [];
	private nextId = 0;
	private idleTimer?: NodeJS.Timeout;
	/** Set once a thread could not be started here: the provider does the work inline from then on. */
	private unavailable = false;

	/** Stages `job` (`name` is the source's name in messages); false when no thread can run here (the caller copies inline instead). */
	stage(job: StageJob, name: string): Promise<void> | false {
		return this.send(job, (answer: StageAnswer) => {
			if (answer === undefined) return;
			if ('read' in answer) {
				const read = answer.read > job.size ? `more than ${job.size}` : `${answer.read}`;
				throw new VerificationError(`${name} changed while it was copied (${read} of ${job.size} bytes read)`);
			}
			throw fsError(answer);
		});
	}

	/** For tests: ends the thread as a crash would, failing what it still had to do. */
	async stopThread(): Promise<void> {
		await this.thread?.terminate();
	}

	private send<Answer, Result>(message: object, interpret: (answer: Answer) => Result): Promise<Result> | false {
		if (!this.threadToUse()) return false;
		return new Promise<Result>((resolve, reject) => {
			if (this.outbox.length === 0) queueMicrotask(() => this.flush());
			this.outbox.push({
				id: this.nextId++,
				message,
				settle: (answer, threadError) => {
					if (threadError) return reject(threadError);
					try {
						resolve(interpret(answer as Answer));
					} catch (error) {
						reject(error);
					}
				},
			});
		});
	}

	private threadToUse(): Worker | undefined {
		if (this.unavailable) return undefined;
		clearTimeout(this.idleTimer);
		this.idleTimer = undefined;
		if (this.thread) return this.thread;
		try {
			this.thread = this.start();
		} catch {
			this.unavailable = true;
		}
		return this.thread;
	}

	private start(): Worker {
		const thread = new Worker(THREAD_PROGRAM, { eval: true, stdout: false, stderr: false });
		thread.on('message', (answers: Array<[number, unknown]>) => {
			for (const [id, answer] of answers) {
				const waiting = this.waiting.get(id);
				this.waiting.delete(id);
				waiting?.settle(answer);
			}
			if (this.waiting.size === 0 && this.outbox.length === 0) this.idle(thread);
		});
		const ended = (reason: string) => {
			if (this.thread !== thread) return;
			this.thread = undefined;
			clearTimeout(this.idleTimer);
			const error = new CloudSyncError(`The thread that copies small local files stopped (${reason}); the files it was copying were not copied`, {
				hint: 'Run the sync again; if it keeps happening, check the memory available to n8n.',
			});
			for (const [id, waiting] of this.waiting) {
				this.waiting.delete(id);
				waiting.settle(undefined, error);
			}
		};
		thread.on('error', (error) => ended(error.message));
		thread.on('exit', (code) => ended(`exit code ${code}`));
		return thread;
	}

	private flush(): void {
		const batch = this.outbox;
		this.outbox = [];
		if (batch.length === 0) return;
		// A thread that ended between queuing and sending is replaced.
		const thread = this.threadToUse();
		if (!thread) {
			for (const each of batch) each.settle(undefined, new CloudSyncError('No thread could be started to copy small local files'));
			return;
		}
		for (const each of batch) this.waiting.set(each.id, each);
		thread.ref();
		thread.postMessage(batch.map(({ id, message }) => ({ id, ...message })));
	}

	/** Lets the process exit while the thread waits, and ends the thread if no work comes for a while. */
	private idle(thread: Worker): void {
		thread.unref();
		clearTimeout(this.idleTimer);
		this.idleTimer = setTimeout(() => {
			if (this.thread === thread && this.waiting.size === 0) {
				this.thread = undefined;
				void thread.terminate();
			}
		}, IDLE_MS);
		this.idleTimer.unref();
	}
}

/** One thread for every local folder of the process: the disk is shared anyway, and each thread costs an isolate's memory (two were no faster). */
export const smallFileCopier = new SmallFileCopier();
