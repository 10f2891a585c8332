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
