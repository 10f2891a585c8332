/**
 * Uploads that resume across runs: a 1 GiB file copied to each emulated cloud (and to S3 on s3rver) by
 * a process killed (SIGKILL) 4 times at random points, then run to the end, each run resuming the
 * session the one before kept. The scenario is test/support/resume.ts, the one the e2e suite asserts.
 *
 *   npm run bench -- --case resume [--quick]     1 GiB (64 MiB with --quick)
 *
 * Prints a table and returns rows for latest.json; the target (under 1.2 times the file sent in all,
 * the same bytes stored once) is reported, not asserted.
 */
import { killAndResume, type ResumeCloud } from '../test/support/resume';
import { printTable, round } from './figures';

const MiB = 1024 * 1024;
const KILLS = 4;
/** Each cloud's default chunk, so the figure is what a user's runs send. */
const CHUNKS: Record<ResumeCloud, number> = { drive: 8 * MiB, dropbox: 8 * MiB, onedrive: 32 * 327_680, s3: 8 * MiB, nextcloud: 10 * MiB };
export const RESUME_MAX_RATIO = 1.2;

/** A row of bench/results/latest.json, told apart by its `resume` key (the cloud). */
export interface ResumeRow {
	case: string;
	resume: ResumeCloud;
	file_mib: number;
	kills: number;
	/** Where each killed run stopped, in MiB the cloud had received from that run. */
	killed_after_mib: number[];
	/** Everything the cloud received over all runs, other calls included. */
	sent_mib: number;
	sent_ratio: number;
	/** The destination holds exactly one file, with the source's SHA-256. */
	identical: boolean;
	wall_s: number;
}

export async function measureResume(quick: boolean): Promise<ResumeRow[]> {
	const size = (quick ? 64 : 1024) * MiB;
	const rows: ResumeRow[] = [];
	for (const cloud of Object.keys(CHUNKS) as ResumeCloud[]) {
		const outcome = await killAndResume(cloud, { size, kills: KILLS, chunk: CHUNKS[cloud], seed: Date.now() % 100_000 });
		rows.push({
			case: `resume ${cloud} ${size / MiB} MiB`,
			resume: cloud,
			file_mib: size / MiB,
			kills: KILLS,
			killed_after_mib: outcome.killedAfter.map((bytes) => round(bytes / MiB, 1)),
			sent_mib: round(outcome.bytesReceived / MiB, 1),
			sent_ratio: round(outcome.bytesReceived / size, 3),
			identical: outcome.finalRun.code === 0 && outcome.stored.length === 1 && outcome.stored[0] === `big.bin ${outcome.sourceSha256}`,
			wall_s: round(outcome.wallMs / 1000, 1),
		});
	}
	return rows;
}

export function printResumeTable(rows: ResumeRow[]): void {
	printTable(
		['cloud', 'file MiB', 'killed after (MiB)', 'sent MiB', 'sent ÷ file', 'same bytes, once', 's'],
		rows.map((row) => [row.resume, row.file_mib, row.killed_after_mib.join(', '), row.sent_mib, row.sent_ratio, row.identical ? 'yes' : 'NO', row.wall_s]),
	);
}

export function resumeVerdicts(rows: ResumeRow[]): string[] {
	return rows.map(
		(row) =>
			`resume ${row.resume}: ${row.sent_ratio} × the file sent ≤ ${RESUME_MAX_RATIO}, the same bytes stored once — ${row.sent_ratio <= RESUME_MAX_RATIO && row.identical ? 'met' : 'MISSED'}`,
	);
}
