/**
 * A Drive run in a process of its own (started by test/drive.test.ts), so that what it loads can be
 * read from a require cache no test framework has filled: a copy up to the emulator and back down,
 * then a service account's sign-in. Prints the packages of every module it loaded, as JSON.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalProvider, sync } from '../../lib';
import { GoogleDriveProvider, type GoogleDriveProviderOptions } from '../../lib/providers/drive';

interface DriveChildSpec {
	apiBaseUrl: string;
	root: string;
	user: GoogleDriveProviderOptions['auth'];
	serviceAccount: GoogleDriveProviderOptions['auth'];
}

async function main(): Promise<void> {
	const spec = JSON.parse(process.env.CLOUDSYNC_DRIVE_CHILD ?? '{}') as DriveChildSpec;
	const work = await mkdtemp(join(tmpdir(), 'drive-child-'));
	try {
		const source = join(work, 'source');
		await mkdir(source);
		await writeFile(join(source, 'small.txt'), 'a small file');
		// Larger than a chunk: it goes up resumable.
		await writeFile(join(source, 'large.bin'), Buffer.alloc(600 * 1024, 7));
		const drive = await GoogleDriveProvider.open({ auth: spec.user, root: spec.root, apiBaseUrl: spec.apiBaseUrl, uploadChunkBytes: 256 * 1024 });
		const up = await sync(await LocalProvider.open(source), drive, { mode: 'copy' });
		const back = join(work, 'back');
		const down = await sync(drive, await LocalProvider.open(back, { createRoot: true }), { mode: 'copy' });
		const signedIn = await GoogleDriveProvider.open({ auth: spec.serviceAccount, apiBaseUrl: spec.apiBaseUrl });
		const packages = new Set(Object.keys(require.cache).flatMap((file) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? []));
		process.stdout.write(JSON.stringify({ uploaded: up.added, downloaded: down.added, serviceAccountRoot: signedIn.rootId, packages: [...packages].sort() }));
	} finally {
		await rm(work, { recursive: true, force: true });
	}
}

void main().catch((error: unknown) => {
	process.stderr.write(String((error as Error)?.stack ?? error));
	process.exitCode = 1;
});
