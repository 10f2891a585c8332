import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { baseName } from '../../../../lib';
import { locationFields } from '../fields';
import { openLocation } from '../../transport/locations';
import { entryJson } from '../../helpers/items';
import { statRequested } from '../../helpers/exists';

const show = { resource: ['file'], operation: ['download'] };

export const description: INodeProperties[] = [
	...locationFields('target', show),
	{
		displayName: 'File Path',
		name: 'filePath',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'Reports/2026/summary.pdf',
		displayOptions: { show },
		description: 'Path of the file inside the folder; after a List, map it from the path field of each item',
	},
	{
		displayName: 'Put Output File in Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		required: true,
		displayOptions: { show },
		description: 'The name of the output binary field to put the file in',
	},
];

export async function execute(this: IExecuteFunctions, itemIndex: number, signal?: AbortSignal): Promise<INodeExecutionData[]> {
	const path = String(this.getNodeParameter('filePath', itemIndex)).trim();
	const property = this.getNodeParameter('binaryPropertyName', itemIndex) as string;
	const location = await openLocation(this, 'target', itemIndex);
	const entry = await statRequested(location.provider, path);
	const stream = await location.provider.read(entry.path, { signal });
	const binary = await this.helpers.prepareBinaryData(stream, baseName(entry.path), entry.mimeType);
	return [{ json: entryJson(entry, location.label), binary: { [property]: binary }, pairedItem: { item: itemIndex } }];
}
