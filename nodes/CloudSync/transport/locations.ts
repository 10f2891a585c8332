import { NodeOperationError } from 'n8n-workflow';
import type { Provider } from '../../../lib';
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
	const { provider, label } = await cloud.open({ context, side, itemIndex, create, mayDelete });
	return { provider, cloud: cloud.value, label };
}
