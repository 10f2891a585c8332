import { NotFoundError } from '../../core/errors';

/**
 * Folder path → id for clouds that address files by id (rclone's lib/dircache): each folder is
 * looked up (or created) once, and concurrent callers share that one request, so writing many files
 * into a new folder creates it once.
 */
export class DirCache {
	private readonly ids = new Map<string, Promise<string>>();

	/**
	 * @param rootId the root folder's id, for the path ''
	 * @param find looks up (or, with `create`, makes) the folder at a path whose parent is already known
	 */
	constructor(
		private readonly rootId: () => string,
		private readonly find: (path: string, create: boolean) => Promise<string>,
	) {}

	/** The id of the folder at `path`; with `create`, missing folders are made. */
	id(path: string, create = false): Promise<string> {
		if (path === '') return Promise.resolve(this.rootId());
		const cached = this.ids.get(path);
		if (cached) {
			// A lookup that found nothing must not stop a later call from creating the folder.
			return create ? cached.catch((error) => (error instanceof NotFoundError ? this.retry(path, cached) : Promise.reject(error))) : cached;
		}
		const pending = this.find(path, create);
		this.ids.set(path, pending);
		pending.catch(() => {
			if (this.ids.get(path) === pending) this.ids.delete(path);
		});
		return pending;
	}

	/** Whether an id (or a lookup on its way) is held for `path`. */
	has(path: string): boolean {
		return this.ids.has(path);
	}

	/** Records a folder a listing or lookup saw, unless one is already known there. */
	put(path: string, id: string): void {
		if (!this.ids.has(path)) this.ids.set(path, Promise.resolve(id));
	}

	/** Forgets one path: two folders answer to it, so it must be looked up (and refused) each time. */
	drop(path: string): void {
		this.ids.delete(path);
	}

	/** Forgets `path` and everything below it. */
	forget(path: string): void {
		for (const key of this.ids.keys()) if (insideOrSame(key, path)) this.ids.delete(key);
	}

	/** Moves what is known below `from` to below `to`, after a folder moved. */
	relocate(from: string, to: string): void {
		for (const [key, id] of [...this.ids]) {
			if (!insideOrSame(key, from)) continue;
			this.ids.delete(key);
			this.ids.set(to + key.slice(from.length), id);
		}
	}

	clear(): void {
		this.ids.clear();
	}

	private retry(path: string, failed: Promise<string>): Promise<string> {
		if (this.ids.get(path) === failed) this.ids.delete(path);
		return this.id(path, true);
	}
}

export const insideOrSame = (path: string, folder: string) => path === folder || path.startsWith(`${folder}/`);
