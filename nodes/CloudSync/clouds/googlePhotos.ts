import { NodeOperationError } from 'n8n-workflow';
import { GooglePhotosLibrary } from '../../../lib';
import { CloudSyncGooglePhotosOAuth2Api } from '../../../credentials/CloudSyncGooglePhotosOAuth2Api.credentials';
import { cloudCredential, oauthTokens } from '../transport/credentials';
import { parameter } from '../helpers/parameters';
import type { CloudDescriptor } from './descriptor';

const LABEL = 'Google Photos';
export const ADD_TO_GOOGLE_PHOTOS = 'addToGooglePhotos';

/** Read when a request is made, so that tests and the demo can point Google Photos at the emulator. */
const apiBaseUrl = () => process.env.CLOUDSYNC_GOOGLE_PHOTOS_API_URL || undefined;

const credential = { type: new CloudSyncGooglePhotosOAuth2Api() };

/** The album a source goes to when none is named: the source folder's last name ("Local:/photos/2024" → "2024"). */
function defaultTitle(sourceLabel: string): string {
	const folder = sourceLabel.slice(sourceLabel.indexOf(':') + 1).replace(/\/+$/, '');
	const last = folder.slice(folder.lastIndexOf('/') + 1);
	return last || sourceLabel.slice(0, sourceLabel.indexOf(':')) || 'Cloud Sync';
}

/**
 * Google Photos as a destination only, within what its Library API still allows since March 2025:
 * uploads into albums this app made, read back only what it made, no deletion, no lookup by content.
 * It is no folder: it serves the Add to Google Photos mode alone.
 */
export const googlePhotos: CloudDescriptor = {
	value: 'googlePhotos',
	option: { name: 'Google Photos', description: 'Adds photos and videos to an album (add-only: Google lets no app replace or delete)' },
	label: LABEL,
	phrase: 'Google Photos',
	sides: ['destination'],
	credential,

	folderFields: (side) => [
		{
			displayName: 'Album',
			name: `${side}PhotosAlbum`,
			type: 'string',
			default: '',
			placeholder: 'e.g. iPhone',
			description:
				"Title of the album this sync adds to, made by this node on the first run (Google lets apps add only to their own albums). Empty: the source folder's name. A full album (20,000 items) is followed by one named 'Title (2)'.",
		},
	],

	refusesMode: (mode) =>
		mode === ADD_TO_GOOGLE_PHOTOS
			? undefined
			: {
					message: 'Google Photos takes photos only through the mode "Add to Google Photos"',
					description: 'Google lets apps add photos to Google Photos but not replace, compare or delete them. Choose Mode: Add to Google Photos.',
				},

	async open({ context, itemIndex }) {
		throw new NodeOperationError(context.getNode(), 'Google Photos is not a folder: it can only be the destination of the mode "Add to Google Photos"', {
			itemIndex,
			description: 'Choose Mode: Add to Google Photos, or another destination.',
		});
	},

	photoLibrary: {
		mode: ADD_TO_GOOGLE_PHOTOS,
		async open({ context, side, itemIndex }, sourceLabel) {
			const title = String(parameter(context, `${side}PhotosAlbum`, itemIndex, '') ?? '').trim() || defaultTitle(sourceLabel);
			if (title.length > 500) {
				throw new NodeOperationError(context.getNode(), 'The album title is longer than 500 characters', { itemIndex, description: 'Shorten the Album field.' });
			}
			const library = new GooglePhotosLibrary({ auth: oauthTokens(await cloudCredential(context, { label: LABEL, credential }, itemIndex, side)), apiBaseUrl: apiBaseUrl() });
			return { library, label: `${LABEL}:${title}`, albumTitle: title };
		},
	},
};
