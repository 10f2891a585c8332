/** What the clouds' folder pickers share. */
import { NodeOperationError, type INodeProperties } from 'n8n-workflow';
import { NotFoundError } from '../../../lib';
import { parameter, type NodeContext } from '../helpers/parameters';
import { sideName, type Side } from './descriptor';

/** "the destination Dropbox folder", "the left Dropbox folder", "the Dropbox folder": how messages name a side's folder. */
export function folderOf(context: NodeContext, side: Side, itemIndex: number, cloud: string): string {
	if (side === 'target') return `${cloud} folder`;
	const twoWay = 'getInputData' in context && context.getNodeParameter('mode', itemIndex, '') === 'twoWay';
	return `${sideName(side, twoWay).toLowerCase()} ${cloud} folder`;
}

/** Folders a picker page shows at most (Google Drive's own limit per request). */
export const PICKER_PAGE = 100;

/** Whether a picker shows `text` for what the user typed: any case, anywhere in it. */
export const matchesFilter = (text: string, filter?: string) => !filter || text.toLowerCase().includes(filter.trim().toLowerCase());

/**
 * The folder a cloud picker (a resource locator) points at. The top of the account is only ever
 * chosen explicitly, by the picker's entry for it: an empty value, most often an expression that gave
 * nothing, is refused rather than read as the whole account.
 */
export function pickedFolder(context: NodeContext, side: Side, itemIndex: number, picker: { parameter: string; cloud: string; top: string }): string {
	const value = parameter<unknown>(context, picker.parameter, itemIndex, undefined, { extractValue: true });
	const folder = value === undefined || value === null ? '' : String(value).trim();
	if (folder === '') {
		throw new NodeOperationError(context.getNode(), `The ${folderOf(context, side, itemIndex, picker.cloud)} is empty`, {
			itemIndex,
			description: `Choose the folder, or fix the expression that gives it (it gave an empty value); to use the whole account, pick "${picker.top}" in the folder list.`,
		});
	}
	return folder;
}

/** A side's folder field on a cloud addressed by path: picked from the list, or typed as a path. */
export function pathFolderField(sideLabel: string, picker: { parameter: string; method: string; placeholder: string; description?: string }): INodeProperties {
	return {
		displayName: `${sideLabel} Folder`,
		name: picker.parameter,
		type: 'resourceLocator',
		default: { mode: 'path', value: '' },
		required: true,
		...(picker.description ? { description: picker.description } : {}),
		modes: [
			{
				displayName: 'From List',
				name: 'list',
				type: 'list',
				placeholder: 'Select a folder...',
				typeOptions: { searchListMethod: picker.method, searchable: true },
			},
			{ displayName: 'By Path', name: 'path', type: 'string', placeholder: picker.placeholder },
		],
	};
}

/** A picked folder as a provider's root: '' for the top of the account, else '/path'. */
export const rootPath = (folder: string) => (folder === '/' ? '' : folder.startsWith('/') ? folder : `/${folder}`);

/**
 * Opens a cloud's provider at `root` ('' or '/path'). With `create` (a sync's destination), a folder
 * that is missing is made from the top of the account, then opened: every cloud does the same.
 */
export async function openOrCreate<P extends { mkdir(path: string): Promise<void> }>(root: string, create: boolean, open: (root: string) => Promise<P>): Promise<P> {
	// Errors pass on as they are: the router words them for the node (toNodeError).
	const missing = (error: unknown) => (create && root !== '' && error instanceof NotFoundError ? undefined : Promise.reject(error));
	const opened = await open(root).catch(missing);
	if (opened) return opened;
	await (await open('')).mkdir(root.slice(1));
	return open(root);
}
