import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { DriveEmulator } from '../emulators/drive';
import { DropboxEmulator } from '../emulators/dropbox';
import { OneDriveEmulator } from '../emulators/onedrive';
import { WebDavEmulator } from '../emulators/webdav';
import type { EmulatorServer } from '../emulators/core/server';
import { s3Provider, startS3FaultProxy, startS3Server } from './s3';
import { emulatedWebDav } from './webdav';
import type { Provider } from '../../lib/core/types';
import { seededRandom } from './faulty-provider';
import type { ResumeChildSpec } from './resumeChild';

const MiB = 1024 * 1024;

export type ResumeCloud = ResumeChildSpec['cloud'];

export interface ResumeOutcome {
	cloud: ResumeCloud;
	size: number;
	/** Bytes the emulator received over every run, headers and other calls included. */
	bytesReceived: number;
	/** Where each killed run was stopped, in bytes the emulator had received by then (from that run's start). */
	killedAfter: number[];
	/** Sessions the store held after each kill, for the next run to resume. */
	sessionsKept: number[];
	sourceSha256: string;
	/** "name sha256" of every file the destination folder holds (a duplicate would show twice). */
	stored: string[];
	finalRun: { code: number | null; output: string };
	wallMs: number;
}

export interface ResumeOptions {
	size: number;
	kills: number;
	/** Bytes per chunk, for each cloud's own rule (Drive 256 KiB, Dropbox 4 MiB, OneDrive 320 KiB multiples, S3 parts of 5 MiB or more). */
	chunk: number;
	/** S3 parts sent at once (the provider's default when unset): a kill loses up to this many parts in flight. */
	s3QueueSize?: number;
	seed?: number;
}

/** Writes `size` bytes that do not repeat (each MiB carries its index) and returns their sha256. */
async function writeSource(file: string, size: number, seed: number): Promise<string> {
	const block = Buffer.from(randomBytes(MiB));
	block.writeUInt32LE(seed, 4);
	const hash = createHash('sha256');
	const out = createWriteStream(file);
	for (let at = 0; at < size; at += MiB) {
		block.writeUInt32LE(at / MiB, 0);
		const piece = block.subarray(0, Math.min(MiB, size - at));
		hash.update(piece);
		if (!out.write(piece)) await once(out, 'drain');
	}
	out.end();
	await once(out, 'finish');
	return hash.digest('hex');
}

interface Started {
	server: EmulatorServer;
	spec: Omit<ResumeChildSpec, 'sourceDir' | 'storeFile'>;
	stored(): string[] | Promise<string[]>;
	stop(): Promise<void>;
}

// The benchmark runs this file compiled into dist/; the child is still started from the TypeScript sources.
const SUPPORT = __filename.endsWith('.ts') ? __dirname : join(__dirname, '..', '..', '..', 'test', 'support');

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Each file below the provider's root, with the SHA-256 of its bytes as the cloud gives them back. */
async function storedThrough(provider: Provider): Promise<string[]> {
	const files: string[] = [];
	for await (const entry of provider.list('', { recursive: true })) {
		if (entry.isDir) continue;
		const hash = createHash('sha256');
		for await (const piece of await provider.read(entry.path)) hash.update(piece as Buffer);
		files.push(`${entry.path} ${hash.digest('hex')}`);
	}
	return files;
}

async function startCloud(cloud: ResumeCloud, chunk: number, s3QueueSize?: number): Promise<Started> {
	if (cloud === 's3') {
		const s3 = await startS3Server();
		// No faults: the proxy counts the bytes the server is sent, as the emulators do.
		const proxy = await startS3FaultProxy(s3.endpoint);
		const connection = { ...s3.connection, endpoint: proxy.baseUrl };
		return {
			server: proxy,
			spec: { cloud, s3: { ...connection, bucket: 'test', prefix: 'resume', partSize: chunk, queueSize: s3QueueSize } },
			stored: async () => storedThrough(await s3Provider(s3.connection, { prefix: 'resume' })),
			async stop() {
				await proxy.stop();
				await s3.stop();
			},
		};
	}
	if (cloud === 'nextcloud') {
		const emulator = await WebDavEmulator.start({ flavour: 'nextcloud', seed: 15 });
		emulator.seedFolder('resume');
		return {
			server: emulator.server,
			spec: { cloud, nextcloud: { url: emulator.url, user: emulator.user, password: emulator.password, vendor: 'nextcloud', root: '/resume', chunkSize: chunk } },
			stored: async () => storedThrough(await emulatedWebDav(emulator, { root: '/resume' })),
			stop: () => emulator.stop(),
		};
	}
	if (cloud === 'drive') {
		const emulator = new DriveEmulator();
		await emulator.start();
		const folderId = emulator.addFolder(emulator.myDriveRootId, 'resume');
		return {
			server: emulator.server,
			spec: { cloud, drive: { auth: emulator.addOAuthClient(), root: folderId, apiBaseUrl: emulator.baseUrl, uploadChunkBytes: chunk } },
			stored: () => emulator.filesAt('resume/big.bin').map((file) => `${file.name} ${sha256(emulator.content(file.id!))}`),
			stop: () => emulator.stop(),
		};
	}
	if (cloud === 'dropbox') {
		const emulator = await DropboxEmulator.start({ seed: 15 });
		emulator.seedFolder('/resume');
		return {
			server: emulator.server,
			spec: { cloud, dropbox: { auth: emulator.credentials, root: '/resume', apiBaseUrl: emulator.baseUrl, chunkSize: chunk } },
			stored: () => emulator.paths('/resume').map((path) => `${path.slice('/resume/'.length)} ${sha256(emulator.content(path) ?? Buffer.alloc(0))}`),
			stop: () => emulator.stop(),
		};
	}
	const emulator = await OneDriveEmulator.start({ seed: 15 });
	emulator.seedFolder('resume');
	return {
		server: emulator.server,
		spec: { cloud, onedrive: { auth: emulator.credentials, root: '/resume', apiBaseUrl: emulator.baseUrl, chunkSize: chunk } },
		stored: () => emulator.paths('resume').map((path) => `${path} ${sha256(emulator.content(`resume/${path}`) ?? Buffer.alloc(0))}`),
		stop: () => emulator.stop(),
	};
}

/** Runs the child once; kills it (SIGKILL) once the emulator received `killAfter` more bytes. */
async function runChild(spec: ResumeChildSpec, server: EmulatorServer, killAfter: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string; received: number }> {
	const child = spawn(process.execPath, ['-r', join(SUPPORT, 'tsRegister.js'), join(SUPPORT, 'resumeChild.ts')], {
		env: { ...process.env, CLOUDSYNC_RESUME_CHILD: JSON.stringify(spec) },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let output = '';
	child.stdout.on('data', (data: Buffer) => (output += data.toString()));
	child.stderr.on('data', (data: Buffer) => (output += data.toString()));
	const start = server.bytesReceived;
	// Checked as bytes arrive, so that the kill lands wherever the upload is, mid-chunk included.
	server.onReceive = (total) => {
		if (total - start >= killAfter) child.kill('SIGKILL');
	};
	const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
	server.onReceive = undefined;
	return { code, signal, output, received: server.bytesReceived - start };
}

/**
 * A file of `size` bytes copied to `cloud` by a child process killed `kills` times at random points
 * (between 5% and 20% of the file into each run, mid-chunk or between chunks), then run to the end; each run resumes from the
 * session the last one saved.
 */
export async function killAndResume(cloud: ResumeCloud, options: ResumeOptions): Promise<ResumeOutcome> {
	const random = seededRandom(options.seed ?? Date.now());
	const dir = await mkdtemp(join(tmpdir(), 'cloudsync-resume-'));
	const started = await startCloud(cloud, options.chunk, options.s3QueueSize);
	const began = Date.now();
	try {
		const sourceDir = join(dir, 'source');
		await mkdir(sourceDir);
		const sourceSha256 = await writeSource(join(sourceDir, 'big.bin'), options.size, options.seed ?? 1);
		const spec: ResumeChildSpec = { ...started.spec, sourceDir, storeFile: join(dir, 'uploads.json') };
		const before = started.server.bytesReceived;
		const killedAfter: number[] = [];
		const sessionsKept: number[] = [];
		for (let run = 0; run < options.kills; run++) {
			const killAt = Math.floor(options.size * (0.05 + random() * 0.15));
			const outcome = await runChild(spec, started.server, killAt);
			if (outcome.signal !== 'SIGKILL') throw new Error(`run ${run + 1} was to be killed but ended by itself (${outcome.code}): ${outcome.output}`);
			killedAfter.push(outcome.received);
			const saved = JSON.parse(await readFile(spec.storeFile, 'utf8').catch(() => '{"uploads":[]}')) as { uploads: unknown[] };
			sessionsKept.push(saved.uploads.length);
		}
		const last = await runChild(spec, started.server, Number.POSITIVE_INFINITY);
		return {
			cloud,
			size: options.size,
			bytesReceived: started.server.bytesReceived - before,
			killedAfter,
			sessionsKept,
			sourceSha256,
			stored: await started.stored(),
			finalRun: { code: last.code, output: last.output },
			wallMs: Date.now() - began,
		};
	} finally {
		await started.stop();
		await rm(dir, { recursive: true, force: true });
	}
}
