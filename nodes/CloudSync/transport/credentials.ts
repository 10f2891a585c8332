import { NodeOperationError, type ICredentialDataDecryptedObject, type IDataObject, type ILoadOptionsFunctions } from 'n8n-workflow';
import { credentialSlot, sideName, type CloudCredential, type Side } from '../clouds/descriptor';
import { errorText } from '../helpers/errors';
import type { NodeContext } from '../helpers/parameters';

/** Whatever may ask n8n for a credential: a run, a poll, or a list search in the editor. */
export type CredentialContext = NodeContext | ILoadOptionsFunctions;

/** A parameter of the node as it stands, in any context; undefined where the node does not show it. */
function current(context: CredentialContext, name: string, itemIndex: number): unknown {
	try {
		if ('getCurrentNodeParameter' in context) return context.getCurrentNodeParameter(name);
		if ('getInputData' in context) return context.getNodeParameter(name, itemIndex, undefined);
		return context.getNodeParameter(name, undefined);
	} catch {
		return undefined;
	}
}

/**
 * The credential a cloud signs in with on one side. n8n refuses one the node has not selected (or
 * may not show): the user is told which side lacks it and which slot to fill, never n8n's bare
 * "Credentials not found" or "Node does not require credentials".
 */
export async function cloudCredential(
	context: CredentialContext,
	cloud: { label: string; credential: CloudCredential },
	itemIndex: number,
	side: Side,
): Promise<ICredentialDataDecryptedObject> {
	const { name, displayName } = cloud.credential.type;
	try {
		return await context.getCredentials(name, itemIndex);
	} catch (error) {
		const text = errorText(error);
		const notSelected = /does not require credentials|Credentials not found|does not have any credentials set/.test(text);
		const twoWay = current(context, 'mode', itemIndex) === 'twoWay';
		const other = side === 'source' ? 'destination' : side === 'destination' ? 'source' : undefined;
		const bothSides = other !== undefined && current(context, `${other}Cloud`, itemIndex) === current(context, `${side}Cloud`, itemIndex);
		const where = side === 'target' ? `The ${cloud.label} folder` : `The ${sideName(side, twoWay).toLowerCase()} folder (${cloud.label})`;
		throw new NodeOperationError(context.getNode(), notSelected ? `${where} has no credential selected` : `${where}: its credential could not be read (${text})`, {
			itemIndex,
			description: `Under "${credentialSlot(cloud.label, side, { twoWay, bothSides })}" in this node, select a "${displayName}" credential, or create one there.`,
		});
	}
}

/** Credentials as n8n stores an OAuth2 credential: client id and secret, and the token data of the sign-in. */
export function oauthTokens(credential: ICredentialDataDecryptedObject) {
	const tokens = (credential.oauthTokenData ?? {}) as IDataObject;
	return {
		clientId: String(credential.clientId ?? ''),
		clientSecret: String(credential.clientSecret ?? ''),
		refreshToken: String(tokens.refresh_token ?? ''),
		accessToken: tokens.access_token ? String(tokens.access_token) : undefined,
	};
}
