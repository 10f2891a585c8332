import { Pacer } from '../../lib/core/pacer';
import { appleEndpoints, openSession } from '../../lib/providers/icloud/auth';
import type { ICloudSession } from '../../lib/providers/icloud/session';
import { ICloudPhotosProvider, type ICloudPhotosProviderOptions } from '../../lib/providers/icloudPhotos';
import { ICloudPhotosEmulator, type ICloudPhotosEmulatorOptions } from '../emulators/icloudPhotos';
import { APPLE_USER, trustedSession } from './icloud';

/** The Photos emulator with the test Apple ID, signed in once as a person would (the code read off the emulator). */
export async function startPhotos(options: ICloudPhotosEmulatorOptions = {}): Promise<{ emulator: ICloudPhotosEmulator; session: () => Promise<ICloudSession> }> {
	const emulator = await ICloudPhotosEmulator.start(options, [APPLE_USER]);
	const endpoints = appleEndpoints(emulator.baseUrl);
	const saved = await trustedSession(emulator.auth, emulator.baseUrl);
	const session = () => openSession({ appleId: APPLE_USER.appleId, password: APPLE_USER.password, saved, endpoints, pcsWait: { attempts: 3, intervalMs: 10 } });
	return { emulator, session };
}

/** A provider on a fresh session, with a pacer that waits milliseconds, not seconds. */
export async function photosProvider(session: () => Promise<ICloudSession>, options: Omit<ICloudPhotosProviderOptions, 'session'> = {}): Promise<ICloudPhotosProvider> {
	return new ICloudPhotosProvider({ session: await session(), pacer: new Pacer({ baseDelayMs: 1, maxDelayMs: 10 }), ...options });
}
