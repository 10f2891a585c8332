import type { INodeProperties } from 'n8n-workflow';
import { filterOptions, folderPairLocations } from '../fields';
import { DEFAULT_MAX_DELETE_PERCENT } from '../../helpers/options';
import { cloudSyncOptions } from '../../clouds/registry';
import { ADD_TO_GOOGLE_PHOTOS } from '../../clouds/googlePhotos';

export const syncModeField = (show: Record<string, string[]>): INodeProperties => ({
	displayName: 'Mode',
	name: 'mode',
	type: 'options',
	// The one mode that never deletes or replaces anything a person cannot get back is where a new node starts.
	default: 'copy',
	displayOptions: { show },
	options: [
		{
			name: 'Add to Google Photos',
			value: ADD_TO_GOOGLE_PHOTOS,
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

/** The modes that make the destination like the source, one way; the others keep state or write snapshots. */
export const ONE_WAY = ['copy', 'mirror', 'update', 'move'];
/** The modes a scheduled run plans from change feeds. */
const FED = ['copy', 'mirror', 'update', 'twoWay'];
/** The modes whose run may delete files: their deletion guard is shown. */
export const DELETING = ['mirror', 'twoWay'];
/** The modes whose per-file items the Item Limit caps (Add to Google Photos reads no common options). */
const PER_FILE_MODES = [...ONE_WAY, 'twoWay', 'incremental', 'fullBackup'];
const SNAPSHOTS = ['incremental', 'fullBackup'];

export const compareField = (show: Record<string, string[]>): INodeProperties => ({
	displayName: 'Compare By',
	name: 'compare',
	type: 'options',
	default: 'auto',
	displayOptions: { show: { ...show, mode: ONE_WAY } },
	options: [
		{ name: 'Auto', value: 'auto', description: 'Size and modification time, then a hash both clouds share when times differ' },
		{ name: 'Checksum', value: 'checksum', description: 'Size and a shared hash; slower, exact' },
		{ name: 'Size Only', value: 'size', description: 'Same size means unchanged' },
	],
});

/** The State Storage choice that keeps a two-way state in a file on the right-hand folder only, as the panel and the hints name it. */
export const STATE_ON_RIGHT = 'File on the Right-Hand Folder';

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
			displayOptions: { show: { '/mode': ONE_WAY } },
			description:
				'Whether to sync only the paths in the input items (their path and previousPath fields), as a Cloud Sync Trigger emits them, instead of comparing whole folders. All input items make one run.',
		},
		{
			displayName: 'Checkers',
			name: 'checkers',
			type: 'number',
			default: 8,
			typeOptions: { minValue: 1, maxValue: 64 },
			// Adding to Google Photos compares nothing and deletes nothing: its ledger decides, one listing of the source.
			displayOptions: { hide: { '/mode': [ADD_TO_GOOGLE_PHOTOS] } },
			description: 'How many listings, hash checks and deletes run at once',
		},
		{
			displayName: 'Conflict Resolution',
			name: 'conflict',
			type: 'options',
			default: 'keepBoth',
			displayOptions: { show: { '/mode': ['twoWay'] } },
			options: [
				{ name: 'Keep Both', value: 'keepBoth', description: 'The newer version keeps the name; the other is kept beside it, named after its side and the time' },
				{ name: 'Larger Wins', value: 'larger' },
				{ name: 'Left Wins', value: 'source' },
				{ name: 'Newer Wins', value: 'newer' },
				{ name: 'Older Wins', value: 'older' },
				{ name: 'Right Wins', value: 'destination' },
			],
			description: 'What to do with a file changed on both sides since the last run (identical edits are no conflict)',
		},
		{
			displayName: 'Force',
			name: 'force',
			type: 'boolean',
			default: false,
			displayOptions: { show: { '/mode': DELETING } },
			description: 'Whether to run even when a safety guard refuses: an empty source over a full destination, or more deletions than allowed',
		},
		{
			displayName: 'Full Check Every (Days)',
			name: 'fullCheckEveryDays',
			type: 'number',
			default: 7,
			typeOptions: { minValue: 0, numberPrecision: 2 },
			displayOptions: { show: { '/mode': FED, '/operation': ['sync'] } },
			description:
				'When both clouds have a change feed (Google Drive, Dropbox, OneDrive), a run checks only what changed since the last successful run, and lists both folders in full this often, in case a feed missed something. 0 lists in full every run. The output says which kind of run it was and why.',
		},
		{
			displayName: 'Ignore Existing',
			name: 'ignoreExisting',
			type: 'boolean',
			default: false,
			displayOptions: { show: { '/mode': ONE_WAY } },
			description: 'Whether to skip every file that already exists on the destination, changed or not',
		},
		{
			displayName: 'Item Limit',
			name: 'itemLimit',
			type: 'number',
			default: 10000,
			typeOptions: { minValue: 0 },
			// Read only where per-file items are output: every Diff, and a Sync whose output includes files.
			displayOptions: { show: { '/mode': PER_FILE_MODES, ...(show.operation?.includes('sync') ? { '/output': ['both', 'files'] } : {}) } },
			description: 'How many per-file items to output at most; the rest are counted in the summary (itemsOmitted) instead, so a huge folder does not flood the workflow',
		},
		{
			displayName: 'Keep Last Snapshots',
			name: 'keepLast',
			type: 'number',
			default: 0,
			typeOptions: { minValue: 0 },
			displayOptions: { show: { '/mode': SNAPSHOTS } },
			description: 'Delete older dated folders after a successful run, keeping this many; 0 keeps them all (unless Keep Snapshots For Days is set)',
		},
		{
			displayName: 'Keep Replaced and Deleted Files In',
			name: 'backupDir',
			type: 'string',
			default: '',
			placeholder: 'e.g. .versions',
			displayOptions: { show: { '/mode': [...ONE_WAY, 'twoWay'] } },
			description: 'A folder, relative to each synced folder, where files are moved instead of being overwritten or deleted, with the date in their name. It is never synced itself.',
		},
		{
			displayName: 'Keep Snapshots For Days',
			name: 'keepDays',
			type: 'number',
			default: 0,
			typeOptions: { minValue: 0 },
			displayOptions: { show: { '/mode': SNAPSHOTS } },
			description: 'Keep the dated folders of this many days; with Keep Last Snapshots too, a folder either rule keeps stays',
		},
		{
			displayName: 'Max Deletions',
			name: 'maxDeletes',
			type: 'number',
			default: 0,
			displayOptions: { show: { '/mode': DELETING } },
			typeOptions: { minValue: 0 },
			description: 'Refuse the run when it would delete more files than this; 0 means no count limit',
		},
		{
			displayName: 'Newer Only',
			name: 'newerOnly',
			type: 'boolean',
			default: false,
			// Update keeps newer destination files anyway.
			displayOptions: { show: { '/mode': ['copy', 'mirror', 'move'] } },
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
				{ name: STATE_ON_RIGHT, value: 'destination', description: 'A file in its .cloudsync folder only: for very large folders, or to keep the state of editor runs too' },
				{ name: 'With the Workflow', value: 'n8n', description: 'Kept by n8n with the workflow, saved after each scheduled or activated run, with a copy in the .cloudsync folder of the right-hand folder; a large state (over 64 KiB, about 10,000 files) is kept in that folder only, n8n keeping a small pointer to it' },
			],
			description: 'Where the two-way sync keeps what both folders held after the last run, to tell what changed since',
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

/** The share of the destination's files a run may delete: the guard of the modes that delete, shown as a field of its own. */
export const maxDeletePercentField = (show: Record<string, string[]>): INodeProperties => ({
	displayName: 'Max Deletions (%)',
	name: 'maxDeletePercent',
	type: 'number',
	default: DEFAULT_MAX_DELETE_PERCENT,
	typeOptions: { minValue: 0, maxValue: 100 },
	displayOptions: { show: { ...show, mode: DELETING } },
	description: "Refuse the whole run, changing nothing, when it would delete more than this share of a folder's files",
});

/** What Diff and Sync both ask for: the two folders (the source may be the input items), mode, comparison and filters. */
export function folderPairFields(show: Record<string, string[]>, afterMode: INodeProperties[] = []): INodeProperties[] {
	return [
		...folderPairLocations(show),
		syncModeField(show),
		...afterMode,
		compareField(show),
		maxDeletePercentField(show),
		{ ...filterOptions, displayOptions: { show } },
	];
}
