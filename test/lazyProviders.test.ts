/* eslint-disable @typescript-eslint/no-require-imports -- each test loads lib/index afresh to see which modules it loads */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';

/** The modules lib/index hands out on first use, by their path under lib/. */
const ON_FIRST_USE = [
	'providers/local',
	'providers/dropbox',
	'providers/onedrive',
	'providers/webdav',
	'providers/drive',
	'providers/kit/sdks',
	'providers/s3',
	'providers/icloud/auth',
	'providers/icloudDrive',
	'providers/icloudPhotos',
	'providers/googlePhotos',
	'modes/addToPhotos',
];

type Lib = typeof import('../lib');

/** lib/index loaded in a registry of its own, with the modules of ON_FIRST_USE it has loaded so far. */
function freshLib(): { lib: Lib; loaded: string[] } {
	const loaded: string[] = [];
	let lib: Lib | undefined;
	jest.isolateModules(() => {
		for (const module of ON_FIRST_USE) {
			jest.doMock(`../lib/${module}`, () => {
				loaded.push(module);
				return jest.requireActual(`../lib/${module}`);
			});
		}
		lib = require('../lib') as Lib;
	});
	return { lib: lib!, loaded };
}

afterEach(() => jest.resetModules());

describe('lib/index loads providers on first use', () => {
	it('loads no provider, SDK helper or photos mode until one of their exports is read', () => {
		const { lib, loaded } = freshLib();
		expect(typeof lib.sync).toBe('function');
		expect(typeof lib.twoWaySync).toBe('function');
		expect(loaded).toEqual([]);
	});

	it('loads the local provider, and no cloud, for a sync between two local folders', async () => {
		const { lib, loaded } = freshLib();
		const root = await mkdtemp(nodePath.join(tmpdir(), 'lazy-providers-'));
		try {
			await writeFile(nodePath.join(root, 'a.txt'), 'hello');
			const source = await lib.LocalProvider.open(root);
			const destination = await lib.LocalProvider.open(nodePath.join(root, 'copy'), { createRoot: true });
			const report = await lib.sync(source, destination, { mode: 'mirror' });
			expect(report.status).toBe('success');
			expect(report.added).toBe(1);
			expect(readFileSync(nodePath.join(root, 'copy', 'a.txt'), 'utf8')).toBe('hello');
			expect(loaded).toEqual(['providers/local']);
		} finally {
			await rm(root, { recursive: true, force: true });
		}
	});

	it('loads a cloud when its provider is first used, and only that cloud', () => {
		const { lib, loaded } = freshLib();
		const provider = new lib.DropboxProvider({ auth: { clientId: 'app', clientSecret: 'secret', refreshToken: 'refresh' }, root: '' });
		expect(provider).toBeInstanceOf(lib.DropboxProvider);
		expect(loaded.filter((module) => module !== 'providers/kit/sdks')).toEqual(['providers/dropbox']);
	});

	it('gives a value for every name it declares, renamed ones included', () => {
		const { lib } = freshLib();
		const declared = [...readFileSync(nodePath.join(__dirname, '..', 'lib', 'index.ts'), 'utf8').matchAll(/^export declare const (\w+)/gm)].map((match) => match[1]);
		expect(declared.length).toBeGreaterThan(40);
		const values = lib as unknown as Record<string, unknown>;
		for (const name of declared) expect([name, values[name]]).toEqual([name, expect.anything()]);
		expect(lib.DRIVE_FOLDER_MIME).toBe('application/vnd.google-apps.folder');
		expect(Object.keys(lib.S3_PRESETS)).toContain('aws');
	});
});
