import { randomBytes } from 'node:crypto';
import { MemoryStateStore, ProviderStateStore, sync, type FeedOptions, type Provider, type SyncOptions } from '../lib';
import { DropboxProvider } from '../lib/providers/dropbox';
import { OneDriveProvider } from '../lib/providers/onedrive';
import { OneDriveEmulator } from './emulators/onedrive';
import { emulatorsForBlock, feedPair, put, tree } from './support/sides';
import { quickPacer } from './support/dropbox';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T10:00:00Z');

describe('scheduled one-way runs planned from both sides’ change feeds (Drive and Dropbox emulators)', () => {
	const emulators = emulatorsForBlock(31);

	const pair = () => feedPair(emulators);

	let clock = T0;
	function feedOf(state: MemoryStateStore, destination: Provider, settings = 'mirror|*'): FeedOptions {
		return { state, copy: new ProviderStateStore(destination, 'one-way-test'), settings, fullEveryMs: 7 * DAY, now: () => clock };
	}

	const run = (source: Provider, destination: Provider, feed: FeedOptions, at: number, extra: Partial<SyncOptions> = {}) => {
		clock = at;
		return sync(source, destination, { mode: 'mirror', feed, pacer: quickPacer(), ...extra });
	};

	/** What a full listing of both trees would still do: nothing, when the run driven by changes converged. */
	async function expectConverged(source: Provider, destination: Provider) {
		expect(await tree(destination)).toEqual(await tree(source));
		const check = await sync(source, destination, { mode: 'mirror', dryRun: true, pacer: quickPacer() });
		expect(check.plan.actions.filter((action) => action.kind !== 'skip')).toEqual([]);
	}

	// Listings of a tree (recursive); a folder's first page read to find a few changed names in it is a lookup, not counted.
	const dropboxListings = () =>
		emulators.dropbox.server.log.filter((entry) => entry.path === '/2/files/list_folder' && (JSON.parse(entry.arg ?? '{}') as { recursive?: boolean }).recursive === true).length;
	const driveRootListings = (folderId: string) => emulators.drive.server.requests(/^GET \/drive\/v3\/files$/).filter((entry) => {
			// A listing asks for a folder's children; a path lookup asks for a child by name.
			const query = new URLSearchParams(entry.query).get('q') ?? '';
			return query.includes(`'${folderId}' in parents`) && !query.includes('name =');
		}).length;

	it('Mirror Dropbox → Drive: edits, deletes and a folder move on the source and edits on the destination are planned from the feeds and end as a full listing would', async () => {
		const { folderId, openDrive, openDropbox, dropboxUser, driveUser } = await pair();
		for (let i = 0; i < 20; i++) await put(dropboxUser, `docs/d${i}.txt`, `doc ${i}`, T0);
		for (let i = 0; i < 4; i++) await put(dropboxUser, `photos/p${i}.jpg`, `photo ${i}`, T0);
		await put(dropboxUser, 'top.txt', 'top', T0);
		const state = new MemoryStateStore();

		let destination = await openDrive();
		const listedBefore = driveRootListings(folderId);
		const first = await run(openDropbox(), destination, feedOf(state, destination), T0);
		// The counter sees a full listing when there is one.
		expect(driveRootListings(folderId)).toBeGreaterThan(listedBefore);
		expect(first).toMatchObject({ status: 'success', added: 25, listing: 'full' });
		expect(first.listingReason).toMatch(/first run/);
		// The next run re-checks what the first one wrote (it might have been changed again meanwhile), and nothing else.
		destination = await openDrive();
		expect(await run(openDropbox(), destination, feedOf(state, destination), T0 + DAY / 2)).toMatchObject({ status: 'success', listing: 'changes', added: 0, updated: 0 });

		// Between runs: the source edited, deleted, added to and a folder moved; the destination edited by hand.
		await put(dropboxUser, 'docs/d0.txt', 'doc 0, second draft', T0 + 60_000);
		await dropboxUser.delete('docs/d1.txt');
		await put(dropboxUser, 'new.txt', 'new', T0 + 60_000);
		await dropboxUser.move('photos', 'archive/photos');
		await driveUser.delete('docs/d2.txt');
		await put(driveUser, 'stray.txt', 'not on the source', T0 + 60_000);

		const [dropboxBefore, driveBefore] = [dropboxListings(), driveRootListings(folderId)];
		destination = await openDrive();
		const second = await run(openDropbox(), destination, feedOf(state, destination), T0 + DAY);
		expect(second.listing).toBe('changes');
		expect(second.status).toBe('success');
		// No listing of either root: Dropbox lists only the moved folder, Drive never lists the synced folder's children.
		expect(dropboxListings() - dropboxBefore).toBeLessThanOrEqual(1);
		expect(driveRootListings(folderId) - driveBefore).toBe(0);
		await expectConverged(openDropbox(), await openDrive());

		// The run's own writes to Drive are carried over, so the next run still plans from the feeds, and a no-op costs a few calls a side.
		const [dropboxCalls, driveCalls] = [emulators.dropbox.server.log.length, emulators.drive.server.log.length];
		destination = await openDrive();
		const third = await run(openDropbox(), destination, feedOf(state, destination), T0 + 2 * DAY);
		expect(third).toMatchObject({ status: 'success', listing: 'changes', added: 0, updated: 0, deleted: 0 });
		const noop = { dropbox: emulators.dropbox.server.log.length - dropboxCalls, drive: emulators.drive.server.log.length - driveCalls };
		const fourthStart = { dropbox: emulators.dropbox.server.log.length, drive: emulators.drive.server.log.length };
		destination = await openDrive();
		const fourth = await run(openDropbox(), destination, feedOf(state, destination), T0 + 3 * DAY);
		expect(fourth).toMatchObject({ status: 'success', listing: 'changes', added: 0 });
		const settled = { dropbox: emulators.dropbox.server.log.length - fourthStart.dropbox, drive: emulators.drive.server.log.length - fourthStart.drive };
		// Token refreshes aside (one per new provider), a settled no-op is the change feed and nothing else.
		expect(settled.dropbox).toBeLessThanOrEqual(3);
		expect(settled.drive).toBeLessThanOrEqual(3);
		expect(noop.dropbox).toBeGreaterThanOrEqual(settled.dropbox);
	});

	it('Mirror Drive → Dropbox without an index of Drive’s ids: what Drive cannot place (an edit of a file this run never saw) falls back to a full listing, and saying so', async () => {
		const { openDrive, openDropbox, driveUser, dropboxUser } = await pair();
		for (let i = 0; i < 5; i++) await put(driveUser, `a/f${i}.txt`, `file ${i}`, T0);
		const state = new MemoryStateStore();
		let destination = openDropbox();
		expect(await run(await openDrive(), destination, feedOf(state, destination), T0)).toMatchObject({ status: 'success', added: 5, listing: 'full' });

		// New files on Drive are placed (created after the cursor); so are the destination's own changes on Dropbox.
		await put(driveUser, 'a/new.txt', 'new', T0 + 1000);
		await dropboxUser.delete('a/f3.txt');
		await put(dropboxUser, 'a/f4.txt', 'changed on the destination', T0 + 1000);
		destination = openDropbox();
		const second = await run(await openDrive(), destination, feedOf(state, destination), T0 + DAY);
		expect(second).toMatchObject({ status: 'success', listing: 'changes', added: 2, updated: 1 });
		await expectConverged(await openDrive(), openDropbox());

		// An older Drive file edited in place or moved: Drive's feed does not say where it was before.
		const fresh = await openDrive();
		await fresh.move('a/f0.txt', 'b/f0.txt');
		destination = openDropbox();
		const third = await run(await openDrive(), destination, feedOf(state, destination), T0 + 2 * DAY);
		expect(third).toMatchObject({ status: 'success', listing: 'full' });
		expect(third.listingReason).toMatch(/cannot place/);
		await expectConverged(await openDrive(), openDropbox());
	});

	it('Mirror Drive → Dropbox with an index of Drive’s ids: an edit, a move and a permanent deletion by another process are planned from the feeds, and the destination’s own changes are put back', async () => {
		const { folderId, openDrive, openDropbox, driveUser, dropboxUser } = await pair();
		// Sizes differ, so that the moved file is told apart by size and time.
		for (let i = 0; i < 5; i++) await put(driveUser, `a/f${i}.txt`, `file ${'x'.repeat(i)}`, T0);
		const state = new MemoryStateStore();
		const indexed = (destination: Provider): FeedOptions => ({ ...feedOf(state, destination), index: (side) => new ProviderStateStore(destination, `one-way-test-${side}-ids`) });
		let destination = openDropbox();
		expect(await run(await openDrive(), destination, indexed(destination), T0)).toMatchObject({ status: 'success', added: 5, listing: 'full' });

		await (await openDrive()).move('a/f0.txt', 'b/f0.txt');
		await put(await openDrive(), 'a/f1.txt', 'file 1, edited', T0 + DAY);
		emulators.drive.remove(emulators.drive.statPath('a/f2.txt', folderId)!.id!);
		await put(dropboxUser, 'a/f3.txt', 'changed on the destination', T0 + DAY);
		await dropboxUser.delete('a/f4.txt');
		const [dropboxBefore, driveBefore] = [dropboxListings(), driveRootListings(folderId)];
		destination = openDropbox();
		const second = await run(await openDrive(), destination, indexed(destination), T0 + DAY);
		expect(second).toMatchObject({ status: 'success', listing: 'changes', deleted: 2 });
		expect(second.listingReason).toMatch(/changed path/);
		expect(driveRootListings(folderId) - driveBefore).toBe(0);
		// Dropbox lists a folder or two (the one the first run wrote, checked again as its own write; the engine's own) but never the tree.
		expect(dropboxListings() - dropboxBefore).toBeLessThanOrEqual(3);
		await expectConverged(await openDrive(), openDropbox());
		expect(await tree(openDropbox())).toEqual(await tree(await openDrive()));
		expect(Object.keys(await tree(openDropbox())).sort()).toEqual(['a/f1.txt', 'a/f3.txt', 'a/f4.txt', 'b/f0.txt']);
	});

	it('a queue-mode worker without the static data plans from the changes with the copy on the destination alone: its cursors and the index of Drive’s ids travel together', async () => {
		const { folderId, openDrive, openDropbox } = await pair();
		for (let i = 0; i < 4; i++) await put(await openDrive(), `w/f${i}.txt`, `file ${'x'.repeat(i)}`, T0);
		const indexed = (state: MemoryStateStore, destination: Provider): FeedOptions => ({ ...feedOf(state, destination), index: (side) => new ProviderStateStore(destination, `one-way-test-${side}-ids`) });
		let destination = openDropbox();
		expect(await run(await openDrive(), destination, indexed(new MemoryStateStore(), destination), T0)).toMatchObject({ status: 'success', added: 4, listing: 'full' });
		// Another worker, another day: a new file, and a permanent deletion Drive names by id alone.
		await put(await openDrive(), 'w/new.txt', 'new', T0 + DAY);
		emulators.drive.remove(emulators.drive.statPath('w/f1.txt', folderId)!.id!);
		const [driveBefore, dropboxBefore] = [driveRootListings(folderId), dropboxListings()];
		destination = openDropbox();
		const worker = await run(await openDrive(), destination, indexed(new MemoryStateStore(), destination), T0 + DAY);
		expect(worker).toMatchObject({ status: 'success', listing: 'changes', added: 1, deleted: 1 });
		expect(driveRootListings(folderId) - driveBefore).toBe(0);
		expect(dropboxListings() - dropboxBefore).toBeLessThanOrEqual(2);
		expect(Object.keys(await tree(openDropbox())).sort()).toEqual(['w/f0.txt', 'w/f2.txt', 'w/f3.txt', 'w/new.txt']);
		// A third worker, again with the copy alone: the index the second one left places the next deletion.
		emulators.drive.remove(emulators.drive.statPath('w/new.txt', folderId)!.id!);
		destination = openDropbox();
		const third = await run(await openDrive(), destination, indexed(new MemoryStateStore(), destination), T0 + 2 * DAY);
		expect(third).toMatchObject({ status: 'success', listing: 'changes', deleted: 1 });
		await expectConverged(await openDrive(), openDropbox());
	});

	it('Mirror OneDrive → Dropbox: a folder and a file another process moved (the delta names them only where they are now) are placed with the index of ids', async () => {
		const onedrive = await OneDriveEmulator.start({ driveType: 'business', seed: 34 });
		try {
			const name = `pair-${randomBytes(4).toString('hex')}`;
			onedrive.seedFolder(name);
			emulators.dropbox.seedFolder(`/${name}`);
			const openOneDrive = () => OneDriveProvider.open({ auth: onedrive.credentials, root: `/${name}`, apiBaseUrl: onedrive.baseUrl, pacer: quickPacer() });
			const openDropbox = () => new DropboxProvider({ auth: emulators.dropbox.credentials, root: `/${name}`, apiBaseUrl: emulators.dropbox.baseUrl, pacer: quickPacer() });
			const user = await openOneDrive();
			for (let i = 0; i < 3; i++) await put(user, `old/f${i}.txt`, `file ${'x'.repeat(i)}`, T0);
			await put(user, 'top.txt', 'top', T0);
			for (let i = 0; i < 6; i++) await put(user, `keep/k${i}.txt`, `kept ${i}`, T0);
			const state = new MemoryStateStore();
			const indexed = (destination: Provider): FeedOptions => ({ ...feedOf(state, destination), index: (side) => new ProviderStateStore(destination, `one-way-od-${side}-ids`) });
			let destination = openDropbox();
			expect(await run(await openOneDrive(), destination, indexed(destination), T0)).toMatchObject({ status: 'success', added: 10, listing: 'full' });

			await (await openOneDrive()).move('old', 'new');
			await (await openOneDrive()).move('top.txt', 'new/top.txt');
			destination = openDropbox();
			const second = await run(await openOneDrive(), destination, indexed(destination), T0 + DAY);
			expect(second).toMatchObject({ status: 'success', listing: 'changes', deleted: 4 });
			await expectConverged(await openOneDrive(), openDropbox());
			expect(Object.keys(await tree(openDropbox())).filter((file) => !file.startsWith('keep/')).sort()).toEqual(['new/f0.txt', 'new/f1.txt', 'new/f2.txt', 'new/top.txt']);
		} finally {
			await onedrive.stop();
		}
	});

	it('falls back to a full listing when a cursor expired, the periodic full check is due, or the settings changed', async () => {
		const { openDrive, openDropbox, dropboxUser } = await pair();
		await put(dropboxUser, 'x.txt', 'x', T0);
		const state = new MemoryStateStore();
		const go = async (at: number, settings?: string) => {
			const destination = await openDrive();
			return run(openDropbox(), destination, feedOf(state, destination, settings), at);
		};
		expect((await go(T0)).listing).toBe('full');
		expect((await go(T0 + DAY)).listing).toBe('changes');

		emulators.dropbox.resetCursors();
		await put(dropboxUser, 'y.txt', 'y', T0);
		const expired = await go(T0 + 2 * DAY);
		expect(expired).toMatchObject({ status: 'success', listing: 'full', added: 1 });
		expect(expired.listingReason).toMatch(/expired/);
		const after = await go(T0 + 3 * DAY);
		expect(after.listingReason).toMatch(/changed path/);

		// The last full listing was at T0 + 2 days: due again 7 days later.
		expect((await go(T0 + 8 * DAY)).listing).toBe('changes');
		const due = await go(T0 + 9 * DAY);
		expect(due.listing).toBe('full');
		expect(due.listingReason).toMatch(/periodic full check/);
		expect((await go(T0 + 10 * DAY)).listing).toBe('changes');

		const changed = await go(T0 + 11 * DAY, 'mirror|*.txt');
		expect(changed.listing).toBe('full');
		expect(changed.listingReason).toMatch(/folders, mode or filters changed/);
	});

	it('keeps the cursors where they were after a run that did not fully succeed', async () => {
		const { openDrive, openDropbox, dropboxUser } = await pair();
		await put(dropboxUser, 'x.txt', 'x', T0);
		const state = new MemoryStateStore();
		let destination = await openDrive();
		await run(openDropbox(), destination, feedOf(state, destination), T0);
		const saved = state.state;
		await put(dropboxUser, 'y.txt', 'y', T0);
		emulators.drive.server.inject({ route: /upload/, kind: 'unavailable', probability: 1 });
		destination = await openDrive();
		const failed = await run(openDropbox(), destination, feedOf(state, destination), T0 + DAY, { pacer: quickPacer({ retriesPerRequest: 1 }) }).catch((error: Error) => error);
		emulators.drive.server.clearFaults();
		expect(state.state).toBe(saved);
		expect(failed instanceof Error || failed.status !== 'success').toBe(true);
		destination = await openDrive();
		const retried = await run(openDropbox(), destination, feedOf(state, destination), T0 + DAY);
		expect(retried).toMatchObject({ status: 'success', listing: 'changes', added: 1 });
		await expectConverged(openDropbox(), await openDrive());
	});
});
