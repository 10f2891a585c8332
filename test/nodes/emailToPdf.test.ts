import {
	NodeConnectionTypes,
	type IBinaryKeyData,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeParameters,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';
import { EmailToPdf } from '../../nodes/EmailToPdf/EmailToPdf.node';
import { disposeHarness, outputItems, readBinary, runWorkflow, type RunOptions, type WorkflowJson } from './harness';
import { encodedWord, imapResolved, leaf, message, multipart, png } from '../support/mime';
import { expectInOrder, pdfEmbeddedFiles, pdfImages, pdfText } from '../support/pdf';

interface FixtureBinary {
	base64: string;
	fileName: string;
	mimeType: string;
}

/**
 * Test-only: emits the items given as JSON, each binary stored through n8n's binary data service
 * as an email node stores the .eml or the attachments it downloads.
 */
class EmailSource implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Email Source (test)',
		name: 'emailSource',
		group: ['input'],
		version: 1,
		description: 'Test-only: emits given items with binaries',
		defaults: { name: 'Email Source' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		properties: [{ displayName: 'Items', name: 'items', type: 'json', default: '[]' }],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const given = JSON.parse(this.getNodeParameter('items', 0) as string) as Array<{ json: IDataObject; binary?: Record<string, FixtureBinary> }>;
		const items: INodeExecutionData[] = [];
		for (const [index, item] of given.entries()) {
			const binary: IBinaryKeyData = {};
			for (const [name, file] of Object.entries(item.binary ?? {})) {
				binary[name] = await this.helpers.prepareBinaryData(Buffer.from(file.base64, 'base64'), file.fileName, file.mimeType);
			}
			items.push({ json: item.json, binary: item.binary ? binary : undefined, pairedItem: { item: index } });
		}
		return [items];
	}
}

const options: RunOptions = {
	nodeTypes: { 'test.emailSource': new EmailSource(), 'n8n-nodes-cloudsync.emailToPdf': new EmailToPdf() },
};

afterAll(() => disposeHarness());

function workflow(items: unknown[], parameters: INodeParameters, continueOnFail = false): WorkflowJson {
	return {
		name: 'email to pdf',
		nodes: [
			{ id: 't', name: 'Manual Trigger', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: 's', name: 'Email Source', type: 'test.emailSource', typeVersion: 1, position: [220, 0], parameters: { items: JSON.stringify(items) } },
			{ id: 'p', name: 'Email to PDF', type: 'n8n-nodes-cloudsync.emailToPdf', typeVersion: 1, position: [440, 0], parameters, continueOnFail },
		],
		connections: {
			'Manual Trigger': { main: [[{ node: 'Email Source', type: 'main', index: 0 }]] },
			'Email Source': { main: [[{ node: 'Email to PDF', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as WorkflowJson;
}

const eml = (subject: string, body: string, attachments: string[] = []) =>
	message(
		{ from: 'Ada Lovelace <ada@example.com>', to: 'Charles Babbage <charles@example.com>', subject, date: 'Tue, 01 Dec 2026 09:30:00 +0000' },
		attachments.length === 0
			? leaf('text/plain', body, { charset: 'utf-8' })
			: multipart('mixed', [leaf('text/plain', body, { charset: 'utf-8' }), ...attachments.map((name) => leaf('text/plain', Buffer.from(`content of ${name}`), { disposition: 'attachment', fileName: name }))]),
	);

const emlItem = (bytes: Buffer, json: IDataObject = {}) => ({ json, binary: { data: { base64: bytes.toString('base64'), fileName: 'message.eml', mimeType: 'message/rfc822' } } });

describe('Email to PDF node, through n8n-core', () => {
	it('turns each .eml into a PDF binary named from the template, with pairedItem, and passes attachments on when asked', async () => {
		const items = [emlItem(eml('Weekly report', 'Numbers are up.', ['numbers.csv', 'notes.txt'])), emlItem(eml(encodedWord('Отчёт: итоги', 'utf-8'), 'Второе письмо.'))];
		const result = await runWorkflow(workflow(items, { source: 'binary', binaryPropertyName: 'data', fileName: '{date} {subject} - {sender}', outputBinaryPropertyName: 'pdf', options: { outputAttachments: true } }), options);
		expect(result.status).toBe('success');
		const [first, second] = outputItems(result, 'Email to PDF');
		expect(first.pairedItem).toEqual({ item: 0 });
		expect(second.pairedItem).toEqual({ item: 1 });
		expect(first.json).toMatchObject({
			fileName: '2026-12-01 Weekly report - Ada Lovelace.pdf',
			subject: 'Weekly report',
			from: 'Ada Lovelace <ada@example.com>',
			to: 'Charles Babbage <charles@example.com>',
			date: '2026-12-01T09:30:00.000Z',
			pages: 1,
			attachments: [
				{ fileName: 'numbers.csv', contentType: 'text/plain', size: 22 },
				{ fileName: 'notes.txt', contentType: 'text/plain', size: 20 },
			],
		});
		expect(first.binary!.pdf).toMatchObject({ fileName: '2026-12-01 Weekly report - Ada Lovelace.pdf', mimeType: 'application/pdf' });
		const pdf = await readBinary(first.binary!.pdf);
		expectInOrder(pdfText(pdf), ['Weekly report', 'From: Ada Lovelace <ada@example.com>', 'Numbers are up.', 'Attachments (2)', 'numbers.csv', 'notes.txt']);
		expect(Object.keys(pdfEmbeddedFiles(pdf)).sort()).toEqual(['notes.txt', 'numbers.csv']);
		expect((await readBinary(first.binary!.attachment_0)).toString()).toBe('content of numbers.csv');
		expect(first.binary!.attachment_1.fileName).toBe('notes.txt');

		expect(second.json.fileName).toBe('2026-12-01 Отчёт_ итоги - Ada Lovelace.pdf');
		expectInOrder(pdfText(await readBinary(second.binary!.pdf)), ['Отчёт: итоги', 'Второе письмо.']);
		expect(Object.keys(second.binary!)).toEqual(['pdf']);
	});

	it('reads the JSON of the Email Trigger (IMAP) with its attachment_N binaries', async () => {
		const resolved = await imapResolved(
			message(
				{ from: 'Legal <legal@example.com>', to: 'ada@example.com', subject: 'Signed contract', date: 'Mon, 30 Nov 2026 08:00:00 +0000' },
				multipart('mixed', [
					multipart('related', [
						leaf('text/html', '<p>The <b>signed</b> contract is attached.</p><img src="cid:seal@example" alt="seal">', { charset: 'utf-8' }),
						leaf('image/png', png(80, 40, [20, 120, 60]), { disposition: 'inline', fileName: 'seal.png', contentId: 'seal@example' }),
					]),
					leaf('application/pdf', Buffer.from('%PDF-1.4 contract'), { disposition: 'attachment', fileName: 'contract.pdf' }),
				]),
			),
		);
		const item = {
			json: { ...resolved.json, attributes: { uid: 7 } },
			binary: Object.fromEntries(resolved.attachments.map((file, index) => [`attachment_${index}`, { base64: file.content.toString('base64'), fileName: file.fileName, mimeType: file.contentType }])),
		};
		// As the trigger hands it on: the image inlined as a data: URI, and also an attachment binary.
		expect(resolved.json.html).toContain('src="data:image/png;base64,');
		expect(Object.values(item.binary).map((binary) => binary.fileName)).toEqual(['seal.png', 'contract.pdf']);
		const result = await runWorkflow(workflow([item], { source: 'json', attachmentsPrefix: 'attachment_', fileName: '{senderAddress} {subject}', outputBinaryPropertyName: 'data', options: { embedAttachments: false } }), options);
		const [output] = outputItems(result, 'Email to PDF');
		expect(output.json.fileName).toBe('legal@example.com Signed contract.pdf');
		const pdf = await readBinary(output.binary!.data);
		expectInOrder(pdfText(pdf), ['Signed contract', 'From: Legal <legal@example.com>', 'The signed contract is attached.', 'Attachments (1)', 'contract.pdf (application/pdf, 17 B)']);
		expect(pdfText(pdf)).not.toContain('seal.png');
		expect(pdfImages(pdf)).toEqual([{ page: 1, width: 80, height: 40 }]);
		expect(output.json.attachments).toEqual([{ fileName: 'contract.pdf', contentType: 'application/pdf', size: 17 }]);
		expect(pdfEmbeddedFiles(pdf)).toEqual({});
	});

	it('bad input: one clear error per item; with Continue On Fail the good items still come out', async () => {
		const items = [
			emlItem(eml('Good one', 'Fine.')),
			emlItem(Buffer.from('%PDF-1.7 this is a PDF, not an email')),
			emlItem(Buffer.alloc(0)),
			{ json: { note: 'no binary at all' } },
			{ json: {}, binary: { attachment: { base64: 'aGk=', fileName: 'x.txt', mimeType: 'text/plain' } } },
		];
		const parameters = { source: 'binary', binaryPropertyName: 'data', fileName: '{subject}', outputBinaryPropertyName: 'data' };

		const continued = await runWorkflow(workflow(items, parameters, true), options);
		const output = outputItems(continued, 'Email to PDF');
		expect(output.map((item) => item.pairedItem)).toEqual([0, 1, 2, 3, 4].map((item) => ({ item })));
		expect(output[0].json.fileName).toBe('Good one.pdf');
		expect(output.slice(1).map((item) => item.json.error)).toEqual([
			'The file is not an email: its first line "%PDF-1.7 this is a PDF, not an email" is not a header field such as "From: …" or "Subject: …"',
			'The email file is empty',
			'This item has no binary property "data"',
			'This item has no binary property "data"',
		]);
		expect(output.slice(1).every((item) => item.binary === undefined)).toBe(true);

		const stopped = await runWorkflow(workflow(items, parameters), options);
		const error = stopped.nodes['Email to PDF'][0].error!;
		expect(error).toMatchObject({ name: 'NodeOperationError', message: 'The file is not an email: its first line "%PDF-1.7 this is a PDF, not an email" is not a header field such as "From: …" or "Subject: …"', itemIndex: 1 });
		expect(error.description).toMatch(/starts with header lines/);

		const missing = await runWorkflow(workflow([items[4]], parameters), options);
		expect(missing.nodes['Email to PDF'][0].error).toMatchObject({ itemIndex: 0, description: 'Set Input Binary Field to one of: attachment.' });
	});
});
