import type { Capabilities, Entry, HashType, Hashes, Provider } from '../core/types';
import type { ActionKind, Plan, PlanAction, PlanQueues } from './planner';
import type { SpillQueue } from '../core/spill';
import { backupPath, depth, parentPath } from '../core/paths';
import type { Readable } from 'node:stream';
import { measure, measureBuffer, sameHash, type MeasuringStream } from '../core/hashing';
import { bufferStream, readWhole, wholeReadStream } from '../core/streams';
import { SliceStream, lazyStream } from '../providers/kit/streams';
import { Pacer, type PacerOptions } from '../core/pacer';
import { AbortedError, InvalidNameError, NotEmptyError, NotFoundError, VerificationError } from '../core/errors';
import { unconfirmedDeletions } from './safety';
import { failureOf, type Failure } from './failures';
import { forEachLimitStream } from '../core/concurrency';

export interface Progress {
	filesDone: number;
	filesTotal: number;
	bytesDone: number;
	bytesTotal: number;
	path?: string;
}

/** How a run goes about its work, common to every kind of run. */
export interface RunSettings {
	transfers?: number;
	checkers?: number;
	signal?: AbortSignal;
	onProgress?: (progress: Progress) => void;
	pacer?: Pacer | PacerOptions;
	/** The clock, for dated names; tests fix it. */
	now?: () => number;
}

export interface ExecuteOptions {
	/** Files copied at once (rclone --transfers); small copies a destination queues to threads of its own (copyFromQueue) do not count. */
	transfers?: number;
	/** Deletes, folder creations and hash checks at once (rclone --checkers). */
	checkers?: number;
	signal?: AbortSignal;
	onProgress?: (progress: Progress) => void;
	pacer?: Pacer;
	/** Why destination deletes must not run, decided before execution (a listing error). */
	holdDeletes?: string;
	/**
	 * Called as each action ends, with the action itself, so a caller with actions of its own finds its
	 * own by identity, and for a copy what it left on the destination (for callers that record state).
	 */
	onResult?: (action: PlanAction, result: ActionResult, failure?: Failure, written?: Entry) => void;
	/** Keep what is replaced or deleted on the destination: moved (or copied, before an overwrite) into this folder of the destination with `stamp` added to its name (rclone --backup-dir). */
	backup?: { dir: string; stamp: string };
	/**
	 * How many results the report keeps, first come (default: all); the rest are only counted
	 * (`resultsNotKept`), so a first copy of a million files does not hold a million results. Files
	 * skipped without an error (not started after a cancel, deletes held) take no place among them.
	 */
	resultLimit?: number;
}

export type ResultStatus = 'done' | 'failed' | 'skipped' | 'conflict';

export interface ActionResult {
	action: ActionKind;
	path: string;
	side: 'source' | 'destination';
	reason: string;
	status: ResultStatus;
	bytes: number;
	error?: string;
	/** Where a replaced or deleted file was kept. */
	keptAs?: string;
}

export interface ExecutionReport {
	added: number;
	updated: number;
	deleted: number;
	foldersCreated: number;
	foldersDeleted: number;
	movedSourcesDeleted: number;
	skipped: number;
	conflicts: number;
	failed: number;
	bytes: number;
	retries: number;
	cancelled: boolean;
	deletesHeld?: string;
	results: ActionResult[];
	/** Results beyond `resultLimit`, other than files skipped without an error, counted and not kept. */
	resultsNotKept: number;
	/** The first ERRORS_KEPT errors; `failed` counts them all. */
	errors: Array<{ path: string; action: ActionKind } & Failure>;
	/** Errors beyond ERRORS_KEPT, counted and not kept. */
	errorsNotKept: number;
}

/** Errors a report keeps: enough to act on, not one per file of a run where every file failed. */
export const ERRORS_KEPT = 1_000;

/** Adds a failure to the report: counted always, kept while fewer than ERRORS_KEPT are. */
export function reportError(report: ExecutionReport, error: ExecutionReport['errors'][number]): void {
	report.failed++;
	if (report.errors.length < ERRORS_KEPT) report.errors.push(error);
	else report.errorsNotKept++;
}

/**
 * The hash a destination computes itself on what it stored (a cloud's md5 or content_hash), to
 * compare with the one computed while sending. A local destination reports none: what it stored
 * is what it was handed, so its copies are checked by exact size before they are renamed into place.
 */
export function verificationHash(destination: Capabilities): HashType | undefined {
	return destination.listedHashTypes[0];
}

/**
 * Files up to this size are read whole and handed to the destination in one chunk: a source stream, a
 * measuring stream and the closures around them, alive for each small file's whole upload, were what
 * outlived V8's young collections and grew its young generation. A file this size was already read
 * as one chunk (the local provider reads 1 MiB at a time), so holding it costs no more memory.
 */
const WHOLE_READ_BYTES = 1024 * 1024;

export function emptyExecutionReport(): ExecutionReport {
	return {
		added: 0,
		updated: 0,
		deleted: 0,
		foldersCreated: 0,
		foldersDeleted: 0,
		movedSourcesDeleted: 0,
		skipped: 0,
		conflicts: 0,
		failed: 0,
		bytes: 0,
		retries: 0,
		cancelled: false,
		results: [],
		resultsNotKept: 0,
		errors: [],
		errorsNotKept: 0,
	};
}

/** Asks the source again for every file a Mirror deletion rests on; the reason to hold every deletion back when one is still there. */
async function confirmDeletions(deletes: Phase, source: Provider, pacer: Pacer, checkers: number, report: ExecutionReport, signal?: AbortSignal): Promise<string | undefined> {
	const failure = await unconfirmedDeletions(source, 'source', absentPaths(deletes.items), pacer, checkers, signal);
	if (!failure) return undefined;
	reportError(report, { action: 'delete', ...failure });
	return failure.message;
}

async function* absentPaths(deletes: Phase['items']): AsyncGenerator<string> {
	for await (const action of deletes) if (action.absentFrom !== undefined) yield action.absentFrom;
}

function errorMessage(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}

/** What the executor runs: a plan, or any list of actions (two-way and snapshots make theirs without planning). */
export type Work = Pick<Plan, 'actions'> & Partial<Pick<Plan, 'counts' | 'bytesToTransfer'>>;

/** A plan made as the listings streamed by: its actions in queues that may live on disk. */
export interface StreamedWork {
	queues: PlanQueues;
	counts: Record<ActionKind, number>;
	bytesToTransfer: number;
}

/** One phase of a run: its actions in the order they run, and how many. */
interface Phase {
	items: Iterable<PlanAction> | AsyncIterable<PlanAction>;
	count: number;
}

type Phases = Record<'mkdir' | 'transfers' | 'sourceDeletes' | 'destinationDeletes' | 'rmdir' | 'conflicts', Phase>;

function phasesOf(work: Work | StreamedWork): Phases {
	if ('queues' in work) {
		const { queues } = work;
		const phase = (queue: SpillQueue<PlanAction>, items: Phase['items'] = queue): Phase => ({ items, count: queue.length });
		return {
			mkdir: phase(queues.mkdir),
			transfers: phase(queues.transfers),
			sourceDeletes: phase(queues.sourceDeletes),
			destinationDeletes: phase(queues.destinationDeletes),
			rmdir: phase(queues.rmdir, queues.rmdir.reversed()),
			conflicts: phase(queues.conflicts),
		};
	}
	const phase = (test: (action: PlanAction) => boolean): Phase => {
		const items = work.actions.filter(test);
		return { items, count: items.length };
	};
	const mkdir = phase((action) => action.kind === 'mkdir');
	(mkdir.items as PlanAction[]).sort((a, b) => depth(a.path) - depth(b.path));
	return {
		mkdir,
		transfers: phase((action) => action.kind === 'copy' || action.kind === 'update'),
		sourceDeletes: phase((action) => action.kind === 'delete' && action.side === 'source'),
		destinationDeletes: phase((action) => action.kind === 'delete' && action.side === 'destination'),
		rmdir: phase((action) => action.kind === 'rmdir'),
		conflicts: phase((action) => action.kind === 'conflict'),
	};
}

function bytesPlanned(work: Work | StreamedWork): number {
	if (work.bytesToTransfer !== undefined) return work.bytesToTransfer;
	return (work as Work).actions.filter((action) => action.kind === 'copy' || action.kind === 'update').reduce((sum, action) => sum + Math.max(0, action.source?.size ?? 0), 0);
}

export async function execute(plan: Work | StreamedWork, source: Provider, destination: Provider, options: ExecuteOptions = {}): Promise<ExecutionReport> {
	const { signal } = options;
	const pacer = options.pacer ?? new Pacer();
	const transfers = options.transfers ?? 4;
	const checkers = options.checkers ?? 8;
	const verifyType = verificationHash(destination.capabilities);
	const report = emptyExecutionReport();
	const phases = phasesOf(plan);
	const progress: Progress = {
		filesDone: 0,
		filesTotal: phases.transfers.count + phases.sourceDeletes.count + phases.destinationDeletes.count + phases.mkdir.count + phases.rmdir.count,
		bytesDone: 0,
		bytesTotal: bytesPlanned(plan),
	};

	const resultLimit = options.resultLimit ?? Number.POSITIVE_INFINITY;
	let resultsKept = 0;
	const keepResult = (result: ActionResult) => {
		const plainSkip = result.status === 'skipped' && result.error === undefined;
		if (plainSkip ? report.results.length < resultLimit : resultsKept < resultLimit) {
			report.results.push(result);
			if (!plainSkip) resultsKept++;
		} else if (!plainSkip) report.resultsNotKept++;
	};

	/**
	 * `written` goes to onResult only, not into the report: a result per file of a large first copy is
	 * what a run holds longest, and the entries written doubled it (a 200,000-file copy: 350 to 307 MiB).
	 */
	const record = (action: PlanAction, status: ResultStatus, bytes = 0, error?: unknown, reason = action.reason, extra: Pick<ActionResult, 'keptAs'> = {}, written?: Entry) => {
		const result: ActionResult = { action: action.kind, path: action.path, side: action.side, reason, status, bytes, ...extra };
		let failure: Failure | undefined;
		if (error !== undefined) {
			result.error = errorMessage(error);
			failure = { ...failureOf(error), message: result.error };
			reportError(report, { path: action.path, action: action.kind, ...failure });
		}
		options.onResult?.(action, result, failure, written);
		if (status === 'skipped') report.skipped++;
		if (status === 'conflict') report.conflicts++;
		keepResult(result);
		if (status === 'done' || status === 'failed') {
			progress.filesDone++;
			progress.path = action.path;
			options.onProgress?.({ ...progress });
		}
	};
	const attempt = async <T>(operation: () => Promise<T>): Promise<T> => pacer.run(operation, signal);
	const cancelledSkip = (action: PlanAction) => record(action, 'skipped', 0, undefined, 'not started: the sync was cancelled');

	const serverSide = destination.canCopyFrom?.(source) === true;

	/** What the destination says it holds against what was sent: the size, and the hash where both sides have one. */
	const verifyWritten = (path: string, written: Entry, sentBytes: number, sent: string | undefined) => {
		if (written.size !== sentBytes) {
			throw new VerificationError(`${path}: destination holds ${written.size} bytes, ${sentBytes} were sent`);
		}
		const stored = verifyType && written.hashes[verifyType];
		if (sent && stored && !sameHash(verifyType!, sent, stored)) {
			throw new VerificationError(`${path}: destination ${verifyType} ${stored} differs from the ${sent} sent`);
		}
	};

	/**
	 * A small file is read whole and checked (size, listed hashes) when the destination first reads it,
	 * not before: a destination that refuses the file first (a name it cannot hold, a folder swapped for
	 * a link) never has its source read.
	 */
	const copyWhole = async (action: PlanAction, from: Entry, hashTypes: Set<HashType>): Promise<Entry> => {
		let read: Promise<{ bytes: Buffer; hashes: Hashes }> | undefined;
		const readChecked = () =>
			(read ??= (async () => {
				const bytes = source.readWhole
					? await source.readWhole(from.path, { maxBytes: from.size, signal })
					: await readWhole(await source.read(from.path, { signal }), from.size);
				return { bytes, hashes: measureBuffer(bytes, hashTypes, { size: from.size, hashes: from.hashes }) };
			})());
		const written = await destination.write(action.path, wholeReadStream(async () => (await readChecked()).bytes), {
			size: from.size,
			modTime: from.modTime,
			hashTypes: verifyType ? [verifyType] : [],
			signal,
			sourceHashes: from.hashes,
			from: async (offset) => bufferStream((await readChecked()).bytes.subarray(offset)),
		});
		const sent = await read;
		verifyWritten(action.path, written, sent?.bytes.length ?? 0, verifyType && sent?.hashes[verifyType]);
		return written;
	};

	const copyStreamed = async (action: PlanAction): Promise<Entry> => {
		const from = action.source!;
		const hashTypes = new Set<HashType>(Object.keys(from.hashes) as HashType[]);
		if (verifyType) hashTypes.add(verifyType);
		if (from.size >= 0 && from.size <= WHOLE_READ_BYTES) return copyWhole(action, from, hashTypes);
		const known = from.size >= 0 ? from.size : undefined;
		let measured: MeasuringStream | undefined;
		// Opened when the destination first reads it: a resumed upload may read only the rest (below) instead.
		const content = lazyStream(async () => (measured = measure(await source.read(from.path, { signal }), hashTypes, { size: known, hashes: from.hashes })));
		const knownHash = verifyType && from.hashes[verifyType];
		let resumed: { at: number; tail?: MeasuringStream } | undefined;
		// A provider resuming an upload asks for the source past what the cloud holds. Where the source's own
		// hash proves the result, only that rest is read (a ranged read); otherwise the whole source is read
		// and hashed, and only its rest is handed on.
		const rest = async (offset: number): Promise<Readable> => {
			if (knownHash && known !== undefined) {
				content.destroy();
				const tail = measure(await source.read(from.path, { start: offset, signal }), [], { size: known - offset });
				resumed = { at: offset, tail };
				return tail;
			}
			resumed = { at: offset };
			return content.pipe(new SliceStream(offset, Number.POSITIVE_INFINITY));
		};
		let written: Entry;
		try {
			written = await destination.write(action.path, content, {
				size: known,
				modTime: from.modTime,
				hashTypes: verifyType ? [verifyType] : [],
				signal,
				sourceHashes: from.hashes,
				from: known === undefined ? undefined : rest,
			});
		} finally {
			// A write that failed before reading everything must not leave the source open.
			content.destroy();
			resumed?.tail?.destroy();
		}
		const sentBytes = resumed?.tail ? resumed.at + resumed.tail.bytes : (measured?.bytes ?? 0);
		verifyWritten(action.path, written, sentBytes, verifyType && (resumed?.tail ? knownHash : measured?.hashes[verifyType]));
		return written;
	};

	// A server-side copy is handed on as it is, without an async frame of its own: one more promise and
	// frame for each of the copies a destination queues, all alive for the whole copy.
	const copyOnce = (action: PlanAction): Promise<Entry> =>
		serverSide ? destination.copyFrom!(source, action.source!.path, action.path) : copyStreamed(action);

	/** A name the destination cannot hold is that file's problem, reported with it; the run goes on and is not failed by it. */
	const failOrReport = (action: PlanAction, error: unknown) => {
		if (error instanceof InvalidNameError) record(action, 'conflict', 0, undefined, error.message);
		else record(action, 'failed', 0, signal?.aborted ? new AbortedError() : error);
	};

	const perform = async (action: PlanAction, operation: () => Promise<unknown>, count: () => void, extra?: Pick<ActionResult, 'keptAs'>) => {
		try {
			await operation();
			count();
			record(action, 'done', 0, undefined, action.reason, extra);
		} catch (error) {
			failOrReport(action, error);
		}
	};

	/** `planned`: the file the plan saw there, which a provider may delete on condition that it is still that version. */
	const deleteOn = async (provider: Provider, path: string, planned?: Entry) => {
		try {
			await attempt(() => (planned && !planned.isDir ? provider.delete(path, { planned }) : provider.delete(path)));
		} catch (error) {
			if (!(error instanceof NotFoundError)) throw error;
		}
	};

	// Copies a destination queues to threads of its own run beyond the transfers limit, up to its queue's depth; every other copy takes one of the transfers.
	const queue = serverSide ? destination.copyFromQueue : undefined;
	// The threads start while the folders are made, not when the first copy waits for them.
	if (phases.transfers.count > 0) queue?.warmUp?.();

	// Folders in walk order: each waits only for its own parent, so siblings are made together. The
	// folders being made (checkers at most) are a short array, not a Map by path: V8 rebuilds the table of
	// a long-lived Map that entries keep entering and leaving in its old generation, and each replaced
	// table keeps what it held (here each folder's promise and action) through young collections.
	const making: Array<{ path: string; made: Promise<void> }> = [];
	await forEachLimitStream(phases.mkdir.items, checkers, async (action) => {
		const parent = parentPath(action.path);
		const parentMade = making.find((each) => each.path === parent)?.made;
		const made = (async () => {
			await parentMade;
			await perform(action, () => attempt(() => destination.mkdir(action.path)), () => report.foldersCreated++);
		})();
		const entry = { path: action.path, made };
		making.push(entry);
		await made;
		making.splice(making.indexOf(entry), 1);
	}, signal, cancelledSkip);

	const { backup } = options;
	const keptPath = (path: string) => (backup ? backupPath(path, backup.dir, backup.stamp) : undefined);
	/** A copy inside the destination, before the original is overwritten: server-side where the cloud can. */
	const keepCopy = async (path: string, kept: string) => {
		if (destination.copy) return destination.copy(path, kept);
		const current = await destination.stat(path);
		return destination.write(kept, await destination.read(path, { signal }), { size: current.size, modTime: current.modTime, signal });
	};

	let freeTransfers = transfers;
	const waitingForTransfer: Array<() => void> = [];
	const takeTransfer = async () => {
		if (freeTransfers > 0) freeTransfers--;
		else await new Promise<void>((resolve) => waitingForTransfer.push(resolve));
	};
	const giveTransfer = () => {
		const next = waitingForTransfer.shift();
		if (next) next();
		else freeTransfers++;
	};
	await forEachLimitStream(phases.transfers.items, Math.max(transfers, queue?.depth ?? 0), async (action) => {
		let written: Entry;
		const kept = action.kind === 'update' ? keptPath(action.path) : undefined;
		const size = action.source!.size;
		const queued = queue !== undefined && size >= 0 && size <= queue.maxBytes;
		if (!queued) await takeTransfer();
		try {
			if (kept) await attempt(() => keepCopy(action.path, kept));
			written = await attempt(() => copyOnce(action));
		} catch (error) {
			failOrReport(action, error);
			return;
		} finally {
			if (!queued) giveTransfer();
		}
		report.bytes += written.size;
		progress.bytesDone += written.size;
		if (action.kind === 'copy') report.added++;
		else report.updated++;
		record(action, 'done', written.size, undefined, action.reason, kept ? { keptAs: kept } : undefined, written);
		if (action.deleteSourceAfter) {
			try {
				await deleteOn(source, action.source!.path, action.source);
				report.movedSourcesDeleted++;
			} catch (error) {
				reportError(report, { path: action.source!.path, action: 'delete', ...failureOf(error), message: `copied, but the source could not be deleted: ${errorMessage(error)}` });
			}
		}
	}, signal);

	await forEachLimitStream(phases.sourceDeletes.items, checkers, async (action) => {
		await perform(action, () => deleteOn(source, action.path, action.source), () => report.movedSourcesDeleted++);
	}, signal, cancelledSkip);

	const transferFailures = report.failed;
	let holdDeletes =
		options.holdDeletes ??
		(signal?.aborted ? 'the sync was cancelled' : transferFailures > 0 ? `${transferFailures} earlier action(s) failed` : undefined);
	if (!holdDeletes) holdDeletes = await confirmDeletions(phases.destinationDeletes, source, pacer, checkers, report, signal);
	if (holdDeletes && phases.destinationDeletes.count + phases.rmdir.count > 0) report.deletesHeld = holdDeletes;

	if (holdDeletes) {
		for await (const action of phases.destinationDeletes.items) record(action, 'skipped', 0, undefined, `not deleted: ${holdDeletes}`);
	} else {
		await forEachLimitStream(phases.destinationDeletes.items, checkers, async (action) => {
			const kept = keptPath(action.path);
			const remove = kept ? () => attempt(() => destination.move(action.path, kept)) : () => deleteOn(destination, action.path, action.destination);
			await perform(action, remove, () => report.deleted++, kept ? { keptAs: kept } : undefined);
		}, signal, (action) => record(action, 'skipped', 0, undefined, 'not deleted: the sync was cancelled'));
	}

	for await (const action of phases.rmdir.items) {
		if (holdDeletes || signal?.aborted) {
			record(action, 'skipped', 0, undefined, `not deleted: ${holdDeletes ?? 'the sync was cancelled'}`);
			continue;
		}
		try {
			await attempt(() => destination.delete(action.path));
			report.foldersDeleted++;
			record(action, 'done');
		} catch (error) {
			if (error instanceof NotEmptyError) record(action, 'skipped', 0, undefined, 'folder kept: it still holds files outside the sync');
			else if (error instanceof NotFoundError) record(action, 'done');
			else record(action, 'failed', 0, error);
		}
	}

	// Unchanged files are counted, not listed: a no-op run over a large tree would otherwise build a result per file.
	report.skipped += plan.counts?.skip ?? 0;
	for await (const action of phases.conflicts.items) record(action, 'conflict');

	if (signal?.aborted) report.cancelled = true;
	report.retries = pacer.retries;
	return report;
}
