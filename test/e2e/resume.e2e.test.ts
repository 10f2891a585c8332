import { killAndResume, type ResumeCloud } from '../support/resume';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Each cloud's default chunk: what a user's runs send. */
const CHUNKS: Record<ResumeCloud, number> = { drive: 8 * MiB, dropbox: 8 * MiB, onedrive: 32 * 327_680 };

// Too slow for every `npm test` (1 GiB written, read and hashed several times per cloud); test/resume.test.ts runs the same scenario on 96 MiB.
describe.each(['drive', 'dropbox', 'onedrive'] as const)('a 1 GiB upload to %s killed four times (SIGKILL) at random points and resumed', (cloud) => {
	it('sends under 1.2 GiB in all and stores the same bytes, once', async () => {
		const seed = Date.now() % 100_000;
		const outcome = await killAndResume(cloud, { size: GiB, kills: 4, chunk: CHUNKS[cloud], seed });
		console.log(
			`${cloud}: seed ${seed}, killed after ${outcome.killedAfter.map((bytes) => (bytes / MiB).toFixed(1)).join(', ')} MiB; ` +
				`${(outcome.bytesReceived / GiB).toFixed(3)} GiB received for 1 GiB in ${(outcome.wallMs / 1000).toFixed(1)} s; the last run: ${outcome.finalRun.output}`,
		);
		expect(outcome.finalRun).toMatchObject({ code: 0 });
		expect(outcome.stored).toEqual([`big.bin ${outcome.sourceSha256}`]);
		expect(outcome.bytesReceived).toBeLessThan(1.2 * GiB);
		expect(outcome.sessionsKept).toEqual([1, 1, 1, 1]);
	});
});
