import {
	NodeConnectionTypes,
	NodeOperationError,
	type IBinaryKeyData,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';
import type { EmailAttachment, EmailMessage } from '../../lib/email';
import { PAGE_SIZES, type PageSize } from '../../lib/email/pageSizes';
import { errorText } from '../CloudSync/helpers/errors';

/**
 * The mail parser, PDF and font libraries cost about 40 MiB of RSS loaded (`npm run bench -- --case
 * footprint`): they load when the node first runs, not when n8n loads the node with every other.
 */
type EmailLibrary = typeof import('../../lib/email');
const emailLibrary = async (): Promise<EmailLibrary> => await import('../../lib/email');

interface Options {
	embedAttachments?: boolean;
	outputAttachments?: boolean;
	pageSize?: PageSize;
	title?: string;
	author?: string;
}

export class EmailToPdf implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Email to PDF',
		name: 'emailToPdf',
		icon: { light: 'file:emailToPdf.svg', dark: 'file:emailToPdf.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{ $parameter["source"] === "json" ? "from email fields" : "from .eml in " + $parameter["binaryPropertyName"] }}',
		description: 'Turn an email into a PDF (header, body, attachments), offline, ready for a cloud upload',
		defaults: { name: 'Email to PDF' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		properties: [
			{
				displayName: 'Source',
				name: 'source',
				type: 'options',
				noDataExpression: true,
				default: 'binary',
				options: [
					{ name: 'Binary File (.eml)', value: 'binary', description: 'A raw email (RFC 822) in a binary property' },
					{
						name: 'JSON From an Email Node',
						value: 'json',
						description: 'The output of the Email Trigger (IMAP), Gmail or Microsoft Outlook node, with attachments as binaries',
					},
				],
			},
			{
				displayName: 'Input Binary Field',
				name: 'binaryPropertyName',
				type: 'string',
				default: 'data',
				required: true,
				displayOptions: { show: { source: ['binary'] } },
				description: 'Name of the binary property that holds the .eml file',
			},
			{
				displayName: 'Attachments Prefix',
				name: 'attachmentsPrefix',
				type: 'string',
				default: 'attachment_',
				displayOptions: { show: { source: ['json'] } },
				description: 'Binary properties whose name starts with this are the email\'s attachments (the email nodes name them attachment_0, attachment_1, ...)',
			},
			{
				displayName: 'File Name',
				name: 'fileName',
				type: 'string',
				default: '{date} {subject} - {sender}',
				description:
					'Name of the PDF. Placeholders: {date} (yyyy-MM-dd), {time} (HH-mm), {subject}, {sender}, {senderAddress}. Characters that a cloud refuses are replaced, and ".pdf" is added.',
			},
			{
				displayName: 'Put PDF in Field',
				name: 'outputBinaryPropertyName',
				type: 'string',
				default: 'data',
				required: true,
				description: 'Name of the output binary property for the PDF',
			},
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add option',
				default: {},
				options: [
					{
						displayName: 'Author',
						name: 'author',
						type: 'string',
						default: '',
						description: 'Author in the PDF metadata. Default: the sender.',
					},
					{
						displayName: 'Embed Attachments',
						name: 'embedAttachments',
						type: 'boolean',
						default: true,
						description: 'Whether to embed the attachments in the PDF as file attachments (a PDF reader lists them in its attachments panel)',
					},
					{
						displayName: 'Output Attachments',
						name: 'outputAttachments',
						type: 'boolean',
						default: false,
						description: 'Whether to pass the attachments on as separate binaries (attachment_0, attachment_1, ...) next to the PDF',
					},
					{
						displayName: 'Page Size',
						name: 'pageSize',
						type: 'options',
						default: 'A4',
						options: PAGE_SIZES.map((size) => ({ name: size === 'LETTER' ? 'Letter' : size === 'LEGAL' ? 'Legal' : size, value: size })),
					},
					{
						displayName: 'Title',
						name: 'title',
						type: 'string',
						default: '',
						description: 'Title in the PDF metadata. Default: the subject.',
					},
				],
			},
		],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const output: INodeExecutionData[] = [];
		const email = await emailLibrary();
		for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
			try {
				output.push(await convert(this, email, items[itemIndex], itemIndex));
			} catch (error) {
				if (this.continueOnFail()) {
					output.push({ json: { error: errorText(error) }, pairedItem: { item: itemIndex } });
					continue;
				}
				throw toNodeError(this, email, error, itemIndex);
			}
		}
		return [output];
	}
}

function toNodeError(context: IExecuteFunctions, email: EmailLibrary, error: unknown, itemIndex: number): NodeOperationError {
	if (error instanceof NodeOperationError) return error;
	const description = error instanceof email.EmailInputError ? error.hint : 'The email could not be turned into a PDF; the message above says why.';
	return new NodeOperationError(context.getNode(), errorText(error), { itemIndex, description });
}

async function binaryBuffer(context: IExecuteFunctions, itemIndex: number, property: string): Promise<Buffer> {
	const binary = context.helpers.assertBinaryData(itemIndex, property);
	if (!binary.id) return Buffer.from(binary.data, 'base64');
	const chunks: Buffer[] = [];
	for await (const chunk of await context.helpers.getBinaryStream(binary.id)) chunks.push(chunk as Buffer);
	return Buffer.concat(chunks);
}

async function readEmail(context: IExecuteFunctions, email: EmailLibrary, item: INodeExecutionData, itemIndex: number): Promise<EmailMessage> {
	const source = context.getNodeParameter('source', itemIndex) as string;
	if (source === 'binary') {
		const property = context.getNodeParameter('binaryPropertyName', itemIndex) as string;
		if (!item.binary?.[property]) {
			const present = Object.keys(item.binary ?? {});
			throw new NodeOperationError(context.getNode(), `This item has no binary property "${property}"`, {
				itemIndex,
				description: present.length
					? `Set Input Binary Field to one of: ${present.join(', ')}.`
					: 'The item has no binary data at all. Put the .eml file in a binary property first (for example with Read/Write Files from Disk), or set Source to "JSON From an Email Node".',
			});
		}
		return await email.parseRawEmail(await binaryBuffer(context, itemIndex, property));
	}
	const prefix = context.getNodeParameter('attachmentsPrefix', itemIndex, 'attachment_') as string;
	const attachments: EmailAttachment[] = [];
	for (const [property, binary] of Object.entries(item.binary ?? {})) {
		if (prefix === '' || !property.startsWith(prefix)) continue;
		attachments.push({
			fileName: binary.fileName ?? property,
			contentType: binary.mimeType,
			content: await binaryBuffer(context, itemIndex, property),
		});
	}
	return await email.emailFromNodeJson(item.json, attachments);
}

async function convert(context: IExecuteFunctions, email: EmailLibrary, item: INodeExecutionData, itemIndex: number): Promise<INodeExecutionData> {
	const message = await readEmail(context, email, item, itemIndex);
	const options = context.getNodeParameter('options', itemIndex, {}) as Options;
	const template = context.getNodeParameter('fileName', itemIndex, '{date} {subject} - {sender}') as string;
	const outputProperty = context.getNodeParameter('outputBinaryPropertyName', itemIndex) as string;
	const timeZone = context.getTimezone();
	const rendered = await email.renderEmailPdf(message, {
		pageSize: options.pageSize ?? 'A4',
		embedAttachments: options.embedAttachments ?? true,
		title: options.title || undefined,
		author: options.author || undefined,
		timeZone,
	});
	const fileName = email.pdfFileName(template, message, timeZone);
	const binary: IBinaryKeyData = { [outputProperty]: await context.helpers.prepareBinaryData(rendered.pdf, fileName, 'application/pdf') };
	if (options.outputAttachments) {
		for (const [index, attachment] of rendered.attachments.entries()) {
			binary[`attachment_${index}`] = await context.helpers.prepareBinaryData(attachment.content, attachment.fileName, attachment.contentType);
		}
	}
	const json: IDataObject = {
		fileName,
		subject: message.subject,
		from: email.formatAddresses(message.from),
		to: email.formatAddresses(message.to),
		cc: email.formatAddresses(message.cc),
		date: message.date?.toISOString() ?? null,
		pages: rendered.pages,
		pdfSize: rendered.pdf.length,
		attachments: rendered.attachments.map((attachment) => ({ fileName: attachment.fileName, contentType: attachment.contentType, size: attachment.content.length })),
	};
	return { json, binary, pairedItem: { item: itemIndex } };
}
