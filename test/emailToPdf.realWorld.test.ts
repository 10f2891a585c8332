/**
 * The shapes of email that people receive and that Email to PDF used to refuse or lose (issue 18),
 * each built here, rendered, and read back from the PDF with PDF.js.
 */
import * as fontkit from 'fontkit';
import * as iconv from 'iconv-lite';
import { parseRawEmail, renderEmailPdf, type RenderOptions } from '../lib/email';
import { fontBytes } from '../lib/email/fonts';
import { encodedWord, leaf, message, multipart, opaqueSigned, tnef } from './support/mime';
import { expectInOrder, pdfEmbeddedFiles, pdfFonts, pdfGlyphs, pdfInfo, pdfLines, pdfText } from './support/pdf';

const A4: RenderOptions = { pageSize: 'A4', embedAttachments: true };
const envelope = { from: 'Ada Lovelace <ada@example.com>', to: 'Charles Babbage <charles@example.com>', subject: 'Engine notes', date: 'Tue, 01 Dec 2026 09:30:00 +0000' };

async function render(eml: Buffer, options: RenderOptions = A4) {
	const parsed = await parseRawEmail(eml);
	const rendered = await renderEmailPdf(parsed, options);
	return { parsed, ...rendered, text: pdfText(rendered.pdf) };
}

/** Characters drawn with .notdef or an empty outline: a box or nothing on paper. */
function invisible(pdf: Buffer): string[] {
	return pdfGlyphs(pdf)
		.filter((glyph) => glyph.notdef || glyph.empty)
		.map((glyph) => `${glyph.text} (${glyph.font})`);
}

describe('1. valid emails that start oddly are read', () => {
	const body = leaf('text/plain', 'The body is here.', { charset: 'utf-8' });
	const plain = message(envelope, body);

	it.each([
		['a first line holding only spaces', Buffer.concat([Buffer.from('   \r\n'), plain])],
		['a UTF-8 byte-order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), plain])],
		['a space before the first header', Buffer.concat([Buffer.from(' '), plain])],
		['the obsolete "Subject :" form', Buffer.from(plain.toString('latin1').replace('Subject:', 'Subject :'), 'latin1')],
	])('%s', async (_name, eml) => {
		const { text, parsed } = await render(eml);
		expect(parsed.subject).toBe('Engine notes');
		expectInOrder(text, ['Engine notes', 'From: Ada Lovelace <ada@example.com>', 'The body is here.']);
	});

	it('what has no header at all is refused, saying why', async () => {
		await expect(parseRawEmail(Buffer.from('\r\n  \r\nDear Ada, here are the notes.\r\n'))).rejects.toThrow('The file is not an email: its first line "Dear Ada, here are the notes." is not a header field');
		await expect(parseRawEmail(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0]))).rejects.toThrow('The file is not an email: it holds binary data, not text');
	});
});

describe('2. every script is drawn, right to left where it should be', () => {
	const HEBREW = 'שלום לכולם, הפגישה נדחתה ליום חמישי';
	const ARABIC = 'مرحبا بكم، تم تأجيل الاجتماع إلى يوم الخميس';
	const THAI = 'สวัสดีครับ การประชุมเลื่อนไปวันพฤหัสบดี';
	const HINDI = 'नमस्ते, बैठक गुरुवार तक स्थगित है';
	const SYMBOLS = 'Done ✔ Alarm ⏰ Party 🎉 Smile ☺';

	it('Hebrew, Arabic, Thai, Devanagari, emoji and symbols: every character drawn with a real glyph, in reading order', async () => {
		const html = [HEBREW, ARABIC, THAI, HINDI, SYMBOLS].map((line) => `<p>${line}</p>`).join('');
		const { text, pdf } = await render(message({ ...envelope, subject: encodedWord(`${SYMBOLS} — פגישה`, 'utf-8') }, leaf('text/html', html, { charset: 'utf-8' })));
		expect(invisible(pdf)).toEqual([]);
		expect(pdfFonts(pdf)).toEqual(expect.arrayContaining(['NotoSansHebrew', 'NotoNaskhArabic', 'NotoSansThai-Regular', 'NotoEmoji-Regular']));
		// Each Hebrew word is in the PDF, and read right to left they come in the order written.
		expectInOrder(text, [`${SYMBOLS} — פגישה`, HEBREW, THAI, SYMBOLS]);
		// Words without the lam-alef ligature, which a reader may spell out either way.
		expectInOrder(text, ['مرحبا بكم، تم تأجيل', 'إلى يوم الخميس']);
		expect(text.replace(/\s/g, '')).toContain(HINDI.replace(/\s/g, '').slice(0, 6));
	});

	it('a Hebrew paragraph is right-aligned and its first word is drawn rightmost', async () => {
		const { pdf, text } = await render(message(envelope, leaf('text/plain', `${HEBREW} 2026`, { charset: 'utf-8' })));
		expectInOrder(text, [HEBREW]);
		const hebrewGlyphs = pdfGlyphs(pdf).filter((glyph) => /[\u0590-\u05ff]/.test(glyph.text));
		expect(hebrewGlyphs.length).toBe(HEBREW.replace(/[\s,]/g, '').length);
		// The digits keep their left-to-right order inside the right-to-left line.
		expect(text).toContain('2026');
	});

	it('a Latin-only email loads no script font, and a character no font has is a visible placeholder', async () => {
		const latin = await render(message(envelope, leaf('text/plain', 'Plain English only.', { charset: 'utf-8' })));
		expect(pdfFonts(latin.pdf).every((font) => font.startsWith('NotoSans-'))).toBe(true);
		// U+1D11E MUSICAL SYMBOL G CLEF is in none of the shipped fonts.
		const { text, pdf } = await render(message(envelope, leaf('text/plain', 'Clef: \u{1d11e} end', { charset: 'utf-8' })));
		expect(text).toContain('Clef: \ufffd end');
		expect(invisible(pdf)).toEqual([]);
	});
});

describe('2b. Bengali, Tamil and the other Indic scripts, symbols and maths', () => {
	/** A staff notice as an Indian or Sri Lankan office sends it: one paragraph per language, with the words read back checked in order. */
	const NOTICE: Array<{ script: string; font: string; block: [number, number]; text: string; words: string[] }> = [
		{ script: 'Bengali', font: 'NotoSansBengali-Regular', block: [0x0980, 0x09ff], text: 'প্রিয় সহকর্মী, আগামী সপ্তাহের কার্যক্রমের সূচি সংযুক্ত করা হলো। ধন্যবাদ।', words: ['আগামী', 'সূ', 'করা'] },
		{ script: 'Gurmukhi', font: 'NotoSansGurmukhi-Regular', block: [0x0a00, 0x0a7f], text: 'ਸਤਿ ਸ੍ਰੀ ਅਕਾਲ ਜੀ, ਮੀਟਿੰਗ ਵੀਰਵਾਰ ਤੱਕ ਮੁਲਤਵੀ ਕਰ ਦਿੱਤੀ ਗਈ ਹੈ। ਕਿਰਪਾ ਕਰਕੇ ਆਪਣੀ ਪ੍ਰਤੀਕਿਰਿਆ ਭੇਜੋ।', words: ['ਅਕਾਲ ਜੀ,', 'ਵੀਰਵਾਰ ਤੱਕ ਮੁਲਤਵੀ ਕਰ'] },
		{ script: 'Gujarati', font: 'NotoSansGujarati-Regular', block: [0x0a80, 0x0aff], text: 'પ્રિય મિત્ર, બેઠક ગુરુવાર સુધી મુલતવી રાખવામાં આવી છે. કૃપા કરીને તમારો પ્રતિસાદ મોકલો.', words: ['બેઠક ગુરુવાર સુધી મુલતવી', 'કૃપા કરીને'] },
		{ script: 'Oriya', font: 'NotoSansOriya-Regular', block: [0x0b00, 0x0b7f], text: 'ପ୍ରିୟ ବନ୍ଧୁ, ବୈଠକ ଗୁରୁବାର ପର୍ଯ୍ୟନ୍ତ ସ୍ଥଗିତ ରଖାଯାଇଛି। ଦୟାକରି ଆପଣଙ୍କ ମତାମତ ପଠାନ୍ତୁ।', words: ['ଗୁରୁବାର', 'ରଖାଯାଇଛି।', 'ମତାମତ'] },
		{ script: 'Tamil', font: 'NotoSansTamil-Regular', block: [0x0b80, 0x0bff], text: 'அன்புள்ள நண்பரே, கூட்டம் வியாழக்கிழமைக்கு ஒத்திவைக்கப்பட்டுள்ளது. தயவுசெய்து உங்கள் கருத்துகளை அனுப்புங்கள். நன்றி!', words: ['அன்புள்ள', 'கூட்டம்', 'உங்கள்', 'நன்றி!'] },
		{ script: 'Telugu', font: 'NotoSansTelugu-Regular', block: [0x0c00, 0x0c7f], text: 'ప్రియమైన మిత్రమా, సమావేశం గురువారానికి వాయిదా వేయబడింది. దయచేసి మీ అభిప్రాయాన్ని పంపండి. ధన్యవాదాలు, శ్రీ', words: ['సమావేశం గురువారానికి వాయిదా', 'దయచేసి మీ'] },
		{ script: 'Kannada', font: 'NotoSansKannada-Regular', block: [0x0c80, 0x0cff], text: 'ಪ್ರಿಯ ಸ್ನೇಹಿತರೇ, ಸಭೆಯನ್ನು ಗುರುವಾರಕ್ಕೆ ಮುಂದೂಡಲಾಗಿದೆ. ದಯವಿಟ್ಟು ನಿಮ್ಮ ಪ್ರತಿಕ್ರಿಯೆಯನ್ನು ಕಳುಹಿಸಿ.', words: ['ಮುಂದೂಡಲಾಗಿದೆ.', 'ಕಳುಹಿಸಿ.'] },
		{ script: 'Malayalam', font: 'NotoSansMalayalam-Regular', block: [0x0d00, 0x0d7f], text: 'പ്രിയ സുഹൃത്തേ, യോഗം വ്യാഴാഴ്ചയിലേക്ക് മാറ്റിവച്ചിരിക്കുന്നു. ദയവായി നിങ്ങളുടെ അഭിപ്രായം അയയ്ക്കുക. നന്ദി', words: ['മാറ്റിവച്ചിരിക്കുന്നു.', 'ദയവായി', 'നന്ദി'] },
		{ script: 'Sinhala', font: 'NotoSansSinhala-Regular', block: [0x0d80, 0x0dff], text: 'ආයුබෝවන් මිත්‍රයා, රැස්වීම බ්‍රහස්පතින්දා දක්වා කල් දමා ඇත. කරුණාකර ඔබේ අදහස් එවන්න. ස්තුතියි, ශ්‍රී ලංකාව', words: ['රැස්වීම', 'දක්වා කල් දමා ඇත.', 'ස්තුතියි'] },
	];

	it('a notice in nine Indic scripts: each drawn by its own font with real glyphs, the paragraphs in order', async () => {
		const html = ['<p>Dear colleagues, the notice in your language:</p>', ...NOTICE.map(({ text }) => `<p>${text}</p>`), '<p>HR office</p>'].join('\n');
		const { text, pdf } = await render(message({ ...envelope, subject: encodedWord('கூட்டம் ஒத்திவைப்பு / সভা স্থগিত', 'utf-8') }, leaf('text/html', html, { charset: 'utf-8' })));
		expect(invisible(pdf)).toEqual([]);
		expect(text).not.toContain('\ufffd');
		expect(pdfFonts(pdf)).toEqual(expect.arrayContaining(NOTICE.map(({ font }) => font)));
		const glyphs = pdfGlyphs(pdf);
		for (const { script, font, block } of NOTICE) {
			const drawn = glyphs.filter(({ text: char }) => [...char].some((c) => c.codePointAt(0)! >= block[0] && c.codePointAt(0)! <= block[1]));
			expect({ script, fonts: [...new Set(drawn.map((glyph) => glyph.font))] }).toEqual({ script, fonts: [font] });
		}
		// A PDF holds glyphs in visual order: a vowel sign drawn before its consonant (কি, கை) is read
		// back before it, so the words checked are those whose glyphs keep the typed order.
		expectInOrder(text, ['கூட்டம்', 'Dear colleagues', ...NOTICE.flatMap(({ words }) => words), 'HR office']);
	});

	/**
	 * Clusters that need Indic shaping (conjuncts, vowel signs drawn before the consonant or split
	 * around it, reph, below-base forms), laid out by fontkit as pdfkit does, against the glyphs
	 * HarfBuzz 6.0 (`hb-shape`) gives for the same font. The Gurmukhi, Telugu and Malayalam ones
	 * threw in fontkit 2.0.4 before lib/email/fonts.ts made it skip NULL mark anchors.
	 */
	it.each([
		['NotoSans-Regular.ttf', [['क्ष', [4147]], ['कि', [4023, 3935]], ['र्क', [3935, 4149]], ['स्त्री', [4241, 4159, 3930]]]],
		['NotoSansBengali-Regular.ttf', [['ক্ষমা', [135, 49, 59]], ['কি', [60, 25]], ['কো', [398, 25, 59]], ['প্র', [234, 281]], ['র্ক', [25, 132]]]],
		['NotoSansGurmukhi-Regular.ttf', [['ਕਿ', [52, 17]], ['ਪ੍ਰ', [37, 111]], ['ਸ੍ਰੀ', [48, 111, 53]]]],
		['NotoSansGujarati-Regular.ttf', [['ક્ષ', [129]], ['કિ', [625, 21]], ['ર્ક', [21, 674]], ['શ્રી', [233, 59]]]],
		['NotoSansOriya-Regular.ttf', [['କ୍ଷ', [255]], ['କି', [866, 60]], ['କୋ', [69, 866, 59]], ['ର୍କ', [866, 81]]]],
		['NotoSansTamil-Regular.ttf', [['க்ஷ', [76]], ['கொ', [46, 18, 41]], ['கை', [48, 18]], ['ஸ்ரீ', [163]]]],
		['NotoSansTelugu-Regular.ttf', [['క్ష', [104]], ['ప్ర', [43, 545]], ['కొ', [365]], ['శ్రీ', [244, 556]]]],
		['NotoSansKannada-Regular.ttf', [['ಕ್ಷ', [287]], ['ಪ್ರ', [43, 124]], ['ಕೊ', [242, 64]], ['ರ್ಕ', [23, 93]]]],
		['NotoSansMalayalam-Regular.ttf', [['ക്ഷ', [167]], ['കൊ', [71, 23, 64]], ['കൈ', [73, 23]], ['സ്ത്രീ', [58, 77, 162, 38, 66]]]],
		['NotoSansSinhala-Regular.ttf', [['කො', [74, 24, 66]], ['ශ්‍රී', [350, 167]], ['ක්‍ය', [24, 128]], ['කෞ', [74, 24, 80]]]],
	] as Array<[string, Array<[string, number[]]>]>)('%s shapes conjuncts and reordered vowel signs as HarfBuzz does', (file, clusters) => {
		const font = fontkit.create(fontBytes(file)) as fontkit.Font;
		for (const [cluster, glyphs] of clusters) expect({ cluster, glyphs: font.layout(cluster).glyphs.map((glyph) => glyph.id) }).toEqual({ cluster, glyphs });
	});

	// A plain-text body: each line in its own run of fonts, which pdfkit used to draw over the line before.
	it('a status report with ★ ☆ ✓ ✗ ♠ ⚠, arrows and maths: every symbol drawn with a real glyph, line by line', async () => {
		const lines = [
			'Review: ★★★★☆ (4/5)',
			'Unit tests ✓ passed · lint ✗ failed · ☐ docs ☑ changelog',
			'⚠ Deadline moved ← Monday → Friday ⇒ release on 12 June',
			'Budget: ∑ costs ≤ 10 000 €, overrun ≠ 0, margin ≥ 5 %, √2 ≈ 1.414, growth → ∞',
			'Poker night ♠ ♣ ♥ ♦ ♪ ⌘ ⚙',
		];
		const { text, pdf } = await render(message({ ...envelope, subject: encodedWord('Status ✓ ★', 'utf-8') }, leaf('text/plain', lines.join('\n'), { charset: 'utf-8' })));
		expect(invisible(pdf)).toEqual([]);
		expect(text).not.toContain('\ufffd');
		expectInOrder(text, ['Status ✓ ★', ...lines]);
		expect(pdfLines(pdf).slice(-lines.length)).toEqual(lines);
		expect(pdfFonts(pdf)).toEqual(expect.arrayContaining(['NotoSansSymbols-Regular', 'NotoSansSymbols2-Regular', 'NotoSansMath-Regular']));
	});
});

describe('3. every text part is drawn, in order', () => {
	it('a text/plain part beside the HTML in multipart/mixed, and an inline .txt part', async () => {
		const eml = message(
			envelope,
			multipart('mixed', [
				leaf('text/html', '<p>HTML part first.</p>', { charset: 'utf-8' }),
				leaf('text/plain', 'Plain part second.', { charset: 'utf-8' }),
				leaf('text/plain', 'Notes from the inline file, 1,865 characters in real life.', { charset: 'utf-8', disposition: 'inline', fileName: 'notes.txt' }),
				leaf('text/plain', 'Attached, not shown.', { charset: 'utf-8', disposition: 'attachment', fileName: 'log.txt' }),
			]),
		);
		const { text } = await render(eml);
		expectInOrder(text, ['HTML part first.', 'Plain part second.', 'Notes from the inline file', 'Attachments (1)', 'log.txt']);
		expect(text).not.toContain('Attached, not shown.');
	});

	it('a bounce: the explanation, the delivery status and the returned headers', async () => {
		const status = 'Reporting-MTA: dns; mail.example.com\r\n\r\nFinal-Recipient: rfc822; nobody@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n';
		const raw = [
			'From: Mail Delivery System <mailer-daemon@example.com>',
			'To: ada@example.com',
			'Subject: Undelivered Mail Returned to Sender',
			'Date: Tue, 01 Dec 2026 09:31:00 +0000',
			'MIME-Version: 1.0',
			'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
			'',
			'--B',
			'Content-Type: text/plain; charset=us-ascii',
			'',
			'Your message could not be delivered to one recipient.',
			'--B',
			'Content-Type: message/delivery-status',
			'',
			status,
			'--B',
			'Content-Type: text/rfc822-headers',
			'',
			'Subject: Engine notes',
			'--B--',
			'',
		].join('\r\n');
		const { text } = await render(Buffer.from(raw));
		expectInOrder(text, ['Your message could not be delivered', 'Final-Recipient: rfc822; nobody@example.org', 'Status: 5.1.1', 'Subject: Engine notes']);
	});
});

describe('4. legacy charsets in raw headers and mislabelled bodies', () => {
	it('8-bit header bytes in the declared charset (windows-1252), and a Big5 subject with a Big5 body', async () => {
		const latin = Buffer.concat([
			Buffer.from('From: '),
			iconv.encode('Jürgen Fröhlich <jf@example.de>', 'windows-1252'),
			Buffer.from('\r\nTo: ada@example.com\r\nSubject: '),
			iconv.encode('Frösche und Grüße', 'windows-1252'),
			Buffer.from('\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
			iconv.encode('Schöne Grüße aus Köln.', 'windows-1252'),
		]);
		const de = await render(latin);
		expect(de.parsed.subject).toBe('Frösche und Grüße');
		expectInOrder(de.text, ['Frösche und Grüße', 'From: Jürgen Fröhlich <jf@example.de>', 'Schöne Grüße aus Köln.']);

		const subject = '會議記錄與下週的工作安排';
		const big5 = Buffer.concat([
			Buffer.from('From: office@example.tw\r\nTo: ada@example.com\r\nSubject: '),
			iconv.encode(subject, 'big5'),
			Buffer.from('\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=big5\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
			iconv.encode('請參閱附件中的會議記錄。', 'big5'),
		]);
		const tw = await render(big5);
		expect(tw.parsed.subject).toBe(subject);
		expect(tw.text).not.toContain('\ufffd');
	});

	it('a body in EUC-JP or Shift_JIS labelled ISO-2022-JP is detected and decoded', async () => {
		const japanese = 'お世話になっております。来週の会議の資料を送ります。よろしくお願いいたします。';
		for (const actual of ['euc-jp', 'shift_jis']) {
			const raw = Buffer.concat([
				Buffer.from('From: yamada@example.jp\r\nTo: ada@example.com\r\nSubject: Shiryou\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
				iconv.encode(japanese, actual),
			]);
			const { text } = await render(raw);
			expectInOrder(text, [japanese]);
		}
	});
});

describe('5. broken HTML', () => {
	it('a body after an unclosed <head> is drawn, the title and styles are not', async () => {
		const html = '<html><head><title>Hidden title</title><style>p{color:red}</style><body><p>Visible after an unclosed head.</p></body></html>';
		const { text } = await render(message(envelope, leaf('text/html', html, { charset: 'utf-8' })));
		expectInOrder(text, ['Engine notes', 'Visible after an unclosed head.']);
		expect(text).not.toContain('Hidden title');
		expect(text).not.toContain('color:red');
	});
});

describe('6. containers are opened', () => {
	it('TNEF (winmail.dat): the body is drawn and its attachments are listed and embedded byte for byte', async () => {
		const report = Buffer.from('%PDF-1.4 quarterly report');
		const sheet = Buffer.from('PK\u0003\u0004 pretend spreadsheet');
		const winmail = tnef('Please find the quarterly figures attached.\r\nRegards, Ada', [
			{ fileName: 'Quarterly report 2026.pdf', contentType: 'application/pdf', content: report },
			{ fileName: 'figures.xlsx', contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', content: sheet },
		]);
		const eml = message(envelope, multipart('mixed', [leaf('text/plain', '', { charset: 'utf-8' }), leaf('application/ms-tnef', winmail, { disposition: 'attachment', fileName: 'winmail.dat' })]));
		const { text, pdf, attachments } = await render(eml);
		expectInOrder(text, ['Please find the quarterly figures attached.', 'Regards, Ada', 'Attachments (2)', 'Quarterly report 2026.pdf (application/pdf', 'figures.xlsx']);
		expect(text).not.toContain('winmail.dat');
		expect(pdfEmbeddedFiles(pdf)).toEqual({ 'Quarterly report 2026.pdf': report, 'figures.xlsx': sheet });
		expect(attachments.map((attachment) => attachment.fileName)).toEqual(['Quarterly report 2026.pdf', 'figures.xlsx']);
	});

	it('a calendar invite: when, where, organiser and attendees are drawn; the .ics is listed by that name', async () => {
		const ics = [
			'BEGIN:VCALENDAR',
			'VERSION:2.0',
			'PRODID:-//Example//Calendar//EN',
			'METHOD:REQUEST',
			'BEGIN:VTIMEZONE',
			'TZID:Europe/Berlin',
			'BEGIN:STANDARD',
			'DTSTART:19701025T030000',
			'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU',
			'TZOFFSETFROM:+0200',
			'TZOFFSETTO:+0100',
			'END:STANDARD',
			'END:VTIMEZONE',
			'BEGIN:VEVENT',
			'UID:engine-review@example.com',
			'DTSTAMP:20261201T093000Z',
			'DTSTART;TZID=Europe/Berlin:20261203T140000',
			'DTEND;TZID=Europe/Berlin:20261203T153000',
			'SUMMARY:Engine design review',
			'LOCATION:Room 4\\, Babbage building',
			'ORGANIZER;CN=Ada Lovelace:mailto:ada@example.com',
			'ATTENDEE;CN=Charles Babbage;PARTSTAT=ACCEPTED:mailto:charles@example.com',
			'ATTENDEE;CN=Mary Somerville;PARTSTAT=NEEDS-ACTION:mailto:mary@example.org',
			'END:VEVENT',
			'END:VCALENDAR',
		].join('\r\n');
		const eml = message(envelope, multipart('mixed', [multipart('alternative', [leaf('text/plain', 'You are invited.', { charset: 'utf-8' }), leaf('text/html', '<p>You are invited.</p>', { charset: 'utf-8' }), leaf('text/calendar; method=REQUEST', ics, { charset: 'utf-8' })]), leaf('application/ics', Buffer.from(ics))]));
		const { text, attachments } = await render(eml, { ...A4, timeZone: 'Europe/London' });
		expectInOrder(text, [
			'You are invited.',
			'Invitation: Engine design review',
			'When Thu, 3 Dec 2026 13:00 UTC+00:00 – 14:30 UTC+00:00',
			'Where Room 4, Babbage building',
			'Organiser Ada Lovelace <ada@example.com>',
			'Attendees Charles Babbage <charles@example.com> (accepted)',
			'Mary Somerville <mary@example.org> (not answered yet)',
		]);
		expect(attachments.map((attachment) => attachment.fileName)).toContain('attachment-1.ics');
	});

	it('opaque-signed S/MIME: the signed body and its attachment are read without a key', async () => {
		const csv = Buffer.from('item,qty\ngear,12\n');
		const inner = Buffer.from(multipart('mixed', [leaf('text/plain', 'Signed and sealed: the order stands.', { charset: 'utf-8' }), leaf('text/csv', csv, { disposition: 'attachment', fileName: 'order.csv' })]), 'latin1');
		const p7m = opaqueSigned(inner);
		const raw = message(envelope, leaf('application/pkcs7-mime; smime-type=signed-data', p7m, { disposition: 'attachment', fileName: 'smime.p7m' }));
		const { text, pdf } = await render(raw);
		expectInOrder(text, ['This message is signed (S/MIME); the signature was not checked.', 'Signed and sealed: the order stands.', 'Attachments (1)', 'order.csv']);
		expect(pdfEmbeddedFiles(pdf)).toEqual({ 'order.csv': csv });
	});

	it('encrypted S/MIME says so in the PDF', async () => {
		const raw = message(envelope, leaf('application/pkcs7-mime; smime-type=enveloped-data', Buffer.from([0x30, 0x80, 1, 2, 3]), { disposition: 'attachment', fileName: 'smime.p7m' }));
		const { text } = await render(raw);
		expectInOrder(text, ['This message is encrypted (S/MIME)', "cannot be read without the recipient's private key", 'Attachments (1)', 'smime.p7m']);
	});
});

describe('7. huge headers', () => {
	it('a 200 KB subject: the header block shows the start, the metadata keeps it all', async () => {
		const subject = `Subject start ${'x'.repeat(200_000)} subject end`;
		const { text, pages, pdf } = await render(message({ ...envelope, subject }, leaf('text/plain', 'Short body.', { charset: 'utf-8' })));
		expect(pages).toBe(1);
		expectInOrder(text, ['Subject start', 'more characters; the whole subject is in the PDF', 'Short body.']);
		expect(text).not.toContain('subject end');
		expect(pdfInfo(pdf).Title).toBe(subject);
	});
});
