import { plan, needsHashes, marchListings, type Entry, type Match, type PlanAction, type PlanOptions, type SyncMode } from '../lib';
import { file, folder, T0 } from './support/entries';

const sensitive = { caseInsensitive: false, modTimePrecisionMs: 1 };
const insensitive = { caseInsensitive: true, modTimePrecisionMs: 1 };

function options(mode: SyncMode, extra: Partial<PlanOptions> = {}): PlanOptions {
	return { mode, source: sensitive, destination: sensitive, ...extra };
}

/** What the plan does with one path: "kind@side", or "none". */
function outcome(actions: PlanAction[], path: string): string {
	const found = actions.filter((action) => action.path === path);
	return found.length === 0 ? 'none' : found.map((action) => `${action.kind}@${action.side}`).join(',');
}

const HOUR = 3_600_000;

async function* streamOf(entries: Entry[]): AsyncGenerator<Entry> {
	yield* entries;
}

interface Change {
	name: string;
	source: Entry[];
	destination: Entry[];
	expected: Record<SyncMode, string>;
}

const changes: Change[] = [
	{
		name: 'new file on the source',
		source: [file('a.txt')],
		destination: [],
		expected: { mirror: 'copy@destination', copy: 'copy@destination', update: 'copy@destination', move: 'copy@destination' },
	},
	{
		name: 'file only on the destination',
		source: [],
		destination: [file('a.txt')],
		expected: { mirror: 'delete@destination', copy: 'skip@destination', update: 'skip@destination', move: 'skip@destination' },
	},
	{
		name: 'identical file (size and time)',
		source: [file('a.txt')],
		destination: [file('a.txt')],
		// Move deletes the source only on proof of content: without a shared hash it sends the file again, verified.
		expected: { mirror: 'skip@destination', copy: 'skip@destination', update: 'skip@destination', move: 'update@destination' },
	},
	{
		name: 'size changed',
		source: [file('a.txt', { size: 11 })],
		destination: [file('a.txt', { size: 10 })],
		expected: { mirror: 'update@destination', copy: 'update@destination', update: 'update@destination', move: 'update@destination' },
	},
	{
		name: 'same size, source newer, content differs',
		source: [file('a.txt', { modTime: T0 + HOUR, hashes: { md5: 'aa' } })],
		destination: [file('a.txt', { hashes: { md5: 'bb' } })],
		expected: { mirror: 'update@destination', copy: 'update@destination', update: 'update@destination', move: 'update@destination' },
	},
	{
		name: 'same size, destination newer, content differs',
		source: [file('a.txt', { hashes: { md5: 'aa' } })],
		destination: [file('a.txt', { modTime: T0 + HOUR, hashes: { md5: 'bb' } })],
		expected: { mirror: 'update@destination', copy: 'update@destination', update: 'skip@destination', move: 'update@destination' },
	},
	{
		name: 'same content, modification time differs',
		source: [file('a.txt', { modTime: T0 + HOUR, hashes: { md5: 'aa' } })],
		destination: [file('a.txt', { hashes: { md5: 'AA' } })],
		expected: { mirror: 'skip@destination', copy: 'skip@destination', update: 'skip@destination', move: 'delete@source' },
	},
	{
		name: 'new empty folder on the source',
		source: [folder('empty')],
		destination: [],
		expected: { mirror: 'mkdir@destination', copy: 'mkdir@destination', update: 'mkdir@destination', move: 'mkdir@destination' },
	},
	{
		name: 'folder only on the destination',
		source: [],
		destination: [folder('old')],
		expected: { mirror: 'rmdir@destination', copy: 'none', update: 'none', move: 'none' },
	},
	{
		name: 'a file on the source where the destination has a folder',
		source: [file('x')],
		destination: [folder('x')],
		expected: { mirror: 'conflict@destination', copy: 'conflict@destination', update: 'conflict@destination', move: 'conflict@destination' },
	},
];

describe('planner: every mode against every kind of change', () => {
	for (const change of changes) {
		for (const mode of ['mirror', 'copy', 'update', 'move'] as SyncMode[]) {
			it(`${mode}: ${change.name} → ${change.expected[mode]}`, async () => {
				const result = await plan(change.source, change.destination, options(mode));
				const path = change.source[0]?.path ?? change.destination[0].path;
				expect(outcome(result.actions, path)).toBe(change.expected[mode]);
			});
		}
	}

	it('Move marks copies so that the source is deleted only after the copy', async () => {
		const result = await plan([file('a.txt')], [], options('move'));
		expect(result.actions[0]).toMatchObject({ kind: 'copy', deleteSourceAfter: true });
		expect((await plan([file('a.txt')], [], options('copy'))).actions[0].deleteSourceAfter).toBeUndefined();
	});
});

describe('planner: comparison options', () => {
	const older = file('a.txt', { modTime: T0, hashes: { md5: 'aa' } });
	const newerSameSize = file('a.txt', { modTime: T0 + HOUR, hashes: { md5: 'bb' } });

	it('size-only treats same-size files as equal whatever their time and content', async () => {
		expect(outcome((await plan([newerSameSize], [older], options('mirror', { compare: 'size' }))).actions, 'a.txt')).toBe('skip@destination');
	});

	it('checksum compares hashes even when times match', async () => {
		const a = file('a.txt', { hashes: { sha1: '11' } });
		const b = file('a.txt', { hashes: { sha1: '22' } });
		expect(outcome((await plan([a], [b], options('copy'))).actions, 'a.txt')).toBe('skip@destination');
		expect(outcome((await plan([a], [b], options('copy', { compare: 'checksum' }))).actions, 'a.txt')).toBe('update@destination');
	});

	it('newer-only skips a file that is newer on the destination in any mode', async () => {
		expect(outcome((await plan([older], [newerSameSize], options('mirror', { newerOnly: true }))).actions, 'a.txt')).toBe('skip@destination');
	});

	it('ignore-existing never touches a file that exists on the destination', async () => {
		const changed = file('a.txt', { size: 99 });
		expect(outcome((await plan([changed], [older], options('mirror', { ignoreExisting: true }))).actions, 'a.txt')).toBe('skip@destination');
	});

	it('times within the coarser precision of the two sides are equal', async () => {
		const coarse = { caseInsensitive: false, modTimePrecisionMs: 1000 };
		const a = file('a.txt', { modTime: T0 + 999 });
		const b = file('a.txt', { modTime: T0 });
		expect(outcome((await plan([a], [b], options('copy', { destination: coarse }))).actions, 'a.txt')).toBe('skip@destination');
		expect(outcome((await plan([a], [b], options('copy'))).actions, 'a.txt')).toBe('update@destination');
	});

	it('asks for hashes only when size matches and time does not decide', async () => {
		const withTimes = async (source: Entry, destination: Entry, extra: Partial<PlanOptions> = {}) => {
			const matches: Match[] = [];
			await marchListings(streamOf([source]), streamOf([destination]), false, (match) => void matches.push(match));
			return needsHashes(matches[0], options('copy', extra));
		};
		expect(await withTimes(file('a', { modTime: T0 + HOUR }), file('a'))).toBe(true);
		expect(await withTimes(file('a'), file('a'))).toBe(false);
		expect(await withTimes(file('a', { size: 1 }), file('a', { size: 2 }))).toBe(false);
		expect(await withTimes(file('a'), file('a'), { compare: 'checksum' })).toBe(true);
		expect(await withTimes(file('a'), file('a'), { mode: 'move' })).toBe(true);
	});
});

describe('planner: names', () => {
	it('matches an NFD source name to its NFC destination spelling and updates it in place', async () => {
		const result = await plan([file('cafe\u0301.txt', { size: 5 })], [file('caf\u00e9.txt', { size: 4 })], options('mirror'));
		expect(result.actions).toHaveLength(1);
		expect(result.actions[0]).toMatchObject({ kind: 'update', path: 'caf\u00e9.txt' });
	});

	it('matches case-insensitively when either side is, and never deletes the match', async () => {
		const result = await plan([file('Report.PDF')], [file('report.pdf')], options('mirror', { destination: insensitive }));
		expect(result.actions).toEqual([expect.objectContaining({ kind: 'skip', path: 'report.pdf' })]);
	});

	it('reports two source names that collide on a case-insensitive destination as a conflict, never an overwrite', async () => {
		const result = await plan([file('a.txt', { size: 1 }), file('A.txt', { size: 2 })], [file('a.txt', { size: 3 })], options('mirror', { destination: insensitive }));
		expect(result.counts).toMatchObject({ conflict: 2, copy: 0, update: 0, delete: 0 });
		expect(result.actions.every((action) => action.reason.includes('collide'))).toBe(true);
	});

	it('reports duplicate names on one side as conflicts', async () => {
		const result = await plan([file('dup.txt'), file('dup.txt', { size: 20 })], [], options('copy'));
		expect(result.counts.conflict).toBe(2);
		expect(result.counts.copy).toBe(0);
	});

	it('puts new files under the destination spelling of an existing folder', async () => {
		const result = await plan([folder('Photos'), file('Photos/new.jpg')], [folder('photos')], options('copy', { source: insensitive }));
		expect(result.actions.find((action) => action.kind === 'copy')?.path).toBe('photos/new.jpg');
	});

	it('keeps each new file under the spelling of its own folder when the files of a folder come before and after a subfolder', async () => {
		const result = await plan(
			[folder('Photos'), file('Photos/a.jpg'), folder('Photos/Sub'), file('Photos/Sub/b.jpg'), file('Photos/c.jpg'), folder('New'), file('New/d.jpg'), folder('New/Deep'), file('New/Deep/e.jpg'), file('New/f.jpg')],
			[folder('photos'), folder('photos/SUB')],
			options('copy', { source: insensitive }),
		);
		expect(result.actions.filter((action) => action.kind !== 'skip').map((action) => `${action.kind}:${action.path}`)).toEqual([
			'mkdir:New',
			'mkdir:New/Deep',
			'copy:New/d.jpg',
			'copy:New/Deep/e.jpg',
			'copy:New/f.jpg',
			'copy:photos/a.jpg',
			'copy:photos/c.jpg',
			'copy:photos/SUB/b.jpg',
		]);
	});
});

describe('planner: plan shape', () => {
	it('orders folders before files, deletes after transfers, and removes deep folders first', async () => {
		const result = await plan(
			[folder('n'), folder('n/m'), file('n/m/f'), file('keep', { size: 2 })],
			[folder('old'), folder('old/deeper'), file('old/deeper/x'), file('keep')],
			options('mirror'),
		);
		expect(result.actions.map((action) => `${action.kind}:${action.path}`)).toEqual([
			'mkdir:n',
			'mkdir:n/m',
			// Within a phase, in walk order.
			'update:keep',
			'copy:n/m/f',
			'delete:old/deeper/x',
			'rmdir:old/deeper',
			'rmdir:old',
		]);
		expect(result.bytesToTransfer).toBe(12);
		expect(result).toMatchObject({ sourceFiles: 2, destinationFiles: 2 });
	});

	it('can leave empty source folders out when a filter selects files', async () => {
		expect((await plan([folder('empty')], [], options('copy', { createEmptyFolders: false }))).actions).toEqual([]);
	});
});

describe('planner: what the destination can hold', () => {
	const HOUR = 3_600_000;
	it('a destination that keeps no modification times is compared by size and hash, not by time', async () => {
		const noTimes = { ...sensitive, canSetModTime: false };
		const later = file('a.txt', { modTime: file('a.txt').modTime + HOUR });
		expect(outcome((await plan([later], [file('a.txt')], options('mirror', { destination: noTimes }))).actions, 'a.txt')).toBe('skip@destination');
		expect(outcome((await plan([later], [file('a.txt')], options('mirror'))).actions, 'a.txt')).toBe('update@destination');
		const differs = file('a.txt', { hashes: { md5: 'aa' } });
		expect(outcome((await plan([differs], [file('a.txt', { hashes: { md5: 'bb' } })], options('mirror', { destination: noTimes }))).actions, 'a.txt')).toBe('update@destination');
	});

	it('a file larger than the destination accepts, or a name it refuses, is a conflict with the reason, not a transfer', async () => {
		const unstorable = (path: string, size?: number) => (size !== undefined && size > 10 ? `it is ${size} bytes` : path.includes('?') ? 'no "?" here' : undefined);
		const result = await plan([file('big.bin', { size: 11 }), file('small.bin', { size: 3 }), file('what?.txt')], [file('old.bin', { size: 3 })], options('mirror', { unstorable }));
		expect(result.actions.map((action) => `${action.kind}:${action.path}:${action.reason}`).sort()).toEqual([
			'conflict:big.bin:it is 11 bytes',
			'conflict:what?.txt:no "?" here',
			'copy:small.bin:new file',
			'delete:old.bin:not in the source',
		]);
	});
});
