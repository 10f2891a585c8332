import { forEachLimitStream } from '../lib/core/concurrency';

/** The executor's queue runner: what a sync relies on is that no more than `limit` transfers run, every item is done, and a failure stops new ones. */
const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function* slowly(count: number): AsyncGenerator<number> {
	for (let i = 0; i < count; i++) yield i;
}

describe('forEachLimitStream', () => {
	it('runs every item with at most `limit` in flight, and returns once the last one is done', async () => {
		let inFlight = 0;
		let most = 0;
		const done: number[] = [];
		await forEachLimitStream(slowly(40), 4, async (item) => {
			inFlight++;
			most = Math.max(most, inFlight);
			await later(item % 3);
			inFlight--;
			done.push(item);
		});
		expect(most).toBe(4);
		expect(inFlight).toBe(0);
		expect([...done].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
	});

	it('after a failure takes no new item, lets those in flight finish, then throws it', async () => {
		const started: number[] = [];
		let finished = 0;
		const run = forEachLimitStream(slowly(100), 3, async (item) => {
			started.push(item);
			await later(5);
			if (item === 4) throw new Error('item 4 failed');
			finished++;
		});
		await expect(run).rejects.toThrow('item 4 failed');
		expect(started.length).toBeLessThan(10);
		expect(finished).toBe(started.length - 1);
	});

	it('hands the items not started to onAborted once the signal aborts', async () => {
		const controller = new AbortController();
		const skipped: number[] = [];
		const ran: number[] = [];
		await forEachLimitStream(slowly(10), 2, async (item) => {
			ran.push(item);
			if (item === 3) controller.abort();
			await later(1);
		}, controller.signal, (item) => skipped.push(item));
		expect([...ran, ...skipped].sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
		expect(skipped.length).toBeGreaterThan(0);
		expect(Math.min(...skipped)).toBeGreaterThan(3);
	});
});
