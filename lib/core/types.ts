import type { Readable } from 'node:stream';
import type { Pacer } from './pacer';

/** Hash algorithms the engine understands, named as rclone names them. */
export type HashType = 'md5' | 'sha1' | 'sha256' | 'dropbox' | 'quickxor';
export const HASH_TYPES: readonly HashType[] = ['md5', 'sha1', 'sha256', 'dropbox', 'quickxor'];

export type Hashes = Partial<Record<HashType, string>>;

/** One file or folder as a provider lists it. `path` is relative to the provider's root, '/'-separated, as the cloud spells it. */
export interface Entry {
	path: string;
	isDir: boolean;
	/** Bytes; -1 when the cloud has no byte size (Google Docs). */
	size: number;
	/** Milliseconds since the epoch. */
	modTime: number;
	/** Hashes the cloud already knows; nothing is computed to fill this in. */
	hashes: Hashes;
	id?: string;
	/**
	 * The cloud's name for this version of the file (Dropbox's rev), where a request can be made
	 * conditional on it: what a delete names to refuse a file changed after it was listed.
	 */
	version?: string;
	mimeType?: string;
	/**
	 * The cloud rewrites this file's bytes after storing them (SharePoint adds its properties to Office
	 * files): its size and hashes prove nothing, and its modification time alone says whether it changed.
	 */
	rewritten?: boolean;
}

/**
 * What the engine must know of a side to decide correctly. Optional features are optional methods
 * (copy, copyFrom, changeCursor, locate...), not flags.
 */
export interface Capabilities {
	/** Hashes this provider can give, cheapest first. */
	hashTypes: HashType[];
	/** Hashes present on listed entries at no extra cost. */
	listedHashTypes: HashType[];
	/** Smallest modtime step the provider stores, in ms. */
	modTimePrecisionMs: number;
	/** Whether a written file keeps the modification time it was given; when not, times prove nothing and size and hashes decide. */
	canSetModTime: boolean;
	caseInsensitive: boolean;
	/** Largest file the provider accepts, in bytes; Infinity when unbounded. A larger one is reported, not sent. */
	maxFileSize: number;
	/** Whether a folder exists without files in it; object stores have only prefixes, so empty folders are not made there. */
	emptyFolders: boolean;
}

export interface ReadOptions {
	/** Inclusive start and exclusive end, in bytes. */
	start?: number;
	end?: number;
	signal?: AbortSignal;
}

export interface WriteOptions {
	/** Known size in bytes; undefined when the stream's length is not known in advance. */
	size?: number;
	modTime?: number;
	/** Hashes the caller wants back for the written bytes. */
	hashTypes?: HashType[];
	signal?: AbortSignal;
	/** Hashes the source listed for these bytes: with size and modTime, what tells one version of the source from another when an earlier upload is resumed. */
	sourceHashes?: Hashes;
	/**
	 * The same source again, from byte `offset` on. A provider that resumes an earlier upload, of which
	 * the cloud already holds the first `offset` bytes, reads the rest from this stream and leaves
	 * `content` unread; the caller then checks the whole file (size, and hash where it knows one).
	 */
	from?: (offset: number) => Promise<Readable>;
}

/** The source of an upload, as a saved session must match it to be resumed: one destination path, one version of the file. */
export interface UploadIdentity {
	/** Where the file is written, relative to the provider's root. */
	path: string;
	size: number;
	modTime?: number;
	/** One hash of the source, as "type:value", when the source listed one. */
	hash?: string;
}

/** An unfinished upload's session, kept so that a later run can go on with it. */
export interface SavedUpload extends UploadIdentity {
	/** The cloud account and root the session belongs to, as the provider names them. */
	scope: string;
	/** Drive's resumable session URI, Dropbox's upload session id, OneDrive's upload URL. */
	session: string;
	/** Bytes the cloud had confirmed when this was saved; the cloud is asked again before resuming. */
	offset: number;
	/** Milliseconds since the epoch after which the cloud has forgotten the session. */
	expiresAt: number;
}

/**
 * Where providers keep their unfinished uploads' sessions between runs (the kit's UploadSessions).
 * A provider calls `find` before a large upload, `begin` once the cloud opened a session, `advance`
 * as chunks are confirmed and `end` when the file is in place or the session is given up.
 */
export interface UploadSessionStore {
	/**
	 * The session saved for this upload when it is for the same source and has not expired (`saved`);
	 * one saved for another version of the file is forgotten and returned as `stale`, for the provider
	 * to cancel where the cloud allows.
	 */
	find(scope: string, identity: UploadIdentity): Promise<{ saved?: SavedUpload; stale?: SavedUpload }>;
	/** Records a new session; it is saved before this resolves, so that a process killed right after can resume it. */
	begin(upload: SavedUpload): Promise<void>;
	/** The cloud confirmed `offset` bytes; saved within a few seconds. */
	advance(scope: string, path: string, offset: number): void;
	/** The session is finished or given up. */
	end(scope: string, path: string): void;
}

export interface ListOptions {
	recursive?: boolean;
	signal?: AbortSignal;
}

export type ChangeKind = 'added' | 'modified' | 'deleted' | 'moved';

export interface Change {
	kind: ChangeKind;
	/** Path relative to the provider's root, after the change. */
	path: string;
	/** Where a moved entry was before, when the cloud says. */
	previousPath?: string;
	/** The entry as it is now; absent for deletions. */
	entry?: Entry;
	isDir: boolean;
	/** The cloud's id of the item, when its feed names items by id (what keeps an id → path index current). */
	id?: string;
}

/** A change a feed names by id alone: where the item was before is known only to an index of the side's ids. */
export interface UnplacedChange {
	id: string;
	/** Where the item is now, below the root; absent when it is gone from there. */
	path?: string;
	isDir: boolean;
}

export interface ChangePage {
	changes: Change[];
	/** Pass this to the next call to get what changed after this page. */
	cursor: string;
	/**
	 * Changes the feed saw but cannot name in full (an item moved or deleted whose former path this
	 * provider never knew): a planner that relies on the feed must list everything instead.
	 */
	unplaced?: number;
	/** Each unplaced change by id, when the provider can say which: an index of the side's ids then places them. */
	unplacedChanges?: UnplacedChange[];
}

/** Where a provider's root lies, so that two roots can be told apart, nested or the same. */
export interface RootLocation {
	/** What paths live in: one machine's disk, one cloud account. Roots in different namespaces never overlap. */
	namespace: string;
	/** The folders from the namespace's top down to the root, each as the cloud tells folders apart (a real path segment, a folder id). */
	chain: string[];
	/** Those folders' names, to say where one root lies inside the other. */
	names: string[];
	/** Whether chain segments compare without case. */
	caseInsensitive: boolean;
}

/**
 * A stream read one value at a time without a promise per value: `next()` gives the next value,
 * undefined at the end, or a promise of either when it must wait (a folder read back from a
 * temporary file, a turn of the event loop). It may throw, or reject, where a listing fails.
 */
export interface Stepper<T> {
	next(): T | undefined | Promise<T | undefined>;
}

/**
 * What a `list` may return when it can also be stepped through, in the same order: the engine's
 * merge then pays no promise per entry (a local disk lists faster than promises resolve), and the
 * listing builds each entry only when the merge reaches it. A wrapper that replaces `list` returns
 * a plain listing, read entry by entry.
 */
export interface SteppedListing extends AsyncIterable<Entry> {
	stepper(): Stepper<Entry>;
}

export interface DeleteOptions {
	recursive?: boolean;
	/**
	 * The entry the plan saw at this path. A provider may trust it to skip the checks a delete of
	 * unknown kind needs (whether a folder is empty: one request per file on Dropbox), and must then
	 * refuse, with ChangedSincePlannedError, a file no longer at the entry's version. Ignoring it is
	 * always correct.
	 */
	planned?: Entry;
}

export interface Provider {
	readonly name: string;
	readonly capabilities: Capabilities;
	/** The pacer this cloud's requests go through, with its own policy; a run adds up the retries of every one. */
	readonly pacer?: Pacer;
	/** Yields every entry below `path` (relative, '' for the root); folders before their contents. */
	list(path: string, options?: ListOptions): AsyncIterable<Entry>;
	/**
	 * 'walk' when a recursive `list` comes in walk order (lib/core/walkOrder.ts; the kit's walkInOrder
	 * gives it to a cloud that lists one folder at a time): the engine then merges it as it arrives.
	 * Any other listing is sorted by the engine, through a temporary file when it is large.
	 */
	readonly listOrder?: 'walk';

	/** Throws NotFoundError when nothing is there. */
	stat(path: string): Promise<Entry>;
	/**
	 * The entries at `paths` (a path with nothing there is left out), as `stat` would find them, in
	 * fewer requests than one each: the names of one folder asked together. Throws what `stat` throws
	 * for anything else (two items of one name included).
	 */
	statMany?(paths: string[], options?: { signal?: AbortSignal }): Promise<Map<string, Entry>>;
	read(path: string, options?: ReadOptions): Promise<Readable>;
	/**
	 * A small file's bytes at once, where the provider has a cheaper way than a stream; the executor
	 * asks only for files listed at no more than `maxBytes`. Reads at most `maxBytes` + 1 bytes, so a
	 * file grown since is seen to be longer without being read whole.
	 */
	readWhole?(path: string, options: { maxBytes: number; signal?: AbortSignal }): Promise<Buffer>;
	/** Replaces or creates the file atomically: readers see the old content or the whole new one. Parent folders are created. */
	write(path: string, content: Readable, options?: WriteOptions): Promise<Entry>;
	mkdir(path: string): Promise<void>;
	/** Deletes a file, or an empty folder; a folder with contents needs `recursive`. */
	delete(path: string, options?: DeleteOptions): Promise<void>;
	move(from: string, to: string): Promise<Entry>;
	/**
	 * A small file's bytes with the version `writeIfUnchanged` compares; undefined when there is none.
	 * Present with `writeIfUnchanged` only where the cloud writes a file on a condition, atomically.
	 */
	readVersioned?(path: string): Promise<{ bytes: Buffer; version: string } | undefined>;
	/**
	 * Writes a small file only while it is still at `version` (only while there is none, when
	 * undefined), as one atomic step of the cloud: the new version, or undefined when another write
	 * came first (one of ours whose answer was lost included: the caller reads which).
	 */
	writeIfUnchanged?(path: string, bytes: Buffer, version: string | undefined): Promise<string | undefined>;
	/** Present only when the cloud can copy without moving bytes through us. */
	copy?(from: string, to: string): Promise<Entry>;
	/** Whether copyFrom can take files from `source` without streaming them (two folders on one machine, two folders of one account). */
	canCopyFrom?(source: Provider): boolean;
	/** Copies `from` on `source` to `to` here, atomically, keeping its modification time. */
	copyFrom?(source: Provider, from: string, to: string): Promise<Entry>;
	/**
	 * Set where copyFrom hands a file of up to `maxBytes` to threads of the provider's own, which copy
	 * fewer at once than a run's transfers: the executor keeps up to `depth` such copies in flight (outside
	 * the transfers limit), so that those threads have the next files while the event loop finishes the last.
	 */
	readonly copyFromQueue?: {
		maxBytes: number;
		depth: number;
		/** Called when a run that will copy starts, before it makes its folders: threads the provider starts then are ready for the first copy. */
		warmUp?(): void;
	};
	/** Keeps this provider's unfinished large uploads in `store`, so that a later run resumes them from the offset the cloud confirms. */
	keepUploads?(store: UploadSessionStore): void;
	/** Hashes of a stored file, computed or fetched as the provider must. */
	hash(path: string, types: HashType[]): Promise<Hashes>;
	/** Why this side cannot hold a file or folder of this name (one path segment); undefined when it can. */
	nameProblem?(name: string): string | undefined;
	/** Where deleted and replaced files can be recovered from, as a sentence for a run's report. */
	recovery?(): string;
	/** Tidies what earlier, interrupted runs left (staged files, expired trash) before a run writes here; says what it removed. */
	housekeeping?(): Promise<string[]>;
	/** Where the root lies, after links, ids and case rules; asked only when both sides are the same kind of provider. */
	locate?(): Promise<RootLocation>;
	/** A cursor for "now" below the root; present when capabilities.changeCursors is true. */
	changeCursor?(): Promise<string>;
	/** Everything that changed below the root since `cursor`, subfolders included, with the next cursor. */
	changesSince?(cursor: string, options?: { signal?: AbortSignal }): Promise<ChangePage>;
	/**
	 * Set when the change feed names some changes by id alone (Drive: a permanent deletion, a move or
	 * an edit of an item this process never saw): a scheduled run then keeps an index of the side's
	 * ids (listed entries' `id`) and places them with it.
	 */
	readonly feedNamesById?: boolean;
}
