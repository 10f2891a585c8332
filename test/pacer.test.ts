import { AbortedError, CloudSyncError, NotFoundError, Pacer, TransientError, classifyError, parseRetryAfter } from '../lib';

function recordingPacer(options: ConstructorParameters<typeof Pacer>[0] = {}) {
	const sleeps: number[] = [];
	const pacer = new Pacer({
		random: () => 1,
		sleep: async (ms) => {
			sleeps.push(ms);
		},
		...options,
	});
	return { pacer, sleeps };
}

function failing(times: number, error: () => unknown) {
	let calls = 0;
	return {
		get calls() {
			return calls;
		},
		run: async () => {
			calls++;
			if (calls <= times) throw error();
			return 'ok';
		},
	};
}

describe('Pacer', () => {
	it('retries transient errors with exponential backoff', async () => {
		const { pacer, sleeps } = recordingPacer({ baseDelayMs: 100 });
		const operation = failing(3, () => new TransientError('flaky'));
		await expect(pacer.run(operation.run)).resolves.toBe('ok');
		expect(sleeps).toEqual([100, 200, 400]);
		expect(pacer.retries).toBe(3);
	});

	it('spreads retries with jitter', () => {
		const pacer = new Pacer({ baseDelayMs: 100, random: () => 0.25 });
		expect(pacer.delayFor(3)).toBe(200);
	});

	it('waits at least as long as Retry-After, and makes later calls wait too', async () => {
		const { pacer, sleeps } = recordingPacer({ baseDelayMs: 1 });
		const rateLimited = failing(1, () => Object.assign(new Error('Too Many Requests'), { status: 429, response: { status: 429, headers: { 'retry-after': '2' } } }));
		await pacer.run(rateLimited.run);
		expect(sleeps[0]).toBe(2000);
		// The clock did not move (sleep is recorded, not waited), so a new call still sees the pause.
		sleeps.length = 0;
		await pacer.run(async () => 'another request');
		expect(sleeps[0]).toBeGreaterThan(1900);
	});

	it('gives up after the per-request limit and rethrows the last error', async () => {
		const { pacer } = recordingPacer({ retriesPerRequest: 2 });
		const operation = failing(10, () => new TransientError('still down'));
		await expect(pacer.run(operation.run)).rejects.toThrow('still down');
		expect(operation.calls).toBe(3);
	});

	it('stops retrying once the run budget is spent', async () => {
		const { pacer } = recordingPacer({ retriesPerRequest: 5, retriesPerRun: 3 });
		await expect(pacer.run(failing(2, () => new TransientError('x')).run)).resolves.toBe('ok');
		const second = failing(5, () => new TransientError('y'));
		await expect(pacer.run(second.run)).rejects.toThrow('y');
		expect(second.calls).toBe(2);
	});

	it('does not retry fatal errors', async () => {
		const { pacer } = recordingPacer();
		const operation = failing(1, () => new NotFoundError('a.txt'));
		await expect(pacer.run(operation.run)).rejects.toBeInstanceOf(NotFoundError);
		expect(operation.calls).toBe(1);
	});

	it('stops when the run is cancelled', async () => {
		const controller = new AbortController();
		const pacer = new Pacer({ baseDelayMs: 10_000 });
		const pending = pacer.run(async () => {
			throw new TransientError('flaky');
		}, controller.signal);
		setTimeout(() => controller.abort(), 10);
		await expect(pending).rejects.toBeInstanceOf(AbortedError);
	});
});

describe('classifyError', () => {
	it.each([
		[{ status: 429 }, true],
		[{ response: { status: 503 } }, true],
		[{ code: 500 }, true],
		[{ status: 403, errors: [{ reason: 'userRateLimitExceeded' }] }, true],
		[{ status: 403, errors: [{ reason: 'insufficientPermissions' }] }, false],
		[{ code: 'ECONNRESET' }, true],
		[{ status: 400 }, false],
		[{ cause: { code: 'ETIMEDOUT' } }, true],
	])('%j → retryable %s', (shape, retryable) => {
		expect(classifyError(Object.assign(new Error('x'), shape)).retryable).toBe(retryable);
	});

	it('honours the engine errors own flag', () => {
		expect(classifyError(new CloudSyncError('fatal')).retryable).toBe(false);
		expect(classifyError(new TransientError('again', { retryAfterMs: 500 }))).toEqual({ retryable: true, retryAfterMs: 500 });
	});

	it('reads Retry-After as seconds or as an HTTP date', () => {
		const now = Date.UTC(2026, 0, 1, 12, 0, 0);
		expect(parseRetryAfter('3', now)).toBe(3000);
		expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:10 GMT', now)).toBe(10_000);
		expect(parseRetryAfter('soon', now)).toBeUndefined();
	});
});
