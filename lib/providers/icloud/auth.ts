import { randomUUID } from 'node:crypto';
import { AuthenticationError } from '../../core/errors';
import { SrpClient } from './srp';
import { bufferFetch } from '../kit/bufferFetch';
import { CookieJar, SESSION_ENDED, USER_AGENT, WEB_ORIGIN, webRequest, type ICloudSession, type ICloudRequestInit, type SavedSession, type WebServices } from './session';

/**
 * Signing in to iCloud as icloud.com does (Apple has no public API; sources in
 * ../shared/reference/icloud-and-google-photos.md §1): SRP-6a against idmsa, a 6-digit code from a
 * trusted device (or SMS) the first time, a trust token that lets later sign-ins skip the code for
 * about 30 days, then setup's accountLogin for the web session and the service URLs.
 *
 * Three entry points, for the two situations a sign-in happens in:
 * - `openSession` (every run, no person present): the saved cookies if Apple still takes them, else
 *   SRP with the trust token. Never asks Apple to send a code; when one is needed it fails with
 *   `ICloudSignInError` kind `code-needed`, whose hint says how to enter one.
 * - `beginSignIn` (a person is at the credential dialog): SRP; when Apple wants a code it asks Apple
 *   to send one and returns the `PendingSignIn` the code must be checked against.
 * - `completeSignIn`: checks the code in that same idmsa session, trusts it, and signs in.
 */

export const APPLE_AUTH_URL = 'https://idmsa.apple.com/appleauth/auth';
export const APPLE_SETUP_URL = 'https://setup.icloud.com/setup/ws/1';
/** The web client's public id (R:docs client_id; P:base.py); not a secret. */
export const WEB_CLIENT_ID = 'd39ba9916b7251055b22c7f910e2ea796ee65e98b2ddecea8f5dde8d9d1a815d';
/** Apple trusts a browser for 30 days (R:docs; rclone#7717); runs warn before then. */
export const TRUST_DAYS = 30;

export interface AppleEndpoints {
	/** idmsa's `/appleauth/auth`. */
	auth: string;
	/** setup's `/setup/ws/1`. */
	setup: string;
}

/** The endpoints below one base URL (an emulator serves both), or Apple's. */
export function appleEndpoints(baseUrl?: string): AppleEndpoints {
	if (!baseUrl) return { auth: APPLE_AUTH_URL, setup: APPLE_SETUP_URL };
	const base = baseUrl.replace(/\/+$/, '');
	return { auth: `${base}/appleauth/auth`, setup: `${base}/setup/ws/1` };
}

export interface AppleIdOptions {
	appleId: string;
	password: string;
	/** What the credential kept from the last sign-in. */
	saved?: SavedSession;
	endpoints?: AppleEndpoints;
	/** How long `requestPcs` waits for a device to hand over the PCS cookies, and how often it asks. */
	pcsWait?: { attempts: number; intervalMs: number };
	fetch?: typeof fetch;
}

export type SignInProblem =
	| 'code-needed'
	| 'wrong-password'
	| 'wrong-code'
	| 'code-expired'
	| 'locked'
	| 'advanced-data-protection'
	| 'web-access-off'
	| 'terms'
	| 'throttled'
	| 'region'
	| 'service-unavailable'
	| 'unexpected';

const HINTS: Record<SignInProblem, string> = {
	'code-needed':
		'Apple needs a verification code for this Apple ID: the first time, then again about every 30 days (when its trust in the last code runs out) or after a password change. Open the Cloud Sync Apple ID credential, clear "Verification Code" and click Save: Apple sends a 6-digit code to your iPhone, iPad or Mac. Type it in "Verification Code" and click Save again within 10 minutes. Scheduled runs then work without a code for about 30 days.',
	'wrong-password':
		'Apple refused the Apple ID or password. Check both in the Cloud Sync Apple ID credential (use the account password: Apple refuses app-specific passwords for iCloud Drive), then click Save.',
	'wrong-code':
		'Apple refused the verification code. Open the Cloud Sync Apple ID credential, type the newest 6-digit code Apple sent and click Save; to get a new code, clear the field and click Save.',
	'code-expired':
		'The verification code came too late, or the sign-in it belonged to is gone. Open the Cloud Sync Apple ID credential, clear "Verification Code" and click Save to get a new code, then type it and Save again within 10 minutes.',
	locked: 'Apple has locked this Apple ID. Unlock it at https://iforgot.apple.com, then save the Cloud Sync Apple ID credential again.',
	'advanced-data-protection':
		'Advanced Data Protection is on for this Apple ID, and the web session has no access to the encrypted data. On an iPhone, iPad or Mac signed in to this Apple ID, turn on Settings > [your name] > iCloud > "Access iCloud Data on the Web" and approve the request that appears on the device, then run again.',
	'web-access-off':
		'"Access iCloud Data on the Web" is off for this Apple ID. Turn it on in Settings > [your name] > iCloud on an iPhone, iPad or Mac (or at icloud.com), then run again.',
	terms: 'Apple has new iCloud terms for this Apple ID. Sign in at https://www.icloud.com in a browser and accept them, then run again.',
	throttled:
		'Apple is refusing sign-ins for now (too many in a short time). Nothing was changed. Wait at least an hour before the next run, and run the workflow less often.',
	region:
		'This Apple ID belongs to the other iCloud region (iCloud.com.cn for mainland China, iCloud.com elsewhere), which Cloud Sync does not support yet. Nothing was changed.',
	'service-unavailable': 'iCloud Drive is not set up for this Apple ID. Turn on iCloud Drive on one of your devices or at icloud.com, then run again.',
	unexpected: 'Apple answered the sign-in in a way Cloud Sync does not know. Nothing was changed; try again later.',
};

/** A sign-in that a person must act on; `kind` says which, the hint says what to do. Holds no secret. */
export class ICloudSignInError extends AuthenticationError {
	readonly status?: number;

	constructor(
		readonly kind: SignInProblem,
		message: string,
		options?: { cause?: unknown; status?: number },
	) {
		super(message, { cause: options?.cause, hint: HINTS[kind] });
		this.status = options?.status;
	}
}

/** The idmsa state a code must be checked against: it must outlive the wait for the person (minutes). Holds secrets: keep it in memory only. */
export interface PendingSignIn {
	appleId: string;
	startedAt: number;
	/** Where Apple sent the code. */
	delivery: 'trusted-device' | 'sms';
	phoneId?: number;
	headers: Record<string, string>;
	cookies: Record<string, string>;
}

export type SignInStart = { session: ICloudSession } | { pending: PendingSignIn };

/** idmsa's conversation: the scnt / session id / cookies each answer hands to the next request. */
class IdmsaConversation {
	readonly cookies: CookieJar;
	readonly state: Record<string, string>;
	private readonly frameId = `auth-${randomUUID()}`;

	constructor(
		private readonly options: AppleIdOptions,
		pending?: PendingSignIn,
	) {
		this.cookies = new CookieJar(pending?.cookies);
		this.state = { ...pending?.headers };
	}

	get endpoints(): AppleEndpoints {
		return this.options.endpoints ?? appleEndpoints();
	}

	async call(path: string, init: ICloudRequestInit = {}): Promise<{ status: number; headers: Headers; body: unknown }> {
		const headers: Record<string, string> = {
			'Content-Type': 'application/json',
			'X-Apple-Widget-Key': WEB_CLIENT_ID,
			'X-Apple-OAuth-Client-Id': WEB_CLIENT_ID,
			'X-Apple-OAuth-Client-Type': 'firstPartyAuth',
			'X-Apple-OAuth-Redirect-URI': WEB_ORIGIN,
			'X-Apple-OAuth-Require-Grant-Code': 'true',
			'X-Apple-OAuth-Response-Mode': 'web_message',
			'X-Apple-OAuth-Response-Type': 'code',
			'X-Apple-OAuth-State': this.frameId,
			'X-Apple-Frame-Id': this.frameId,
			'X-Requested-With': 'XMLHttpRequest',
			'X-Apple-I-FD-Client-Info': JSON.stringify({ U: USER_AGENT, L: 'en-US', Z: 'GMT+00:00', V: '1.1', F: '' }),
			...(this.state.scnt ? { scnt: this.state.scnt } : {}),
			...(this.state.sessionId ? { 'X-Apple-ID-Session-Id': this.state.sessionId } : {}),
			...(this.state.authAttributes ? { 'X-Apple-Auth-Attributes': this.state.authAttributes } : {}),
			...init.headers,
		};
		const response = await (this.options.fetch ?? bufferFetch)(`${this.endpoints.auth}${path}`, webRequest(this.cookies, { ...init, headers }));
		this.cookies.absorb(response);
		const keep: Array<[string, string]> = [
			['scnt', 'scnt'],
			['x-apple-id-session-id', 'sessionId'],
			['x-apple-auth-attributes', 'authAttributes'],
			['x-apple-session-token', 'sessionToken'],
			['x-apple-id-account-country', 'accountCountry'],
			['x-apple-twosv-trust-token', 'trustToken'],
		];
		for (const [header, key] of keep) {
			const value = response.headers.get(header);
			if (value) this.state[key] = value;
		}
		const text = await response.text();
		let body: unknown = text;
		try {
			body = text ? JSON.parse(text) : undefined;
		} catch {
			// HTML (the auth page) or plain text: kept as text.
		}
		return { status: response.status, headers: response.headers, body };
	}
}

const serviceErrorCodes = (body: unknown): string[] => {
	const errors = (body as { serviceErrors?: Array<{ code?: string }>; service_errors?: Array<{ code?: string }> } | undefined) ?? {};
	return [...(errors.serviceErrors ?? []), ...(errors.service_errors ?? [])].map((error) => String(error.code ?? ''));
};

/** What a failed idmsa answer means for the person; 409 and 412 are steps, not failures, and are handled by the caller. */
function idmsaFailure(status: number, body: unknown, step: string): ICloudSignInError {
	const codes = serviceErrorCodes(body);
	if (codes.includes('-20209') || codes.includes('-20283')) return new ICloudSignInError('locked', `Apple has locked the Apple ID (${step})`, { status });
	if (status === 401 || status === 403 || codes.includes('-20101')) return new ICloudSignInError('wrong-password', `Apple refused the Apple ID or password (HTTP ${status} at ${step})`, { status });
	if (status === 503 || status === 429) return new ICloudSignInError('throttled', `Apple is throttling sign-ins (HTTP ${status} at ${step})`, { status });
	return new ICloudSignInError('unexpected', `Apple answered HTTP ${status} at ${step}${codes.length ? ` (service error ${codes.join(', ')})` : ''}`, { status });
}

/** SRP with the saved trust token: 'signed-in', or 'code-needed' with the conversation that asked for it. */
async function srp(options: AppleIdOptions, conversation: IdmsaConversation): Promise<'signed-in' | 'code-needed'> {
	const accountName = options.appleId.trim();
	// The client proof uses the lower-cased Apple ID (R:api/client.go "Apple SRP requires lowercase").
	const proofName = accountName.toLowerCase();
	const client = new SrpClient();
	const init = await conversation.call('/signin/init', { method: 'POST', json: { a: client.publicKey, accountName, protocols: ['s2k', 's2k_fo'] } });
	if (init.status !== 200) throw idmsaFailure(init.status, init.body, 'signin/init');
	const challenge = init.body as { salt?: string; b?: string; iteration?: number; protocol?: string; c?: unknown };
	if (!challenge?.salt || !challenge.b || !challenge.iteration || !challenge.protocol) {
		throw new ICloudSignInError('unexpected', 'Apple sent an incomplete sign-in challenge (signin/init)');
	}
	let proof: { m1: string; m2: string };
	try {
		proof = client.respond(proofName, options.password, { salt: challenge.salt, b: challenge.b, iteration: challenge.iteration, protocol: challenge.protocol });
	} catch (error) {
		throw new ICloudSignInError('unexpected', (error as Error).message);
	}
	const trustTokens = options.saved?.trustToken ? [options.saved.trustToken] : [];
	const complete = await conversation.call('/signin/complete?isRememberMeEnabled=true', {
		method: 'POST',
		json: { accountName, m1: proof.m1, m2: proof.m2, c: challenge.c, rememberMe: true, trustTokens },
	});
	if (complete.status === 409) return 'code-needed';
	if (complete.status === 412) {
		// An account without two-factor authentication: Apple wants the "repair" step acknowledged.
		const repair = await conversation.call('/repair/complete', { method: 'POST', json: {} });
		if (repair.status >= 300) throw idmsaFailure(repair.status, repair.body, 'repair/complete');
		return 'signed-in';
	}
	if (complete.status !== 200) throw idmsaFailure(complete.status, complete.body, 'signin/complete');
	return 'signed-in';
}

const MS_PER_DAY = 86_400_000;
/** How soon after one fresh sign-in another may follow. */
const RENEW_INTERVAL_MS = 30_000;

/** Every run's sign-in: no person present, so a needed code is an error that says how to enter one. */
export async function openSession(options: AppleIdOptions): Promise<ICloudSession> {
	const saved = options.saved;
	if (!saved?.trustToken) throw new ICloudSignInError('code-needed', 'No verification code has been entered for this Apple ID yet');
	if (saved.cookies && Object.keys(saved.cookies).length > 0) {
		const session = await AppleWebSession.resume(options, saved);
		if (session) return session;
	}
	return AppleWebSession.signIn(options);
}

/** The credential dialog's sign-in: signs in with the trust token if Apple still takes it, else asks Apple to send a code. */
export async function beginSignIn(options: AppleIdOptions & { delivery?: 'trusted-device' | 'sms' }): Promise<SignInStart> {
	const conversation = new IdmsaConversation(options);
	const result = await srp(options, conversation);
	if (result === 'signed-in') return { session: await AppleWebSession.login(options, conversation, options.saved?.trustToken ?? '', options.saved?.trustedAt ?? Date.now()) };
	let phoneId: number | undefined;
	const delivery = options.delivery ?? 'trusted-device';
	if (delivery === 'sms') {
		const state = await conversation.call('', { method: 'GET' });
		const phones = trustedPhones(state.body);
		if (phones.length === 0) throw new ICloudSignInError('unexpected', 'Apple lists no trusted phone number for this Apple ID: choose "Trusted Device" for the code');
		phoneId = phones[0].id;
		const sent = await conversation.call('/verify/phone', { method: 'PUT', json: { phoneNumber: { id: phoneId }, mode: phones[0].pushMode ?? 'sms' } });
		if (sent.status >= 300) throw idmsaFailure(sent.status, sent.body, 'verify/phone');
	} else {
		// Since iOS 26.4 Apple no longer pushes a code by itself after the 409: ask for it (R:api/session.go).
		const sent = await conversation.call('/verify/trusteddevice/securitycode', { method: 'PUT' });
		if (sent.status >= 300 && sent.status !== 412) throw idmsaFailure(sent.status, sent.body, 'verify/trusteddevice/securitycode');
	}
	return {
		pending: { appleId: options.appleId, startedAt: Date.now(), delivery, phoneId, headers: { ...conversation.state }, cookies: conversation.cookies.toJSON() },
	};
}

function trustedPhones(body: unknown): Array<{ id: number; pushMode?: string }> {
	const state = (body ?? {}) as {
		trustedPhoneNumbers?: Array<{ id: number; pushMode?: string }>;
		trustedPhoneNumber?: { id: number; pushMode?: string };
		phoneNumberVerification?: { trustedPhoneNumbers?: Array<{ id: number; pushMode?: string }>; trustedPhoneNumber?: { id: number; pushMode?: string } };
	};
	const list = state.trustedPhoneNumbers ?? state.phoneNumberVerification?.trustedPhoneNumbers ?? [];
	const single = state.trustedPhoneNumber ?? state.phoneNumberVerification?.trustedPhoneNumber;
	return list.length > 0 ? list : single ? [single] : [];
}

/** Checks the person's code in the idmsa session that asked for it, gets the trust token, and signs in. */
export async function completeSignIn(pending: PendingSignIn, code: string, options: AppleIdOptions): Promise<ICloudSession> {
	const digits = code.replace(/\s+/g, '');
	if (!/^\d{6}$/.test(digits)) throw new ICloudSignInError('wrong-code', 'The verification code must be the 6 digits Apple sent');
	const conversation = new IdmsaConversation(options, pending);
	const verify =
		pending.delivery === 'sms'
			? await conversation.call('/verify/phone/securitycode', { method: 'POST', json: { securityCode: { code: digits }, phoneNumber: { id: pending.phoneId }, mode: 'sms' } })
			: await conversation.call('/verify/trusteddevice/securitycode', { method: 'POST', json: { securityCode: { code: digits } } });
	// Since mid-2026 a right code can answer 409 with a session token: the token, not the status, says success (R:changelog v1.75.0).
	const accepted = verify.status === 204 || verify.status === 200 || (verify.status === 409 && verify.headers.get('x-apple-session-token'));
	if (!accepted) {
		const codes = serviceErrorCodes(verify.body);
		if (codes.includes('-21669') || verify.status === 400) throw new ICloudSignInError('wrong-code', `Apple refused the verification code (HTTP ${verify.status})`, { status: verify.status });
		if (verify.status === 401 || verify.status === 403) throw new ICloudSignInError('code-expired', `Apple no longer knows the sign-in this code belongs to (HTTP ${verify.status})`, { status: verify.status });
		throw idmsaFailure(verify.status, verify.body, 'verify securitycode');
	}
	const trust = await conversation.call('/2sv/trust', { method: 'GET' });
	if (trust.status >= 300) throw idmsaFailure(trust.status, trust.body, '2sv/trust');
	const trustToken = conversation.state.trustToken;
	if (!trustToken) throw new ICloudSignInError('unexpected', 'Apple accepted the code but sent no trust token');
	return AppleWebSession.login(options, conversation, trustToken, Date.now());
}

interface AccountLogin {
	dsInfo?: { dsid?: string | number; hsaVersion?: number; isWebAccessAllowed?: boolean };
	hsaTrustedBrowser?: boolean;
	hsaChallengeRequired?: boolean;
	termsUpdateNeeded?: boolean;
	webservices?: WebServices;
	domainToUse?: string;
}

/** The web session after accountLogin. */
class AppleWebSession implements ICloudSession {
	dsid = '';
	webservices: WebServices = {};
	private renewing?: Promise<void>;
	private renewedAt = 0;

	private constructor(
		private readonly options: AppleIdOptions,
		private cookies: CookieJar,
		private trustToken: string,
		private readonly trustedAt: number,
		private accountCountry?: string,
	) {}

	private get endpoints(): AppleEndpoints {
		return this.options.endpoints ?? appleEndpoints();
	}

	private get fetch(): typeof fetch {
		return this.options.fetch ?? bufferFetch;
	}

	/** SRP with the trust token, then accountLogin; a needed code is an error (no person here). */
	static async signIn(options: AppleIdOptions): Promise<AppleWebSession> {
		const conversation = new IdmsaConversation(options);
		if ((await srp(options, conversation)) === 'code-needed') {
			const days = options.saved?.trustedAt ? Math.floor((Date.now() - options.saved.trustedAt) / MS_PER_DAY) : undefined;
			throw new ICloudSignInError('code-needed', `Apple asked for a new verification code${days === undefined ? '' : ` (the last one was entered ${days} days ago)`}`);
		}
		return AppleWebSession.login(options, conversation, options.saved?.trustToken ?? '', options.saved?.trustedAt ?? Date.now());
	}

	/** The saved cookies, if setup's validate still takes them. */
	static async resume(options: AppleIdOptions, saved: SavedSession): Promise<AppleWebSession | undefined> {
		const session = new AppleWebSession(options, new CookieJar(saved.cookies), saved.trustToken, saved.trustedAt, saved.accountCountry);
		const response = await session.fetch(`${session.endpoints.setup}/validate`, webRequest(session.cookies, { method: 'POST', body: 'null', contentType: 'text/plain' }));
		session.cookies.absorb(response);
		if (response.status !== 200) {
			await response.arrayBuffer().catch(() => undefined);
			if (response.status === 503) throw new ICloudSignInError('throttled', 'Apple is throttling iCloud (HTTP 503 at validate)', { status: 503 });
			return undefined;
		}
		session.accept((await response.json().catch(() => ({}))) as AccountLogin, 'validate');
		return session;
	}

	static async login(options: AppleIdOptions, conversation: IdmsaConversation, trustToken: string, trustedAt: number): Promise<AppleWebSession> {
		const sessionToken = conversation.state.sessionToken;
		if (!sessionToken) throw new ICloudSignInError('unexpected', 'Apple signed in without a session token');
		const session = new AppleWebSession(options, new CookieJar(), conversation.state.trustToken ?? trustToken, trustedAt, conversation.state.accountCountry);
		const response = await session.fetch(
			`${session.endpoints.setup}/accountLogin`,
			webRequest(session.cookies, {
				method: 'POST',
				json: { accountCountryCode: session.accountCountry ?? '', dsWebAuthToken: sessionToken, extended_login: true, trustToken: session.trustToken },
			}),
		);
		session.cookies.absorb(response);
		const text = await response.text();
		let body: AccountLogin & { error?: string } = {};
		try {
			body = text ? (JSON.parse(text) as AccountLogin) : {};
		} catch {
			// An HTML error page: the status alone decides below.
		}
		if (response.status === 302 || response.status === 330 || body.domainToUse) {
			throw new ICloudSignInError('region', `Apple says this Apple ID must use ${body.domainToUse ?? 'the other iCloud region'}`, { status: response.status });
		}
		if (response.status === 503 || response.status === 429) throw new ICloudSignInError('throttled', `Apple is throttling iCloud (HTTP ${response.status} at accountLogin)`, { status: response.status });
		if (response.status !== 200) throw new ICloudSignInError('unexpected', `Apple refused the web sign-in (HTTP ${response.status} at accountLogin)`, { status: response.status });
		session.accept(body, 'accountLogin');
		return session;
	}

	/** Reads accountLogin's shape, refusing the account states a person must fix. */
	private accept(body: AccountLogin, step: string): void {
		if (body.dsInfo?.isWebAccessAllowed === false) throw new ICloudSignInError('web-access-off', `"Access iCloud Data on the Web" is off (${step})`);
		if (body.termsUpdateNeeded) throw new ICloudSignInError('terms', `Apple asks to accept new iCloud terms (${step})`);
		if (body.dsInfo?.hsaVersion === 2 && body.hsaChallengeRequired && !body.hsaTrustedBrowser) {
			throw new ICloudSignInError('code-needed', `Apple still asks for a verification code (${step})`);
		}
		if (!body.dsInfo?.dsid || !body.webservices) throw new ICloudSignInError('unexpected', `Apple's ${step} answer has no account`);
		this.dsid = String(body.dsInfo.dsid);
		this.webservices = body.webservices;
	}

	serviceUrl(key: string): string {
		const service = this.webservices[key];
		if (!service?.url || (service.status && service.status !== 'active')) {
			throw new ICloudSignInError('service-unavailable', `This Apple ID has no active "${key}" web service`);
		}
		return service.url.replace(/:443(?=\/|$)/, '').replace(/\/+$/, '');
	}

	async request(url: string, init: ICloudRequestInit = {}): Promise<Response> {
		const send = () => this.fetch(url, webRequest(this.cookies, init));
		let response = await send();
		this.cookies.absorb(response);
		// At most one fresh sign-in per RENEW_INTERVAL_MS: a session Apple ends again at once is Apple throttling, and more sign-ins make it worse.
		if (SESSION_ENDED.has(response.status) && (this.renewing || Date.now() - this.renewedAt > RENEW_INTERVAL_MS)) {
			await response.arrayBuffer().catch(() => undefined);
			await this.renew();
			// A streamed body cannot be sent twice: its caller's retry (the pacer) sends it again on the new session.
			if (init.streamed) return response;
			response = await send();
			this.cookies.absorb(response);
		}
		return response;
	}

	/** One fresh sign-in (trust token, no person) shared by every call that met the ended session. */
	renew(): Promise<void> {
		if (!this.renewing) {
			this.renewing = AppleWebSession.signIn({ ...this.options, saved: this.saved() })
				.then((fresh) => {
					this.renewedAt = Date.now();
					this.cookies = fresh.cookies;
					this.trustToken = fresh.trustToken;
					this.webservices = fresh.webservices;
					this.dsid = fresh.dsid;
				})
				.finally(() => (this.renewing = undefined));
		}
		return this.renewing;
	}

	async requestPcs(appName: string): Promise<void> {
		const wait = this.options.pcsWait ?? { attempts: 30, intervalMs: 10_000 };
		for (let attempt = 0; attempt < wait.attempts; attempt++) {
			const response = await this.request(`${this.endpoints.setup}/requestPCS`, { method: 'POST', json: { appName, derivedFromUserAction: attempt === 0 } });
			const body = (await response.json().catch(() => ({}))) as { status?: string; message?: string };
			if (response.status === 200 && body.status === 'success') return;
			if (response.status === 500) throw new ICloudSignInError('terms', 'Apple refused to hand over the encryption cookies (HTTP 500 at requestPCS), which it does while new terms wait', { status: 500 });
			if (response.status === 503) throw new ICloudSignInError('throttled', 'Apple is throttling iCloud (HTTP 503 at requestPCS)', { status: 503 });
			await new Promise((resolve) => setTimeout(resolve, wait.intervalMs));
		}
		throw new ICloudSignInError('advanced-data-protection', `No device handed over the encryption cookies for ${appName} in time`);
	}

	secrets(): string[] {
		return [this.options.password, this.trustToken, ...this.cookies.values.values()].filter((secret) => secret.length > 0);
	}

	saved(): SavedSession {
		return { trustToken: this.trustToken, trustedAt: this.trustedAt, cookies: this.cookies.toJSON(), accountCountry: this.accountCountry };
	}
}

/** How many days are left of Apple's trust, for warnings before runs start failing. */
export const trustDaysLeft = (saved: SavedSession | undefined, now = Date.now()) =>
	saved?.trustedAt ? TRUST_DAYS - Math.floor((now - saved.trustedAt) / MS_PER_DAY) : 0;

