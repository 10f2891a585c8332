import { NodeOperationError } from 'n8n-workflow';
import { NotFoundError, type Provider } from '../../../lib';
import { folderOf } from '../clouds/pickers';
import { toNodeError } from '../helpers/errors';
import type { Side } from '../clouds/descriptor';
import { cloudNamed } from '../clouds/registry';
import { parameter, type NodeContext } from '../helpers/parameters';

export type { NodeContext };

export interface Location {
	provider: Provider;
	/** The chosen cloud's value, as saved in the workflow. */
	cloud: string;
	/** How the folder is shown in reports: "Dropbox:/Photos". */
	label: string;
}

/**
 * Opens the provider that one side of the node points at, with its own pacer (one cloud's rate limit
 * does not slow the other); `create` makes a missing local folder (clouds create theirs on the first write).
 */
export async function openLocation(context: NodeContext, side: Side, itemIndex: number, { create = false, mayDelete = false } = {}): Promise<Location> {
	const value = parameter<unknown>(context, `${side}Cloud`, itemIndex);
	const cloud = cloudNamed(value);
	if (!cloud) throw new NodeOperationError(context.getNode(), `Unknown cloud "${String(value)}"`, { itemIndex, description: 'Choose one of the listed clouds.' });
	try {
		const { provider, label } = await cloud.open({ context, side, itemIndex, create, mayDelete });
		return { provider, cloud: cloud.value, label };
	} catch (error) {
		// Clouds that look their folder up on opening find it missing here, as a path inside themselves.
		if (error instanceof NotFoundError) throw folderNotFound(context, side, itemIndex, cloud.label, error.path.startsWith('/') ? error.path : `/${error.path}`);
		throw toNodeError(context.getNode(), error, itemIndex);
	}
}

/**
 * A chosen folder that does not exist, named by its side and cloud: the cloud's own error says only
 * that a path was not found, and the general advice about paths inside the folder would mislead.
 */
export function folderNotFound(context: NodeContext, side: Side, itemIndex: number, cloudLabel: string, folder: string): NodeOperationError {
	const mayBeMade = side === 'destination' ? ' A Diff creates nothing; a Sync creates a missing destination folder.' : '';
	return new NodeOperationError(context.getNode(), `The ${folderOf(context, side, itemIndex, cloudLabel)} "${folder}" was not found`, {
		itemIndex,
		description: `Pick the folder in the list, or check its path: it starts at the top of the account, and names are case-sensitive on most clouds.${mayBeMade}`,
	});
}
