import type { Provider } from '../core/types';
import type { Pacer } from '../core/pacer';
import { NotFoundError } from '../core/errors';
import { forEachLimit } from '../core/concurrency';
import { parentPath, baseName } from '../core/paths';

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
	const side = provider.name === 'local' ? 'disk' : provider.name;
	if (size !== undefined && size > provider.capabilities.maxFileSize) {
		return `it is ${size} bytes, more than the ${provider.capabilities.maxFileSize} the ${side} side accepts in one file`;
	}
	if (!provider.nameProblem) return undefined;
	for (let rest = path; rest !== ''; rest = parentPath(rest)) {
		const problem = provider.nameProblem(baseName(rest));
		if (problem) return `the name "${baseName(rest)}" cannot be stored on the ${side} side: ${problem}`;
	}
	return undefined;
}

/**
 * The paths of `paths` that `provider` still holds when asked one by one. A deletion is planned
 * because a listing did not show a file; a listing a cloud cut short looks the same, so each
 * deletion's cause is confirmed first (one request per deletion, none when nothing is deleted).
 */
export async function stillThere(provider: Provider, paths: string[], pacer: Pacer, checkers: number, signal?: AbortSignal): Promise<string[]> {
	const found: string[] = [];
	await forEachLimit(paths, checkers, async (path) => {
		try {
			await pacer.run(() => provider.stat(path), signal);
			found.push(path);
		} catch (error) {
			if (!(error instanceof NotFoundError)) throw error;
		}
	}, signal);
	return found;
}
