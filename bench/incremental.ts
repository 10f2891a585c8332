/**
 * Scheduled runs planned from change feeds: the API calls a side pays for a Mirror between two
 * emulated clouds (Google Drive → Dropbox, test/emulators/, in this process) when nothing changed
 * and after 10 changes, next to the full listing the first run makes. Both trees are seeded alike
 * (same sizes and times), so no run copies anything it need not.
 *
 *   npm run bench -- --case incremental [--quick]     100,000 files (2,000 with --quick)
 *
 * Prints a table; asserts nothing. Token refreshes (one per opened provider) are counted apart.
 */
import { Pacer, ProviderStateStore, sync, type FeedOptions, type Provider, MemoryStateStore } from '../lib';
import { GoogleDriveProvider } from '../lib/providers/drive';
import { DropboxProvider } from '../lib/providers/dropbox';
import { DriveEmulator } from '../test/emulators/drive';
import { DropboxEmulator } from '../test/emulators/dropbox';
import { printTable } from './figures';

interface FeedRow {
	step: string;
	listing: string;
	driveCalls: number;
	dropboxCalls: number;
	tokenCalls: number;
	seconds: number;
}

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;
const PER_FOLDER = 1000;

export async function measureIncremental(files: number): Promise<FeedRow[]> {
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
		const rows: FeedRow[] = [];
		const step = async (name: string, at: number) => {
			// Every run opens its own providers, as each n8n execution does.
			const source = await GoogleDriveProvider.open({ auth, root: top, apiBaseUrl: drive.baseUrl, pacer: pacer() });
			const destination: Provider = new DropboxProvider({ auth: dropbox.credentials, root: '/Bench', apiBaseUrl: dropbox.baseUrl, pacer: pacer() });
			const feed: FeedOptions = { state, copy: new ProviderStateStore(destination, 'bench-feed'), settings: 'mirror', fullEveryMs: 7 * DAY, now: () => at };
			const [driveFrom, dropboxFrom] = [drive.server.log.length, dropbox.server.log.length];
			const started = process.hrtime.bigint();
			const report = await sync(source, destination, { mode: 'mirror', feed, pacer: pacer() });
			const seconds = Number(process.hrtime.bigint() - started) / 1e9;
			if (report.status !== 'success') throw new Error(`${name}: the run ended ${report.status}: ${report.failure?.message ?? ''}`);
			const driveLog = drive.server.log.slice(driveFrom);
			const dropboxLog = dropbox.server.log.slice(dropboxFrom);
			const isToken = (entry: { path: string }) => entry.path.endsWith('/token');
			rows.push({
				step: name,
				listing: report.listing ?? '',
				driveCalls: driveLog.filter((entry) => !isToken(entry)).length,
				dropboxCalls: dropboxLog.filter((entry) => !isToken(entry)).length,
				tokenCalls: driveLog.filter(isToken).length + dropboxLog.filter(isToken).length,
				seconds: Math.round(seconds * 100) / 100,
			});
		};
		const count = files.toLocaleString('en-US');
		await step(`Mirror ${count} files, first run (full listing)`, T0);
		await step('no-op scheduled Mirror', T0 + DAY / 4);
		await step('no-op scheduled Mirror, again', T0 + DAY / 2);
		// 10 changes Drive's feed can place: 4 new files, 2 trashed on the source; 2 edits and 2 deletions on the destination.
		for (let i = 0; i < 4; i++) drive.addFile(top, `new-${i}.txt`, `new ${i}`, { modifiedTime: T0 + DAY });
		drive.trash(ids[1]);
		drive.trash(ids[PER_FOLDER + 1]);
		dropbox.seedFile('/Bench/d0/f2.txt', 'edited on the destination', { clientModified: T0 + DAY });
		dropbox.seedFile('/Bench/d0/f3.txt', 'edited on the destination', { clientModified: T0 + DAY });
		dropbox.remove('/Bench/d0/f4.txt');
		dropbox.remove('/Bench/d0/f5.txt');
		await step('after 10 changes', T0 + DAY);
		await step('next run (re-checks its own writes)', T0 + 1.25 * DAY);
		await step('no-op once settled', T0 + 1.5 * DAY);
		return rows;
	} finally {
		await drive.server.stop();
		await dropbox.server.stop();
	}
}

export function printIncrementalTable(rows: FeedRow[]): void {
	printTable(
		['step', 'listing', 'Drive calls', 'Dropbox calls', 'token calls', 's'],
		rows.map((row) => [row.step, row.listing, String(row.driveCalls), String(row.dropboxCalls), String(row.tokenCalls), row.seconds.toFixed(2)]),
	);
}
