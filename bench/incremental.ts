/**
 * Scheduled runs planned from change feeds: the API calls a side pays for a Mirror and a Two-Way
 * between two emulated clouds (Google Drive and Dropbox, test/emulators/, in this process) when
 * nothing changed and after 10 changes, next to the full listing the first run makes. Both trees are
 * seeded alike (same sizes and times), so no run copies anything it need not. Every run opens new
 * providers, as each n8n execution does, and keeps its state as the node does: cursors in memory
 * (n8n's static data), their copy with Drive's id index and the two-way baseline in files on the
 * destination.
 *
 *   npm run bench -- --case incremental [--quick] [--calls]     100,000 files (2,000 with --quick); --calls prints each call of the runs after the changes
 *
 * Prints a table; asserts nothing. Token refreshes (one per opened provider) are counted apart.
 */
import { Pacer, PointerStateStore, ProviderStateStore, sync, twoWaySync, type FeedOptions, type Provider, MemoryStateStore } from '../lib';
import { GoogleDriveProvider } from '../lib/providers/drive';
import { DropboxProvider } from '../lib/providers/dropbox';
import { DriveEmulator } from '../test/emulators/drive';
import { DropboxEmulator } from '../test/emulators/dropbox';
import type { LoggedRequest } from '../test/emulators/core/server';
import { printTable } from './figures';

export interface FeedRow {
	step: string;
	listing: string;
	driveCalls: number;
	dropboxCalls: number;
	tokenCalls: number;
	seconds: number;
	/** Each call of the run, side, method and what it was about (token refreshes left out). */
	calls: string[];
}

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;
const PER_FOLDER = 1000;

export async function measureIncremental(files: number, mode: 'mirror' | 'twoWay' = 'mirror'): Promise<FeedRow[]> {
	const drive = new DriveEmulator();
	await drive.start();
	const dropbox = await DropboxEmulator.start({ seed: 3 });
	try {
		const top = drive.addFolder(drive.myDriveRootId, 'Bench');
		dropbox.seedFolder('/Bench');
		const ids: string[] = [];
		let folder = '';
		for (let i = 0; i < files; i++) {
			if (i % PER_FOLDER === 0) folder = drive.addFolder(top, `d${i / PER_FOLDER}`);
			const name = `f${i}.txt`;
			const content = `file ${i}`;
			ids.push(drive.addFile(folder, name, content, { modifiedTime: T0 }));
			dropbox.seedFile(`/Bench/d${Math.floor(i / PER_FOLDER)}/${name}`, content, { clientModified: T0 });
		}
		const pacer = () => new Pacer({ baseDelayMs: 1, maxDelayMs: 20 });
		const auth = drive.addOAuthClient();
		const state = new MemoryStateStore();
		const baseline = new MemoryStateStore();
		const lockMemo = new MemoryStateStore();
		const rows: FeedRow[] = [];
		const step = async (name: string, at: number) => {
			// Every run opens its own providers, as each n8n execution does.
			const source = await GoogleDriveProvider.open({ auth, root: top, apiBaseUrl: drive.baseUrl, pacer: pacer() });
			const destination: Provider = new DropboxProvider({ auth: dropbox.credentials, root: '/Bench', apiBaseUrl: dropbox.baseUrl, pacer: pacer() });
			const feed: FeedOptions = {
				state,
				copy: new ProviderStateStore(destination, `bench-${mode}-feed`),
				settings: mode,
				fullEveryMs: 7 * DAY,
				now: () => at,
				index: (side) => new ProviderStateStore(destination, `bench-${mode}-${side}-ids`),
			};
			const [driveFrom, dropboxFrom] = [drive.server.log.length, dropbox.server.log.length];
			const started = process.hrtime.bigint();
			const onDestination = new ProviderStateStore(destination, `bench-${mode}`);
			const report =
				mode === 'mirror'
					? await sync(source, destination, { mode: 'mirror', feed, pacer: pacer() })
					: await twoWaySync(source, destination, {
							// As the node keeps it: static data holds a pointer to the large state in the destination's file.
							state: new PointerStateStore(baseline, onDestination),
							stateCopy: onDestination,
							pair: 'bench',
							feed,
							pacer: pacer(),
							lock: { settleMs: 0, memo: lockMemo },
						});
			const seconds = Number(process.hrtime.bigint() - started) / 1e9;
			if (report.status !== 'success') throw new Error(`${name}: the run ended ${report.status}: ${report.failure?.message ?? ''}`);
			const driveLog = drive.server.log.slice(driveFrom);
			const dropboxLog = dropbox.server.log.slice(dropboxFrom);
			const isToken = (entry: { path: string }) => entry.path.endsWith('/token');
			const described = (side: string, log: LoggedRequest[]) =>
				log.filter((entry) => !isToken(entry)).map((entry) => `${side} ${entry.method} ${entry.path}${entry.query ? decodeURIComponent(entry.query).slice(0, 160) : ''}${entry.arg ? ` ${entry.arg.slice(0, 200)}` : ''}`);
			rows.push({
				step: name,
				listing: report.listing ?? '',
				driveCalls: driveLog.filter((entry) => !isToken(entry)).length,
				dropboxCalls: dropboxLog.filter((entry) => !isToken(entry)).length,
				tokenCalls: driveLog.filter(isToken).length + dropboxLog.filter(isToken).length,
				seconds: Math.round(seconds * 100) / 100,
				calls: [...described('Drive', driveLog), ...described('Dropbox', dropboxLog)],
			});
		};
		const count = files.toLocaleString('en-US');
		const name = mode === 'mirror' ? 'Mirror' : 'Two-Way';
		await step(`${name} ${count} files, first run (full listing)`, T0);
		await step(`no-op scheduled ${name}`, T0 + DAY / 4);
		await step(`no-op scheduled ${name}, again`, T0 + DAY / 2);
		if (mode === 'mirror') {
			// 10 changes: 4 new files, an edit in place, a move, a permanent deletion and a trashed file on the source; an edit and a deletion on the destination.
			for (let i = 0; i < 4; i++) drive.addFile(top, `new-${i}.txt`, `new ${i}`, { modifiedTime: T0 + DAY });
			drive.writeContent(ids[6], 'edited on the source');
			drive.move(ids[7], top);
			drive.remove(ids[8]);
			drive.trash(ids[PER_FOLDER + 1]);
			dropbox.seedFile('/Bench/d0/f2.txt', 'edited on the destination', { clientModified: T0 + DAY });
			dropbox.remove('/Bench/d0/f4.txt');
		} else {
			// 10 changes on both sides: Drive gets 2 new files, an edit in place, a move, a permanent deletion; Dropbox 2 new files, 2 edits, a deletion.
			for (let i = 0; i < 2; i++) drive.addFile(top, `new-${i}.txt`, `new ${i}`, { modifiedTime: T0 + DAY });
			drive.writeContent(ids[6], 'edited on drive');
			drive.move(ids[7], top);
			drive.remove(ids[8]);
			for (let i = 0; i < 2; i++) dropbox.seedFile(`/Bench/d1/new-${i}.txt`, `new on dropbox ${i}`, { clientModified: T0 + DAY });
			dropbox.seedFile(`/Bench/d1/f${PER_FOLDER + 2}.txt`, 'edited on dropbox', { clientModified: T0 + DAY });
			dropbox.seedFile(`/Bench/d1/f${PER_FOLDER + 3}.txt`, 'edited on dropbox', { clientModified: T0 + DAY });
			dropbox.remove(`/Bench/d1/f${PER_FOLDER + 4}.txt`);
		}
		await step('after 10 changes', T0 + DAY);
		await step('next run (re-checks its own writes)', T0 + 1.25 * DAY);
		await step('no-op once settled', T0 + 1.5 * DAY);
		return rows;
	} finally {
		await drive.server.stop();
		await dropbox.server.stop();
	}
}

/** The table; with `calls`, each call of the runs after the changes too (what each costs, to tell a file's calls from a run's fixed ones). */
export function printIncrementalTable(rows: FeedRow[], calls = false): void {
	printTable(
		['step', 'listing', 'Drive calls', 'Dropbox calls', 'token calls', 's'],
		rows.map((row) => [row.step, row.listing, String(row.driveCalls), String(row.dropboxCalls), String(row.tokenCalls), row.seconds.toFixed(2)]),
	);
	if (!calls) return;
	for (const row of rows.filter((candidate) => candidate.step.startsWith('after') || candidate.step.startsWith('next'))) {
		console.log(`\nCalls of "${row.step}":`);
		for (const call of row.calls) console.log(`  ${call}`);
	}
}
