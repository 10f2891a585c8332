import type {
	ICredentialsDisplayOptions,
	ICredentialTestFunction,
	ILoadOptionsFunctions,
	INodeCredentialDescription,
	INodeListSearchResult,
	INodeProperties,
	INodePropertyOptions,
} from 'n8n-workflow';
import { cloudCredential } from '../transport/credentials';
import { toNodeError } from '../helpers/errors';
import { credentialSlot, SIDES, type CloudDescriptor, type Side } from './descriptor';
import { inputItems } from './inputItems';
import { local } from './local';
import { googleDrive, googleDriveServiceAccount } from './googleDrive';
import { dropbox } from './dropbox';
import { oneDrive } from './oneDrive';
import { s3 } from './s3';

import { iCloudDrive } from './icloudDrive';
import { iCloudPhotos } from './icloudPhotos';
import { googlePhotos } from './googlePhotos';

import { webDav } from './webdav';

/** Every kind of folder the nodes offer, in the order the cloud lists show them. A new cloud is listed here. */
export const CLOUDS: readonly CloudDescriptor[] = [inputItems, local, googleDrive, googleDriveServiceAccount, dropbox, oneDrive, s3, webDav, iCloudDrive, iCloudPhotos, googlePhotos];

/** The clouds one side of the Cloud Sync node offers. */
export const cloudsOf = (side: Side) => CLOUDS.filter((cloud) => cloud.sides.includes(side));

/** The clouds the Cloud Sync Trigger can watch: those with a change feed. */
export const WATCHABLE = CLOUDS.filter((cloud) => cloud.changeFeed);

export const cloudNamed = (value: unknown) => CLOUDS.find((cloud) => cloud.value === value);

const unique = <T>(values: T[]) => [...new Set(values)];

/** "a, b and c", for descriptions that name the clouds. */
function enumerate(names: string[], conjunction: string): string {
	return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} ${conjunction} ${names.at(-1)}`;
}

/** The node's description of what it syncs, naming every cloud once. */
export const cloudsInProse = (clouds: readonly CloudDescriptor[], conjunction: string) =>
	enumerate(unique(clouds.flatMap((cloud) => (cloud.phrase ? [cloud.phrase] : []))), conjunction);

export const cloudOptions = (clouds: readonly CloudDescriptor[]): INodePropertyOptions[] =>
	clouds.map(({ value, option }) => ({ name: option.name, value, ...(option.description ? { description: option.description } : {}) }));

/** A folder kind every side offers, so that a side's default means the same on every side. */
export const defaultCloud = (clouds: readonly CloudDescriptor[]) => (clouds.find((cloud) => cloud.sides.length === SIDES.length) ?? clouds[0]).value;

/** The folder fields of `clouds` on one side, each shown while one of the clouds that use it is chosen. */
export function folderFields(side: Side, sideLabel: string, show: Record<string, string[]>, clouds: readonly CloudDescriptor[]): INodeProperties[] {
	const fields = new Map<string, { field: INodeProperties; clouds: string[] }>();
	for (const cloud of clouds) {
		for (const field of cloud.folderFields(side, sideLabel)) {
			const known = fields.get(field.name);
			if (known) known.clouds.push(cloud.value);
			else fields.set(field.name, { field, clouds: [cloud.value] });
		}
	}
	return [...fields.values()].map(({ field, clouds: shownFor }) => ({ ...field, displayOptions: { show: { ...show, [`${side}Cloud`]: shownFor } } }));
}

/** The modes that delete or replace files on the source too, where the source's deletion options apply. */
export const SOURCE_CHANGING_MODES = ['move', 'twoWay'];

/**
 * An Options entry shown while the destination is one of `destination` or the source one of `source`
 * (with `sourceOnly` conditions). Display options are a conjunction, so "either side" takes two
 * entries of one name that never show together; n8n reads the value by name, whichever is shown.
 */
function onEitherSide(option: INodeProperties, destination: string[], source: string[], sourceOnly: Record<string, string[]> = {}): INodeProperties[] {
	const entries: INodeProperties[] = [];
	if (destination.length > 0) entries.push({ ...option, displayOptions: { show: { '/destinationCloud': destination } } });
	if (source.length > 0) {
		const hide = destination.length > 0 ? { hide: { '/destinationCloud': destination } } : {};
		entries.push({ ...option, displayOptions: { show: { '/sourceCloud': source, ...sourceOnly }, ...hide } });
	}
	return entries;
}

/**
 * The entries the clouds add to the Options collection of Diff and Sync, each shown only while a side
 * that reads it is one of its clouds; Delete Permanently where a side that may delete honours it.
 */
export function cloudSyncOptions(): INodeProperties[] {
	const byName = new Map<string, { option: INodeProperties; source: string[]; destination: string[] }>();
	for (const cloud of CLOUDS) {
		for (const option of cloud.options ?? []) {
			const known = byName.get(option.name) ?? { option, source: [], destination: [] };
			for (const side of cloud.optionsReadOn ?? ['source', 'destination']) known[side].push(cloud.value);
			byName.set(option.name, known);
		}
	}
	const entries = [...byName.values()].flatMap(({ option, source, destination }) => onEitherSide(option, destination, source));
	const honouring = CLOUDS.filter((cloud) => cloud.deletions?.deletePermanently);
	if (honouring.length > 0) {
		const byDefault = unique(honouring.map((cloud) => cloud.deletions!.byDefault));
		const option: INodeProperties = {
			displayName: 'Delete Permanently',
			name: 'deletePermanently',
			type: 'boolean',
			default: false,
			description: `Whether deleted and replaced files skip the trash. By default ${byDefault.join('; ')}.`,
		};
		const clouds = honouring.map((cloud) => cloud.value);
		entries.push(...onEitherSide(option, clouds, clouds, { '/mode': SOURCE_CHANGING_MODES }));
	}
	return entries;
}

// ---------------------------------------------------------------------------------------------
// Credentials

/** The clouds of each credential type: n8n keys a node's credentials by type, and one type may serve several clouds (the Apple ID: iCloud Drive and iCloud Photos). */
function credentialTypes(clouds: readonly CloudDescriptor[]) {
	const types = new Map<string, { clouds: CloudDescriptor[]; testedBy?: string }>();
	for (const cloud of clouds) {
		if (!cloud.credential) continue;
		const type = types.get(cloud.credential.type.name) ?? { clouds: [], testedBy: cloud.credential.test?.method };
		type.clouds.push(cloud);
		types.set(cloud.credential.type.name, type);
	}
	return [...types.entries()].map(([name, type]) => ({ name, ...type }));
}

/**
 * A display rule only n8n-core's run-time check passes: no parameter has this name, so its value is
 * `undefined`, which the live description lists; the editor gets the description as JSON, where the
 * `undefined` becomes `null`, which no value equals. See nodeCredentials().
 */
export const RUN_TIME_ONLY: ICredentialsDisplayOptions = { show: { cloudSyncRunTimeOnly: [undefined] } };

/**
 * The Cloud Sync node's credentials: each side shows the one its cloud needs, labelled for that side.
 *
 * n8n keys a node's credentials by type, and its editor shows each entry of `description.credentials`
 * by that entry's own display options, so one type may have an entry per side: "Source Credential
 * (Dropbox)", "Destination Credential (Dropbox)", or one for both sides when both are Dropbox.
 * But when the node asks for a credential (getCredentials, at run time and in list searches),
 * n8n-core checks the display options of the *first* entry of that type only, and display options
 * are a conjunction of per-parameter conditions: "source or destination is Dropbox" has no form. So
 * each type's first entry is one the editor never shows and n8n-core always passes (RUN_TIME_ONLY),
 * not required: whether a side's credential is missing is said by the side's own entry in the
 * editor, and by cloudCredential() at run time.
 */
export function nodeCredentials(): INodeCredentialDescription[] {
	const types = credentialTypes(CLOUDS).map(({ name, clouds, testedBy }) => {
		const tested = testedBy ? { testedBy } : {};
		const entry = (displayName: string, displayOptions: ICredentialsDisplayOptions): INodeCredentialDescription => ({ name, displayName, required: true, ...tested, displayOptions });
		const values = clouds.map((cloud) => cloud.value);
		const on = (side: Side) => clouds.filter((cloud) => cloud.sides.includes(side));
		// Each slot is named for the cloud chosen on its side, so a type shared by two clouds reads right on either.
		const pairEntries = (twoWay: boolean) => {
			// The clouds come first: n8n shows an entry without reading further once a shown key's value is an expression.
			const mode = { mode: ['twoWay'] };
			const onlyIn = twoWay ? { show: mode, hide: {} } : { show: {}, hide: mode };
			const shownWith = (show: Record<string, string[]>, hide: Record<string, string[]> = {}) => ({ show: { ...show, ...onlyIn.show }, hide: { ...hide, ...onlyIn.hide } });
			return {
				bothSides: on('source').flatMap((source) =>
					on('destination').map((destination) =>
						entry(
							credentialSlot(source === destination ? source.label : `${source.label} / ${destination.label}`, 'source', { twoWay, bothSides: true }),
							shownWith({ sourceCloud: [source.value], destinationCloud: [destination.value] }),
						),
					),
				),
				source: on('source').map((source) => entry(credentialSlot(source.label, 'source', { twoWay }), shownWith({ sourceCloud: [source.value] }, { destinationCloud: values }))),
				destination: on('destination').map((destination) => entry(credentialSlot(destination.label, 'destination', { twoWay }), shownWith({ destinationCloud: [destination.value] }, { sourceCloud: values }))),
			};
		};
		const [oneWay, twoWay] = [pairEntries(false), pairEntries(true)];
		return {
			runTimeOnly: { name, required: false, ...tested, displayOptions: RUN_TIME_ONLY },
			target: on('target').map((cloud) => entry(credentialSlot(cloud.label, 'target'), { show: { targetCloud: [cloud.value] } })),
			bothSides: [...oneWay.bothSides, ...twoWay.bothSides],
			source: [...oneWay.source, ...twoWay.source],
			destination: [...oneWay.destination, ...twoWay.destination],
		};
	});
	// The editor lists the slots in this order whatever their types: every type's run-time entry first (n8n-core reads only that one), then the source's slot above the destination's.
	return [
		...types.map((type) => type.runTimeOnly),
		...(['target', 'bothSides', 'source', 'destination'] as const).flatMap((slot) => types.flatMap((type) => type[slot])),
	];
}

/** The trigger watches one folder: its credential shows, required, with its cloud. */
export function triggerCredentials(): INodeCredentialDescription[] {
	// One entry per type: n8n-core checks a type's first entry at run time. No type serves two watchable clouds yet; the label names the first.
	return credentialTypes(WATCHABLE).map(({ name, clouds, testedBy }) => ({
		name,
		displayName: credentialSlot(clouds[0].label, 'target'),
		required: true,
		...(testedBy ? { testedBy } : {}),
		displayOptions: { show: { targetCloud: clouds.map((cloud) => cloud.value) } },
	}));
}

// ---------------------------------------------------------------------------------------------
// Methods

/**
 * The side whose picker is open. n8n's editor sends the path of the parameter being edited with every
 * list search ("parameters.sourceDriveFolder"), and n8n-core keeps it on the LoadOptionsContext it
 * calls the method with (its `path` field; it also resolves `getCurrentNodeParameter('&...')` with it).
 * The field is not part of ILoadOptionsFunctions, so it is read defensively.
 */
function openSide(context: ILoadOptionsFunctions): Side | undefined {
	const path: unknown = Reflect.get(context, 'path');
	return typeof path === 'string' ? SIDES.find((side) => path.startsWith(`parameters.${side}`)) : undefined;
}

/**
 * Which cloud, among those that share a picker, the open one signs in to. n8n keys a node's
 * credentials by type, so the cloud's credential type alone names the credential (OAuth2 for "Google
 * Drive", the service account for "Google Drive (Service Account)"). The side's cloud decides; without
 * a known side, the first side (among the parameters the node shows) that uses one of them does.
 */
function cloudOfPicker(context: ILoadOptionsFunctions, sharing: CloudDescriptor[]): CloudDescriptor {
	if (sharing.length === 1) return sharing[0];
	const side = openSide(context);
	for (const candidate of side ? [side] : SIDES) {
		const chosen = context.getCurrentNodeParameter(`${candidate}Cloud`);
		const cloud = sharing.find((shared) => shared.value === chosen);
		if (cloud) return cloud;
	}
	return sharing[0];
}

type ListSearch = (this: ILoadOptionsFunctions, filter?: string, paginationToken?: string) => Promise<INodeListSearchResult>;

/** The folder pickers of `clouds`, one listSearch method per picker. */
export function listSearchMethods(clouds: readonly CloudDescriptor[]): Record<string, ListSearch> {
	const methods: Record<string, ListSearch> = {};
	const searchesOf = (cloud: CloudDescriptor) => [...(cloud.folderSearch ? [cloud.folderSearch] : []), ...(cloud.moreSearches ?? [])];
	for (const method of unique(clouds.flatMap((cloud) => searchesOf(cloud).map((search) => search.method)))) {
		const sharing = clouds.filter((cloud) => searchesOf(cloud).some((search) => search.method === method));
		methods[method] = async function (this: ILoadOptionsFunctions, filter?: string, paginationToken?: string) {
			const cloud = cloudOfPicker(this, sharing);
			const { label, credential } = cloud;
			const signIn = credential ? await cloudCredential(this, { label, credential }, 0, openSide(this) ?? 'target') : {};
			const picker = { side: openSide(this), parameter: (name: string) => this.getCurrentNodeParameter(name, { extractValue: true }) };
			try {
				return await searchesOf(cloud)
					.find((search) => search.method === method)!
					.search(signIn, filter, paginationToken, picker);
			} catch (error) {
				throw toNodeError(this.getNode(), error, 0);
			}
		};
	}
	return methods;
}

/** The credential tests the clouds' credentials name (testedBy). */
export function credentialTestMethods(clouds: readonly CloudDescriptor[]): Record<string, ICredentialTestFunction> {
	return Object.fromEntries(clouds.flatMap(({ credential }) => (credential?.test ? [[credential.test.method, credential.test.run]] : [])));
}

/** A subtitle expression's map from a cloud parameter's value to the cloud's label. */
export const labelsExpression = () => JSON.stringify(Object.fromEntries(CLOUDS.map((cloud) => [cloud.value, cloud.label])));
