import { createPrivateKey, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { drive_v3 } from '@googleapis/drive';
import type { Capabilities, Change, ChangePage, UnplacedChange, Entry, HashType, Hashes, ListOptions, Provider, ReadOptions, RootLocation, UploadIdentity, UploadSessionStore, WriteOptions } from '../core/types';
import {
	AlreadyExistsError,
	AuthenticationError,
	CloudSyncError,
	CursorExpiredError,
	DuplicateNameError,
	InvalidPathError,
	NotEmptyError,
	NotFoundError,
	PermissionError,
	RateLimitError,
	StorageFullError,
	TransientError,
	VerificationError,
} from '../core/errors';
import { Pacer, RATE_LIMIT_REASONS, retryAfterOf } from '../core/pacer';
import { BINARY, ChunkReader, DirCache, mimeTypeFor, RefreshGrant, Remote, SignInError, SliceStream, bodyStream, emptyStream, insideOrSame, ResumableUploads } from './kit';
import { DriveApi, DriveHttpError, driveHttpError, GOOGLE_TOKEN_URL, ServiceAccountGrant } from './driveApi';
import { baseName, joinPath, normalizeRelativePath, parentPath } from '../core/paths';
import { hashStream, measure } from '../core/hashing';
import { inStateFolder } from '../core/filters';

/** A Google account signed in through OAuth (n8n's Google Drive OAuth2 credential). */
export interface GoogleDriveOAuth {
	clientId: string;
	clientSecret: string;
	refreshToken: string;
	accessToken?: string;
}

/** A service account's key (the JSON key file's client_email and private_key). */
export interface GoogleDriveServiceAccount {
	clientEmail: string;
	privateKey: string;
}

export type GoogleDocsMode = 'skip' | 'export';
/** Office formats (docx, xlsx, pptx; drawings as pdf) or pdf for everything. */
export type GoogleDocsFormat = 'office' | 'pdf';

export interface GoogleDriveProviderOptions {
	auth: GoogleDriveOAuth | GoogleDriveServiceAccount;
	/**
	 * The folder to sync: 'root' (the top of My Drive, or of the shared drive), a folder id, a folder's
	 * web address, or a path from the top of the drive starting with '/', such as '/Backups/2024'.
	 */
	root?: string;
	/** Work in this shared drive instead of My Drive. */
	sharedDriveId?: string;
	/**
	 * Sends every request (API, uploads and token refreshes) to this base URL instead of Google's.
	 * Only for a local Drive emulator in tests; unset, the provider talks to Google.
	 */
	apiBaseUrl?: string;
	pacer?: Pacer;
	/** Google Docs, Sheets, Slides and Drawings have no bytes of their own: leave them out (default) or export them. */
	googleDocs?: GoogleDocsMode;
	exportFormat?: GoogleDocsFormat;
	/** Deleting moves to the Drive trash (default); false deletes for good. */
	trash?: boolean;
	/** Bytes per resumable upload request; a multiple of 256 KiB (default 8 MiB). */
	uploadChunkBytes?: number;
	/** Largest file sent in one multipart request; larger ones go resumable (default 5 MiB). */
	multipartMaxBytes?: number;
	/** How long a call may wait for its answer before it is asked again (default 5 minutes; a download's body is not timed). */
	requestTimeoutMs?: number;
}

export const FOLDER_MIME = 'application/vnd.google-apps.folder';
const GOOGLE_APPS_PREFIX = 'application/vnd.google-apps.';
const DRIVE_SCOPE = 'https://www.googleapis.com/auth/drive';
const GOOGLE_ROOT_URL = 'https://www.googleapis.com/';
/** Tokens are renewed this long before they expire, as Google's own client does. */
const TOKEN_MARGIN_MS = 5 * 60_000;
const TOKEN_TIMEOUT_MS = 60_000;
const MiB = 1024 * 1024;
const CHUNK_GRANULARITY = 256 * 1024;
/** Drive keeps a resumable session about a week; a day less, so a session is not resumed as it ends. */
const SESSION_LIFETIME_MS = 6 * 24 * 3600 * 1000;
/** files.generateIds gives at most 1000 at once; creates are rarely that many between two runs' ends. */
const GENERATED_IDS_PER_CALL = 100;
/** Parents OR-ed into one files.list query while walking a tree. */
const PARENTS_PER_QUERY = 50;
/** Names OR-ed into one files.list query to find several files of one folder. */
const NAMES_PER_QUERY = 40;
const PAGE_SIZE = 1000;
const FILE_FIELDS = 'id,name,mimeType,parents,size,md5Checksum,sha1Checksum,sha256Checksum,modifiedTime,trashed';
const LIST_FIELDS = `nextPageToken,files(${FILE_FIELDS})`;
const CHANGE_FIELDS = `nextPageToken,newStartPageToken,changes(fileId,removed,file(${FILE_FIELDS},createdTime))`;
const HASH_FIELDS: Array<[HashType, keyof drive_v3.Schema$File]> = [
	['md5', 'md5Checksum'],
	['sha1', 'sha1Checksum'],
	['sha256', 'sha256Checksum'],
];

const OFFICE = 'application/vnd.openxmlformats-officedocument';
const PDF = { extension: 'pdf', mimeType: 'application/pdf' };
const EXPORTS: Record<string, { office: ExportFormat }> = {
	[`${GOOGLE_APPS_PREFIX}document`]: { office: { extension: 'docx', mimeType: `${OFFICE}.wordprocessingml.document` } },
	[`${GOOGLE_APPS_PREFIX}spreadsheet`]: { office: { extension: 'xlsx', mimeType: `${OFFICE}.spreadsheetml.sheet` } },
	[`${GOOGLE_APPS_PREFIX}presentation`]: { office: { extension: 'pptx', mimeType: `${OFFICE}.presentationml.presentation` } },
	[`${GOOGLE_APPS_PREFIX}drawing`]: { office: PDF },
};

interface ExportFormat {
	extension: string;
	mimeType: string;
}

/** A Drive file with the entry it stands for below the root. */
interface Item {
	file: drive_v3.Schema$File;
	entry: Entry;
}

interface UploadTarget {
	parentId: string;
	existing?: drive_v3.Schema$File;
}

type Metadata = Pick<drive_v3.Schema$File, 'name' | 'parents' | 'modifiedTime' | 'mimeType'>;


// ---------------------------------------------------------------------------------------------
// Errors

const STORAGE_REASONS = new Set(['storageQuotaExceeded', 'quotaExceeded', 'teamDriveFileLimitExceeded']);

interface Failure {
	status?: number;
	reason?: string;
	message?: string;
	/** The parameter Drive blames, for 400s. */
	location?: string;
	/** The OAuth token endpoint's error code (invalid_grant, invalid_client...). */
	oauthError?: string;
	retryAfterMs?: number;
}

/** What a refused answer says, read from Drive's error envelope or the token endpoint's; no request details. */
function describeFailure(error: DriveHttpError): Failure {
	const body = (typeof error.body === 'object' && error.body !== null ? error.body : {}) as { error?: unknown; error_description?: string };
	const failure: Failure = { status: error.status, retryAfterMs: retryAfterOf(error.headers) };
	if (typeof body.error === 'string') return { ...failure, oauthError: body.error, message: body.error_description };
	const envelope = body.error as { message?: string; errors?: Array<{ reason?: string; location?: string }> } | undefined;
	return { ...failure, reason: envelope?.errors?.[0]?.reason, location: envelope?.errors?.[0]?.location, message: envelope?.message };
}

function refusedCredential(oauthError: string, detail: string): AuthenticationError {
	const hint = oauthError === 'invalid_client' ? { hint: 'Check the OAuth client ID and secret of the credential, then reconnect it.' } : {};
	return new AuthenticationError(`Google refused the Drive credential: ${detail}`, hint);
}

/**
 * Turns a failed request into the engine's typed errors. Only the status, Google's reason and
 * Google's message are kept (redacted): never the request, which carries the access token.
 */
export function mapDriveError(error: unknown, path: string, redact: (text: string) => string = (text) => text): Error {
	if (error instanceof SignInError) return refusedCredential(error.code, `${redact(error.description) || 'no message'} (${error.code})`);
	// The token endpoint unreachable or slow (the refresh-token grant's own fetch).
	if ((error instanceof TypeError && error.message === 'fetch failed') || (error as Error)?.name === 'TimeoutError') return new TransientError('The connection to Google Drive failed');
	if (!(error instanceof DriveHttpError)) return error as Error;
	const failure = describeFailure(error);
	const { status, reason, location, oauthError, retryAfterMs } = failure;
	const message = failure.message === undefined ? undefined : redact(failure.message);
	const detail = `${message ?? 'no message'} (${[status, reason ?? oauthError].filter(Boolean).join(' ')})`;
	if (oauthError) return refusedCredential(oauthError, detail);
	if (status === undefined) return new TransientError('The connection to Google Drive failed');
	if (status === 401) return new AuthenticationError(`Google Drive rejected the access token: ${detail}`);
	if (status === 404) return new NotFoundError(path);
	// Drive's change tokens do not expire, but one from another account or drive is refused like this.
	if (status === 400 && location === 'pageToken') return new CursorExpiredError(`Google Drive no longer accepts the change cursor: ${detail}`);
	if (status === 429 || (reason && RATE_LIMIT_REASONS.has(reason))) return new RateLimitError(`Google Drive is rate limiting: ${detail}`, { retryAfterMs });
	if (reason && STORAGE_REASONS.has(reason)) return new StorageFullError(`Google Drive storage is full: ${detail}`);
	if (status === 408 || status >= 500) return new TransientError(`Google Drive failed: ${detail}`, { retryAfterMs });
	if (reason === 'exportSizeLimitExceeded') {
		return new CloudSyncError(`Cannot export ${path}: ${detail}`, { hint: 'Google exports at most 10 MB per document; split the document or leave Google Docs out.' });
	}
	if (status === 403 && reason !== 'fileNotDownloadable') return new PermissionError(`No permission for ${path || 'the root folder'}: ${detail}`);
	return new CloudSyncError(`Google Drive refused a request for ${path || 'the root folder'}: ${detail}`);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const brokeOff = (path: string, cause: unknown) => new TransientError(`The download of ${path} broke off`, { cause });

export const escapeQuery = (value: string) => value.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
const isFolder = (file: drive_v3.Schema$File) => file.mimeType === FOLDER_MIME;
const isGoogleApps = (file: drive_v3.Schema$File) => (file.mimeType ?? '').startsWith(GOOGLE_APPS_PREFIX) && !isFolder(file);

/** A folder id from a Drive web address, or the text itself. */
function folderIdFrom(spec: string): string {
	return /\/folders\/([\w-]+)/.exec(spec)?.[1] ?? /[?&]id=([\w-]+)/.exec(spec)?.[1] ?? spec;
}

/** Bytes confirmed by a 308's `Range: bytes=0-N`; none when the header is absent. */
function receivedFrom(range: string | null | undefined): number {
	const match = /bytes=0-(\d+)/.exec(range ?? '');
	return match ? Number(match[1]) + 1 : 0;
}

function driveHashes(file: drive_v3.Schema$File): Hashes {
	const hashes: Hashes = {};
	for (const [type, field] of HASH_FIELDS) {
		const value = file[field];
		if (typeof value === 'string' && value) hashes[type] = value;
	}
	return hashes;
}

const KEY_HINT =
	"In the credential's Private Key field, paste the whole private_key value of the service account's JSON key file, " +
	'from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY----- included, without the quotes around it.';
const PEM_KEY = /^-----BEGIN (RSA )?PRIVATE KEY-----([\s\S]*?)-----END \1PRIVATE KEY-----$/;

/**
 * The service account's key as a PEM that signs, rebuilt from what was pasted (line breaks lost to
 * spaces or kept as "\n" escapes are restored). A key that cannot sign is refused here with what to
 * change, rather than with OpenSSL's decoder error at the first request; no part of it is ever shown.
 */
export function serviceAccountPem({ clientEmail, privateKey }: GoogleDriveServiceAccount): string {
	const refuse = (problem: string, hint = KEY_HINT) => new AuthenticationError(`The service account's ${problem}`, { hint });
	if (!/^[^\s@]+@[^\s@]+$/.test(clientEmail.trim())) {
		throw refuse(
			'email is missing or not an email address',
			"In the credential's Service Account Email field, enter the client_email value of the JSON key file, such as sync-bot@my-project.iam.gserviceaccount.com.",
		);
	}
	// Copied from the JSON file with its quotes (and the comma after them), or with "\n" escapes.
	const key = privateKey.trim().replace(/^"([\s\S]*)",?$/, '$1').replace(/\\n/g, '\n').trim();
	if (key === '') throw refuse('private key is empty');
	if (key.startsWith('{')) throw refuse('private key field holds the whole JSON key file instead of only the key inside it');
	const parts = PEM_KEY.exec(key);
	if (!parts) throw refuse('private key is not a PEM key: it must start with its BEGIN PRIVATE KEY line and end with its END PRIVATE KEY line');
	const label = `${parts[1] ?? ''}PRIVATE KEY`;
	const lines = parts[2].replace(/\s+/g, '').match(/.{1,64}/g) ?? [];
	const pem = [`-----BEGIN ${label}-----`, ...lines, `-----END ${label}-----`, ''].join('\n');
	try {
		createPrivateKey(pem);
	} catch {
		throw refuse('private key cannot be read: the text between its BEGIN and END lines is damaged or cut short');
	}
	return pem;
}

/** The access tokens for a user (refresh-token grant) or a service account (signed assertions), from Google or the emulator at `apiBaseUrl`. */
export function driveTokens(credentials: GoogleDriveProviderOptions['auth'], apiBaseUrl?: string): RefreshGrant | ServiceAccountGrant {
	// An emulator answers sign-ins at its own /token, as Google's token endpoint would.
	const tokenUrl = apiBaseUrl ? new URL(new URL(GOOGLE_TOKEN_URL).pathname, apiBaseUrl).href : GOOGLE_TOKEN_URL;
	const timing = { marginMs: TOKEN_MARGIN_MS, timeoutMs: TOKEN_TIMEOUT_MS };
	if ('privateKey' in credentials) {
		return new ServiceAccountGrant({ clientEmail: credentials.clientEmail.trim(), privateKeyPem: serviceAccountPem(credentials), scope: DRIVE_SCOPE, tokenUrl, ...timing });
	}
	return new RefreshGrant({
		clientId: credentials.clientId,
		clientSecret: credentials.clientSecret,
		refreshToken: credentials.refreshToken,
		// An access token of unknown expiry is used until Drive refuses it.
		accessToken: credentials.accessToken,
		accessTokenExpiresAt: credentials.accessToken ? Number.POSITIVE_INFINITY : undefined,
		tokenUrl,
		issuer: 'Google',
		serverError: driveHttpError,
		...timing,
	});
}

/** A Drive client and how each call goes through it: the pacer, a fresh token (renewed once when refused), errors mapped with no secret. */
export function openDriveApi(credentials: GoogleDriveProviderOptions['auth'], apiBaseUrl: string | undefined, pacer: Pacer, requestTimeoutMs?: number): { api: DriveApi; remote: Remote<string> } {
	const tokens = driveTokens(credentials, apiBaseUrl);
	const remote = new Remote<string>({
		pacer,
		tokens,
		unauthorized: (error) => error instanceof DriveHttpError && error.status === 401,
		mapError: (error, path, redact) => mapDriveError(error, path, redact),
	});
	return { api: new DriveApi(rootUrlFor(apiBaseUrl), tokens, requestTimeoutMs), remote };
}

export function rootUrlFor(apiBaseUrl: string | undefined): string {
	if (apiBaseUrl === undefined) return GOOGLE_ROOT_URL;
	const url = new URL(apiBaseUrl);
	if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CloudSyncError(`apiBaseUrl must be an http(s) address: ${apiBaseUrl}`);
	return url.href.endsWith('/') ? url.href : `${url.href}/`;
}

// ---------------------------------------------------------------------------------------------

/**
 * Drive allows "/" in a name and "." or ".." as a whole name, which no path can hold: they are read as
 * the look-alikes rclone uses (／ and ．), so such a file syncs instead of failing every run. A file
 * found under its look-alike keeps its Drive name; one created from a path keeps the look-alike.
 */
export function pathName(driveName: string): string {
	if (driveName === '.' || driveName === '..') return driveName.replace(/\./g, '．');
	return driveName.includes('/') ? driveName.replace(/\//g, '／') : driveName;
}

/** The Drive names that read as `name`, other than itself. */
function driveSpellings(name: string): string[] {
	const spellings: string[] = [];
	if (name.includes('／')) spellings.push(name.replace(/／/g, '/'));
	if (name === '．' || name === '．．') spellings.push(name.replace(/．/g, '.'));
	return spellings;
}

/**
 * Google Drive through a thin client on the kit (driveApi.ts). Paths are resolved to ids with a cache;
 * a tree is listed breadth-first with up to 50 folders per query; uploads are multipart when small and
 * resumable (driven by hand) when large.
 */
export class GoogleDriveProvider implements Provider {
	readonly name = 'google-drive';
	/** A permanent deletion names only an id, and a new process knows no item's former path. */
	readonly feedNamesById = true;
	readonly capabilities: Capabilities = {
		hashTypes: ['md5', 'sha1', 'sha256'],
		listedHashTypes: ['md5', 'sha1', 'sha256'],
		modTimePrecisionMs: 1,
		canSetModTime: true,
		caseInsensitive: false,
		maxFileSize: 5 * 1024 ** 4,
		emptyFolders: true,
	};
	private root = '';
	/** The shared drive the root lies in, given or found when opening. */
	private driveId?: string;
	private readonly api: DriveApi;
	readonly pacer: Pacer;
	private readonly chunkBytes: number;
	private readonly multipartMaxBytes: number;
	/** Folder path → id: concurrent writes into a new folder create it once. */
	private readonly folders = new DirCache(() => this.root, (path, create) => this.findFolder(path, create));
	private readonly remote: Remote<string>;
	/** Id → path of what the last listings and lookups saw, to name the targets of changes. */
	private readonly known = new Map<string, { path: string; isDir: boolean }>();
	/** Folders known to lie outside the root. */
	private readonly outside = new Set<string>();
	/**
	 * Folders this instance created and has written every child of, so a write into them needs no
	 * lookup for a same-named file first: a new tree costs one call per file instead of two.
	 */
	private readonly fresh = new Set<string>();
	/** The files written into fresh folders, by path, so a second write replaces instead of duplicating. */
	private readonly freshFiles = new Map<string, drive_v3.Schema$File>();
	/** Ids from files.generateIds not used yet. */
	private readonly spareIds: string[] = [];
	private generatingIds?: Promise<void>;
	/** Unfinished resumable uploads, kept between runs when the caller gives a store; known by the root folder, whose id no other account has. */
	private readonly sessions = new ResumableUploads(() => `google-drive:${this.root}`);

	private constructor(private readonly options: GoogleDriveProviderOptions) {
		this.pacer = options.pacer ?? new Pacer();
		({ api: this.api, remote: this.remote } = openDriveApi(options.auth, options.apiBaseUrl, this.pacer, options.requestTimeoutMs));
		this.chunkBytes = options.uploadChunkBytes ?? 8 * MiB;
		this.multipartMaxBytes = Math.min(options.multipartMaxBytes ?? 5 * MiB, this.chunkBytes);
		if (this.chunkBytes <= 0 || this.chunkBytes % CHUNK_GRANULARITY !== 0) {
			throw new CloudSyncError(`uploadChunkBytes must be a positive multiple of ${CHUNK_GRANULARITY}`);
		}
	}

	/** The id of the root folder. */
	get rootId(): string {
		return this.root;
	}

	/** Opens the provider on its root folder; fails when the root is missing or not a folder. */
	static async open(options: GoogleDriveProviderOptions): Promise<GoogleDriveProvider> {
		const provider = new GoogleDriveProvider(options);
		await provider.resolveRoot(options.root?.trim() || 'root');
		return provider;
	}

	private async resolveRoot(spec: string): Promise<void> {
		const driveTop = spec === 'root' || spec.startsWith('/') ? (this.options.sharedDriveId ?? 'root') : folderIdFrom(spec);
		const top = await this.call(spec, () => this.api.files.get({ fileId: driveTop, fields: `${FILE_FIELDS},driveId`, supportsAllDrives: true }));
		this.root = top.data.id!;
		// A folder of a shared drive is listed within that drive, whether or not the drive was named.
		this.driveId = this.options.sharedDriveId ?? top.data.driveId ?? undefined;
		if (spec.startsWith('/')) {
			this.root = await this.folderId(normalizeRelativePath(spec.slice(1)));
			this.folders.clear();
			this.known.clear();
		} else if (!isFolder(top.data)) {
			throw new InvalidPathError(spec, 'it is a file, not a folder', 'Choose a folder as the root.');
		}
	}

	recovery(): string {
		return this.options.trash === false
			? 'deleted files are deleted for good (Delete Permanently is set); replaced files keep their earlier versions in Google Drive\'s version history'
			: "deleted files are in the Google Drive trash (30 days); replaced files keep their earlier versions in Google Drive's version history";
	}

	/** The account (or shared drive) and the folder ids from its top down to the root: one folder may have many names, never two ids. */
	async locate(): Promise<RootLocation> {
		const chain: string[] = [];
		const names: string[] = [];
		const seen = new Set<string>();
		for (let id: string | undefined = this.root; id && !seen.has(id); ) {
			seen.add(id);
			const fileId: string = id;
			const { data }: { data: drive_v3.Schema$File } = await this.call('', () => this.api.files.get({ fileId, fields: 'id,name,parents', supportsAllDrives: true }));
			chain.unshift(data.id!);
			names.unshift(data.name ?? data.id!);
			id = data.parents?.[0] ?? undefined;
		}
		let namespace = `drive:shared:${this.driveId}`;
		if (!this.driveId) {
			const { data } = await this.call('', () => this.api.about.get({ fields: 'user(permissionId)' }));
			namespace = `drive:user:${data.user?.permissionId}`;
		}
		return { namespace, chain, names, caseInsensitive: false };
	}

	// -------------------------------------------------------------------------------------------
	// Requests

	private call<T>(path: string, request: (attempt: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
		return this.remote.call(path, request, signal);
	}

	private get corpus(): Pick<drive_v3.Params$Resource$Files$List, 'corpora' | 'driveId' | 'includeItemsFromAllDrives'> {
		const driveId = this.driveId;
		return driveId ? { corpora: 'drive', driveId, includeItemsFromAllDrives: true } : {};
	}

	private async *query(q: string, signal?: AbortSignal): AsyncIterable<drive_v3.Schema$File> {
		let pageToken: string | undefined;
		do {
			const { data } = await this.call(
				'',
				() => this.api.files.list({ q, pageSize: PAGE_SIZE, pageToken, fields: LIST_FIELDS, supportsAllDrives: true, ...this.corpus }, { signal }),
				signal,
			);
			yield* data.files ?? [];
			pageToken = data.nextPageToken ?? undefined;
		} while (pageToken);
	}

	// -------------------------------------------------------------------------------------------
	// Names, entries and the caches

	private exportFormat(mimeType: string): ExportFormat | undefined {
		if (this.options.googleDocs !== 'export') return undefined;
		const formats = EXPORTS[mimeType];
		if (!formats) return undefined;
		return this.options.exportFormat === 'pdf' ? PDF : formats.office;
	}

	/** The name a file has below the root: exported Google Docs get their format's extension; other Google types are left out. */
	private displayName(file: drive_v3.Schema$File): string | undefined {
		if (!isGoogleApps(file)) return file.name == null ? undefined : pathName(file.name);
		const format = this.exportFormat(file.mimeType ?? '');
		return format && `${pathName(file.name ?? '')}.${format.extension}`;
	}

	/** Drive names an entry named `name` may have: itself, a Google Doc's name without its export extension, and the Drive spelling of a translated name. */
	private driveNamesFor(name: string): string[] {
		const names = new Set([name, ...driveSpellings(name)]);
		for (const mimeType of Object.keys(EXPORTS)) {
			const stripped = this.withoutExtension(mimeType, name);
			if (stripped) for (const spelling of [stripped, ...driveSpellings(stripped)]) names.add(spelling);
		}
		return [...names];
	}

	/** `name` without the extension Google Docs of `mimeType` are exported with; undefined when it has none. */
	private withoutExtension(mimeType: string, name: string): string | undefined {
		const extension = this.exportFormat(mimeType)?.extension;
		const suffix = `.${extension}`;
		return extension && name.endsWith(suffix) && name.length > suffix.length ? name.slice(0, -suffix.length) : undefined;
	}

	private toEntry(file: drive_v3.Schema$File, parent: string): Entry | undefined {
		const name = this.displayName(file);
		if (name === undefined) return undefined;
		const base = { path: joinPath(parent, name), modTime: Date.parse(file.modifiedTime ?? '') || 0, id: file.id ?? undefined };
		if (isFolder(file)) return { ...base, isDir: true, size: 0, hashes: {}, mimeType: FOLDER_MIME };
		if (isGoogleApps(file)) return { ...base, isDir: false, size: -1, hashes: {}, mimeType: this.exportFormat(file.mimeType!)!.mimeType };
		return { ...base, isDir: false, size: Number(file.size ?? 0), hashes: driveHashes(file), mimeType: file.mimeType ?? undefined };
	}

	private remember(entry: Entry): void {
		if (!entry.id) return;
		this.known.set(entry.id, { path: entry.path, isDir: entry.isDir });
		this.outside.delete(entry.id);
		if (entry.isDir) this.folders.put(entry.path, entry.id);
	}

	/** Drops what was cached at `path` and, for a folder, below it. */
	private forget(path: string, id?: string | null): void {
		const known = id ? this.known.get(id) : undefined;
		if (id) this.known.delete(id);
		if (known && !known.isDir) return;
		this.folders.forget(path);
		for (const [knownId, known] of this.known) if (insideOrSame(known.path, path)) this.known.delete(knownId);
		for (const folder of this.fresh) if (insideOrSame(folder, path)) this.fresh.delete(folder);
		for (const file of this.freshFiles.keys()) if (insideOrSame(file, path)) this.freshFiles.delete(file);
	}

	/** Something other than a write put an item into `folder`: it is no longer fully known. */
	private unfresh(folder: string): void {
		this.fresh.delete(folder);
		for (const file of this.freshFiles.keys()) if (parentPath(file) === folder) this.freshFiles.delete(file);
	}

	/** A fresh folder's child at `path`, as a lookup would answer, without asking Drive. */
	private freshChild(path: string): Item[] {
		const file = this.freshFiles.get(path);
		return file ? [{ file, entry: this.toEntry(file, parentPath(path))! }] : [];
	}

	/** Rewrites cached paths after a folder moved from `from` to `to`. */
	private relocate(from: string, to: string): void {
		this.folders.relocate(from, to);
		for (const known of this.known.values()) if (insideOrSame(known.path, from)) known.path = to + known.path.slice(from.length);
	}

	/** The items named `name` in a folder (several when Drive holds duplicates). */
	private async childrenNamed(parentId: string, parent: string, name: string, signal?: AbortSignal): Promise<Item[]> {
		const names = this.driveNamesFor(name).map((candidate) => `name = '${escapeQuery(candidate)}'`);
		const q = `'${escapeQuery(parentId)}' in parents and (${names.join(' or ')}) and trashed = false`;
		const items: Item[] = [];
		for await (const file of this.query(q, signal)) {
			const entry = this.toEntry(file, parent);
			if (entry && this.displayName(file) === name) items.push({ file, entry });
		}
		if (items.length === 1) this.remember(items[0].entry);
		return items;
	}

	/** The id of the folder at `path`; with `create`, missing folders are made. */
	private folderId(path: string, create = false): Promise<string> {
		return this.folders.id(path, create);
	}

	private async findFolder(path: string, create: boolean): Promise<string> {
		const parentId = await this.folderId(parentPath(path), create);
		const matches = this.fresh.has(parentPath(path)) ? this.freshChild(path) : await this.childrenNamed(parentId, parentPath(path), baseName(path));
		const folders = matches.filter((item) => item.entry.isDir);
		if (folders.length > 1) throw new DuplicateNameError(path, folders.length);
		if (folders.length === 1) return folders[0].file.id!;
		if (matches.length > 0 && create) throw new AlreadyExistsError(path);
		if (!create) throw new NotFoundError(path);
		const data = await this.createOnce(path, async (id) => {
			const response = await this.api.files.create({ requestBody: { id, name: baseName(path), mimeType: FOLDER_MIME, parents: [parentId] }, fields: FILE_FIELDS, supportsAllDrives: true });
			return response.data;
		});
		this.remember(this.toEntry(data, parentPath(path))!);
		this.fresh.add(path);
		return data.id!;
	}

	/** The one item at `path`; NotFoundError when there is none, DuplicateNameError when there are several. */
	private async lookup(path: string, signal?: AbortSignal): Promise<Item> {
		if (path === '') {
			return { file: { id: this.root, mimeType: FOLDER_MIME }, entry: { path: '', isDir: true, size: 0, modTime: 0, hashes: {}, id: this.root } };
		}
		const parentId = await this.folderId(parentPath(path));
		const matches = await this.childrenNamed(parentId, parentPath(path), baseName(path), signal);
		if (matches.length === 0) throw new NotFoundError(path);
		if (matches.length > 1) throw new DuplicateNameError(path, matches.length);
		return matches[0];
	}

	// -------------------------------------------------------------------------------------------
	// Provider: reading

	async *list(path: string, options: ListOptions = {}): AsyncIterable<Entry> {
		const start = normalizeRelativePath(path);
		let frontier = [{ id: await this.folderId(start), path: start }];
		const seenFolders = new Set<string>();
		while (frontier.length > 0) {
			const next: typeof frontier = [];
			for (let i = 0; i < frontier.length; i += PARENTS_PER_QUERY) {
				const batch = new Map(frontier.slice(i, i + PARENTS_PER_QUERY).map((folder) => [folder.id, folder.path]));
				const q = `(${[...batch.keys()].map((id) => `'${escapeQuery(id)}' in parents`).join(' or ')}) and trashed = false`;
				for await (const file of this.query(q, options.signal)) {
					const parent = file.parents?.find((id) => batch.has(id));
					const entry = parent === undefined ? undefined : this.toEntry(file, batch.get(parent)!);
					if (!entry) continue;
					this.remember(entry);
					if (entry.isDir) {
						// Two folders with one name must not be resolved to either of them later.
						if (seenFolders.has(entry.path)) this.folders.drop(entry.path);
						seenFolders.add(entry.path);
						next.push({ id: entry.id!, path: entry.path });
					}
					yield entry;
				}
			}
			frontier = options.recursive ? next : [];
		}
	}

	async stat(path: string): Promise<Entry> {
		return (await this.lookup(normalizeRelativePath(path))).entry;
	}

	/** One files.list query per folder (and per NAMES_PER_QUERY names) instead of one per path. */
	async statMany(paths: string[], options: { signal?: AbortSignal } = {}): Promise<Map<string, Entry>> {
		const found = new Map<string, Entry>();
		const byFolder = new Map<string, Set<string>>();
		for (const path of paths.map(normalizeRelativePath)) {
			if (path === '') found.set('', (await this.lookup('')).entry);
			else byFolder.set(parentPath(path), (byFolder.get(parentPath(path)) ?? new Set()).add(baseName(path)));
		}
		// The folders not known yet are asked for together too, a level at a time.
		const unknown = [...byFolder.keys()].filter((folder) => folder !== '' && !this.folders.has(folder));
		let missing = new Set<string>();
		if (unknown.length > 1) {
			const there = await this.statMany(unknown, options);
			missing = new Set(unknown.filter((folder) => !there.get(folder)?.isDir));
		}
		for (const [folder, names] of byFolder) {
			if (missing.has(folder)) continue;
			let folderId: string;
			try {
				folderId = await this.folderId(folder);
			} catch (error) {
				if (error instanceof NotFoundError) continue;
				throw error;
			}
			const all = [...names];
			for (let i = 0; i < all.length; i += NAMES_PER_QUERY) {
				const wanted = new Set(all.slice(i, i + NAMES_PER_QUERY));
				const spellings = [...wanted].flatMap((name) => this.driveNamesFor(name)).map((candidate) => `name = '${escapeQuery(candidate)}'`);
				const q = `'${escapeQuery(folderId)}' in parents and (${spellings.join(' or ')}) and trashed = false`;
				const matches = new Map<string, Entry[]>();
				for await (const file of this.query(q, options.signal)) {
					const name = this.displayName(file);
					const entry = name === undefined || !wanted.has(name) ? undefined : this.toEntry(file, folder);
					if (entry) matches.set(entry.path, [...(matches.get(entry.path) ?? []), entry]);
				}
				for (const [path, entries] of matches) {
					if (entries.length > 1) throw new DuplicateNameError(path, entries.length);
					this.remember(entries[0]);
					found.set(path, entries[0]);
				}
			}
		}
		return found;
	}

	async read(path: string, options: ReadOptions = {}): Promise<Readable> {
		const relative = normalizeRelativePath(path);
		const { file, entry } = await this.lookup(relative, options.signal);
		if (entry.isDir) throw new CloudSyncError(`Cannot read a folder as a file: ${relative}`);
		if (isGoogleApps(file)) return this.readExport(relative, file, options);
		const start = options.start ?? 0;
		const end = Math.min(options.end ?? entry.size, entry.size);
		if (end <= start) return emptyStream();
		const whole = start === 0 && end === entry.size;
		const body = await this.call(
			relative,
			async () => {
				const headers: Record<string, string> = whole ? {} : { Range: `bytes=${start}-${end - 1}` };
				const response = await this.api.files.download({ fileId: file.id!, supportsAllDrives: true }, { headers, signal: options.signal });
				return bodyStream(response.data, (cause) => brokeOff(relative, cause));
			},
			options.signal,
		);
		// A short or altered download fails at its end instead of passing as the file.
		return measure(body, [], whole ? { size: entry.size, hashes: { md5: entry.hashes.md5 ?? '' } } : { size: end - start });
	}

	private async readExport(path: string, file: drive_v3.Schema$File, options: ReadOptions): Promise<Readable> {
		const format = this.exportFormat(file.mimeType!)!;
		// Exports have no ranges: the part asked for is cut from the whole.
		const ranged = options.start !== undefined || options.end !== undefined;
		return this.call(
			path,
			async () => {
				const response = await this.api.files.export({ fileId: file.id!, mimeType: format.mimeType }, { signal: options.signal });
				return bodyStream(response.data, (cause) => brokeOff(path, cause), ranged ? new SliceStream(options.start ?? 0, options.end ?? Number.POSITIVE_INFINITY) : undefined);
			},
			options.signal,
		);
	}

	async hash(path: string, types: HashType[]): Promise<Hashes> {
		const relative = normalizeRelativePath(path);
		const { file, entry } = await this.lookup(relative);
		if (entry.isDir) throw new CloudSyncError(`A folder has no hash: ${relative}`);
		const hashes: Hashes = {};
		const missing: HashType[] = [];
		for (const type of types.filter((wanted) => this.capabilities.hashTypes.includes(wanted))) {
			if (entry.hashes[type]) hashes[type] = entry.hashes[type];
			else missing.push(type);
		}
		// Drive computes hashes for stored bytes only; an export has none worth comparing.
		if (missing.length > 0 && !isGoogleApps(file)) Object.assign(hashes, (await hashStream(await this.read(relative), missing)).hashes);
		return hashes;
	}

	// -------------------------------------------------------------------------------------------
	// Provider: writing

	async write(path: string, content: Readable, options: WriteOptions = {}): Promise<Entry> {
		const relative = normalizeRelativePath(path);
		if (relative === '') throw new InvalidPathError(path, 'cannot write over the root folder');
		const identity = this.sessions.identityOf(relative, options, this.multipartMaxBytes);
		const resumed = await this.resume(identity, options);
		// The caller compares the stored md5 with the source's: this side saw only the rest.
		if (resumed) return this.uploaded(relative, resumed, { bytes: options.size!, hashes: {} }, []);
		// Each chunk is sent, retries included, before the next is read.
		const reader = new ChunkReader(content, { reuse: true, measure: { hashTypes: ['md5', ...(options.hashTypes ?? [])], size: options.size } });
		try {
			// The first chunk is read before anything is created, so a source that fails early leaves no trace.
			const first = await reader.read(this.chunkBytes);
			const target = await this.uploadTarget(relative, options.signal);
			const metadata: Metadata = { modifiedTime: options.modTime === undefined ? undefined : new Date(options.modTime).toISOString() };
			const file =
				reader.done && first.length <= this.multipartMaxBytes
					? await this.uploadMultipart(relative, target, first, metadata, options.signal)
					: await this.uploadResumable(relative, target, reader, first, metadata, options, identity);
			return this.uploaded(relative, file, reader, options.hashTypes ?? []);
		} finally {
			reader.close();
		}
	}

	keepUploads(store: UploadSessionStore): void {
		this.sessions.keep(store);
	}

	/** Goes on with the session an earlier run saved for this very source, from the offset Drive confirms (a status query). */
	private resume(identity: UploadIdentity | undefined, options: WriteOptions): Promise<drive_v3.Schema$File | undefined> {
		let finished: drive_v3.Schema$File | undefined;
		return this.sessions.resume(identity, options, {
			confirmed: async (saved) => {
				const status = await this.call(saved.path, () => this.uploadRequest(saved.session, `bytes */${saved.size}`, undefined, options.signal), options.signal);
				finished = status.file;
				return status.file ? saved.size : status.received;
			},
			send: async (saved, reader, offset) => finished ?? (await this.sendChunks(saved.path, saved.session, reader, undefined, offset, options, identity)),
			gone: (error) => error instanceof NotFoundError,
		});
	}

	/** Where `path` is written: its folder (created when missing) and the file it replaces, if any. */
	private async uploadTarget(path: string, signal?: AbortSignal): Promise<UploadTarget> {
		const parentId = await this.folderId(parentPath(path), true);
		if (this.fresh.has(parentPath(path)) && this.folders.has(path)) throw new AlreadyExistsError(path);
		const matches = this.fresh.has(parentPath(path)) ? this.freshChild(path) : await this.childrenNamed(parentId, parentPath(path), baseName(path), signal);
		if (matches.length > 1) throw new DuplicateNameError(path, matches.length);
		const existing = matches[0];
		if (existing?.entry.isDir) throw new AlreadyExistsError(path);
		if (existing && isGoogleApps(existing.file)) {
			throw new CloudSyncError(`${path} is an exported Google Doc and cannot be overwritten with a file`, {
				hint: 'Leave Google Docs out on this side, or rename the file.',
			});
		}
		return { parentId, existing: existing?.file };
	}

	private creationMetadata(path: string, target: UploadTarget, metadata: Metadata): Metadata {
		return target.existing ? metadata : { ...metadata, name: baseName(path), parents: [target.parentId], mimeType: mimeTypeFor(baseName(path)) };
	}

	private async uploadMultipart(path: string, target: UploadTarget, bytes: Buffer, metadata: Metadata, signal?: AbortSignal): Promise<drive_v3.Schema$File> {
		const requestBody = this.creationMetadata(path, target, metadata);
		const mimeType = target.existing?.mimeType ?? requestBody.mimeType ?? BINARY;
		if (target.existing) {
			const fileId = target.existing.id!;
			return this.call(path, () => this.sendMultipart('PATCH', `/${encodeURIComponent(fileId)}`, requestBody, mimeType, bytes, signal), signal);
		}
		return this.createOnce(path, (id) => this.sendMultipart('POST', '', { ...requestBody, id }, mimeType, bytes, signal), signal);
	}

	/**
	 * One multipart/related request built as a single Buffer, which bufferFetch sends as it is. The
	 * Drive SDK's multipart (media as a stream) went through a pipeline of streams and a web stream per
	 * file; over thousands of small files that garbage, alive while each request is, grew the young
	 * generation to its maximum (a 5,000-file upload peaked near 290 MiB of RSS).
	 */
	private async sendMultipart(method: 'POST' | 'PATCH', file: string, metadata: drive_v3.Schema$File, mimeType: string, bytes: Buffer, signal?: AbortSignal): Promise<drive_v3.Schema$File> {
		const boundary = `cloudsync-${randomUUID()}`;
		const head = `--${boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify(metadata)}\r\n--${boundary}\r\nContent-Type: ${mimeType}\r\n\r\n`;
		const body = Buffer.concat([Buffer.from(head), bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]);
		const response = await this.api.request<drive_v3.Schema$File>({
			url: `upload/drive/v3/files${file}`,
			method,
			params: { uploadType: 'multipart', supportsAllDrives: true, fields: FILE_FIELDS },
			headers: { 'Content-Type': `multipart/related; boundary=${boundary}` },
			data: body,
			signal,
		});
		return response.data;
	}

	/**
	 * Drive has no idempotent create: a create whose answer was lost would make a second file when
	 * retried. Each create carries an id generated in advance (files.generateIds), and a retry first asks
	 * for that id, so the file the lost answer was about is found instead of made twice.
	 */
	private async createOnce(path: string, create: (id: string) => Promise<drive_v3.Schema$File>, signal?: AbortSignal): Promise<drive_v3.Schema$File> {
		const id = await this.generatedId(signal);
		return this.call(
			path,
			async (attempt) => {
				if (attempt > 0) {
					const earlier = await this.fileWithId(id, signal);
					if (earlier) return earlier;
				}
				return create(id);
			},
			signal,
		);
	}

	private async fileWithId(id: string, signal?: AbortSignal): Promise<drive_v3.Schema$File | undefined> {
		try {
			return (await this.api.files.get({ fileId: id, fields: FILE_FIELDS, supportsAllDrives: true }, { signal })).data;
		} catch (error) {
			if (error instanceof DriveHttpError && error.status === 404) return undefined;
			throw error;
		}
	}

	/** One id from a batch generated in advance; a batch is asked for once for all who wait. */
	private async generatedId(signal?: AbortSignal): Promise<string> {
		while (this.spareIds.length === 0) {
			this.generatingIds ??= this.call('', () => this.api.files.generateIds({ count: GENERATED_IDS_PER_CALL, space: 'drive', type: 'files' }, { signal }))
				.then(({ data }) => void this.spareIds.push(...(data.ids ?? [])))
				.finally(() => (this.generatingIds = undefined));
			await this.generatingIds;
		}
		return this.spareIds.pop()!;
	}

	private async uploadResumable(
		path: string,
		target: UploadTarget,
		reader: ChunkReader,
		first: Buffer,
		metadata: Metadata,
		options: WriteOptions,
		identity?: UploadIdentity,
	): Promise<drive_v3.Schema$File> {
		const session = await this.startSession(path, target, metadata, options);
		await this.sessions.begin(identity, session, 0, Date.now() + SESSION_LIFETIME_MS);
		const file = await this.sendChunks(path, session, reader, first, 0, options, identity);
		this.sessions.end(identity);
		return file;
	}

	/** Sends the file from `offset` on, chunk by chunk from `reader` (`first` already read), and tells the store what Drive confirmed. */
	private async sendChunks(path: string, session: string, reader: ChunkReader, first: Buffer | undefined, offset: number, options: WriteOptions, identity?: UploadIdentity) {
		let chunk = first ?? (await reader.read(this.chunkBytes));
		for (;;) {
			const total = reader.done ? offset + chunk.length : options.size;
			const file = await this.sendChunk(path, session, chunk, offset, total, options.signal).catch((error: unknown) => {
				// The bytes sent so far are lost with the session; only the whole write can start over.
				if (error instanceof NotFoundError) this.sessions.end(identity);
				throw error instanceof NotFoundError ? new TransientError(`The upload session of ${path} expired`) : error;
			});
			if (file) return file;
			offset += chunk.length;
			this.sessions.advance(identity, offset);
			options.signal?.throwIfAborted();
			chunk = await reader.read(this.chunkBytes);
		}
	}

	private async startSession(path: string, target: UploadTarget, metadata: Metadata, options: WriteOptions): Promise<string> {
		const headers: Record<string, string> = {
			'Content-Type': 'application/json; charset=UTF-8',
			'X-Upload-Content-Type': target.existing?.mimeType ?? mimeTypeFor(baseName(path)),
		};
		if (options.size !== undefined) headers['X-Upload-Content-Length'] = String(options.size);
		const response = await this.call(
			path,
			() =>
				this.api.request<void>({
					url: `upload/drive/v3/files${target.existing ? `/${encodeURIComponent(target.existing.id!)}` : ''}`,
					method: target.existing ? 'PATCH' : 'POST',
					params: { uploadType: 'resumable', supportsAllDrives: true, fields: FILE_FIELDS },
					headers,
					data: this.creationMetadata(path, target, metadata),
					signal: options.signal,
				}),
			options.signal,
		);
		const location = response.headers.get('location');
		if (!location) throw new TransientError(`Google Drive started no upload session for ${path}`);
		return location;
	}

	/**
	 * Sends `chunk`, which starts at `offset` of the file. A retry first asks the session how much it
	 * kept and sends only the rest. Returns the file once the last byte is in, undefined before.
	 */
	private sendChunk(path: string, session: string, chunk: Buffer, offset: number, total: number | undefined, signal?: AbortSignal) {
		const totalText = total === undefined ? '*' : String(total);
		return this.call(
			path,
			async (attempt) => {
				let from = offset;
				if (attempt > 0) {
					const status = await this.uploadRequest(session, `bytes */${totalText}`, undefined, signal);
					if (status.file) return status.file;
					from = status.received;
					if (from < offset || from > offset + chunk.length) {
						throw new CloudSyncError(`The upload session of ${path} reports ${from} bytes received, outside the chunk at ${offset}`);
					}
				}
				const body = chunk.subarray(from - offset);
				if (body.length === 0 && total !== offset + chunk.length) return undefined;
				const range = body.length === 0 ? `bytes */${totalText}` : `bytes ${from}-${from + body.length - 1}/${totalText}`;
				const result = await this.uploadRequest(session, range, body, signal);
				if (result.file) return result.file;
				if (result.received !== offset + chunk.length) throw new TransientError(`Google Drive kept ${result.received} bytes of ${path}, not ${offset + chunk.length}`);
				return undefined;
			},
			signal,
		);
	}

	private async uploadRequest(session: string, contentRange: string, body: Buffer | undefined, signal?: AbortSignal): Promise<{ file?: drive_v3.Schema$File; received: number }> {
		const response = await this.api.request<drive_v3.Schema$File | ''>({
			url: session,
			method: 'PUT',
			headers: { 'Content-Range': contentRange },
			// A status query has an empty body, whose Content-Length: 0 Google wants.
			data: body ?? Buffer.alloc(0),
			signal,
			// 308 is Google's "resume incomplete", not a redirect.
			accept: (status) => status === 308 || (status >= 200 && status < 300),
		});
		const incomplete = response.status === 308 || response.headers.get('x-http-status-code-override') === '308';
		if (incomplete || typeof response.data !== 'object') return { received: receivedFrom(response.headers.get('range')) };
		return { file: response.data, received: Number(response.data.size ?? 0) };
	}

	/** Checks the stored file against the bytes sent and returns its entry with the hashes asked for. */
	private uploaded(path: string, file: drive_v3.Schema$File, measured: Pick<ChunkReader, 'bytes' | 'hashes'>, hashTypes: HashType[]): Entry {
		const sent = measured.hashes.md5;
		if (Number(file.size) !== measured.bytes || (file.md5Checksum && sent && file.md5Checksum.toLowerCase() !== sent)) {
			throw new VerificationError(`Google Drive stored ${file.size} bytes with md5 ${file.md5Checksum} for ${path}; ${measured.bytes} bytes with md5 ${sent} were sent`);
		}
		const entry = this.toEntry(file, parentPath(path))!;
		this.remember(entry);
		if (this.fresh.has(parentPath(path))) this.freshFiles.set(path, file);
		for (const type of hashTypes) if (measured.hashes[type]) entry.hashes[type] = measured.hashes[type];
		return entry;
	}

	async mkdir(path: string): Promise<void> {
		await this.folderId(normalizeRelativePath(path), true);
	}

	async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
		const relative = normalizeRelativePath(path);
		if (relative === '') throw new InvalidPathError(path, 'refusing to delete the root folder');
		const { file, entry } = await this.lookup(relative);
		if (entry.isDir && !options.recursive && (await this.hasChildren(file.id!))) throw new NotEmptyError(relative);
		await this.remove(relative, file);
	}

	private async hasChildren(folderId: string): Promise<boolean> {
		const { data } = await this.call('', () =>
			this.api.files.list({ q: `'${escapeQuery(folderId)}' in parents and trashed = false`, pageSize: 1, fields: 'files(id)', supportsAllDrives: true, ...this.corpus }),
		);
		return (data.files ?? []).length > 0;
	}

	private async remove(path: string, file: drive_v3.Schema$File): Promise<void> {
		const fileId = file.id!;
		await this.call(path, async () => {
			if (this.options.trash === false) await this.api.files.delete({ fileId, supportsAllDrives: true });
			else await this.api.files.update({ fileId, requestBody: { trashed: true }, fields: 'id', supportsAllDrives: true });
		});
		this.forget(path, fileId);
	}

	/** The item at `to`'s folder (created when missing) that a move or copy would replace. */
	private async destination(from: Item, to: string): Promise<{ parentId: string; replaced?: Item }> {
		const parentId = await this.folderId(parentPath(to), true);
		const matches = (await this.childrenNamed(parentId, parentPath(to), baseName(to))).filter((item) => item.file.id !== from.file.id);
		if (matches.length > 1) throw new DuplicateNameError(to, matches.length);
		const replaced = matches[0];
		if (replaced && (replaced.entry.isDir || from.entry.isDir)) throw new AlreadyExistsError(to);
		return { parentId, replaced };
	}

	/** The Drive name for `to`: an exported Google Doc keeps no export extension in Drive. */
	private driveNameFor(item: Item, to: string): string {
		const name = baseName(to);
		return (isGoogleApps(item.file) && this.withoutExtension(item.file.mimeType!, name)) || name;
	}

	async move(from: string, to: string): Promise<Entry> {
		const source = normalizeRelativePath(from);
		const target = normalizeRelativePath(to);
		if (source === '' || target === '') throw new InvalidPathError(source === '' ? from : to, 'cannot move the root folder');
		const item = await this.lookup(source);
		if (source === target) return item.entry;
		if (item.entry.isDir && insideOrSame(target, source)) throw new InvalidPathError(to, `cannot move the folder ${source} into itself`);
		const { parentId, replaced } = await this.destination(item, target);
		if (replaced) await this.remove(target, replaced.file);
		const oldParent = item.file.parents?.[0] ?? undefined;
		const reparent = oldParent !== parentId ? { addParents: parentId, removeParents: oldParent } : {};
		const { data } = await this.call(target, () =>
			this.api.files.update({
				fileId: item.file.id!,
				...reparent,
				// Drive counts a rename as a modification; the file's own time is kept.
				requestBody: { name: this.driveNameFor(item, target), modifiedTime: item.file.modifiedTime },
				fields: FILE_FIELDS,
				supportsAllDrives: true,
			}),
		);
		this.forget(target);
		this.freshFiles.delete(source);
		this.unfresh(parentPath(target));
		this.relocate(source, target);
		const entry = this.toEntry(data, parentPath(target))!;
		this.remember(entry);
		return entry;
	}

	async copy(from: string, to: string): Promise<Entry> {
		const source = normalizeRelativePath(from);
		const target = normalizeRelativePath(to);
		if (target === '') throw new InvalidPathError(to, 'cannot copy over the root folder');
		const item = await this.lookup(source);
		if (item.entry.isDir) throw new CloudSyncError(`Copying folders is not supported: ${source}`);
		if (isGoogleApps(item.file)) throw new CloudSyncError(`An exported Google Doc cannot be copied as a file: ${source}`);
		if (source === target) return item.entry;
		const { parentId, replaced } = await this.destination(item, target);
		const { data } = await this.call(target, () =>
			this.api.files.copy({
				fileId: item.file.id!,
				requestBody: { name: baseName(target), parents: [parentId], modifiedTime: item.file.modifiedTime },
				fields: FILE_FIELDS,
				supportsAllDrives: true,
			}),
		);
		// The copy exists before the file it replaces goes, so the path is never empty.
		if (replaced) await this.remove(target, replaced.file);
		this.unfresh(parentPath(target));
		const entry = this.toEntry(data, parentPath(target))!;
		this.remember(entry);
		return entry;
	}

	// -------------------------------------------------------------------------------------------
	// Change cursors

	/**
	 * Drive's start page token, with the time it was asked for: a file Drive says was created after
	 * that time is 'added', even for a provider that never saw the folder before.
	 */
	async changeCursor(): Promise<string> {
		const driveId = this.driveId;
		const asked = Date.now();
		const { data } = await this.call('', () => this.api.changes.getStartPageToken({ supportsAllDrives: true, driveId }));
		if (!data.startPageToken) throw new TransientError('Google Drive returned no change cursor');
		return `${data.startPageToken}@${asked}`;
	}

	async changesSince(cursor: string, options: { signal?: AbortSignal } = {}): Promise<ChangePage> {
		const driveId = this.driveId;
		const changes: Change[] = [];
		const unplaced: UnplacedChange[] = [];
		const at = cursor.lastIndexOf('@');
		const time = at < 0 ? Number.NaN : Number(cursor.slice(at + 1));
		const since = Number.isFinite(time) ? time : undefined;
		let pageToken = at < 0 ? cursor : cursor.slice(0, at);
		const asked = Date.now();
		for (;;) {
			const { data } = await this.call(
				'',
				() =>
					this.api.changes.list(
						{ pageToken, pageSize: PAGE_SIZE, fields: CHANGE_FIELDS, includeRemoved: true, supportsAllDrives: true, includeItemsFromAllDrives: driveId !== undefined, driveId },
						{ signal: options.signal },
					),
				options.signal,
			);
			const page = data.changes ?? [];
			// Folders created in this pass are named from the page itself, without a request each.
			const pageFiles = new Map(page.flatMap((change) => (change.file?.id ? [[change.file.id, change.file] as const] : [])));
			for (const change of page) changes.push(...(await this.mapChange(change, pageFiles, since, unplaced, options.signal)));
			if (data.newStartPageToken) return { changes, cursor: `${data.newStartPageToken}@${asked}`, unplaced: unplaced.length, unplacedChanges: unplaced };
			if (!data.nextPageToken) throw new TransientError('Google Drive ended the change list without a new cursor');
			pageToken = data.nextPageToken;
		}
	}

	private async mapChange(
		change: drive_v3.Schema$Change,
		pageFiles: Map<string, drive_v3.Schema$File>,
		since: number | undefined,
		unplaced: UnplacedChange[],
		signal?: AbortSignal,
	): Promise<Change[]> {
		const id = change.fileId;
		if (!id || id === this.root) return [];
		const known = this.known.get(id);
		// A copy: relocating a folder below rewrites the cached record in place.
		const before = known && { ...known };
		const file = change.file;
		const parent = file && (await this.folderPath(file.parents?.[0], pageFiles, signal));
		const gone = change.removed || !file || file.trashed || parent === undefined;
		if (gone) {
			// A file that left the root, or went to the trash, is gone from here; only a known one can be named.
			const path = before?.path ?? (file?.trashed && parent !== undefined ? this.toEntry(file, parent)?.path : undefined);
			if (path === undefined) {
				// Drive names only the id of what left: where it was is known only to a provider that saw it.
				// (One that was never below the root looks the same as one moved out of it.)
				unplaced.push({ id, isDir: file !== undefined && isFolder(file) });
				return [];
			}
			this.forget(path, id);
			return [{ kind: 'deleted', path, id, isDir: before?.isDir ?? (file !== undefined && isFolder(file)) }];
		}
		const entry = this.toEntry(file, parent);
		if (!entry) return [];
		if (before && before.path !== entry.path && before.isDir) this.relocate(before.path, entry.path);
		this.remember(entry);
		// Without a time in the cursor, what this provider has not seen yet is taken as new.
		const created = since === undefined ? !before : Date.parse(file.createdTime ?? '') >= since;
		if (created) return [{ kind: 'added', path: entry.path, entry, id, isDir: entry.isDir }];
		if (before && before.path !== entry.path) return [{ kind: 'moved', path: entry.path, previousPath: before.path, entry, id, isDir: entry.isDir }];
		// An older item this provider never saw may have been edited in place or moved here from anywhere: Drive does not say which.
		// The engine's own lock and state files are rewritten in place by every run, and never synced.
		if (!before && !inStateFolder(entry.path)) unplaced.push({ id, path: entry.path, isDir: entry.isDir });
		// A folder's own time changes with its contents, which have changes of their own.
		return entry.isDir ? [] : [{ kind: 'modified', path: entry.path, entry, id, isDir: false }];
	}

	/** The path of folder `id` below the root, from the caches, the page, or Drive; undefined outside the root. */
	private async folderPath(id: string | null | undefined, pageFiles: Map<string, drive_v3.Schema$File>, signal?: AbortSignal): Promise<string | undefined> {
		if (!id || this.outside.has(id)) return undefined;
		if (id === this.root) return '';
		const known = this.known.get(id);
		if (known?.isDir) return known.path;
		const folder = pageFiles.get(id) ?? (await this.fetchFolder(id, signal));
		const parent = folder && (await this.folderPath(folder.parents?.[0], pageFiles, signal));
		if (!folder || parent === undefined || !isFolder(folder)) {
			this.outside.add(id);
			return undefined;
		}
		const path = joinPath(parent, pathName(folder.name ?? ''));
		// As a listing would: the paths the changes name below it are then looked up without asking for the folder again.
		this.remember({ path, id, isDir: true, size: 0, modTime: 0, hashes: {} });
		return path;
	}

	/** A folder's metadata; undefined once it is deleted for good. */
	private async fetchFolder(id: string, signal?: AbortSignal): Promise<drive_v3.Schema$File | undefined> {
		try {
			return (await this.call('', () => this.api.files.get({ fileId: id, fields: FILE_FIELDS, supportsAllDrives: true }, { signal }), signal)).data;
		} catch (error) {
			if (error instanceof NotFoundError) return undefined;
			throw error;
		}
	}
}
