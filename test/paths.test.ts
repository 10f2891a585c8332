import { normalizeRelativePath, matchKey, InvalidPathError } from '../lib';

describe('normalizeRelativePath', () => {
	it.each([
		['', ''],
		['/', ''],
		['a/b/c.txt', 'a/b/c.txt'],
		['a//b/', 'a/b'],
		['name with spaces #%.txt', 'name with spaces #%.txt'],
	])('accepts %j as %j', (input, expected) => {
		expect(normalizeRelativePath(input)).toBe(expected);
	});

	it.each(['../etc/passwd', 'a/../../b', '/etc/passwd', 'a/./b', 'a\0b'])('refuses %j', (input) => {
		expect(() => normalizeRelativePath(input)).toThrow(InvalidPathError);
	});
});

describe('matchKey', () => {
	it('matches NFC and NFD spellings of the same name', () => {
		expect(matchKey('cafe\u0301.txt', false)).toBe(matchKey('caf\u00e9.txt', false));
	});
	it('folds case only when asked', () => {
		expect(matchKey('Photos/A.JPG', true)).toBe('photos/a.jpg');
		expect(matchKey('Photos/A.JPG', false)).toBe('Photos/A.JPG');
	});
});
