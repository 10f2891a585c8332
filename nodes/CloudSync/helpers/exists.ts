import { NodeOperationError, type INode, type INodeProperties } from 'n8n-workflow';
import { NotFoundError, normalizeRelativePath, type Entry, type Provider } from '../../../lib';
import { toNodeError } from './errors';

export type IfExists = 'replace' | 'skip' | 'error';

export const ifExistsField = (show: Record<string, string[]>, defaultValue: IfExists): INodeProperties => ({
	displayName: 'If File Exists',
	name: 'ifExists',
	type: 'options',
	default: defaultValue,
	displayOptions: { show },
	options: [
		{ name: 'Replace It', value: 'replace', description: 'Write the new content over the existing file' },
		{ name: 'Skip', value: 'skip', description: 'Leave the existing file and output it unchanged' },
		{ name: 'Stop With an Error', value: 'error' },
	],
});

/** The entry already at `path`, when there is one and the policy lets it stand. */
export async function checkExisting(provider: Provider, path: string, policy: IfExists, node: INode, itemIndex: number): Promise<Entry | undefined> {
	if (policy === 'replace') return undefined;
	let existing: Entry;
	try {
		existing = await provider.stat(path);
	} catch (error) {
		if (error instanceof NotFoundError) return undefined;
		throw toNodeError(node, error, itemIndex);
	}
	if (policy === 'skip') return existing;
	throw new NodeOperationError(node, `"${existing.path}" already exists`, {
		itemIndex,
		description: 'Choose another path, or set If File Exists to Replace It.',
	});
}

/**
 * The entry at `path`. A missing path is reported as the path asked for, whichever folder on the way
 * is missing (Google Drive stops at the first missing folder: "Not found: reports").
 */
export async function statRequested(provider: Provider, path: string): Promise<Entry> {
	try {
		return await provider.stat(path);
	} catch (error) {
		throw error instanceof NotFoundError && error.path !== normalizeRelativePath(path) ? new NotFoundError(normalizeRelativePath(path), { cause: error }) : error;
	}
}
