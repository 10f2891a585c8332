import type { Entry } from '../../core/types';
import { matchKey, parentPath } from '../../core/paths';

/**
 * Yields listed entries so that every folder comes before what it holds, whatever order a cloud's
 * pages bring them in (the engine's Provider.list promises that order): an entry whose folder has
 * not been seen yet waits for it.
 */
export class ParentsFirst {
	private readonly seen = new Set<string>();
	private readonly waiting = new Map<string, Entry[]>();

	constructor(
		private readonly base: string,
		private readonly caseInsensitive: boolean,
	) {}

	*accept(entry: Entry): Generator<Entry> {
		const parent = this.key(parentPath(entry.path));
		if (parent !== this.key(this.base) && !this.seen.has(parent)) {
			const siblings = this.waiting.get(parent) ?? [];
			siblings.push(entry);
			this.waiting.set(parent, siblings);
			return;
		}
		yield* this.release(entry);
	}

	/** Entries whose folder never came, which a consistent listing does not have. */
	*rest(): Generator<Entry> {
		for (const entries of this.waiting.values()) yield* entries;
		this.waiting.clear();
	}

	private key(path: string): string {
		return matchKey(path, this.caseInsensitive);
	}

	private *release(entry: Entry): Generator<Entry> {
		const pending = [entry];
		while (pending.length > 0) {
			const next = pending.pop()!;
			yield next;
			if (!next.isDir) continue;
			const key = this.key(next.path);
			this.seen.add(key);
			pending.push(...(this.waiting.get(key) ?? []).reverse());
			this.waiting.delete(key);
		}
	}
}
