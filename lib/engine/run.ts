import type { Provider } from '../core/types';
import { Pacer } from '../core/pacer';
import type { RunSettings } from './executor';
import { checkOverlap } from './overlap';
import { housekeeping } from './safety';
import { explain, type Failure } from './failures';
import type { SyncStatus } from './listing';

/** What every run's report holds, whatever the mode. */
export interface RunReport {
	status: SyncStatus;
	startedAt: string;
	finishedAt: string;
	durationMs: number;
	retries: number;
	/** What the run decided or tidied that a user should know: a destination inside the source left out of it, leftovers of interrupted runs removed. */
	notes: string[];
	errors: Failure[];
	/** What best explains why the run did not fully work (a refused credential before one file's trouble); absent when it did. */
	failure?: Failure;
}

/**
 * The skeleton every mode runs on: one clock, one pacer for the engine's own retries, the folder
 * checks before anything is read, the tidying before anything is written, and one way to finish a
 * report (times, every cloud's retries, the failure that explains the run).
 */
/** What a run needs of a side it writes to that is no Provider (Google Photos, which only adds): its name and its pacer. */
export interface Paced {
	readonly name: string;
	readonly pacer?: Pacer;
}

export class Run<Destination extends Paced = Provider> {
	readonly started: number;
	readonly pacer: Pacer;
	readonly notes: string[] = [];

	constructor(
		readonly source: Provider,
		readonly destination: Destination,
		private readonly settings: RunSettings,
	) {
		this.started = settings.now?.() ?? Date.now();
		this.pacer = settings.pacer instanceof Pacer ? settings.pacer : new Pacer(settings.pacer);
	}

	/**
	 * Refuses folders that are one, or one inside the other; `nested: 'allow'` (modes that never change
	 * the source) lets a destination inside the source be, and returns its path there to leave out.
	 */
	async checkFolders(this: Run, what: string, nested: 'allow' | 'refuse'): Promise<string | undefined> {
		const overlap = await checkOverlap(this.source, this.destination, what, nested);
		if (overlap) this.notes.push(overlap.note);
		return overlap?.destinationInSource;
	}

	/** Before the first write to these sides: removes what interrupted runs left there. */
	async tidy(...sides: Provider[]): Promise<void> {
		this.notes.push(...(await housekeeping(sides)));
	}

	now(): number {
		return this.settings.now?.() ?? Date.now();
	}

	/** Completes `report` as `status`; `also` are failures the report holds elsewhere (a listing's). */
	finish<R extends RunReport>(report: R, status: SyncStatus, also: Failure[] = []): R {
		const now = this.now();
		report.status = status;
		report.startedAt = new Date(this.started).toISOString();
		report.finishedAt = new Date(now).toISOString();
		report.durationMs = now - this.started;
		report.retries = retriesOf(this.pacer, this.source, this.destination);
		report.notes = this.notes;
		report.failure = explain([...also, ...report.errors]);
		return report;
	}
}

/** Retries of a run: its own pacer's and each provider's (each cloud paces itself), every pacer counted once. */
function retriesOf(pacer: Pacer, ...providers: Paced[]): number {
	const pacers = new Set([pacer, ...providers.map((provider) => provider.pacer).filter((each): each is Pacer => each !== undefined)]);
	return [...pacers].reduce((sum, each) => sum + each.retries, 0);
}
