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
	// A count and one wake-up, not Promise.race over the tasks in flight: each race would hang a
	// reaction on every running task, objects per item that live as long as the slowest transfer.
	let running = 0;
	let failure: { error: unknown } | undefined;
	let wake: (() => void) | undefined;
	const settled = () => {
		running--;
		const waiting = wake;
		wake = undefined;
		waiting?.();
	};
	const oneSettled = () => new Promise<void>((resolve) => (wake = resolve));
	for await (const item of items) {
		if (failure) break;
		if (signal?.aborted) {
			onAborted?.(item);
			continue;
		}
		running++;
		work(item).then(settled, (error: unknown) => {
			failure ??= { error };
			settled();
		});
		if (running >= Math.max(1, limit)) await oneSettled();
	}
	while (running > 0) await oneSettled();
	if (failure) throw failure.error;
}

/**
 * Pulls up to `limit` items of `source` ahead of the consumer, so that a slow producer (a folder
 * being read) works while the consumer does (two listings walked in step then wait on their disks
 * or servers at the same time). Holds at most `limit` items; an error reaches the consumer after
 * the items before it.
 */
export async function* readAhead<T>(source: AsyncIterable<T>, limit: number): AsyncGenerator<T> {
	const iterator = source[Symbol.asyncIterator]();
	let buffer: T[] = [];
	let head = 0;
	let finished = false;
	let stopped = false;
	let failure: { error: unknown } | undefined;
	let wakeConsumer: (() => void) | undefined;
	let wakeProducer: (() => void) | undefined;
	const wake = () => {
		wakeConsumer?.();
		wakeConsumer = undefined;
	};
	const pump = (async () => {
		try {
			while (!stopped) {
				if (buffer.length - head >= limit) {
					await new Promise<void>((resolve) => (wakeProducer = resolve));
					continue;
				}
				const next = await iterator.next();
				if (next.done) break;
				buffer.push(next.value);
				wake();
			}
		} catch (error) {
			failure = { error };
		} finally {
			finished = true;
			wake();
		}
	})();
	try {
		for (;;) {
			if (head < buffer.length) {
				const value = buffer[head++];
				// What was given is let go: a producer that stays ahead must not keep every item it ever read.
				if (head === buffer.length || head >= limit) {
					buffer = buffer.slice(head);
					head = 0;
				}
				wakeProducer?.();
				wakeProducer = undefined;
				yield value;
				continue;
			}
			if (finished) break;
			await new Promise<void>((resolve) => (wakeConsumer = resolve));
		}
		if (failure) throw failure.error;
	} finally {
		stopped = true;
		wakeProducer?.();
		await pump;
		if (!finished || failure === undefined) await iterator.return?.();
	}
}
