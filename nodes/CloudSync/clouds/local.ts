import { NodeOperationError, type IDataObject, type ResolvedFilePath } from 'n8n-workflow';
import { homedir } from 'node:os';
import { LocalProvider, NotFoundError, OutsideAllowedFoldersError, type LocalRootRules } from '../../../lib';
import { toNodeError } from '../helpers/errors';
import { parameter } from '../helpers/parameters';
import type { CloudDescriptor } from './descriptor';

const LABEL = 'Local';

/** The folders n8n lets nodes touch, read as n8n-core reads them. */
function allowedRoots(): string[] {
	const setting = process.env.N8N_RESTRICT_FILE_ACCESS_TO ?? '~/.n8n-files';
	return setting
		.split(';')
		.map((path) => path.trim())
		.filter(Boolean)
		.map((path) => (path.startsWith('~') ? path.replace('~', homedir()) : path));
}

/** A folder on the machine n8n runs on, inside the folders n8n lets nodes use. */
export const local: CloudDescriptor = {
	value: 'local',
	option: { name: 'Local Folder', description: 'A folder on the machine n8n runs on' },
	label: LABEL,
	phrase: 'local folders',
	sides: ['source', 'destination', 'target'],
	deletions: { byDefault: 'local deletions and overwrites go to .cloudsync/trash in the folder for 30 days', deletePermanently: true },

	folderFields: (side, sideLabel) => [
		{
			displayName: `${sideLabel} Folder`,
			name: `${side}LocalPath`,
			type: 'string',
			default: '',
			required: true,
			placeholder: '/home/node/.n8n-files/photos',
			description: "Absolute path of the folder; it must lie inside the folders n8n may access (N8N_RESTRICT_FILE_ACCESS_TO)",
		},
	],

	/**
	 * n8n's own rule (N8N_RESTRICT_FILE_ACCESS_TO and its blocked n8n files) decides where a node may
	 * work when n8n gives it; polling triggers get no file helpers from n8n, so the same setting and
	 * default apply there. A missing folder is an error unless `create` is set, as the clouds make theirs.
	 */
	async open({ context, side, itemIndex, create, mayDelete }) {
		const path = String(parameter(context, `${side}LocalPath`, itemIndex, '')).trim();
		const node = context.getNode();
		if (!path.startsWith('/')) {
			throw new NodeOperationError(node, `The local folder "${path}" is not an absolute path`, {
				itemIndex,
				description: 'Enter the folder as an absolute path, such as /home/node/.n8n-files/photos.',
			});
		}
		// The paths given to the rule are real: LocalProvider resolves them (n8n's resolvePath does the same).
		const { helpers } = context;
		const rule: LocalRootRules & { allowedRoots?: string[] } =
			'isFilePathBlocked' in helpers ? { mayAccess: (real) => !helpers.isFilePathBlocked(real as ResolvedFilePath) } : { allowedRoots: allowedRoots() };
		try {
			const deletePermanently = mayDelete === true && parameter<IDataObject>(context, 'options', itemIndex, {}).deletePermanently;
			const provider = await LocalProvider.open(path, { symlinks: 'skip', createRoot: create, trashDays: deletePermanently === true ? 0 : undefined, ...rule });
			return { provider, label: `${LABEL}:${path}` };
		} catch (error) {
			if (error instanceof OutsideAllowedFoldersError) {
				throw new NodeOperationError(node, `n8n may not access the folder "${path}"`, {
					itemIndex,
					description: 'Choose a folder inside N8N_RESTRICT_FILE_ACCESS_TO (by default ~/.n8n-files), or ask the n8n administrator to allow this one.',
				});
			}
			if (error instanceof NotFoundError) {
				throw new NodeOperationError(node, `The local folder "${path}" does not exist`, {
					itemIndex,
					description:
						side === 'destination'
							? 'A Diff only compares and creates nothing: create the folder first, or run the Sync, which creates a missing destination folder.'
							: 'Check the path for a typo (names are case-sensitive), or create the folder first.',
				});
			}
			throw toNodeError(node, error, itemIndex);
		}
	},
};
