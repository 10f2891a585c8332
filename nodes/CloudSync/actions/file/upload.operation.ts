import { Readable } from 'node:stream';
import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { joinPath, normalizeRelativePath } from '../../../../lib';
import { locationFields } from '../fields';
import { openLocation } from '../../transport/locations';
import { entryJson, withPairing } from '../../helpers/items';
import { checkExisting, ifExistsField, type IfExists } from '../../helpers/exists';

const show = { resource: ['file'], operation: ['upload'] };

export const description: INodeProperties[] = [
	...locationFields('target', show),
	{
		displayName: 'Input Binary Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		required: true,
		displayOptions: { show },
		description: 'The name of the input binary field holding the file',
	},
	{
		displayName: 'File Path',
		name: 'filePath',
		type: 'string',
		default: '',
		placeholder: "={{ 'Invoices/' + $now.toFormat('yyyy-MM') + '/' + $binary.data.fileName }}",
		displayOptions: { show },
		description: 'Path of the file inside the folder; missing folders are created. Empty: the binary\'s own file name.',
	},
	ifExistsField(show, 'replace'),
];

/** The input binary as a stream: filesystem-stored binaries are streamed, never loaded whole. */
export async function binaryStream(context: IExecuteFunctions, itemIndex: number, property: string) {
	const binary = context.helpers.assertBinaryData(itemIndex, property);
	if (binary.id) {
		const metadata = await context.helpers.getBinaryMetadata(binary.id);
		return { binary, size: metadata.fileSize, stream: await context.helpers.getBinaryStream(binary.id) };
	}
	const buffer = Buffer.from(binary.data, 'base64');
	return { binary, size: buffer.length, stream: Readable.from([buffer]) };
}

export async function execute(this: IExecuteFunctions, itemIndex: number, signal?: AbortSignal): Promise<INodeExecutionData[]> {
	const property = this.getNodeParameter('binaryPropertyName', itemIndex) as string;
	const { binary, size, stream } = await binaryStream(this, itemIndex, property);
	// The stream is open from here on: whatever fails before the write reads it must close it.
	try {
		const requested = String(this.getNodeParameter('filePath', itemIndex, '')).trim();
		const path = normalizeRelativePath(requested === '' || requested.endsWith('/') ? joinPath(requested, binary.fileName ?? 'file') : requested);
		const location = await openLocation(this, 'target', itemIndex, { create: true });
		const kept = await checkExisting(location.provider, path, this.getNodeParameter('ifExists', itemIndex, 'replace') as IfExists, this.getNode(), itemIndex);
		if (kept) return withPairing([{ ...entryJson(kept, location.label), skipped: true }], itemIndex);
		const written = await location.provider.write(path, stream, { size, signal });
		return withPairing([entryJson(written, location.label)], itemIndex);
	} finally {
		stream.destroy();
	}
}
