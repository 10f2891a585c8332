/**
 * A cloud's change log, for change feeds and cursors: positions are stable, so a cursor is a
 * position. What an entry holds is the cloud's choice, because feeds differ in what they report: a
 * snapshot of the metadata at the time (Dropbox) or only which item changed, reported in its
 * current state (Drive's changes, OneDrive's delta).
 */
export class Journal<E> {
	private readonly entries: E[] = [];

	/** The position the next entry gets: a cursor taken now sees only what comes later. */
	get head(): number {
		return this.entries.length;
	}

	record(entry: E): void {
		this.entries.push(entry);
	}

	at(position: number): E {
		return this.entries[position];
	}

	/** Positions from `from` on whose entries pass `keep`, oldest first. */
	positions(from: number, keep: (entry: E) => boolean = () => true): number[] {
		const found: number[] = [];
		for (let position = from; position < this.entries.length; position++) if (keep(this.entries[position])) found.push(position);
		return found;
	}

	/** The last position of each item (by `key`) from `from` on, oldest first: a feed that reports each changed item once. */
	latest(from: number, key: (entry: E) => string, keep: (entry: E) => boolean): number[] {
		const last = new Map<string, number>();
		for (const position of this.positions(from, keep)) last.set(key(this.entries[position]), position);
		return [...last.values()].sort((a, b) => a - b);
	}
}
