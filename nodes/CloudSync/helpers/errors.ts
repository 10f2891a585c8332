import { NodeOperationError, type INode } from 'n8n-workflow';
import {
	AbortedError,
	AlreadyExistsError,
	CloudSyncError,
	NotEmptyError,
	NotFoundError,
	SafetyError,
} from '../../../lib';

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

/** What to change, for engine errors that carry no hint of their own. */
function advice(error: unknown): string {
	if (error instanceof NotFoundError) {
		return `Check the path "${error.path}": it is relative to the folder chosen in this node, and case matters on clouds that tell names apart by case. A List operation shows the paths the folder holds.`;
	}
	if (error instanceof AlreadyExistsError) return `Choose another path than "${error.path}", or move or delete what is there first.`;
	if (error instanceof NotEmptyError) return 'Turn on Delete Folder Contents to delete the folder with everything in it, or empty it first.';
	if (error instanceof SafetyError) {
		return 'Nothing was changed. If the deletions are intended, turn on Options > Force, or raise Options > Max Deletions (%) or Max Deletions.';
	}
	if (error instanceof AbortedError) return 'The execution was stopped; run it again to finish.';
	return 'Check the folders and credentials of this node; the message above comes from the cloud or the file system.';
}

/** Turns an engine error into an n8n error that names the item and says what to change. */
export function toNodeError(node: INode, error: unknown, itemIndex: number): NodeOperationError {
	if (error instanceof NodeOperationError) return error;
	const hint = error instanceof CloudSyncError ? error.hint : undefined;
	const message = errorText(error);
	const nodeError = new NodeOperationError(node, message, { itemIndex, description: hint ?? advice(error) });
	// n8n swaps a message that merely contains an errno name for a generic sentence (Drive's reason
	// "insufficientFilePermissions" holds "EPERM"): the cloud's own words say more.
	nodeError.message = message;
	return nodeError;
}
