import type { Stepper } from './types';

/** A stepper's values as an async iterable (a promise per value: for readers that are not the merge). */
export async function* steppedValues<T>(stepper: Stepper<T>): AsyncGenerator<T> {
	for (;;) {
		let value = stepper.next();
		if (value instanceof Promise) value = await value;
		if (value === undefined) return;
		yield value;
	}
}

/** Any async iterable as a stepper (a promise per value): for a listing that cannot be stepped through. */
export function stepperOf<T>(values: AsyncIterable<T>): Stepper<T> {
	const iterator = values[Symbol.asyncIterator]();
	const valueOf = (result: IteratorResult<T>): T | undefined => (result.done ? undefined : result.value);
	return { next: () => iterator.next().then(valueOf) };
}
