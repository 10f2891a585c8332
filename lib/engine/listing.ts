import type { Entry, HashType, Provider } from '../core/types';
import { includes, type Filter } from '../core/filters';
import type { Pacer } from '../core/pacer';
import { CloudSyncError, NotFoundError } from '../core/errors';
import { normalizeRelativePath } from '../core/paths';

/** How a run ended. */
export type SyncStatus = 'success' | 'partial' | 'failed' | 'cancelled' | 'refused' | 'planned';

export interface Listing {
	entries: Entry[];
	error?: Error;
}

/** Lists a provider's tree (or one level, or below `path`) through the filter, retrying transient failures from the start. */
export async function listAll(provider: Provider, filter: Filter, pacer: Pacer, signal?: AbortSignal, recursive = true, path = ''): Promise<Listing> {
	let entries: Entry[] = [];
	try {
		await pacer.run(async () => {
			entries = [];
			for await (const entry of provider.list(path, { recursive, signal })) {
				if (includes(filter, entry)) entries.push(entry);
			}
		}, signal);
		return { entries };
	} catch (error) {
		return { entries, error: error as Error };
	}
}

/** A destination folder that does not exist yet is empty: writing creates it. */
export function missingRootIsEmpty(listing: Listing): Listing {
	const missing = listing.error instanceof NotFoundError && listing.error.path === '' && listing.entries.length === 0;
	return missing ? { entries: [] } : listing;
}

/** The entries at `paths` (nothing where a path does not exist), with the subtree of each folder. */
export async function listPaths(provider: Provider, paths: string[], filter: Filter, pacer: Pacer, signal?: AbortSignal): Promise<Listing> {
	const found = new Map<string, Entry>();
	const keep = (entry: Entry) => {
		if (includes(filter, entry)) found.set(entry.path, entry);
	};
	try {
		for (const path of new Set(paths.map(normalizeRelativePath))) {
			const entry = await pacer.run(async () => provider.stat(path).catch((error) => (error instanceof NotFoundError ? undefined : Promise.reject(error))), signal);
			if (!entry) continue;
			if (entry.path !== '') keep(entry);
			if (!entry.isDir) continue;
			await pacer.run(async () => {
				for await (const child of provider.list(entry.path, { recursive: true, signal })) keep(child);
			}, signal);
		}
		return { entries: [...found.values()] };
	} catch (error) {
		return { entries: [...found.values()], error: error as Error };
	}
}

/** Throws the listing's own typed error, saying what stopped, when either listing ended in one: half a listing must never be planned on. */
export function requireComplete(listings: Record<'source' | 'destination', Listing>, stopped: string, after: string): void {
	for (const [side, listing] of Object.entries(listings)) {
		const error = listing.error;
		if (!error) continue;
		error.message = `${stopped}: the ${side} could not be listed. ${error.message}`;
		if (error instanceof CloudSyncError) error.hint ??= `Run it again; ${after}.`;
		throw error instanceof CloudSyncError ? error : new CloudSyncError(error.message, { cause: error, hint: `Run it again; ${after}.` });
	}
}

/** Folders the engine writes into on a side, left out of every listing. */
export function reservedFolders(backupDir?: string): string[] {
	return backupDir ? [backupDir] : [];
}

/** Each side's own words for where its deleted and replaced files went, for the sides given. */
export function recoveryOf(sides: Partial<Record<'source' | 'destination', Provider>>): Partial<Record<'source' | 'destination', string>> {
	const recovery: Partial<Record<'source' | 'destination', string>> = {};
	for (const side of ['source', 'destination'] as const) {
		const text = sides[side]?.recovery?.();
		if (text) recovery[side] = text;
	}
	return recovery;
}

/** The hash both providers can produce, cheapest for the destination first. */
export function comparableHash(source: Provider, destination: Provider): HashType | undefined {
	const listedFirst = [...destination.capabilities.listedHashTypes, ...destination.capabilities.hashTypes];
	return listedFirst.find((type) => source.capabilities.hashTypes.includes(type));
}
