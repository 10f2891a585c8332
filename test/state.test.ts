import { StateError, decodeBaseline, encodeBaseline, openBaseline, type BaselineEntry } from '../lib';

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

	it('streams a state whose text spans many decoded pieces, and one written with line breaks, entry for entry as the whole decode', async () => {
		// Random sizes and times keep the compressed text large: several of the reader's 64 KiB pieces.
		let seed = 7;
		const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
		const entries: BaselineEntry[] = Array.from({ length: 40_000 }, (_, i) => {
			const time = 1_600_000_000_000 + next();
			return { path: `f${Math.floor(i / 500)}/photo-${next().toString(36)}.jpg`, isDir: false, size: next(), sourceModTime: time, destinationModTime: time + (next() % 3) * 1000 };
		});
		const text = encodeBaseline({ pair: 'p', savedAt: 1, entries });
		expect(text.length).toBeGreaterThan(4 * 64 * 1024);
		const whole = decodeBaseline(text).entries;
		for (const shaped of [text, text.replace(/.{76}/g, '$&\r\n')]) {
			const streamed: BaselineEntry[] = [];
			for await (const entry of (await openBaseline(shaped)).entries()) streamed.push(entry);
			expect(streamed).toEqual(whole);
		}
	});

	it('refuses what it did not write, with a way out', () => {
		expect(() => decodeBaseline('not a baseline')).toThrow(StateError);
		expect(() => decodeBaseline(Buffer.from('x').toString('base64'))).toThrow(/not readable|Resync/);
	});
});
