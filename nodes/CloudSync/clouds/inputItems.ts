import { NodeOperationError } from 'n8n-workflow';
import { parameter } from '../helpers/parameters';
import { InputItemsProvider } from '../transport/items';
import type { CloudDescriptor } from './descriptor';

/** The input items' binaries as one read-only source folder: files from an earlier node, or from another account. */
export const inputItems: CloudDescriptor = {
	value: 'items',
	option: { name: 'Input Items (Binary)', description: "The files in the input items' binary data, as one folder; all items make one run" },
	label: 'Input items',
	sides: ['source'],
	oneRunForAllItems: true,

	folderFields: (side) => [
		{
			displayName: 'Input Binary Field',
			name: `${side}BinaryProperty`,
			type: 'string',
			default: 'data',
			required: true,
			description: 'The binary field of each item that holds its file',
		},
		{
			displayName: 'Path Field',
			name: `${side}PathField`,
			type: 'string',
			default: 'path',
			description: "The item field holding the file's path inside the folder (List and Download output one); the binary's file name when the field is empty",
		},
	],

	// Items are stored nowhere a run could delete them from, and hold no state between runs.
	refusesMode(mode) {
		if (mode === 'move') {
			return { message: 'Input items cannot be moved: they are not stored anywhere to delete them from', description: 'Choose Copy or Mirror with input items as the source.' };
		}
		const stateful = { twoWay: 'a two-way sync', incremental: 'a snapshot backup', fullBackup: 'a snapshot backup' }[mode];
		return stateful ? { message: `Input items cannot be the source of ${stateful}`, description: 'Choose a folder as the source, or use Copy or Mirror with input items.' } : undefined;
	},

	async open({ context, side, itemIndex }) {
		if (!('getInputData' in context)) {
			throw new NodeOperationError(context.getNode(), 'Input items can only be a source in the Cloud Sync node', { itemIndex });
		}
		const property = String(parameter(context, `${side}BinaryProperty`, itemIndex, 'data'));
		const pathField = String(parameter(context, `${side}PathField`, itemIndex, 'path'));
		const provider = await InputItemsProvider.open(context, context.getInputData(), property, pathField);
		return { provider, label: `Input items (${property})` };
	},
};
