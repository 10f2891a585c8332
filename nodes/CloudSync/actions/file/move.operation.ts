import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { locationFields } from '../fields';
import { openLocation } from '../../transport/locations';
import { entryJson, withPairing } from '../../helpers/items';
import { checkExisting, ifExistsField, type IfExists } from '../../helpers/exists';

const show = { resource: ['file'], operation: ['move'] };

export const description: INodeProperties[] = [
	...locationFields('target', show),
	{
		displayName: 'From Path',
		name: 'fromPath',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'Inbox/scan.pdf',
		displayOptions: { show },
	},
	{
		displayName: 'To Path',
		name: 'toPath',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'Archive/2026/scan.pdf',
		displayOptions: { show },
		description: 'New path inside the same folder; missing folders are created. Renaming is a move within one folder.',
	},
	ifExistsField(show, 'error'),
];

export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	const from = String(this.getNodeParameter('fromPath', itemIndex)).trim();
	const to = String(this.getNodeParameter('toPath', itemIndex)).trim();
	const location = await openLocation(this, 'target', itemIndex);
	const policy = this.getNodeParameter('ifExists', itemIndex, 'error') as IfExists;
	const caseOnly = from.toLowerCase() === to.toLowerCase();
	const kept = caseOnly ? undefined : await checkExisting(location.provider, to, policy, this.getNode(), itemIndex);
	if (kept) return withPairing([{ ...entryJson(kept, location.label), skipped: true }], itemIndex);
	const moved = await location.provider.move(from, to);
	return withPairing([{ ...entryJson(moved, location.label), previousPath: from }], itemIndex);
}
