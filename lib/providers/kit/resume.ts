import { HASH_TYPES, type SavedUpload, type UploadIdentity, type UploadSessionStore, type WriteOptions } from '../../core/types';
import { measure } from '../../core/hashing';
import { ChunkReader } from './streams';

/** What differs from cloud to cloud when an earlier run's upload is resumed. */
export interface ResumeSteps<T> {
	/** How many bytes of the saved session the cloud holds; undefined when the cloud no longer knows it. */
	confirmed(saved: SavedUpload): Promise<number | undefined>;
	/** Sends the rest of the source from `reader` (its first byte is byte `offset` of the file) and finishes the upload. */
	send(saved: SavedUpload, reader: ChunkReader, offset: number): Promise<T>;
	/** Whether an error means the cloud lost the session, which is then forgotten. */
	gone(error: unknown): boolean;
	/** Tells the cloud to drop a session saved for another version of the source, where it can. */
	cancel?(stale: SavedUpload): Promise<void>;
}

/**
 * One provider's unfinished large uploads, kept across runs in the store the caller hands over
 * (`keepUploads`): a provider asks `identityOf` whether an upload is to be kept, `resume` before it
 * opens a new session, and tells `begin`, `advance` and `end` what the cloud confirmed. Every call
 * without an identity (no store, a small file, a source that cannot be read again) does nothing.
 */
export class ResumableUploads {
	private store?: UploadSessionStore;

	/** `scope` names the cloud account and root, so that a session is only ever resumed where it was opened. */
	constructor(private readonly scope: () => string) {}

	keep(store: UploadSessionStore): void {
		this.store = store;
	}

	/**
	 * What the upload is resumed against: the source's identity, when a store is kept, the file is
	 * larger than `above` (smaller ones go up in one request) and the caller can hand the source again
	 * from an offset. Undefined otherwise.
	 */
	identityOf(path: string, options: WriteOptions, above: number): UploadIdentity | undefined {
		if (!this.store || options.from === undefined || options.size === undefined || options.size <= above) return undefined;
		const type = HASH_TYPES.find((each) => options.sourceHashes?.[each]);
		return { path, size: options.size, modTime: options.modTime, hash: type && `${type}:${options.sourceHashes![type]!.toLowerCase()}` };
	}

	/**
	 * Goes on with the session an earlier run saved for this very source, from the offset the cloud
	 * confirms, reading only the rest of the source (`options.from`); undefined when there is none to go
	 * on with (none saved, expired, or forgotten by the cloud), for a fresh upload. A session saved for
	 * another version of the file is cancelled where the cloud allows.
	 */
	async resume<T>(identity: UploadIdentity | undefined, options: WriteOptions, steps: ResumeSteps<T>): Promise<T | undefined> {
		if (!identity || !this.store) return undefined;
		const { saved, stale } = await this.store.find(this.scope(), identity);
		// A session the cloud cannot be told to drop expires there by itself.
		if (stale && steps.cancel) await steps.cancel(stale).catch(() => undefined);
		if (!saved) return undefined;
		let offset: number | undefined;
		try {
			offset = await steps.confirmed(saved);
		} catch (error) {
			// A session that cannot be asked about is not tried again on every later run.
			this.end(identity);
			if (steps.gone(error)) return undefined;
			throw error;
		}
		if (offset === undefined) {
			this.end(identity);
			return undefined;
		}
		const reader = new ChunkReader(measure(await options.from!(offset), [], { size: identity.size - offset }));
		try {
			const result = await steps.send(saved, reader, offset);
			// Whatever is left of the source is read, so that its caller's checks see all of it.
			while (!(await reader.atEnd())) await reader.read(DRAIN_BYTES);
			this.end(identity);
			return result;
		} catch (error) {
			if (steps.gone(error)) this.end(identity);
			throw error;
		} finally {
			reader.close();
		}
	}

	/** Records a session the cloud just opened, saved before this resolves. */
	async begin(identity: UploadIdentity | undefined, session: string, offset: number, expiresAt: number): Promise<void> {
		if (identity) await this.store?.begin({ ...identity, scope: this.scope(), session, offset, expiresAt });
	}

	/** The cloud confirmed the first `offset` bytes. */
	advance(identity: UploadIdentity | undefined, offset: number): void {
		if (identity) this.store?.advance(this.scope(), identity.path, offset);
	}

	/** The upload is finished, or its session given up. */
	end(identity: UploadIdentity | undefined): void {
		if (identity) this.store?.end(this.scope(), identity.path);
	}
}

const DRAIN_BYTES = 1024 * 1024;

/**
 * A session made of pieces the cloud lists (S3's parts, Nextcloud's chunks), as kept in
 * `SavedUpload.session`: what names the upload, and the size its pieces were cut at, which a resumed
 * upload must cut the rest at too.
 */
export interface PiecedSession {
	upload: string;
	pieceBytes: number;
}

export function piecedSession(text: string): PiecedSession | undefined {
	try {
		const session = JSON.parse(text) as Partial<PiecedSession>;
		return typeof session.upload === 'string' && typeof session.pieceBytes === 'number' && session.pieceBytes > 0 ? { upload: session.upload, pieceBytes: session.pieceBytes } : undefined;
	} catch {
		return undefined;
	}
}
