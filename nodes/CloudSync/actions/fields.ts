import type { INodeProperties } from 'n8n-workflow';

export type Side = 'source' | 'destination' | 'target';
export type CloudName = 'local' | 'googleDrive' | 'googleDriveServiceAccount' | 'dropbox';

const SIDE_LABEL: Record<Side, string> = { source: 'Source', destination: 'Destination', target: 'Cloud' };

/** A source made of the input items' binaries: files from an earlier node, or from another account. */
export const INPUT_ITEMS = 'items';

export const CLOUD_OPTIONS = [
	{ name: 'Local Folder', value: 'local', description: 'A folder on the machine n8n runs on' },
	{ name: 'Google Drive', value: 'googleDrive', description: 'Signed in as a Google user (OAuth2)' },
	{ name: 'Google Drive (Service Account)', value: 'googleDriveServiceAccount', description: 'A service account, for shared drives and server-to-server syncs' },
	{ name: 'Dropbox', value: 'dropbox' },
];

/** The cloud selector and folder picker for one side; the same fields serve every operation. */
export function locationFields(side: Side, show: Record<string, string[]>, extraClouds: Array<{ name: string; value: string; description?: string }> = []): INodeProperties[] {
	const label = SIDE_LABEL[side];
	const cloud = `${side}Cloud`;
	const forCloud = (...names: CloudName[]) => ({ show: { ...show, [cloud]: names } });
	return [
		{
			displayName: side === 'target' ? 'Cloud' : `${label} Cloud`,
			name: cloud,
			type: 'options',
			options: [...extraClouds, ...CLOUD_OPTIONS],
			default: 'local',
			displayOptions: { show },
		},
		{
			displayName: `${label} Folder`,
			name: `${side}LocalPath`,
			type: 'string',
			default: '',
			required: true,
			placeholder: '/home/node/.n8n-files/photos',
			description: "Absolute path of the folder; it must lie inside the folders n8n may access (N8N_RESTRICT_FILE_ACCESS_TO)",
			displayOptions: forCloud('local'),
		},
		{
			displayName: `${label} Folder`,
			name: `${side}DriveFolder`,
			type: 'resourceLocator',
			default: { mode: 'list', value: 'root', cachedResultName: '/ (My Drive)' },
			required: true,
			modes: [
				{
					displayName: 'From List',
					name: 'list',
					type: 'list',
					placeholder: 'Select a folder...',
					typeOptions: { searchListMethod: 'searchDriveFolders', searchable: true },
				},
				{
					displayName: 'By URL',
					name: 'url',
					type: 'string',
					placeholder: 'https://drive.google.com/drive/folders/1anGBg0b5re2VtF2bKu201_a-Vnz5BHq9Y',
					extractValue: { type: 'regex', regex: 'https:\\/\\/drive\\.google\\.com(?:\\/.*|)\\/folders\\/([0-9a-zA-Z\\-_]+)(?:\\/.*|)' },
					validation: [
						{
							type: 'regex',
							properties: {
								regex: 'https:\\/\\/drive\\.google\\.com(?:\\/.*|)\\/folders\\/([0-9a-zA-Z\\-_]+)(?:\\/.*|)',
								errorMessage: 'Not a valid Google Drive folder URL',
							},
						},
					],
				},
				{ displayName: 'By ID', name: 'id', type: 'string', placeholder: '1anGBg0b5re2VtF2bKu201_a-Vnz5BHq9Y' },
			],
			displayOptions: { show: { ...show, [cloud]: ['googleDrive', 'googleDriveServiceAccount'] } },
		},
		{
			displayName: `${label} Folder`,
			name: `${side}DropboxFolder`,
			type: 'resourceLocator',
			default: { mode: 'path', value: '' },
			required: true,
			modes: [
				{
					displayName: 'From List',
					name: 'list',
					type: 'list',
					placeholder: 'Select a folder...',
					typeOptions: { searchListMethod: 'searchDropboxFolders', searchable: true },
				},
				{ displayName: 'By Path', name: 'path', type: 'string', placeholder: '/Photos/2026' },
			],
			displayOptions: forCloud('dropbox'),
		},
	];
}

export const filterOptions: INodeProperties = {
	displayName: 'Filters',
	name: 'filters',
	type: 'collection',
	placeholder: 'Add Filter',
	default: {},
	options: [
		{
			displayName: 'Exclude Extensions',
			name: 'excludeExtensions',
			type: 'string',
			default: '',
			placeholder: 'tmp, part',
			description: 'Comma-separated extensions to leave out',
		},
		{
			displayName: 'Exclude Patterns',
			name: 'exclude',
			type: 'string',
			default: '',
			placeholder: '**/cache/**, *.bak',
			description: 'Comma-separated globs as in rclone: *.jpg matches at any depth, /top/** only at the root',
		},
		{
			displayName: 'Extensions',
			name: 'extensions',
			type: 'string',
			default: '',
			placeholder: 'jpg, png, pdf',
			description: 'Comma-separated extensions to keep; all files when empty',
		},
		{
			displayName: 'Include Patterns',
			name: 'include',
			type: 'string',
			default: '',
			placeholder: '/Invoices/**, *.pdf',
			description: 'Comma-separated globs; when set, only matching files take part',
		},
		{
			displayName: 'Keep System Files',
			name: 'keepSystemFiles',
			type: 'boolean',
			default: false,
			description: 'Whether to include .DS_Store, Thumbs.db and desktop.ini, which are skipped by default',
		},
		{
			displayName: 'Max Size (MiB)',
			name: 'maxSizeMiB',
			type: 'number',
			default: 0,
			typeOptions: { minValue: 0, numberPrecision: 3 },
			description: 'Largest file to include; 0 means no limit',
		},
		{
			displayName: 'Min Size (MiB)',
			name: 'minSizeMiB',
			type: 'number',
			default: 0,
			typeOptions: { minValue: 0, numberPrecision: 3 },
			description: 'Smallest file to include',
		},
		{
			displayName: 'Modified After',
			name: 'modifiedAfter',
			type: 'string',
			default: '',
			placeholder: '7d or 2026-01-31',
			description: 'Only files modified after this date, or within this age (30m, 12h, 7d, 2w)',
		},
		{
			displayName: 'Modified Before',
			name: 'modifiedBefore',
			type: 'string',
			default: '',
			placeholder: '30d or 2026-01-31',
			description: 'Only files modified before this date, or older than this age',
		},
	],
};

/** The source option and its fields for syncing the input items' binaries. */
export function inputItemsSource(show: Record<string, string[]>): { option: { name: string; value: string; description: string }; fields: INodeProperties[] } {
	const forItems = { show: { ...show, sourceCloud: [INPUT_ITEMS] } };
	return {
		option: {
			name: 'Input Items (Binary)',
			value: INPUT_ITEMS,
			description: "The files in the input items' binary data, as one folder; all items make one run",
		},
		fields: [
			{
				displayName: 'Input Binary Field',
				name: 'sourceBinaryProperty',
				type: 'string',
				default: 'data',
				required: true,
				displayOptions: forItems,
				description: 'The binary field of each item that holds its file',
			},
			{
				displayName: 'Path Field',
				name: 'sourcePathField',
				type: 'string',
				default: 'path',
				displayOptions: forItems,
				description: "The item field holding the file's path inside the folder (List and Download output one); the binary's file name when the field is empty",
			},
		],
	};
}
