import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InvalidPathError, LocalProvider, NotFoundError } from '../lib';
import { OutsideAllowedFoldersError } from '../lib/providers/local';
import { removeTempDirs, tempDir } from './support/trees';

afterAll(removeTempDirs);

const exists = (folder: string) => fs.stat(folder).then(() => true, () => false);

describe('LocalProvider.open creating a missing root', () => {
	it('creates it inside the allowed folders, and checks the allowed folders before anything is created', async () => {
		const allowed = await tempDir('allowed');
		const outside = await tempDir('outside');
		const created = await LocalProvider.open(path.join(allowed, 'a', 'b'), { createRoot: true, allowedRoots: [allowed] });
		expect(created.root).toBe(path.join(await fs.realpath(allowed), 'a', 'b'));
		await expect(LocalProvider.open(path.join(outside, 'x', 'y'), { createRoot: true, allowedRoots: [allowed] })).rejects.toBeInstanceOf(OutsideAllowedFoldersError);
		await expect(LocalProvider.open(path.join(outside, 'x'), { createRoot: true, mayAccess: (real) => !real.startsWith(outside) })).rejects.toBeInstanceOf(
			OutsideAllowedFoldersError,
		);
		expect(await fs.readdir(outside)).toEqual([]);
	});

	it('reports a missing root outside the allowed folders as outside, never as missing', async () => {
		const allowed = await tempDir('allowed');
		const outside = await tempDir('outside');
		await expect(LocalProvider.open(path.join(outside, 'secret-name'), { allowedRoots: [allowed] })).rejects.toBeInstanceOf(OutsideAllowedFoldersError);
		await expect(LocalProvider.open(path.join(allowed, 'missing'), { allowedRoots: [allowed] })).rejects.toBeInstanceOf(NotFoundError);
	});

	it('never creates through a link or a file on the way', async () => {
		const allowed = await tempDir('allowed');
		const outside = await tempDir('outside');
		await fs.symlink(path.join(outside, 'target'), path.join(allowed, 'dangling'));
		await fs.writeFile(path.join(allowed, 'file'), 'x');
		for (const root of [path.join(allowed, 'dangling', 'deeper'), path.join(allowed, 'file', 'deeper')]) {
			await expect(LocalProvider.open(root, { createRoot: true })).rejects.toMatchObject({ constructor: InvalidPathError, message: expect.stringMatching(/is a file or a link, not a folder/) });
		}
		expect(await exists(path.join(outside, 'target'))).toBe(false);
	});
});
