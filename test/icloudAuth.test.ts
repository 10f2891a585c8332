import { randomBytes } from 'node:crypto';
import { appleEndpoints, beginSignIn, completeSignIn, ICloudSignInError, openSession, type AppleIdOptions } from '../lib/providers/icloud/auth';
import { derivePassword, passwordExponent, SrpClient, toBytes, verifierFor } from '../lib/providers/icloud/srp';
import { SrpServer } from './emulators/srpServer';
import type { EmulatorServer } from './emulators/core/server';
import type { AppleAuthEmulator } from './emulators/icloudAuth';
import { APPLE_USER, startAppleAuth, trustedSession } from './support/icloud';

const DAY = 86_400_000;

describe('SRP-6a as Apple speaks it', () => {
	it.each(['s2k', 's2k_fo'])('the server accepts the right password and refuses a wrong one (%s)', (protocol) => {
		const salt = randomBytes(16);
		salt[0] |= 0x80;
		const verifier = verifierFor(passwordExponent(salt, derivePassword('right', protocol, salt, 1234)));
		for (const [password, accepted] of [['right', true], ['wrong', false]] as const) {
			const server = new SrpServer(verifier);
			const client = new SrpClient();
			const proof = client.respond('me@example.com', password, { salt: salt.toString('base64'), b: toBytes(server.B, 256).toString('base64'), iteration: 1234, protocol });
			const m2 = server.verify('me@example.com', salt, client.A, Buffer.from(proof.m1, 'base64'));
			expect(m2 !== undefined).toBe(accepted);
			if (m2) expect(m2.toString('base64')).toBe(proof.m2);
		}
	});

	it('the two password derivations differ, so the protocol Apple names matters', () => {
		const salt = Buffer.from('salt');
		expect(derivePassword('pw', 's2k', salt, 10).equals(derivePassword('pw', 's2k_fo', salt, 10))).toBe(false);
		expect(() => derivePassword('pw', 'md5', salt, 10)).toThrow(/unknown password protocol/);
	});
});

describe('Apple ID sign-in against the emulator', () => {
	let server: EmulatorServer;
	let auth: AppleAuthEmulator;
	let options: AppleIdOptions;

	beforeEach(async () => {
		({ server, auth } = await startAppleAuth());
		auth.services = { drivews: '/drivews', docws: '/docws', ckdatabasews: '/ckdatabasews' };
		options = { appleId: APPLE_USER.appleId, password: APPLE_USER.password, endpoints: appleEndpoints(server.baseUrl) };
	});
	afterEach(() => server.stop());

	it('the first sign-in asks Apple for a code; the code completes it and gives a trust token and the web services', async () => {
		const started = await beginSignIn(options);
		expect('pending' in started).toBe(true);
		if (!('pending' in started)) return;
		expect(auth.codesSent.get(APPLE_USER.appleId.toLowerCase())).toHaveLength(1);
		const session = await completeSignIn(started.pending, auth.lastCode(APPLE_USER.appleId)!, options);
		expect(session.dsid).toBe(APPLE_USER.dsid);
		expect(session.serviceUrl('drivews')).toBe(`${server.baseUrl}/drivews`);
		expect(session.saved().trustToken).toMatch(/^HSARMTKN/);
	});

	it('later runs sign in with the trust token and never ask for a code', async () => {
		const saved = await trustedSession(auth, server.baseUrl);
		const sent = auth.codesSent.get(APPLE_USER.appleId.toLowerCase())!.length;
		// No cookies kept: a full SRP sign-in with the trust token.
		const session = await openSession({ ...options, saved: { trustToken: saved.trustToken, trustedAt: saved.trustedAt } });
		expect(session.dsid).toBe(APPLE_USER.dsid);
		// Kept cookies: setup/validate alone, no sign-in.
		const signIns = auth.signIns.get(APPLE_USER.appleId.toLowerCase());
		await openSession({ ...options, saved });
		expect(auth.signIns.get(APPLE_USER.appleId.toLowerCase())).toBe(signIns);
		expect(auth.codesSent.get(APPLE_USER.appleId.toLowerCase())).toHaveLength(sent);
	});

	it('a 2026-style 409 that carries a session token is a right code', async () => {
		auth.codeAcceptedAs409 = true;
		const saved = await trustedSession(auth, server.baseUrl);
		expect(saved.trustToken).toBeTruthy();
	});

	it('the code can come by SMS', async () => {
		const started = await beginSignIn({ ...options, delivery: 'sms' });
		if (!('pending' in started)) throw new Error('expected a code');
		expect(started.pending.delivery).toBe('sms');
		await expect(completeSignIn(started.pending, auth.lastCode(APPLE_USER.appleId)!, options)).resolves.toBeDefined();
	});

	it('when the trust has run out, a run stops with what to do and Apple sends no code', async () => {
		const saved = await trustedSession(auth, server.baseUrl);
		auth.advance(31 * DAY);
		const sent = auth.codesSent.get(APPLE_USER.appleId.toLowerCase())!.length;
		const error = await openSession({ ...options, saved: { ...saved, cookies: undefined } }).catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(ICloudSignInError);
		expect((error as ICloudSignInError).kind).toBe('code-needed');
		expect((error as ICloudSignInError).hint).toMatch(/Verification Code.*Save/);
		expect(auth.codesSent.get(APPLE_USER.appleId.toLowerCase())).toHaveLength(sent);
	});

	it('a run without a trust token at all asks for the code to be entered', async () => {
		await expect(openSession(options)).rejects.toMatchObject({ kind: 'code-needed' });
	});

	it('a wrong password fails as at Apple (the proof does not match) and says what to check', async () => {
		const error = (await beginSignIn({ ...options, password: 'wrong' }).catch((caught: unknown) => caught)) as ICloudSignInError;
		expect(error.kind).toBe('wrong-password');
		expect(error.hint).toMatch(/password/);
		expect(auth.codesSent.size).toBe(0);
	});

	it('a wrong code is refused with its hint, and the right one still works after it', async () => {
		const started = await beginSignIn(options);
		if (!('pending' in started)) throw new Error('expected a code');
		const right = auth.lastCode(APPLE_USER.appleId)!;
		const wrong = right === '000000' ? '111111' : '000000';
		await expect(completeSignIn(started.pending, wrong, options)).rejects.toMatchObject({ kind: 'wrong-code' });
		await expect(completeSignIn(started.pending, 'abc', options)).rejects.toMatchObject({ kind: 'wrong-code' });
		await expect(completeSignIn(started.pending, right, options)).resolves.toBeDefined();
	});

	it.each([
		['webAccessOff', 'web-access-off', /Access iCloud Data on the Web/],
		['termsPending', 'terms', /accept/],
		['otherRegion', 'region', /region/],
		['locked', 'locked', /iforgot/],
	] as const)('an account with %s stops the sign-in with kind %s', async (flag, kind, hint) => {
		Object.assign(auth.user(APPLE_USER.appleId), { [flag]: true });
		const error = (await trustedSession(auth, server.baseUrl).catch((caught: unknown) => caught)) as ICloudSignInError;
		expect(error).toBeInstanceOf(ICloudSignInError);
		expect(error.kind).toBe(kind);
		expect(error.hint).toMatch(hint);
	});

	it('Advanced Data Protection: the PCS request waits for a device, then works; without approval it stops with the hint', async () => {
		auth.user(APPLE_USER.appleId).advancedDataProtection = true;
		const saved = await trustedSession(auth, server.baseUrl);
		const session = await openSession({ ...options, saved, pcsWait: { attempts: 3, intervalMs: 5 } });
		expect(session.webservices.drivews?.pcsRequired).toBe(true);
		await expect(session.requestPcs('iclouddrive')).rejects.toMatchObject({ kind: 'advanced-data-protection', hint: expect.stringMatching(/Advanced Data Protection/) });
		auth.approvePcs(APPLE_USER.appleId);
		await expect(session.requestPcs('iclouddrive')).resolves.toBeUndefined();
	});

	it('a throttled sign-in (503) stops at once with "wait"', async () => {
		auth.failWith({ route: /signin\/init/, status: 503 });
		await expect(beginSignIn(options)).rejects.toMatchObject({ kind: 'throttled', hint: expect.stringMatching(/Wait/) });
	});

	it('an ended web session (421) is renewed once with the trust token, without a person', async () => {
		const saved = await trustedSession(auth, server.baseUrl);
		const session = await openSession({ ...options, saved });
		auth.endWebSessions();
		const response = await session.request(`${server.baseUrl}/setup/ws/1/validate`, { method: 'POST', body: 'null' });
		expect(response.status).toBe(200);
	});

	it('no error message carries the password, a code, the trust token or a cookie', async () => {
		const saved = await trustedSession(auth, server.baseUrl);
		const session = await openSession({ ...options, saved });
		const secrets = [APPLE_USER.password, ...session.secrets(), auth.lastCode(APPLE_USER.appleId)!];
		auth.advance(31 * DAY);
		auth.endWebSessions();
		const errors = await Promise.all([
			openSession({ ...options, saved: { ...saved, cookies: undefined } }).catch((caught: Error) => caught),
			beginSignIn({ ...options, password: 'wrong' }).catch((caught: Error) => caught),
			session.request(`${server.baseUrl}/setup/ws/1/validate`, { method: 'POST' }).catch((caught: Error) => caught),
		]);
		for (const error of errors) {
			const text = JSON.stringify({ message: (error as Error).message, hint: (error as ICloudSignInError).hint, stack: (error as Error).stack });
			for (const secret of secrets) expect(text).not.toContain(secret);
		}
	});
});
