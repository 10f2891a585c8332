import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ListObjectsV2CommandOutput, S3Client, S3ServiceException, StorageClass, _Object } from '@aws-sdk/client-s3';
import type { Capabilities, Entry, HashType, Hashes, ListOptions, Provider, ReadOptions, RootLocation, UploadIdentity, UploadSessionStore, WriteOptions } from '../core/types';
import {
	AlreadyExistsError,
	AuthenticationError,
	CloudSyncError,
	InvalidNameError,
	InvalidPathError,
	NotEmptyError,
	NotFoundError,
	PermissionError,
	RateLimitError,
	StorageFullError,
	TransientError,
	VerificationError,
} from '../core/errors';
import { Pacer, classifyError, retryAfterOf } from '../core/pacer';
import { forEachLimit } from '../core/concurrency';
import { MeasuringStream } from '../core/hashing';
import { joinPath, normalizeRelativePath, parentPath, writablePath } from '../core/paths';
import { ChunkReader, Remote, ResumableUploads, SliceStream, bodyStream, emptyStream, insideOrSame, piecedSession, s3Sdk, type PiecedSession } from './kit';
import { DirectS3, type ObjectHead } from './s3Direct';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Parts of 5 MiB–5 GiB, at most 10,000 of them [doc] AWS "Amazon S3 multipart upload limits". */
const MIN_PART = 5 * MiB;
const MAX_PARTS = 10_000;
/**
 * Up to this size a file goes up in one PUT; each upload holds `queueSize` parts of this size in memory.
 * S3's smallest part (rclone's chunk size too): with 8 MiB parts a 1 GiB upload held 12 MiB more and
 * peaked 10–15 MiB higher, at the same speed.
 */
const DEFAULT_PART = 5 * MiB;
const DEFAULT_QUEUE = 4;
/** CopyObject is atomic only up to 5 GB [doc] AWS "Copying objects"; rclone's copy_cutoff is 4.656 GiB. */
const COPY_CUTOFF = 4.656 * GiB;
const COPY_PART = 512 * MiB;
/** Keys are at most 1,024 bytes of UTF-8 [doc] AWS "Naming Amazon S3 objects". */
const MAX_KEY_BYTES = 1024;
/** Keys one DeleteObjects request removes at most [doc] AWS DeleteObjects. */
const DELETE_BATCH = 1000;
/** HEADs run at once while a listing reads modification times. */
const HEADS_AT_ONCE = 16;
const DEFAULT_TIMEOUT_MS = 5 * 60_000;
/**
 * A multipart upload never expires on S3 by itself (a bucket lifecycle rule may abort it): a session
 * is kept for resuming this long, which no single upload should outlast.
 */
const MULTIPART_KEPT_MS = 7 * 24 * 3600 * 1000;

/**
 * rclone's metadata keys, so that either tool reads what the other wrote [code] rclone backend/s3/s3.go
 * (metaMtime, metaMD5Hash): `mtime` holds seconds since the epoch as a decimal fraction, `md5chksum` the
 * base64 MD5 of a multipart upload, whose ETag is no MD5.
 */
export const S3_MTIME_KEY = 'mtime';
export const S3_MD5_KEY = 'md5chksum';

export type S3Preset = 'aws' | 'r2' | 'b2' | 'wasabi' | 'minio' | 'other';

/** What each preset fills in; R2, MinIO and "other" need the endpoint from the user (R2's names the account). */
export const S3_PRESETS: Record<S3Preset, { label: string; region: string; pathStyle: boolean; endpoint?: (region: string) => string }> = {
	aws: { label: 'Amazon S3', region: 'us-east-1', pathStyle: false },
	// Region "auto"; empty and us-east-1 alias to it [doc] Cloudflare R2 "S3 API compatibility".
	r2: { label: 'Cloudflare R2', region: 'auto', pathStyle: true },
	b2: { label: 'Backblaze B2', region: 'us-west-004', pathStyle: true, endpoint: (region) => `https://s3.${region}.backblazeb2.com` },
	wasabi: { label: 'Wasabi', region: 'us-east-1', pathStyle: true, endpoint: (region) => `https://s3.${region}.wasabisys.com` },
	minio: { label: 'MinIO', region: 'us-east-1', pathStyle: true },
	other: { label: 'S3-compatible', region: 'us-east-1', pathStyle: true },
};

export interface S3Connection {
	accessKeyId: string;
	secretAccessKey: string;
	sessionToken?: string;
	preset?: S3Preset;
	/** The service's address with its scheme; derived from the region for AWS, B2 and Wasabi when empty. */
	endpoint?: string;
	region?: string;
	/** `https://host/bucket/key` instead of `https://bucket.host/key`; buckets with dots need it. */
	forcePathStyle?: boolean;
	requestTimeoutMs?: number;
}

export interface S3ProviderOptions extends S3Connection {
	bucket: string;
	/** Folder inside the bucket that is the provider's root ('' or 'backups/laptop'). */
	prefix?: string;
	pacer?: Pacer;
	/** STANDARD, STANDARD_IA, GLACIER_IR…; the bucket's default when unset. */
	storageClass?: string;
	/** Bytes per multipart part, and the size up to which a file goes up in one PUT. */
	partSize?: number;
	/** Parts of one upload sent at once. */
	queueSize?: number;
	/** Server-side copies above this size go part by part (UploadPartCopy). */
	copyCutoff?: number;
	copyPartSize?: number;
	/**
	 * Modification times come from the listing's LastModified (the upload time) instead of one HEAD per
	 * file for the stored `mtime` (rclone's --use-server-modtime): listings cost one request per 1,000
	 * files, and equal sizes are then compared by MD5.
	 */
	serverModTime?: boolean;
	/** Told when a multipart upload starts and ends, so that a resume store can keep its id across runs. */
	onMultipartUpload?: (event: { key: string; uploadId: string; state: 'started' | 'completed' | 'aborted' }) => void;
}

interface CallContext {
	path: string;
	to?: string;
	signal?: AbortSignal;
}

/** The abort signal of the request being sent, for the client's request handler (a call's options would bypass the cached middleware). */
const requestSignals = new AsyncLocalStorage<AbortSignal>();

/** The client as the preset, endpoint and region make it: checksums only where S3 requires them, and no retries of the SDK's own. */
export function s3Client(connection: S3Connection): S3Client {
	const preset = S3_PRESETS[connection.preset ?? 'other'] ?? S3_PRESETS.other;
	const region = connection.region?.trim() || preset.region;
	const endpoint = connection.endpoint?.trim() || preset.endpoint?.(region);
	if (!endpoint && connection.preset && connection.preset !== 'aws') {
		throw new CloudSyncError(`${preset.label} needs an endpoint`, { hint: `Fill in the Endpoint of the S3 credential, such as https://<account id>.r2.cloudflarestorage.com or http://minio.local:9000.` });
	}
	if (endpoint && !/^https?:\/\//i.test(endpoint)) {
		throw new CloudSyncError(`The S3 endpoint "${endpoint}" has no http:// or https://`, { hint: 'Write the endpoint with its scheme, such as https://s3.eu-central-003.backblazeb2.com.' });
	}
	const timeout = connection.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
	const { S3Client } = s3Sdk();
	const client = new S3Client({
		region,
		endpoint,
		forcePathStyle: connection.forcePathStyle ?? (endpoint ? preset.pathStyle : false),
		credentials: { accessKeyId: connection.accessKeyId, secretAccessKey: connection.secretAccessKey, sessionToken: connection.sessionToken || undefined },
		// Since 3.729 the SDK adds a CRC32 to every upload, which R2, B2 and most other servers refuse [issue] aws-sdk-js-v3#6810.
		requestChecksumCalculation: 'WHEN_REQUIRED',
		responseChecksumValidation: 'WHEN_REQUIRED',
		// Our pacer retries, with the backoff and the shared pause every cloud gets: SDK retries under it would square them.
		maxAttempts: 1,
		requestHandler: { connectionTimeout: 30_000, requestTimeout: timeout },
		// Each command class resolves its middleware stack once instead of at every request: resolving it
		// was a sixth of the objects each small request left alive past V8's young collections. A cached
		// stack is only used for a send without options, so the abort signal reaches the handler below.
		cacheMiddleware: true,
	});
	const handler = client.config.requestHandler as { handle(request: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown> };
	const handle = handler.handle.bind(handler);
	handler.handle = (request, options = {}) => {
		const abortSignal = requestSignals.getStore();
		return handle(request, abortSignal ? { ...options, abortSignal } : options);
	};
	// DeleteObjects must carry Content-MD5 on MinIO, B2 and most servers that are not AWS, where the SDK
	// sends a CRC32 instead since 3.729 [issue] aws-sdk-js-v3#6920; AWS takes Content-MD5 too.
	client.middlewareStack.add(
		(next, context) => async (args) => {
			const request = args.request as { headers?: Record<string, string>; body?: string | Uint8Array };
			if (context.commandName === 'DeleteObjectsCommand' && request.headers && request.body !== undefined) {
				for (const name of Object.keys(request.headers)) if (/^(x-amz-(sdk-)?checksum-|content-md5$)/i.test(name)) delete request.headers[name];
				request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
			}
			return next(args);
		},
		{ step: 'build', priority: 'low', name: 'deleteObjectsContentMd5' },
	);
	return client;
}

const statusOf = (error: S3ServiceException) => error.$metadata?.httpStatusCode ?? 0;
const headersOf = (error: unknown) => (error as { $response?: { headers?: Record<string, string> } }).$response?.headers;

/** What a failed S3 call becomes in the engine's typed errors: S3's code and message, never the request (it carries the signature). */
export function mapS3Error(error: unknown, context: CallContext & { bucket?: string }, redact: (text: string) => string = (text) => text): Error {
	const { S3ServiceException } = s3Sdk();
	if (error instanceof CloudSyncError) return error;
	const where = context.path || '/';
	if (error instanceof S3ServiceException) {
		const status = statusOf(error);
		const code = error.name;
		const detail = `${code}${error.message && error.message !== code && error.message !== 'UnknownError' ? `: ${redact(error.message).slice(0, 200)}` : ''}`;
		const retryAfterMs = retryAfterOf(headersOf(error));
		if (code === 'NoSuchBucket') {
			return new CloudSyncError(`The bucket "${context.bucket ?? ''}" does not exist`, {
				cause: error,
				hint: 'Create the bucket first (the sync does not create buckets), or check its name and the region or endpoint of the credential.',
			});
		}
		if (code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || code === 'IllegalLocationConstraintException' || status === 301) {
			return new CloudSyncError(`The bucket "${context.bucket ?? ''}" is in another region (${detail})`, { cause: error, hint: "Set the credential's region to the bucket's region." });
		}
		if (code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch' || code === 'InvalidToken' || code === 'ExpiredToken' || status === 401) {
			return new AuthenticationError(`The S3 service refused the credential (${detail})`, {
				cause: error,
				hint: 'Check the access key id and secret access key of the S3 credential (and that the key is still active), then run again.',
			});
		}
		if (code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchUpload' || status === 404) return new NotFoundError(where, { cause: error });
		if (code === 'QuotaExceeded' || code === 'StorageLimitExceeded' || status === 507) return new StorageFullError(`The S3 storage is full: cannot write ${where} (${detail})`, { cause: error });
		if (code === 'AccessDenied' || code === 'AllAccessDisabled' || status === 403) {
			return new PermissionError(`The S3 service denied access to ${where} (${detail})`, {
				cause: error,
				hint: "Give the key read, write, list and delete rights on the bucket (and on its prefix), or choose a bucket it may use.",
			});
		}
		if (code === 'KeyTooLongError') return new InvalidNameError(context.to ?? where, 'S3 keys are at most 1,024 bytes', { cause: error });
		if (code === 'SlowDown' || status === 429 || status === 503) return new RateLimitError(`The S3 service asked to slow down (${detail}) at ${where}`, { cause: error, retryAfterMs });
		if (code === 'RequestTimeout' || code === 'InternalError' || status === 408 || status >= 500) {
			return new TransientError(`The S3 service failed with HTTP ${status} (${detail}) at ${where}`, { cause: error, retryAfterMs });
		}
		// A 2xx whose body was cut short or was no XML: the SDK could not read it, so the answer is lost, not refused.
		if (status >= 200 && status < 300) return new TransientError(`The S3 service's answer could not be read (${detail}) at ${where}`, { cause: error });
		return new CloudSyncError(`The S3 service refused the request for ${where} (HTTP ${status} ${detail})`, { cause: error });
	}
	const message = redact(typeof (error as Error)?.message === 'string' ? (error as Error).message : String(error));
	const name = (error as Error)?.name;
	if (name === 'TimeoutError' || name === 'RequestTimeout') return new TransientError(`The S3 service did not answer in time (${where})`, { cause: error });
	// Deserialization failures of a truncated body carry the response's 2xx status in $metadata.
	const code = (error as { code?: unknown })?.code ?? (error as { cause?: { code?: unknown } })?.cause?.code;
	if (classifyError(error).retryable || name === 'SyntaxError' || (error as { $metadata?: unknown }).$metadata !== undefined) {
		return new TransientError(`The S3 service could not be reached, or the connection broke (${typeof code === 'string' ? code : message.slice(0, 160)}) at ${where}`, { cause: error });
	}
	return new CloudSyncError(message, { cause: error });
}

/** rclone's float seconds, trailing zeros dropped ("1700000000.123"). */
export function formatS3Mtime(ms: number): string {
	const seconds = Math.floor(ms / 1000);
	const fraction = String(ms - seconds * 1000).padStart(3, '0').replace(/0+$/, '');
	return fraction ? `${seconds}.${fraction}` : String(seconds);
}

/** The milliseconds in an `mtime` value; undefined when it is not a number (rclone writes up to nine decimals). */
export function parseS3Mtime(value: string | undefined): number | undefined {
	if (value === undefined || !/^-?\d+(\.\d+)?$/.test(value.trim())) return undefined;
	const [whole, fraction = ''] = value.trim().split('.');
	return Number(whole) * 1000 + Math.round(Number(`0.${fraction || '0'}`) * 1000) * (whole.startsWith('-') ? -1 : 1);
}

/**
 * The MD5 an ETag is, when it is one. A multipart upload's ETag is `md5(part md5s)-parts` and names no
 * file hash [code] rclone docs/content/s3.md "Hashes": it is never compared as an MD5.
 */
export function md5OfEtag(etag: string | undefined): string | undefined {
	const bare = etag?.replace(/"/g, '').toLowerCase();
	return bare && /^[0-9a-f]{32}$/.test(bare) ? bare : undefined;
}

const md5OfMetadata = (value: string | undefined) => {
	if (!value) return undefined;
	const hex = Buffer.from(value, 'base64').toString('hex');
	return hex.length === 32 ? hex : undefined;
};

/** Folder paths, with every ancestor of a written file added. */
class FolderSet extends Set<string> {
	addAncestorsOf(path: string): void {
		for (let parent = parentPath(path); parent !== '' && !this.has(parent); parent = parentPath(parent)) this.add(parent);
	}
}

/** One part S3 holds: its ETag for the completion, and its MD5 (undefined when the ETag is none) for the whole upload's ETag. */
interface StoredPart {
	PartNumber: number;
	ETag: string;
	size: number;
	md5?: Buffer;
}

/**
 * The parts a resumed upload can build on: parts 1, 2, 3… with none missing, each of the size they
 * were cut at (the file's last part of what is left). A part past a gap, or of another size, is sent again.
 */
export function contiguousParts(listed: Array<{ PartNumber?: number; ETag?: string; Size?: number }>, partSize: number, total: number): StoredPart[] {
	const byNumber = new Map(listed.map((part) => [part.PartNumber, part]));
	const parts: StoredPart[] = [];
	for (let offset = 0; offset < total; offset += partSize) {
		const part = byNumber.get(parts.length + 1);
		if (!part?.ETag || part.Size !== Math.min(partSize, total - offset)) break;
		const md5 = md5OfEtag(part.ETag);
		parts.push({ PartNumber: parts.length + 1, ETag: part.ETag, size: part.Size, md5: md5 ? Buffer.from(md5, 'hex') : undefined });
	}
	return parts;
}

/** The ETag S3 gives a multipart upload of these parts, when each part's ETag is its MD5 [code] rclone docs/content/s3.md "Hashes". */
function multipartEtag(parts: StoredPart[]): string | undefined {
	if (parts.some((part) => !part.md5)) return undefined;
	const all = createHash('md5');
	for (const part of parts) all.update(part.md5!);
	return `${all.digest('hex')}-${parts.length}`;
}

/**
 * S3 and S3-compatible object stores (AWS, Cloudflare R2, Backblaze B2, Wasabi, MinIO) through the
 * official SDK, every call through our pacer. A folder is a bucket and a key prefix; folders are only
 * the prefixes of keys, so empty folders are not kept. Modification times live in the object's
 * `mtime` metadata as rclone writes them.
 */
export class S3Provider implements Provider {
	readonly name = 's3';
	readonly capabilities: Capabilities;
	readonly pacer: Pacer;
	readonly client: S3Client;
	/** HEADs and small PUTs, sent past the SDK's middleware. */
	private readonly direct: DirectS3;
	private readonly remote: Remote<CallContext>;
	private readonly bucket: string;
	private readonly prefix: string;
	private readonly partSize: number;
	private readonly queueSize: number;
	private readonly copyCutoff: number;
	private readonly copyPartSize: number;
	private readonly endpointKey: string;
	/** The folders of the last whole listing of the root, and those writes made since. */
	private knownFolders?: FolderSet;
	/** Unfinished multipart uploads, kept between runs when the caller gives a store. */
	private readonly sessions = new ResumableUploads(() => `s3:${this.endpointKey}|${this.bucket}|${this.prefix}`);

	private constructor(private readonly options: S3ProviderOptions) {
		this.bucket = options.bucket.trim();
		if (!this.bucket) throw new CloudSyncError('No bucket was given', { hint: 'Write the folder as bucket/prefix, such as backups/laptop.' });
		this.prefix = normalizeRelativePath((options.prefix ?? '').replace(/^\/+/, ''));
		this.client = s3Client(options);
		this.direct = new DirectS3(this.client, this.bucket, options);
		this.pacer = options.pacer ?? new Pacer();
		this.partSize = Math.max(MIN_PART, options.partSize ?? DEFAULT_PART);
		this.queueSize = Math.max(1, options.queueSize ?? DEFAULT_QUEUE);
		this.copyCutoff = options.copyCutoff ?? COPY_CUTOFF;
		this.copyPartSize = Math.max(MIN_PART, options.copyPartSize ?? COPY_PART);
		this.endpointKey = `${options.endpoint?.trim() || options.preset || 'aws'}|${options.region ?? ''}`;
		this.capabilities = {
			hashTypes: ['md5'],
			// Only single-part uploads list an MD5 (their ETag); the others carry it in metadata, read by hash().
			listedHashTypes: ['md5'],
			modTimePrecisionMs: 1,
			canSetModTime: !options.serverModTime,
			caseInsensitive: false,
			maxFileSize: MAX_PARTS * 5 * GiB,
			emptyFolders: false,
		};
		const secrets = [options.secretAccessKey, options.sessionToken ?? ''];
		this.remote = new Remote<CallContext>({
			pacer: this.pacer,
			tokens: { prepare: async () => undefined, renew: async () => undefined, secrets: () => secrets },
			unauthorized: () => false,
			mapError: (error, context, redact) => mapS3Error(error, { ...context, bucket: this.bucket }, redact),
		});
	}

	/** Opens the provider on its bucket; fails with a clear error when the bucket is missing or the key may not use it. */
	static async open(options: S3ProviderOptions): Promise<S3Provider> {
		const provider = new S3Provider(options);
		// A listing rather than HeadBucket: its answer has a body, which tells a missing bucket from a wrong key or a refusal.
		await provider.listPage(provider.folderPrefix(''), undefined, true, undefined, 1);
		return provider;
	}

	/** The buckets the key may see, for a folder picker. */
	static async buckets(connection: S3Connection, pacer = new Pacer()): Promise<string[]> {
		const { ListBucketsCommand } = s3Sdk();
		const client = s3Client(connection);
		const redact = (text: string) => text.split(connection.secretAccessKey).join('[redacted]');
		try {
			const answer = await pacer.run(async () => {
				try {
					return await client.send(new ListBucketsCommand({}));
				} catch (error) {
					throw mapS3Error(error, { path: '' }, redact);
				}
			});
			return (answer.Buckets ?? []).flatMap((bucket) => (bucket.Name ? [bucket.Name] : []));
		} finally {
			client.destroy();
		}
	}

	/** One level of "folders" (common prefixes) below `prefix` in `bucket`, for a folder picker. */
	static async prefixes(connection: S3Connection, bucket: string, prefix: string, pacer = new Pacer()): Promise<string[]> {
		const provider = new S3Provider({ ...connection, bucket, prefix, pacer });
		try {
			const found: string[] = [];
			for await (const entry of provider.list('')) if (entry.isDir) found.push(entry.path);
			return found;
		} finally {
			provider.client.destroy();
		}
	}

	// -----------------------------------------------------------------------------------------
	// Requests and keys

	/** A request through the pacer; the SDK's request handler is given the context's signal (see `s3Client`). */
	private call<T>(context: CallContext, request: () => Promise<T>): Promise<T> {
		const { signal } = context;
		return this.remote.call(context, signal ? () => requestSignals.run(signal, request) : request, signal);
	}

	private key(relative: string): string {
		const key = joinPath(this.prefix, relative);
		if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new InvalidNameError(relative, 'S3 keys are at most 1,024 bytes, bucket prefix included');
		return key;
	}

	/** The key prefix of a folder's contents; '' for a root at the top of the bucket. */
	private folderPrefix(relative: string): string {
		const key = joinPath(this.prefix, relative);
		return key === '' ? '' : `${key}/`;
	}


	/** A key's path below the root; undefined for keys no path can name (`a//b`, `..`), which are never listed. */
	private relativeOf(key: string, below: string): string | undefined {
		const rest = key.slice(below.length);
		const parts = rest.replace(/\/$/, '').split('/');
		if (rest === '' || parts.some((part) => part === '' || part === '.' || part === '..')) return undefined;
		const root = this.folderPrefix('');
		return key.slice(root.length).replace(/\/$/, '');
	}

	private fileEntry(path: string, object: { Size?: number; LastModified?: Date; ETag?: string }, head?: ObjectHead): Entry {
		const hashes: Hashes = {};
		const md5 = md5OfEtag(head?.ETag ?? object.ETag) ?? md5OfMetadata(head?.Metadata?.[S3_MD5_KEY]);
		if (md5) hashes.md5 = md5;
		const stored = this.options.serverModTime ? undefined : parseS3Mtime(head?.Metadata?.[S3_MTIME_KEY]);
		const modTime = stored ?? (head?.LastModified ?? object.LastModified)?.getTime() ?? 0;
		return { path, isDir: false, size: head?.ContentLength ?? object.Size ?? 0, modTime, hashes };
	}

	private dirEntry(path: string): Entry {
		return { path, isDir: true, size: 0, modTime: 0, hashes: {} };
	}

	private async head(relative: string, signal?: AbortSignal): Promise<ObjectHead | undefined> {
		const Key = this.key(relative);
		try {
			return await this.call({ path: relative, signal }, () => this.direct.head(Key, signal));
		} catch (error) {
			if (error instanceof NotFoundError) return undefined;
			throw error;
		}
	}

	private listPage(prefix: string, token: string | undefined, delimiter: boolean, signal?: AbortSignal, maxKeys?: number): Promise<ListObjectsV2CommandOutput> {
		const { ListObjectsV2Command } = s3Sdk();
		return this.call({ path: prefix, signal }, () =>
			this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, Delimiter: delimiter ? '/' : undefined, MaxKeys: maxKeys })),
		);
	}

	/**
	 * Whether `relative` is a folder: from the last whole listing when there was one (a sync lists first,
	 * so its writes cost no request for this), else from one listing request. A folder the listing
	 * remembers is asked again, since its last file may have gone since.
	 */
	private async isFolder(relative: string, signal?: AbortSignal): Promise<boolean> {
		if (this.knownFolders && !this.knownFolders.has(relative)) return false;
		return this.hasContents(relative, signal);
	}

	/** Whether any key lies below the folder `relative`. */
	private async hasContents(relative: string, signal?: AbortSignal): Promise<boolean> {
		const page = await this.listPage(this.folderPrefix(relative), undefined, false, signal, 1);
		return (page.KeyCount ?? page.Contents?.length ?? 0) > 0;
	}

	// -----------------------------------------------------------------------------------------
	// Listing and metadata

	/**
	 * S3 lists keys in byte order, so a folder's keys come together: each folder is yielded when its first
	 * key shows up, before that key. Stored modification times take one HEAD per file (as in rclone),
	 * a page at a time, unless `serverModTime` is set.
	 */
	async *list(path: string, options: ListOptions = {}): AsyncIterable<Entry> {
		const relative = normalizeRelativePath(path);
		const below = this.folderPrefix(relative);
		const seen = new Set<string>();
		const whole = relative === '' && options.recursive;
		const folders = whole ? new FolderSet() : undefined;
		let token: string | undefined;
		let any = false;
		do {
			const page = await this.listPage(below, token, !options.recursive, options.signal);
			const entries: Entry[] = [];
			for (const common of page.CommonPrefixes ?? []) {
				const folder = common.Prefix && this.relativeOf(common.Prefix, below);
				if (folder !== undefined) entries.push(this.dirEntry(folder));
				any = true;
			}
			const files: Array<{ path: string; object: _Object }> = [];
			for (const object of page.Contents ?? []) {
				any = true;
				if (!object.Key || object.Key === below) continue;
				const file = this.relativeOf(object.Key, below);
				if (file === undefined) continue;
				// A zero-byte key ending in '/' is a folder marker some consoles make.
				const marker = object.Key.endsWith('/');
				const missing: string[] = [];
				for (let parent = marker ? file : parentPath(file); parent !== relative && parent !== '' && !seen.has(parent); parent = parentPath(parent)) {
					seen.add(parent);
					missing.push(parent);
				}
				entries.push(...missing.reverse().map((folder) => this.dirEntry(folder)));
				if (!marker) files.push({ path: file, object });
			}
			for (const entry of entries) if (entry.isDir) folders?.add(entry.path);
			yield* entries;
			yield* await this.withModTimes(files, options.signal);
			token = page.IsTruncated ? page.NextContinuationToken : undefined;
		} while (token);
		if (folders) this.knownFolders = folders;
		if (!any && relative !== '') throw new NotFoundError(relative);
	}

	private async withModTimes(files: Array<{ path: string; object: _Object }>, signal?: AbortSignal): Promise<Entry[]> {
		if (this.options.serverModTime) return files.map(({ path, object }) => this.fileEntry(path, object));
		const entries: Entry[] = new Array(files.length);
		await forEachLimit(
			files,
			HEADS_AT_ONCE,
			async ({ path, object }, index) => {
				const head = await this.head(path, signal);
				entries[index] = this.fileEntry(path, object, head);
			},
			signal,
		);
		return entries.filter(Boolean);
	}

	async stat(path: string): Promise<Entry> {
		const relative = normalizeRelativePath(path);
		if (relative === '') return this.dirEntry('');
		const head = await this.head(relative);
		if (head) return this.fileEntry(relative, {}, head);
		if (await this.hasContents(relative)) return this.dirEntry(relative);
		throw new NotFoundError(relative);
	}

	async hash(path: string, types: HashType[]): Promise<Hashes> {
		const entry = await this.stat(path);
		if (entry.isDir) throw new CloudSyncError(`Cannot hash a folder: ${entry.path}`);
		// A multipart upload without rclone's md5chksum has no MD5 anywhere: unknown, never made up.
		return types.includes('md5') && entry.hashes.md5 ? { md5: entry.hashes.md5 } : {};
	}

	async locate(): Promise<RootLocation> {
		const chain = this.prefix.split('/').filter(Boolean);
		return { namespace: `s3:${this.endpointKey}|${this.bucket}`, chain, names: chain, caseInsensitive: false };
	}

	recovery(): string {
		return `S3 keeps deleted and replaced objects only when versioning is on for the bucket "${this.bucket}"`;
	}

	// -----------------------------------------------------------------------------------------
	// Reading and writing

	async read(path: string, options: ReadOptions = {}): Promise<Readable> {
		const { GetObjectCommand, S3ServiceException } = s3Sdk();
		const relative = normalizeRelativePath(path);
		const Key = this.key(relative);
		const start = options.start ?? 0;
		if (options.end !== undefined && options.end <= start) {
			await this.stat(relative);
			return emptyStream();
		}
		const Range = start > 0 || options.end !== undefined ? `bytes=${start}-${options.end === undefined ? '' : options.end - 1}` : undefined;
		const context = { path: relative, signal: options.signal };
		try {
			const answer = await this.call(context, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range })));
			// A body cut short ends early without an error on some connections: its length is checked.
			const checked = new MeasuringStream([], { size: answer.ContentLength });
			const body = bodyStream(answer.Body, (cause) => new TransientError(`The download of ${relative} broke off`, { cause }), checked);
			// A server that sent more than the range (s3rver reads bytes=0-0 as the whole object) is cut down to it here.
			const served = Number(/^bytes (\d+)-(\d+)\//.exec(answer.ContentRange ?? '')?.[1] ?? 0);
			const wanted = options.end === undefined ? undefined : options.end - start;
			if (!Range || (served === start && (wanted === undefined || answer.ContentLength === wanted))) return body;
			const slice = new SliceStream(start - served, options.end === undefined ? Number.MAX_SAFE_INTEGER : options.end - served);
			body.on('error', (error) => slice.destroy(error));
			return body.pipe(slice);
		} catch (error) {
			// A range starting at or past the end: S3 answers 416 InvalidRange.
			if (error instanceof CloudSyncError && error.cause instanceof S3ServiceException && statusOf(error.cause) === 416) {
				await this.stat(relative);
				return emptyStream();
			}
			if (error instanceof NotFoundError) throw new NotFoundError(relative);
			throw error;
		}
	}

	/**
	 * One PUT up to the part size, a multipart upload above it (parts sent `queueSize` at a time, each
	 * through the pacer; the old object stays until the new one is complete). The ETag is checked
	 * against the MD5 of what was sent: the whole file's for one PUT, the parts' for multipart. With a
	 * store kept (`keepUploads`), a multipart upload left by an earlier run for this very source goes
	 * on from the parts S3 lists, and one cut short stays for the next run instead of being aborted.
	 */
	async write(path: string, content: Readable, options: WriteOptions = {}): Promise<Entry> {
		const { CreateMultipartUploadCommand } = s3Sdk();
		const relative = writablePath(path, 'write over');
		const Key = this.key(relative);
		const context = { path: relative, signal: options.signal };
		const partSize = options.size !== undefined ? Math.max(this.partSize, Math.ceil(options.size / MAX_PARTS / MiB) * MiB) : this.partSize;
		const identity = this.sessions.identityOf(relative, options, partSize);
		// Before `content` is touched: a resumed upload reads the source from the first part S3 lacks.
		const resumed = await this.resume(identity, Key, context, options);
		if (resumed) return resumed;
		// The executor hands the source's listed hashes alongside the bytes (a Drive or S3 source lists an MD5).
		const known = options.sourceHashes?.md5;
		// The bytes are read straight from `content`, and counted, checked against the announced size and
		// hashed by the reader as it pulls them: a MeasuringStream between them cost every small file a
		// second stream pipeline, whose objects, alive for the whole request, made up much of what
		// outlived V8's young collections.
		const reader = new ChunkReader(content, { measure: { hashTypes: ['md5'], size: options.size } });
		try {
			if (await this.isFolder(relative, options.signal)) throw new AlreadyExistsError(relative);
			const Metadata: Record<string, string> = {};
			if (options.modTime !== undefined) Metadata[S3_MTIME_KEY] = formatS3Mtime(options.modTime);
			if (known) Metadata[S3_MD5_KEY] = Buffer.from(known, 'hex').toString('base64');
			const params = { Bucket: this.bucket, Key, Metadata, StorageClass: this.options.storageClass as StorageClass | undefined };
			let answer: { ETag?: string; ServerSideEncryption?: string; SSECustomerAlgorithm?: string };
			let expected: string | undefined;
			let md5: string;
			try {
				// Up to one part, the bytes are held and sent in one PUT, which the pacer may send again.
				// A file known to need parts has its first one read into the first of the buffers its parts are assembled in.
				const firstBuffer = options.size !== undefined && options.size > partSize ? Buffer.allocUnsafeSlow(partSize) : undefined;
				const first = await reader.read(partSize, firstBuffer);
				if (await reader.atEnd()) {
					md5 = reader.hashes.md5!;
					answer = await this.call(context, () => this.direct.put(params, first, options.signal));
					expected = md5;
				} else {
					const created = await this.call(context, () => this.client.send(new CreateMultipartUploadCommand(params)));
					// The upload id, and the part size a resumed upload must cut the rest at.
					const session: PiecedSession = { upload: created.UploadId!, pieceBytes: partSize };
					this.options.onMultipartUpload?.({ key: Key, uploadId: session.upload, state: 'started' });
					await this.sessions.begin(identity, JSON.stringify(session), 0, Date.now() + MULTIPART_KEPT_MS);
					({ answer, expected } = await this.sendParts(context, Key, session, reader, { first, firstBuffer }, [], options, identity).catch(async (error: unknown) => {
						// An upload kept for a later run stays (unless S3 lost it); any other is aborted, so S3 frees its parts.
						if (error instanceof NotFoundError) this.sessions.end(identity);
						else if (!identity) await this.abortMultipart(context, Key, session.upload);
						throw error;
					}));
					md5 = reader.hashes.md5!;
				}
			} catch (error) {
				throw mapS3Error(error, { ...context, bucket: this.bucket }, (text) => this.remote.redact(text));
			}
			this.knownFolders?.addAncestorsOf(relative);
			this.checkEtag(relative, answer, expected, reader.bytes);
			return { path: relative, isDir: false, size: reader.bytes, modTime: options.modTime ?? Date.now(), hashes: { md5 } };
		} finally {
			reader.close();
		}
	}

	/** SSE-KMS and SSE-C ETags are no MD5 [code] rclone docs/content/s3.md "Hashes"; a server's own multipart form (R2's random ones before 2023, s3rver's whole MD5) proves nothing either way. */
	private checkEtag(relative: string, answer: { ETag?: string; ServerSideEncryption?: string; SSECustomerAlgorithm?: string }, expected: string | undefined, bytes: number): void {
		const etag = answer.ETag?.replace(/"/g, '').toLowerCase() ?? '';
		const encrypted = answer.ServerSideEncryption === 'aws:kms' || answer.ServerSideEncryption === 'aws:kms:dsse' || Boolean(answer.SSECustomerAlgorithm);
		const comparable = expected !== undefined && (!expected.includes('-') || /-\d+$/.test(etag));
		if (!encrypted && comparable && etag !== expected) throw new VerificationError(`The S3 service stored ${relative} with ETag ${etag}, but the ${bytes} bytes sent give ${expected}`);
	}

	keepUploads(store: UploadSessionStore): void {
		this.sessions.keep(store);
	}

	/**
	 * Goes on with the multipart upload an earlier run saved for this very source: S3 lists the parts it
	 * holds (ListParts), the rest is sent and the upload completed. Parts S3 holds are not read again:
	 * their sizes and order are checked, and the completed upload's ETag, made of every part's MD5,
	 * against theirs and those of the parts sent. An upload saved for another version is aborted.
	 */
	private async resume(identity: UploadIdentity | undefined, Key: string, context: CallContext, options: WriteOptions): Promise<Entry | undefined> {
		let held: StoredPart[] = [];
		let session: PiecedSession | undefined;
		const sent = await this.sessions.resume(identity, options, {
			cancel: async (stale) => {
				const uploadId = piecedSession(stale.session)?.upload;
				if (uploadId) await this.abortMultipart(context, Key, uploadId);
			},
			confirmed: async (saved) => {
				session = piecedSession(saved.session);
				if (!session) return undefined;
				held = contiguousParts(await this.listParts(context, Key, session.upload), session.pieceBytes, saved.size);
				return held.reduce((bytes, part) => bytes + part.size, 0);
			},
			send: (_saved, reader) => this.sendParts(context, Key, session!, reader, {}, held, options, identity),
			gone: (error) => error instanceof NotFoundError,
		}).catch((error: unknown) => {
			throw mapS3Error(error, { ...context, bucket: this.bucket }, (text) => this.remote.redact(text));
		});
		if (!sent) return undefined;
		this.knownFolders?.addAncestorsOf(context.path);
		this.checkEtag(context.path, sent.answer, sent.expected, identity!.size);
		// The caller checks the size; this side saw only the rest, so it names no MD5 of the whole.
		return { path: context.path, isDir: false, size: identity!.size, modTime: options.modTime ?? Date.now(), hashes: {} };
	}

	/** Every part S3 holds of an upload; NotFoundError when S3 has no such upload (completed, aborted, or expired by a lifecycle rule). */
	private async listParts(context: CallContext, Key: string, UploadId: string): Promise<Array<{ PartNumber?: number; ETag?: string; Size?: number }>> {
		const { ListPartsCommand } = s3Sdk();
		const parts: Array<{ PartNumber?: number; ETag?: string; Size?: number }> = [];
		let PartNumberMarker: string | undefined;
		do {
			const page = await this.call(context, () => this.client.send(new ListPartsCommand({ Bucket: this.bucket, Key, UploadId, PartNumberMarker })));
			parts.push(...(page.Parts ?? []));
			PartNumberMarker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
		} while (PartNumberMarker);
		return parts;
	}

	/**
	 * Sends the parts after `held` from `reader`, `queueSize` at a time, each held in memory until S3
	 * took it (a retry sends it again), then completes the upload. The store is told how far the parts S3
	 * confirmed reach without a gap. `from` says what was read already (`first`, and `firstBuffer`, the
	 * buffer it was read into).
	 */
	private async sendParts(
		context: CallContext,
		Key: string,
		session: PiecedSession,
		reader: ChunkReader,
		from: { first?: Buffer; firstBuffer?: Buffer },
		held: StoredPart[],
		options: WriteOptions,
		identity: UploadIdentity | undefined,
	): Promise<{ answer: { ETag?: string; ServerSideEncryption?: string; SSECustomerAlgorithm?: string }; expected?: string }> {
		const { CompleteMultipartUploadCommand, UploadPartCommand } = s3Sdk();
		const { first, firstBuffer } = from;
		const { upload: UploadId, pieceBytes: partSize } = session;
		const parts = [...held];
		let confirmed = held.reduce((bytes, part) => bytes + part.size, 0);
		const inFlight = new Set<Promise<void>>();
		let failure: { error: unknown } | undefined;
		// Parts are assembled in buffers lent back once S3 took them: at most `queueSize` of them for the
		// whole upload, where a new buffer per part left a part's worth of garbage every part (a 1 GiB
		// upload peaked at 165 MiB of RSS).
		const spare: Buffer[] = [];
		const lent = new Map<ArrayBufferLike, Buffer>();
		if (firstBuffer) {
			lent.set(firstBuffer.buffer, firstBuffer);
			if (first?.buffer !== firstBuffer.buffer) spare.push(firstBuffer);
		}
		const nextPart = async (): Promise<Buffer> => {
			const buffer = spare.pop() ?? Buffer.allocUnsafeSlow(partSize);
			lent.set(buffer.buffer, buffer);
			const chunk = await reader.read(partSize, buffer);
			if (chunk.buffer !== buffer.buffer) spare.push(buffer);
			return chunk;
		};
		const send = async (PartNumber: number, Body: Buffer) => {
			const md5 = createHash('md5').update(Body).digest();
			const answer = await this.call(context, () => this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key, UploadId, PartNumber, Body, ContentLength: Body.length })));
			parts[PartNumber - 1] = { PartNumber, ETag: answer.ETag!, size: Body.length, md5 };
			while (parts[confirmed / partSize]) confirmed += parts[confirmed / partSize].size;
			this.sessions.advance(identity, confirmed);
		};
		try {
			for (let PartNumber = held.length + 1, chunk = first ?? (await nextPart()); chunk.length > 0 && !failure; PartNumber++) {
				const part = chunk;
				const sending = send(PartNumber, part)
					.catch((error: unknown) => void (failure ??= { error }))
					// Lent again only once no attempt can send it any more.
					.finally(() => {
						const buffer = lent.get(part.buffer);
						if (buffer) spare.push(buffer);
					});
				inFlight.add(sending);
				void sending.finally(() => inFlight.delete(sending));
				if (inFlight.size >= this.queueSize) await Promise.race(inFlight);
				options.signal?.throwIfAborted();
				chunk = failure ? Buffer.alloc(0) : await nextPart();
			}
		} finally {
			// No part is left going on after this fails: an abort that follows would otherwise race it.
			await Promise.all(inFlight);
		}
		if (failure) throw failure.error;
		options.signal?.throwIfAborted();
		const answer = await this.call(context, () =>
			this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId, MultipartUpload: { Parts: parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })) } })),
		);
		this.sessions.end(identity);
		this.options.onMultipartUpload?.({ key: Key, uploadId: UploadId, state: 'completed' });
		return { answer, expected: multipartEtag(parts) };
	}

	/**
	 * Aborts the multipart uploads below the root that no run resumes any more: started longer ago than
	 * a session is kept (their file was deleted at the source, or a store was lost), so S3 stops billing
	 * their parts. One listing per run; a key that may not list uploads, or a server without the call,
	 * leaves them to a lifecycle rule of the bucket.
	 */
	async housekeeping(): Promise<string[]> {
		const { ListMultipartUploadsCommand } = s3Sdk();
		const before = Date.now() - MULTIPART_KEPT_MS;
		const context = { path: '' };
		const abandoned: Array<{ Key: string; UploadId: string }> = [];
		try {
			let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
			for (;;) {
				const page = await this.call(context, () => this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.folderPrefix(''), ...markers })));
				for (const upload of page.Uploads ?? []) {
					if (upload.Key && upload.UploadId && upload.Initiated && upload.Initiated.getTime() < before) abandoned.push({ Key: upload.Key, UploadId: upload.UploadId });
				}
				if (!page.IsTruncated) break;
				markers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
			}
		} catch {
			return [];
		}
		await forEachLimit(abandoned, HEADS_AT_ONCE, ({ Key, UploadId }) => this.abortMultipart(context, Key, UploadId));
		return abandoned.length === 0 ? [] : [`aborted ${abandoned.length} multipart upload${abandoned.length === 1 ? '' : 's'} left unfinished for over ${MULTIPART_KEPT_MS / 86_400_000} days (${abandoned.map((upload) => upload.Key).join(', ').slice(0, 300)})`];
	}

	private async abortMultipart(context: CallContext, Key: string, UploadId: string): Promise<void> {
		const { AbortMultipartUploadCommand } = s3Sdk();
		await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId })).catch(() => undefined);
		this.options.onMultipartUpload?.({ key: Key, uploadId: UploadId, state: 'aborted' });
	}

	// -----------------------------------------------------------------------------------------
	// Folders, deletion, copies and moves

	/** S3 has no folders: a prefix exists while a key lies below it. Only a file in the way is refused. */
	async mkdir(path: string): Promise<void> {
		const relative = normalizeRelativePath(path);
		if (relative === '') return;
		if (await this.head(relative)) throw new AlreadyExistsError(relative);
	}

	private async deleteKey(relative: string, key: string): Promise<void> {
		const { DeleteObjectCommand } = s3Sdk();
		await this.call({ path: relative }, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
	}

	/** Every key below a folder, with the path each stands for (markers included). */
	private async keysBelow(relative: string): Promise<Array<{ key: string; path: string; size: number }>> {
		const below = this.folderPrefix(relative);
		const keys: Array<{ key: string; path: string; size: number }> = [];
		let token: string | undefined;
		do {
			const page = await this.listPage(below, token, false);
			for (const object of page.Contents ?? []) if (object.Key) keys.push({ key: object.Key, path: object.Key.slice(this.folderPrefix('').length), size: object.Size ?? 0 });
			token = page.IsTruncated ? page.NextContinuationToken : undefined;
		} while (token);
		return keys;
	}

	async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
		const relative = writablePath(path, 'delete');
		if (await this.head(relative)) return this.deleteKey(relative, this.key(relative));
		const keys = await this.keysBelow(relative);
		if (keys.length === 0) throw new NotFoundError(relative);
		const marker = this.folderPrefix(relative);
		if (!options.recursive && keys.some((entry) => entry.key !== marker)) throw new NotEmptyError(relative);
		await this.deleteKeys(keys);
	}

	/** Up to 1,000 keys a request (DeleteObjects); a key S3 could not delete among them is deleted alone, so that its error is the one reported. */
	private async deleteKeys(keys: Array<{ key: string; path: string }>): Promise<void> {
		const { DeleteObjectsCommand } = s3Sdk();
		for (let at = 0; at < keys.length; at += DELETE_BATCH) {
			const batch = keys.slice(at, at + DELETE_BATCH);
			const answer = await this.call({ path: batch[0].path }, () =>
				this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((entry) => ({ Key: entry.key })), Quiet: true } })),
			);
			const failed = new Set((answer.Errors ?? []).map((error) => error.Key));
			await forEachLimit(batch.filter((entry) => failed.has(entry.key)), HEADS_AT_ONCE, (entry) => this.deleteKey(entry.path, entry.key));
		}
	}

	async copy(from: string, to: string): Promise<Entry> {
		const source = writablePath(from, 'copy');
		const target = writablePath(to, 'copy onto');
		const head = await this.head(source);
		if (!head) {
			if (await this.hasContents(source)) throw new CloudSyncError(`Copying folders is not supported: ${source}`);
			throw new NotFoundError(source);
		}
		if (source === target) return this.fileEntry(source, {}, head);
		if (await this.hasContents(target)) throw new AlreadyExistsError(target);
		await this.copyObject(this, source, head, target);
		return { ...this.fileEntry(target, {}, head), path: target };
	}

	canCopyFrom(source: Provider): boolean {
		return source instanceof S3Provider && source.endpointKey === this.endpointKey && source.options.accessKeyId === this.options.accessKeyId;
	}

	async copyFrom(source: Provider, from: string, to: string): Promise<Entry> {
		const origin = source as S3Provider;
		const relative = normalizeRelativePath(from);
		const target = writablePath(to, 'copy onto');
		const head = await origin.head(relative);
		if (!head) throw new NotFoundError(relative);
		if (await this.hasContents(target)) throw new AlreadyExistsError(target);
		await this.copyObject(origin, relative, head, target);
		return { ...origin.fileEntry(target, {}, head), path: target };
	}

	/**
	 * A server-side copy that keeps the metadata (and so the modification time). CopyObject is atomic up
	 * to 5 GB; above the cutoff the copy goes part by part (UploadPartCopy) into a multipart upload.
	 */
	private async copyObject(origin: S3Provider, from: string, known: ObjectHead, to: string): Promise<void> {
		const { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, UploadPartCopyCommand } = s3Sdk();
		const CopySource = `${origin.bucket}/${origin.key(from).split('/').map(encodeCopySegment).join('/')}`;
		const Key = this.key(to);
		const context = { path: from, to };
		const size = known.ContentLength ?? 0;
		this.knownFolders?.addAncestorsOf(to);
		const StorageClass = this.options.storageClass as StorageClass | undefined;
		if (size <= this.copyCutoff) {
			const answer = await this.call(context, () => this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key, CopySource, MetadataDirective: 'COPY', StorageClass })));
			// S3 may answer 200 with an error in the body when a copy fails midway; the SDK then has no result.
			if (!answer.CopyObjectResult?.ETag) throw new TransientError(`The S3 service did not confirm the copy of ${from} to ${to}`);
			return;
		}
		// Parts do not carry metadata over: the new upload is given the source's.
		const head = known.Metadata ? known : ((await origin.head(from)) ?? known);
		const Metadata = { ...head.Metadata };
		const md5 = md5OfEtag(head.ETag);
		if (md5 && !Metadata[S3_MD5_KEY]) Metadata[S3_MD5_KEY] = Buffer.from(md5, 'hex').toString('base64');
		const created = await this.call(context, () => this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key, Metadata, StorageClass, ContentType: head.ContentType })));
		const UploadId = created.UploadId!;
		const partSize = Math.max(this.copyPartSize, Math.ceil(size / MAX_PARTS));
		const ranges = Array.from({ length: Math.ceil(size / partSize) }, (_, index) => ({ number: index + 1, start: index * partSize, end: Math.min(size, (index + 1) * partSize) - 1 }));
		const done: Array<{ PartNumber: number; ETag: string }> = [];
		try {
			await forEachLimit(ranges, this.queueSize, async (range) => {
				const part = await this.call(context, () =>
					this.client.send(new UploadPartCopyCommand({ Bucket: this.bucket, Key, UploadId, PartNumber: range.number, CopySource, CopySourceRange: `bytes=${range.start}-${range.end}` })),
				);
				done.push({ PartNumber: range.number, ETag: part.CopyPartResult!.ETag! });
			});
			done.sort((a, b) => a.PartNumber - b.PartNumber);
			await this.call(context, () => this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId, MultipartUpload: { Parts: done } })));
		} catch (error) {
			await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId })).catch(() => undefined);
			throw error;
		}
	}

	/**
	 * S3 has no rename: a file is copied and its old key deleted; a folder is every key below it, copied
	 * then deleted. The copies keep the metadata, and so the modification time.
	 */
	async move(from: string, to: string): Promise<Entry> {
		const source = writablePath(from, 'move');
		const target = writablePath(to, 'move onto');
		const head = await this.head(source);
		if (head) {
			if (source === target) return this.fileEntry(source, {}, head);
			if (await this.hasContents(target)) throw new AlreadyExistsError(target);
			await this.copyObject(this, source, head, target);
			await this.deleteKey(source, this.key(source));
			return { ...this.fileEntry(target, {}, head), path: target };
		}
		const keys = await this.keysBelow(source);
		if (keys.length === 0) throw new NotFoundError(source);
		if (source === target) return this.dirEntry(source);
		if (insideOrSame(target, source)) throw new InvalidPathError(to, `cannot move the folder ${source} into itself`);
		if ((await this.head(target)) || (await this.hasContents(target))) throw new AlreadyExistsError(target);
		await forEachLimit(keys, HEADS_AT_ONCE, async (entry) => {
			const inside = entry.path.slice(source.length + 1);
			const destination = joinPath(target, inside);
			if (entry.key.endsWith('/')) return;
			await this.copyObject(this, entry.path, { ContentLength: entry.size }, destination);
		});
		await this.deleteKeys(keys);
		this.knownFolders?.add(target);
		return this.dirEntry(target);
	}

	nameProblem(name: string): string | undefined {
		// Keys may hold any UTF-8, but a name of over 1,024 bytes cannot be a key, whatever folder holds it.
		if (Buffer.byteLength(name) > MAX_KEY_BYTES) return 'S3 keys are at most 1,024 bytes';
		return undefined;
	}
}

/**
 * x-amz-copy-source is URL-encoded, '/' kept [doc] AWS CopyObject; '+' too, since some servers read
 * it as a space (rclone's pathEscape does the same).
 */
function encodeCopySegment(segment: string): string {
	return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
