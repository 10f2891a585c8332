import { NodeOperationError, type INode } from 'n8n-workflow';
import { CloudSyncError, SafetyError } from '../../../lib';

const SECRET_PATTERNS: RegExp[] = [
	/(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi,
	/((?:access|refresh|id)_token["'=:\s]+)[A-Za-z0-9._~+/=-]{8,}/gi,
	/((?:client_secret|private_key|password)["'=:\s]+)[^\s"'&,]{4,}/gi,
	/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
];

/** Removes anything that looks like a token or key, so no secret reaches an item, an error or a log. */
export function redact(text: string): string {
	return SECRET_PATTERNS.reduce((result, pattern) => result.replace(pattern, (_match, prefix?: string) => `${typeof prefix === 'string' ? prefix : ''}[redacted]`), text);
}

export function errorText(error: unknown): string {
	return redact(error instanceof Error ? error.message : String(error));
}

/** Turns an engine error into an n8n error that names the item and says what to change. */
export function toNodeError(node: INode, error: unknown, itemIndex: number): NodeOperationError {
	if (error instanceof NodeOperationError) return error;
	const message = errorText(error);
	const hint = error instanceof CloudSyncError ? error.hint : undefined;
	const description =
		hint ?? (error instanceof SafetyError ? undefined : 'Check the folders and credentials of this node; the message above comes from the cloud or the file system.');
	return new NodeOperationError(node, message, { itemIndex, description });
}
