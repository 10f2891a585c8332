import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { locationFields } from '../fields';
import { openLocation } from '../../transport/locations';
import { withPairing } from '../../helpers/items';
import { statRequested } from '../../helpers/exists';

const show = { resource: ['file'], operation: ['delete'] };

export const description: INodeProperties[] = [
	...locationFields('target', show),
	{
		displayName: 'Path',
		name: 'filePath',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'Old/report.pdf',
		displayOptions: { show },
		description: 'Path of the file or folder inside the chosen folder',
	},
	{
		displayName: 'Delete Folder Contents',
		name: 'recursive',
		type: 'boolean',
		default: false,
		displayOptions: { show },
		description: 'Whether a folder that still holds files is deleted with everything in it; otherwise only empty folders are deleted',
	},
];

export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	const path = String(this.getNodeParameter('filePath', itemIndex)).trim();
	const recursive = this.getNodeParameter('recursive', itemIndex, false) as boolean;
	const location = await openLocation(this, 'target', itemIndex);
	const entry = await statRequested(location.provider, path);
	await location.provider.delete(entry.path, { recursive });
	return withPairing([{ path: entry.path, deleted: true, type: entry.isDir ? 'folder' : 'file', cloud: location.label }], itemIndex);
}
