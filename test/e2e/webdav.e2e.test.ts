/**
 * WebDAV against real servers started on loopback: Debian's Apache with mod_dav and rclone 1.60's
 * `rclone serve webdav` each pass the provider conformance suite; 500 files go from a local folder to
 * Apache through a proxy that gives one request in ten a fault, arrive hash-identical, and a re-run
 * transfers nothing. Nextcloud's extensions cannot run here: they are tested against the emulator
 * (test/webdav.conformance.test.ts, test/webdav.test.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { LocalProvider, Pacer, sync } from '../../lib';
import { WebDavProvider } from '../../lib/providers/webdav';
import { runProviderConformance, pseudoRandomBytes } from '../conformance/suite';
import { missingApache, missingRclone, startApacheDav, startFaultProxy, startRcloneDav, type DavServer } from './webdavServers';
import { readTree, removeTempDirs, tempDir, writeTree } from '../support/trees';
import { spawn, spawnSync } from 'node:child_process';
import { WebDavEmulator } from '../emulators/webdav';

afterAll(() => removeTempDirs());

/** The conformance suite on `server`: each case in a new folder of its own below the server's top. */
function conformanceOn(label: string, start: () => Promise<DavServer>): void {
	let server: DavServer | undefined;
	afterAll(() => server?.stop());
	runProviderConformance(label, async () => {
		server ??= await start();
		const signIn = { url: server.url, user: server.user, password: server.password, vendor: 'other' as const, pacer: new Pacer({ baseDelayMs: 5 }) };
		const name = `case ${randomBytes(4).toString('hex')} #%`;
		const top = await WebDavProvider.open(signIn);
		await top.mkdir(name);
		return { provider: await WebDavProvider.open({ ...signIn, root: `/${name}` }), cleanup: () => top.delete(name, { recursive: true }) };
	});
}

const apacheMissing = missingApache();
const rcloneMissing = missingRclone();

if (apacheMissing) {
	describe.skip(`WebDAV on Apache: ${apacheMissing}`, () => it('runs the conformance suite on Apache mod_dav', () => undefined));
} else {
	conformanceOn('webdav on Apache mod_dav (real server)', () => startApacheDav());
}

if (rcloneMissing) {
	describe.skip(`WebDAV on rclone serve webdav: ${rcloneMissing}`, () => it('runs the conformance suite on rclone serve webdav', () => undefined));
} else {
	conformanceOn('webdav on rclone serve webdav 1.60 (real server)', () => startRcloneDav());
}

const sha1 = (data: Buffer) => createHash('sha1').update(data).digest('hex');

(apacheMissing ? describe.skip : describe)('500 files local → WebDAV (Apache) through 10% injected faults', () => {
	it('converge hash-identical, leave nothing staged, and a re-run transfers nothing', async () => {
		const apache = await startApacheDav();
		const proxy = await startFaultProxy(apache.url, { probability: 0.1, seed: 500, retryAfterSeconds: 1 });
		try {
			const source = await tempDir('webdav-500');
			const files: Record<string, Buffer> = {};
			for (let i = 0; i < 500; i++) {
				const size = 1024 + ((i * 7919) % (63 * 1024));
				files[`folder ${i % 10}/sub ${i % 3}/file #${i}.bin`] = pseudoRandomBytes(size, `file-${i}`);
			}
			await writeTree(source, files);
			const destination = await WebDavProvider.open({ url: proxy.url, user: apache.user, password: apache.password, vendor: 'other', root: '', pacer: new Pacer({ baseDelayMs: 20, retriesPerRequest: 8 }) });
			const run = async () => sync(await LocalProvider.open(source), destination, { mode: 'mirror', pacer: new Pacer({ baseDelayMs: 20, retriesPerRequest: 8 }) });
			const first = await run();
			// The errors first, so that a failure says which file and why.
			expect(first.errors.map((error) => `${error.path}: ${error.message}`)).toEqual([]);
			expect(first).toMatchObject({ status: 'success', added: 500, failed: 0 });
			// What Apache keeps on disk is what was sent, byte for byte.
			const onDisk = await readTree(apache.files);
			const expected = Object.fromEntries(Object.entries(files).map(([file, data]) => [file, sha1(data)]));
			expect(Object.fromEntries(Object.entries(onDisk).filter(([, value]) => value !== 'dir'))).toEqual(expected);
			expect(await fs.readdir(path.join(apache.files, '.cloudsync', 'tmp'))).toEqual([]);
			const second = await run();
			expect(second).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0, failed: 0 });
			const given = Object.values(proxy.given).reduce((sum, count) => sum + count, 0);
			expect(given).toBeGreaterThan(proxy.requests * 0.05);
			expect(Object.values(proxy.given).every((count) => count > 0)).toBe(true);
		} finally {
			await proxy.stop();
			await apache.stop();
		}
	});
});

(apacheMissing ? describe.skip : describe)('large local files → WebDAV (Apache), sent through reused buffers, through injected faults', () => {
	it('arrive hash-identical and leave nothing staged, whichever requests broke', async () => {
		const apache = await startApacheDav();
		const proxy = await startFaultProxy(apache.url, { probability: 0.4, seed: 1, retryAfterSeconds: 1 });
		try {
			const source = await tempDir('webdav-large');
			const files = Object.fromEntries([0, 1, 2, 3].map((i) => [`large ${i}.bin`, pseudoRandomBytes(9 * 1024 * 1024 + i * 12345, `large-${i}`)]));
			await writeTree(source, files);
			const pacer = () => new Pacer({ baseDelayMs: 20, retriesPerRequest: 8 });
			const destination = await WebDavProvider.open({ url: proxy.url, user: apache.user, password: apache.password, vendor: 'other', root: '', pacer: pacer() });
			const report = await sync(await LocalProvider.open(source), destination, { mode: 'copy', pacer: pacer() });
			expect(report.errors.map((error) => `${error.path}: ${error.message}`)).toEqual([]);
			expect(report).toMatchObject({ status: 'success', added: 4 });
			const onDisk = await readTree(apache.files);
			expect(Object.fromEntries(Object.entries(onDisk).filter(([, value]) => value !== 'dir'))).toEqual(Object.fromEntries(Object.entries(files).map(([file, data]) => [file, sha1(data)])));
			expect(await fs.readdir(path.join(apache.files, '.cloudsync', 'tmp'))).toEqual([]);
			// Connections dropped mid-request and answers given before the body was read were among the faults.
			expect(proxy.given['drop-before'] + proxy.given['drop-after']).toBeGreaterThan(0);
		} finally {
			await proxy.stop();
			await apache.stop();
		}
	});
});

// litmus (Debian's WebDAV compliance suite) checks the emulator itself against RFC 4918, for what it emulates:
// its basic and copymove suites (props and locks are not emulated).
const litmusMissing = spawnSync('litmus', ['--version']).error ? 'litmus is not installed (apt-get install -y litmus)' : undefined;
(litmusMissing ? describe.skip : describe)(`the WebDAV emulator under litmus${litmusMissing ? `: ${litmusMissing}` : ''}`, () => {
	it.each(['generic', 'nextcloud'] as const)('passes litmus basic and copymove as the %s flavour', async (flavour) => {
		const emulator = await WebDavEmulator.start({ flavour, user: 'litmus', password: 'litmus-password' });
		try {
			emulator.seedFolder('litmus-root');
			// litmus writes debug.log and child.log where it runs: a folder of the test's own.
			const cwd = await tempDir('litmus');
			const child = spawn('litmus', [`${emulator.url}/litmus-root/`, 'litmus', 'litmus-password'], { cwd, env: { ...process.env, TESTS: 'basic copymove' } });
			let output = '';
			child.stdout.on('data', (chunk) => (output += chunk));
			child.stderr.on('data', (chunk) => (output += chunk));
			await new Promise((resolve) => child.on('close', resolve));
			const summaries = output.split('\n').filter((line) => line.includes('summary for'));
			expect(summaries.map((line) => line.replace(/^.*summary for `(\w+)'.*?(\d+) failed.*$/, '$1: $2 failed'))).toEqual(['basic: 0 failed', 'copymove: 0 failed']);
		} finally {
			await emulator.stop();
		}
	});
});
