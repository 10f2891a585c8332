import { createHash } from 'node:crypto';
import type { ICredentialDataDecryptedObject, IDataObject } from 'n8n-workflow';
import {
	appleEndpoints,
	beginSignIn,
	completeSignIn,
	ICloudSignInError,
	openICloudSession,
	type AppleIdOptions,
	type ICloudSavedSession,
	type PendingSignIn,
} from '../../../lib';

/**
 * Where an Apple ID's session lives, and how the person enters the 6-digit code once.
 *
 * The session (Apple's trust token and the last web cookies) lives in the credential itself, in the
 * hidden, encrypted `session` field, which n8n's preAuthentication writes back. Every process that
 * runs the workflow (the editor, `n8n execute`, an active workflow, any queue-mode worker) reads it
 * from the database, and signs in with the password and the trust token: no person, no shared memory
 * or disk. The code is entered in the credential dialog: Save once (the credential test runs the
 * hook, which asks Apple to send a code), type the code, Save again (the hook checks it, gets the
 * trust token and stores it). The sign-in Apple waits to see completed with the code (its scnt,
 * session id and cookies) is kept for ten minutes in the memory of the n8n main process, where
 * every credential test runs.
 *
 * Runs never call the hook (the node does not send requests through n8n's authentication helpers),
 * so a run can never make Apple send a code to the person's devices: when the trust has run out,
 * it stops with the instructions instead.
 */

export const APPLE_ID_CREDENTIAL = 'cloudSyncAppleIdApi';
/** Apple's codes expire after about ten minutes; so does the sign-in they complete. */
const PENDING_MS = 10 * 60_000;
/** After a sign-in the dialog may be saved again (and send an empty session): the result is reused this long. */
const COMPLETED_MS = 60 * 60_000;

/** Keyed by the Apple ID and a digest of the password: a dialog of the same Apple ID with another password (another n8n user, say) is never handed a session it did not sign in to. */
const pending = new Map<string, PendingSignIn>();
const completed = new Map<string, { saved: ICloudSavedSession; at: number }>();
const signInKey = (options: AppleIdOptions) => `${options.appleId.toLowerCase()}\u0000${createHash('sha256').update(options.password).digest('hex')}`;

/** Read when used, so tests and the demo can point the sign-in at the emulator. */
export const appleIdEndpoints = () => appleEndpoints(process.env.CLOUDSYNC_ICLOUD_URL || undefined);

export function savedSession(credential: ICredentialDataDecryptedObject): ICloudSavedSession | undefined {
	const text = typeof credential.sessionToken === 'string' ? credential.sessionToken : '';
	if (!text) return undefined;
	try {
		const saved = JSON.parse(text) as ICloudSavedSession;
		return typeof saved.trustToken === 'string' && saved.trustToken ? saved : undefined;
	} catch {
		return undefined;
	}
}

export function appleIdOptions(credential: ICredentialDataDecryptedObject): AppleIdOptions {
	return {
		appleId: String(credential.appleId ?? '').trim(),
		password: String(credential.password ?? ''),
		saved: savedSession(credential),
		endpoints: appleIdEndpoints(),
	};
}

/** An error for the credential dialog: the instructions only (n8n shows the message as the test's result). */
class DialogMessage extends Error {}
const dialogError = (message: string) => new DialogMessage(message);

/**
 * The credential's preAuthentication: signs in with the trust token when Apple still accepts it;
 * otherwise completes a pending sign-in with the code typed in the dialog, or starts one (Apple sends
 * a code). Returns the new `sessionToken` for n8n to store; throws the instructions otherwise.
 */
export async function refreshAppleIdSession(credential: ICredentialDataDecryptedObject): Promise<IDataObject> {
	const options = appleIdOptions(credential);
	if (!options.appleId || !options.password) throw dialogError('Enter the Apple ID and its password, then click Save.');
	const key = signInKey(options);
	const code = String(credential.verificationCode ?? '').replace(/\s+/g, '');
	const now = Date.now();
	for (const [id, waiting] of pending) if (now - waiting.startedAt > PENDING_MS) pending.delete(id);
	try {
		const waiting = pending.get(key);
		if (code && waiting) {
			const session = await completeSignIn(waiting, code, options);
			pending.delete(key);
			return remember(key, session.saved());
		}
		if (options.saved) {
			// Only "a code is needed" leads on to asking for one; any other refusal is the answer.
			const trusted = await openICloudSession(options).catch((error: unknown) => (error instanceof ICloudSignInError && error.kind === 'code-needed' ? undefined : Promise.reject(error)));
			if (trusted) return remember(key, trusted.saved());
		}
		const recent = completed.get(key);
		if (!options.saved && recent && now - recent.at < COMPLETED_MS) return { sessionToken: JSON.stringify(recent.saved) };
		const delivery = credential.codeDelivery === 'sms' ? 'sms' : 'trusted-device';
		const started = await beginSignIn({ ...options, delivery });
		if ('session' in started) return remember(key, started.session.saved());
		pending.set(key, started.pending);
		throw dialogError(
			`Apple sent a 6-digit verification code ${delivery === 'sms' ? 'by text message to your trusted phone number' : 'to your iPhone, iPad or Mac'}. Type it in "Verification Code" and click Save again within 10 minutes${code ? ' (replace the old code)' : ''}.`,
		);
	} catch (error) {
		if (error instanceof ICloudSignInError) throw dialogError(`${error.message}. ${error.hint ?? ''}`.trim());
		if (error instanceof DialogMessage) throw dialogError(error.message);
		throw dialogError(`Could not reach Apple to sign in (${error instanceof Error ? error.message : String(error)}). Check the network of the n8n server, then click Save again.`);
	}
}

function remember(key: string, saved: ICloudSavedSession): IDataObject {
	completed.set(key, { saved, at: Date.now() });
	return { sessionToken: JSON.stringify(saved) };
}

/** Forgets pending and completed sign-ins (tests). */
export function forgetAppleIdSignIns(): void {
	pending.clear();
	completed.clear();
}
