import type { SavedUpload, UploadIdentity, UploadSessionStore } from '../core/types';
import type { StateStore } from './state';

const FORMAT = 'cloudsync-uploads-1';

export interface UploadSessionsOptions {
	/** A confirmed chunk is saved at most this often (a new session is saved at once); default 3 s. */
	saveEveryMs?: number;
	now?: () => number;
}

/**
 * The unfinished uploads of the providers that write through it, kept in StateStores (a file, n8n's
 * static data and a copy on the destination: the newest one read is used, every one is saved) so that a process killed mid-upload leaves the session for
 * the next run: a new session is saved before its first byte is sent, confirmed offsets every few
 * seconds, and `flush` saves what is left when the run ends. One session per scope (a cloud account
 * and root) and destination path; a session for another version of the source is never resumed.
 */
export class UploadSessions implements UploadSessionStore {
	/** Why the last save failed, if it did: uploads go on, only their resumption is at stake. */
	lastSaveError?: unknown;
	private loading?: Promise<Map<string, SavedUpload>>;
	private uploads = new Map<string, SavedUpload>();
	private timer?: NodeJS.Timeout;
	private saving: Promise<void> = Promise.resolve();
	/** Counts saves across runs, so the newest copy is told apart even when two were saved in the same millisecond. */
	private generation = 0;

	private readonly stores: StateStore[];

	constructor(stores: StateStore | StateStore[], private readonly options: UploadSessionsOptions = {}) {
		this.stores = Array.isArray(stores) ? stores : [stores];
	}

	async find(scope: string, identity: UploadIdentity): Promise<{ saved?: SavedUpload; stale?: SavedUpload }> {
		const uploads = await this.load();
		const key = keyOf(scope, identity.path);
		const saved = uploads.get(key);
		if (!saved) return {};
		if (saved.expiresAt > this.now() && sameSource(saved, identity)) return { saved: { ...saved } };
		uploads.delete(key);
		this.changed();
		return saved.expiresAt > this.now() ? { stale: saved } : {};
	}

	async begin(upload: SavedUpload): Promise<void> {
		(await this.load()).set(keyOf(upload.scope, upload.path), { ...upload });
		await this.saveNow();
	}

	advance(scope: string, path: string, offset: number): void {
		const upload = this.uploads.get(keyOf(scope, path));
		if (!upload || offset <= upload.offset) return;
		upload.offset = offset;
		this.changed();
	}

	end(scope: string, path: string): void {
		if (this.uploads.delete(keyOf(scope, path))) this.changed();
	}

	/** Every session kept, for reports and tests. */
	async list(): Promise<SavedUpload[]> {
		return [...(await this.load()).values()].map((upload) => ({ ...upload }));
	}

	/** Saves what changed since the last save; call when the run ends. */
	async flush(): Promise<void> {
		if (this.timer) {
			clearTimeout(this.timer);
			this.timer = undefined;
			await this.saveNow();
		}
		await this.saving;
	}

	private now(): number {
		return this.options.now?.() ?? Date.now();
	}

	private load(): Promise<Map<string, SavedUpload>> {
		this.loading ??= Promise.all(
			// An unreadable copy only costs a fresh upload.
			this.stores.map((store) => store.load().then(parse, () => undefined)),
		).then((copies) => {
			const newest = copies.reduce<Saved | undefined>((best, copy) => (copy && (!best || copy.generation > best.generation) ? copy : best), undefined);
			this.generation = newest?.generation ?? 0;
			const now = this.now();
			for (const upload of newest?.uploads ?? []) if (upload.expiresAt > now) this.uploads.set(keyOf(upload.scope, upload.path), upload);
			return this.uploads;
		});
		return this.loading;
	}

	private changed(): void {
		if (this.timer) return;
		this.timer = setTimeout(() => {
			this.timer = undefined;
			void this.saveNow();
		}, this.options.saveEveryMs ?? 3000);
		this.timer.unref();
	}

	private saveNow(): Promise<void> {
		const saved: Saved = { format: FORMAT, generation: ++this.generation, savedAt: this.now(), uploads: [...this.uploads.values()] };
		const text = JSON.stringify(saved);
		this.saving = this.saving
			.then(() => Promise.all(this.stores.map((store) => store.save(text))))
			.then(() => (this.lastSaveError = undefined))
			.catch((error: unknown) => void (this.lastSaveError = error));
		return this.saving;
	}
}

function keyOf(scope: string, path: string): string {
	return `${scope}\u0000${path}`;
}

function sameSource(saved: UploadIdentity, identity: UploadIdentity): boolean {
	return saved.size === identity.size && saved.modTime === identity.modTime && saved.hash === identity.hash;
}

interface Saved {
	format: string;
	generation: number;
	savedAt: number;
	uploads: SavedUpload[];
}

function parse(text: string | undefined): Saved | undefined {
	if (!text) return undefined;
	const data = JSON.parse(text) as Partial<Saved>;
	if (data.format !== FORMAT || !Array.isArray(data.uploads) || typeof data.generation !== 'number') return undefined;
	const uploads = data.uploads.filter((upload) => typeof upload.session === 'string' && typeof upload.path === 'string' && typeof upload.scope === 'string');
	return { format: FORMAT, generation: data.generation, savedAt: Number(data.savedAt), uploads };
}
