import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Capabilities, Entry, HashType, Hashes, ListOptions, Provider, ReadOptions, RootLocation, UploadIdentity, UploadSessionStore, WriteOptions } from '../core/types';
import {
	AlreadyExistsError,
	AuthenticationError,
	CloudSyncError,
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
import { STATE_FOLDER } from '../core/filters';
import { answerOf, ChunkReader, nodeBodyOf, NO_HEADERS, PooledBody, Remote, ResumableUploads, SliceStream, bodyStream, emptyStream, insideOrSame, mimeTypeFor, piecedSession, requestSignal, walkInOrder, type PiecedSession } from './kit';
import { readWhole } from '../core/streams';
import { hashStream, measure, measureBuffer, sameHash, type MeasuringStream } from '../core/hashing';
import { fillOf } from '../core/fill';
import { baseName, joinPath, normalizeRelativePath, parentPath, writablePath } from '../core/paths';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Nextcloud's default max_chunk_size [code] rclone webdav.go option help; v2 wants 5 MB to 5 GB per chunk but the last. */
const DEFAULT_CHUNK = 10 * MiB;
const MIN_CHUNK = 5 * 1000 * 1000;
const MAX_CHUNKS = 10_000;
/** Files up to this size are sent from memory: a request can then be retried by itself, and carry the checksum in its headers. */
const DEFAULT_BUFFERED = 8 * MiB;
const DEFAULT_TIMEOUT_MS = 5 * 60_000;
/** What a streamed upload hands the socket at a time. */
const STREAM_PIECE = 256 * KiB;
/**
 * Nextcloud's background job removes chunked uploads a day after they were last written to
 * [code] nextcloud/server apps/dav/lib/BackgroundJob/UploadCleanup.php: a session is kept an hour less.
 */
const CHUNKED_KEPT_MS = 23 * 3600 * 1000;
/** Staged uploads older than this were left by a run that died. */
const STALE_STAGED_MS = 60 * 60_000;
/** Where uploads are staged before they are moved into place, inside the engine's own folder. */
const STAGING = `${STATE_FOLDER}/tmp`;
const HOST_TAG = hostname().replace(/[^A-Za-z0-9]/g, '').slice(0, 16) || 'host';
const DAV = 'DAV:';
const OC = 'http://owncloud.org/ns';
const NC = 'http://nextcloud.org/ns';

/**
 * Which server the URL points at. Nextcloud and ownCloud keep modification times (X-OC-Mtime), store
 * a SHA-1 checksum they list as oc:checksums, and take large files in chunks; other servers (Apache
 * mod_dav, nginx, rclone serve webdav, a NAS) have none of that in the protocol.
 */
export type WebDavVendor = 'nextcloud' | 'owncloud' | 'other';

export interface WebDavProviderOptions {
	/** The server's WebDAV address: for Nextcloud https://host/remote.php/dav/files/<user>. */
	url: string;
	user?: string;
	password?: string;
	vendor?: WebDavVendor;
	/** Folder below the URL that is the provider's root, such as '/Backups'; '' is the URL itself. */
	root?: string;
	pacer?: Pacer;
	/** Bytes per chunk of a Nextcloud chunked upload (5 MB to 5 GB). */
	chunkSize?: number;
	/** Largest file sent from memory in one request, which can then be retried on its own. */
	bufferedLimit?: number;
	requestTimeoutMs?: number;
}

interface CallContext {
	path: string;
	to?: string;
	signal?: AbortSignal;
}

/** A WebDAV answer other than 2xx; never the request (its headers carry the password). */
export class WebDavResponseError extends Error {
	constructor(
		readonly status: number,
		readonly detail: string,
		readonly headers: Headers,
	) {
		super(`The WebDAV server answered HTTP ${status}${detail ? ` (${detail})` : ''}`);
	}
}

async function responseError(response: Response): Promise<WebDavResponseError> {
	const text = await response.text().catch(() => '');
	// Sabre (Nextcloud, ownCloud) says why in <s:message>; other servers send an HTML page, of which the title is kept.
	const message = /<s:message>([^<]*)<\/s:message>/.exec(text)?.[1] ?? /<title>([^<]*)<\/title>/i.exec(text)?.[1] ?? '';
	return new WebDavResponseError(response.status, message.trim().slice(0, 200), response.headers);
}

/** What a failed call becomes in the engine's typed errors. */
export function mapWebDavError(error: unknown, context: CallContext, redact: (text: string) => string = (text) => text): Error {
	if (error instanceof CloudSyncError) return error;
	const where = context.path || '/';
	if (error instanceof WebDavResponseError) {
		const detail = redact(error.detail);
		const retryAfterMs = retryAfterOf(error.headers);
		const { status } = error;
		const said = detail ? `: ${detail}` : '';
		if (status === 401) {
			return new AuthenticationError(`The WebDAV server refused the user name or password (HTTP 401${said})`, {
				hint: 'Check the URL, user and password of the WebDAV credential; Nextcloud and ownCloud accounts with two-factor sign-in need an app password (Settings > Security).',
			});
		}
		if (status === 403) return new PermissionError(`The WebDAV server denied access to ${where} (HTTP 403${said})`, { cause: error });
		if (status === 404 || status === 410) return new NotFoundError(where, { cause: error });
		if (status === 412) return new AlreadyExistsError(context.to ?? context.path, { cause: error });
		if (status === 413) {
			return new CloudSyncError(`The WebDAV server refused ${where} as too large (HTTP 413${said})`, {
				cause: error,
				hint: 'Raise the upload limit of the server (LimitRequestBody, client_max_body_size, PHP upload_max_filesize), or leave such files out with a filter.',
			});
		}
		if (status === 423) {
			return new TransientError(`${where} is locked on the WebDAV server by another client (HTTP 423${said})`, { cause: error, retryAfterMs: retryAfterMs ?? 1000 });
		}
		if (status === 507) return new StorageFullError(`The WebDAV server has no room left: cannot write ${where} (HTTP 507${said})`, { cause: error });
		if (status === 429) return new RateLimitError(`The WebDAV server asked to slow down (HTTP 429${said}) at ${where}`, { cause: error, retryAfterMs });
		if (status === 408 || status >= 500) return new TransientError(`The WebDAV server failed with HTTP ${status}${said} at ${where}`, { cause: error, retryAfterMs });
		return new CloudSyncError(`The WebDAV server refused the request for ${where} (HTTP ${status}${said})`, { cause: error });
	}
	if ((error as Error)?.name === 'TimeoutError') return new TransientError(`The WebDAV server did not answer in time (${where})`, { cause: error });
	const message = redact(typeof (error as Error)?.message === 'string' ? (error as Error).message : String(error));
	const code = (error as { cause?: { code?: unknown } })?.cause?.code;
	if (classifyError(error).retryable || (error as Error)?.name === 'TypeError') {
		return new TransientError(`The WebDAV server could not be reached, or the connection broke (${typeof code === 'string' ? code : message}) at ${where}`, { cause: error });
	}
	return new CloudSyncError(message, { cause: error });
}

// ---------------------------------------------------------------------------------------------
// Multistatus answers

interface XmlElement {
	ns: string;
	name: string;
	children: XmlElement[];
	text: string;
	/** False when the document ended before this element was closed: the answer was cut short. */
	closed?: boolean;
}

/** XML's five named entities; a multistatus answer uses no others (it has no DTD to declare them). */
const XML_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Text with its entity and character references resolved; a reference to no character (a surrogate, 0, beyond U+10FFFF) becomes U+FFFD. */
function decodeXmlText(text: string): string {
	if (!text.includes('&')) return text;
	return text.replace(/&(#[xX][0-9a-fA-F]{1,8}|#[0-9]{1,10}|[A-Za-z]+);/g, (whole, name: string) => {
		if (name[0] !== '#') return XML_ENTITIES[name] ?? whole;
		const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
		return code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) ? '\uFFFD' : String.fromCodePoint(code);
	});
}

/** The end of the tag that starts at `from` (the index of its `>`), skipping quoted attribute values; -1 when the text ends first. */
function tagEnd(text: string, from: number): number {
	let quote = '';
	for (let at = from; at < text.length; at++) {
		const c = text[at];
		if (quote) {
			if (c === quote) quote = '';
		} else if (c === '"' || c === "'") quote = c;
		else if (c === '>') return at;
	}
	return -1;
}

const ATTRIBUTE = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

/**
 * Parses XML into elements named by namespace and local name: servers choose their own prefixes
 * (Apache writes `lp1:getlastmodified`, Nextcloud `d:`, rclone `D:`), so names are resolved through
 * the xmlns declarations in scope. A multistatus answer needs elements, attributes, text, entities
 * and CDATA; comments, processing instructions and declarations are skipped. An element is `closed`
 * only by its own end tag: one the document ended inside, one an end tag of an element around it
 * closed, and a self-closing one are not (as htmlparser2 reported them; an answer cut short is seen as such). Written here rather than
 * loading an XML library: htmlparser2 cost each WebDAV run 14 MiB and 0.05–0.08 s of CPU to load.
 */
export function parseXml(text: string): XmlElement {
	const root: XmlElement = { ns: '', name: '#document', children: [], text: '' };
	const stack: Array<{ tag: string; element: XmlElement; scope: Map<string, string> }> = [{ tag: '', element: root, scope: new Map([['xml', 'http://www.w3.org/XML/1998/namespace']]) }];
	const addText = (data: string) => {
		if (data !== '') stack[stack.length - 1].element.text += data;
	};
	let at = 0;
	while (at < text.length) {
		const open = text.indexOf('<', at);
		if (open < 0) {
			addText(decodeXmlText(text.slice(at)));
			break;
		}
		addText(decodeXmlText(text.slice(at, open)));
		if (text.startsWith('<!--', open)) {
			const end = text.indexOf('-->', open + 4);
			if (end < 0) break;
			at = end + 3;
		} else if (text.startsWith('<![CDATA[', open)) {
			const end = text.indexOf(']]>', open + 9);
			if (end < 0) break;
			addText(text.slice(open + 9, end));
			at = end + 3;
		} else if (text.startsWith('<?', open)) {
			const end = text.indexOf('?>', open + 2);
			if (end < 0) break;
			at = end + 2;
		} else {
			const end = tagEnd(text, open + 1);
			if (end < 0) break;
			at = end + 1;
			const body = text.slice(open + 1, end);
			if (body.startsWith('!')) continue;
			if (body.startsWith('/')) {
				const tag = body.slice(1).trim();
				const depth = stack.findLastIndex((each, index) => index > 0 && each.tag === tag);
				// An end tag with no open element of its name is ignored; one below it is closed implicitly.
				if (depth < 0) continue;
				while (stack.length > depth + 1) stack.pop()!.element.closed = false;
				stack.pop()!.element.closed = true;
				continue;
			}
			const selfClosing = body.endsWith('/');
			const inner = selfClosing ? body.slice(0, -1) : body;
			const tag = /^[^\s/>]+/.exec(inner)?.[0];
			if (!tag) {
				addText(`<${body}>`);
				continue;
			}
			const top = stack[stack.length - 1];
			let scope = top.scope;
			for (const [, key, doubleQuoted, singleQuoted] of inner.slice(tag.length).matchAll(ATTRIBUTE)) {
				if (key !== 'xmlns' && !key.startsWith('xmlns:')) continue;
				if (scope === top.scope) scope = new Map(scope);
				scope.set(key === 'xmlns' ? '' : key.slice(6), decodeXmlText(doubleQuoted ?? singleQuoted ?? ''));
			}
			const colon = tag.indexOf(':');
			const prefix = colon < 0 ? '' : tag.slice(0, colon);
			const element: XmlElement = { ns: scope.get(prefix) ?? '', name: colon < 0 ? tag : tag.slice(colon + 1), children: [], text: '' };
			top.element.children.push(element);
			if (selfClosing) element.closed = false;
			else stack.push({ tag, element, scope });
		}
	}
	while (stack.length > 1) stack.pop()!.element.closed = false;
	return root;
}

const child = (element: XmlElement | undefined, ns: string, name: string) => element?.children.find((each) => each.ns === ns && each.name === name);
const childrenNamed = (element: XmlElement | undefined, ns: string, name: string) => element?.children.filter((each) => each.ns === ns && each.name === name) ?? [];

export interface DavResource {
	/** The href's path, percent-decoded segment by segment. */
	segments: string[];
	isDir: boolean;
	size: number;
	modTime: number;
	etag?: string;
	hashes: Hashes;
	fileId?: string;
}

/**
 * The resources of a 207 Multi-Status. Hrefs may be absolute URLs or paths; one on another host, or
 * one whose segments do not decode, is left out. Only properties of a 200 propstat count.
 */
export function parseMultistatus(text: string, requestUrl: string): DavResource[] {
	const base = new URL(requestUrl);
	const resources: DavResource[] = [];
	const multistatus = child(parseXml(text), DAV, 'multistatus');
	// A body cut short parses as a shorter listing: it is refused, never taken for the folder's contents.
	if (!multistatus?.closed) throw new TransientError('The WebDAV server sent a listing that was cut short or is not a multistatus');
	for (const response of childrenNamed(multistatus, DAV, 'response')) {
		const href = child(response, DAV, 'href')?.text.trim();
		if (!href) continue;
		let url: URL;
		try {
			url = new URL(href, base);
		} catch {
			continue;
		}
		if (url.origin !== base.origin) continue;
		const segments = decodeSegments(url.pathname);
		if (!segments) continue;
		const props: XmlElement[] = [];
		for (const propstat of childrenNamed(response, DAV, 'propstat')) {
			const status = child(propstat, DAV, 'status')?.text ?? '';
			if (!/\s200\s/.test(` ${status} `)) continue;
			props.push(...(child(propstat, DAV, 'prop')?.children ?? []));
		}
		const prop = (ns: string, name: string) => props.find((each) => each.ns === ns && each.name === name);
		const resourcetype = prop(DAV, 'resourcetype');
		const microsoft = prop('urn:schemas-microsoft-com:', 'iscollection')?.text.trim();
		const isDir = child(resourcetype, DAV, 'collection') !== undefined || microsoft === '1' || microsoft === 'true';
		const modTime = Date.parse(prop(DAV, 'getlastmodified')?.text.trim() ?? '') || 0;
		const size = Number(prop(DAV, 'getcontentlength')?.text.trim() || prop(OC, 'size')?.text.trim() || 0);
		resources.push({
			segments,
			isDir,
			size: isDir || !Number.isFinite(size) ? 0 : size,
			modTime,
			etag: prop(DAV, 'getetag')?.text.trim() || undefined,
			hashes: checksumsOf(prop(OC, 'checksums')),
			fileId: prop(OC, 'fileid')?.text.trim() || undefined,
		});
	}
	return resources;
}

/** `<oc:checksum>SHA1:… MD5:… ADLER32:…</oc:checksum>` [code] rclone webdav.go:760. */
function checksumsOf(element: XmlElement | undefined): Hashes {
	const hashes: Hashes = {};
	const words = (element?.children ?? []).flatMap((each) => each.text.split(/\s+/)).concat((element?.text ?? '').split(/\s+/));
	for (const word of words) {
		const match = /^(SHA1|MD5|SHA256):([0-9a-fA-F]+)$/i.exec(word.trim());
		if (!match) continue;
		const type = match[1].toLowerCase() as HashType;
		hashes[type] = match[2].toLowerCase();
	}
	return hashes;
}

/** A URL path's segments, each percent-decoded on its own (so an encoded slash stays inside its name); undefined when one does not decode. */
function decodeSegments(pathname: string): string[] | undefined {
	try {
		return pathname
			.split('/')
			.filter((segment) => segment !== '')
			.map((segment) => decodeURIComponent(segment));
	} catch {
		return undefined;
	}
}

/** Why a name a server listed cannot be a name here: it would climb out, or be read as two. */
function hostileName(name: string): boolean {
	return name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0');
}

const encodePath = (relative: string) =>
	relative
		.split('/')
		.filter(Boolean)
		.map((segment) => encodeURIComponent(segment))
		.join('/');

const PROPS_COMMON = '<d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getetag/>';
const PROPFIND_OTHER = `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop>${PROPS_COMMON}</d:prop></d:propfind>`;
const PROPFIND_OC = `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:oc="${OC}" xmlns:nc="${NC}"><d:prop>${PROPS_COMMON}<oc:checksums/><oc:fileid/><oc:size/></d:prop></d:propfind>`;

/** What was read of a source: its length, its hashes, and the error that stopped it. */
type Measured = Pick<MeasuringStream, 'bytes' | 'hashes' | 'errored'>;

/** A source announced to be `size` bytes long and read whole into `bytes`, or a VerificationError when it was longer or shorter. */
function measuredWhole(bytes: Buffer, whole: boolean, types: Iterable<HashType>, size: number): Measured {
	if (!whole) throw new VerificationError(`Stream is longer than the expected ${size} bytes`);
	return { bytes: bytes.length, hashes: measureBuffer(bytes, types, { size }), errored: null };
}

const brokeOff = (path: string, cause: unknown) => new TransientError(`The download of ${path} broke off`, { cause });
const seconds = (ms: number) => String(Math.floor(ms / 1000));

/**
 * A WebDAV server (RFC 4918) with a thin client on node:http and the provider kit. The `webdav`
 * package is ESM-only since v5, pulls node-fetch and fast-xml-parser, and hides the vendor headers
 * this needs (X-OC-Mtime and its answer, OC-Checksum, chunked uploads, Overwrite): the protocol is
 * eight methods, so they are spoken here and the multistatus XML is read by `parseXml` below.
 *
 * Folders are listed one level at a time (PROPFIND Depth: 1; Depth: infinity is often refused).
 * Writes are atomic for readers: on Nextcloud and ownCloud the server writes a part file and
 * renames it; elsewhere the upload goes to a staging name in the root's .cloudsync folder and is
 * moved into place.
 */
export class WebDavProvider implements Provider {
	readonly name = 'webdav';
	readonly capabilities: Capabilities;
	readonly pacer: Pacer;
	private readonly base: URL;
	/** The URL of the provider's root, ending in '/'. */
	private readonly rootUrl: string;
	private readonly vendor: WebDavVendor;
	private readonly chunkSize: number;
	private readonly bufferedLimit: number;
	private readonly timeoutMs: number;
	private readonly authorization?: string;
	private readonly remote: Remote<CallContext>;
	/** Folders known to exist, so that writes into them make none. */
	private readonly folders = new Set<string>(['']);
	/** Unfinished chunked uploads (Nextcloud), kept between runs when the caller gives a store. */
	private readonly sessions = new ResumableUploads(() => `webdav:${this.rootUrl}`);
	/** Folders being made now, so that concurrent writers into one new folder share one MKCOL. */
	private readonly making = new Map<string, Promise<void>>();
	/** Connections kept open between requests, so that small requests do not each open one. */
	private readonly agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
	/** Set when a server answered an X-OC-Mtime without accepting it: times are then set by PROPPATCH. */

	private constructor(options: WebDavProviderOptions) {
		let base: URL;
		try {
			base = new URL(options.url.trim());
		} catch {
			throw new CloudSyncError(`"${options.url}" is not a web address`, { hint: 'Give the WebDAV URL with its scheme, such as https://cloud.example.com/remote.php/dav/files/alice.' });
		}
		if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new CloudSyncError(`A WebDAV URL starts with https:// or http://, not ${base.protocol}`, { hint: 'Give the URL as the server shows it.' });
		if (base.username || base.password) throw new CloudSyncError('The WebDAV URL holds a user name or password', { hint: 'Remove them from the URL and put them in the credential fields.' });
		base.search = '';
		base.hash = '';
		if (!base.pathname.endsWith('/')) base.pathname += '/';
		this.base = base;
		const root = normalizeRelativePath((options.root ?? '').replace(/^\/+/, ''));
		this.rootUrl = root === '' ? base.href : `${base.href}${encodePath(root)}/`;
		this.vendor = options.vendor ?? 'other';
		const oc = this.vendor !== 'other';
		this.capabilities = {
			// Nextcloud lists the SHA-1 a client stored with the file; other servers list no hash.
			hashTypes: oc ? ['sha1'] : [],
			listedHashTypes: oc ? ['sha1'] : [],
			// getlastmodified is an HTTP date: whole seconds.
			modTimePrecisionMs: 1000,
			// Only Nextcloud and ownCloud take a time from the client [code] rclone webdav.go setQuirks.
			canSetModTime: oc,
			caseInsensitive: false,
			maxFileSize: Number.POSITIVE_INFINITY,
			emptyFolders: true,
		};
		this.pacer = options.pacer ?? new Pacer();
		this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
		if (this.chunkSize < MIN_CHUNK && oc) {
			throw new CloudSyncError(`A Nextcloud upload chunk must be at least 5 MB, not ${this.chunkSize} bytes`, { hint: 'Leave the chunk size empty, or give at least 5000000.' });
		}
		this.bufferedLimit = Math.max(1, options.bufferedLimit ?? Math.min(DEFAULT_BUFFERED, this.chunkSize));
		this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
		const secrets: string[] = [];
		if (options.user !== undefined || options.password !== undefined) {
			const encoded = Buffer.from(`${options.user ?? ''}:${options.password ?? ''}`).toString('base64');
			this.authorization = `Basic ${encoded}`;
			secrets.push(encoded, options.password ?? '');
		}
		this.remote = new Remote<CallContext>({
			pacer: this.pacer,
			// Basic sign-in has no token to renew.
			tokens: { prepare: async () => undefined, renew: async () => undefined, secrets: () => secrets },
			unauthorized: () => false,
			mapError: (error, context, redact) => mapWebDavError(error, context, redact),
		});
	}

	/** Opens the provider on its root folder; fails when the root is missing or a file, or the server is no WebDAV server. */
	static async open(options: WebDavProviderOptions): Promise<WebDavProvider> {
		const provider = new WebDavProvider(options);
		const root = normalizeRelativePath((options.root ?? '').replace(/^\/+/, ''));
		let top: DavResource | undefined;
		try {
			top = await provider.propfind({ path: root }, provider.rootUrl, '0').then((found) => found[0]);
		} catch (error) {
			if (error instanceof NotFoundError) throw new NotFoundError(root);
			if (error instanceof CloudSyncError && error.cause instanceof WebDavResponseError && error.cause.status === 405) {
				throw new CloudSyncError(`${options.url} does not answer WebDAV requests (PROPFIND: HTTP 405)`, {
					hint: 'Give the WebDAV address of the server; for Nextcloud it is https://host/remote.php/dav/files/<user>.',
				});
			}
			throw error;
		}
		if (!top) throw new CloudSyncError(`${options.url} answered PROPFIND without describing the folder`, { hint: 'Check that the URL is the WebDAV address of the server.' });
		if (!top.isDir) throw new InvalidPathError(root, 'it is a file, not a folder', 'Choose a folder as the root.');
		return provider;
	}

	// -----------------------------------------------------------------------------------------
	// Requests

	private urlOf(relative: string, folder = false): string {
		if (relative === '') return this.rootUrl;
		return `${this.rootUrl}${encodePath(relative)}${folder ? '/' : ''}`;
	}

	/**
	 * One HTTP request on node:http with a keep-alive agent of the provider's own; anything but 2xx
	 * (and the statuses in `accept`) becomes a WebDavResponseError. Node's fetch cost twice the CPU
	 * per small request here and read streamed bodies ahead of the server. A download's body streams;
	 * any other answer is small and read whole, so its connection goes back to the pool.
	 */
	private async send(
		method: string,
		url: string,
		init: { body?: Buffer | string | Readable | PooledBody; headers?: Record<string, string>; signal?: AbortSignal; accept?: number[]; timeout?: boolean } = {},
	): Promise<Response> {
		const headers: Record<string, string> = { ...init.headers };
		if (this.authorization) headers.authorization = this.authorization;
		const upload = init.body instanceof Readable || init.body instanceof PooledBody;
		if (typeof init.body === 'string' || Buffer.isBuffer(init.body)) headers['content-length'] = String(Buffer.byteLength(init.body));
		const stream = init.timeout === false;
		// No timer for a download (it lasts as long as its bytes do) or a streamed upload (answered after its last byte): only the caller stops them.
		const request = requestSignal(stream || upload ? undefined : this.timeoutMs, init.signal);
		try {
			const reply = await this.exchange(method, url, headers, init.body, request.signal);
			const status = reply.statusCode ?? 500;
			const empty = status === 204 || status === 304 || method === 'HEAD';
			let body: Buffer | Readable | null = null;
			if (stream && !empty) body = reply;
			else if (!empty) body = await readWhole(reply, Number.POSITIVE_INFINITY);
			else reply.resume();
			return await this.checked(answerOf(status, reply.headers, body), init.accept);
		} catch (error) {
			if (request.timedOut()) throw new TransientError(`The WebDAV server did not answer in time (${method} ${new URL(url).pathname})`, { cause: error });
			throw error;
		} finally {
			// A streamed download's body still answers to the caller's signal.
			if (stream) request.clearTimer();
			else request.clear();
		}
	}

	/** Sends a request and waits for the answer's headers; a body, when given, goes whole or piped. */
	private exchange(method: string, url: string, headers: Record<string, string>, body: Buffer | string | Readable | PooledBody | undefined, signal: AbortSignal): Promise<IncomingMessage> {
		const target = new URL(url);
		const https = target.protocol === 'https:';
		return new Promise<IncomingMessage>((resolve, reject) => {
			const outgoing = (https ? httpsRequest : httpRequest)(target, { method, headers, signal, agent: https ? this.agents.https : this.agents.http }, resolve);
			outgoing.on('error', reject);
			if (body instanceof Readable) pipeline(body, outgoing).catch(reject);
			else if (body instanceof PooledBody) {
				body.writeTo(outgoing).catch((error: unknown) => {
					outgoing.destroy(error as Error);
					reject(error);
				});
			} else outgoing.end(body);
		});
	}

	private async checked(response: Response, accept: number[] | undefined): Promise<Response> {
		if ((response.status >= 200 && response.status < 300) || accept?.includes(response.status)) return response;
		throw await responseError(response);
	}

	/** A request and its answer, released; retried as the pacer says. */
	private async request(context: CallContext, method: string, url: string, init: Parameters<WebDavProvider['send']>[2] = {}): Promise<Response> {
		return this.remote.call(
			context,
			() => this.send(method, url, { ...init, signal: context.signal }),
			context.signal,
		);
	}

	private async propfind(context: CallContext, address: string, depth: '0' | '1'): Promise<DavResource[]> {
		let url = address;
		return this.remote.call(
			context,
			async () => {
				const ask = () =>
					this.send('PROPFIND', url, {
						body: this.vendor === 'other' ? PROPFIND_OTHER : PROPFIND_OC,
						headers: { depth, 'content-type': 'application/xml; charset=utf-8' },
						signal: context.signal,
						accept: [301, 302, 307, 308],
					});
				let response = await ask();
				const location = response.headers.get('location');
				if (response.status >= 300 && response.status < 400 && location && new URL(location, url).href === `${url}/`) {
					// A folder asked for without its trailing slash (Apache's DirectorySlash): asked again where the server points, never elsewhere.
					url = `${url}/`;
					response = await ask();
				}
				if (response.status !== 207) {
					throw new CloudSyncError(`${url.replace(this.base.origin, '')} answered PROPFIND with HTTP ${response.status}, not a WebDAV listing`, {
						hint: 'Check that the URL is the WebDAV address of the server.',
					});
				}
				return parseMultistatus(await response.text(), url);
			},
			context.signal,
		);
	}

	/** The segments of the root's URL path, decoded. */
	private get rootSegments(): string[] {
		return decodeSegments(new URL(this.rootUrl).pathname) ?? [];
	}

	/**
	 * The entries of a Depth: 1 answer on folder `relative`: the folder itself is left out, and so is
	 * any href that is not a direct child of it (outside the root, deeper, or a name that would climb
	 * out once decoded).
	 */
	private childrenOf(relative: string, resources: DavResource[]): Entry[] {
		const folder = [...this.rootSegments, ...relative.split('/').filter(Boolean)];
		const entries: Entry[] = [];
		for (const resource of resources) {
			if (resource.segments.length !== folder.length + 1) continue;
			if (!folder.every((segment, i) => segment === resource.segments[i])) continue;
			const name = resource.segments[folder.length];
			if (hostileName(name)) continue;
			if (relative === '' && name === STATE_FOLDER) continue;
			entries.push(this.entryOf(joinPath(relative, name), resource));
		}
		return entries;
	}

	/** The resource a Depth: 0 answer describes at `relative`. */
	private selfOf(relative: string, resources: DavResource[]): DavResource | undefined {
		const wanted = [...this.rootSegments, ...relative.split('/').filter(Boolean)];
		return resources.find((resource) => resource.segments.length === wanted.length && wanted.every((segment, i) => segment === resource.segments[i]));
	}

	private entryOf(path: string, resource: DavResource): Entry {
		if (resource.isDir) return { path, isDir: true, size: 0, modTime: resource.modTime, hashes: {}, ...(resource.fileId ? { id: resource.fileId } : {}) };
		const hashes: Hashes = {};
		if (this.vendor !== 'other' && resource.hashes.sha1) hashes.sha1 = resource.hashes.sha1;
		return { path, isDir: false, size: resource.size, modTime: resource.modTime, hashes, ...(resource.fileId ? { id: resource.fileId } : {}) };
	}


	// -----------------------------------------------------------------------------------------
	// Listing and metadata

	/** Listed in walk order (lib/core/walkOrder.ts), so the engine merges it as it comes, without sorting or spilling it. */
	readonly listOrder = 'walk' as const;

	async *list(path: string, options: ListOptions = {}): AsyncIterable<Entry> {
		const relative = normalizeRelativePath(path);
		// The first folder must be one (a file answers Depth: 1 too); the ones below were listed as folders.
		yield* walkInOrder(relative, (folder) => this.listFolder(folder, options.signal, folder === relative), { recursive: options.recursive, signal: options.signal });
	}

	private async listFolder(relative: string, signal: AbortSignal | undefined, check: boolean): Promise<Entry[]> {
		const url = this.urlOf(relative, true);
		let resources: DavResource[];
		try {
			resources = await this.propfind({ path: relative, signal }, url, '1');
		} catch (error) {
			throw await this.belowAFile(relative, error);
		}
		if (check) {
			const self = this.selfOf(relative, resources);
			// A file answers Depth: 1 with itself alone.
			if (self && !self.isDir) throw new NotFoundError(relative);
		}
		const entries = this.childrenOf(relative, resources);
		this.folders.add(relative);
		for (const entry of entries) if (entry.isDir) this.folders.add(entry.path);
		return entries;
	}

	async stat(path: string): Promise<Entry> {
		const relative = normalizeRelativePath(path);
		const resource = await this.resource(relative);
		if (relative === '') return { path: '', isDir: true, size: 0, modTime: resource.modTime, hashes: {} };
		return this.entryOf(relative, resource);
	}

	/** The resource at `relative`; NotFoundError when there is none. */
	private async resource(relative: string, signal?: AbortSignal): Promise<DavResource> {
		let resources: DavResource[];
		try {
			resources = await this.propfind({ path: relative, signal }, this.urlOf(relative), '0');
		} catch (error) {
			throw await this.belowAFile(relative, error);
		}
		const found = this.selfOf(relative, resources);
		if (!found) throw new NotFoundError(relative);
		return found;
	}

	/**
	 * Apache answers 400 ("extraneous path components") for a path below a file, where other servers
	 * answer 404: such a path names nothing, so the 400 becomes a NotFoundError once a parent is seen
	 * not to be a folder.
	 */
	private async belowAFile(relative: string, error: unknown): Promise<unknown> {
		const status = error instanceof CloudSyncError && error.cause instanceof WebDavResponseError ? error.cause.status : undefined;
		if (status !== 400 || !relative.includes('/')) return error;
		const parent = await this.resourceOrNothing(parentPath(relative));
		return parent?.isDir ? error : new NotFoundError(relative, { cause: error });
	}

	private async resourceOrNothing(relative: string): Promise<DavResource | undefined> {
		try {
			return await this.resource(relative);
		} catch (error) {
			if (error instanceof NotFoundError) return undefined;
			throw error;
		}
	}

	async hash(path: string, types: HashType[]): Promise<Hashes> {
		const relative = normalizeRelativePath(path);
		const wanted = types.filter((type) => this.capabilities.hashTypes.includes(type));
		const entry = await this.stat(relative);
		if (entry.isDir) throw new CloudSyncError(`A folder has no hash: ${relative}`);
		if (wanted.length === 0) return {};
		if (wanted.every((type) => entry.hashes[type])) return Object.fromEntries(wanted.map((type) => [type, entry.hashes[type]]));
		// A file another client stored without a checksum: its bytes are read once.
		return (await hashStream(await this.read(relative), wanted)).hashes;
	}

	nameProblem(name: string): string | undefined {
		if (name.includes('\\') && this.vendor !== 'other') return 'Nextcloud and ownCloud do not allow a backslash in a name';
		if (this.vendor !== 'other' && (name === '.htaccess' || name.endsWith('.part'))) {
			return 'Nextcloud and ownCloud refuse this name (.htaccess and names ending in .part, their upload part files, are reserved)';
		}
		return undefined;
	}

	recovery(): string {
		return this.vendor === 'other'
			? 'this WebDAV server offers no trash through the protocol: deleted and replaced files are gone unless the server itself keeps snapshots or versions'
			: `deleted files are in the ${this.vendor === 'nextcloud' ? 'Nextcloud' : 'ownCloud'} trash bin ("Deleted files") and replaced files in its version history, both restorable from the web interface`;
	}

	async locate(): Promise<RootLocation> {
		const segments = this.rootSegments;
		return { namespace: `webdav:${this.base.origin}`, chain: segments, names: segments, caseInsensitive: false };
	}

	/** Removes uploads that runs which died left staged, except recent ones of other machines (a live run's). */
	async housekeeping(): Promise<string[]> {
		let staged: DavResource[];
		try {
			staged = await this.propfind({ path: STAGING }, this.urlOf(STAGING, true), '1');
		} catch (error) {
			if (error instanceof NotFoundError) return [];
			throw error;
		}
		const names = this.childrenOf(STAGING, staged).filter((entry) => !entry.isDir);
		const now = Date.now();
		let removed = 0;
		for (const entry of names) {
			const mine = baseName(entry.path).startsWith(`${HOST_TAG}-${process.pid.toString(36)}-`);
			if (mine || now - entry.modTime < STALE_STAGED_MS) continue;
			await this.request({ path: entry.path }, 'DELETE', this.urlOf(entry.path), { accept: [404] });
			removed++;
		}
		return removed > 0 ? [`removed ${removed} partly uploaded file(s) that interrupted runs left in ${STAGING}`] : [];
	}

	// -----------------------------------------------------------------------------------------
	// Reading

	async read(path: string, options: ReadOptions = {}): Promise<Readable> {
		const relative = normalizeRelativePath(path);
		const context = { path: relative, signal: options.signal };
		const start = options.start ?? 0;
		const end = options.end;
		if (end !== undefined && end <= start) {
			await this.resource(relative, options.signal);
			return emptyStream();
		}
		const ranged = start > 0 || end !== undefined;
		return this.download(context, relative, start, end, ranged).catch(async (error: unknown) => {
			throw await this.belowAFile(relative, error);
		});
	}

	private download(context: CallContext, relative: string, start: number, end: number | undefined, ranged: boolean): Promise<Readable> {
		const options = { signal: context.signal };
		return this.remote.call(
			context,
			async () => {
				const response = await this.send('GET', this.urlOf(relative), {
					headers: ranged ? { range: `bytes=${start}-${end === undefined ? '' : end - 1}` } : {},
					signal: options.signal,
					accept: [416],
					// A long download is limited by the reader, not by a timer.
					timeout: false,
				});
				if (response.status === 416) {
					nodeBodyOf(response)?.destroy();
					return emptyStream();
				}
				const length = Number(response.headers.get('content-length') ?? Number.NaN);
				let slice: SliceStream | undefined;
				let expected = Number.isFinite(length) ? length : undefined;
				if (ranged && response.status === 200) {
					// The server ignored Range and sends the whole file.
					slice = new SliceStream(start, end ?? Number.POSITIVE_INFINITY);
					expected = expected === undefined ? undefined : Math.max(0, Math.min(end ?? expected, expected) - start);
				}
				const content = nodeBodyOf(response);
				if (!content) return emptyStream();
				const body = bodyStream(content, (cause) => brokeOff(relative, cause), slice);
				// A short download fails at its end instead of passing as the file.
				return measure(body, [], { size: expected });
			},
			options.signal,
		);
	}

	// -----------------------------------------------------------------------------------------
	// Folders

	async mkdir(path: string): Promise<void> {
		const relative = normalizeRelativePath(path);
		await this.ensureFolder(relative);
	}

	/** Makes `relative` and its missing parents; a file in the way is an AlreadyExistsError. */
	private ensureFolder(relative: string): Promise<void> {
		if (this.folders.has(relative)) return Promise.resolve();
		// Writers into one new folder share one MKCOL: Apache answers 403 to the losers of a race to make it.
		let making = this.making.get(relative);
		if (!making) {
			making = this.makeFolder(relative).finally(() => this.making.delete(relative));
			this.making.set(relative, making);
		}
		return making;
	}

	private async makeFolder(relative: string): Promise<void> {
		const context = { path: relative };
		const response = await this.remote.call(context, async (attempt) => {
			// Without a trailing slash: Apache answers 400, not 405, for a slash after a file's name.
			const answer = await this.send('MKCOL', this.urlOf(relative), { accept: [403, 405, 409] });
			// 405: something is there already (perhaps made by an attempt whose answer was lost); 409: a parent is missing.
			return { status: answer.status, attempt };
		});
		if (response.status === 409) {
			if (relative.includes('/')) {
				await this.ensureFolder(parentPath(relative));
				return this.makeFolder(relative);
			}
			throw new NotFoundError(relative);
		}
		if (response.status === 405 || response.status === 403) {
			// Another client may have made it in the meantime (Apache then says 403): only a folder there will do.
			const existing = await this.resourceOrNothing(relative);
			if (!existing?.isDir) {
				if (response.status === 403) throw mapWebDavError(new WebDavResponseError(403, 'Forbidden', NO_HEADERS), context);
				throw new AlreadyExistsError(relative);
			}
		}
		this.folders.add(relative);
	}

	private forget(relative: string): void {
		for (const folder of [...this.folders]) if (folder !== '' && insideOrSame(folder, relative)) this.folders.delete(folder);
	}

	async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
		const relative = writablePath(path, 'delete');
		const resources = await this.propfind({ path: relative }, this.urlOf(relative), options.recursive ? '0' : '1').catch(async (error: unknown) => {
			throw await this.belowAFile(relative, error);
		});
		const self = this.selfOf(relative, resources);
		if (!self) throw new NotFoundError(relative);
		// DELETE on a collection removes everything in it (RFC 4918 9.6.1): emptiness is checked first.
		if (self.isDir && !options.recursive && resources.length > 1) throw new NotEmptyError(relative);
		await this.remote.call({ path: relative }, (attempt) => this.send('DELETE', this.urlOf(relative, self.isDir), { accept: attempt > 0 ? [404] : [] }));
		this.forget(relative);
	}

	// -----------------------------------------------------------------------------------------
	// Moves and copies

	async move(from: string, to: string): Promise<Entry> {
		const source = writablePath(from, 'move');
		const target = writablePath(to, 'move onto');
		const resource = await this.resource(source);
		if (source === target) return this.entryOf(source, resource);
		if (resource.isDir && insideOrSame(target, source)) throw new InvalidPathError(to, `cannot move the folder ${source} into itself`);
		await this.transfer('MOVE', source, target, resource.isDir);
		this.forget(source);
		return this.stat(target);
	}

	async copy(from: string, to: string): Promise<Entry> {
		const source = writablePath(from, 'copy');
		const target = writablePath(to, 'copy onto');
		const resource = await this.resource(source);
		if (resource.isDir) throw new CloudSyncError(`Copying folders is not supported: ${source}`);
		if (source === target) return this.entryOf(source, resource);
		await this.transfer('COPY', source, target, false);
		let copied = await this.stat(target);
		// A copy gets the time of the copy on most servers: the source's is set where the server allows.
		if (this.capabilities.canSetModTime && Math.floor(copied.modTime / 1000) !== Math.floor(resource.modTime / 1000)) {
			await this.setModTime(target, resource.modTime);
			copied = await this.stat(target);
		}
		return copied;
	}

	/**
	 * MOVE or COPY with Overwrite: F first, so that nothing is replaced unseen. A file in the way is
	 * then replaced (as a rename on a disk does); a folder in the way is an AlreadyExistsError, never
	 * overwritten (Overwrite: T would delete it with everything in it). A missing parent is made.
	 */
	private async transfer(method: 'MOVE' | 'COPY', source: string, target: string, isDir: boolean, headers: Record<string, string> = {}, from = this.urlOf(source, isDir)): Promise<void> {
		const context = { path: source, to: target };
		const attemptWith = (overwrite: 'F' | 'T') =>
			this.remote.call(context, async (attempt) => {
				const response = await this.send(method, from, {
					headers: { destination: this.urlOf(target, isDir), overwrite, ...headers },
					accept: [409, 412, ...(attempt > 0 && method === 'MOVE' ? [404] : [])],
				});
				if (response.status === 404) {
					// An earlier attempt moved it, and its answer was lost: the target must be there now.
					if (await this.resourceOrNothing(target)) return 201;
					throw new NotFoundError(source);
				}
				return response.status;
			});
		// Apache answers 500, not 409, for a destination whose folder is missing: the folder is made first.
		if (!this.folders.has(parentPath(target))) await this.ensureFolder(parentPath(target));
		let status = await attemptWith('F');
		if (status === 409) {
			await this.ensureFolder(parentPath(target));
			status = await attemptWith('F');
		}
		if (status === 412) {
			const existing = await this.resource(target).catch(() => undefined);
			if (isDir || existing?.isDir) throw new AlreadyExistsError(target);
			status = await attemptWith('T');
		}
		if (status === 409 || status === 412) throw mapWebDavError(new WebDavResponseError(status, '', NO_HEADERS), context);
	}

	// -----------------------------------------------------------------------------------------
	// Writing

	async write(path: string, content: Readable, options: WriteOptions = {}): Promise<Entry> {
		const relative = writablePath(path, 'write over');
		const context = { path: relative, signal: options.signal };
		const oc = this.vendor !== 'other';
		const uploads = oc ? this.uploadsUrl() : undefined;
		// Only chunked uploads have something to resume; before `content` is touched, since a resumed one reads the source from where the chunks end.
		const identity = uploads ? this.sessions.identityOf(relative, options, this.chunkSize) : undefined;
		const resumed = await this.resume(identity, context, options);
		if (resumed) return resumed;
		const types = new Set<HashType>([...(oc ? (['sha1'] as HashType[]) : []), ...(options.hashTypes ?? [])]);
		const fits = options.size !== undefined && options.size <= this.bufferedLimit;
		// A file announced to fit in memory is read straight from `content` and hashed in one piece: a
		// MeasuringStream between them cost every small file a second stream, alive for its whole
		// transfer, among the objects that outlived V8's young collections.
		const measured = fits ? undefined : measure(content, types, { size: options.size });
		// A large file whose source fills buffers (a local file) goes up through a few buffers of its own.
		const fill = measured && !oc && options.size !== undefined ? await fillOf(measured) : undefined;
		if (fill) {
			try {
				const body = new PooledBody(fill);
				// The first piece is read before anything is sent, so a source that fails early leaves no trace.
				await body.readFirst();
				return await this.writeStaged(context, measured!, (staged, url, headers) => this.putPooled(staged, url, body, headers, options.size!));
			} finally {
				measured!.destroy();
			}
		}
		const reader = new ChunkReader(measured ?? content);
		try {
			// The first piece is read before anything is sent, so a source that fails early leaves no trace.
			const first = await reader.read(this.bufferedLimit);
			const whole = await reader.atEnd();
			const read = measured ?? measuredWhole(first, whole, types, options.size!);
			if (oc) return await this.writeNextcloud(context, reader, first, whole, read, options);
			return await this.writeStaged(context, read, (staged, url, headers) => this.put(staged, url, reader, first, whole, read, headers, options.size));
		} finally {
			reader.close();
			measured?.destroy();
		}
	}

	/**
	 * Generic servers: the bytes go to a staging name, then MOVE puts them in place, so that readers
	 * see the old file or the whole new one, and a broken upload leaves the file as it was.
	 */
	private async writeStaged(context: CallContext, measured: Measured, upload: (staged: CallContext, url: string, headers: Record<string, string>) => Promise<Response>): Promise<Entry> {
		const relative = context.path;
		const existing = this.folders.has(relative) ? await this.resourceOrNothing(relative) : undefined;
		if (existing?.isDir) throw new AlreadyExistsError(relative);
		await this.ensureFolder(STAGING);
		const staging = joinPath(STAGING, `${HOST_TAG}-${process.pid.toString(36)}-${randomBytes(6).toString('hex')}`);
		const headers = { 'content-type': mimeTypeFor(baseName(relative)) };
		try {
			await upload({ ...context, path: staging }, this.urlOf(staging), headers);
			await this.transfer('MOVE', staging, relative, false, {}, this.urlOf(staging));
		} catch (error) {
			// Retried as any call is: a cleanup lost to one dropped connection left the staged file behind.
			await this.request({ ...context, path: staging }, 'DELETE', this.urlOf(staging), { accept: [404] }).catch(() => undefined);
			if (error instanceof AlreadyExistsError) throw new AlreadyExistsError(relative, { cause: error });
			throw error instanceof NotFoundError && error.path === staging ? new TransientError(`The staged upload of ${relative} vanished before it was moved into place`) : error;
		}
		return this.written(relative, await this.resource(relative), measured);
	}

	/**
	 * One PUT: from memory when the file fits (retried on its own), else streamed once (a failure is
	 * retried by the engine, which reads the source again).
	 */
	private async put(
		context: CallContext,
		url: string,
		reader: ChunkReader,
		first: Buffer,
		whole: boolean,
		measured: Measured,
		headers: Record<string, string>,
		size?: number,
	): Promise<Response> {
		if (whole) {
			if (measured.errored) throw measured.errored;
			return this.request(context, 'PUT', url, { body: first, headers: { ...headers, 'content-length': String(first.length) } });
		}
		// A byte stream with a small buffer: in object mode it would hold 16 pieces before the socket takes them.
		const body = Readable.from(this.rest(first, reader), { objectMode: false, highWaterMark: STREAM_PIECE });
		try {
			// A known length is announced (servers behind PHP handle chunked bodies badly).
			const length: Record<string, string> = size === undefined ? {} : { 'content-length': String(size) };
			return await this.send('PUT', url, { body, headers: { ...headers, ...length }, signal: context.signal });
		} catch (error) {
			throw mapWebDavError(measured.errored ?? error, context, (text) => this.remote.redact(text));
		}
	}

	/** A streamed PUT of `size` bytes from a source that fills `body`'s buffers; a failure is retried by the engine, which reads the source again. */
	private async putPooled(context: CallContext, url: string, body: PooledBody, headers: Record<string, string>, size: number): Promise<Response> {
		try {
			return await this.send('PUT', url, { body, headers: { ...headers, 'content-length': String(size) }, signal: context.signal });
		} catch (error) {
			throw mapWebDavError(error, context, (text) => this.remote.redact(text));
		}
	}

	/** The source's own chunks, not joined into pieces: joining copied every byte of a streamed upload once more. */
	private async *rest(first: Buffer, reader: ChunkReader): AsyncIterable<Buffer> {
		yield first;
		for (;;) {
			const chunk = await reader.readSome(STREAM_PIECE);
			if (chunk.length === 0) return;
			yield chunk;
		}
	}

	/**
	 * Nextcloud and ownCloud: a file that fits in memory is one PUT carrying its time (X-OC-Mtime) and
	 * its SHA-1 (OC-Checksum, which Nextcloud stores and lists); a larger one goes through chunked
	 * upload v2, whose final MOVE carries both. The server writes a part file and renames it.
	 */
	private async writeNextcloud(context: CallContext, reader: ChunkReader, first: Buffer, whole: boolean, measured: Measured, options: WriteOptions): Promise<Entry> {
		const relative = context.path;
		const time = options.modTime ?? Date.now();
		if (!this.folders.has(parentPath(relative))) await this.ensureFolder(parentPath(relative));
		let response: Response;
		if (whole) {
			if (measured.errored) throw measured.errored;
			const sha1 = measured.hashes.sha1!;
			const headers = { 'content-type': mimeTypeFor(baseName(relative)), 'x-oc-mtime': seconds(time), 'oc-checksum': `SHA1:${sha1}`, 'oc-total-length': String(first.length) };
			try {
				response = await this.request(context, 'PUT', this.urlOf(relative), { body: first, headers: { ...headers, 'content-length': String(first.length) } });
			} catch (error) {
				throw await this.folderInTheWay(relative, error);
			}
		} else {
			const uploads = this.uploadsUrl();
			if (!uploads) {
				// The legacy /remote.php/webdav address cannot chunk: the file is streamed in one PUT.
				const headers = { 'content-type': mimeTypeFor(baseName(relative)), 'x-oc-mtime': seconds(time) };
				try {
					response = await this.put(context, this.urlOf(relative), reader, first, false, measured, headers, options.size);
				} catch (error) {
					throw await this.folderInTheWay(relative, error);
				}
			} else {
				const existing = await this.resourceOrNothing(relative);
				if (existing?.isDir) throw new AlreadyExistsError(relative);
				response = await this.chunkedUpload(context, uploads, reader, first, measured, time, options.size, this.sessions.identityOf(relative, options, this.chunkSize));
			}
		}
		// Some servers (public shares, proxies that drop the header) ignore X-OC-Mtime: the time is then set by PROPPATCH [code] rclone webdav.go:1440.
		if (!/accepted/i.test(response.headers.get('x-oc-mtime') ?? '')) await this.setModTime(relative, time);
		return this.written(relative, await this.resource(relative), measured);
	}

	/** A PUT onto a folder is refused (409 or 405): that is a folder in the way, not a failure of the server. */
	private async folderInTheWay(relative: string, error: unknown): Promise<unknown> {
		const status = error instanceof CloudSyncError && error.cause instanceof WebDavResponseError ? error.cause.status : undefined;
		if (status !== 405 && status !== 409) return error;
		const existing = await this.resourceOrNothing(relative);
		return existing?.isDir ? new AlreadyExistsError(relative) : error;
	}

	/** Where Nextcloud takes chunks: /remote.php/dav/uploads/<user>, beside /remote.php/dav/files/<user>. */
	private uploadsUrl(): string | undefined {
		const match = /^(.*\/remote\.php\/dav\/)files\/([^/]+)\/$/.exec(this.base.pathname);
		if (!match) return undefined;
		return `${this.base.origin}${match[1]}uploads/${match[2]}/`;
	}

	/**
	 * Chunked upload v2 [doc] Nextcloud "Chunked file upload": MKCOL a folder under uploads/, PUT the
	 * chunks 1..n into it (each with the Destination header), MOVE its .file onto the target. Each
	 * chunk is held in memory, so it can be sent again on its own. A failure deletes the folder, unless
	 * the upload is kept for a later run (`identity`), which goes on from the chunks the folder holds.
	 */
	private async chunkedUpload(
		context: CallContext,
		uploads: string,
		reader: ChunkReader,
		first: Buffer,
		measured: Measured,
		time: number,
		size: number | undefined,
		identity: UploadIdentity | undefined,
	): Promise<Response> {
		const destination = this.urlOf(context.path);
		const folder = `${uploads}cloudsync-${randomBytes(12).toString('hex')}/`;
		// The total, when known in advance, lets the server refuse a file it has no room for before the first chunk.
		const total: Record<string, string> = size === undefined ? {} : { 'oc-total-length': String(size) };
		await this.request(context, 'MKCOL', folder, { headers: { destination, ...total } });
		// The upload folder, and the chunk size a resumed upload must cut the rest at.
		await this.sessions.begin(identity, JSON.stringify({ upload: folder, pieceBytes: this.chunkSize } satisfies PiecedSession), 0, Date.now() + CHUNKED_KEPT_MS);
		try {
			const sent = await this.putChunks(context, folder, reader, first, 1, 0, size, identity);
			if (measured.errored) throw measured.errored;
			const headers = { destination, overwrite: 'T', 'x-oc-mtime': seconds(time), 'oc-checksum': `SHA1:${measured.hashes.sha1}`, 'oc-total-length': String(sent) };
			const response = await this.assemble(context, `${folder}.file`, headers, sent, measured.hashes.sha1);
			this.sessions.end(identity);
			return response;
		} catch (error) {
			if (!identity) await this.send('DELETE', folder, { accept: [404] }).catch(() => undefined);
			throw error;
		}
	}

	/**
	 * PUTs chunks `index`, `index` + 1… of the chunk size into `folder` from `reader` (`first` already
	 * read, when given), `sent` bytes being there before; tells the store each one, and returns the bytes there.
	 */
	private async putChunks(context: CallContext, folder: string, reader: ChunkReader, first: Buffer | undefined, index: number, sent: number, size: number | undefined, identity: UploadIdentity | undefined): Promise<number> {
		const destination = this.urlOf(context.path);
		const total: Record<string, string> = size === undefined ? {} : { 'oc-total-length': String(size) };
		// Every chunk is read into this one buffer, once the PUT of the one before was answered (retries included): a new
		// buffer per chunk left 10-20 MiB of garbage per chunk that V8 frees late (a 1 GiB upload peaked at 189 MiB).
		const lent = Buffer.allocUnsafeSlow(this.chunkSize);
		let chunk = first ?? (await reader.read(this.chunkSize, lent));
		while (chunk.length > 0) {
			let body = chunk;
			// The first piece was read before the upload began, in the buffered size: the first chunk is completed from it.
			if (chunk.length < this.chunkSize && !(await reader.atEnd())) body = Buffer.concat([chunk, await reader.read(this.chunkSize - chunk.length)]);
			if (index > MAX_CHUNKS) throw new CloudSyncError(`${context.path} needs more than ${MAX_CHUNKS} chunks`, { hint: 'Raise the chunk size.' });
			await this.request(context, 'PUT', `${folder}${index}`, { body, headers: { destination, 'content-length': String(body.length), ...total } });
			sent += body.length;
			index++;
			this.sessions.advance(identity, sent);
			chunk = (await reader.atEnd()) ? Buffer.alloc(0) : await reader.read(this.chunkSize, lent);
		}
		return sent;
	}

	keepUploads(store: UploadSessionStore): void {
		this.sessions.keep(store);
	}

	/** A saved session, when its folder lies in this server's uploads/: the saved state is never trusted to send the credentials elsewhere. */
	private chunkedSessionOf(text: string): PiecedSession | undefined {
		const session = piecedSession(text);
		const uploads = this.uploadsUrl();
		return session && uploads && session.upload.startsWith(uploads) && !session.upload.slice(uploads.length).includes('..') ? session : undefined;
	}

	/**
	 * Goes on with the chunked upload an earlier run saved for this very source: the upload folder's
	 * listing (PROPFIND) tells which chunks Nextcloud holds; chunks 1, 2, 3… with none missing, each of
	 * the saved chunk size, count, and the rest is sent. One saved for another version is deleted.
	 */
	private async resume(identity: UploadIdentity | undefined, context: CallContext, options: WriteOptions): Promise<Entry | undefined> {
		let session: PiecedSession | undefined;
		let held = 0;
		const time = options.modTime ?? Date.now();
		const response = await this.sessions.resume(identity, options, {
			cancel: async (stale) => {
				const folder = this.chunkedSessionOf(stale.session)?.upload;
				if (folder) await this.send('DELETE', folder, { accept: [404] });
			},
			confirmed: async (saved) => {
				session = this.chunkedSessionOf(saved.session);
				if (!session) return undefined;
				const sizes = new Map((await this.propfind(context, session.upload, '1')).filter((each) => !each.isDir).map((each) => [each.segments.at(-1), each.size]));
				for (let offset = 0; offset < saved.size && sizes.get(String(held + 1)) === Math.min(session.pieceBytes, saved.size - offset); offset += session.pieceBytes) held++;
				return Math.min(saved.size, held * session.pieceBytes);
			},
			send: async (saved, reader, offset) => {
				const sent = await this.putChunks(context, session!.upload, reader, undefined, held + 1, offset, saved.size, identity);
				// Only the rest was read here: the whole file's SHA-1 goes along when the source listed it.
				const sha1 = options.sourceHashes?.sha1;
				const headers = { destination: this.urlOf(context.path), overwrite: 'T', 'x-oc-mtime': seconds(time), 'oc-total-length': String(sent), ...(sha1 ? { 'oc-checksum': `SHA1:${sha1}` } : {}) };
				return this.assemble(context, `${session!.upload}.file`, headers, sent, sha1);
			},
			gone: (error) => error instanceof NotFoundError,
		});
		if (!response) return undefined;
		if (!/accepted/i.test(response.headers.get('x-oc-mtime') ?? '')) await this.setModTime(context.path, time);
		// The caller compares the stored SHA-1 with the source's: this side saw only the rest.
		return this.written(context.path, await this.resource(context.path), { bytes: identity!.size, hashes: {} });
	}

	/**
	 * The final MOVE. Nextcloud may answer 423 Locked while it merges, and a retried MOVE may find
	 * the chunks gone (404) because the first one did its work: both end when the target holds the
	 * bytes sent [code] rclone chunking.go:24-45.
	 */
	private async assemble(context: CallContext, from: string, headers: Record<string, string>, size: number, sha1: string | undefined): Promise<Response> {
		const landed = async () => {
			const stored = await this.resourceOrNothing(context.path);
			return stored && !stored.isDir && stored.size === size && (!stored.hashes.sha1 || !sha1 || sameHash('sha1', stored.hashes.sha1, sha1));
		};
		return this.remote.call(context, async () => {
			try {
				return await this.send('MOVE', from, { headers, accept: [] });
			} catch (error) {
				const status = error instanceof WebDavResponseError ? error.status : undefined;
				if ((status === 404 || status === 423) && (await landed())) return answerOf(201, {}, null);
				if (status === 409) {
					await this.ensureFolder(parentPath(context.path));
					throw new TransientError(`The folder of ${context.path} was made; the upload is put in place again`);
				}
				throw error;
			}
		});
	}

	/** Sets a modification time through PROPPATCH of DAV:lastmodified, as Nextcloud takes it. */
	private async setModTime(relative: string, time: number): Promise<void> {
		const body = `<?xml version="1.0" encoding="utf-8"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:lastmodified>${seconds(time)}</d:lastmodified></d:prop></d:set></d:propertyupdate>`;
		await this.request({ path: relative }, 'PROPPATCH', this.urlOf(relative), { body, headers: { 'content-type': 'application/xml; charset=utf-8' } });
	}

	/** The entry of a stored file, once its size (and SHA-1, where listed) are those of the bytes that were read. */
	private written(relative: string, stored: DavResource, measured: Pick<Measured, 'bytes' | 'hashes'>): Entry {
		if (stored.isDir) throw new AlreadyExistsError(relative);
		const listed = stored.hashes.sha1;
		const sent = measured.hashes.sha1;
		if (stored.size !== measured.bytes || (listed && sent && !sameHash('sha1', listed, sent))) {
			throw new VerificationError(`The WebDAV server stored ${relative} with ${stored.size} bytes${listed ? ` and SHA-1 ${listed}` : ''}, but ${measured.bytes} bytes were sent`);
		}
		const entry = this.entryOf(relative, stored);
		return { ...entry, size: measured.bytes, hashes: { ...entry.hashes, ...measured.hashes } };
	}
}

