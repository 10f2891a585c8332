/**
 * The Email to PDF example (examples/email-to-pdf-to-dated-folder.json) in a real n8n 2.40.7 with
 * `n8n execute`: a raw email made by a Code node → Email to PDF → Cloud Sync upload into a dated
 * folder of the Google Drive emulator. The uploaded file is read back from the emulator and checked
 * with poppler as a person would open it: a PDF holding the email's text, its attachment embedded.
 */
import { PACKAGE_NAME, N8nSandbox } from './n8n';
import { loadExample, startSampleClouds, type SampleClouds } from './clouds';
import { expectInOrder, pdfEmbeddedFiles, pdfInfo, pdfText } from '../support/pdf';

const describeE2E = process.env.CLOUDSYNC_E2E === '1' ? describe : describe.skip;
const EXAMPLE = { file: 'email-to-pdf-to-dated-folder', id: 'csExampleEmailPdf' };

describeE2E('Email to PDF example in n8n, uploading to the Google Drive emulator', () => {
	let clouds: SampleClouds;
	let n8n: N8nSandbox;

	beforeAll(async () => {
		clouds = await startSampleClouds();
		n8n = await N8nSandbox.create({ env: clouds.env });
		await n8n.packPackage({ tarball: process.env.CLOUDSYNC_E2E_TARBALL || undefined });
		await n8n.importCredentials(clouds.credentials);
		await n8n.importWorkflows([loadExample(EXAMPLE.file, n8n.dataFolder)]);
	}, 30 * 60 * 1000);

	afterAll(async () => {
		await n8n?.cleanup();
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
});
