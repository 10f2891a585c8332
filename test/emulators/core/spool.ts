import { closeSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const MiB = 1024 * 1024;

/** Spool files not yet discarded: an emulator stopped with sessions open leaves none behind. */
const spilled = new Set<string>();
process.on('exit', () => {
	for (const file of spilled) {
		try {
			unlinkSync(file);
		} catch {
			// Already gone.
		}
	}
});

/**
 * An upload session's bytes as they arrive: in memory while small, in a file on disk once past
 * `memoryLimit`, so that sessions of a gigabyte, left unfinished by a killed client, cost the
 * emulator no memory until they are committed.
 */
export class Spool {
	length = 0;
	private parts: Buffer[] = [];
	private file?: string;
	private fd?: number;

	constructor(private readonly memoryLimit = 32 * MiB) {}

	push(bytes: Buffer): void {
		if (bytes.length === 0) return;
		if (this.fd === undefined && this.length + bytes.length > this.memoryLimit) this.spill();
		if (this.fd !== undefined) writeSync(this.fd, bytes, 0, bytes.length, this.length);
		else this.parts.push(Buffer.from(bytes));
		this.length += bytes.length;
	}

	/** Every byte received, in one buffer. */
	bytes(): Buffer {
		if (this.fd === undefined) return Buffer.concat(this.parts, this.length);
		const whole = Buffer.allocUnsafe(this.length);
		for (let done = 0; done < this.length; ) done += readSync(this.fd, whole, done, this.length - done, done);
		return whole;
	}

	/** Forgets what came after the first `length` bytes (a commit that failed, whose last bytes are sent again). */
	truncate(length: number): void {
		if (length >= this.length) return;
		if (this.fd !== undefined) ftruncateSync(this.fd, length);
		else this.parts = [Buffer.concat(this.parts, this.length).subarray(0, length)];
		this.length = length;
	}

	/** Frees what the spool holds (its file, once committed or abandoned). */
	discard(): void {
		this.parts = [];
		this.length = 0;
		if (this.fd !== undefined) closeSync(this.fd);
		if (this.file) {
			unlinkSync(this.file);
			spilled.delete(this.file);
		}
		this.fd = this.file = undefined;
	}

	private spill(): void {
		this.file = join(tmpdir(), `cloudsync-emulator-${randomBytes(8).toString('hex')}`);
		this.fd = openSync(this.file, 'w+');
		spilled.add(this.file);
		let at = 0;
		for (const part of this.parts) {
			writeSync(this.fd, part, 0, part.length, at);
			at += part.length;
		}
		this.parts = [];
	}
}
