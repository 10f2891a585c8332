import { CloudSyncError, RateLimitError, TransientError } from '../../core/errors';
import { classifyError } from '../../core/pacer';
import { ICloudSignInError } from './auth';
import { SESSION_ENDED } from './session';

/** How an iCloud service is named in its errors, and whether it can have changed anything ('iCloud Photos' is only read). */
export interface AppleService {
	name: string;
	readOnly: boolean;
}

/**
 * What an HTTP status of any of Apple's iCloud web services becomes, where the services mean the
 * same by it; undefined for the statuses each service words itself (404, 403, its own codes).
 * `detail` holds Apple's status and reason, redacted; never a cookie.
 */
export function appleStatusError(service: AppleService, status: number, detail: string, where: string, cause: Error, retryAfterMs?: number): CloudSyncError | undefined {
	const unchanged = service.readOnly ? 'Nothing was changed' : 'Nothing more was changed';
	if (status === 423) return new ICloudSignInError('advanced-data-protection', `${service.name} refused ${where} without the encryption (PCS) cookies (${detail})`, { cause, status });
	// The session signed in again already (ICloudSession.request): the pacer's next try goes out on the new one.
	if (SESSION_ENDED.has(status)) {
		const ended = new TransientError(`iCloud ended the web session (${detail}) at ${where}`, { cause });
		// Final only when Apple keeps ending fresh sessions, its way of throttling.
		ended.hint = `Apple keeps ending the iCloud web session right after signing in, which it does when it throttles an account. ${unchanged}; wait at least an hour and run again.`;
		return ended;
	}
	if (status === 429 || status === 503) {
		const limited = new RateLimitError(`Apple is throttling ${service.name} (${detail}) at ${where}`, { cause, retryAfterMs });
		if (status === 503 && service.readOnly) limited.hint = 'Apple is throttling iCloud for this Apple ID (HTTP 503): nothing was changed. Run again in an hour or so, and schedule runs less often.';
		return limited;
	}
	if (status === 408 || status >= 500) return new TransientError(`${service.name} failed with ${detail} at ${where}`, { cause, retryAfterMs });
	return undefined;
}

/** What a call to an iCloud service that got no HTTP answer becomes: a timeout, a broken connection or an unreadable answer are retried. */
export function appleTransportError(service: AppleService, error: unknown, where: string, redact: (text: string) => string): CloudSyncError {
	if ((error as Error)?.name === 'TimeoutError') return new TransientError(`${service.name} did not answer in time (${where})`, { cause: error });
	const message = redact(typeof (error as Error)?.message === 'string' ? (error as Error).message : String(error));
	if (classifyError(error).retryable || (error as Error)?.name === 'TypeError' || error instanceof SyntaxError) {
		return new TransientError(`${service.name} could not be reached, or the connection broke (${message}) at ${where}`, { cause: error });
	}
	return new CloudSyncError(message, { cause: error });
}
