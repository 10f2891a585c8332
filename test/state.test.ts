import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BaselineWriter, FileStateStore, MemoryStateStore, PointerStateStore, SpillDir, StateError, decodeBaseline, encodeBaseline, openBaseline, type BaselineEntry } from '../lib';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { compareWalkOrder } from '../lib/core/walkOrder';
import { loadStateBytes, saveStateBytes, stateBytesOf, stateDigest, stateText } from '../lib/state/state';
import type { Stepper } from '../lib/core/types';

/** Entries whose random sizes and times keep the compressed text large. */
function randomEntries(count: number): BaselineEntry[] {
	let seed = 7;
	const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
	return Array.from({ length: count }, (_, i) => {
		const time = 1_600_000_000_000 + next();
		return { path: `f${String(Math.floor(i / 500)).padStart(4, '0')}/photo-${String(i).padStart(6, '0')}-${next().toString(36)}.jpg`, isDir: false, size: next(), sourceModTime: time, destinationModTime: time + (next() % 3) * 1000 };
	});
}

async function entriesOf(text: Parameters<typeof openBaseline>[0]): Promise<BaselineEntry[]> {
	const entries: BaselineEntry[] = [];
	for await (const entry of (await openBaseline(text)).entries()) entries.push(entry);
	return entries;
}

describe('baseline encoding', () => {
	it('gives back every entry exactly, whole or streamed: sizes of any value, folders, times either way, odd names', async () => {
		const entries: BaselineEntry[] = [
			...Array.from({ length: 80 }, (_, size) => ({ path: `sizes/file-${size}.bin`, isDir: false, size, sourceModTime: 1_700_000_000_000 + size, destinationModTime: 1_700_000_000_000 + size })),
			{ path: 'sizes', isDir: true, size: -1, sourceModTime: 0, destinationModTime: 0 },
			{ path: 'big.iso', isDir: false, size: 5 * 1024 ** 4, sourceModTime: 1_800_000_000_123, destinationModTime: 1_800_000_000_000 },
			{ path: 'later on the destination.txt', isDir: false, size: 13, sourceModTime: 1_000, destinationModTime: 61_000 },
			{ path: 'earlier on the destination.txt', isDir: false, size: 14, sourceModTime: 1_700_000_061_000, destinationModTime: 1_700_000_001_000 },
			{ path: 'size not known.gdoc', isDir: false, size: -1, sourceModTime: 3, destinationModTime: 3 },
			{ path: 'caf\u00e9.txt', destinationPath: 'cafe\u0301.txt', isDir: false, size: 36, sourceModTime: 5, destinationModTime: 5 },
			{ path: 'Report.PDF', destinationPath: 'report.pdf', isDir: false, size: 35, sourceModTime: 7, destinationModTime: 7 },
			{ path: 'odd/tab\there, line\nbreak, back\\slash and \\t literally.txt', destinationPath: 'odd/with\ttab', isDir: false, size: 9, sourceModTime: 9, destinationModTime: 9 },
			{ path: '', isDir: true, size: -1, sourceModTime: 0, destinationModTime: 0 },
		];
		const decoded = decodeBaseline(encodeBaseline({ pair: 'Local:/a ⇄ Dropbox:/b', savedAt: 1_795_000_000_000, entries }));
		expect(decoded.pair).toBe('Local:/a ⇄ Dropbox:/b');
		expect(decoded.savedAt).toBe(1_795_000_000_000);
		const byPath = (list: BaselineEntry[]) => [...list].map((entry) => ({ ...entry, destinationPath: entry.destinationPath })).sort((a, b) => (a.path < b.path ? -1 : 1));
		expect(byPath(decoded.entries)).toEqual(byPath(entries));
		const streamed: BaselineEntry[] = [];
		for await (const entry of (await openBaseline(encodeBaseline({ pair: 'p', savedAt: 1, entries }))).entries()) streamed.push(entry);
		expect(byPath(streamed)).toEqual(byPath(entries));
	});

	it('a state stamped with who saved it opens with the stamp and every entry; the time still reads as a number alone, as a reader that knows only the time reads it', async () => {
		const entries = randomEntries(50);
		const writer = new BaselineWriter('p', 1_795_000_000_000);
		for (const entry of [...entries].sort((a, b) => compareWalkOrder(a.path, b.path))) writer.add(entry);
		for (const savedAt of [1_795_000_000_000, 0]) {
			const text = writer.text(savedAt, '9f3c0a17d2b4e8a1');
			const opened = await openBaseline(text);
			expect([opened.savedAt, opened.savedBy]).toEqual([savedAt, '9f3c0a17d2b4e8a1']);
			expect(await entriesOf(text)).toEqual(decodeBaseline(writer.text()).entries);
			expect(decodeBaseline(text)).toMatchObject({ savedAt, savedBy: '9f3c0a17d2b4e8a1' });
			const timeLine = gunzipSync(Buffer.from(text, 'base64')).toString('utf8').split('\n')[2];
			expect(parseInt(timeLine, 36)).toBe(savedAt);
		}
		expect((await openBaseline(writer.text())).savedBy).toBeUndefined();
	});

	it('streams a state whose text spans many decoded pieces, and one written with line breaks, entry for entry as the whole decode', async () => {
		const text = encodeBaseline({ pair: 'p', savedAt: 1, entries: randomEntries(40_000) });
		expect(text.length).toBeGreaterThan(4 * 64 * 1024);
		const whole = decodeBaseline(text).entries;
		expect(await entriesOf(text)).toEqual(whole);
		expect(await entriesOf(text.replace(/.{76}/g, '$&\r\n'))).toEqual(whole);
	});

	it('streams names of many-byte characters across decoded pieces, stepped or iterated, as they were written', async () => {
		// Three-byte characters in every name: some piece of the decompressed text ends inside one.
		const entries = randomEntries(20_000).map((entry, i) => ({ ...entry, path: `写真/${i % 7 === 0 ? 'caf\u00e9' : '日本'}-${entry.path.replace('/', '-')}` }));
		const text = encodeBaseline({ pair: 'p', savedAt: 1, entries });
		const byPath = (list: BaselineEntry[]) => [...list].sort((a, b) => (a.path < b.path ? -1 : 1));
		const iterated = await entriesOf(text);
		expect(byPath(iterated)).toEqual(byPath(entries));
		const stepper = ((await openBaseline(text)).entries() as AsyncIterable<BaselineEntry> & { stepper(): Stepper<BaselineEntry> }).stepper();
		const stepped: BaselineEntry[] = [];
		for (let next = await stepper.next(); next !== undefined; next = await stepper.next()) stepped.push(next);
		expect(stepped).toEqual(iterated);
		expect(decodeBaseline(text).entries).toEqual(iterated);
	});

	it('writes a large baseline through a temporary file, byte for byte the text an in-memory writer gives, and removes its file once disposed', async () => {
		const entries = randomEntries(60_000);
		const inMemory = new BaselineWriter('pair', 5);
		const spill = new SpillDir();
		// Spilled after every compressed member, as a million names would be.
		const spilling = new BaselineWriter('pair', 5, spill, 1);
		for (const entry of entries) {
			inMemory.add(entry);
			spilling.add(entry);
		}
		const bytes = await spilling.bytes(9);
		try {
			// Past the size a state is held in memory: it sits in a file and is read back from there.
			expect(bytes.bytes).toBeUndefined();
			expect(await stateText(bytes)).toBe(inMemory.text(9));
			expect(await entriesOf(bytes)).toEqual(entries);
			expect((await openBaseline(bytes)).savedAt).toBe(9);
			// What a run that changed nothing compares with the state it loaded, without making the text: its length and digest.
			const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
			for (const writer of [spilling, inMemory]) {
				expect(await writer.digest(9)).toEqual({ size: inMemory.text(9).length, sha256: sha256(inMemory.text(9)) });
				expect(await writer.digest()).toEqual({ size: inMemory.text().length, sha256: sha256(inMemory.text()) });
			}
			expect(await stateDigest(bytes)).toBe(sha256(inMemory.text(9)));
			expect(await stateDigest(stateBytesOf(inMemory.text(9)))).toBe(sha256(inMemory.text(9)));
		} finally {
			await bytes.dispose();
			await spill.dispose();
		}
		// Its temporary file is gone once disposed.
		await expect(stateText(bytes)).rejects.toThrow(/ENOENT/);
	});

	it('saves and loads a large state through a file and a pointer store as a stream, the small one whole in n8n', async () => {
		const dir = await mkdtemp(join(tmpdir(), 'state-test-'));
		try {
			const text = encodeBaseline({ pair: 'p', savedAt: 3, entries: randomEntries(60_000) });
			const inN8n = new MemoryStateStore();
			const pointer = new PointerStateStore(inN8n, new FileStateStore(join(dir, 'pair.state')));
			const writer = new BaselineWriter('p', 3, undefined);
			for (const entry of decodeBaseline(text).entries) writer.add(entry);
			await saveStateBytes(pointer, await writer.bytes());
			// n8n keeps a pointer of a few dozen bytes; the file holds the state.
			expect(inN8n.state!.length).toBeLessThan(200);
			const loaded = (await loadStateBytes(pointer))!;
			try {
				expect(loaded.bytes).toBeUndefined();
				expect(await stateText(loaded)).toBe(text);
			} finally {
				await loaded.dispose();
			}
			const small = encodeBaseline({ pair: 'p', savedAt: 4, entries: randomEntries(10) });
			await saveStateBytes(pointer, (await loadStateBytes(new MemoryStateStore(small)))!);
			expect(inN8n.state).toBe(small);
			expect(await stateText((await loadStateBytes(pointer))!)).toBe(small);
		} finally {
			await rm(dir, { recursive: true, force: true });
		}
	});

	it('refuses what it did not write, with a way out', () => {
		expect(() => decodeBaseline('not a baseline')).toThrow(StateError);
		expect(() => decodeBaseline(Buffer.from('x').toString('base64'))).toThrow(/not readable|Resync/);
	});
});
