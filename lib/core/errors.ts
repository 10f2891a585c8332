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

/**
 * The file is no longer the version the plan saw (another app wrote it meanwhile): a destructive step
 * planned on the old version is refused, and the next run plans from what is there now.
 */
export class ChangedSincePlannedError extends CloudSyncError {
	constructor(readonly path: string, what: string, options?: { cause?: unknown }) {
		super(`${path} changed after the sync was planned; it was not ${what}`, {
			hint: 'Another app changed this file during the run. Run the sync again: it plans from the file as it is now.',
			...options,
		});
	}
}

export class InvalidPathError extends CloudSyncError {
	constructor(readonly path: string, reason: string, hint = 'Use a path relative to the chosen folder, without ".." or a leading "/".') {
		super(`Invalid path "${path}": ${reason}`, { hint });
	}
}

/** A name this side cannot hold (too long, a character or a word its file system forbids): that file is skipped, not the run. */
export class InvalidNameError extends CloudSyncError {
	constructor(readonly path: string, reason: string, options?: { cause?: unknown }) {
		super(`Cannot store "${path}" here: ${reason}`, {
			cause: options?.cause,
			hint: 'Rename the file on the side it comes from; until then it is skipped and reported, and the rest of the sync goes on.',
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

/** The credential no longer works: the token expired and could not be refreshed, or access was revoked. */
export class AuthenticationError extends CloudSyncError {
	constructor(message: string, options?: { cause?: unknown; hint?: string }) {
		super(message, { hint: 'Reconnect the credential (sign in again) and run the sync again.', ...options });
	}
}

/** The account may not do this: no permission on the file or folder. */
export class PermissionError extends CloudSyncError {
	constructor(message: string, options?: { cause?: unknown; hint?: string }) {
		super(message, { hint: 'Ask the owner for edit access, or choose a folder this account can write to.', ...options });
	}
}

/** The destination is full, or the account's storage quota is used up. */
export class StorageFullError extends CloudSyncError {
	constructor(message: string, options?: { cause?: unknown; hint?: string }) {
		super(message, { hint: 'Free space in the destination account or upgrade its storage, then run the sync again.', ...options });
	}
}

/** The cloud kept asking us to slow down after every retry the pacer allowed. */
export class RateLimitError extends TransientError {
	constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
		super(message, options);
		this.hint = 'The cloud is rate limiting this account: run the sync later, or lower transfers and checkers.';
	}
}

/** A name exists twice where the cloud allows it (Google Drive); we never pick one at random. */
export class DuplicateNameError extends CloudSyncError {
	constructor(readonly path: string, count: number) {
		super(`${count} items are named "${path}"`, { hint: 'Rename or remove the duplicates in the cloud, then run the sync again.' });
	}
}

/** A change cursor the cloud no longer accepts: what changed since it is unknown, so a full pass is needed. */
export class CursorExpiredError extends CloudSyncError {
	constructor(message: string, options?: { cause?: unknown }) {
		super(message, { hint: 'Run a full sync to list everything again; the next poll starts from a new cursor.', ...options });
	}
}

/**
 * A quota that lasts a whole period (Google Photos' 10,000 requests a day) is used up: retrying is
 * pointless until it resets, so a run stops cleanly, keeps what it did, and the next run goes on.
 */
export class QuotaExhaustedError extends CloudSyncError {
	constructor(message: string, options?: { cause?: unknown; hint?: string }) {
		super(message, {
			hint: 'The daily request quota of the Google Cloud project behind this credential is used up (it resets at midnight Pacific time). What was done is kept; the next run continues where this one stopped.',
			...options,
		});
	}
}
