import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { EmailInputError, emailFromNodeJson, parseRawEmail, pdfFileName, renderEmailPdf, safeFileName, type EmailMessage, type RenderOptions } from '../lib/email';
import { encodedWord, imapResolved, leaf, message, multipart, png } from './support/mime';
import { expectInOrder, pdfEmbeddedFiles, pdfFonts, pdfImages, pdfInfo, pdfLines, pdfText, renderFirstPage } from './support/pdf';

const A4: RenderOptions = { pageSize: 'A4', embedAttachments: true };

async function emlToPdf(eml: Buffer, options: RenderOptions = A4) {
	const parsed = await parseRawEmail(eml);
	const rendered = await renderEmailPdf(parsed, options);
	return { parsed, ...rendered, text: pdfText(rendered.pdf) };
}

const envelope = {
	from: '"Ada Lovelace" <ada@example.com>',
	to: 'Charles Babbage <charles@example.com>, team@example.com',
	cc: 'Mary Somerville <mary@example.org>',
	subject: 'Engine notes for Thursday',
	date: 'Tue, 01 Dec 2026 09:30:00 +0000',
};

const NEWSLETTER_HTML = `<!doctype html><html><head><title>ignored title</title>
<style>.hidden { display: none } p { color: white }</style>
<script>document.write('SCRIPT-TEXT')</script></head>
<body>
<h1>Analytical Engine</h1>
<p>The <b>mill</b> and the <i>store</i> work together. See <a href="https://example.com/notes">the notes</a>.</p>
<h2>Tasks</h2>
<ul><li>Punch the cards</li><li>Oil the gears<ol><li>First the small ones</li></ol></li></ul>
<table><tr><th>Part</th><th>Count</th></tr><tr><td>Columns</td><td>1000</td></tr><tr><td>Cards</td><td>250</td></tr></table>
<p class="hidden">Preheader that CSS would hide</p>
<blockquote type="cite"><p>On Monday Charles wrote:</p><p>Bring the punch cards.</p></blockquote>
<p>Regards,<br>Ada</p>
</body></html>`;

describe('Email to PDF: what the PDF shows', () => {
	it('multipart/alternative: the HTML part is drawn (header, headings, lists, table, quote) in order, not the text part', async () => {
		const eml = message(envelope, multipart('alternative', [leaf('text/plain', 'PLAIN-PART-ONLY text version', { charset: 'utf-8' }), leaf('text/html', NEWSLETTER_HTML, { charset: 'utf-8' })]));
		const { text, pages, pdf } = await emlToPdf(eml);
		// <br> breaks the line; each list item is a line of its own.
		expect(pdfLines(pdf)).toEqual(expect.arrayContaining(['Regards,', 'Ada', '• Punch the cards', '• Oil the gears']));
		expectInOrder(text, [
			'Engine notes for Thursday',
			'From: Ada Lovelace <ada@example.com>',
			'To: Charles Babbage <charles@example.com>, team@example.com',
			'Cc: Mary Somerville <mary@example.org>',
			'Date: Tue, 1 Dec 2026 09:30',
			'Subject: Engine notes for Thursday',
			'Analytical Engine',
			'The mill and the store work together. See the notes.',
			'Tasks',
			'• Punch the cards',
			'• Oil the gears',
			'1. First the small ones',
			'Part Count',
			'Columns 1000',
			'Cards 250',
			'Preheader that CSS would hide',
			'On Monday Charles wrote:',
			'Bring the punch cards.',
			'Regards, Ada',
		]);
		expect(text).not.toContain('PLAIN-PART-ONLY');
		expect(text).not.toContain('SCRIPT-TEXT');
		expect(text).not.toContain('ignored title');
		expect(text).not.toContain('display: none');
		expect(pages).toBe(1);
	});

	it('a text-only email keeps its lines, its links and its quoted reply', async () => {
		const body = 'Hi Charles,\n\nthe plan is at https://example.com/plan.\nSecond line of the paragraph.\n\n> Can you send the plan?\n> > Earlier question\n\nAda';
		const { text, pdf } = await emlToPdf(message(envelope, leaf('text/plain', body, { charset: 'utf-8' })));
		expect(pdfLines(pdf)).toEqual(expect.arrayContaining(['the plan is at https://example.com/plan.', 'Second line of the paragraph.']));
		expectInOrder(text, ['From: Ada Lovelace', 'Hi Charles,', 'the plan is at https://example.com/plan.', 'Second line of the paragraph.', 'Can you send the plan?', 'Earlier question', 'Ada']);
		expect(text).not.toContain('> Can you');
	});

	it('an inline image by cid is drawn in the body, not listed as an attachment; a remote image is never fetched', async () => {
		let requests = 0;
		const server: Server = createServer((_request, response) => {
			requests++;
			response.end('GIF89a');
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		const port = (server.address() as AddressInfo).port;
		try {
			const html = `<p>Chart below:</p><img src="cid:chart@example" alt="chart" width="120"><p>Tracking: <img src="http://127.0.0.1:${port}/pixel.gif" width="1" height="1"> <img src="http://127.0.0.1:${port}/logo.png" alt="Company logo"></p><p>End of body</p>`;
			const eml = message(
				envelope,
				multipart('related', [leaf('text/html', html, { charset: 'utf-8' }), leaf('image/png', png(120, 60, [200, 40, 40]), { disposition: 'inline', fileName: 'chart.png', contentId: 'chart@example' })]),
			);
			const { text, pdf, attachments } = await emlToPdf(eml);
			expectInOrder(text, ['Chart below:', 'Tracking: [image: Company logo]', 'End of body']);
			expect(pdfImages(pdf)).toEqual([{ page: 1, width: 120, height: 60 }]);
			expect(attachments).toEqual([]);
			expect(text).not.toContain('Attachments');
			expect(requests).toBe(0);
		} finally {
			server.close();
		}
	});

	it('attachments are listed, embedded byte for byte, and returned for passing on', async () => {
		const report = Buffer.from('%PDF-1.4 pretend report\n');
		const csv = Buffer.from('region,orders\nNorth,42\n');
		const eml = message(
			envelope,
			multipart('mixed', [
				leaf('text/plain', 'Two files attached.', { charset: 'utf-8' }),
				leaf('application/pdf', report, { disposition: 'attachment', fileName: 'report.pdf' }),
				leaf('text/csv', csv, { disposition: 'attachment', fileName: 'orders.csv' }),
			]),
		);
		const { text, pdf, attachments } = await emlToPdf(eml);
		expectInOrder(text, ['Two files attached.', 'Attachments (2)', 'report.pdf (application/pdf, 24 B, embedded in this PDF)', 'orders.csv (text/csv, 23 B, embedded in this PDF)']);
		expect(pdfEmbeddedFiles(pdf)).toEqual({ 'report.pdf': report, 'orders.csv': csv });
		expect(attachments.map((a) => [a.fileName, a.content])).toEqual([
			['report.pdf', report],
			['orders.csv', csv],
		]);

		const listedOnly = await renderEmailPdf(await parseRawEmail(eml), { ...A4, embedAttachments: false });
		expect(pdfEmbeddedFiles(listedOnly.pdf)).toEqual({});
		expect(pdfText(listedOnly.pdf)).toContain('report.pdf (application/pdf, 24 B)');
	});

	it('ISO-2022-JP: a Japanese subject, sender and body render with the shipped CJK font', async () => {
		const japanese = 'お世話になっております。会議の議事録を添付します。';
		const eml = message(
			{ ...envelope, from: `${encodedWord('山田太郎', 'iso-2022-jp')} <yamada@example.jp>`, subject: encodedWord('会議の議事録', 'iso-2022-jp') },
			leaf('text/plain', `${japanese}\n\n山田`, { charset: 'iso-2022-jp', encoding: '7bit' }),
		);
		const { text, pdf, parsed } = await emlToPdf(eml);
		expect(parsed.subject).toBe('会議の議事録');
		expectInOrder(text, ['会議の議事録', 'From: 山田太郎 <yamada@example.jp>', japanese, '山田']);
		expect(pdfFonts(pdf)).toContain('NotoSansHans-Regular');
	});

	it('windows-1251 Cyrillic, Greek and accented Latin (quoted-printable) and Korean all come out as written', async () => {
		const russian = 'Привет! Отчёт за квартал во вложении.';
		const cyrillic = await emlToPdf(message({ ...envelope, subject: encodedWord('Отчёт', 'windows-1251') }, leaf('text/plain', russian, { charset: 'windows-1251', encoding: 'quoted-printable' })));
		expectInOrder(cyrillic.text, ['Отчёт', russian]);

		const mixed = 'Crème brûlée für Zoë — Καλημέρα κόσμε — 안녕하세요 — 你好，世界';
		const utf8 = await emlToPdf(message(envelope, leaf('text/html', `<p>${mixed}</p>`, { charset: 'utf-8', encoding: 'quoted-printable' })));
		expectInOrder(utf8.text, [mixed]);
		expect(pdfFonts(utf8.pdf)).toEqual(expect.arrayContaining(['NotoSans-Regular', 'NotoSansKR-Regular', 'NotoSansHans-Regular']));
	});

	it('quoted-printable soft line breaks join into one paragraph; very long lines wrap without losing text', async () => {
		const sentence = 'This sentence is long enough that the encoder must break it with soft line breaks. '.repeat(8).trim();
		const token = Array.from({ length: 400 }, (_, i) => `tok${i}`).join('');
		const longWords = Array.from({ length: 3000 }, (_, i) => `w${i}`).join(' ');
		const { text, pages } = await emlToPdf(message(envelope, leaf('text/plain', `${sentence}\n\n${token}\n\n${longWords}`, { charset: 'utf-8', encoding: 'quoted-printable' })));
		expectInOrder(text, [sentence]);
		// A line wider than the page is cut anywhere: reading the PDF gives back every character in order.
		expectInOrder(text.replace(/ /g, ''), [token]);
		expectInOrder(text, ['w0 w1 w2', 'w1500 w1501', 'w2998 w2999']);
		expect(pages).toBeGreaterThan(1);
	});

	it('malformed MIME (no closing boundary, broken base64, unknown charset) still gives a PDF with what can be read', async () => {
		const raw = [
			'From: broken@example.com',
			'Subject: Half a message',
			'Content-Type: multipart/mixed; boundary="XYZ"',
			'',
			'--XYZ',
			'Content-Type: text/plain; charset="x-unknown-charset"',
			'',
			'Readable first part.',
			'--XYZ',
			'Content-Type: application/octet-stream; name="cut.bin"',
			'Content-Transfer-Encoding: base64',
			'Content-Disposition: attachment; filename="cut.bin"',
			'',
			'SGVsbG8gd29y!!!bGQ',
		].join('\r\n');
		const { text, parsed } = await emlToPdf(Buffer.from(raw));
		expectInOrder(text, ['Half a message', 'From: broken@example.com', 'Readable first part.', 'Attachments (1)', 'cut.bin']);
		expect(parsed.date).toBeUndefined();
	});

	it('a 20 MB attachment is embedded whole, and the body is still drawn', async () => {
		const big = randomBytes(20 * 1024 * 1024);
		const eml = message(envelope, multipart('mixed', [leaf('text/plain', 'The archive is attached.', { charset: 'utf-8' }), leaf('application/zip', big, { disposition: 'attachment', fileName: 'archive.zip' })]));
		const { text, pdf } = await emlToPdf(eml);
		expectInOrder(text, ['The archive is attached.', 'Attachments (1)', 'archive.zip (application/zip, 20.0 MB, embedded in this PDF)']);
		const embedded = pdfEmbeddedFiles(pdf)['archive.zip'];
		expect(createHash('sha256').update(embedded).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
	});

	it('page size and metadata: A4 or Letter; title, author and date from the email unless given', async () => {
		const eml = message(envelope, leaf('text/plain', 'Body.', { charset: 'utf-8' }));
		const a4 = pdfInfo((await emlToPdf(eml)).pdf);
		expect(a4['Page size']).toBe('595.28 x 841.89 pts');
		expect(a4.Title).toBe('Engine notes for Thursday');
		expect(a4.Author).toBe('Ada Lovelace <ada@example.com>');
		expect(a4.CreationDate).toMatch(/^2026-12-01T09:30:00/);

		const letter = pdfInfo((await emlToPdf(eml, { ...A4, pageSize: 'LETTER', title: 'Archived mail', author: 'Archive bot' })).pdf);
		expect(letter['Page size']).toBe('612 x 792 pts');
		expect(letter.Title).toBe('Archived mail');
		expect(letter.Author).toBe('Archive bot');
	});

	it('page 1 of a sample email, for the README (docs/email-to-pdf.png)', async () => {
		const html = `${NEWSLETTER_HTML.replace('</body>', '')}<p>Greek: Καλημέρα. Russian: Доброе утро. Japanese: おはようございます。 Chinese: 早上好。 Korean: 좋은 아침입니다.</p><p><img src="cid:chart@example" alt="chart"></p></body></html>`;
		const eml = message(
			{ ...envelope, subject: encodedWord('Engine notes for Thursday — 会議 — Встреча', 'utf-8') },
			multipart('mixed', [
				multipart('related', [leaf('text/html', html, { charset: 'utf-8' }), leaf('image/png', png(240, 40, [40, 110, 200]), { disposition: 'inline', fileName: 'bar.png', contentId: 'chart@example' })]),
				leaf('text/csv', Buffer.from('part,count\ncolumns,1000\n'), { disposition: 'attachment', fileName: 'parts.csv' }),
			]),
		);
		const { pdf, text } = await emlToPdf(eml);
		expectInOrder(text, ['Engine notes for Thursday — 会議 — Встреча', 'Analytical Engine', 'Korean: 좋은 아침입니다.', 'Attachments (1)', 'parts.csv']);
		renderFirstPage(pdf, path.join(__dirname, '..', 'docs', 'email-to-pdf.png'));
	});
});

describe('Email to PDF: input', () => {
	it('refuses what is not an email, and an empty file, with a hint', async () => {
		await expect(parseRawEmail(Buffer.alloc(0))).rejects.toThrow(new EmailInputError('The email file is empty', ''));
		await expect(parseRawEmail(png(4, 4, [0, 0, 0]))).rejects.toThrow('The file is not an email');
		await expect(parseRawEmail(Buffer.from('%PDF-1.7\n1 0 obj'))).rejects.toThrow('The file is not an email');
		await expect(parseRawEmail(Buffer.from('Just some words: nothing else\nsecond line'))).rejects.toMatchObject({ hint: expect.stringContaining('.eml') });
	});

	it('reads the JSON of the Email Trigger (IMAP, resolved), with attachments from binaries', async () => {
		const invoice = Buffer.from('%PDF-1.4 invoice');
		const { json, attachments } = await imapResolved(
			message(
				{ from: 'Billing <billing@example.com>', to: 'ada@example.com', subject: 'Invoice 42', date: 'Mon, 30 Nov 2026 08:00:00 +0000' },
				multipart('mixed', [leaf('text/html', '<p>Your invoice is <b>attached</b>.</p>', { charset: 'utf-8' }), leaf('application/pdf', invoice, { disposition: 'attachment', fileName: 'invoice-42.pdf' })]),
			),
		);
		expect(json).toMatchObject({ subject: 'Invoice 42', from: { value: [{ name: 'Billing', address: 'billing@example.com' }] }, date: '2026-11-30T08:00:00.000Z' });
		const attachment = attachments[0];
		const parsed = await emailFromNodeJson(json, [attachment]);
		const rendered = await renderEmailPdf(parsed, A4);
		expectInOrder(pdfText(rendered.pdf), ['Invoice 42', 'From: Billing <billing@example.com>', 'To: ada@example.com', 'Date: Mon, 30 Nov 2026 08:00', 'Your invoice is attached.', 'invoice-42.pdf']);
		expect(pdfEmbeddedFiles(rendered.pdf)).toEqual({ 'invoice-42.pdf': invoice });
	});

	it('reads the IMAP trigger "simple" format, a whole raw message (Gmail) and Microsoft Outlook messages', async () => {
		const simple = await emailFromNodeJson({ from: '"Ops" <ops@example.com>', to: 'a@example.com, "B, C" <bc@example.com>', subject: 'Disk alert', date: 'Tue, 01 Dec 2026 07:00:00 +0000', textHtml: '<p>Disk 91% full</p>', textPlain: 'Disk 91% full' }, []);
		expect(simple).toMatchObject({ subject: 'Disk alert', from: [{ name: 'Ops', address: 'ops@example.com' }], to: [{ address: 'a@example.com' }, { name: 'B, C', address: 'bc@example.com' }], html: '<p>Disk 91% full</p>' });

		const eml = message(envelope, leaf('text/plain', 'From the raw format.', { charset: 'utf-8' }));
		for (const raw of [eml.toString('latin1'), eml.toString('base64'), eml.toString('base64url')]) {
			const parsed = await emailFromNodeJson({ raw }, []);
			expect([parsed.subject, parsed.text?.trim()]).toEqual(['Engine notes for Thursday', 'From the raw format.']);
		}

		const outlook = await emailFromNodeJson(
			{
				subject: 'Budget',
				body: { contentType: 'html', content: '<div>Numbers inside</div>' },
				from: { emailAddress: { name: 'Finance', address: 'finance@example.com' } },
				toRecipients: [{ emailAddress: { name: 'Ada', address: 'ada@example.com' } }],
				ccRecipients: [],
				receivedDateTime: '2026-12-01T10:00:00Z',
			},
			[],
		);
		expect(outlook).toMatchObject({ subject: 'Budget', html: '<div>Numbers inside</div>', from: [{ name: 'Finance', address: 'finance@example.com' }], to: [{ name: 'Ada' }] });
		expect(outlook.date?.toISOString()).toBe('2026-12-01T10:00:00.000Z');

		await expect(emailFromNodeJson({ id: 7, name: 'not an email' }, [])).rejects.toThrow('The item holds no email fields');
		// The IMAP trigger's "RAW" format: the body without the headers.
		await expect(emailFromNodeJson({ raw: 'Just the body of a message.\r\n' }, [])).rejects.toMatchObject({ hint: expect.stringMatching(/Format to "Resolved"/) });
	});
});

describe('Email to PDF: file names', () => {
	const sample: EmailMessage = {
		subject: 'Re: Q3 report: "final" <v2>?',
		from: [{ name: 'Ada Lovelace', address: 'ada@example.com' }],
		to: [],
		cc: [],
		date: new Date('2026-12-01T23:30:00Z'),
		attachments: [],
	};

	it('fills the template with the date in the given time zone, the subject and the sender', () => {
		expect(pdfFileName('{date} {subject} - {sender}', sample)).toBe('2026-12-01 Re_ Q3 report_ _final_ _v2__ - Ada Lovelace.pdf');
		expect(pdfFileName('{date}_{time}_{senderAddress}', sample, 'Europe/Berlin')).toBe('2026-12-02_00-30_ada@example.com.pdf');
		expect(pdfFileName('{date} {subject}', { ...sample, subject: '', date: undefined })).toBe('undated no subject.pdf');
	});

	it('makes names every cloud accepts: no reserved characters, emoji, control characters, trailing dots, device names; at most 200 bytes', () => {
		expect(safeFileName('a/b\\c:d*e?f"g<h>i|j', '.pdf')).toBe('a_b_c_d_e_f_g_h_i_j.pdf');
		expect(safeFileName('Party 🎉 time\tnow...', '.pdf')).toBe('Party time now.pdf');
		expect(safeFileName('  .hidden. ', '.pdf')).toBe('hidden.pdf');
		expect(safeFileName('CON', '.pdf')).toBe('email-CON.pdf');
		expect(safeFileName('', '.pdf')).toBe('email.pdf');
		const long = safeFileName('日本語'.repeat(100), '.pdf');
		expect(Buffer.byteLength(long)).toBeLessThanOrEqual(200);
		expect(long).toMatch(/^(日本語)+日?本?\.pdf$/);
	});
});
