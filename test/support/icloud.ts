import { EmulatorServer } from '../emulators/core/server';
import { AppleAuthEmulator, type AppleUser } from '../emulators/icloudAuth';
import { appleEndpoints, beginSignIn, completeSignIn, type AppleIdOptions } from '../../lib/providers/icloud/auth';
import type { SavedSession } from '../../lib/providers/icloud/session';
import { ICloudDriveProvider, type ICloudDriveProviderOptions } from '../../lib/providers/icloudDrive';
import type { ICloudDriveEmulator } from '../emulators/icloudDrive';
import { quickPacer } from './dropbox';

export const APPLE_USER: AppleUser = { appleId: 'Person@Example.com', password: 'correct horse battery staple', dsid: '11122233344' };

/** An emulator serving only Apple's sign-in and setup, for the sign-in's own tests. */
export async function startAppleAuth(users: AppleUser[] = [APPLE_USER]): Promise<{ server: EmulatorServer; auth: AppleAuthEmulator }> {
	const holder: { server?: EmulatorServer } = {};
	const auth = new AppleAuthEmulator(() => holder.server!.baseUrl);
	const server = new EmulatorServer(async (request, response, context) => {
		if (auth.statusFault(`${request.method} ${context.url.pathname}`, response)) return;
		if (!(await auth.handle(request, response, context.url))) response.writeHead(404).end();
	}, AppleAuthEmulator.renderFault);
	holder.server = server;
	for (const user of users) auth.addUser(user);
	await server.start();
	return { server, auth };
}

/** Signs in as a person would: the code Apple sends is read off the emulator and entered. */
export async function trustedSession(auth: AppleAuthEmulator, baseUrl: string, user: AppleUser = APPLE_USER, extra: Partial<AppleIdOptions> = {}): Promise<SavedSession> {
	const options: AppleIdOptions = { appleId: user.appleId, password: user.password, endpoints: appleEndpoints(baseUrl), ...extra };
	const started = await beginSignIn(options);
	if ('session' in started) return started.session.saved();
	const session = await completeSignIn(started.pending, auth.lastCode(user.appleId)!, options);
	return session.saved();
}

/** A provider on `emulator`'s iCloud Drive, signed in once per emulator as a person would (the code read off the emulator). */
export async function emulatedICloudDrive(emulator: ICloudDriveEmulator, options: Partial<ICloudDriveProviderOptions> = {}): Promise<ICloudDriveProvider> {
	let saved = savedSessions.get(emulator);
	if (!saved) {
		saved = await trustedSession(emulator.auth, emulator.baseUrl, emulator.user);
		savedSessions.set(emulator, saved);
	}
	return ICloudDriveProvider.open({ signIn: driveSignIn(emulator, saved), pacer: quickPacer(), ...options });
}

/** The sign-in options a provider on `emulator` uses, from a saved session. */
export function driveSignIn(emulator: ICloudDriveEmulator, saved?: SavedSession): AppleIdOptions {
	return { appleId: emulator.user.appleId, password: emulator.user.password, endpoints: appleEndpoints(emulator.baseUrl), saved, pcsWait: { attempts: 3, intervalMs: 5 } };
}

const savedSessions = new WeakMap<ICloudDriveEmulator, SavedSession>();

/** The session the tests' person set up on `emulator` (after a first emulatedICloudDrive). */
export const savedSessionOf = (emulator: ICloudDriveEmulator): SavedSession | undefined => savedSessions.get(emulator);
