import { killAndResume, type ResumeCloud } from './resume';

const MiB = 1024 * 1024;

/**
 * The kill-and-resume scenario as a test: the file is copied to `cloud` while killed `kills` times;
 * what a user would check is asserted (one file, the same bytes, under 1.2 times its size sent).
 */
export function itResumesAfterKills(size: number, kills: number, chunks: Record<ResumeCloud, number>, s3QueueSize?: number): void {
	describe.each(['drive', 'dropbox', 'onedrive', 's3', 'nextcloud'] as const)(`an upload of ${size / MiB} MiB to %s killed ${kills} times (SIGKILL) at random points and resumed`, (cloud) => {
		it('sends under 1.2 times the file in all and stores the same bytes, once', async () => {
			const seed = Date.now() % 100_000;
			const outcome = await killAndResume(cloud, { size, kills, chunk: chunks[cloud], seed, s3QueueSize });
			const killedAt = outcome.killedAfter.map((bytes) => (bytes / MiB).toFixed(1)).join(', ');
			console.log(`${cloud}: seed ${seed}, killed after ${killedAt} MiB; ${(outcome.bytesReceived / MiB).toFixed(1)} MiB received for ${size / MiB} MiB in ${(outcome.wallMs / 1000).toFixed(1)} s; the last run: ${outcome.finalRun.output}`);
			expect(outcome.finalRun).toMatchObject({ code: 0 });
			expect(outcome.stored).toEqual([`big.bin ${outcome.sourceSha256}`]);
			expect(outcome.bytesReceived).toBeLessThan(1.2 * size);
			// Every killed run left its session for the next one.
			expect(outcome.sessionsKept).toEqual(Array(kills).fill(1));
		});
	});
}
