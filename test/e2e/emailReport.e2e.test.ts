/**
 * The example "every night: sync, then email the report" (examples/nightly-sync-then-email-report.json)
 * in a real n8n 2.40.7: the Cloud Sync node mirrors a local folder to the Dropbox emulator, and n8n's
 * own Send Email node sends the summary's message and HTML report, as they are, through a real SMTP
 * server on 127.0.0.1 (Debian's OpenSMTPD, test/e2e/smtp.ts). The delivered mail is read back from
 * the server's Maildir and parsed as a mail client would: its subject and its table's figures.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { simpleParser } from 'mailparser';
import { EXAMPLE_CREDENTIALS, SEED_TIME, loadExample, readDropboxTree, startSampleClouds, treeHashes, type SampleClouds } from './clouds';
import { N8nSandbox } from './n8n';
import { startSmtpServer, type SmtpServer } from './smtp';

const describeE2E = process.env.CLOUDSYNC_E2E === '1' ? describe : describe.skip;
const EXAMPLE = { file: 'nightly-sync-then-email-report', id: 'csExampleNightly' };
const NODE = 'Mirror reports to Dropbox';
const LOCAL = 'reports';
const DROPBOX = '/Backups/reports';
const REPORTS = {
	'2026/q3.csv': Buffer.from('quarter,revenue\nq3,1200\n'),
	'2026/q4.csv': Buffer.from('quarter,revenue\nq4,1500\n'),
	'summary.md': Buffer.from('# Summary\nAll quarters up.\n'),
};

/** The cell beside a row's heading in the report's table, as text. */
function cell(html: string, heading: string): string | undefined {
	const match = new RegExp(`<th[^>]*>${heading.replace(/[()]/g, '\\$&')}</th><td[^>]*>([^<]*)</td>`).exec(html);
	return match?.[1];
}

describeE2E('nightly sync, then email the report: Cloud Sync → Send Email through a real SMTP server', () => {
	let clouds: SampleClouds;
	let smtp: SmtpServer;
	let n8n: N8nSandbox;

	beforeAll(async () => {
		clouds = await startSampleClouds();
		smtp = await startSmtpServer();
		n8n = await N8nSandbox.create({ env: clouds.env });
		for (const [file, content] of Object.entries(REPORTS)) {
			const target = path.join(n8n.dataFolder, LOCAL, file);
			fs.mkdirSync(path.dirname(target), { recursive: true });
			fs.writeFileSync(target, content);
			fs.utimesSync(target, SEED_TIME / 1000, SEED_TIME / 1000);
		}
		// Dropbox holds last night's copy: one file unchanged, one out of date, one since removed locally.
		clouds.dropbox.seedFile(`${DROPBOX}/summary.md`, REPORTS['summary.md'], { clientModified: SEED_TIME });
		clouds.dropbox.seedFile(`${DROPBOX}/2026/q3.csv`, Buffer.from('quarter,revenue\nq3,1100\n'), { clientModified: SEED_TIME - 86_400_000 });
		clouds.dropbox.seedFile(`${DROPBOX}/2026/draft.csv`, Buffer.from('draft'), { clientModified: SEED_TIME });
		await n8n.packPackage({ tarball: process.env.CLOUDSYNC_E2E_TARBALL || undefined });
		await n8n.importCredentials([
			...clouds.credentials.filter((credential) => credential.id === EXAMPLE_CREDENTIALS.dropbox.id),
			{ id: 'cloudSyncSmtpDemo', name: 'SMTP account (demo)', type: 'smtp', data: { user: '', password: '', host: smtp.host, port: smtp.port, secure: false, disableStartTls: true } },
		]);
		await n8n.importWorkflows([loadExample(EXAMPLE.file, n8n.dataFolder)]);
	}, 30 * 60 * 1000);

	afterAll(async () => {
		await n8n?.cleanup();
		await smtp?.stop();
		await clouds?.stop();
	});

	test('the mirror runs, one email arrives with the one-line message as subject and the HTML report as body', async () => {
		const result = await n8n.executeWorkflow(EXAMPLE.id);
		expect(result.status).toBe('success');
		const [summary, ...others] = result.nodes[NODE];
		expect(others).toEqual([]);
		expect(summary).toMatchObject({ status: 'success', mode: 'mirror', added: 1, updated: 1, deleted: 1, failed: 0 });
		expect(treeHashes(readDropboxTree(clouds.dropbox, DROPBOX))).toEqual(treeHashes(REPORTS));

		const deadline = Date.now() + 30_000;
		while (smtp.delivered().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
		const delivered = smtp.delivered();
		expect(delivered).toHaveLength(1);
		const mail = await simpleParser(delivered[0]);
		expect(mail.from?.text).toBe('n8n@example.com');
		expect(mail.to && !Array.isArray(mail.to) ? mail.to.text : undefined).toBe(smtp.recipient);
		expect(mail.subject).toBe(summary.message);
		expect(mail.subject).toMatch(new RegExp(`^Mirror Local:${n8n.dataFolder}/${LOCAL} → Dropbox:${DROPBOX}: 1 added, 1 updated, 1 moved to trash, 0 failed in \\d+\\.\\d s$`));
		// Mail transport ends the body with a line break.
		const html = String(mail.html).trimEnd();
		expect(html).toBe(summary.html);
		expect(cell(html, 'Task')).toBe(NODE);
		expect(cell(html, 'Result')).toBe('Success');
		expect(cell(html, 'From')).toBe(`Local:${n8n.dataFolder}/${LOCAL}`);
		expect(cell(html, 'To')).toBe(`Dropbox:${DROPBOX}`);
		expect(cell(html, 'Added')).toBe('1');
		expect(cell(html, 'Updated')).toBe('1');
		expect(cell(html, 'Deleted (moved to trash)')).toBe('1');
		expect(cell(html, 'Failed')).toBe('0');
		expect(cell(html, 'Transferred')).toBe(`${REPORTS['2026/q4.csv'].length + REPORTS['2026/q3.csv'].length} bytes`);
		expect(cell(html, 'Start')).toBe(summary.startedAt);
		expect(cell(html, 'End')).toBe(summary.finishedAt);
	});
});
