import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { createFilter, includes } from '../../../../lib';
import { filterOptions, locationFields } from '../fields';
import { openLocation } from '../../transport/locations';
import { readFilter } from '../../helpers/options';
import { entryJson, withPairing } from '../../helpers/items';

const show = { resource: ['folder'], operation: ['list'] };

export const description: INodeProperties[] = [
	...locationFields('target', show),
	{
		displayName: 'Include Folders',
		name: 'includeFolders',
		type: 'boolean',
		default: false,
		displayOptions: { show },
		description: 'Whether to output folders as well as files',
	},
	{
		displayName: 'Return All',
		name: 'returnAll',
		type: 'boolean',
		default: true,
		displayOptions: { show },
		description: 'Whether to return all results or only up to a given limit',
	},
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		default: 50,
		typeOptions: { minValue: 1 },
		displayOptions: { show: { ...show, returnAll: [false] } },
		description: 'Max number of results to return',
	},
	{ ...filterOptions, displayOptions: { show } },
];

export async function execute(this: IExecuteFunctions, itemIndex: number, signal?: AbortSignal): Promise<INodeExecutionData[]> {
	const location = await openLocation(this, 'target', itemIndex);
	const filter = createFilter(readFilter(this, itemIndex));
	const withFolders = this.getNodeParameter('includeFolders', itemIndex, false) as boolean;
	const limit = this.getNodeParameter('returnAll', itemIndex, true) ? Number.POSITIVE_INFINITY : (this.getNodeParameter('limit', itemIndex, 50) as number);
	const found = [];
	for await (const entry of location.provider.list('', { recursive: true, signal })) {
		if ((entry.isDir && !withFolders) || !includes(filter, entry)) continue;
		found.push(entryJson(entry, location.label));
		if (found.length >= limit) break;
	}
	return withPairing(found, itemIndex);
}
