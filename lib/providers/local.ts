import { promises as fs, constants as fsConstants, lstatSync, type Dirent, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as nodePath from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Capabilities, Entry, HashType, Hashes, ListOptions, Provider, ReadOptions, WriteOptions } from '../types';
import { HASH_TYPES } from '../types';
import {
	VerificationError,
	AlreadyExistsError,
	CloudSyncError,
	InvalidPathError,
	NotEmptyError,
	NotFoundError,
	TransientError,
} from '../errors';
import { normalizeRelativePath, parentPath, joinPath, matchKey } from '../paths';
import { hashStream, measure } from '../hashing';

export interface LocalProviderOptions {
	/** Follow symbolic links that stay inside the root, or skip every link (the default). */
	symlinks?: 'skip' | 'follow';
	/** Create the root folder when it does not exist. */
	createRoot?: boolean;
	/** When set, the root must lie inside one of these folders (n8n's N8N_RESTRICT_FILE_ACCESS_TO). */
	allowedRoots?: string[];
}

const TEMP_MARKER = '.cloudsync-tmp-';
const SYMLINK_HINT = 'Links leading outside the chosen folder are never followed; sync the link target itself, or enable following links inside the folder.';
// Listing stats each entry synchronously, this many between yields to the event loop: a thread-pool
// round trip per lstat costs ten times the call itself, and 256 calls block for well under a millisecond.
const STAT_BATCH = 256;
const READ_CHUNK = 1024 * 1024;

function isTempName(name: string): boolean {
	return name.startsWith('.') && name.includes(TEMP_MARKER);
}

function isInside(root: string, candidate: string): boolean {
	return candidate === root || candidate.startsWith(root.endsWith(nodePath.sep) ? root : root + nodePath.sep);
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

	/**
	 * Real folders inside the root that this instance already checked or created, so a many-file sync
	 * does not repeat realpath and mkdir per file. Instances live for one execution; deleting or
	 * moving a folder through them forgets it.
	 */
	private readonly knownFolders = new Set<string>();
	private readonly tempPrefix = `${process.pid.toString(36)}-${randomBytes(3).toString('hex')}-`;
	private tempCounter = 0;

	private constructor(
		readonly root: string,
		caseInsensitive: boolean,
		private readonly options: LocalProviderOptions,
	) {
		this.capabilities = {
			hashTypes: ['sha1', 'sha256', 'md5', 'dropbox', 'quickxor'],
			listedHashTypes: [],
			modTimePrecisionMs: 1,
			canSetModTime: true,
			caseInsensitive,
			duplicateNamesPossible: false,
			changeCursors: false,
			serverSideCopy: true,
			serverSideMove: true,
			maxFileSize: Number.POSITIVE_INFINITY,
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
	 * when links are skipped no folder on the way may be a link.
	 */
	private async resolve(path: string): Promise<{ relative: string; absolute: string }> {
		const relative = normalizeRelativePath(path);
		const absolute = relative === '' ? this.root : nodePath.join(this.root, ...relative.split('/'));
		let probe = nodePath.dirname(absolute);
		while (isInside(this.root, probe) && probe !== this.root && !this.knownFolders.has(probe)) {
			try {
				const real = await fs.realpath(probe);
				if (!isInside(this.root, real)) {
					throw new InvalidPathError(path, 'a symbolic link in it points outside the root folder', SYMLINK_HINT);
				}
				// The root is a real path, so a different answer means a link, or only another spelling of the
				// same names on a case-insensitive disk: lstat tells which.
				if (real !== probe && this.options.symlinks !== 'follow' && (await this.linkBetweenRootAnd(probe))) {
					throw new InvalidPathError(path, 'a folder in it is a symbolic link, and links are skipped', SYMLINK_HINT);
				}
				if (real === probe) this.knownFolders.add(probe);
				break;
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw mapError(error, path);
				probe = nodePath.dirname(probe);
			}
		}
		return { relative, absolute };
	}

	/** Whether `absolute`, an existing folder below the root, or one of its ancestors below the root is a link. */
	private async linkBetweenRootAnd(absolute: string): Promise<boolean> {
		for (let folder = absolute; folder !== this.root && isInside(this.root, folder); folder = nodePath.dirname(folder)) {
			if ((await fs.lstat(folder)).isSymbolicLink()) return true;
		}
		return false;
	}

	/** Like resolve, and also checks where the final component leads when it is a link. */
	private async resolveExisting(path: string): Promise<{ relative: string; absolute: string; stats: Stats }> {
		const resolved = await this.resolve(path);
		try {
			let stats = await fs.lstat(resolved.absolute);
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

	private toEntry(relative: string, stats: Stats): Entry {
		const isDir = stats.isDirectory();
		return { path: relative, isDir, size: isDir ? 0 : stats.size, modTime: modTimeOf(stats), hashes: {} };
	}

	async *list(path: string, options: ListOptions = {}): AsyncIterable<Entry> {
		const start = await this.resolveExisting(path);
		if (!start.stats.isDirectory()) throw new NotFoundError(start.relative);
		const visited = new Set<string>([await fs.realpath(start.absolute)]);
		const pending: Array<{ relative: string; absolute: string }> = [start];
		while (pending.length > 0) {
			options.signal?.throwIfAborted();
			const folder = pending.pop()!;
			let dirents: Dirent[];
			try {
				dirents = await fs.readdir(folder.absolute, { withFileTypes: true });
			} catch (error) {
				throw mapError(error, folder.relative);
			}
			const entries: Entry[] = [];
			for (let i = 0; i < dirents.length; i += STAT_BATCH) {
				const batch = dirents.slice(i, i + STAT_BATCH).filter((dirent) => !isTempName(dirent.name));
				for (const dirent of batch) {
					const entry = dirent.isSymbolicLink() ? await this.statLink(folder, dirent, visited) : this.statChild(folder, dirent);
					if (entry) entries.push(entry);
				}
				if (i + STAT_BATCH < dirents.length) await new Promise((resolve) => setImmediate(resolve));
			}
			const subfolders: Array<{ relative: string; absolute: string }> = [];
			for (const entry of entries) {
				yield entry;
				if (entry.isDir && options.recursive) {
					subfolders.push({ relative: entry.path, absolute: nodePath.join(this.root, ...entry.path.split('/')) });
				}
			}
			pending.push(...subfolders.reverse());
		}
	}

	private statChild(folder: { relative: string; absolute: string }, dirent: Dirent): Entry | undefined {
		if (!dirent.isFile() && !dirent.isDirectory()) return undefined;
		const relative = folder.relative === '' ? dirent.name : `${folder.relative}/${dirent.name}`;
		try {
			return this.toEntry(relative, lstatSync(`${folder.absolute}${nodePath.sep}${dirent.name}`));
		} catch (error) {
			// A file removed between readdir and stat simply is not there any more.
			if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
			throw mapError(error, relative);
		}
	}

	private async statLink(folder: { relative: string; absolute: string }, dirent: Dirent, visited: Set<string>): Promise<Entry | undefined> {
		if (this.options.symlinks !== 'follow') return undefined;
		const relative = joinPath(folder.relative, dirent.name);
		try {
			const real = await fs.realpath(nodePath.join(folder.absolute, dirent.name));
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
			return handle.createReadStream({
				start: options.start,
				end: options.end === undefined ? undefined : options.end - 1,
				// A 1 MiB buffer per small file is most of the garbage a many-file sync makes.
				highWaterMark: Math.max(1, Math.min(READ_CHUNK, (options.end ?? stats.size) - (options.start ?? 0))),
				signal: options.signal,
			});
		} catch (error) {
			// The stream owns the handle only once it exists.
			await handle?.close().catch(() => undefined);
			throw mapError(error, relative);
		}
	}

	async write(path: string, content: Readable, options: WriteOptions = {}): Promise<Entry> {
		const { relative, absolute } = await this.resolve(path);
		if (relative === '') throw new InvalidPathError(path, 'cannot write over the root folder');
		await this.ensureFolder(nodePath.dirname(absolute), relative);
		const temp = this.tempNameFor(absolute);
		const measured = measure(content, options.hashTypes ?? [], { size: options.size });
		try {
			await pipeline(measured, createWriteStream(temp, { flags: 'wx' }), { signal: options.signal });
			if (options.modTime !== undefined) {
				const when = new Date(options.modTime);
				await fs.utimes(temp, when, when);
			}
			await this.replace(temp, absolute, relative);
		} catch (error) {
			await fs.rm(temp, { force: true });
			throw mapError(error, relative);
		}
		const modTime = options.modTime ?? modTimeOf(await fs.stat(absolute));
		return { path: relative, isDir: false, size: measured.bytes, modTime, hashes: measured.hashes };
	}

	private tempNameFor(absolute: string): string {
		const name = nodePath.basename(absolute).slice(0, 64);
		return nodePath.join(nodePath.dirname(absolute), `.${name}${TEMP_MARKER}${this.tempPrefix}${(this.tempCounter++).toString(36)}`);
	}

	/** Renames `temp` over `absolute`; over a folder, rename fails with EISDIR, which maps to AlreadyExistsError. */
	private async replace(temp: string, absolute: string, relative: string): Promise<void> {
		try {
			await fs.rename(temp, absolute);
		} catch (error) {
			throw mapError(error, relative);
		}
	}

	private forgetFolders(absolute: string): void {
		for (const folder of this.knownFolders) {
			if (isInside(absolute, folder)) this.knownFolders.delete(folder);
		}
	}

	private async ensureFolder(absolute: string, forPath: string): Promise<void> {
		if (this.knownFolders.has(absolute)) return;
		try {
			await fs.mkdir(absolute, { recursive: true });
		} catch (error) {
			throw mapError(error, parentPath(forPath));
		}
		this.knownFolders.add(absolute);
	}

	async mkdir(path: string): Promise<void> {
		const { relative, absolute } = await this.resolve(path);
		const existing = await fs.lstat(absolute).catch(() => undefined);
		if (existing && !existing.isDirectory()) throw new AlreadyExistsError(relative);
		await this.ensureFolder(absolute, relative);
	}

	async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
		const { relative, absolute } = await this.resolve(path);
		if (relative === '') throw new InvalidPathError(path, 'refusing to delete the root folder');
		try {
			const stats = await fs.lstat(absolute);
			if (stats.isDirectory()) {
				this.forgetFolders(absolute);
				await (options.recursive ? fs.rm(absolute, { recursive: true }) : fs.rmdir(absolute));
			} else {
				await fs.unlink(absolute);
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
			if (source.stats.isDirectory()) this.forgetFolders(source.absolute);
			await fs.rename(source.absolute, target.absolute);
		} catch (error) {
			throw mapError(error, target.relative);
		}
		return this.stat(target.relative);
	}

	async copy(from: string, to: string): Promise<Entry> {
		return this.copyFrom(this, from, to);
	}

	/** Another folder on this machine: the kernel copies (cloning where the disk can), nothing streams through us. */
	canCopyFrom(source: Provider): boolean {
		return source instanceof LocalProvider;
	}

	async copyFrom(source: Provider, from: string, to: string): Promise<Entry> {
		if (!(source instanceof LocalProvider)) throw new CloudSyncError(`Cannot copy from ${source.name} without streaming`);
		const origin = await source.resolveExisting(from);
		if (origin.stats.isDirectory()) throw new CloudSyncError(`Copying folders is not supported: ${origin.relative}`);
		const target = await this.resolve(to);
		if (target.relative === '') throw new InvalidPathError(to, 'cannot copy over the root folder');
		await this.ensureFolder(nodePath.dirname(target.absolute), target.relative);
		const temp = this.tempNameFor(target.absolute);
		const modTime = modTimeOf(origin.stats);
		try {
			await fs.copyFile(origin.absolute, temp, fsConstants.COPYFILE_FICLONE);
			const copied = await fs.stat(temp);
			if (copied.size !== origin.stats.size) {
				throw new VerificationError(`${origin.relative} changed while it was copied (${copied.size} of ${origin.stats.size} bytes)`);
			}
			await fs.utimes(temp, new Date(modTime), new Date(modTime));
			await this.replace(temp, target.absolute, target.relative);
		} catch (error) {
			await fs.rm(temp, { force: true });
			throw mapError(error, target.relative);
		}
		return { path: target.relative, isDir: false, size: origin.stats.size, modTime, hashes: {} };
	}

	async hash(path: string, types: HashType[]): Promise<Hashes> {
		const wanted = types.filter((type) => HASH_TYPES.includes(type));
		const { hashes } = await hashStream(await this.read(path), wanted);
		return hashes;
	}
}

