import { promises as fs, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { LocalProvider, Pacer, SafetyError, sync, type Progress, type Provider, type SyncOptions } from '../lib';
import { FaultyProvider } from './support/faulty-provider';
import { filesOnly, readTree, removeTempDirs, tempDir, writeTree } from './support/trees';

afterAll(removeTempDirs);

const quickPacer = () => new Pacer({ baseDelayMs: 1, maxDelayMs: 5 });

async function pair(source: Record<string, string | null>, destination: Record<string, string | null> = {}) {
	const sourceRoot = await tempDir('src');
	const destinationRoot = await tempDir('dst');
	await writeTree(sourceRoot, source);
	await writeTree(destinationRoot, destination);
	return {
		sourceRoot,
		destinationRoot,
		source: await LocalProvider.open(sourceRoot),
		destination: await LocalProvider.open(destinationRoot),
	};
}

function run(setup: { source: LocalProvider; destination: LocalProvider }, options: SyncOptions) {
	return sync(setup.source, setup.destination, { pacer: quickPacer(), ...options });
}

function manyFiles(count: number): Record<string, string> {
	const files: Record<string, string> = {};
	for (let i = 0; i < count; i++) files[`f${i}.bin`] = `${i}`.repeat(20_000);
	return files;
}

/** Cancels a copy of many files after 20 and checks that it stopped with every file it left whole. */
async function expectCleanCancel(setup: { sourceRoot: string; destinationRoot: string; source: Provider; destination: Provider }) {
	const controller = new AbortController();
	let done = 0;
	const report = await sync(setup.source, setup.destination, {
		mode: 'copy',
		transfers: 2,
		pacer: quickPacer(),
		signal: controller.signal,
		onProgress: () => {
			if (++done === 20) controller.abort();
		},
	});
	expect(report.status).toBe('cancelled');
	const written = filesOnly(await readTree(setup.destinationRoot));
	const sourceTree = await readTree(setup.sourceRoot);
	expect(Object.keys(written).length).toBeLessThan(Object.keys(filesOnly(sourceTree)).length);
	for (const [name, hash] of Object.entries(written)) expect(hash).toBe(sourceTree[name]);
}

describe('sync between local folders', () => {
	it('mirrors: adds, updates and deletes until both trees are identical, then does nothing', async () => {
		const setup = await pair(
			{ 'a.txt': 'alpha', 'sub/b.txt': 'bravo', 'sub/deep/c.txt': 'charlie', 'empty': null },
			{ 'a.txt': 'old alpha!', 'gone.txt': 'delete me', 'oldfolder/x.txt': 'x' },
		);
		const report = await run(setup, { mode: 'mirror', maxDeletePercent: 100 });
		expect(report).toMatchObject({ status: 'success', added: 2, updated: 1, deleted: 2, foldersDeleted: 1, failed: 0 });
		expect(await readTree(setup.destinationRoot)).toEqual(await readTree(setup.sourceRoot));
		const again = await run(setup, { mode: 'mirror' });
		expect(again).toMatchObject({ status: 'success', added: 0, updated: 0, deleted: 0, bytes: 0 });
	});

	it('keeps modification times so that a re-run compares equal without hashing', async () => {
		const setup = await pair({ 'a.txt': 'alpha' });
		await run(setup, { mode: 'copy' });
		const [source, destination] = await Promise.all([setup.source.stat('a.txt'), setup.destination.stat('a.txt')]);
		expect(destination.modTime).toBe(source.modTime);
	});

	it('copy never deletes, update skips files that are newer on the destination', async () => {
		const setup = await pair({ 'a.txt': 'new', 'b.txt': 'source b' }, { 'extra.txt': 'keep me', 'b.txt': 'dest b!' });
		const future = new Date(Date.now() + 3_600_000);
		await fs.utimes(path.join(setup.destinationRoot, 'b.txt'), future, future);
		const report = await run(setup, { mode: 'update' });
		expect(report).toMatchObject({ added: 1, updated: 0, deleted: 0 });
		const tree = await fs.readFile(path.join(setup.destinationRoot, 'b.txt'), 'utf8');
		expect(tree).toBe('dest b!');
		const copied = await run(setup, { mode: 'copy' });
		expect(copied).toMatchObject({ updated: 1, deleted: 0 });
		expect(await fs.readFile(path.join(setup.destinationRoot, 'extra.txt'), 'utf8')).toBe('keep me');
	});

	it('move deletes each source file only once its copy is on the destination', async () => {
		const setup = await pair({ 'a.txt': 'alpha', 'sub/b.txt': 'bravo', 'same.txt': 'same' }, { 'same.txt': 'same' });
		const report = await run(setup, { mode: 'move' });
		expect(report).toMatchObject({ status: 'success', added: 2, movedSourcesDeleted: 3 });
		expect(filesOnly(await readTree(setup.sourceRoot))).toEqual({});
		expect(Object.keys(filesOnly(await readTree(setup.destinationRoot))).sort()).toEqual(['a.txt', 'same.txt', 'sub/b.txt']);
	});

	it('move keeps the source when the copy does not verify', async () => {
		const setup = await pair({ 'a.txt': 'alpha' });
		const corrupting = new FaultyProvider(setup.destination, { corruptWrites: true, reportsHash: 'sha1' });
		const report = await sync(setup.source, corrupting, { mode: 'move', pacer: quickPacer() });
		expect(report.status).toBe('failed');
		expect(report.errors[0].message).toMatch(/differs/);
		expect(await fs.readFile(path.join(setup.sourceRoot, 'a.txt'), 'utf8')).toBe('alpha');
	});

	it('applies filters to both sides: excluded destination files are neither copied nor deleted', async () => {
		const setup = await pair(
			{ 'keep.jpg': 'j', 'skip.txt': 't', 'cache/x.jpg': 'c', '.DS_Store': 'junk' },
			{ 'private.txt': 'not mine', 'old.jpg': 'old' },
		);
		const report = await run(setup, { mode: 'mirror', filter: { extensions: ['jpg'], exclude: ['**/cache/**'] }, maxDeletePercent: 100 });
		expect(report).toMatchObject({ added: 1, deleted: 1 });
		expect(Object.keys(filesOnly(await readTree(setup.destinationRoot))).sort()).toEqual(['keep.jpg', 'private.txt']);
	});

	it('dry run returns the plan and touches nothing', async () => {
		const setup = await pair({ 'a.txt': 'alpha' }, { 'b.txt': 'bravo' });
		const before = await readTree(setup.destinationRoot);
		const report = await run(setup, { mode: 'mirror', dryRun: true, force: true });
		expect(report.status).toBe('planned');
		expect(report.plan.counts).toMatchObject({ copy: 1, delete: 1 });
		expect(await readTree(setup.destinationRoot)).toEqual(before);
	});

	it('reports progress in files and bytes', async () => {
		const setup = await pair({ 'a.txt': 'aaaa', 'b.txt': 'bbbbbb' });
		const events: Progress[] = [];
		await run(setup, { mode: 'copy', onProgress: (progress) => events.push(progress) });
		expect(events.at(-1)).toMatchObject({ filesDone: 2, filesTotal: 2, bytesDone: 10, bytesTotal: 10 });
	});

	it('stops cleanly when cancelled, leaving no half-written file', async () => {
		await expectCleanCancel(await pair(manyFiles(200)));
	});
});

describe('sync to a destination the source cannot copy to itself (bytes go through the engine)', () => {
	// Wrapped, the destination is no longer a local folder the source copies to directly: small files are read whole and uploaded.
	const streamed = async (source: Record<string, string | null>) => {
		const setup = await pair(source);
		return { ...setup, destination: new FaultyProvider(setup.destination, {}) };
	};

	it('fails a small file that grew or shrank after it was listed, and leaves nothing of it on the destination', async () => {
		const setup = await streamed({ 'a.txt': 'alpha', 'b.txt': 'bravo', 'c.txt': 'charlie' });
		const report = await sync(setup.source, setup.destination, {
			mode: 'copy',
			transfers: 1,
			pacer: quickPacer(),
			onProgress: ({ filesDone }) => {
				if (filesDone !== 1) return;
				writeFileSync(path.join(setup.sourceRoot, 'b.txt'), 'bravo, grown');
				writeFileSync(path.join(setup.sourceRoot, 'c.txt'), 'char');
			},
		});
		expect(report).toMatchObject({ status: 'partial', added: 1, failed: 2 });
		expect(report.errors.map(({ path, message }) => ({ path, message }))).toEqual([
			{ path: 'b.txt', message: 'Stream is longer than the expected 5 bytes' },
			{ path: 'c.txt', message: 'Stream ended after 4 of 7 bytes' },
		]);
		expect(Object.keys(filesOnly(await readTree(setup.destinationRoot)))).toEqual(['a.txt']);
	});

	it('stops cleanly when cancelled, leaving no half-written file', async () => {
		await expectCleanCancel(await streamed(manyFiles(200)));
	});
});

describe('safety guards', () => {
	it('refuses a mirror from an empty source over a full destination', async () => {
		const setup = await pair({}, { 'precious.txt': 'data', 'more.txt': 'data' });
		await expect(run(setup, { mode: 'mirror' })).rejects.toThrow(SafetyError);
		expect(Object.keys(await readTree(setup.destinationRoot))).toHaveLength(2);
	});

	it('refuses to delete more than half of the destination unless forced', async () => {
		const setup = await pair({ 'a.txt': 'a' }, { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' });
		await expect(run(setup, { mode: 'mirror' })).rejects.toThrow(/delete 2 of the destination's 3 files/);
		expect(Object.keys(await readTree(setup.destinationRoot))).toHaveLength(3);
		await expect(run(setup, { mode: 'mirror', maxDeletes: 1, maxDeletePercent: 100 })).rejects.toThrow(/more than the limit of 1/);
		const forced = await run(setup, { mode: 'mirror', force: true });
		expect(forced.deleted).toBe(2);
	});

	it('deletes nothing when a transfer failed', async () => {
		const setup = await pair({ 'a.txt': 'alpha', 'b.txt': 'bravo' }, { 'a.txt': 'x', 'b.txt': 'y', 'extra.txt': 'z' });
		const corrupting = new FaultyProvider(setup.destination, { corruptWrites: true, reportsHash: 'sha1' });
		const report = await sync(setup.source, corrupting, { mode: 'mirror', pacer: quickPacer() });
		expect(report.deleted).toBe(0);
		expect(report.deletesHeld).toMatch(/failed/);
		expect(await fs.readFile(path.join(setup.destinationRoot, 'extra.txt'), 'utf8')).toBe('z');
	});

	it('deletes nothing when the source listing fails half-way', async () => {
		const source: Record<string, string> = {};
		for (let i = 0; i < 20; i++) source[`f${String(i).padStart(2, '0')}.txt`] = `file ${i}`;
		const setup = await pair(source, { ...source, 'extra.txt': 'extra' });
		const broken = new FaultyProvider(setup.source, { listFailsAfter: 10 });
		const report = await sync(broken, setup.destination, { mode: 'mirror', force: true, pacer: quickPacer() });
		expect(report.listingErrors[0]).toMatch(/source: injected listing failure/);
		expect(report.deleted).toBe(0);
		expect(report.status).not.toBe('success');
		expect(Object.keys(await readTree(setup.destinationRoot))).toHaveLength(21);
	});
});

describe('incremental sync of changed paths', () => {
	it('touches only the given paths: a changed file, a deleted file and a new folder', async () => {
		const setup = await pair(
			{ 'changed.txt': 'new content', 'untouched.txt': 'source version', 'newdir/a.txt': 'a', 'newdir/sub/b.txt': 'b' },
			{ 'changed.txt': 'old', 'untouched.txt': 'destination version', 'deleted.txt': 'gone on the source' },
		);
		const report = await run(setup, { mode: 'mirror', paths: ['changed.txt', 'deleted.txt', 'newdir'] });
		expect(report).toMatchObject({ status: 'success', added: 2, updated: 1, deleted: 1 });
		const tree = filesOnly(await readTree(setup.destinationRoot));
		expect(Object.keys(tree).sort()).toEqual(['changed.txt', 'newdir/a.txt', 'newdir/sub/b.txt', 'untouched.txt']);
		expect(await fs.readFile(path.join(setup.destinationRoot, 'untouched.txt'), 'utf8')).toBe('destination version');
	});

	it('a deleted folder takes its destination subtree with it, within the deletion limit', async () => {
		const files: Record<string, string> = {};
		for (let i = 0; i < 5; i++) files[`old/f${i}.txt`] = 'x';
		const setup = await pair({ 'keep.txt': 'k' }, { ...files, 'keep.txt': 'k' });
		await expect(run(setup, { mode: 'mirror', paths: ['old'], maxDeletes: 3 })).rejects.toThrow(/delete 5 files, more than the limit of 3/);
		const report = await run(setup, { mode: 'mirror', paths: ['old'] });
		expect(report).toMatchObject({ deleted: 5, foldersDeleted: 1 });
		expect(Object.keys(await readTree(setup.destinationRoot))).toEqual(['keep.txt']);
	});
});
