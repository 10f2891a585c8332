/**
 * A signal for one request that ends it after `timeoutMs` (none when undefined: a download or a
 * streamed upload lasts as long as its bytes do) or with `outer`. The timer is cleared as soon as the
 * request is answered, and the link to `outer` released once the request is over: AbortSignal.timeout
 * would keep every request's signal, and what listens to it, alive for the whole timeout.
 */
export function requestSignal(timeoutMs: number | undefined, outer: AbortSignal | undefined): { signal: AbortSignal; timedOut(): boolean; clearTimer(): void; clear(): void } {
	const controller = new AbortController();
	let timedOut = false;
	const timer =
		timeoutMs === undefined
			? undefined
			: setTimeout(() => {
					timedOut = true;
					controller.abort(new DOMException('The request took longer than its timeout', 'TimeoutError'));
				}, timeoutMs);
	const stop = () => controller.abort(outer?.reason);
	if (outer?.aborted) stop();
	outer?.addEventListener('abort', stop, { once: true });
	const clearTimer = () => clearTimeout(timer);
	return {
		signal: controller.signal,
		timedOut: () => timedOut,
		clearTimer,
		clear: () => {
			clearTimer();
			outer?.removeEventListener('abort', stop);
		},
	};
}
