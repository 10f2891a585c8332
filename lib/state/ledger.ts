import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { StateError } from './state';

/** One source file a library holds, as it was when it was added. */
export interface LedgerEntry {
	/** The source's path: the ledger's key. */
	path: string;
	size: number;
	modTime: number;
	mediaItemId: string;
	/** Index into the ledger's albums. */
	album: number;
	/** The source's own id for the file (iCloud's record name), when it has one: a file moved at the source keeps it. */
	sourceId?: string;
	/** When a run first found the file gone from the source; the library keeps it (Google Photos cannot delete). */
	goneSince?: number;
	/** Gone, but the run that found it failed: the next run that ends in a summary lists it. */
	unreported?: boolean;
}

/** Bytes sent whose media item is not made yet (a run stopped by the quota): their token serves the next run for a day. */
export interface PendingUpload {
	path: string;
	size: number;
	modTime: number;
	uploadToken: string;
	uploadedAt: number;
}

export interface Ledger {
	/** Which sync this ledger belongs to; one of another sync is never used. */
	pair: string;
	savedAt: number;
	albums: Array<{ id: string; title: string }>;
	entries: Map<string, LedgerEntry>;
	pending: Map<string, PendingUpload>;
}

const FORMAT = 'cloudsync-ledger-1';

export function emptyLedger(pair: string): Ledger {
	return { pair, savedAt: 0, albums: [], entries: new Map(), pending: new Map() };
}

type Row = [path: string, size: number, modTime: number, mediaItemId: string, album: number, sourceId?: string | null, goneSince?: number | null, unreported?: 1];
type PendingRow = [path: string, size: number, modTime: number, uploadToken: string, uploadedAt: number];

/** The ledger as gzip'd JSON in base64, rows as arrays: about 60 bytes a photo, most of it Google's 100-character item ids. */
export function encodeLedger(ledger: Ledger): string {
	const rows: Row[] = [...ledger.entries.values()]
		.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
		.map((entry) => {
			const row: Row = [entry.path, entry.size, entry.modTime, entry.mediaItemId, entry.album];
			if (entry.sourceId !== undefined || entry.goneSince !== undefined) row.push(entry.sourceId ?? null);
			if (entry.goneSince !== undefined) row.push(entry.goneSince);
			if (entry.goneSince !== undefined && entry.unreported) row.push(1);
			return row;
		});
	const pending: PendingRow[] = [...ledger.pending.values()].map((upload) => [upload.path, upload.size, upload.modTime, upload.uploadToken, upload.uploadedAt]);
	const json = JSON.stringify({ format: FORMAT, pair: ledger.pair, savedAt: ledger.savedAt, albums: ledger.albums, rows, pending });
	return gzipSync(Buffer.from(json, 'utf8'), { level: 9 }).toString('base64');
}

export function decodeLedger(text: string): Ledger {
	let parsed: { format?: string; pair?: string; savedAt?: number; albums?: Ledger['albums']; rows?: Row[]; pending?: PendingRow[] };
	try {
		parsed = JSON.parse(gunzipSync(Buffer.from(text, 'base64')).toString('utf8'));
	} catch (error) {
		throw new StateError('The saved Google Photos ledger is not readable', { cause: error, hint: 'Delete the node and add it again to start a new ledger; photos already in the album are found again by their descriptions.' });
	}
	if (parsed.format !== FORMAT) throw new StateError(`The saved Google Photos ledger has an unknown format (${String(parsed.format).slice(0, 40)})`);
	const entries = new Map<string, LedgerEntry>();
	for (const [path, size, modTime, mediaItemId, album, sourceId, goneSince, unreported] of parsed.rows ?? []) {
		const entry: LedgerEntry = { path, size, modTime, mediaItemId, album, sourceId: sourceId ?? undefined, goneSince: goneSince ?? undefined, unreported: unreported === 1 || undefined };
		// Two rows of one path: a photo gone from the source and the one that took its name; the gone one is set aside.
		const taken = entries.get(path);
		if (taken && entry.goneSince !== undefined) entries.set(asideKey(entry), entry);
		else {
			if (taken) entries.set(asideKey(taken), taken);
			entries.set(path, entry);
		}
	}
	const pending = new Map<string, PendingUpload>();
	for (const [path, size, modTime, uploadToken, uploadedAt] of parsed.pending ?? []) pending.set(path, { path, size, modTime, uploadToken, uploadedAt });
	return { pair: parsed.pair ?? '', savedAt: parsed.savedAt ?? 0, albums: parsed.albums ?? [], entries, pending };
}

/** Where the ledger keeps a photo gone from the source whose path another photo of the source now has (iCloud Photos hands an equal name on). */
const asideKey = (entry: LedgerEntry) => `${entry.path}\u0000${entry.mediaItemId}`;

/** Moves an entry off its path, which another source file now holds. */
export function setAside(ledger: Ledger, entry: LedgerEntry): void {
	if (ledger.entries.get(entry.path) === entry) ledger.entries.delete(entry.path);
	ledger.entries.set(asideKey(entry), entry);
}

/** Removes an entry, on its path or set aside. */
export function removeEntry(ledger: Ledger, entry: LedgerEntry): void {
	ledger.entries.delete(ledger.entries.get(entry.path) === entry ? entry.path : asideKey(entry));
}

/**
 * What each media item's description says about where it came from, so that a ledger lost with
 * n8n's static data (queue-mode workers and editor runs do not carry it) is found again in the album
 * itself: Google Photos holds no file of ours, but it keeps the description it was given. `origin`
 * names the source (see `sourceOrigin`): another sync adding to an album of the same title (another
 * person's library, say) must not have its items taken for this one's, which would report them deleted.
 */
export function describeSource(path: string, size: number, modTime: number, origin?: string): string {
	return `Cloud Sync: ${path} · ${size} bytes · ${new Date(modTime).toISOString()}${origin ? ` · from ${origin}` : ''}`;
}

const DESCRIPTION = /^Cloud Sync: ([\s\S]+) · (\d+) bytes · (\d{4}-\d\d-\d\dT[\d:.]+Z)(?: · from ([0-9a-f]{8}))?$/;

/** The source file a description names, and its source when it says; undefined for one this package did not write (or cut short). */
export function sourceOfDescription(description: string | undefined): { path: string; size: number; modTime: number; origin?: string } | undefined {
	const match = description ? DESCRIPTION.exec(description) : null;
	if (!match) return undefined;
	const modTime = Date.parse(match[3]);
	return Number.isNaN(modTime) ? undefined : { path: match[1], size: Number(match[2]), modTime, origin: match[4] };
}

/** 8 hex characters naming a source folder by where it is (its account and path, as `locate` gives them), not by the credential that reads it. */
export function sourceOrigin(location: { namespace: string; chain: string[] }): string {
	return createHash('sha256').update(`${location.namespace}\u0000${location.chain.join('/')}`).digest('hex').slice(0, 8);
}
