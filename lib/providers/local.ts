import { promises as fs, constants as fsConstants, copyFileSync, lstatSync, mkdirSync, readdirSync, renameSync, statSync, utimesSync, type Stats } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
// A default import reads the module's functions directly; a namespace import goes through a getter on every call.
import nodePath from 'node:path';
import { pipeline } from 'node:stream/promises';
import { closeSync, createWriteStream, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { Capabilities, Entry, HashType, Hashes, ListOptions, Provider, ReadOptions, RootLocation, SteppedListing, Stepper, WriteOptions } from '../core/types';
import { HASH_TYPES } from '../core/types';
import {
	InvalidNameError,
	VerificationError,
	AlreadyExistsError,
	CloudSyncError,
	InvalidPathError,
	NotEmptyError,
	NotFoundError,
	TransientError,
} from '../core/errors';
import { normalizeRelativePath, parentPath, joinPath, matchKey, fileStamp, hasControlCharacter } from '../core/paths';
import { STATE_FOLDER } from '../core/filters';
import { hashStream, measure } from '../core/hashing';
import { offerFill, type Fill } from '../core/fill';
import { walkNamesInOrder, type NamedFolder } from './kit/walkOrder';
import { steppedValues } from '../core/stepper';
import { smallFileCopier } from './localCopier';

export interface LocalProviderOptions {
	/** Follow symbolic links that stay inside the root, or skip every link (the default). */
	symlinks?: 'skip' | 'follow';
	/** Create the root folder when it does not exist. */
	createRoot?: boolean;
	/** When set, the root must lie inside one of these folders (n8n's N8N_RESTRICT_FILE_ACCESS_TO). */
	allowedRoots?: string[];
	/**
	 * Days a deleted or replaced file stays recoverable in `.cloudsync/trash/<run time>/` inside the
	 * root before a later run purges it (default 30); 0 deletes for good.
	 */
	trashDays?: number;
	/** Whose file-name rules apply; this machine's unless a test says otherwise. */
	platform?: NodeJS.Platform;
	/** The clock, for the trash folder's name; tests fix it. */
	now?: () => number;
}

/** Where writes are staged before they are renamed into place: inside the engine's own folder, which no listing of the engine ever syncs. */
const TEMP_FOLDER = `${STATE_FOLDER}/tmp`;
const TRASH_FOLDER = `${STATE_FOLDER}/trash`;
const DEFAULT_TRASH_DAYS = 30;
/** A staged file of another machine's run that has not been touched for this long belongs to a run that died. */
const STALE_TEMP_MS = 60 * 60 * 1000;
const DAY_MS = 86_400_000;
export const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
const SYMLINK_HINT = 'Links leading outside the chosen folder are never followed; sync the link target itself, or enable following links inside the folder.';
// Listing stats each entry synchronously, this many between yields to the event loop: a thread-pool
// round trip per lstat costs ten times the call itself, and 256 calls block for well under a millisecond.
const STAT_BATCH = 256;
const READ_CHUNK = 1024 * 1024;
/**
 * Files up to this size are copied between local folders by two threads of our own, in batches
 * (localCopier.ts), or synchronously where no thread can start: the kernel copies 256 KiB in well
 * under a millisecond, less than the thread-pool round trips (copy, stat, times) that cost most of a
 * small file's copy; larger files go through the thread pool, keeping the event loop free.
 */
const INLINE_COPY_BYTES = 256 * 1024;
/**
 * Small copies kept in flight for the copying threads. With only a run's 4 transfers in flight, one
 * thread and the event loop took turns (each idle about 45% of a 10,000-file copy): the thread copied
 * 4 files while the event loop waited, then the event loop recorded them and prepared 4 more while the
 * thread waited. A deeper queue lets them work at once; each thread still copies one file at a time.
 * 64 rather than 16: the copies go over in 315 messages instead of 1,251 for 10,000 files, each a
 * thread's wake-up and an event-loop turn; on-CPU samples of the main thread fell 13% (four runs
 * each, loaded machine), the copying threads' too, user CPU time 0.55 to 0.47 s (median of five).
 */
const COPY_QUEUE_DEPTH = 64;
const MAX_NAME_BYTES = 255;
const WINDOWS_FORBIDDEN = /[<>:"\\|?*]/;
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** Why a disk cannot hold this name (one path segment), or undefined when it can. */
export function localNameProblem(name: string, platform: NodeJS.Platform = process.platform): string | undefined {
	if (name === '.' || name === '..') return `"${name}" is not a file name on a disk`;
	if (name.includes('\0')) return 'it holds a NUL character';
	if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `it is ${Buffer.byteLength(name)} bytes long, more than the ${MAX_NAME_BYTES} a disk allows`;
	if (platform === 'win32') {
		if (WINDOWS_FORBIDDEN.test(name) || hasControlCharacter(name)) return 'Windows does not allow \\ / : * ? " < > | or control characters in names';
		if (WINDOWS_DEVICE.test(name)) return `Windows reserves the name ${name.split('.')[0]}`;
		if (/[. ]$/.test(name)) return 'Windows drops a trailing dot or space, which would make it another name';
	}
	return undefined;
}

function processAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

function isInside(root: string, candidate: string): boolean {
	return candidate === root || candidate.startsWith(root.endsWith(nodePath.sep) ? root : root + nodePath.sep);
}

/** lstat's option for a name that may have gone: undefined instead of an exception. */
const QUIET = { throwIfNoEntry: false } as const;

/**
 * The hashes of every listed local entry: none (a disk keeps none), one frozen object shared by
 * all instead of an empty object per file. Code that learns a hash replaces an entry's `hashes`
 * (oneWay.ts), never fills them in; frozen, a write into them would throw instead of leaking into every entry.
 */
const LISTED_HASHES: Hashes = Object.freeze({});

/** What lstat says, or undefined when it cannot say (missing, or not reachable): synchronous, as one stat is cheaper than a thread-pool round trip. */
function lstatQuietly(path: string): Stats | undefined {
	try {
		// A missing file is the usual answer (a copy to a new name): no exception is built for it.
		return lstatSync(path, { throwIfNoEntry: false });
	} catch {
		return undefined;
	}
}

function modTimeOf(stats: Stats): number {
	// Whole milliseconds: what we set with utimes comes back within a few nanoseconds of it.
	return Math.round(stats.mtimeMs);
}

/** Maps Node's error codes to the engine's typed errors. */
function mapError(error: unknown, path: string): Error {
	if (error instanceof CloudSyncError) return error;
	const code = (error as NodeJS.ErrnoException)?.code;
	switch (code) {
		case 'ENOENT':
		case 'ENOTDIR':
			return new NotFoundError(path, { cause: error });
		case 'EEXIST':
		case 'EISDIR':
			return new AlreadyExistsError(path, { cause: error });
		case 'ENOTEMPTY':
			return new NotEmptyError(path, { cause: error });
		case 'ENAMETOOLONG':
		case 'EILSEQ':
			return new InvalidNameError(path, 'the disk refuses this name (too long, or not valid for its file system)', { cause: error });
		case 'EACCES':
		case 'EPERM':
			return new CloudSyncError(`Permission denied: ${path}`, {
				cause: error,
				hint: 'Give the n8n user read and write access to this folder.',
			});
		case 'ENOSPC':
		case 'EDQUOT':
			return new CloudSyncError(`No space left while writing ${path}`, {
				cause: error,
				hint: 'Free space on the destination disk, then run the sync again.',
			});
		case 'EMFILE':
		case 'ENFILE':
		case 'EAGAIN':
		case 'EBUSY':
			return new TransientError(`Temporarily unable to access ${path} (${code})`, { cause: error });
		default:
			return error instanceof Error ? error : new Error(String(error));
	}
}

/** n8n's own file-access rule, for opening a root: whether nodes may use a real path (its isFilePathBlocked, negated). */
export interface LocalRootRules {
	mayAccess?: (realPath: string) => boolean;
}

/** The root lies outside the folders n8n lets nodes use. */
export class OutsideAllowedFoldersError extends InvalidPathError {
	constructor(root: string, allowedRoots: string[] = []) {
		super(
			root,
			`outside the folders n8n may access${allowedRoots.length > 0 ? ` (${allowedRoots.join(', ')})` : ''}`,
			'Choose a folder inside N8N_RESTRICT_FILE_ACCESS_TO, or ask the n8n administrator to allow this one.',
		);
	}
}

const SEPARATORS = nodePath.sep === '\\' ? /[\\/]+/ : /\/+/;

/**
 * The real path of the nearest existing folder on the way to `root`, and the names below it that do
 * not exist yet. The existing part is resolved by the system (links and ".." as it follows them).
 */
async function locateRoot(root: string): Promise<{ existing: string; missing: string[] }> {
	const top = nodePath.parse(root).root;
	const names = root.slice(top.length).split(SEPARATORS).filter((name) => name !== '' && name !== '.');
	for (let kept = names.length; kept > 0; kept--) {
		try {
			return { existing: await fs.realpath(top + names.slice(0, kept).join(nodePath.sep)), missing: names.slice(kept) };
		} catch (error) {
			const code = (error as NodeJS.ErrnoException).code;
			if (code !== 'ENOENT' && code !== 'ENOTDIR') throw mapError(error, root);
		}
	}
	return { existing: top, missing: names };
}

/**
 * Creates the missing folders one at a time below a real folder. Each must be a real folder once made:
 * a link or a file put in its place (before or during the creation) is refused, never followed.
 */
async function createFolders(root: string, existing: string, missing: string[]): Promise<void> {
	const notAFolder = (folder: string) =>
		new InvalidPathError(root, `"${folder}" is a file or a link, not a folder`, 'Choose a folder whose every part is a folder; links are not followed to create one.');
	let folder = existing;
	for (const name of missing) {
		folder = nodePath.join(folder, name);
		let stats: Stats;
		try {
			await fs.mkdir(folder).catch((error: NodeJS.ErrnoException) => {
				if (error.code !== 'EEXIST') throw error;
			});
			stats = await fs.lstat(folder);
		} catch (error) {
			throw (error as NodeJS.ErrnoException).code === 'ENOTDIR' ? notAFolder(nodePath.dirname(folder)) : mapError(error, root);
		}
		if (!stats.isDirectory()) throw notAFolder(folder);
	}
}

/** The check every root passes before it is read or created, and again once it exists. */
async function accessCheck(root: string, options: LocalProviderOptions & LocalRootRules): Promise<(real: string) => void> {
	const allowed = options.allowedRoots?.length
		? await Promise.all(options.allowedRoots.map(async (dir) => fs.realpath(dir).catch(() => nodePath.resolve(dir))))
		: undefined;
	return (real) => {
		if ((allowed && !allowed.some((dir) => isInside(dir, real))) || options.mayAccess?.(real) === false) {
			throw new OutsideAllowedFoldersError(root, options.allowedRoots);
		}
	};
}

/** A folder on this machine. Every path stays inside the root, even through symbolic links. */
export class LocalProvider implements Provider {
	readonly name = 'local';
	readonly capabilities: Capabilities;

	/** Names staged files of this instance: the machine, the process (so a later run can tell a dead run's leftovers), a random part. */
	private readonly tempPrefix = `${HOST_TAG}-${process.pid.toString(36)}-${randomBytes(3).toString('hex')}-`;
	private tempCounter = 0;
	private readonly trashDays: number;
	/** This run's trash folder, named for when the instance was opened. */
	private readonly trashStamp: string;
	/** The root with one separator after it, for underRoot. */
	private readonly rootPrefix: string;

	private constructor(
		readonly root: string,
		caseInsensitive: boolean,
		private readonly options: LocalProviderOptions,
	) {
		this.trashDays = options.trashDays ?? DEFAULT_TRASH_DAYS;
		this.rootPrefix = root.endsWith(nodePath.sep) ? root : root + nodePath.sep;
		this.trashStamp = fileStamp(options.now?.() ?? Date.now());
		this.capabilities = {
			hashTypes: ['sha1', 'sha256', 'md5', 'dropbox', 'quickxor'],
			listedHashTypes: [],
			modTimePrecisionMs: 1,
			canSetModTime: true,
			caseInsensitive,
			maxFileSize: Number.POSITIVE_INFINITY,
			emptyFolders: true,
		};
	}

	/**
	 * Opens a folder as the root. Whether it may be used is decided on its real path, before anything
	 * is read or created (so a missing folder outside the allowed ones is refused, not reported missing)
	 * and again once it exists. A missing root is created with `createRoot`, one folder at a time.
	 */
	static async open(root: string, options: LocalProviderOptions & LocalRootRules = {}): Promise<LocalProvider> {
		if (!nodePath.isAbsolute(root)) {
			throw new InvalidPathError(root, 'the local root must be an absolute path', 'Enter the folder as an absolute path, such as /data/files.');
		}
		const mayUse = await accessCheck(root, options);
		const { existing, missing } = await locateRoot(root);
		mayUse(nodePath.join(existing, ...missing));
		if (missing.includes('..')) {
			throw new InvalidPathError(root, '".." follows a folder that does not exist', 'Enter the folder as an absolute path without "..".');
		}
		if (missing.length > 0) {
			if (!options.createRoot) throw new NotFoundError(root);
			await createFolders(root, existing, missing);
		}
		let real: string;
		try {
			real = await fs.realpath(root);
			if (!(await fs.stat(real)).isDirectory()) throw new InvalidPathError(root, 'not a folder', 'Choose a folder, not a file.');
		} catch (error) {
			throw mapError(error, root);
		}
		mayUse(real);
		return new LocalProvider(real, await LocalProvider.detectCaseInsensitive(real), options);
	}

	private static async detectCaseInsensitive(root: string): Promise<boolean> {
		const probe = nodePath.join(root, `.cloudsync-case-probe-${randomBytes(6).toString('hex')}`);
		await fs.writeFile(probe, '');
		try {
			await fs.access(nodePath.join(root, nodePath.basename(probe).toUpperCase()));
			return true;
		} catch {
			return false;
		} finally {
			await fs.rm(probe, { force: true });
		}
	}

	/**
	 * The absolute name of `path`; its nearest existing ancestor must resolve inside the root, and
	 * when links are skipped no folder on the way may be a link. Checked on every call, never
	 * remembered: a folder can be replaced by a link while a run goes on.
	 */
	private async resolve(path: string): Promise<{ relative: string; absolute: string }> {
		const { relative, absolute } = this.nameOnDisk(path);
		let probe = nodePath.dirname(absolute);
		while (isInside(this.root, probe) && probe !== this.root) {
			try {
				await this.verifyFolder(probe, path);
				break;
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw mapError(error, path);
				probe = nodePath.dirname(probe);
			}
		}
		return { relative, absolute };
	}

	/**
	 * The absolute name of `path`, its names checked but no folder on the way: for a write, whose
	 * folder `ensureFolder` checks (or creates) next, and checks again right before the rename.
	 */
	private nameOnDisk(path: string): { relative: string; absolute: string } {
		const relative = normalizeRelativePath(path);
		if (relative === '') return { relative, absolute: this.root };
		for (const name of relative.split('/')) {
			const problem = localNameProblem(name, this.platform);
			if (problem) throw new InvalidNameError(relative, problem);
		}
		return { relative, absolute: this.underRoot(relative) };
	}

	/**
	 * What nodePath.join(root, ...names) gives for a normalised path (no empty, "." or ".." names; no
	 * separator in a name where nameOnDisk has checked them), without normalising the whole string
	 * again: a small copy made three absolute names, and join cost more than the copy's checks.
	 */
	private underRoot(relative: string): string {
		return this.rootPrefix + (nodePath.sep === '/' ? relative : relative.split('/').join(nodePath.sep));
	}

	private get platform(): NodeJS.Platform {
		return this.options.platform ?? process.platform;
	}

	/**
	 * Throws unless `folder`, an existing folder, resolves inside the root (and, when links are skipped, through no link).
	 * The usual answer comes from one synchronous lstat per folder below the root: the root is a real path, so
	 * folders that are none of them links lie inside it, whatever the mode. Only a link (or something that is
	 * not a folder) on the way takes the full check, which says which rule it breaks. A write checks several
	 * folders; a thread-pool round trip for each (realpath walks every folder from the disk's root) cost more
	 * than the copy of a small file.
	 */
	private async verifyFolder(folder: string, forPath: string): Promise<void> {
		if (folder === this.root || this.plainFoldersBelowRoot(folder)) return;
		const real = await fs.realpath(folder);
		if (!isInside(this.root, real)) {
			throw new InvalidPathError(forPath, 'a symbolic link in it points outside the root folder', SYMLINK_HINT);
		}
		// The root is a real path, so a different answer means a link, or only another spelling of the
		// same names on a case-insensitive disk: lstat tells which.
		if (real !== folder && this.options.symlinks !== 'follow' && (await this.linkBetweenRootAnd(folder))) {
			throw new InvalidPathError(forPath, 'a folder in it is a symbolic link, and links are skipped', SYMLINK_HINT);
		}
	}

	/** Whether `folder` and every folder between it and the root are plain folders (no link, no file); throws ENOENT as lstat does when one is missing. */
	private plainFoldersBelowRoot(folder: string): boolean {
		if (!isInside(this.root, folder)) return false;
		for (let current = folder; current !== this.root; current = nodePath.dirname(current)) {
			if (!lstatSync(current).isDirectory()) return false;
		}
		return true;
	}

	/** Whether `absolute`, an existing folder below the root, or one of its ancestors below the root is a link. */
	private async linkBetweenRootAnd(absolute: string): Promise<boolean> {
		for (let folder = absolute; folder !== this.root && isInside(this.root, folder); folder = nodePath.dirname(folder)) {
			if ((await fs.lstat(folder)).isSymbolicLink()) return true;
		}
		return false;
	}

	/**
	 * resolveExisting's usual answer, without a promise: `path` is a file or folder (not a link) whose
	 * folders up to the root are plain folders. Undefined whenever anything needs resolveExisting's
	 * full checks or its error (a link, a missing name): a copy of 10,000 small files awaited four
	 * promises a file for checks that each needed one synchronous lstat.
	 */
	private plainExisting(path: string): { relative: string; absolute: string; stats: Stats } | undefined {
		const { relative, absolute } = this.nameOnDisk(path);
		try {
			const folder = nodePath.dirname(absolute);
			if (folder !== this.root && !this.plainFoldersBelowRoot(folder)) return undefined;
			const stats = lstatSync(absolute, QUIET);
			return stats && !stats.isSymbolicLink() ? { relative, absolute, stats } : undefined;
		} catch {
			return undefined;
		}
	}

	/** Like resolve, and also checks where the final component leads when it is a link. */
	private async resolveExisting(path: string): Promise<{ relative: string; absolute: string; stats: Stats }> {
		const resolved = await this.resolve(path);
		try {
			let stats = lstatSync(resolved.absolute);
			if (stats.isSymbolicLink()) {
				if (this.options.symlinks !== 'follow') throw new NotFoundError(resolved.relative);
				const real = await fs.realpath(resolved.absolute);
				if (!isInside(this.root, real)) {
					throw new InvalidPathError(path, 'it is a symbolic link that points outside the root folder', SYMLINK_HINT);
				}
				stats = await fs.stat(real);
			}
			return { ...resolved, stats };
		} catch (error) {
			throw mapError(error, resolved.relative);
		}
	}

	private toEntry(relative: string, stats: Stats, hashes: Hashes = {}): Entry {
		const isDir = stats.isDirectory();
		return { path: relative, isDir, size: isDir ? 0 : stats.size, modTime: modTimeOf(stats), hashes };
	}

	/** Listed in walk order (lib/core/walkOrder.ts), so the engine merges it as it comes, without holding the tree. */
	readonly listOrder = 'walk' as const;

	list(path: string, options: ListOptions = {}): SteppedListing {
		const stepper = () => this.walk(path, options);
		return { stepper, [Symbol.asyncIterator]: () => steppedValues(stepper()) };
	}

	/** The walk below `path`: its first step resolves the path, the rest are synchronous but for a turn of the event loop now and then. */
	private walk(path: string, options: ListOptions): Stepper<Entry> {
		let walk: Stepper<Entry> | undefined;
		const start = async () => {
			const start = await this.resolveExisting(path);
			if (!start.stats.isDirectory()) throw new NotFoundError(start.relative);
			const visited = new Set<string>([await fs.realpath(start.absolute)]);
			// Counted across folders, not per folder: a tree of small folders would otherwise never let the event loop in.
			walk = walkNamesInOrder(start.relative, (relative) => this.namedFolder(relative, visited), { recursive: options.recursive, signal: options.signal, pauseEvery: STAT_BATCH });
			return walk.next();
		};
		return { next: () => (walk ? walk.next() : start()) };
	}

	/** One folder's names, by its path relative to the root, each made an entry (one lstat) only when the walk reaches it. */
	private namedFolder(relative: string, visited: Set<string>): NamedFolder {
		const folder = { relative, absolute: relative === '' ? this.root : nodePath.join(this.root, ...relative.split('/')) };
		let names: string[];
		try {
			// Synchronous, as each entry's lstat is: a promise's request object outlives the next young-generation
			// collection, and with it the folder's names. Names only, no Dirent objects: the lstat that each entry
			// needs anyway says what it is (Node itself lstats every name whose type the disk does not report).
			names = readdirSync(folder.absolute);
		} catch (error) {
			throw mapError(error, folder.relative);
		}
		// The engine's own folder (staged writes, trash, lock, state) is never synced from any side; listed by name it is there.
		const own = relative === '' ? names.indexOf(STATE_FOLDER) : -1;
		if (own >= 0) names.splice(own, 1);
		const relativePrefix = relative === '' ? '' : `${relative}/`;
		const absolutePrefix = `${folder.absolute}${nodePath.sep}`;
		return { path: relative, names, entry: (name) => this.listChild(folder, relativePrefix + name, absolutePrefix + name, name, visited) };
	}

	/**
	 * One name of a listed folder as an entry, built from the few fields of its lstat, which is let go
	 * at once: what a listing holds per file is all that survives a young-generation collection.
	 */
	private listChild(folder: { relative: string; absolute: string }, relative: string, absolute: string, name: string, visited: Set<string>): Entry | Promise<Entry | undefined> | undefined {
		let stats: Stats | undefined;
		try {
			// A file removed between readdir and lstat simply is not there any more; no exception is built for it.
			stats = lstatSync(absolute, QUIET);
		} catch (error) {
			throw mapError(error, relative);
		}
		if (stats === undefined) return undefined;
		if (stats.isSymbolicLink()) return this.options.symlinks === 'follow' ? this.statLink(folder, name, visited) : undefined;
		if (!stats.isDirectory() && !stats.isFile()) return undefined;
		return this.toEntry(relative, stats, LISTED_HASHES);
	}

	/** A link met in a listing, followed (only with `symlinks: 'follow'`). */
	private async statLink(folder: { relative: string; absolute: string }, name: string, visited: Set<string>): Promise<Entry | undefined> {
		const relative = joinPath(folder.relative, name);
		try {
			const real = await fs.realpath(nodePath.join(folder.absolute, name));
			// Links out of the root, and links back up into a folder already walked, are not followed.
			if (!isInside(this.root, real) || visited.has(real)) return undefined;
			const stats = await fs.stat(real);
			if (stats.isDirectory()) visited.add(real);
			return this.toEntry(relative, stats);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
			throw mapError(error, relative);
		}
	}

	async stat(path: string): Promise<Entry> {
		const { relative, stats } = await this.resolveExisting(path);
		return this.toEntry(relative, stats);
	}

	async read(path: string, options: ReadOptions = {}): Promise<Readable> {
		const { relative, absolute, stats } = await this.resolveExisting(path);
		if (stats.isDirectory()) throw new CloudSyncError(`Cannot read a folder as a file: ${relative}`);
		// `end` is exclusive here and inclusive for Node, which cannot express an empty range.
		if (options.end !== undefined && options.end <= (options.start ?? 0)) {
			return new Readable({
				read() {
					this.push(null);
				},
			});
		}
		let handle: fs.FileHandle | undefined;
		try {
			handle = await fs.open(absolute, fsConstants.O_RDONLY);
			const stream = handle.createReadStream({
				start: options.start,
				end: options.end === undefined ? undefined : options.end - 1,
				// A 1 MiB buffer per small file is most of the garbage a many-file sync makes.
				highWaterMark: Math.max(1, Math.min(READ_CHUNK, (options.end ?? stats.size) - (options.start ?? 0))),
				signal: options.signal,
			});
			offerFill(stream, async () => this.fillFrom(handle!, stream, relative, options));
			return stream;
		} catch (error) {
			// The stream owns the handle only once it exists.
			await handle?.close().catch(() => undefined);
			throw mapError(error, relative);
		}
	}

	/**
	 * Reads [start, end) into the caller's buffers, as the stream would have read it (to the end of the
	 * file when no end is given, so a file that grew is seen to be longer); the stream owns the handle
	 * and closes it when destroyed.
	 */
	private fillFrom(handle: fs.FileHandle, stream: Readable, relative: string, options: ReadOptions): Fill {
		let position = options.start ?? 0;
		const end = options.end ?? Number.POSITIVE_INFINITY;
		return async (into) => {
			options.signal?.throwIfAborted();
			if (stream.destroyed) throw new CloudSyncError(`The read of ${relative} was closed before its end`);
			const wanted = Math.min(into.length, end - position);
			if (wanted <= 0) return 0;
			try {
				const { bytesRead } = await handle.read(into, 0, wanted, position);
				position += bytesRead;
				return bytesRead;
			} catch (error) {
				throw mapError(error, relative);
			}
		};
	}

	/**
	 * Read synchronously, as small copies are (INLINE_COPY_BYTES): a read stream's open, reads and close
	 * through the thread pool cost more than the kernel's read, and its objects, alive until the
	 * destination has sent the file, were much of what a many-file upload left to outlive V8's young collections.
	 */
	async readWhole(path: string, options: { maxBytes: number; signal?: AbortSignal }): Promise<Buffer> {
		options.signal?.throwIfAborted();
		const { relative, absolute, stats } = await this.resolveExisting(path);
		if (stats.isDirectory()) throw new CloudSyncError(`Cannot read a folder as a file: ${relative}`);
		const bytes = Buffer.allocUnsafe(options.maxBytes + 1);
		let filled = 0;
		let fd: number | undefined;
		try {
			fd = openSync(absolute, fsConstants.O_RDONLY);
			while (filled < bytes.length) {
				const read = readSync(fd, bytes, filled, bytes.length - filled, null);
				if (read === 0) break;
				filled += read;
			}
		} catch (error) {
			throw mapError(error, relative);
		} finally {
			if (fd !== undefined) closeSync(fd);
		}
		return bytes.subarray(0, filled);
	}

	async write(path: string, content: Readable, options: WriteOptions = {}): Promise<Entry> {
		const { relative, absolute } = this.nameOnDisk(path);
		if (relative === '') throw new InvalidPathError(path, 'cannot write over the root folder');
		await this.ensureFolder(nodePath.dirname(absolute), relative);
		const temp = await this.stagingName();
		const measured = measure(content, options.hashTypes ?? [], { size: options.size });
		try {
			await pipeline(measured, createWriteStream(temp, { flags: 'wx' }), { signal: options.signal });
			if (options.modTime !== undefined) {
				const when = new Date(options.modTime);
				utimesSync(temp, when, when);
			}
			await this.replace(temp, absolute, relative);
		} catch (error) {
			await fs.rm(temp, { force: true });
			throw mapError(error, relative);
		}
		const modTime = options.modTime ?? modTimeOf(await fs.stat(absolute));
		return { path: relative, isDir: false, size: measured.bytes, modTime, hashes: measured.hashes };
	}

	/**
	 * A new file in the engine's own folder to stage a write in. Its name can never be a user's file
	 * name, and no listing hides anything for it: a cloud file named like it is a file like any other.
	 */
	private async stagingName(): Promise<string> {
		return this.readyStagingName() ?? nodePath.join(await this.workFolder(TEMP_FOLDER), this.nextStagingBase());
	}

	/** stagingName without a promise, when the staging folder is there as a plain folder (undefined otherwise). */
	private readyStagingName(): string | undefined {
		const folder = this.underRoot(TEMP_FOLDER);
		return this.isPlainFolder(folder) ? `${folder}${nodePath.sep}${this.nextStagingBase()}` : undefined;
	}

	private nextStagingBase(): string {
		return `${this.tempPrefix}${(this.tempCounter++).toString(36)}`;
	}

	/** `.cloudsync/<sub>` inside the root, created when missing; never a link, so nothing it holds can lie outside the root. */
	private async workFolder(sub: string): Promise<string> {
		const absolute = nodePath.join(this.root, ...sub.split('/'));
		await this.ensureFolder(absolute, sub);
		return absolute;
	}

	/**
	 * Renames the staged `temp` over `absolute`, after checking again, at this moment, that the target's
	 * folder still lies inside the root (and making it if it is missing): Node has no openat(), so the
	 * check is repeated right before the rename rather than trusted from earlier. What it replaces goes
	 * to the trash first.
	 */
	private async replace(temp: string, absolute: string, relative: string): Promise<void> {
		try {
			// The usual case, a plain folder and nothing to keep, checks and renames without a promise.
			if (!this.isPlainFolder(nodePath.dirname(absolute))) await this.ensureFolder(nodePath.dirname(absolute), relative);
			if (this.replacesKeptFile(absolute, relative)) await this.keepReplaced(absolute, relative);
			renameSync(temp, absolute);
		} catch (error) {
			throw mapError(error, relative);
		}
	}

	/** Whether writing `absolute` replaces a file the trash keeps (keepReplaced links it there first). */
	private replacesKeptFile(absolute: string, relative: string): boolean {
		return this.recoverable(relative) && lstatQuietly(absolute)?.isFile() === true;
	}

	/** A file about to be replaced is linked into this run's trash (the rename that replaces it stays atomic). */
	private async keepReplaced(absolute: string, relative: string): Promise<void> {
		if (!this.replacesKeptFile(absolute, relative)) return;
		const kept = await this.trashPathFor(relative);
		await fs.link(absolute, kept).catch((error: NodeJS.ErrnoException) => {
			if (error.code === 'EXDEV' || error.code === 'EPERM' || error.code === 'ENOTSUP') return fs.copyFile(absolute, kept);
			throw error;
		});
	}

	/** Whether a deletion or overwrite of `relative` is kept: the engine's own files (lock, state, staging) are not. */
	private recoverable(relative: string): boolean {
		return this.trashDays > 0 && relative !== STATE_FOLDER && !relative.startsWith(`${STATE_FOLDER}/`);
	}

	/** Where `relative` goes in this run's trash; a second deletion of one path in a run gets a numbered name. */
	private async trashPathFor(relative: string): Promise<string> {
		const folder = await this.workFolder(`${TRASH_FOLDER}/${this.trashStamp}`);
		const parts = relative.split('/');
		const dir = nodePath.join(folder, ...parts.slice(0, -1));
		await this.ensureFolder(dir, relative);
		const name = parts[parts.length - 1];
		for (let n = 1; ; n++) {
			const candidate = nodePath.join(dir, n === 1 ? name : `${name} (${n})`);
			if (!(await fs.lstat(candidate).catch(() => undefined))) return candidate;
		}
	}

	/**
	 * ensureFolder's usual answer, without a promise: `absolute` is the root or a plain folder below
	 * it, and so is every folder between them. False when it needs ensureFolder (missing, a link, not
	 * a folder, outside the root).
	 */
	private isPlainFolder(absolute: string): boolean {
		try {
			return absolute === this.root ? lstatSync(absolute).isDirectory() : this.plainFoldersBelowRoot(absolute);
		} catch {
			return false;
		}
	}

	/** Creates `absolute` and the folders above it one at a time, each checked to lie inside the root before anything is made in it. */
	private async ensureFolder(absolute: string, forPath: string): Promise<void> {
		try {
			const stats = lstatSync(absolute);
			if (stats.isSymbolicLink()) {
				// Says which rule a link breaks (it leads outside the root, or links are skipped); a link that breaks none is followed.
				await this.verifyFolder(absolute, forPath);
				if (this.options.symlinks === 'follow') return;
			}
			if (!stats.isDirectory()) throw new AlreadyExistsError(parentPath(forPath));
			// A plain folder whose folders above are plain too needs no second look at itself.
			if (isInside(this.root, absolute) && this.plainFoldersBelowRoot(nodePath.dirname(absolute))) return;
			await this.verifyFolder(absolute, forPath);
			return;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw mapError(error, parentPath(forPath));
		}
		if (!isInside(this.root, absolute) || absolute === this.root) throw new NotFoundError(parentPath(forPath));
		await this.ensureFolder(nodePath.dirname(absolute), forPath);
		try {
			// Synchronous, as lstat here: a run's folders are made one after another before its copies, and a
			// thread-pool round trip each took about a millisecond (116 folders in 0.10 s on a loaded machine).
			mkdirSync(absolute);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw mapError(error, parentPath(forPath));
		}
		await this.verifyFolder(absolute, forPath).catch((error) => Promise.reject(mapError(error, parentPath(forPath))));
	}

	async mkdir(path: string): Promise<void> {
		const { relative, absolute } = await this.resolve(path);
		const existing = lstatQuietly(absolute);
		if (existing && !existing.isDirectory()) throw new AlreadyExistsError(relative);
		await this.ensureFolder(absolute, relative);
	}

	async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
		const { relative, absolute } = await this.resolve(path);
		if (relative === '') throw new InvalidPathError(path, 'refusing to delete the root folder');
		try {
			const stats = await fs.lstat(absolute);
			await this.verifyFolder(nodePath.dirname(absolute), relative);
			if (stats.isDirectory() && !options.recursive) {
				await fs.rmdir(absolute);
			} else if (this.recoverable(relative)) {
				await fs.rename(absolute, await this.trashPathFor(relative));
			} else {
				await (stats.isDirectory() ? fs.rm(absolute, { recursive: true }) : fs.unlink(absolute));
			}
		} catch (error) {
			throw mapError(error, relative);
		}
	}

	async move(from: string, to: string): Promise<Entry> {
		const source = await this.resolveExisting(from);
		const target = await this.resolve(to);
		if (target.relative === '' || source.relative === '') throw new InvalidPathError(to, 'cannot move the root folder');
		const key = (relative: string) => (this.capabilities.caseInsensitive ? matchKey(relative, true) : relative);
		if (source.stats.isDirectory() && key(target.relative).startsWith(`${key(source.relative)}/`)) {
			throw new InvalidPathError(to, `cannot move the folder ${source.relative} into itself`);
		}
		await this.ensureFolder(nodePath.dirname(target.absolute), target.relative);
		try {
			const existing = await fs.lstat(target.absolute).catch(() => undefined);
			// On a case- or normalisation-insensitive disk the target of a rename to another spelling is the
			// source itself; anywhere else a folder at the target is another folder, which must not be replaced.
			const caseOnlyRename =
				existing !== undefined &&
				existing.ino === source.stats.ino &&
				existing.dev === source.stats.dev &&
				matchKey(source.relative, true) === matchKey(target.relative, true);
			if (existing?.isDirectory() && !caseOnlyRename) throw new AlreadyExistsError(target.relative);
			await this.verifyFolder(nodePath.dirname(target.absolute), target.relative);
			if (!caseOnlyRename) await this.keepReplaced(target.absolute, target.relative);
			await fs.rename(source.absolute, target.absolute);
		} catch (error) {
			throw mapError(error, target.relative);
		}
		return this.stat(target.relative);
	}

	async copy(from: string, to: string): Promise<Entry> {
		return this.copyFrom(this, from, to);
	}

	readonly copyFromQueue = { maxBytes: INLINE_COPY_BYTES, depth: COPY_QUEUE_DEPTH, warmUp: () => smallFileCopier.warmUp() };

	/** Another folder on this machine: the kernel copies (cloning where the disk can), nothing streams through us. */
	canCopyFrom(source: Provider): boolean {
		return source instanceof LocalProvider;
	}

	async copyFrom(source: Provider, from: string, to: string): Promise<Entry> {
		if (!(source instanceof LocalProvider)) throw new CloudSyncError(`Cannot copy from ${source.name} without streaming`);
		const origin = source.plainExisting(from) ?? (await source.resolveExisting(from));
		if (origin.stats.isDirectory()) throw new CloudSyncError(`Copying folders is not supported: ${origin.relative}`);
		const target = this.nameOnDisk(to);
		if (target.relative === '') throw new InvalidPathError(to, 'cannot copy over the root folder');
		// The target's folder is checked (and made) once, by the rename: the staged copy does not need it.
		const temp = this.readyStagingName() ?? (await this.stagingName());
		const modTime = modTimeOf(origin.stats);
		// Kept apart from origin, which (its stats most) need not stay alive while the copy waits.
		const { size } = origin.stats;
		try {
			const small = size <= INLINE_COPY_BYTES;
			const staged = small && smallFileCopier.stage({ source: origin.absolute, temp, size, modTime, mode: origin.stats.mode & 0o7777 }, origin.relative);
			if (staged) {
				await staged;
			} else {
				// Where no thread can run, a small file is copied in the call itself: each thread-pool round trip (a copy, a stat) cost more than the kernel's copy.
				if (small) copyFileSync(origin.absolute, temp, fsConstants.COPYFILE_FICLONE);
				else await fs.copyFile(origin.absolute, temp, fsConstants.COPYFILE_FICLONE);
				const copied = small ? statSync(temp) : await fs.stat(temp);
				if (copied.size !== origin.stats.size) {
					throw new VerificationError(`${origin.relative} changed while it was copied (${copied.size} of ${origin.stats.size} bytes)`);
				}
				utimesSync(temp, new Date(modTime), new Date(modTime));
			}
			await this.replace(temp, target.absolute, target.relative);
		} catch (error) {
			await fs.rm(temp, { force: true });
			throw mapError(error, target.relative);
		}
		return { path: target.relative, isDir: false, size, modTime, hashes: {} };
	}

	nameProblem(name: string): string | undefined {
		return localNameProblem(name, this.platform);
	}

	/** Where this side's deletions and overwrites can be recovered from, for reports. */
	recovery(): string {
		if (this.trashDays <= 0) return `deleted and replaced files are deleted for good (${this.root})`;
		return `deleted and replaced files are kept in ${nodePath.join(this.root, ...TRASH_FOLDER.split('/'), this.trashStamp)} for ${this.trashDays} days`;
	}

	/**
	 * Before a run writes here: removes what runs that died left staged (not a live run's: a file of
	 * this machine whose process still runs, or of another machine touched in the last hour), and
	 * trash folders older than the retention. Says what it removed.
	 */
	async housekeeping(): Promise<string[]> {
		const notes: string[] = [];
		const staging = nodePath.join(this.root, ...TEMP_FOLDER.split('/'));
		let files = 0;
		let bytes = 0;
		if (await this.isWorkFolder(staging)) {
			const now = Date.now();
			for (const name of await fs.readdir(staging)) {
				const [host, pid] = name.split('-');
				const full = nodePath.join(staging, name);
				const stats = await fs.lstat(full).catch(() => undefined);
				if (!stats) continue;
				const live = host === HOST_TAG ? processAlive(Number.parseInt(pid, 36)) : now - stats.mtimeMs < STALE_TEMP_MS;
				if (live) continue;
				await fs.rm(full, { recursive: true, force: true });
				files++;
				bytes += stats.size;
			}
		}
		if (files > 0) notes.push(`removed ${files} partly written file(s) (${bytes} bytes) that interrupted runs left in ${TEMP_FOLDER}`);
		const trash = nodePath.join(this.root, ...TRASH_FOLDER.split('/'));
		if (this.trashDays > 0 && (await this.isWorkFolder(trash))) {
			const cutoff = (this.options.now?.() ?? Date.now()) - this.trashDays * DAY_MS;
			const expired = (await fs.readdir(trash)).filter((name) => {
				const time = Date.parse(`${name.slice(0, 10)}T${name.slice(11).replace(/-/g, ':')}Z`);
				return Number.isFinite(time) && time < cutoff;
			});
			for (const name of expired) await fs.rm(nodePath.join(trash, name), { recursive: true, force: true });
			if (expired.length > 0) notes.push(`purged ${expired.length} trash folder(s) older than ${this.trashDays} days from ${TRASH_FOLDER}`);
		}
		return notes;
	}

	/** Whether `absolute` is an existing folder of the engine's, reached through no link. */
	private async isWorkFolder(absolute: string): Promise<boolean> {
		try {
			await this.verifyFolder(absolute, nodePath.relative(this.root, absolute));
			return (await fs.realpath(absolute)) === absolute;
		} catch {
			return false;
		}
	}

	/** The root's real path (links resolved when opened): two spellings of one folder are one location. */
	async locate(): Promise<RootLocation> {
		const names = this.root.split(nodePath.sep).filter(Boolean);
		return { namespace: 'local', chain: names, names, caseInsensitive: this.capabilities.caseInsensitive };
	}

	async hash(path: string, types: HashType[]): Promise<Hashes> {
		const wanted = types.filter((type) => HASH_TYPES.includes(type));
		const { hashes } = await hashStream(await this.read(path), wanted);
		return hashes;
	}
}

