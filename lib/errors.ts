/** Errors every provider throws in the same shapes, so the engine and the nodes can say what to do next. */
export class CloudSyncError extends Error {
	/** Transient errors are worth retrying; the pacer reads this. */
	retryable = false;
	/** Milliseconds the server asked us to wait before trying again. */
	retryAfterMs?: number;
	/** What a user should change or do next. */
	hint?: string;

	constructor(message: string, options?: { cause?: unknown; hint?: string }) {
		super(message, options?.cause === undefined ? undefined : { cause: options.cause });
		this.name = new.target.name;
		this.hint = options?.hint;
	}
}

export class NotFoundError extends CloudSyncError {
	constructor(readonly path: string, options?: { cause?: unknown }) {
		super(`Not found: ${path || '/'}`, options);
	}
}

export class AlreadyExistsError extends CloudSyncError {
	constructor(readonly path: string, options?: { cause?: unknown }) {
		super(`Already exists: ${path}`, options);
	}
}

export class NotEmptyError extends CloudSyncError {
	constructor(readonly path: string, options?: { cause?: unknown }) {
		super(`Folder is not empty: ${path}`, options);
	}
}

export class InvalidPathError extends CloudSyncError {
	constructor(readonly path: string, reason: string) {
		super(`Invalid path "${path}": ${reason}`, {
			hint: 'Use a path relative to the chosen folder, without ".." or a leading "/".',
		});
	}
}

export class TransientError extends CloudSyncError {
	constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
		super(message, options);
		this.retryable = true;
		this.retryAfterMs = options?.retryAfterMs;
	}
}

/** The bytes that arrived are not the bytes that were sent. */
export class VerificationError extends TransientError {}

/** A safety guard refused the run; nothing was changed. */
export class SafetyError extends CloudSyncError {}

export class AbortedError extends CloudSyncError {
	constructor() {
		super('The sync was cancelled');
	}
}
