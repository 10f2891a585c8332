/**
 * WebDAV's own cases against the emulator: Nextcloud's extensions (X-OC-Mtime and its answer,
 * OC-Checksum listed back as oc:checksums, chunked upload v2, 423 while merging, the trash bin),
 * the generic server's staged uploads, hostile hrefs, and the typed errors a user meets.
 */
import { createHash } from 'node:crypto';
import type { Provider } from '../lib/core/types';
import { AlreadyExistsError, AuthenticationError, RateLimitError, StorageFullError, TransientError, VerificationError } from '../lib/core/errors';
import { Pacer } from '../lib/core/pacer';
import { LocalProvider, sync } from '../lib';
import { Parser } from 'htmlparser2';
import { WebDavProvider, parseMultistatus, parseXml, type WebDavProviderOptions } from '../lib/providers/webdav';
import { WebDavEmulator, type WebDavEmulatorOptions } from './emulators/webdav';
import { bufferStream, collect, fingerprint, pseudoRandomBytes, readAll } from './conformance/suite';
import { renderings } from './support/drive';
import { emulatedWebDav } from './support/webdav';
import { removeTempDirs, tempDir, writeTree } from './support/trees';
import { fetchGlobalsTouched } from './support/fetchTrap';

const MiB = 1024 * 1024;
let emulator: WebDavEmulator;

async function restart(options: WebDavEmulatorOptions = {}): Promise<void> {
	await emulator?.stop();
	emulator = await WebDavEmulator.start(options);
}

beforeEach(() => restart({ flavour: 'nextcloud' }));
afterEach(() => emulator.stop());
afterAll(() => removeTempDirs());

const provider = (options: Partial<WebDavProviderOptions> = {}) => emulatedWebDav(emulator, options);
const text = async (dav: Provider, path: string) => (await readAll(await dav.read(path))).toString();
const put = (dav: Provider, path: string, data: Buffer | string, modTime?: number) => {
	const bytes = typeof data === 'string' ? Buffer.from(data) : data;
	return dav.write(path, bufferStream(bytes), { size: bytes.length, modTime });
};
/** Requests from now on: "METHOD /path" for each. */
function recorder(): () => string[] {
	const start = emulator.server.log.length;
	return () => emulator.server.log.slice(start).map((entry) => `${entry.method} ${entry.path}`);
}
const header = (route: RegExp, name: string) => emulator.requests(route).map((entry) => emulator.headersOf(entry)?.[name]);
const recordingPacer = (waits: number[], retriesPerRequest = 5) => new Pacer({ baseDelayMs: 1, maxDelayMs: 5, retriesPerRequest, sleep: async (ms) => void waits.push(ms) });

describe('a source of another length than announced', () => {
	it.each(['nextcloud', 'other'] as const)('is refused on %s before anything is stored, whether longer or shorter', async (vendor) => {
		const dav = await provider({ vendor });
		await put(dav, 'length/kept.txt', 'old content');
		await expect(dav.write('length/kept.txt', bufferStream('longer than said'), { size: 5 })).rejects.toBeInstanceOf(VerificationError);
		await expect(dav.write('length/kept.txt', bufferStream('short'), { size: 500 })).rejects.toBeInstanceOf(VerificationError);
		await expect(dav.write('length/new.txt', bufferStream('longer than said'), { size: 5 })).rejects.toBeInstanceOf(VerificationError);
		expect(await text(dav, 'length/kept.txt')).toBe('old content');
		await expect(dav.stat('length/new.txt')).rejects.toThrow();
	});
});

describe('Nextcloud', () => {
	it('sends the modification time as X-OC-Mtime and the SHA-1 as OC-Checksum; both come back in the listing', async () => {
		const dav = await provider();
		const modTime = Date.UTC(2024, 1, 29, 10, 20, 30);
		const written = await put(dav, 'docs/a.txt', 'alpha', modTime);
		expect(header(/^PUT .*a\.txt$/, 'x-oc-mtime')).toEqual([String(modTime / 1000)]);
		expect(header(/^PUT .*a\.txt$/, 'oc-checksum')).toEqual(['SHA1:be76331b95dfc399cd776d2fc68021e0db03cc4f']);
		expect(written).toMatchObject({ path: 'docs/a.txt', size: 5, modTime, hashes: { sha1: 'be76331b95dfc399cd776d2fc68021e0db03cc4f' } });
		const [listed] = (await collect(dav.list('', { recursive: true }))).filter((entry) => !entry.isDir);
		expect(listed).toMatchObject({ path: 'docs/a.txt', modTime, hashes: { sha1: 'be76331b95dfc399cd776d2fc68021e0db03cc4f' } });
		// The server's answer said "accepted": no PROPPATCH was needed.
		expect(emulator.requests(/^PROPPATCH/)).toHaveLength(0);
	});

	it('sets the time by PROPPATCH when the server does not answer X-OC-MTime: accepted', async () => {
		await restart({ flavour: 'nextcloud', ignoreMtimeHeader: true });
		const dav = await provider();
		const modTime = Date.UTC(2020, 0, 1, 0, 0, 0);
		expect((await put(dav, 'a.txt', 'alpha', modTime)).modTime).toBe(modTime);
		expect(emulator.requests(/^PROPPATCH .*a\.txt$/)).toHaveLength(1);
		expect(emulator.find('a.txt')?.modifiedTime).toBe(modTime);
	});

	it('a file another client stored without a checksum is hashed from its bytes', async () => {
		emulator.seedFile('plain.txt', 'no checksum here');
		const dav = await provider();
		const [listed] = await collect(dav.list(''));
		expect(listed.hashes).toEqual({});
		expect(await dav.hash('plain.txt', ['sha1'])).toEqual({ sha1: createHash('sha1').update('no checksum here').digest('hex') });
		expect(emulator.requests(/^GET .*plain\.txt$/)).toHaveLength(1);
	});

	it('uploads a large file with chunked upload v2: Destination on every request, chunks 1..n, one MOVE of .file with time and checksum', async () => {
		const dav = await provider({ chunkSize: 5 * 1000 * 1000 });
		const data = pseudoRandomBytes(12 * MiB + 5, 'chunked');
		const requests = recorder();
		const modTime = Date.UTC(2023, 5, 1, 8, 0, 0);
		const written = await put(dav, 'big/video.bin', data, modTime);
		expect(written).toMatchObject({ size: data.length, modTime });
		const upload = requests().filter((line) => line.includes('/uploads/'));
		expect(upload.map((line) => line.replace(/cloudsync-[0-9a-f]+/, 'ID'))).toEqual([
			'MKCOL /remote.php/dav/uploads/ada/ID/',
			'PUT /remote.php/dav/uploads/ada/ID/1',
			'PUT /remote.php/dav/uploads/ada/ID/2',
			'PUT /remote.php/dav/uploads/ada/ID/3',
			'MOVE /remote.php/dav/uploads/ada/ID/.file',
		]);
		const destinations = emulator.requests(/\/uploads\//).map((entry) => emulator.headersOf(entry)?.destination);
		expect(new Set(destinations)).toEqual(new Set([`${emulator.url}/big/video.bin`]));
		expect(header(/^MOVE .*\.file$/, 'x-oc-mtime')).toEqual([String(modTime / 1000)]);
		expect(header(/^MOVE .*\.file$/, 'oc-checksum')[0]).toMatch(/^SHA1:[0-9a-f]{40}$/);
		expect(fingerprint(emulator.content('big/video.bin')!)).toEqual(fingerprint(data));
		expect(emulator.openUploads).toBe(0);
	});

	it('a large local file goes up in chunks read into one reused buffer: chunks refused or cut off and sent again still assemble the exact bytes', async () => {
		const folder = await tempDir('nextcloud-large');
		const data = pseudoRandomBytes(31 * MiB + 7, 'nextcloud-large');
		await writeTree(folder, { 'big.bin': data });
		const dav = await provider({ chunkSize: 5 * 1000 * 1000, pacer: new Pacer({ baseDelayMs: 1, maxDelayMs: 5, retriesPerRequest: 20 }) });
		emulator.server.inject({ route: /^PUT \/remote\.php\/dav\/uploads\//, kind: 'server-error', probability: 0.3 });
		emulator.server.inject({ route: /^PUT \/remote\.php\/dav\/uploads\//, kind: 'drop-after-commit', probability: 0.2 });
		const report = await sync(await LocalProvider.open(folder), dav, { mode: 'copy', pacer: new Pacer({ baseDelayMs: 1, maxDelayMs: 5 }) });
		expect(report.errors.map((error) => error.message)).toEqual([]);
		expect(report).toMatchObject({ status: 'success', added: 1 });
		expect(fingerprint(emulator.content('big.bin')!)).toEqual(fingerprint(data));
		expect(emulator.server.log.filter((entry) => entry.method === 'PUT' && entry.fault !== undefined).length).toBeGreaterThan(0);
	});

	it('a MOVE answered 423 while Nextcloud merges ends when the file is there with the bytes sent', async () => {
		await restart({ flavour: 'nextcloud', lockedWhileMerging: 2 });
		const dav = await provider({ chunkSize: 5 * 1000 * 1000 });
		const data = pseudoRandomBytes(6 * MiB, 'merge');
		expect(await put(dav, 'merged.bin', data)).toMatchObject({ size: data.length });
		expect(emulator.requests(/^MOVE .*\.file$/).map((entry) => entry.status)).toEqual([423]);
		expect(fingerprint(emulator.content('merged.bin')!)).toEqual(fingerprint(data));
	});

	it('a chunked upload whose source breaks deletes its upload folder and leaves the old file', async () => {
		emulator.seedFile('keep.bin', 'old');
		const dav = await provider({ chunkSize: 5 * 1000 * 1000 });
		const data = pseudoRandomBytes(11 * MiB, 'broken');
		await expect(dav.write('keep.bin', bufferStream(data), { size: data.length + 1 })).rejects.toThrow(/ended after|expected/);
		expect(emulator.content('keep.bin')?.toString()).toBe('old');
		expect(emulator.openUploads).toBe(0);
	});

	it('deleted files go to the trash bin, and the report says where to restore them from', async () => {
		const dav = await provider();
		await put(dav, 'old/report.pdf', 'pdf');
		await dav.delete('old', { recursive: true });
		expect(emulator.paths()).toEqual([]);
		expect(emulator.trash).toEqual([expect.objectContaining({ originalLocation: 'old', folder: true })]);
		expect(dav.recovery()).toMatch(/Nextcloud trash bin/);
		const listing = await fetch(`${emulator.baseUrl}/remote.php/dav/trashbin/ada/trash/`, {
			method: 'PROPFIND',
			headers: { authorization: `Basic ${Buffer.from(`ada:${emulator.password}`).toString('base64')}`, depth: '1' },
		});
		expect(await listing.text()).toContain('<nc:trashbin-original-location>old</nc:trashbin-original-location>');
	});

	it('a full account is a StorageFullError that says to free space; nothing is half written', async () => {
		const dav = await provider();
		await put(dav, 'a.txt', 'alpha');
		emulator.quotaBytes = 10;
		const error = await put(dav, 'b.txt', 'more than ten bytes').catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(StorageFullError);
		expect((error as StorageFullError).hint).toMatch(/Free space/);
		expect(emulator.paths()).toEqual(['a.txt']);
	});

	it('a file locked by another client (423) is retried, then reported as locked', async () => {
		const waits: number[] = [];
		const dav = await provider({ pacer: recordingPacer(waits, 2) });
		await put(dav, 'busy.docx', 'v1');
		emulator.lock('busy.docx');
		const error = await put(dav, 'busy.docx', 'v2').catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(TransientError);
		expect(String((error as Error).message)).toMatch(/busy\.docx is locked on the WebDAV server by another client \(HTTP 423/);
		// Each retry waited about the second that a lock is given to clear (a pause is counted from when it was set).
		expect(waits.length).toBeGreaterThanOrEqual(2);
		expect(Math.min(...waits)).toBeGreaterThan(900);
		emulator.unlock('busy.docx');
		await put(dav, 'busy.docx', 'v2');
		expect(emulator.content('busy.docx')?.toString()).toBe('v2');
	});
});

/** A provider rooted in the generic server's /webdav/Root. */
const generic = (options: Partial<WebDavProviderOptions> = {}) => provider({ root: '/Root', ...options });

describe('generic servers', () => {
	beforeEach(async () => {
		await restart({ flavour: 'generic' });
		emulator.seedFolder('Root');
	});

	it('stages an upload in .cloudsync/tmp and moves it into place without overwriting unseen; keeps no time and lists no hash', async () => {
		const dav = await generic();
		expect(dav.capabilities).toMatchObject({ canSetModTime: false, hashTypes: [], listedHashTypes: [] });
		const requests = recorder();
		await put(dav, 'a/b.txt', 'bravo', Date.UTC(2001, 0, 1));
		const lines = requests().map((line) => line.replace(/[a-z0-9]+-[a-z0-9]+-[0-9a-f]{12}/, 'STAGED'));
		expect(lines).toEqual([
			'MKCOL /webdav/Root/.cloudsync/tmp',
			'MKCOL /webdav/Root/.cloudsync',
			'MKCOL /webdav/Root/.cloudsync/tmp',
			'PUT /webdav/Root/.cloudsync/tmp/STAGED',
			// The destination's folder is made before the MOVE: Apache answers 500, not 409, when it is missing.
			'MKCOL /webdav/Root/a',
			'MOVE /webdav/Root/.cloudsync/tmp/STAGED',
			'PROPFIND /webdav/Root/a/b.txt',
		]);
		expect(header(/^MOVE/, 'overwrite')).toEqual(['F']);
		expect(header(/^(PUT|MOVE)/, 'x-oc-mtime')).toEqual([undefined, undefined]);
		// Replacing goes through Overwrite: F, then T once the target is seen to be a file.
		await put(dav, 'a/b.txt', 'bravo 2');
		expect(header(/^MOVE/, 'overwrite').slice(1)).toEqual(['F', 'T']);
		expect(await text(dav, 'a/b.txt')).toBe('bravo 2');
		// The engine's folder is left out of listings; nothing staged remains.
		expect((await collect(dav.list('', { recursive: true }))).map((entry) => entry.path)).toEqual(['a', 'a/b.txt']);
		expect(emulator.paths('Root/.cloudsync/tmp')).toEqual([]);
	});

	it('a large local file is sent whole through reused buffers; one that grew since it was listed is refused and the old file stays', async () => {
		const folder = await tempDir('dav-large');
		const data = pseudoRandomBytes(3 * MiB + 5, 'dav-large');
		await writeTree(folder, { 'big.bin': data });
		const local = await LocalProvider.open(folder);
		const dav = await generic({ bufferedLimit: MiB });
		const report = await sync(local, dav, { mode: 'copy' });
		expect(report).toMatchObject({ status: 'success', added: 1 });
		expect(fingerprint(await readAll(await dav.read('big.bin')))).toEqual(fingerprint(data));
		const listed = await local.stat('big.bin');
		const content = await local.read('big.bin');
		await writeTree(folder, { 'big.bin': Buffer.concat([data, Buffer.from('more')]) });
		await expect(dav.write('big.bin', content, { size: listed.size })).rejects.toBeInstanceOf(VerificationError);
		expect(fingerprint(await readAll(await dav.read('big.bin')))).toEqual(fingerprint(data));
		expect(emulator.paths('Root/.cloudsync/tmp')).toEqual([]);
	});

	it('housekeeping removes staged uploads that runs which died left, an hour old or more', async () => {
		const dav = await generic();
		emulator.seedFile('Root/.cloudsync/tmp/otherhost-1a-aaaaaaaaaaaa', 'stale', { modTime: Date.now() - 2 * 3600_000 });
		emulator.seedFile('Root/.cloudsync/tmp/otherhost-1b-bbbbbbbbbbbb', 'live run elsewhere');
		expect(await dav.housekeeping()).toEqual(['removed 1 partly uploaded file(s) that interrupted runs left in .cloudsync/tmp']);
		expect(emulator.paths('Root/.cloudsync/tmp')).toEqual(['otherhost-1b-bbbbbbbbbbbb']);
	});

	it('says what a deletion means there', async () => {
		expect((await generic()).recovery()).toMatch(/no trash/);
	});

	it('a Depth: infinity refusal is never needed: a deep tree is listed one level at a time', async () => {
		emulator.seedFile('Root/x/y/z/deep.txt', 'deep');
		const dav = await generic();
		expect((await collect(dav.list('', { recursive: true }))).map((entry) => entry.path)).toEqual(['x', 'x/y', 'x/y/z', 'x/y/z/deep.txt']);
		expect(new Set(header(/^PROPFIND/, 'depth'))).toEqual(new Set(['0', '1']));
	});
});

describe("Node's own fetch", () => {
	it('is never touched by a WebDAV run (loading it costs a process 16 MiB): upload, listing, download, errors', async () => {
		const touched = await fetchGlobalsTouched(async () => {
			const dav = await provider();
			await put(dav, 'f/a.txt', 'alpha');
			expect(await collect(dav.list('f'))).toEqual([expect.objectContaining({ path: 'f/a.txt', size: 5 })]);
			expect(await text(dav, 'f/a.txt')).toBe('alpha');
			await expect(dav.stat('f/missing.txt')).rejects.toThrow();
		});
		expect(touched).toEqual([]);
	});
});

describe('hostile and broken answers', () => {
	beforeEach(async () => {
		await restart({ flavour: 'generic' });
		emulator.seedFile('Root/inside/ok.txt', 'fine');
	});

	it('hrefs outside the root, deeper than asked, on another host or with encoded slashes and dots never become entries', async () => {
		const dav = await generic();
		emulator.addHostileHrefs('Root/inside', [
			'/webdav/Root/inside/..',
			'/webdav/Root/inside/%2e%2e',
			'/webdav/Root/inside/..%2F..%2Fescaped.txt',
			'/webdav/Root/inside/a%2Fb.txt',
			'/webdav/Root/elsewhere.txt',
			'/etc/passwd',
			'http://evil.example/webdav/Root/inside/evil.txt',
			'/webdav/Root/inside/deeper/still.txt',
			'/webdav/Root/inside/%E0%A4%A',
			'/webdav/Root/inside/fine%20too.txt',
		]);
		const listed = await collect(dav.list('inside'));
		expect(listed.map((entry) => entry.path).sort()).toEqual(['inside/fine too.txt', 'inside/ok.txt']);
	});

	it('a mirror from a server that lists hostile names writes nothing outside the chosen folder', async () => {
		const dav = await generic();
		emulator.addHostileHrefs('Root', ['/webdav/Root/..%2F..%2Fowned.txt', '/webdav/Root/%2e%2e/', '/webdav/owned.txt']);
		const parent = await tempDir('webdav-hostile');
		await writeTree(parent, { 'destination/.keep': '' });
		const destination = await LocalProvider.open(`${parent}/destination`);
		const report = await sync(dav, destination, { mode: 'copy', pacer: new Pacer({ baseDelayMs: 1 }) });
		expect(report.status).toBe('success');
		expect((await collect(destination.list('', { recursive: true }))).map((entry) => entry.path).sort()).toEqual(['.keep', 'inside', 'inside/ok.txt']);
		const everything = (await collect((await LocalProvider.open(parent)).list('', { recursive: true }))).map((entry) => entry.path);
		// The local side's own staging folder aside, only what the mirror copied is there.
		expect(everything.filter((path) => !path.startsWith('destination/.cloudsync')).sort()).toEqual([
			'destination',
			'destination/.keep',
			'destination/inside',
			'destination/inside/ok.txt',
		]);
	});

	it('a listing cut short is refused, retried, and never taken for the whole folder', async () => {
		const waits: number[] = [];
		const dav = await generic({ pacer: recordingPacer(waits, 2) });
		emulator.server.inject({ route: /^PROPFIND \/webdav\/Root\/inside\/$/, kind: 'truncate', times: 1 });
		expect((await collect(dav.list('inside'))).map((entry) => entry.path)).toEqual(['inside/ok.txt']);
		expect(waits).toHaveLength(1);
		emulator.server.inject({ route: /^PROPFIND \/webdav\/Root\/inside\/$/, kind: 'truncate' });
		await expect(collect(dav.list('inside'))).rejects.toThrow(/cut short/);
	});

	it('parses multistatus answers whatever prefixes the server chose', () => {
		const xml = `<?xml version="1.0"?><x:multistatus xmlns:x="DAV:"><x:response><x:href>http://h/dav/f%C3%BC.txt</x:href><x:propstat><x:prop><y:getcontentlength xmlns:y="DAV:">3</y:getcontentlength><getlastmodified xmlns="DAV:">Tue, 01 Jan 2030 00:00:00 GMT</getlastmodified><x:resourcetype/></x:prop><x:status>HTTP/1.1 200 OK</x:status></x:propstat><x:propstat><x:prop><x:getetag/></x:prop><x:status>HTTP/1.1 404 Not Found</x:status></x:propstat></x:response></x:multistatus>`;
		expect(parseMultistatus(xml, 'http://h/dav/')).toEqual([{ segments: ['dav', 'fü.txt'], isDir: false, size: 3, modTime: Date.UTC(2030, 0, 1), etag: undefined, hashes: {}, fileId: undefined }]);
	});
});

/** The parser the provider used before its own, kept as the reference: htmlparser2 in XML mode, names resolved through xmlns as parseXml does. */
function referenceXml(text: string): ReturnType<typeof parseXml> {
	type Element = ReturnType<typeof parseXml>;
	const root: Element = { ns: '', name: '#document', children: [], text: '' };
	const stack: Array<{ element: Element; scope: Map<string, string> }> = [{ element: root, scope: new Map([['xml', 'http://www.w3.org/XML/1998/namespace']]) }];
	const parser = new Parser(
		{
			onopentag(tag, attributes) {
				const top = stack[stack.length - 1];
				const scope = new Map(top.scope);
				for (const [key, value] of Object.entries(attributes)) if (key === 'xmlns' || key.startsWith('xmlns:')) scope.set(key === 'xmlns' ? '' : key.slice(6), value);
				const colon = tag.indexOf(':');
				const element: Element = { ns: scope.get(colon < 0 ? '' : tag.slice(0, colon)) ?? '', name: colon < 0 ? tag : tag.slice(colon + 1), children: [], text: '' };
				top.element.children.push(element);
				stack.push({ element, scope });
			},
			ontext(data) {
				stack[stack.length - 1].element.text += data;
			},
			onclosetag(_name, implied) {
				if (stack.length > 1) stack.pop()!.element.closed = !implied;
			},
		},
		{ xmlMode: true, decodeEntities: true, recognizeSelfClosing: true },
	);
	parser.write(text);
	parser.end();
	return root;
}

/** A listing as each server words it: Apache (lp1:, a comment), rclone (D:), Nextcloud (d:, oc:, entities, CDATA, numeric references, attributes with > in quotes). */
const MULTISTATUS_SAMPLES = [
	`<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:" xmlns:ns0="DAV:">\n<D:response xmlns:lp1="DAV:" xmlns:lp2="http://apache.org/dav/props/">\n<D:href>/dav/a%20b/</D:href>\n<D:propstat>\n<D:prop>\n<lp1:resourcetype><D:collection/></lp1:resourcetype>\n<lp1:getlastmodified>Mon, 07 Dec 2026 10:00:00 GMT</lp1:getlastmodified>\n</D:prop>\n<D:status>HTTP/1.1 200 OK</D:status>\n</D:propstat>\n</D:response>\n<!-- a comment <D:response> -->\n<D:response xmlns:lp1="DAV:"><D:href>/dav/a%20b/x%26y.txt</D:href><D:propstat><D:prop><lp1:resourcetype/><lp1:getcontentlength>12</lp1:getcontentlength><lp1:getlastmodified>Mon, 07 Dec 2026 10:00:01 GMT</lp1:getlastmodified><lp1:getetag>"c-5f"</lp1:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>\n</D:multistatus>\n`,
	`<?xml version="1.0" encoding="UTF-8"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/r/</D:href><D:propstat><D:prop><D:resourcetype><D:collection xmlns:D="DAV:"/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response><D:response><D:href>/r/%C3%A9t%C3%A9%20%23%25.bin</D:href><D:propstat><D:prop><D:getcontentlength>0</D:getcontentlength><D:resourcetype></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`,
	`<?xml version="1.0"?>\n<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns"><d:response><d:href>/remote.php/dav/files/u/Q%26A/it&apos;s &amp; &#x1F600; &#233;.txt</d:href><d:propstat><d:prop><d:getcontentlength>3</d:getcontentlength><d:getetag>&quot;e1&quot;</d:getetag><oc:checksums><oc:checksum>SHA1:a9993e364706816aba3e25717850c26c9cd0d89d MD5:900150983cd24fb0d6963f7d28e17f72</oc:checksum></oc:checksums><oc:fileid><![CDATA[00012 <raw> & ]]></oc:fileid><x:other xmlns:x="urn:x" note="a > b" other='c"d'/></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat><d:propstat><d:prop><nc:missing/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response></d:multistatus>`,
	// Broken nesting: an element its parent's end tag closes, an end tag with nothing open of its name.
	`<d:multistatus xmlns:d="DAV:"><d:response><d:href>/dav/x</d:href><d:propstat><d:prop><d:getcontentlength>1</d:prop></d:propstat></d:nothing></d:response></d:multistatus>`,
];

describe("the multistatus parser (the provider's own)", () => {
	it('reads every server\'s answers as htmlparser2 did, element for element', () => {
		for (const sample of MULTISTATUS_SAMPLES) expect(parseXml(sample)).toEqual(referenceXml(sample));
		expect(parseMultistatus(MULTISTATUS_SAMPLES[2], 'http://h/remote.php/dav/files/u/Q%26A/')[0]).toMatchObject({
			segments: ['remote.php', 'dav', 'files', 'u', 'Q&A', "it's & 😀 é.txt"],
			size: 3,
			etag: '"e1"',
			hashes: { sha1: 'a9993e364706816aba3e25717850c26c9cd0d89d', md5: '900150983cd24fb0d6963f7d28e17f72' },
			fileId: '00012 <raw> &',
		});
	});

	it('refuses an answer cut short at any byte, as htmlparser2 did, and takes none of it for the whole folder', () => {
		for (const sample of MULTISTATUS_SAMPLES) {
			const end = sample.lastIndexOf('</');
			for (let cut = 0; cut < sample.length; cut++) {
				const text = sample.slice(0, cut);
				const outcome = (parse: () => unknown) => {
					try {
						return parse();
					} catch (error) {
						return (error as Error).message;
					}
				};
				const ours = outcome(() => parseMultistatus(text, 'http://h/dav/'));
				// Cut before the last end tag, no parser may see a whole listing.
				if (cut <= end) expect(ours).toBe('The WebDAV server sent a listing that was cut short or is not a multistatus');
				const multistatus = (root: ReturnType<typeof parseXml>) => root.children.find((each) => each.name === 'multistatus')?.closed ?? false;
				expect(multistatus(parseXml(text))).toBe(multistatus(referenceXml(text)));
			}
		}
	});
});

describe('errors a user meets', () => {
	it('a wrong password is an AuthenticationError that says to check the credential, with no secret in it', async () => {
		const error = await WebDavProvider.open({ url: emulator.url, user: emulator.user, password: 'not-the-password' }).catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(AuthenticationError);
		expect((error as AuthenticationError).hint).toMatch(/app password/);
		for (const secret of ['not-the-password', Buffer.from(`${emulator.user}:not-the-password`).toString('base64')]) expect(renderings(error)).not.toContain(secret);
	});

	it('a URL that is no WebDAV address, or a root that is a file, says what to give', async () => {
		await expect(WebDavProvider.open({ url: 'ftp://example.com/dav' })).rejects.toThrow(/starts with https:\/\//);
		await expect(WebDavProvider.open({ url: 'https://ada:pw@example.com/dav' })).rejects.toThrow(/holds a user name or password/);
		emulator.seedFile('file.txt', 'x');
		await expect(provider({ root: '/file.txt' })).rejects.toThrow(/it is a file, not a folder/);
	});

	it('429 with Retry-After is waited out as the server asked; a server that keeps refusing fails with a rate-limit error', async () => {
		const waits: number[] = [];
		const dav = await provider({ pacer: recordingPacer(waits, 3) });
		emulator.server.inject({ route: /^PUT/, kind: 'rate-limit', retryAfterSeconds: 7, times: 1 });
		await put(dav, 'a.txt', 'alpha');
		// The pause the server asked for is kept, whoever waits it out (the request, or the next one).
		expect(waits.length).toBeGreaterThanOrEqual(1);
		expect(Math.max(...waits)).toBe(7000);
		expect(Math.min(...waits)).toBeGreaterThan(6000);
		emulator.server.inject({ route: /^PUT/, kind: 'rate-limit', retryAfterSeconds: 1 });
		await expect(put(dav, 'b.txt', 'bravo')).rejects.toBeInstanceOf(RateLimitError);
	});

	it('a file written over a folder is refused before anything is replaced', async () => {
		emulator.seedFile('Root/folder/inside.txt', 'inside');
		const dav = await provider({ root: '/Root' });
		await expect(put(dav, 'folder', 'file')).rejects.toBeInstanceOf(AlreadyExistsError);
		expect(emulator.content('Root/folder/inside.txt')?.toString()).toBe('inside');
	});
});
