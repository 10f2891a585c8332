import { NodeOperationError, type ICredentialDataDecryptedObject, type IDataObject, type ILoadOptionsFunctions } from 'n8n-workflow';
import type { CloudCredential } from '../clouds/descriptor';
import { errorText } from '../helpers/errors';
import type { NodeContext } from '../helpers/parameters';

/** Whatever may ask n8n for a credential: a run, a poll, or a list search in the editor. */
export type CredentialContext = NodeContext | ILoadOptionsFunctions;

/**
 * The credential a cloud signs in with. n8n refuses one the node has not selected (or may not show):
 * the user is told which credential to pick, never n8n's bare "Credentials not found".
 */
export async function cloudCredential(
	context: CredentialContext,
	cloud: { label: string; credential: CloudCredential },
	itemIndex: number,
): Promise<ICredentialDataDecryptedObject> {
	const { name, displayName } = cloud.credential.type;
	try {
		return await context.getCredentials(name, itemIndex);
	} catch (error) {
		throw new NodeOperationError(context.getNode(), `No usable ${cloud.label} credential is selected (${errorText(error)})`, {
			itemIndex,
			description: `Select a "${displayName}" credential in this node, or create one and connect it.`,
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
