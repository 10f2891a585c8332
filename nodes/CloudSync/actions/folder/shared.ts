import type { INodeProperties } from 'n8n-workflow';
import { filterOptions, inputItemsSource, locationFields } from '../fields';

export const syncModeField = (show: Record<string, string[]>): INodeProperties => ({
	displayName: 'Mode',
	name: 'mode',
	type: 'options',
	default: 'mirror',
	displayOptions: { show },
	options: [
		{ name: 'Mirror', value: 'mirror', description: 'Make the destination identical: add, update, and delete what the source no longer has' },
		{ name: 'Copy', value: 'copy', description: 'Add and update files; never delete anything on the destination' },
		{ name: 'Update', value: 'update', description: 'Only add new files and replace older ones; keep newer destination files' },
		{ name: 'Move', value: 'move', description: 'Copy, then delete each source file once its copy is verified' },
	],
});

export const compareField = (show: Record<string, string[]>): INodeProperties => ({
	displayName: 'Compare By',
	name: 'compare',
	type: 'options',
	default: 'auto',
	displayOptions: { show },
	options: [
		{ name: 'Auto', value: 'auto', description: 'Size and modification time, then a hash both clouds share when times differ' },
		{ name: 'Checksum', value: 'checksum', description: 'Size and a shared hash; slower, exact' },
		{ name: 'Size Only', value: 'size', description: 'Same size means unchanged' },
	],
});

export const syncOptionsField = (show: Record<string, string[]>): INodeProperties => ({
	displayName: 'Options',
	name: 'options',
	type: 'collection',
	placeholder: 'Add Option',
	default: {},
	displayOptions: { show },
	options: [
		{
			displayName: 'Changed Paths From Input Only',
			name: 'changedPathsOnly',
			type: 'boolean',
			default: false,
			description:
				'Whether to sync only the paths in the input items (their path and previousPath fields), as a Cloud Sync Trigger emits them, instead of comparing whole folders. All input items make one run.',
		},
		{
			displayName: 'Checkers',
			name: 'checkers',
			type: 'number',
			default: 8,
			typeOptions: { minValue: 1, maxValue: 64 },
			description: 'How many listings, hash checks and deletes run at once',
		},
		{
			displayName: 'Delete Permanently (Google Drive)',
			name: 'deletePermanently',
			type: 'boolean',
			default: false,
			description: 'Whether files deleted on Google Drive skip the trash; by default they go to the trash and can be restored for 30 days',
		},
		{
			displayName: 'Force',
			name: 'force',
			type: 'boolean',
			default: false,
			description: 'Whether to run even when a safety guard refuses: an empty source over a full destination, or more deletions than allowed',
		},
		{
			displayName: 'Google Docs',
			name: 'googleDocs',
			type: 'options',
			default: 'skip',
			options: [
				{ name: 'Skip Them', value: 'skip', description: 'Docs, Sheets and Slides have no file of their own; leave them out' },
				{ name: 'Export as Office Files', value: 'office', description: 'Docs as .docx, Sheets as .xlsx, Slides as .pptx' },
				{ name: 'Export as PDF', value: 'pdf' },
			],
			description: 'What to do with Google Docs, Sheets and Slides in a Google Drive source',
		},
		{
			displayName: 'Ignore Existing',
			name: 'ignoreExisting',
			type: 'boolean',
			default: false,
			description: 'Whether to skip every file that already exists on the destination, changed or not',
		},
		{
			displayName: 'Max Deletions',
			name: 'maxDeletes',
			type: 'number',
			default: 0,
			typeOptions: { minValue: 0 },
			description: 'Refuse the run when it would delete more files than this; 0 means no count limit',
		},
		{
			displayName: 'Max Deletions (%)',
			name: 'maxDeletePercent',
			type: 'number',
			default: 50,
			typeOptions: { minValue: 0, maxValue: 100 },
			description: 'Refuse the run when it would delete more than this share of the destination\'s files',
		},
		{
			displayName: 'Newer Only',
			name: 'newerOnly',
			type: 'boolean',
			default: false,
			description: 'Whether to skip files whose destination copy is newer',
		},
		{
			displayName: 'Transfers',
			name: 'transfers',
			type: 'number',
			default: 4,
			typeOptions: { minValue: 1, maxValue: 32 },
			description: 'How many files are copied at once',
		},
	],
});

/** What Diff and Sync both ask for: the two folders (the source may be the input items), mode, comparison and filters. */
export function folderPairFields(show: Record<string, string[]>): INodeProperties[] {
	const items = inputItemsSource(show);
	return [
		...locationFields('source', show, [items.option]),
		...items.fields,
		...locationFields('destination', show),
		syncModeField(show),
		compareField(show),
		{ ...filterOptions, displayOptions: { show } },
	];
}
