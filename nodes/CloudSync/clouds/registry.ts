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
import { SIDES, type CloudDescriptor, type Side } from './descriptor';
import { inputItems } from './inputItems';
import { local } from './local';
import { googleDrive, googleDriveServiceAccount } from './googleDrive';
import { dropbox } from './dropbox';
import { oneDrive } from './oneDrive';
import { s3 } from './s3';

/** Every kind of folder the nodes offer, in the order the cloud lists show them. A new cloud is listed here. */
export const CLOUDS: readonly CloudDescriptor[] = [inputItems, local, googleDrive, googleDriveServiceAccount, dropbox, oneDrive, s3];

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

/** The entries the clouds add to the Options collection of Diff and Sync, Delete Permanently among them where a cloud honours it. */
export function cloudSyncOptions(): INodeProperties[] {
	const byName = new Map<string, INodeProperties>();
	for (const option of CLOUDS.flatMap((cloud) => cloud.options ?? [])) if (!byName.has(option.name)) byName.set(option.name, option);
	const deletions = CLOUDS.flatMap((cloud) => (cloud.deletions ? [cloud.deletions] : []));
	if (deletions.some((deletion) => deletion.deletePermanently)) {
		byName.set('deletePermanently', {
			displayName: 'Delete Permanently',
			name: 'deletePermanently',
			type: 'boolean',
			default: false,
			description: `Whether deleted files skip the trash. By default ${unique(deletions.map((deletion) => deletion.byDefault)).join('; ')}.`,
		});
	}
	return [...byName.values()];
}

// ---------------------------------------------------------------------------------------------
// Credentials

/** One entry per credential type: n8n keys a node's credentials by type. */
function credentialTypes(clouds: readonly CloudDescriptor[]) {
	const types = new Map<string, { clouds: string[]; testedBy?: string }>();
	for (const { value, credential } of clouds) {
		if (!credential) continue;
		const type = types.get(credential.type.name) ?? { clouds: [], testedBy: credential.test?.method };
		type.clouds.push(value);
		types.set(credential.type.name, type);
	}
	return [...types.entries()].map(([name, type]) => ({ name, ...type }));
}

/**
 * The Cloud Sync node's credentials. With a single-location operation (list, upload, download, delete,
 * move) one shows only when its cloud is chosen; with a folder pair (diff, sync) all show, optional.
 *
 * Why not one entry per side: n8n keys a node's credentials by type, and when a node asks for a
 * credential (getCredentials, at run time and in list searches), n8n-core checks the display options
 * of the *first* entry of that type in `description.credentials` only. An entry "sourceCloud is X"
 * listed before "destinationCloud is X" or "targetCloud is X" made every run that used the cloud only
 * as its destination or target fail with "Credentials not found". Display options are a conjunction of
 * per-parameter conditions (show: all must hold; hide: any hides), so "source or destination is X" has
 * no single-entry form: a folder pair shows all, optional, and the node tells which one is missing
 * when it runs.
 */
export function nodeCredentials(): INodeCredentialDescription[] {
	const targets = cloudsOf('target').map((cloud) => cloud.value);
	return credentialTypes(CLOUDS).map(({ name, clouds, testedBy }) => {
		const displayOptions: ICredentialsDisplayOptions = { hide: { targetCloud: targets.filter((other) => !clouds.includes(other)) } };
		return { name, required: false, ...(testedBy ? { testedBy } : {}), displayOptions };
	});
}

/** The trigger watches one folder: its credential shows, required, with its cloud. */
export function triggerCredentials(): INodeCredentialDescription[] {
	return credentialTypes(WATCHABLE).map(({ name, clouds, testedBy }) => ({ name, required: true, ...(testedBy ? { testedBy } : {}), displayOptions: { show: { targetCloud: clouds } } }));
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
			const signIn = credential ? await cloudCredential(this, { label, credential }, 0) : {};
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
