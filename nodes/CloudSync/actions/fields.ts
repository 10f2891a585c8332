import type { INodeProperties } from 'n8n-workflow';
import { sideName, type CloudDescriptor, type Side } from '../clouds/descriptor';
import { cloudOptions, cloudsOf, defaultCloud, folderFields } from '../clouds/registry';

export type { Side };

type Conditions = Record<string, string[]>;

/** The cloud selector and folder fields for one side; the same fields serve every operation. */
export function locationFields(
	side: Side,
	show: Conditions,
	clouds: readonly CloudDescriptor[] = cloudsOf(side),
	{ hide, twoWay = false }: { hide?: Conditions; twoWay?: boolean } = {},
): INodeProperties[] {
	const label = side === 'target' ? 'Cloud' : sideName(side, twoWay);
	const fields: INodeProperties[] = [
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
	return hide ? fields.map((field) => ({ ...field, displayOptions: { ...field.displayOptions, hide } })) : fields;
}

/**
 * The two folders of Diff and Sync. Two-Way has no direction, so there they are Left and Right (and the
 * source offers only what it can serve); the parameters keep their saved names either way.
 */
export function folderPairLocations(show: Conditions): INodeProperties[] {
	const twoWay = { mode: ['twoWay'] };
	const sources = cloudsOf('source');
	return [
		...locationFields('source', show, sources, { hide: twoWay }),
		...locationFields('destination', show, cloudsOf('destination'), { hide: twoWay }),
		...locationFields('source', { ...show, ...twoWay }, sources.filter((cloud) => !cloud.refusesMode?.('twoWay')), { twoWay: true }),
		...locationFields('destination', { ...show, ...twoWay }, cloudsOf('destination'), { twoWay: true }),
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
