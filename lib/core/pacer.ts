import { AbortedError, CloudSyncError } from './errors';

export interface PacerOptions {
	/** Attempts after the first one, per request. */
	retriesPerRequest?: number;
	/** Retries all requests of one run may spend together; past it every error is final. */
	retriesPerRun?: number;
	baseDelayMs?: number;
	maxDelayMs?: number;
	/** Longest Retry-After the pacer will honour; a longer one is treated as a final error. */
	maxRetryAfterMs?: number;
	random?: () => number;
	sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const RETRYABLE_STATUS = new Set([408, 423, 425, 429, 500, 502, 503, 504, 509]);
const RETRYABLE_CODES = new Set([
	'ECONNRESET',
	'ECONNREFUSED',
	'ECONNABORTED',
	'ETIMEDOUT',
	'EPIPE',
	'EAI_AGAIN',
	'ENETUNREACH',
	'EHOSTUNREACH',
	'ERR_STREAM_PREMATURE_CLOSE',
	'UND_ERR_SOCKET',
	'UND_ERR_CONNECT_TIMEOUT',
	'UND_ERR_HEADERS_TIMEOUT',
	'UND_ERR_BODY_TIMEOUT',
]);
/** The reasons clouds give for "slow down" inside an error body (Drive's 403s, Dropbox's 429 and 409 tags). */
export const RATE_LIMIT_REASONS = new Set(['userRateLimitExceeded', 'rateLimitExceeded', 'sharingRateLimitExceeded', 'too_many_requests', 'too_many_write_operations']);

interface ErrorShape {
	retryable?: boolean;
	retryAfterMs?: number;
	status?: number;
	statusCode?: number;
	code?: string | number;
	response?: { status?: number; headers?: unknown };
	headers?: unknown;
	errors?: Array<{ reason?: string }>;
	cause?: unknown;
}

/** A response header from a fetch Headers object or a plain record. */
export function headerOf(headers: unknown, name: string): string | undefined {
	if (!headers) return undefined;
	if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
	const record = headers as Record<string, unknown>;
	const value = record[name] ?? record[name.toLowerCase()];
	return value === undefined ? undefined : String(value);
}

/** Retry-After as seconds or an HTTP date, in ms from now. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
	if (value === undefined || value.trim() === '') return undefined;
	const seconds = Number(value);
	if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
	const date = Date.parse(value);
	return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** How long a server asked us to wait: its Retry-After header, else a `retry_after` in seconds from its error body. */
export function retryAfterOf(headers: unknown, bodySeconds?: unknown): number | undefined {
	return parseRetryAfter(headerOf(headers, 'retry-after')) ?? (typeof bodySeconds === 'number' ? bodySeconds * 1000 : undefined);
}

export interface Classification {
	retryable: boolean;
	retryAfterMs?: number;
}

/** Decides whether an error from any provider or SDK is worth another attempt. */
export function classifyError(error: unknown): Classification {
	const shape = (error ?? {}) as ErrorShape;
	if (error instanceof AbortedError || (error as Error)?.name === 'AbortError') return { retryable: false };
	const status = shape.status ?? shape.statusCode ?? shape.response?.status ?? (typeof shape.code === 'number' ? shape.code : undefined);
	const retryAfterMs = shape.retryAfterMs ?? retryAfterOf(shape.response?.headers ?? shape.headers);
	if (error instanceof CloudSyncError) return { retryable: error.retryable, retryAfterMs };
	if (shape.retryable !== undefined) return { retryable: shape.retryable, retryAfterMs };
	if (status !== undefined && RETRYABLE_STATUS.has(status)) return { retryable: true, retryAfterMs };
	if (shape.errors?.some((detail) => detail.reason && RATE_LIMIT_REASONS.has(detail.reason))) return { retryable: true, retryAfterMs };
	if (typeof shape.code === 'string' && RETRYABLE_CODES.has(shape.code)) return { retryable: true, retryAfterMs };
	if (shape.cause && shape.cause !== error) return classifyError(shape.cause);
	return { retryable: false };
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
	return new Promise((resolve, reject) => {
		if (signal?.aborted) return reject(new AbortedError());
		const timer = setTimeout(() => {
			signal?.removeEventListener('abort', onAbort);
			resolve();
		}, ms);
		const onAbort = () => {
			clearTimeout(timer);
			reject(new AbortedError());
		};
		signal?.addEventListener('abort', onAbort, { once: true });
	});
}

/**
 * One retry policy for every provider: exponential backoff with full jitter, Retry-After honoured,
 * and a pause that every caller sharing the pacer respects once a server asked us to slow down.
 */
export class Pacer {
	retries = 0;
	private pausedUntil = 0;
	private readonly options: Required<PacerOptions>;

	constructor(options: PacerOptions = {}) {
		this.options = {
			retriesPerRequest: 5,
			retriesPerRun: 1000,
			baseDelayMs: 100,
			maxDelayMs: 30_000,
			maxRetryAfterMs: 5 * 60_000,
			random: Math.random,
			sleep: abortableSleep,
			...options,
		};
	}

	delayFor(attempt: number, retryAfterMs?: number): number {
		const { baseDelayMs, maxDelayMs, random } = this.options;
		const backoff = random() * Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
		return retryAfterMs === undefined ? backoff : Math.max(retryAfterMs, backoff);
	}

	async run<T>(operation: (attempt: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
		for (let attempt = 0; ; attempt++) {
			if (signal?.aborted) throw new AbortedError();
			const wait = this.pausedUntil - Date.now();
			if (wait > 0) await this.options.sleep(wait, signal);
			try {
				return await operation(attempt);
			} catch (error) {
				if (signal?.aborted) throw new AbortedError();
				const { retryable, retryAfterMs } = classifyError(error);
				const exhausted = attempt >= this.options.retriesPerRequest || this.retries >= this.options.retriesPerRun;
				if (!retryable || exhausted || (retryAfterMs ?? 0) > this.options.maxRetryAfterMs) throw error;
				this.retries++;
				if (retryAfterMs !== undefined) this.pausedUntil = Math.max(this.pausedUntil, Date.now() + retryAfterMs);
				await this.options.sleep(this.delayFor(attempt, retryAfterMs), signal);
			}
		}
	}
}
