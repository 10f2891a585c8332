import { randomBytes, randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { derivePassword, passwordExponent, toBigInt, toBytes, verifierFor } from '../../lib/providers/icloud/srp';
import { SrpServer } from './srpServer';
import { readBody, sendJson, type FaultRule } from './core/server';

/**
 * Apple's sign-in (idmsa `/appleauth/auth`) and iCloud setup (`/setup/ws/1`) as the iCloud web client
 * meets them, after shared/reference/icloud-and-google-photos.md §1. It is a part, not a server: an
 * iCloud emulator (Drive, Photos) mounts it on its EmulatorServer with `handle`, names its own web
 * services, and asks `authorize` before serving a web-service call.
 *
 * The server side of SRP-6a is real (a verifier per user, M1 checked in both byte variants, M2 sent
 * back), so a wrong password fails as at Apple. Two-factor: a 409 after SRP unless a trust token Apple
 * issued less than `trustDays` ago comes with it; codes are asked for with PUT and checked in the same
 * idmsa session (scnt + X-Apple-ID-Session-Id); the code sent is readable by tests (`lastCode`). A
 * right code answers 204, or (`codeAcceptedAs409`) the 2026 variant 409 + X-Apple-Session-Token.
 *
 * Account states a person must fix: `webAccessOff`, `advancedDataProtection` (requestPCS keeps
 * answering "Requested the device to upload cookies." until `approvePcs`; ws calls without PCS
 * cookies get 423), `termsPending` (accountLogin says termsUpdateNeeded; requestPCS 500), `locked`,
 * `otherRegion` (accountLogin 302 domainToUse). Status faults (`failWith`): any status on any route,
 * with Retry-After (421, 450, 423, 503 throttling).
 *
 * Not emulated: the HSA2 push-bridge, the federate step's effects, China's hosts, cookie lifetimes
 * other than the web session's.
 */

export interface AppleUser {
	appleId: string;
	password: string;
	dsid: string;
	protocol?: 's2k' | 's2k_fo';
	/** Accounts without two-factor get 412 and the repair step instead of a code. */
	twoFactor?: boolean;
	webAccessOff?: boolean;
	advancedDataProtection?: boolean;
	termsPending?: boolean;
	locked?: boolean;
	otherRegion?: boolean;
}

interface Account extends Required<Pick<AppleUser, 'appleId' | 'password' | 'dsid'>> {
	user: AppleUser;
	salt: Buffer;
	iterations: number;
	verifier: bigint;
	pcsApproved: boolean;
}

interface IdmsaSession {
	account?: Account;
	/** 'code' once SRP needed a code; 'verified' after the right code; 'trusted' after 2sv/trust. */
	stage: 'srp' | 'code' | 'verified' | 'trusted';
	srp?: { server: SrpServer; A: bigint; c: string };
	codeSent?: string;
}

export interface StatusFault {
	/** Matched against "METHOD /path". */
	route: RegExp;
	status: number;
	times?: number;
	retryAfterSeconds?: number;
	body?: unknown;
}

const MS_PER_DAY = 86_400_000;
const token = () => randomBytes(24).toString('base64url');
/** Salts without a leading zero byte, so both SRP byte variants derive the same verifier (reference 1.3). */
const salt = () => {
	const bytes = randomBytes(16);
	bytes[0] |= 0x80;
	return bytes;
};

export class AppleAuthEmulator {
	/** Days a trust token works; Apple's is about 30. */
	trustDays = 30;
	/** Send a right code's success as 409 with a session token (Apple since mid-2026). */
	codeAcceptedAs409 = false;
	/** How the services an emulator offers are named in accountLogin's webservices, relative to the base URL. */
	services: Record<string, string> = {};
	/** Codes sent per Apple ID (tests read the last one as the person would on their phone). */
	readonly codesSent = new Map<string, string[]>();
	/** Called with each code as Apple would show it on the person's devices (the demo prints it). */
	onCodeSent?: (appleId: string, code: string) => void;
	/** Sign-ins that reached signin/complete, per Apple ID. */
	readonly signIns = new Map<string, number>();
	private readonly accounts = new Map<string, Account>();
	private readonly idmsa = new Map<string, IdmsaSession>();
	private readonly sessionTokens = new Map<string, { account: Account; trusted: boolean }>();
	private readonly trustTokens = new Map<string, { account: Account; issuedAt: number }>();
	private readonly webSessions = new Map<string, { account: Account; expiresAt: number }>();
	private readonly statusFaults: Array<StatusFault & { used: number }> = [];
	private readonly usedSessionTokens: string[] = [];
	private clockOffset = 0;
	/** How long a web session (X-APPLE-WEBAUTH-TOKEN) lasts before ws calls answer 421. */
	webSessionMs = 60 * 60_000;

	constructor(readonly baseUrl: () => string) {}

	now(): number {
		return Date.now() + this.clockOffset;
	}

	/** Moves the emulator's clock, to let trust tokens and web sessions run out. */
	advance(ms: number): void {
		this.clockOffset += ms;
	}

	addUser(user: AppleUser): void {
		const protocol = user.protocol ?? 's2k';
		const saltBytes = salt();
		const iterations = 1000 + randomInt(100);
		const verifier = verifierFor(passwordExponent(saltBytes, derivePassword(user.password, protocol, saltBytes, iterations)));
		this.accounts.set(user.appleId.toLowerCase(), { appleId: user.appleId, password: user.password, dsid: user.dsid, user: { ...user }, salt: saltBytes, iterations, verifier, pcsApproved: false });
	}

	user(appleId: string): AppleUser {
		const account = this.accounts.get(appleId.toLowerCase());
		if (!account) throw new Error(`no user ${appleId}`);
		return account.user;
	}

	/** The code Apple last sent this Apple ID, as the person reads it on a device. */
	lastCode(appleId: string): string | undefined {
		return this.codesSent.get(appleId.toLowerCase())?.at(-1);
	}

	/** A device approves the web session's request for the encryption (PCS) cookies. */
	approvePcs(appleId: string): void {
		this.accounts.get(appleId.toLowerCase())!.pcsApproved = true;
	}

	/** Ends every web session (as Apple does after an hour or so), so the next ws call gets 421. */
	endWebSessions(): void {
		this.webSessions.clear();
	}

	/** Apple forgets every trust token: the next sign-in needs a code. */
	revokeTrust(): void {
		this.trustTokens.clear();
	}

	/** Every code, session token, trust token and web-session cookie handed out: what must never appear in a log or output. */
	secrets(): string[] {
		return [...[...this.codesSent.values()].flat(), ...this.sessionTokens.keys(), ...this.usedSessionTokens, ...this.trustTokens.keys(), ...this.webSessions.keys()];
	}

	failWith(fault: StatusFault): void {
		this.statusFaults.push({ ...fault, used: 0 });
	}

	clearStatusFaults(): void {
		this.statusFaults.length = 0;
	}

	/** Answers a matching status fault; true when one was sent. Emulators call it first for every request. */
	statusFault(signature: string, response: ServerResponse): boolean {
		const fault = this.statusFaults.find((rule) => rule.route.test(signature) && (rule.times === undefined || rule.used < rule.times));
		if (!fault) return false;
		fault.used++;
		const headers: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
		const bodies: Record<number, unknown> = {
			421: { reason: 'Missing X-APPLE-WEBAUTH-TOKEN cookie', error: 1 },
			423: { requestUUID: token(), errorReason: 'Missing PCS cookies from the request', errorCode: 423 },
			450: { reason: 'Authentication required', error: 450 },
			503: { error: 'Service Temporarily Unavailable' },
		};
		sendJson(response, fault.status, fault.body ?? bodies[fault.status] ?? { error: `HTTP ${fault.status}` }, headers);
		return true;
	}

	/** How the core's generic faults look at Apple: 429 / 503 with Retry-After, a 500. */
	static renderFault(fault: FaultRule, response: ServerResponse): void {
		const retry = { 'retry-after': String(fault.retryAfterSeconds ?? 1) };
		if (fault.kind === 'rate-limit') sendJson(response, 429, { error: 'Too Many Requests' }, retry);
		else if (fault.kind === 'server-error') sendJson(response, 500, { error: 'Internal Server Error' });
		else sendJson(response, 503, { error: 'Service Temporarily Unavailable' }, retry);
	}

	/** Handles idmsa and setup routes; false for any other path. */
	async handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean> {
		const path = url.pathname;
		if (path.startsWith('/appleauth/auth')) {
			await this.idmsaRoute(request, response, path.slice('/appleauth/auth'.length), url);
			return true;
		}
		if (path.startsWith('/setup/ws/1/')) {
			await this.setupRoute(request, response, path.slice('/setup/ws/1'.length));
			return true;
		}
		return false;
	}

	/**
	 * The account a web-service call belongs to, or undefined after answering it as Apple does: 421
	 * without a live session cookie, 423 without PCS cookies under Advanced Data Protection.
	 */
	authorize(request: IncomingMessage, response: ServerResponse, options: { pcs?: string } = {}): Account | undefined {
		const cookies = parseCookies(request.headers.cookie);
		const session = this.webSessions.get(cookies['X-APPLE-WEBAUTH-TOKEN'] ?? '');
		if (!session || session.expiresAt < this.now()) {
			sendJson(response, 421, { reason: 'Missing X-APPLE-WEBAUTH-TOKEN cookie', error: 1 });
			return undefined;
		}
		if (session.account.user.webAccessOff) {
			sendJson(response, 403, { errorCode: 'ACCESS_DENIED', reason: 'private db access disabled for this account' });
			return undefined;
		}
		if (options.pcs && session.account.user.advancedDataProtection && !cookies[`X-APPLE-WEBAUTH-PCS-${options.pcs}`]) {
			sendJson(response, 423, { requestUUID: token(), errorReason: 'Missing PCS cookies from the request', errorCode: 423 });
			return undefined;
		}
		return session.account;
	}

	// -----------------------------------------------------------------------------------------
	// idmsa

	private idmsaHeaders(sessionId: string, extra: Record<string, string> = {}): Record<string, string> {
		return { scnt: `scnt-${sessionId}`, 'x-apple-id-session-id': sessionId, 'x-apple-auth-attributes': 'attrs', 'set-cookie': `aasp=${sessionId}; Path=/; HttpOnly`, ...extra };
	}

	private conversation(request: IncomingMessage): [string, IdmsaSession] | undefined {
		const id = String(request.headers['x-apple-id-session-id'] ?? '');
		const session = this.idmsa.get(id);
		// Apple ties each step to the scnt it handed out with the session.
		if (!session || request.headers.scnt !== `scnt-${id}`) return undefined;
		return [id, session];
	}

	private async idmsaRoute(request: IncomingMessage, response: ServerResponse, route: string, url: URL): Promise<void> {
		const raw = await readBody(request);
		const body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
		const method = request.method ?? 'GET';
		if (request.headers['x-apple-widget-key'] === undefined) {
			sendJson(response, 400, { serviceErrors: [{ code: '-20000', message: 'Missing widget key' }] });
			return;
		}
		if (method === 'GET' && route === '/authorize/signin') {
			const id = token();
			this.idmsa.set(id, { stage: 'srp' });
			response.writeHead(200, { 'content-type': 'text/html', ...this.idmsaHeaders(id) });
			response.end('<html></html>');
			return;
		}
		if (method === 'POST' && route === '/signin/init') {
			const account = this.accounts.get(String(body.accountName ?? '').trim().toLowerCase());
			const protocols = (body.protocols as string[] | undefined) ?? [];
			const existing = this.conversation(request);
			const id = existing?.[0] ?? token();
			// An unknown Apple ID gets a challenge too (Apple does not say which half was wrong); its proof can never match.
			const verifier = account?.verifier ?? toBigInt(randomBytes(64));
			const server = new SrpServer(verifier);
			const c = token();
			const protocol = account?.user.protocol ?? 's2k';
			if (!protocols.includes(protocol)) {
				sendJson(response, 400, { serviceErrors: [{ code: '-20001', message: 'Unsupported protocol' }] });
				return;
			}
			this.idmsa.set(id, { account, stage: 'srp', srp: { server, A: toBigInt(Buffer.from(String(body.a ?? ''), 'base64')), c } });
			sendJson(
				response,
				200,
				{ iteration: account?.iterations ?? 1000, salt: (account?.salt ?? salt()).toString('base64'), protocol, b: toBytes(server.B, 256).toString('base64'), c, version: 1 },
				this.idmsaHeaders(id),
			);
			return;
		}
		if (method === 'POST' && route === '/signin/complete') {
			await this.signinComplete(request, response, body, url);
			return;
		}
		const conversation = this.conversation(request);
		if (!conversation) {
			sendJson(response, 401, { serviceErrors: [{ code: '-20101', message: 'Your session has expired.' }] });
			return;
		}
		const [id, session] = conversation;
		const account = session.account!;
		if (method === 'POST' && route === '/repair/complete') {
			sendJson(response, 200, {}, this.idmsaHeaders(id));
			return;
		}
		if (method === 'GET' && route === '') {
			sendJson(
				response,
				200,
				{ trustedPhoneNumbers: [{ id: 1, numberWithDialCode: '+1 (•••) •••-••42', obfuscatedNumber: '(•••) •••-••42', pushMode: 'sms' }], securityCode: { length: 6 } },
				this.idmsaHeaders(id),
			);
			return;
		}
		if (method === 'PUT' && (route === '/verify/trusteddevice/securitycode' || route === '/verify/phone')) {
			if (session.stage !== 'code') {
				sendJson(response, 400, { serviceErrors: [{ code: '-22000', message: 'No verification pending' }] });
				return;
			}
			session.codeSent = String(randomInt(1_000_000)).padStart(6, '0');
			const key = account.appleId.toLowerCase();
			this.codesSent.set(key, [...(this.codesSent.get(key) ?? []), session.codeSent]);
			this.onCodeSent?.(account.appleId, session.codeSent);
			sendJson(response, route === '/verify/phone' ? 200 : 202, { securityCode: { length: 6 } }, this.idmsaHeaders(id));
			return;
		}
		if (method === 'POST' && (route === '/verify/trusteddevice/securitycode' || route === '/verify/phone/securitycode')) {
			const code = String((body.securityCode as { code?: string } | undefined)?.code ?? '');
			if (session.stage !== 'code' || !session.codeSent || code !== session.codeSent) {
				sendJson(response, 400, { serviceErrors: [{ code: '-21669', message: 'Incorrect verification code.', suppressDismissal: false }], hasError: true }, this.idmsaHeaders(id));
				return;
			}
			session.stage = 'verified';
			const sessionToken = token();
			this.sessionTokens.set(sessionToken, { account, trusted: false });
			const headers = this.idmsaHeaders(id, { 'x-apple-session-token': sessionToken });
			if (this.codeAcceptedAs409) sendJson(response, 409, { securityCode: { valid: true } }, headers);
			else {
				response.writeHead(204, headers);
				response.end();
			}
			return;
		}
		if (method === 'GET' && route === '/2sv/trust') {
			if (session.stage !== 'verified') {
				sendJson(response, 401, { serviceErrors: [{ code: '-20101', message: 'Not verified' }] });
				return;
			}
			session.stage = 'trusted';
			const trustToken = `HSARMTKNSRVXWFla${token()}`;
			this.trustTokens.set(trustToken, { account, issuedAt: this.now() });
			const sessionToken = token();
			this.sessionTokens.set(sessionToken, { account, trusted: true });
			response.writeHead(204, this.idmsaHeaders(id, { 'x-apple-twosv-trust-token': trustToken, 'x-apple-session-token': sessionToken }));
			response.end();
			return;
		}
		sendJson(response, 404, { serviceErrors: [{ code: '-404', message: `No route ${method} ${route}` }] });
	}

	private async signinComplete(request: IncomingMessage, response: ServerResponse, body: Record<string, unknown>, url: URL): Promise<void> {
		const conversation = this.conversation(request);
		const session = conversation?.[1];
		if (!conversation || !session?.srp || session.srp.c !== body.c) {
			sendJson(response, 400, { serviceErrors: [{ code: '-20000', message: 'Invalid sign-in state' }] });
			return;
		}
		const [id] = conversation;
		const account = session.account;
		const name = String(body.accountName ?? '').trim();
		if (account) this.signIns.set(account.appleId.toLowerCase(), (this.signIns.get(account.appleId.toLowerCase()) ?? 0) + 1);
		const m2 = account ? session.srp.server.verify(name.toLowerCase(), account.salt, session.srp.A, Buffer.from(String(body.m1 ?? ''), 'base64')) : undefined;
		session.srp = undefined;
		if (!account || !m2) {
			sendJson(response, 401, { serviceErrors: [{ code: '-20101', message: 'Your Apple ID or password was incorrect.', suppressDismissal: false }] }, { ...this.idmsaHeaders(id), 'x-apple-i-rscd': '401' });
			return;
		}
		if (account.user.locked) {
			sendJson(response, 403, { serviceErrors: [{ code: '-20209', message: 'This Apple ID has been locked for security reasons.' }] }, this.idmsaHeaders(id));
			return;
		}
		const sessionToken = token();
		const headers = this.idmsaHeaders(id, { 'x-apple-session-token': sessionToken, 'x-apple-id-account-country': 'USA', 'x-apple-twosv-trust-eligible': 'true' });
		if (account.user.twoFactor === false) {
			this.sessionTokens.set(sessionToken, { account, trusted: true });
			sendJson(response, 412, { authType: 'non-sa' }, headers);
			return;
		}
		const trusted = ((body.trustTokens as string[] | undefined) ?? []).some((candidate) => {
			const trust = this.trustTokens.get(candidate);
			return trust?.account === account && this.now() - trust.issuedAt < this.trustDays * MS_PER_DAY;
		});
		this.sessionTokens.set(sessionToken, { account, trusted });
		if (trusted) {
			session.stage = 'trusted';
			sendJson(response, 200, { authType: 'hsa2' }, headers);
			return;
		}
		session.stage = 'code';
		void url;
		sendJson(response, 409, { authType: 'hsa2' }, headers);
	}

	// -----------------------------------------------------------------------------------------
	// setup

	private accountBody(account: Account, trusted: boolean): Record<string, unknown> {
		const base = this.baseUrl();
		const webservices: Record<string, unknown> = {};
		for (const [key, path] of Object.entries(this.services)) {
			webservices[key] = { url: `${base}${path}`, status: 'active', ...(account.user.advancedDataProtection ? { pcsRequired: true } : {}) };
		}
		return {
			dsInfo: { dsid: account.dsid, hsaVersion: account.user.twoFactor === false ? 0 : 2, isWebAccessAllowed: !account.user.webAccessOff, appleId: account.appleId },
			hsaTrustedBrowser: trusted,
			hsaChallengeRequired: !trusted,
			termsUpdateNeeded: Boolean(account.user.termsPending),
			webservices,
		};
	}

	private async setupRoute(request: IncomingMessage, response: ServerResponse, route: string): Promise<void> {
		const raw = (await readBody(request)).toString('utf8');
		const body = raw && raw !== 'null' ? (JSON.parse(raw) as Record<string, unknown>) : {};
		if (route === '/accountLogin') {
			const session = this.sessionTokens.get(String(body.dsWebAuthToken ?? ''));
			if (!session) {
				sendJson(response, 400, { success: false, error: 'Invalid Session Token' });
				return;
			}
			this.sessionTokens.delete(String(body.dsWebAuthToken));
			this.usedSessionTokens.push(String(body.dsWebAuthToken));
			const { account } = session;
			if (account.user.otherRegion) {
				sendJson(response, 302, { domainToUse: 'iCloud.com.cn' });
				return;
			}
			const cookies: string[] = [];
			if (session.trusted && !account.user.webAccessOff) {
				const web = token();
				this.webSessions.set(web, { account, expiresAt: this.now() + this.webSessionMs });
				cookies.push(`X-APPLE-WEBAUTH-TOKEN=${web}; Domain=.icloud.com; Path=/; Secure; HttpOnly`, `X-APPLE-WEBAUTH-USER="v=1:s=0:d=${account.dsid}"; Domain=.icloud.com; Path=/; Secure`);
			}
			sendJson(response, 200, this.accountBody(account, session.trusted), cookies.length ? { 'set-cookie': cookies as unknown as string } : {});
			return;
		}
		const cookies = parseCookies(request.headers.cookie);
		const web = this.webSessions.get(cookies['X-APPLE-WEBAUTH-TOKEN'] ?? '');
		if (!web || web.expiresAt < this.now()) {
			sendJson(response, 421, { reason: 'Missing X-APPLE-WEBAUTH-TOKEN cookie', error: 1 });
			return;
		}
		if (route === '/validate') {
			sendJson(response, 200, this.accountBody(web.account, true));
			return;
		}
		if (route === '/requestPCS') {
			if (web.account.user.termsPending) {
				sendJson(response, 500, { status: 'failure', message: 'Internal error' });
				return;
			}
			if (!web.account.user.advancedDataProtection || web.account.pcsApproved) {
				const app = body.appName === 'photos' ? ['Photos', 'Sharing'] : ['Documents'];
				sendJson(
					response,
					200,
					{ status: 'success', message: 'Cookies attached.' },
					{ 'set-cookie': app.map((name) => `X-APPLE-WEBAUTH-PCS-${name}=${token()}; Domain=.icloud.com; Path=/`) as unknown as string },
				);
				return;
			}
			sendJson(response, 200, { status: 'failure', message: body.derivedFromUserAction ? 'Requested the device to upload cookies.' : 'Cookies not available yet on server.' });
			return;
		}
		sendJson(response, 404, { error: `No route ${route}` });
	}
}

export function parseCookies(header: string | undefined): Record<string, string> {
	const cookies: Record<string, string> = {};
	for (const part of (header ?? '').split(';')) {
		const at = part.indexOf('=');
		if (at > 0) cookies[part.slice(0, at).trim()] = part.slice(at + 1).trim();
	}
	return cookies;
}
