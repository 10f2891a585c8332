import { promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';

const created: string[] = [];

/** A fresh folder under the system temp folder, removed by `removeTempDirs` (each test file calls it in afterAll). */
export async function tempDir(label: string): Promise<string> {
	const dir = await fs.mkdtemp(path.join(os.tmpdir(), `cloudsync-${label}-`));
	created.push(dir);
	return dir;
}

export async function removeTempDirs(): Promise<void> {
	await Promise.all(created.splice(0).map((dir) => fs.rm(dir, { recursive: true, force: true })));
}

/** Writes files (path → content) under root; a content of null makes an empty folder. */
export async function writeTree(root: string, files: Record<string, string | Buffer | null>, modTime?: number): Promise<void> {
	for (const [relative, content] of Object.entries(files)) {
		const absolute = path.join(root, relative);
		if (content === null) {
			await fs.mkdir(absolute, { recursive: true });
			continue;
		}
		await fs.mkdir(path.dirname(absolute), { recursive: true });
		await fs.writeFile(absolute, content);
		if (modTime !== undefined) await fs.utimes(absolute, new Date(modTime), new Date(modTime));
	}
}

/** Every file under root as path → sha1 of its content, and every folder as path → "dir". */
/** The user's files below `root` as path → sha1 ('dir' for folders); the engine's own `.cloudsync` folder (staging, trash, state) only when asked. */
export async function readTree(root: string, options: { withEngineFolder?: boolean } = {}): Promise<Record<string, string>> {
	const tree: Record<string, string> = {};
	const walk = async (relative: string) => {
		for (const dirent of await fs.readdir(path.join(root, relative), { withFileTypes: true })) {
			const child = relative ? `${relative}/${dirent.name}` : dirent.name;
			if (child === '.cloudsync' && !options.withEngineFolder) continue;
			if (dirent.isDirectory()) {
				tree[child] = 'dir';
				await walk(child);
			} else {
				tree[child] = createHash('sha1').update(await fs.readFile(path.join(root, child))).digest('hex');
			}
		}
	};
	await walk('');
	return tree;
}

export function filesOnly(tree: Record<string, string>): Record<string, string> {
	return Object.fromEntries(Object.entries(tree).filter(([, value]) => value !== 'dir'));
}
