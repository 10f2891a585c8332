import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import * as list from './folder/list.operation';
import * as diff from './folder/diff.operation';
import * as syncFolders from './folder/sync.operation';
import * as upload from './file/upload.operation';
import * as download from './file/download.operation';
import * as deleteFile from './file/delete.operation';
import * as move from './file/move.operation';
import { errorText, toNodeError } from '../helpers/errors';

/** What a folder pair's Diff or Sync gives: the summary (first output) and one item per file (second output). */
export interface PairOutputs {
	summary: INodeExecutionData[];
	files: INodeExecutionData[];
}

type Operation = (this: IExecuteFunctions, itemIndex: number, signal?: AbortSignal) => Promise<INodeExecutionData[] | PairOutputs>;

/** Diff and Sync have a second output for their per-file items, so that the summary is read (and emailed) alone. */
export const PAIR_OPERATIONS = ['diff', 'sync'];
export const OUTPUTS_EXPRESSION: `={{${string}}}` = `={{ $parameter["resource"] === "folder" && ${JSON.stringify(PAIR_OPERATIONS)}.includes($parameter["operation"]) ? [{ "type": "main", "displayName": "Summary" }, { "type": "main", "displayName": "Files" }] : ["main"] }}`;

const OPERATIONS: Record<string, Record<string, Operation>> = {
	folder: { list: list.execute, diff: diff.execute, sync: syncFolders.execute },
	file: { upload: upload.execute, download: download.execute, delete: deleteFile.execute, move: move.execute },
};

/** Runs the chosen operation once per input item, with that item's parameters. */
export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const signal = this.getExecutionCancelSignal();
	const output: INodeExecutionData[] = [];
	const files: INodeExecutionData[] = [];
	// Resource and operation take no expressions: item 0 tells how many outputs the node has.
	const pair = items.length > 0 && this.getNodeParameter('resource', 0) === 'folder' && PAIR_OPERATIONS.includes(this.getNodeParameter('operation', 0) as string);
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		if (signal?.aborted) break;
		try {
			const resource = this.getNodeParameter('resource', itemIndex) as string;
			const operation = this.getNodeParameter('operation', itemIndex) as string;
			const result = await OPERATIONS[resource][operation].call(this, itemIndex, signal);
			if (Array.isArray(result)) output.push(...result);
			else {
				output.push(...result.summary);
				files.push(...result.files);
			}
		} catch (error) {
			if (this.continueOnFail()) {
				output.push({ json: { error: errorText(error) }, pairedItem: { item: itemIndex } });
				continue;
			}
			throw toNodeError(this.getNode(), error, itemIndex);
		}
	}
	return pair ? [output, files] : [output];
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
