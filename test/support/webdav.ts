import { WebDavProvider, type WebDavProviderOptions } from '../../lib/providers/webdav';
import type { WebDavEmulator } from '../emulators/webdav';
import { quickPacer } from './dropbox';

/** A provider on `emulator`'s files, signed in as its user, with the vendor its flavour is. */
export function emulatedWebDav(emulator: WebDavEmulator, options: Partial<WebDavProviderOptions> = {}): Promise<WebDavProvider> {
	return WebDavProvider.open({
		url: emulator.url,
		user: emulator.user,
		password: emulator.password,
		vendor: emulator.flavour === 'nextcloud' ? 'nextcloud' : 'other',
		pacer: quickPacer(),
		...options,
	});
}
