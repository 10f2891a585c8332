import type { Provider } from '../core/types';
import type { Pacer } from '../core/pacer';
import { NotFoundError } from '../core/errors';
import { forEachLimitStream } from '../core/concurrency';
import { parentPath, baseName, normalizeRelativePath } from '../core/paths';
import { failureOf, type Failure } from './failures';

/** Lets each side a run will write tidy what interrupted runs left there; what they removed goes in the report. */
export async function housekeeping(providers: Provider[]): Promise<string[]> {
	const notes: string[] = [];
	for (const provider of new Set(providers)) {
		for (const note of (await provider.housekeeping?.()) ?? []) notes.push(`${provider.name}: ${note}`);
	}
	return notes;
}

/** Why `path` (of `size` bytes, for a file) cannot be stored on `provider`: its own name or a folder's on the way, or its size; undefined when it can. */
export function unstorableOn(provider: Provider, path: string, size?: number): string | undefined {
	if (size !== undefined && size > provider.capabilities.maxFileSize) {
		return `it is ${size} bytes, more than the ${provider.capabilities.maxFileSize} the ${provider.name} side accepts in one file`;
	}
	if (!provider.nameProblem) return undefined;
	for (let rest = path; rest !== ''; rest = parentPath(rest)) {
		const problem = provider.nameProblem(baseName(rest));
		if (problem) return `the name "${baseName(rest)}" cannot be stored on the ${provider.name} side: ${problem}`;
	}
	return undefined;
}

/** Deletions confirmed by one batched ask, at most. */
const CONFIRM_BATCH = 500;

/**
 * Confirms that `provider` (the run's `side`) no longer holds any of `paths`, the files whose absence
 * deletions rest on: a listing a cloud cut short looks like deletions. One file still there, or no
 * answer, is the failure that holds every deletion back. One request per deletion (per folder where
 * the provider asks for several names at once), none when nothing is deleted. The paths may stream
 * from disk; only those still found are held.
 */
export async function unconfirmedDeletions(
	provider: Provider,
	side: string,
	paths: Iterable<string> | AsyncIterable<string>,
	pacer: Pacer,
	checkers: number,
	signal?: AbortSignal,
): Promise<(Failure & { path: string }) | undefined> {
	const found: string[] = [];
	const askTogether = async (batch: string[]) => {
		const there = await pacer.run(() => provider.statMany!(batch, { signal }), signal);
		for (const path of batch) if (there.has(normalizeRelativePath(path))) found.push(path);
	};
	try {
		if (provider.statMany) {
			let batch: string[] = [];
			for await (const path of paths) {
				batch.push(path);
				if (batch.length < CONFIRM_BATCH) continue;
				await askTogether(batch);
				batch = [];
			}
			if (batch.length > 0) await askTogether(batch);
		} else {
			await forEachLimitStream(paths, checkers, async (path) => {
				try {
					await pacer.run(() => provider.stat(path), signal);
					found.push(path);
				} catch (error) {
					if (!(error instanceof NotFoundError)) throw error;
				}
			}, signal);
		}
	} catch (error) {
		const failure = failureOf(error);
		return { path: '', ...failure, message: `the deletions could not be confirmed on the ${side}: ${failure.message}` };
	}
	if (found.length === 0) return undefined;
	return {
		path: found[0],
		kind: 'IncompleteListing',
		message: `the ${side} listing left out ${found.length} file(s) that the ${side} still holds (${found.slice(0, 3).join(', ')}): it was incomplete, so nothing was deleted`,
		hint: 'Run the sync again; if it repeats, the cloud is returning incomplete listings.',
	};
}
