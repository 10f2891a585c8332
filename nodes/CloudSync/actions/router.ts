import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import * as list from './folder/list.operation';
import * as diff from './folder/diff.operation';
import * as syncFolders from './folder/sync.operation';
import * as upload from './file/upload.operation';
import * as download from './file/download.operation';
import * as deleteFile from './file/delete.operation';
import * as move from './file/move.operation';
import { errorText, toNodeError } from '../helpers/errors';

type Operation = (this: IExecuteFunctions, itemIndex: number, signal?: AbortSignal) => Promise<INodeExecutionData[]>;

const OPERATIONS: Record<string, Record<string, Operation>> = {
	folder: { list: list.execute, diff: diff.execute, sync: syncFolders.execute },
	file: { upload: upload.execute, download: download.execute, delete: deleteFile.execute, move: move.execute },
};

/** Runs the chosen operation once per input item, with that item's parameters. */
export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const signal = this.getExecutionCancelSignal();
	const output: INodeExecutionData[] = [];
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		if (signal?.aborted) break;
		try {
			const resource = this.getNodeParameter('resource', itemIndex) as string;
			const operation = this.getNodeParameter('operation', itemIndex) as string;
			output.push(...(await OPERATIONS[resource][operation].call(this, itemIndex, signal)));
		} catch (error) {
			if (this.continueOnFail()) {
				output.push({ json: { error: errorText(error) }, pairedItem: { item: itemIndex } });
				continue;
			}
			throw toNodeError(this.getNode(), error, itemIndex);
		}
	}
	return [output];
}

export const descriptions = [
	...list.description,
	...diff.description,
	...syncFolders.description,
	...upload.description,
	...download.description,
	...deleteFile.description,
	...move.description,
];
