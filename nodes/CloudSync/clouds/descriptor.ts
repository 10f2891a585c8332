import type {
	ICredentialDataDecryptedObject,
	ICredentialTestFunction,
	INodeListSearchResult,
	INodeProperties,
} from 'n8n-workflow';
import type { GooglePhotosLibrary, Provider } from '../../../lib';
import type { NodeContext } from '../helpers/parameters';

/** The places a node points at a folder: the two ends of a folder pair, or the one folder of a file operation or the trigger. */
export type Side = 'source' | 'destination' | 'target';
export const SIDES: readonly Side[] = ['target', 'source', 'destination'];

/** The label of a side's credential slot in the editor, as nodeCredentials() names it. */
export function credentialSlot(cloudLabel: string, side: Side, { twoWay = false, bothSides = false } = {}): string {
	if (side === 'target') return `${cloudLabel} Credential`;
	if (bothSides) return `${sideName('source', twoWay)} and ${sideName('destination', twoWay)} Credential (${cloudLabel})`;
	return `${sideName(side, twoWay)} Credential (${cloudLabel})`;
}

/**
 * What the editor and messages call a side. Two-Way has no direction, so its sides are Left and Right
 * (the parameters keep their saved names, sourceCloud and destinationCloud).
 */
export function sideName(side: Side, twoWay = false): string {
	if (side === 'target') return 'Folder';
	if (twoWay) return side === 'source' ? 'Left' : 'Right';
	return side === 'source' ? 'Source' : 'Destination';
}

export interface OpenRequest {
	context: NodeContext;
	side: Side;
	itemIndex: number;
	/** Whether a missing folder is made now (the destination of a sync); clouds that make theirs on the first write ignore it. */
	create: boolean;
	/**
	 * Whether this run may delete or replace files on this side (a sync's destination; the source of
	 * Move and Two-Way). Options about deletions, such as Delete Permanently, are read only then: the
	 * editor shows them only then.
	 */
	mayDelete?: boolean;
}

export interface OpenedFolder {
	provider: Provider;
	/** How reports and the trigger's saved state name the folder ("Dropbox:/Photos"): changing it restarts every trigger. */
	label: string;
}

/** A destination that takes photos and videos only, through its own mode (Google Photos adds; it has no files to compare or delete). */
export interface OpenedLibrary {
	library: GooglePhotosLibrary;
	/** How reports name it ("Google Photos:Camera roll"). */
	label: string;
	albumTitle: string;
}

export interface CloudCredential {
	/** The credential type's own name and display name, as n8n stores and shows them. */
	type: { name: string; displayName: string };
	/** For credentials n8n cannot test with one HTTP request: the node's credentialTest method that signs in instead. */
	test?: { method: string; run: ICredentialTestFunction };
}

/** What a picker may read of the node it is open in: the value of another of its side's fields (a SharePoint site chosen above the folder). */
export interface PickerSide {
	/** The side whose picker is open, when the editor says. */
	side?: Side;
	/** The current value of a parameter of the node, a resource locator's value extracted. */
	parameter(name: string): unknown;
}

export interface FolderSearch {
	/** The listSearch method the cloud's folder picker names; saved nowhere, but shared by clouds that share a picker. */
	method: string;
	/** One page of folders whose name holds `filter`, signed in with the credential the open picker's cloud uses. */
	search(credential: ICredentialDataDecryptedObject, filter: string | undefined, paginationToken: string | undefined, picker: PickerSide): Promise<INodeListSearchResult>;
}

/**
 * Everything the nodes know about one kind of folder. The cloud lists, folder fields, credential
 * entries, pickers, subtitles and the trigger's cloud list are all derived from these (see registry.ts),
 * so a cloud is added by writing one descriptor and listing it there.
 */
export interface CloudDescriptor {
	/** The value saved in workflows as sourceCloud, destinationCloud or targetCloud: never renamed. */
	value: string;
	/** Its entry in the cloud lists. */
	option: { name: string; description?: string };
	/** Its short name in folder labels, subtitles and messages ("Google Drive"). */
	label: string;
	/** How the node's own description names it in a list of what it syncs ("local folders"); clouds that share a phrase are named once. */
	phrase?: string;
	/** The sides that offer it; input items can only be read. */
	sides: readonly Side[];
	credential?: CloudCredential;
	/**
	 * The fields that say which folder on `side`; the registry shows them when this cloud is chosen.
	 * Clouds that return a field of the same name share it (one folder picker for both Google sign-ins).
	 */
	folderFields(side: Side, sideLabel: string): INodeProperties[];
	/**
	 * Entries it reads from the Options collection of Diff and Sync; clouds may share one by name. The
	 * editor shows each while a side it is read on (optionsReadOn) is this cloud, so open() reads it
	 * on those sides only (test/nodes/cloudSync.editor.test.ts checks both ways).
	 */
	options?: INodeProperties[];
	/** The sides open() reads `options` on; both by default. */
	optionsReadOn?: ReadonlyArray<'source' | 'destination'>;
	/** What a deletion does here by default, and whether Delete Permanently changes that (it is offered when some cloud's does). */
	deletions?: { byDefault: string; deletePermanently: boolean };
	folderSearch?: FolderSearch;
	/** Further pickers its folder fields name (OneDrive's SharePoint site list), each signed in like the folder picker. */
	moreSearches?: FolderSearch[];
	/** Set for clouds with a change feed the Cloud Sync Trigger can poll; the note says what their events cannot tell apart. */
	changeFeed?: { note?: string };
	/** Whether, as a source, all input items make one run, carried by the first item. */
	oneRunForAllItems?: boolean;
	/** Why this cloud cannot serve a sync mode (as a source, or as a destination), when it cannot. */
	refusesMode?(mode: string): { message: string; description: string } | undefined;
	open(request: OpenRequest): Promise<OpenedFolder>;
	/** Set for a photo library: the one mode it serves (the Mode field's value), and how it is opened for that mode instead of `open`. */
	photoLibrary?: { mode: string; open(request: OpenRequest, sourceLabel: string): Promise<OpenedLibrary> };
}
