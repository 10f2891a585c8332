import { promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:net';
import * as path from 'node:path';
import { LocalProvider } from '../lib';
import type { Entry } from '../lib/core/types';
import { removeTempDirs, tempDir } from './support/trees';

afterAll(removeTempDirs);

async function listed(provider: LocalProvider): Promise<Entry[]> {
	const entries: Entry[] = [];
	for await (const entry of provider.list('', { recursive: true })) entries.push(entry);
	return entries;
}

describe('LocalProvider listing a folder', () => {
	let socket: Server | undefined;
	afterEach(() => new Promise<void>((resolve) => (socket ? socket.close(() => resolve()) : resolve())));

	it('lists every file of a large folder with its own size and time, and nothing that is neither file nor folder', async () => {
		const root = await tempDir('listing');
		const files = 600;
		for (let i = 0; i < files; i++) {
			const name = path.join(root, `f${i}.txt`);
			await fs.writeFile(name, 'x'.repeat(i % 37));
			const when = new Date(Date.UTC(2021, 0, 1) + i * 1000);
			await fs.utimes(name, when, when);
		}
		await fs.mkdir(path.join(root, 'sub'));
		await fs.writeFile(path.join(root, 'sub', 'inner.txt'), 'inner');
		await fs.symlink(path.join(root, 'f1.txt'), path.join(root, 'link.txt'));
		socket = createServer();
		await new Promise<void>((resolve) => socket!.listen(path.join(root, 'unix.sock'), resolve));

		const entries = await listed(await LocalProvider.open(root));
		const byPath = new Map(entries.map((entry) => [entry.path, entry]));
		expect(entries).toHaveLength(files + 2);
		for (let i = 0; i < files; i++) {
			expect(byPath.get(`f${i}.txt`)).toMatchObject({ isDir: false, size: i % 37, modTime: Date.UTC(2021, 0, 1) + i * 1000, hashes: {} });
		}
		expect(byPath.get('sub')).toMatchObject({ isDir: true, size: 0 });
		expect(byPath.get('sub/inner.txt')).toMatchObject({ isDir: false, size: 5 });
		// A link is skipped by default, and a socket is no file to sync.
		expect(byPath.has('link.txt')).toBe(false);
		expect(byPath.has('unix.sock')).toBe(false);
	});
});
