import type { INodeProperties } from 'n8n-workflow';
import { filterOptions, locationFields } from '../fields';
import { cloudSyncOptions } from '../../clouds/registry';

export const syncModeField = (show: Record<string, string[]>): INodeProperties => ({
	displayName: 'Mode',
	name: 'mode',
	type: 'options',
	default: 'mirror',
	displayOptions: { show },
	options: [
		{
			name: 'Add to Google Photos',
			value: 'addToGooglePhotos',
			description: 'Add each photo and video not yet added to an album, once; nothing is replaced or deleted there (Google lets no app do it)',
		},
		{ name: 'Copy', value: 'copy', description: 'Add and update files; never delete anything on the destination' },
		{ name: 'Full Backup', value: 'fullBackup', description: 'Each run writes a complete copy into a new dated folder' },
		{ name: 'Incremental Backup', value: 'incremental', description: 'Each run writes a new dated folder holding only what changed since the last run' },
		{ name: 'Mirror', value: 'mirror', description: 'Make the destination identical: add, update, and delete what the source no longer has' },
		{ name: 'Move', value: 'move', description: 'Copy, then delete each source file once its copy is verified' },
		{ name: 'Two-Way', value: 'twoWay', description: 'Carry additions, edits, renames and deletions both ways since the last run; a change always beats a deletion' },
		{ name: 'Update', value: 'update', description: 'Only add new files and replace older ones; keep newer destination files' },
	],
});

export const compareField = (show: Record<string, string[]>): INodeProperties => ({
	displayName: 'Compare By',
	name: 'compare',
	type: 'options',
	default: 'auto',
	// Google Photos keeps no size, time or hash to compare: its ledger decides.
	displayOptions: { show, hide: { mode: ['addToGooglePhotos'] } },
	options: [
		{ name: 'Auto', value: 'auto', description: 'Size and modification time, then a hash both clouds share when times differ' },
		{ name: 'Checksum', value: 'checksum', description: 'Size and a shared hash; slower, exact' },
		{ name: 'Size Only', value: 'size', description: 'Same size means unchanged' },
	],
});

const alphabetical = (options: INodeProperties[]) => options.sort((a, b) => a.displayName.localeCompare(b.displayName));

export const syncOptionsField = (show: Record<string, string[]>): INodeProperties => ({
	displayName: 'Options',
	name: 'options',
	type: 'collection',
	placeholder: 'Add Option',
	default: {},
	displayOptions: { show },
	// The clouds' own options join the shared ones; n8n lists a collection's options alphabetically.
	options: alphabetical([
		...cloudSyncOptions(),
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
			displayName: 'Conflict Resolution',
			name: 'conflict',
			type: 'options',
			default: 'keepBoth',
			displayOptions: { show: { '/mode': ['twoWay'] } },
			options: [
				{ name: 'Destination Wins', value: 'destination' },
				{ name: 'Keep Both', value: 'keepBoth', description: 'The newer version keeps the name; the other is kept beside it, named after its side and the time' },
				{ name: 'Larger Wins', value: 'larger' },
				{ name: 'Newer Wins', value: 'newer' },
				{ name: 'Older Wins', value: 'older' },
				{ name: 'Source Wins', value: 'source' },
			],
			description: 'What to do with a file changed on both sides since the last run (identical edits are no conflict)',
		},
		{
			displayName: 'Force',
			name: 'force',
			type: 'boolean',
			default: false,
			description: 'Whether to run even when a safety guard refuses: an empty source over a full destination, or more deletions than allowed',
		},
		{
			displayName: 'Ignore Existing',
			name: 'ignoreExisting',
			type: 'boolean',
			default: false,
			description: 'Whether to skip every file that already exists on the destination, changed or not',
		},
		{
			displayName: 'Keep Last Snapshots',
			name: 'keepLast',
			type: 'number',
			default: 0,
			typeOptions: { minValue: 0 },
			displayOptions: { show: { '/mode': ['incremental', 'fullBackup'] } },
			description: 'Delete older dated folders after a successful run, keeping this many; 0 keeps them all (unless Keep Snapshots For Days is set)',
		},
		{
			displayName: 'Keep Replaced and Deleted Files In',
			name: 'backupDir',
			type: 'string',
			default: '',
			placeholder: 'e.g. .versions',
			displayOptions: { show: { '/mode': ['mirror', 'twoWay'] } },
			description: 'A folder, relative to each synced folder, where files are moved instead of being overwritten or deleted, with the date in their name. It is never synced itself.',
		},
		{
			displayName: 'Keep Snapshots For Days',
			name: 'keepDays',
			type: 'number',
			default: 0,
			typeOptions: { minValue: 0 },
			displayOptions: { show: { '/mode': ['incremental', 'fullBackup'] } },
			description: 'Keep the dated folders of this many days; with Keep Last Snapshots too, a folder either rule keeps stays',
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
			displayName: 'Resync',
			name: 'resync',
			type: 'boolean',
			default: false,
			displayOptions: { show: { '/mode': ['twoWay'] } },
			description: 'Whether to set the saved state aside and merge both sides as on a first run (nothing is deleted), then save a new state',
		},
		{
			displayName: 'State Storage',
			name: 'stateStorage',
			type: 'options',
			default: 'n8n',
			displayOptions: { show: { '/mode': ['twoWay'] } },
			options: [
				{ name: 'File on the Destination', value: 'destination', description: 'A file in the .cloudsync folder of the destination: for very large folders, or to keep the state of editor runs too' },
				{ name: 'Workflow Static Data', value: 'n8n', description: 'Kept by n8n with the workflow, saved after each scheduled or activated run' },
			],
			description: 'Where the two-way sync keeps the state of both sides after the last run',
		},
		{
			displayName: 'Transfers',
			name: 'transfers',
			type: 'number',
			default: 4,
			typeOptions: { minValue: 1, maxValue: 32 },
			description: 'How many files are copied at once',
		},
	]),
});

/** What Diff and Sync both ask for: the two folders (the source may be the input items), mode, comparison and filters. */
export function folderPairFields(show: Record<string, string[]>): INodeProperties[] {
	return [
		...locationFields('source', show),
		...locationFields('destination', show),
		syncModeField(show),
		compareField(show),
		{ ...filterOptions, displayOptions: { show } },
	];
}
