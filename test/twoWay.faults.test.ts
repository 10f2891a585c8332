import { MemoryStateStore, twoWaySync, type Provider, type StateStore } from '../lib';
import { quickPacer } from './support/dropbox';
import { cloudBackend, expected, iCloudDriveBackend, localBackend, put, tree, type Backend } from './support/sides';
import { removeTempDirs } from './support/trees';

afterAll(removeTempDirs);

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const at = (minutes: number) => T0 + minutes * 60_000;
const NOW = Date.UTC(2026, 11, 1, 21, 30, 5);
const START = { 'a.txt': 'alpha', 'docs/b.txt': 'bravo', 'docs/c.txt': 'charlie', 'd.txt': 'delta' };
const CALLS = new Set(['list', 'stat', 'read', 'write', 'mkdir', 'delete', 'move', 'copy', 'copyFrom', 'hash']);

/** Counts every provider call of a run and makes the n-th one fail for good, whichever side it is on. */
class StepFaults {
	calls = 0;
	failAt = 0;
	failed?: string;

	wrap(provider: Provider): Provider {
		return new Proxy(provider, {
			get: (target, property, receiver) => {
				const value = Reflect.get(target, property, receiver);
				if (typeof property !== 'string' || !CALLS.has(property) || typeof value !== 'function') return value;
				const step = () => {
					if (++this.calls === this.failAt) {
						this.failed = `${property} on ${target.name}`;
						throw new Error(`injected failure of step ${this.calls}: ${property}`);
					}
				};
				if (property === 'list') {
					return async function* (this: unknown, ...args: unknown[]) {
						step();
						yield* value.apply(target, args);
					};
				}
				return (...args: unknown[]) => {
					try {
						step();
					} catch (error) {
						return Promise.reject(error);
					}
					return value.apply(target, args);
				};
			},
		});
	}
}

/** Each side's changes since the last run: edits, additions, deletions and a conflict. */
async function change(source: Provider, destination: Provider) {
	await put(source, 'a.txt', 'alpha v2', at(5));
	await put(source, 'new.txt', 'new on source', at(5));
	await source.delete('docs/b.txt');
	await put(source, 'docs/c.txt', 'charlie from source', at(5));
	await put(destination, 'docs/c.txt', 'charlie from destination', at(7));
	await put(destination, 'docs/new-d.txt', 'new on destination', at(5));
	await destination.delete('d.txt');
}

const FINAL = expected({
	'a.txt': 'alpha v2',
	'new.txt': 'new on source',
	'docs/c.txt': 'charlie from destination',
	'docs/c (conflict source 2026-12-01 21-30-05).txt': 'charlie from source',
	'docs/new-d.txt': 'new on destination',
});

describe.each<[string, () => Promise<Backend>]>([
	['local ↔ local', async () => localBackend()],
	['Google Drive ↔ Dropbox (emulated)', cloudBackend],
	['iCloud Drive ↔ Google Drive (emulated)', iCloudDriveBackend],
])('a fault at every step of a two-way run, %s', (_name, makeBackend) => {
	let backend: Backend;
	beforeAll(async () => {
		backend = await makeBackend();
	});
	afterAll(async () => backend.stop());

	async function scenario(failAt: number, failSave = false) {
		const { source, destination } = await backend.pair();
		for (const [path, content] of Object.entries(START)) {
			await put(source, path, content, at(0));
			await put(destination, path, content, at(0));
		}
		const state = new MemoryStateStore();
		const options = { pair: 'faults', lock: false as const, pacer: quickPacer({ retriesPerRequest: 0 }), now: () => NOW };
		await twoWaySync(source, destination, { ...options, state });
		await change(source, destination);
		const saved = state.state;
		const faults = new StepFaults();
		faults.failAt = failAt;
		const flakyState: StateStore = { where: 'memory', load: () => state.load(), save: (text) => (failSave ? Promise.reject(new Error('state save failed')) : state.save(text)) };
		const faulted = await twoWaySync(faults.wrap(source), faults.wrap(destination), { ...options, state: flakyState }).catch((error: Error) => error);
		const baselineAfterFault = state.state;
		const clean = await twoWaySync(source, destination, { ...options, state });
		return { source, destination, faults, faulted, clean, baselineMoved: baselineAfterFault !== saved };
	}

	it('ends with both sides equal and every change kept, after one clean re-run', async () => {
		const reference = await scenario(0);
		expect(reference.faulted).toMatchObject({ status: 'success' });
		expect(await tree(reference.source)).toEqual(FINAL);
		const steps = reference.faults.calls;
		expect(steps).toBeGreaterThanOrEqual(8);
		const failedSteps: string[] = [];
		for (let step = 1; step <= steps + 1; step++) {
			const saveFails = step === steps + 1;
			const run = await scenario(saveFails ? 0 : step, saveFails);
			if (!saveFails) expect(run.faults.failed).toBeDefined();
			// The faulted run either failed outright or reported the failure; it never claims success.
			const outcome = run.faulted instanceof Error ? 'error' : run.faulted.status;
			expect(outcome).not.toBe('success');
			expect({ step, baselineMoved: run.baselineMoved }).toEqual({ step, baselineMoved: false });
			failedSteps.push(saveFails ? 'state save' : run.faults.failed!);
			expect(run.clean).toMatchObject({ status: 'success' });
			expect({ step, tree: await tree(run.source) }).toEqual({ step, tree: FINAL });
			expect({ step, tree: await tree(run.destination) }).toEqual({ step, tree: FINAL });
		}
		console.log(`${failedSteps.length} faulted runs: ${[...new Set(failedSteps.map((s) => s.split(' on ')[0]))].join(', ')}`);
	});
});
