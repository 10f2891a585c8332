import { Pacer, sync, twoWaySync, MemoryStateStore } from '../lib';
import { GoogleDriveProvider } from '../lib/providers/drive';
import { DropboxProvider } from '../lib/providers/dropbox';
import { quickPacer } from './support/dropbox';
import { emulatorsForBlock } from './support/sides';

describe('reports say what failed and why, and each cloud paces itself', () => {
	const emulators = emulatorsForBlock(21);

	async function pair(name: string, files = 20, pacing = {}) {
		const { drive, dropbox } = emulators;
		const folder = drive.addFolder(drive.myDriveRootId, name);
		for (let i = 0; i < files; i++) drive.addFile(folder, `f${i}.txt`, `file ${i}`);
		dropbox.seedFolder(`/${name}`);
		const source = await GoogleDriveProvider.open({ auth: drive.addOAuthClient(), root: folder, apiBaseUrl: drive.baseUrl, pacer: quickPacer() });
		const destination = new DropboxProvider({ auth: dropbox.credentials, root: `/${name}`, apiBaseUrl: dropbox.baseUrl, pacer: quickPacer(pacing) });
		return { source, destination };
	}

	it('two-way keeps the kind of each failed action, and explains the run by the worst', async () => {
		// No retries: the rate limit below is final at once.
		const { source, destination } = await pair('two-way-failure', 5, { retriesPerRequest: 0 });
		const state = new MemoryStateStore();
		const run = () => twoWaySync(source, destination, { state, pair: 'p', lock: false, pacer: quickPacer({ retriesPerRequest: 0 }) });
		expect((await run()).status).toBe('success');
		emulators.drive.addFile(source.rootId, 'new.txt', 'new');
		emulators.dropbox.server.inject({ route: /upload/, kind: 'quota-rate-limit', retryAfterSeconds: 0 });
		const report = await run();
		emulators.dropbox.server.clearFaults();
		expect(report.status).toBe('failed');
		expect(report.errors[0]).toMatchObject({ path: 'new.txt', side: 'destination', kind: 'RateLimitError' });
		expect(report.failure?.kind).toBe('RateLimitError');
	});

	it("a rate limit on one cloud is retried by that cloud's pacer, and the run adds up every cloud's retries", async () => {
		const { source, destination } = await pair('paced', 30);
		emulators.drive.server.inject({ route: /^GET \/drive\/v3\/files\/[^/]+$/, kind: 'rate-limit', probability: 0.3, retryAfterSeconds: 0 });
		emulators.dropbox.server.inject({ route: /upload/, kind: 'rate-limit', probability: 0.3, retryAfterSeconds: 0 });
		const run = new Pacer({ baseDelayMs: 1, maxDelayMs: 5 });
		const report = await sync(source, destination, { mode: 'copy', pacer: run });
		emulators.drive.server.clearFaults();
		emulators.dropbox.server.clearFaults();
		expect(report).toMatchObject({ status: 'success', added: 30 });
		expect(source.pacer.retries).toBeGreaterThan(0);
		expect(destination.pacer.retries).toBeGreaterThan(0);
		expect(report.retries).toBe(source.pacer.retries + destination.pacer.retries + run.retries);
	});
	// Last: it revokes the Dropbox app for good.
	it("a credential the cloud no longer accepts is the run's failure, typed and with what to do, whatever else failed", async () => {
		const { source, destination } = await pair('revoked');
		emulators.dropbox.revokeAccess();
		const report = await sync(source, destination, { mode: 'copy', pacer: quickPacer() });
		expect(report.status).toBe('failed');
		expect(report.listingErrors).toEqual([expect.stringMatching(/^destination: Dropbox refused to renew the access token/)]);
		expect(report.failure).toMatchObject({ kind: 'AuthenticationError', hint: expect.stringMatching(/Reconnect the credential/) });
		expect(report.errors.every((error) => typeof error.kind === 'string')).toBe(true);
	});

});
