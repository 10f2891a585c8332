/** Runs `work` over `items` with at most `limit` in flight; stops taking new items once `signal` aborts. */
export async function forEachLimit<T>(
	items: readonly T[],
	limit: number,
	work: (item: T, index: number) => Promise<void>,
	signal?: AbortSignal,
): Promise<void> {
	let next = 0;
	const worker = async () => {
		while (next < items.length && !signal?.aborted) {
			const index = next++;
			await work(items[index], index);
		}
	};
	await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/**
 * `forEachLimit` over items that arrive one by one (a queue read back from disk): at most `limit`
 * in flight and only those held. Once `signal` aborts, the items not started go to `onAborted`.
 */
export async function forEachLimitStream<T>(
	items: AsyncIterable<T> | Iterable<T>,
	limit: number,
	work: (item: T) => Promise<void>,
	signal?: AbortSignal,
	onAborted?: (item: T) => void,
): Promise<void> {
	const running = new Set<Promise<void>>();
	let failure: { error: unknown } | undefined;
	for await (const item of items) {
		if (failure) break;
		if (signal?.aborted) {
			onAborted?.(item);
			continue;
		}
		const task: Promise<void> = work(item).then(
			() => {
				running.delete(task);
			},
			(error: unknown) => {
				running.delete(task);
				failure ??= { error };
			},
		);
		running.add(task);
		if (running.size >= Math.max(1, limit)) await Promise.race(running);
	}
	await Promise.all(running);
	if (failure) throw failure.error;
}
