/**
 * The Email to PDF examples in a real n8n 2.40.7, uploading to the Google Drive emulator:
 *   email-to-pdf-to-dated-folder       n8n execute: a raw email made by a Code node → Email to PDF
 *                                      → Cloud Sync upload into Mail archive/yyyy/MM-dd/
 *   imap-email-to-pdf-to-dated-folder  n8n start: the Email Trigger (IMAP), active, on a real
 *                                      Dovecot on 127.0.0.1 (test/e2e/imap.ts); a message filed
 *                                      there arrives on Drive as a PDF
 * Each uploaded file is read back from the emulator and checked with poppler as a person would open
 * it: a PDF holding the email's text in order, its attachment embedded.
 */
import { PACKAGE_NAME, N8nSandbox, type RunningN8n } from './n8n';
import { loadExample, startSampleClouds, type SampleClouds } from './clouds';
import { startImapServer, type ImapServer } from './imap';
import { encodedWord, leaf, message, multipart } from '../support/mime';
import { expectInOrder, pdfEmbeddedFiles, pdfInfo, pdfText } from '../support/pdf';

const describeE2E = process.env.CLOUDSYNC_E2E === '1' ? describe : describe.skip;
const EXAMPLE = { file: 'email-to-pdf-to-dated-folder', id: 'csExampleEmailPdf' };
const IMAP_EXAMPLE = { file: 'imap-email-to-pdf-to-dated-folder', id: 'csExampleImapPdf' };

describeE2E('Email to PDF example in n8n, uploading to the Google Drive emulator', () => {
	let clouds: SampleClouds;
	let n8n: N8nSandbox;
	let imap: ImapServer;

	beforeAll(async () => {
		clouds = await startSampleClouds();
		imap = await startImapServer();
		n8n = await N8nSandbox.create({ env: clouds.env });
		await n8n.packPackage({ tarball: process.env.CLOUDSYNC_E2E_TARBALL || undefined });
		const imapCredential = {
			id: 'cloudSyncImapDemo',
			name: 'IMAP account (demo)',
			type: 'imap',
			data: { user: imap.user, password: imap.password, host: imap.host, port: imap.port, secure: false, allowUnauthorizedCerts: false },
		};
		await n8n.importCredentials([...clouds.credentials, imapCredential]);
		await n8n.importWorkflows([loadExample(EXAMPLE.file, n8n.dataFolder), loadExample(IMAP_EXAMPLE.file, n8n.dataFolder)]);
	}, 30 * 60 * 1000);

	afterAll(async () => {
		await n8n?.cleanup();
		await imap?.stop();
		await clouds?.stop();
	});

	test('the example uses the node from this package and starts with a Manual Trigger', () => {
		const types = loadExample(EXAMPLE.file).nodes.map((node) => node.type);
		expect(types).toEqual(expect.arrayContaining(['n8n-nodes-base.manualTrigger', `${PACKAGE_NAME}.emailToPdf`, `${PACKAGE_NAME}.cloudSync`]));
	});

	test('the email arrives as a PDF in Mail archive/2026/11-30/ with its text, its attachment embedded', async () => {
		const result = await n8n.executeWorkflow(EXAMPLE.id);
		process.stderr.write(`[e2e timing] email to PDF example: n8n execute in ${result.durationMs} ms\n`);
		expect(result.status).toBe('success');
		const [converted] = result.nodes['Email to PDF'];
		expect(converted).toMatchObject({ fileName: '2026-11-30 Invoice INV-2026-042 - Billing.pdf', subject: 'Invoice INV-2026-042', from: 'Billing <billing@example.com>', pages: 1 });
		const [uploaded] = result.nodes['Upload to Google Drive'];
		expect(uploaded).toMatchObject({ path: 'Mail archive/2026/11-30/2026-11-30 Invoice INV-2026-042 - Billing.pdf', type: 'file' });

		const file = clouds.drive.statPath(uploaded.path as string);
		expect(file?.id).toBe(uploaded.id);
		const pdf = clouds.drive.content(file!.id!);
		expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
		expect(pdf.length).toBe(converted.pdfSize);
		expectInOrder(pdfText(pdf), [
			'Invoice INV-2026-042',
			'From: Billing <billing@example.com>',
			'To: Ada Lovelace <ada@example.com>',
			'Date: Mon, 30 Nov 2026 08:00',
			'Hello Ada,',
			'please find the invoice for November attached.',
			'Item Amount',
			'Cloud storage 42.00 EUR',
			'Kind regards, Billing team',
			'Attachments (1)',
			'INV-2026-042.txt',
		]);
		expect(pdfEmbeddedFiles(pdf)).toEqual({ 'INV-2026-042.txt': Buffer.from('Invoice INV-2026-042: 42.00 EUR') });
		expect(pdfInfo(pdf)).toMatchObject({ Title: 'Invoice INV-2026-042', Author: 'Billing <billing@example.com>' });
	});

	describe('with `n8n start` and a real IMAP server', () => {
		let server: RunningN8n;

		beforeAll(async () => {
			server = await n8n.startN8n();
			await server.setupOwner();
		}, 5 * 60 * 1000);

		afterAll(async () => {
			await server?.stop();
		});

		test('an email filed in the IMAP INBOX arrives on Drive as a PDF in its dated folder', async () => {
			await server.activateWorkflow(IMAP_EXAMPLE.id);
			// The trigger reacts to new mail only: file the message once it is listening.
			await imap.waitForListener(60_000);
			const contract = Buffer.from('Contract 7: signed by both parties.');
			const subject = 'Договор 7 — 契約書';
			await imap.append(
				message(
					{ from: `${encodedWord('Юридический отдел', 'utf-8')} <legal@example.com>`, to: 'Ada Lovelace <ada@example.com>', subject: encodedWord(subject, 'utf-8'), date: 'Tue, 01 Dec 2026 07:15:00 +0000' },
					multipart('mixed', [
						multipart('alternative', [
							leaf('text/plain', 'Plain text part.', { charset: 'utf-8' }),
							leaf('text/html', '<p>Добрый день! The <b>signed</b> contract is attached.</p><blockquote>Can you send it? — 送ってください。</blockquote>', { charset: 'utf-8' }),
						]),
						leaf('application/pdf', contract, { disposition: 'attachment', fileName: 'contract-7.pdf' }),
					]),
				),
			);
			const started = Date.now();
			const target = `Mail archive/2026/12-01/2026-12-01 ${subject} - Юридический отдел.pdf`;
			let file = clouds.drive.statPath(target);
			// The trigger holds an IDLE session: Dovecot tells it of the new message at once.
			while (!file && Date.now() - started < 90_000) {
				await new Promise((resolve) => setTimeout(resolve, 500));
				file = clouds.drive.statPath(target);
			}
			process.stderr.write(`[e2e timing] IMAP email on Drive as PDF ${Date.now() - started} ms after APPEND\n`);
			if (!file) throw new Error(`no ${target} on the Drive emulator within 90 s; Dovecot log:\n${imap.log()}`);
			const pdf = clouds.drive.content(file.id!);
			expectInOrder(pdfText(pdf), [subject, 'From: Юридический отдел <legal@example.com>', 'Date: Tue, 1 Dec 2026 07:15', 'Добрый день! The signed contract is attached.', 'Can you send it? — 送ってください。', 'Attachments (1)', 'contract-7.pdf']);
			expect(pdfText(pdf)).not.toContain('Plain text part.');
			expect(pdfEmbeddedFiles(pdf)).toEqual({ 'contract-7.pdf': contract });

			const executions = await server.listExecutions(IMAP_EXAMPLE.id);
			expect(executions.map((execution) => [execution.mode, execution.status])).toEqual([['trigger', 'success']]);
			await server.deactivateWorkflow(IMAP_EXAMPLE.id);
		});
	});
});
