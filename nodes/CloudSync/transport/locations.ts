import { NodeOperationError, type IExecuteFunctions, type IPollFunctions } from 'n8n-workflow';
import { homedir } from 'node:os';
import { InvalidPathError, LocalProvider, Pacer, type Provider } from '../../../lib';
import type { CloudName, Side } from '../actions/fields';

export type NodeContext = IExecuteFunctions | IPollFunctions;

export interface Location {
	provider: Provider;
	cloud: CloudName;
	/** How the folder is shown in reports: "Dropbox:/Photos". */
	label: string;
}

const CLOUD_LABEL: Record<CloudName, string> = { local: 'Local', googleDrive: 'Google Drive', dropbox: 'Dropbox' };

/** The folders n8n lets nodes touch, read as n8n-core reads them. */
function allowedRoots(): string[] {
	const setting = process.env.N8N_RESTRICT_FILE_ACCESS_TO ?? '~/.n8n-files';
	return setting
		.split(';')
		.map((path) => path.trim())
		.filter(Boolean)
		.map((path) => (path.startsWith('~') ? path.replace('~', homedir()) : path));
}

async function openLocal(context: NodeContext, side: Side, itemIndex: number): Promise<Location> {
	const path = String(context.getNodeParameter(`${side}LocalPath`, itemIndex, '')).trim();
	const node = context.getNode();
	if (!path.startsWith('/')) {
		throw new NodeOperationError(node, `The local folder "${path}" is not an absolute path`, {
			itemIndex,
			description: 'Enter the folder as an absolute path, such as /home/node/.n8n-files/photos.',
		});
	}
	const blocked = () =>
		new NodeOperationError(node, `n8n may not access the folder "${path}"`, {
			itemIndex,
			description: 'Choose a folder that exists inside N8N_RESTRICT_FILE_ACCESS_TO (by default ~/.n8n-files), or ask the n8n administrator to allow this one.',
		});
	let provider: LocalProvider;
	if ('resolvePath' in context.helpers) {
		// n8n's own rule for file access (N8N_RESTRICT_FILE_ACCESS_TO and its blocked n8n files) decides where the root may be.
		const resolved = await context.helpers.resolvePath(path).catch(() => undefined);
		if (resolved === undefined || context.helpers.isFilePathBlocked(resolved)) throw blocked();
		provider = await LocalProvider.open(resolved, { symlinks: 'skip' });
	} else {
		// Polling triggers get no file helpers from n8n: apply the same setting and default here.
		provider = await LocalProvider.open(path, { symlinks: 'skip', allowedRoots: allowedRoots() }).catch((error) => {
			throw error instanceof InvalidPathError ? blocked() : error;
		});
	}
	return { provider, cloud: 'local', label: `${CLOUD_LABEL.local}:${path}` };
}

/** Opens the provider that one side of the node points at, with the credential of its cloud. */
export async function openLocation(context: NodeContext, side: Side, itemIndex: number, pacer: Pacer): Promise<Location> {
	const cloud = context.getNodeParameter(`${side}Cloud`, itemIndex) as CloudName;
	switch (cloud) {
		case 'local':
			return openLocal(context, side, itemIndex);
		default:
			void pacer;
			throw new NodeOperationError(context.getNode(), `Unknown cloud "${cloud}"`, { itemIndex, description: 'Choose one of the listed clouds.' });
	}
}
