import { createFilter, FilterError, type Entry } from '../lib';
import { file, folder } from './support/entries';

const paths = (filter: ReturnType<typeof createFilter>, entries: Entry[]) =>
	entries.filter((entry) => filter.includesFile(entry)).map((entry) => entry.path);

describe('filters with rclone glob meaning', () => {
	const tree = ['a.jpg', 'top/b.jpg', 'top/sub/c.txt', 'x/top/d.jpg', 'x/cache/e.jpg', 'cache/f.txt', 'Photo.JPG'].map((path) => file(path));

	it('a pattern without a leading slash matches at any depth', () => {
		expect(paths(createFilter({ include: ['*.jpg'] }), tree)).toEqual(['a.jpg', 'top/b.jpg', 'x/top/d.jpg', 'x/cache/e.jpg']);
	});

	it('a leading slash anchors the pattern to the root', () => {
		expect(paths(createFilter({ include: ['/top/**'] }), tree)).toEqual(['top/b.jpg', 'top/sub/c.txt']);
	});

	it('** crosses folders in excludes', () => {
		expect(paths(createFilter({ exclude: ['**/cache/**'] }), tree)).toEqual(['a.jpg', 'top/b.jpg', 'top/sub/c.txt', 'x/top/d.jpg', 'Photo.JPG']);
	});

	it('excludes win over includes', () => {
		expect(paths(createFilter({ include: ['*.jpg'], exclude: ['x/**'] }), tree)).toEqual(['a.jpg', 'top/b.jpg']);
	});

	it('excluded folders are neither created nor removed; others are', () => {
		const filter = createFilter({ exclude: ['**/cache/**'] });
		expect(filter.includesFolder('x/cache')).toBe(false);
		expect(filter.includesFolder('x/top')).toBe(true);
		expect(createFilter({ include: ['*.jpg'] }).selective).toBe(true);
		expect(createFilter({ exclude: ['*.tmp'] }).selective).toBe(false);
	});
});

describe('extension, size and date filters', () => {
	it('keeps extensions case-insensitively, with or without the dot', () => {
		const filter = createFilter({ extensions: ['.jpg', 'tar.gz'] });
		expect(paths(filter, [file('a.JPG'), file('b.tar.gz'), file('c.gz'), file('jpg')])).toEqual(['a.JPG', 'b.tar.gz']);
		expect(paths(createFilter({ excludeExtensions: ['tmp'] }), [file('a.tmp'), file('b.txt')])).toEqual(['b.txt']);
	});

	it('bounds sizes inclusively', () => {
		const filter = createFilter({ minSize: 10, maxSize: 20 });
		expect(paths(filter, [file('small', { size: 9 }), file('low', { size: 10 }), file('high', { size: 20 }), file('big', { size: 21 })])).toEqual(['low', 'high']);
	});

	it('takes ages relative to now and ISO dates', () => {
		const now = Date.UTC(2026, 5, 15);
		const day = 86_400_000;
		const entries = [file('new', { modTime: now - day }), file('week', { modTime: now - 8 * day }), file('old', { modTime: Date.UTC(2025, 0, 1) })];
		expect(paths(createFilter({ modifiedAfter: '7d', now }), entries)).toEqual(['new']);
		expect(paths(createFilter({ modifiedBefore: '2026-01-01', now }), entries)).toEqual(['old']);
		expect(paths(createFilter({ modifiedAfter: '2026-01-01T00:00:00Z', modifiedBefore: '2d', now }), entries)).toEqual(['week']);
	});

	it('skips system junk by default, and keeps it when asked', () => {
		const junk = [file('.DS_Store'), file('sub/Thumbs.db'), file('desktop.ini'), file('real.txt')];
		expect(paths(createFilter(), junk)).toEqual(['real.txt']);
		expect(paths(createFilter({ skipSystemFiles: false }), junk)).toHaveLength(4);
	});

	it('explains a bad date and contradictory sizes', () => {
		expect(() => createFilter({ modifiedAfter: 'last tuesday' })).toThrow(FilterError);
		expect(() => createFilter({ modifiedAfter: 'last tuesday' })).toThrow(/neither a date nor an age/);
		expect(() => createFilter({ minSize: 5, maxSize: 1 })).toThrow(/larger than maximum/);
	});

	it('folders are never dropped by size or date', () => {
		expect(createFilter({ minSize: 1000, modifiedAfter: '1d' }).includesFolder(folder('docs').path)).toBe(true);
	});
});

describe('broken globs are refused with the pattern and the position of the problem', () => {
	const refusal = (options: Parameters<typeof createFilter>[0]) => {
		try {
			createFilter(options);
		} catch (error) {
			expect(error).toBeInstanceOf(FilterError);
			return { message: (error as FilterError).message, hint: (error as FilterError).hint };
		}
		throw new Error('the filter was accepted');
	};

	it.each([
		[{ include: ['[abc'] }, 'Include pattern "[abc" is not a valid glob: the "[" is never closed at position 1', /close the character class with "\]", or write \\\[/],
		[{ exclude: ['*.{jpg,png'] }, 'Exclude pattern "*.{jpg,png" is not a valid glob: the "{" is never closed at position 3', /as in \*\.\{jpg,png\}/],
		[{ include: ['/docs/a}.txt'] }, 'Include pattern "/docs/a}.txt" is not a valid glob: a "}" has no "{" before it at position 8', /add the missing "\{"/],
		[{ include: ['x/a].txt'] }, 'Include pattern "x/a].txt" is not a valid glob: a "]" has no "[" before it at position 4', /add the missing "\["/],
		[{ include: ['file[z-a].txt'] }, 'Include pattern "file[z-a].txt" is not a valid glob: the range "z-a" runs backwards at position 6', /write it as "a-z"/],
		[{ exclude: ['backup\\'] }, 'Exclude pattern "backup\\" is not a valid glob: a "\\" escapes nothing at position 7', /remove the trailing "\\"/],
		[{ include: ['{a,{b,c}.txt'] }, 'Include pattern "{a,{b,c}.txt" is not a valid glob: the "{" is never closed at position 1', /close the alternatives/],
	])('%j', (options, message, hint) => {
		const { message: got, hint: advice } = refusal(options);
		expect(got).toBe(message);
		expect(advice).toMatch(hint);
	});

	it('valid globs with classes, negated classes, alternatives and escapes still match as rclone does', () => {
		const tree = ['a.jpg', 'b.png', 'c.gif', '[draft].txt', 'x}.txt', 'n1.txt', 'nb.txt', ']a'].map((path) => file(path));
		expect(paths(createFilter({ include: ['*.{jpg,png}'] }), tree)).toEqual(['a.jpg', 'b.png']);
		expect(paths(createFilter({ include: ['[ab].*'] }), tree)).toEqual(['a.jpg', 'b.png']);
		expect(paths(createFilter({ include: ['n[!0-9].txt'] }), tree)).toEqual(['nb.txt']);
		expect(paths(createFilter({ include: ['n[^a-z].txt'] }), tree)).toEqual(['n1.txt']);
		expect(paths(createFilter({ include: ['\\[draft\\].txt', 'x\\}.txt'] }), tree)).toEqual(['[draft].txt', 'x}.txt']);
		expect(paths(createFilter({ include: ['[]]a'] }), tree)).toEqual([']a']);
		expect(paths(createFilter({ include: ['[[:digit:]]*'] }), [file('1.txt'), file('a.txt')])).toEqual(['1.txt']);
	});
});
