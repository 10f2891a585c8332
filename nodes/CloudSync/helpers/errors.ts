import { NodeOperationError, type INode } from 'n8n-workflow';
import {
	AbortedError,
	AlreadyExistsError,
	AuthenticationError,
	CloudSyncError,
	CursorExpiredError,
	NotEmptyError,
	NotFoundError,
	Pacer,
	PermissionError,
	RateLimitError,
	SafetyError,
	StorageFullError,
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
		return `Check the path "${error.path}": it is relative to the folder chosen in this node (case matters on Google Drive). A List operation shows the paths the folder holds.`;
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

/** How much an error explains a failed run: the first classes stop everything, the last ones a file. */
const EXPLAINS_MOST = [AuthenticationError, StorageFullError, PermissionError, RateLimitError];
/** Errors the engine expects and handles (a path that is not there yet, a stopped run). */
const HANDLED = [NotFoundError, AlreadyExistsError, NotEmptyError, AbortedError, CursorExpiredError];

function rank(error: CloudSyncError): number {
	const index = EXPLAINS_MOST.findIndex((type) => error instanceof type);
	if (index >= 0) return index;
	return error.hint ? EXPLAINS_MOST.length : EXPLAINS_MOST.length + 1;
}

/**
 * The pacer every request of a run goes through, keeping the error that best explains a failure.
 * The engine reports failed files and listings as text in its report; this keeps the typed error,
 * and with it the hint that says what to change (reconnect, free space, ask for access...).
 */
export class RecordingPacer extends Pacer {
	private worst?: CloudSyncError;

	get failure(): CloudSyncError | undefined {
		return this.worst;
	}

	run<T>(operation: (attempt: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
		// The engine needs its own typed errors back: each is noted and passed on unchanged.
		return super.run(operation, signal).catch((error: unknown) => {
			if (error instanceof CloudSyncError && !HANDLED.some((type) => error instanceof type) && (!this.worst || rank(error) < rank(this.worst))) {
				this.worst = error;
			}
			return Promise.reject(error);
		});
	}
}
