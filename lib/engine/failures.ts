import { CloudSyncError } from '../core/errors';

/** A failed action or listing as a report keeps it: its kind (the typed error's name), its words and what to change. */
export interface Failure {
	/** The typed error's name: AuthenticationError, StorageFullError, NotFoundError... */
	kind: string;
	message: string;
	hint?: string;
}

export function isFailure(value: unknown): value is Failure {
	return typeof value === 'object' && value !== null && !(value instanceof Error) && typeof (value as Failure).kind === 'string' && typeof (value as Failure).message === 'string';
}

export function failureOf(error: unknown): Failure {
	if (error instanceof Error) return { kind: error.name, message: error.message, hint: error instanceof CloudSyncError ? error.hint : undefined };
	return { kind: 'Error', message: String(error) };
}

/** Failures that stop everything, most telling first: one of them explains a run better than any file's own error. */
const EXPLAINS_MOST = ['AuthenticationError', 'StorageFullError', 'PermissionError', 'QuotaExhaustedError', 'RateLimitError'];
/** Failures that are about one path only. */
const ABOUT_ONE_PATH = ['NotFoundError', 'AlreadyExistsError', 'NotEmptyError', 'AbortedError', 'CursorExpiredError'];

function rank(failure: Failure): number {
	const index = EXPLAINS_MOST.indexOf(failure.kind);
	if (index >= 0) return index;
	if (ABOUT_ONE_PATH.includes(failure.kind)) return EXPLAINS_MOST.length + 2;
	return failure.hint ? EXPLAINS_MOST.length : EXPLAINS_MOST.length + 1;
}

/** The failure that best says why a run failed: a refused credential or a full disk before one file's trouble. */
export function explain(failures: Iterable<Failure>): Failure | undefined {
	let best: Failure | undefined;
	for (const failure of failures) if (!best || rank(failure) < rank(best)) best = failure;
	return best;
}
