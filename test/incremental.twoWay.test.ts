import { MemoryStateStore, ProviderStateStore, twoWaySync, type FeedOptions, type Provider, type TwoWayOptions } from '../lib';
import { emulatorsForBlock, feedPair, put, tree } from './support/sides';
import { quickPacer } from './support/dropbox';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T10:00:00Z');

describe('scheduled Two-Way runs planned from both sides’ change feeds (Drive and Dropbox emulators)', () => {
	const emulators = emulatorsForBlock(32);

	const pair = () => feedPair(emulators);

	/** The state a node keeps between runs: the baseline and the feed's cursors, each with its copy on the destination. */
	function states() {
		return { baseline: new MemoryStateStore(), cursors: new MemoryStateStore() };
	}

	let clock = T0;
	const run = (source: Provider, destination: Provider, state: ReturnType<typeof states>, at: number, extra: Partial<TwoWayOptions> = {}, settings = 'twoWay|*') => {
		clock = at;
		const feed: FeedOptions = {
			state: state.cursors,
			copy: new ProviderStateStore(destination, 'two-way-feed-test'),
			settings,
			fullEveryMs: 7 * DAY,
			now: () => clock,
			index: (side) => new ProviderStateStore(destination, `two-way-feed-test-${side}-ids`),
		};
		return twoWaySync(source, destination, {
			state: state.baseline,
			stateCopy: new ProviderStateStore(destination, 'two-way-test'),
			pair: 'test pair',
			feed,
			lock: { settleMs: 0 },
			pacer: quickPacer(),
			...extra,
		});
	};

	/** Both trees alike, and a full listing of both against the saved baseline finding nothing to do: the baseline the changes left is the one a full run would have. */
	async function expectConverged(source: Provider, destination: Provider, state: ReturnType<typeof states>) {
		expect(await tree(destination)).toEqual(await tree(source));
		const check = await twoWaySync(source, destination, { state: state.baseline, pair: 'test pair', dryRun: true, pacer: quickPacer() });
		expect(check.firstRun).toBe(false);
		expect(check.actions).toEqual([]);
	}

	// Listings of a tree (recursive); a folder's first page read to find a few changed names in it is a lookup, not counted.
	const dropboxListings = () =>
		emulators.dropbox.server.log.filter((entry) => entry.path === '/2/files/list_folder' && (JSON.parse(entry.arg ?? '{}') as { recursive?: boolean }).recursive === true).length;
	const driveListings = (folderId: string) =>
		emulators.drive.server.requests(/^GET \/drive\/v3\/files$/).filter((entry) => {
			const query = new URLSearchParams(entry.query).get('q') ?? '';
			return query.includes(`'${folderId}' in parents`) && !query.includes('name =');
		}).length;
	const calls = () => ({ dropbox: emulators.dropbox.server.log.filter((entry) => !entry.path.endsWith('/token')).length, drive: emulators.drive.server.log.filter((entry) => !entry.path.endsWith('/token')).length });

	it('Dropbox ⇄ Drive: edits, deletions, a folder move and new files on both sides are planned from the feeds, end as a full listing would, and a no-op costs the feeds alone', async () => {
		const { folderId, openDrive, openDropbox, dropboxUser, driveUser } = await pair();
		for (let i = 0; i < 12; i++) await put(dropboxUser, `docs/d${i}.txt`, `doc ${i}`, T0);
		// Sizes differ, so that each moved photo is told apart from the others by size and time before its content proves the move.
		for (let i = 0; i < 3; i++) await put(dropboxUser, `photos/p${i}.jpg`, `photo ${'x'.repeat(i)}`, T0);
		await put(driveUser, 'drive-only.txt', 'from drive', T0);
		const state = states();

		const first = await run(openDropbox(), await openDrive(), state, T0);
		expect(first).toMatchObject({ status: 'success', listing: 'full', firstRun: true });
		expect(first.listingReason).toMatch(/first run/);
		expect(first.toDestination.added).toBe(15);
		expect(first.toSource.added).toBe(1);
		// The first run's own copies are checked again once, and found as it left them.
		const second = await run(openDropbox(), await openDrive(), state, T0 + DAY / 4);
		expect(second).toMatchObject({ status: 'success', listing: 'changes', actions: [] });

		// Between runs, on the source: an edit, a deletion, a new file, a folder moved; on the destination: a new file and a deletion.
		await put(dropboxUser, 'docs/d0.txt', 'doc 0, second draft', T0 + DAY);
		await dropboxUser.delete('docs/d1.txt');
		await put(dropboxUser, 'docs/new-on-dropbox.txt', 'new', T0 + DAY);
		await dropboxUser.move('photos', 'archive/photos');
		await put(driveUser, 'docs/new-on-drive.txt', 'new on drive', T0 + DAY);
		await driveUser.delete('docs/d2.txt');

		const [dropboxBefore, driveBefore] = [dropboxListings(), driveListings(folderId)];
		const third = await run(openDropbox(), await openDrive(), state, T0 + DAY / 2 + DAY);
		expect(third).toMatchObject({ status: 'success', listing: 'changes' });
		expect(third.listingReason).toMatch(/changed path/);
		// Neither root is listed: Dropbox lists the folder the move created and, before a deletion on Drive, the folder that no longer holds the file; Drive none of the synced folder's children.
		expect(dropboxListings() - dropboxBefore).toBeLessThanOrEqual(2);
		expect(driveListings(folderId) - driveBefore).toBe(0);
		const done = (side: 'source' | 'destination', kind: string) => third.actions.filter((action) => action.side === side && action.kind === kind && action.status === 'done').map((action) => action.path).sort();
		expect(done('destination', 'update')).toEqual(['docs/d0.txt']);
		expect(done('destination', 'delete')).toEqual(['docs/d1.txt']);
		expect(done('source', 'delete')).toEqual(['docs/d2.txt']);
		expect(done('source', 'copy')).toEqual(['docs/new-on-drive.txt']);
		expect(done('destination', 'copy')).toEqual(['docs/new-on-dropbox.txt']);
		// The folder moved on the source is moved on the destination, file by file, with nothing uploaded again.
		expect(done('destination', 'rename')).toEqual(['archive/photos/p0.jpg', 'archive/photos/p1.jpg', 'archive/photos/p2.jpg']);
		expect(await tree(await openDrive())).not.toHaveProperty('photos/p0.jpg');
		await expectConverged(openDropbox(), await openDrive(), state);

		// Settled: the run after re-checks its own writes; the one after that reads the two feeds and nothing else.
		expect(await run(openDropbox(), await openDrive(), state, T0 + 2 * DAY)).toMatchObject({ status: 'success', listing: 'changes', actions: [] });
		const before = calls();
		const noop = await run(openDropbox(), await openDrive(), state, T0 + 2 * DAY + DAY / 4);
		expect(noop).toMatchObject({ status: 'success', listing: 'changes', actions: [], baselineSaved: true });
		expect(noop.baselineFiles).toBe(16);
		const after = calls();
		expect(after.dropbox - before.dropbox).toBeLessThanOrEqual(3);
		expect(after.drive - before.drive).toBeLessThanOrEqual(3);
	});

	it('a queue-mode worker with neither the baseline nor the cursors in static data plans from the changes with the copies on the destination, Drive’s permanent deletions placed by the index in the feed copy', async () => {
		const { folderId, openDrive, openDropbox, dropboxUser } = await pair();
		for (let i = 0; i < 4; i++) await put(dropboxUser, `w/f${i}.txt`, `file ${'x'.repeat(i)}`, T0);
		expect(await run(openDropbox(), await openDrive(), states(), T0)).toMatchObject({ status: 'success', listing: 'full' });
		// Another process deletes a file on Drive for good (Drive names it by id alone) and adds one on Dropbox.
		emulators.drive.remove(emulators.drive.statPath('w/f1.txt', folderId)!.id!);
		await put(dropboxUser, 'w/new.txt', 'new', T0 + DAY);
		const driveBefore = driveListings(folderId);
		const worker = await run(openDropbox(), await openDrive(), states(), T0 + DAY);
		expect(worker).toMatchObject({ status: 'success', listing: 'changes', firstRun: false, baselineFromCopy: true });
		expect(driveListings(folderId) - driveBefore).toBe(0);
		expect(worker.actions.filter((action) => action.status === 'done').map((action) => `${action.kind} ${action.side} ${action.path}`).sort()).toEqual(['copy destination w/new.txt', 'delete source w/f1.txt']);
		await expectConverged(openDropbox(), await openDrive(), { baseline: new MemoryStateStore(await new ProviderStateStore(await openDrive(), 'two-way-test').load()), cursors: new MemoryStateStore() });
	});

	it('a change on both sides is a conflict decided by content, as in a full run; a move is carried as a move', async () => {
		const { openDrive, openDropbox, dropboxUser, driveUser } = await pair();
		await put(dropboxUser, 'shared.txt', 'v1', T0);
		await put(dropboxUser, 'same.txt', 'v1', T0);
		await put(dropboxUser, 'a/moved.txt', 'will move', T0);
		const state = states();
		await run(openDropbox(), await openDrive(), state, T0);
		await run(openDropbox(), await openDrive(), state, T0 + DAY / 4);

		// Both sides edit shared.txt differently; both write the same new bytes to same.txt; the source moves a file.
		await put(dropboxUser, 'shared.txt', 'edited on dropbox', T0 + DAY);
		await put(dropboxUser, 'same.txt', 'identical edit', T0 + DAY);
		await put(await openDrive(), 'shared.txt', 'edited on drive!', T0 + DAY + 5000);
		await put(await openDrive(), 'same.txt', 'identical edit', T0 + DAY + 5000);
		await dropboxUser.move('a/moved.txt', 'b/moved.txt');
		const third = await run(openDropbox(), await openDrive(), state, T0 + DAY + 1);
		expect(third).toMatchObject({ status: 'success', listing: 'changes' });
		expect(third.actions.find((action) => action.kind === 'rename' && action.from === 'a/moved.txt')).toMatchObject({ side: 'destination', path: 'b/moved.txt', status: 'done' });
		// Equal size and time after two edits prove nothing: the contents are compared, and only shared.txt is a conflict.
		expect(third.conflicts.map((conflict) => conflict.path)).toEqual(['shared.txt']);
		expect(third.conflicts[0]).toMatchObject({ winner: 'destination', keptAs: expect.stringMatching(/^shared \(conflict source .*\)\.txt$/) });
		await expectConverged(openDropbox(), await openDrive(), state);
		const drive = await tree(await openDrive());
		expect(Object.keys(drive).filter((file) => file.startsWith('shared'))).toHaveLength(2);
		void driveUser;
	});

	it('falls back to a full listing when a cursor expired, the periodic full check is due, the settings changed, or the changes would delete many files', async () => {
		const { openDrive, openDropbox, dropboxUser } = await pair();
		for (let i = 0; i < 6; i++) await put(dropboxUser, `f${i}.txt`, `file ${i}`, T0);
		const state = states();
		const go = async (at: number, extra: Partial<TwoWayOptions> = {}, settings?: string) => run(openDropbox(), await openDrive(), state, at, extra, settings);
		expect((await go(T0)).listing).toBe('full');
		expect((await go(T0 + DAY)).listing).toBe('changes');

		emulators.dropbox.resetCursors();
		await put(dropboxUser, 'late.txt', 'late', T0 + DAY);
		const expired = await go(T0 + 2 * DAY);
		expect(expired).toMatchObject({ status: 'success', listing: 'full' });
		expect(expired.listingReason).toMatch(/expired/);
		expect(expired.toDestination.added).toBe(1);
		expect((await go(T0 + 3 * DAY)).listing).toBe('changes');

		// The last full listing was at T0 + 2 days: due again 7 days later.
		expect((await go(T0 + 8 * DAY)).listing).toBe('changes');
		const due = await go(T0 + 9 * DAY);
		expect(due.listing).toBe('full');
		expect(due.listingReason).toMatch(/periodic full check/);
		expect((await go(T0 + 10 * DAY)).listing).toBe('changes');

		const changed = await go(T0 + 11 * DAY, {}, 'twoWay|*.txt');
		expect(changed.listing).toBe('full');
		expect(changed.listingReason).toMatch(/folders, mode or filters changed/);

		// Five of the seven files deleted on the source: the full listing's guard refuses, as in any full run, and the cursors stay.
		for (let i = 0; i < 5; i++) await dropboxUser.delete(`f${i}.txt`);
		const saved = state.cursors.state;
		const refused = await go(T0 + 12 * DAY, { maxDeletes: 3 }, 'twoWay|*.txt').catch((error: Error) => error);
		expect(refused).toBeInstanceOf(Error);
		expect((refused as Error).message).toMatch(/delete 5 files on the destination, more than the limit of 3/);
		expect(state.cursors.state).toBe(saved);
		expect(Object.keys(await tree(await openDrive()))).toHaveLength(7);
	});

	it('Drive ⇄ Dropbox: an edit, a move and a permanent deletion a new process’s Drive feed names by id alone are placed with the index of ids the last run kept', async () => {
		const { openDrive, openDropbox, driveUser, dropboxUser, folderId } = await pair();
		// Sizes differ, so that a moved file is told apart from a deleted one by size and time before its content proves the move.
		for (let i = 0; i < 4; i++) await put(driveUser, `a/f${i}.txt`, `file ${'x'.repeat(i)}`, T0);
		const state = states();
		expect((await run(await openDrive(), openDropbox(), state, T0)).listing).toBe('full');
		// New files on Drive are placed (created after the cursor), and so is every change on Dropbox.
		await put(driveUser, 'a/new.txt', 'new', T0 + 1000);
		await put(dropboxUser, 'a/f1.txt', 'changed on dropbox', T0 + DAY);
		const second = await run(await openDrive(), openDropbox(), state, T0 + DAY);
		expect(second).toMatchObject({ status: 'success', listing: 'changes' });
		expect(second.toDestination.added).toBe(1);
		expect(second.toSource.updated).toBe(1);
		await expectConverged(await openDrive(), openDropbox(), state);

		// Each by a process other than the runs': Drive's feed then names these items by id alone.
		await (await openDrive()).move('a/f0.txt', 'b/f0.txt');
		await put(await openDrive(), 'a/f2.txt', 'file 2, edited on drive', T0 + 2 * DAY);
		emulators.drive.remove(emulators.drive.statPath('a/f3.txt', folderId)!.id!);
		const [driveBefore, downloadsBefore] = [driveListings(folderId), emulators.drive.server.requests(/alt=media/).length];
		const third = await run(await openDrive(), openDropbox(), state, T0 + 2 * DAY);
		expect(third).toMatchObject({ status: 'success', listing: 'changes' });
		expect(driveListings(folderId) - driveBefore).toBe(0);
		const done = (kind: string) => third.actions.filter((action) => action.side === 'destination' && action.kind === kind && action.status === 'done').map((action) => `${action.from ?? ''}>${action.path}`);
		expect(done('rename')).toEqual(['a/f0.txt>b/f0.txt']);
		expect(done('update')).toEqual(['a/f2.txt>a/f2.txt']);
		expect(done('delete')).toEqual(['>a/f3.txt']);
		// The index is read once (one download) beside the one file copied.
		expect(emulators.drive.server.requests(/alt=media/).length - downloadsBefore).toBeLessThanOrEqual(3);
		await expectConverged(await openDrive(), openDropbox(), state);
		expect(Object.keys(await tree(openDropbox())).sort()).toEqual(['a/f1.txt', 'a/f2.txt', 'a/new.txt', 'b/f0.txt']);

		// A run kept no index of its ids (an older state, or it was lost): what Drive names by id alone lists in full.
		await put(await openDrive(), 'a/f1.txt', 'edited again', T0 + 3 * DAY);
		const cursors = JSON.parse(state.cursors.state!) as { indexes?: Record<string, string> };
		state.cursors.state = JSON.stringify({ ...cursors, indexes: undefined });
		const fourth = await run(await openDrive(), openDropbox(), state, T0 + 3 * DAY);
		expect(fourth).toMatchObject({ status: 'success', listing: 'full' });
		expect(fourth.listingReason).toMatch(/by id alone/);
		await expectConverged(await openDrive(), openDropbox(), state);
	});
});
