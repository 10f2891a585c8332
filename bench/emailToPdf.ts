/**
 * npm run bench:email
 *
 * Time and peak memory of Email to PDF (parse + render) for a few kinds of email, each measured in
 * a process of its own so that its peak RSS is its own. Prints one row per case; asserts nothing.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseRawEmail, renderEmailPdf } from '../lib/email';
import { leaf, message, multipart, tnef } from '../test/support/mime';

const MiB = 1024 * 1024;
const envelope = { from: 'Ada Lovelace <ada@example.com>', to: 'Charles Babbage <charles@example.com>', subject: 'Benchmark' };

const paragraphs = (count: number, text: string) => Array.from({ length: count }, (_, i) => `<p>${i + 1}. ${text}</p>`).join('\n');

const CASES: Record<string, { describe: string; build: () => Buffer; embed: boolean }> = {
	small: {
		describe: 'HTML email, 20 paragraphs, no attachment',
		build: () => message(envelope, leaf('text/html', paragraphs(20, 'The mill and the store work together; the cards hold the program.'), { charset: 'utf-8' })),
		embed: true,
	},
	cjk: {
		describe: 'HTML email, 400 paragraphs mixing Latin, Cyrillic and CJK',
		build: () => message(envelope, leaf('text/html', paragraphs(400, 'Report — Отчёт — 報告書の内容を確認してください。 — 보고서를 확인하세요.'), { charset: 'utf-8' })),
		embed: true,
	},
	rtl: {
		describe: 'HTML email, 100 paragraphs of Hebrew, Arabic and Thai',
		build: () => message(envelope, leaf('text/html', paragraphs(100, 'שלום לכולם, הפגישה נדחתה ליום חמישי — مرحبا بكم، تم تأجيل الاجتماع — สวัสดีครับ การประชุมเลื่อนไปวันพฤหัสบดี'), { charset: 'utf-8' })),
		embed: true,
	},
	indic: {
		describe: 'HTML email, 100 paragraphs of Bengali, Tamil, Telugu, Malayalam and symbols',
		build: () => message(envelope, leaf('text/html', paragraphs(100, 'সভা বৃহস্পতিবার পর্যন্ত স্থগিত — கூட்டம் ஒத்திவைக்கப்பட்டது — సమావేశం వాయిదా వేయబడింది — യോഗം മാറ്റിവച്ചു — ★★★★☆ ✓ ✗ ⇒ ≤ ∞'), { charset: 'utf-8' })),
		embed: true,
	},
	tnef: {
		describe: 'Outlook TNEF (winmail.dat): body and 3 attachments of 1 MiB',
		build: () =>
			message(
				envelope,
				multipart('mixed', [
					leaf('application/ms-tnef', tnef('The quarterly figures are attached.', [1, 2, 3].map((n) => ({ fileName: `figures-${n}.xlsx`, contentType: 'application/octet-stream', content: randomBytes(MiB) }))), { disposition: 'attachment', fileName: 'winmail.dat' }),
				]),
			),
		embed: true,
	},
	attachment20: {
		describe: 'text email with a 20 MiB attachment, embedded',
		build: () => message(envelope, multipart('mixed', [leaf('text/plain', 'The archive is attached.', { charset: 'utf-8' }), leaf('application/zip', randomBytes(20 * MiB), { disposition: 'attachment', fileName: 'archive.zip' })])),
		embed: true,
	},
	attachment20listed: {
		describe: 'the same, attachment listed only',
		build: () => message(envelope, multipart('mixed', [leaf('text/plain', 'The archive is attached.', { charset: 'utf-8' }), leaf('application/zip', randomBytes(20 * MiB), { disposition: 'attachment', fileName: 'archive.zip' })])),
		embed: false,
	},
};

async function measure(name: string): Promise<void> {
	const spec = CASES[name];
	const eml = spec.build();
	const started = process.hrtime.bigint();
	const parsed = await parseRawEmail(eml);
	const rendered = await renderEmailPdf(parsed, { pageSize: 'A4', embedAttachments: spec.embed });
	const ms = Number(process.hrtime.bigint() - started) / 1e6;
	// maxRSS is in KiB and covers the whole process, building the input included.
	const peak = process.resourceUsage().maxRSS / 1024;
	process.stdout.write(JSON.stringify({ eml: eml.length, ms, peak, pdf: rendered.pdf.length, pages: rendered.pages }));
}

function main(): void {
	const only = process.argv.indexOf('--case');
	if (only >= 0) {
		void measure(process.argv[only + 1]);
		return;
	}
	console.log('Email to PDF: parse + render, each case in a fresh process (fonts loaded cold)');
	console.log(['case'.padEnd(60), 'email'.padStart(10), 'time'.padStart(9), 'peak RSS'.padStart(10), 'PDF'.padStart(10), 'pages'.padStart(6)].join(' '));
	for (const [name, spec] of Object.entries(CASES)) {
		const out = JSON.parse(execFileSync(process.execPath, [__filename, '--case', name], { encoding: 'utf8', maxBuffer: MiB })) as { eml: number; ms: number; peak: number; pdf: number; pages: number };
		const size = (bytes: number) => (bytes >= MiB ? `${(bytes / MiB).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`);
		console.log([spec.describe.padEnd(60), size(out.eml).padStart(10), `${out.ms.toFixed(0)} ms`.padStart(9), `${out.peak.toFixed(0)} MiB`.padStart(10), size(out.pdf).padStart(10), String(out.pages).padStart(6)].join(' '));
	}
}

main();
