import { ICloudPhotosProvider, openICloudSession, type PhotosLayout, type PhotosLibrary } from '../../../lib';
import { CloudSyncAppleIdApi } from '../../../credentials/CloudSyncAppleIdApi.credentials';
import { cloudCredential } from '../transport/credentials';
import { appleIdOptions } from '../transport/appleId';
import { parameter } from '../helpers/parameters';
import type { CloudDescriptor, Side } from './descriptor';

const LABEL = 'iCloud Photos';
const LIBRARIES: Record<PhotosLibrary, string> = { personal: 'Personal Library', shared: 'Shared Library' };
const LAYOUTS: Record<PhotosLayout, string> = { month: 'By Month', flat: 'Flat', albums: 'Albums' };

const credential = { type: new CloudSyncAppleIdApi() };

/**
 * iCloud Photos as a read-only source, through the same Apple ID credential as iCloud Drive. There is
 * no folder to pick: the library is shown as a tree whose shape the Folder Layout chooses, so that
 * every destination and mode receives `yyyy/MM/IMG_0001.HEIC` (or one folder, or one per album).
 */
export const iCloudPhotos: CloudDescriptor = {
	value: 'iCloudPhotos',
	option: { name: 'iCloud Photos', description: 'Read-only: the photo library of an Apple ID, originals with their real names and dates' },
	label: LABEL,
	phrase: LABEL,
	sides: ['source'],
	credential,
	changeFeed: {
		note: 'iCloud Photos reports a new photo (and its Live Photo video) as Added, an edited or favourited one as Modified, and one moved to Recently Deleted as Deleted.',
	},

	folderFields: (side: Side) => [
		{
			displayName: 'Library',
			name: `${side}ICloudPhotosLibrary`,
			type: 'options',
			options: [
				{ name: 'Personal Library', value: 'personal' },
				{ name: 'Shared Library', value: 'shared', description: 'The iCloud Shared Photo Library this Apple ID takes part in' },
			],
			default: 'personal',
		},
		{
			displayName: 'Folder Layout',
			name: `${side}ICloudPhotosLayout`,
			type: 'options',
			options: [
				{ name: 'Albums', value: 'albums', description: 'One folder per album; photos in no album are left out' },
				{ name: 'By Month', value: 'month', description: 'Folders such as 2026/03, by the date the photo was taken (on the clock where it was taken)' },
				{ name: 'Flat', value: 'flat', description: 'Every photo in one folder' },
			],
			default: 'month',
			description: 'How the library is shown as folders. Equal names in one folder get a short suffix that never changes.',
		},
		{
			displayName: 'Live Photo Videos',
			name: `${side}ICloudPhotosLivePhotoVideos`,
			type: 'boolean',
			default: true,
			description: 'Whether the video part of each Live Photo is a file of its own (IMG_0001.MOV beside IMG_0001.HEIC)',
		},
		{
			displayName: 'Edited Versions',
			name: `${side}ICloudPhotosEditedVersions`,
			type: 'boolean',
			default: false,
			description: 'Whether edited photos also give their edited version (IMG_0001-edited.JPG); the original is always there',
		},
	],

	// Nothing is ever changed in the library, so a run may not delete from it or keep state in it.
	refusesMode(mode) {
		if (mode === 'move') return { message: 'iCloud Photos is read-only: photos cannot be moved out of it', description: 'Choose Copy or Mirror with iCloud Photos as the source.' };
		if (mode === 'twoWay') return { message: 'iCloud Photos is read-only: it cannot be one side of a two-way sync', description: 'Choose Copy or Mirror with iCloud Photos as the source.' };
		return undefined;
	},

	async open({ context, side, itemIndex }) {
		const library = parameter<PhotosLibrary>(context, `${side}ICloudPhotosLibrary`, itemIndex, 'personal');
		const layout = parameter<PhotosLayout>(context, `${side}ICloudPhotosLayout`, itemIndex, 'month');
		// Every field is read before signing in: a field left unread would mean the editor shows one the run ignores.
		const livePhotoVideos = parameter<boolean>(context, `${side}ICloudPhotosLivePhotoVideos`, itemIndex, true);
		const editedVersions = parameter<boolean>(context, `${side}ICloudPhotosEditedVersions`, itemIndex, false);
		const session = await openICloudSession(appleIdOptions(await cloudCredential(context, { label: LABEL, credential }, itemIndex, side)));
		const provider = new ICloudPhotosProvider({
			session,
			library: library === 'shared' ? 'shared' : 'personal',
			layout: LAYOUTS[layout] ? layout : 'month',
			livePhotoVideos,
			editedVersions,
		});
		// The label names what decides the paths: a trigger starts over when the library or layout changes.
		return { provider, label: `${LABEL}:${LIBRARIES[library] ?? library} (${LAYOUTS[layout] ?? layout})` };
	},
};
