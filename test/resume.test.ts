import { killAndResume, type ResumeCloud } from './support/resume';

const MiB = 1024 * 1024;
/** Small enough for every `npm test`; the 1 GiB run of the same scenario is test/e2e/resume.e2e.test.ts. */
const SIZE = 96 * MiB;
const CHUNKS: Record<ResumeCloud, number> = { drive: 2 * MiB, dropbox: 4 * MiB, onedrive: 8 * 327_680 };

describe.each(['drive', 'dropbox', 'onedrive'] as const)('an upload to %s killed three times (SIGKILL) and resumed', (cloud) => {
	it('sends under 1.2 times the file in all and stores the same bytes, once', async () => {
		const seed = Date.now() % 100_000;
		const outcome = await killAndResume(cloud, { size: SIZE, kills: 3, chunk: CHUNKS[cloud], seed });
		console.log(`${cloud}: seed ${seed}, killed after ${outcome.killedAfter.map((bytes) => (bytes / MiB).toFixed(1)).join(', ')} MiB; ${(outcome.bytesReceived / MiB).toFixed(1)} MiB received for ${SIZE / MiB} MiB`);
		expect(outcome.finalRun).toMatchObject({ code: 0 });
		expect(outcome.stored).toEqual([`big.bin ${outcome.sourceSha256}`]);
		expect(outcome.bytesReceived).toBeLessThan(1.2 * SIZE);
		// Every killed run left its session for the next one.
		expect(outcome.sessionsKept).toEqual([1, 1, 1]);
	});
});
