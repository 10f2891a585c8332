import type { INodeProperties } from 'n8n-workflow';
import type { CloudDescriptor, Side } from '../clouds/descriptor';
import { cloudOptions, cloudsOf, defaultCloud, folderFields } from '../clouds/registry';

export type { Side };

const SIDE_LABEL: Record<Side, string> = { source: 'Source', destination: 'Destination', target: 'Cloud' };

/** The cloud selector and folder fields for one side; the same fields serve every operation. */
export function locationFields(side: Side, show: Record<string, string[]>, clouds: readonly CloudDescriptor[] = cloudsOf(side)): INodeProperties[] {
	const label = SIDE_LABEL[side];
	return [
		{
			displayName: side === 'target' ? 'Cloud' : `${label} Cloud`,
			name: `${side}Cloud`,
			type: 'options',
			options: cloudOptions(clouds),
			default: defaultCloud(clouds),
			displayOptions: { show },
		},
		...folderFields(side, label, show, clouds),
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
