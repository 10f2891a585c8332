import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * SRP-6a as Apple's idmsa speaks it ("GSA" mode): RFC 5054's 2048-bit group, g = 2, SHA-256, the
 * user name left out of x, and the password first stretched by PBKDF2 (`s2k` / `s2k_fo`).
 * Written on node:crypto alone (BigInt for the group arithmetic): see the README for why no library.
 * The server's half, which the emulator needs to check proofs for real, is test/emulators/srpServer.ts.
 */

const N_HEX =
	'AC6BDB41324A9A9BF166DE5E1389582FAF72B6651987EE07FC3192943DB56050A37329CBB4A099ED8193E0757767A13DD52312AB4B03310DCD7F48A9DA04FD50' +
	'E8083969EDB767B0CF6095179A163AB3661A05FBD5FAAAE82918A9962F0B93B855F97993EC975EEAA80D740ADBF4FF747359D041D5C33EA71D281E446B14773B' +
	'CA97B43A23FB801676BD207A436C6481F1D2B9078717461A5B9D32E688F87748544523B524B0D57D5EA77A2775D2ECFA032CFBDBF52FB3786160279004E57AE6' +
	'AF874E7303CE53299CCC041C7BC308D82A5698F3A8D0C38271AE35F8E9DBFBB694B5C803D89F7AE435DE236D525F54759B65E372FCD68EF20FA7111F9E4AFF73';
export const N = BigInt(`0x${N_HEX}`);
export const g = 2n;
const LENGTH = 256;

export type PasswordProtocol = 's2k' | 's2k_fo';

const sha256 = (...parts: Buffer[]) => {
	const hash = createHash('sha256');
	for (const part of parts) hash.update(part);
	return hash.digest();
};

export const toBigInt = (bytes: Buffer) => (bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`));

/** Big-endian bytes, left-padded to `length` (256: the group's size) or minimal when 0. */
export function toBytes(value: bigint, length = 0): Buffer {
	let hex = value.toString(16);
	if (hex.length % 2) hex = `0${hex}`;
	const bytes = Buffer.from(hex, 'hex');
	return length > bytes.length ? Buffer.concat([Buffer.alloc(length - bytes.length), bytes]) : bytes;
}

/** The minimal encoding pysrp uses (leading zero bytes dropped), the other variant Apple is seen to accept. */
const stripped = (bytes: Buffer) => {
	let start = 0;
	while (start < bytes.length - 1 && bytes[start] === 0) start++;
	return bytes.subarray(start);
};

export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
	let result = 1n;
	let b = ((base % modulus) + modulus) % modulus;
	let e = exponent;
	while (e > 0n) {
		if (e & 1n) result = (result * b) % modulus;
		e >>= 1n;
		b = (b * b) % modulus;
	}
	return result;
}

const pad = (value: bigint) => toBytes(value, LENGTH);
export const k = toBigInt(sha256(pad(N), pad(g)));

/** The password as Apple stretches it: PBKDF2 over SHA-256 of the password, raw (`s2k`) or as hex (`s2k_fo`). */
export function derivePassword(password: string, protocol: string, salt: Buffer, iterations: number): Buffer {
	const digest = sha256(Buffer.from(password, 'utf8'));
	let input: Buffer;
	if (protocol === 's2k') input = digest;
	else if (protocol === 's2k_fo') input = Buffer.from(digest.toString('hex'), 'utf8');
	else throw new Error(`Apple asked for an unknown password protocol "${protocol}"`);
	return pbkdf2Sync(input, salt, iterations, 32, 'sha256');
}

/** x = H(salt | H(":" | p)); Apple leaves the user name out. */
export function passwordExponent(salt: Buffer, derived: Buffer, variant: 'padded' | 'stripped' = 'padded'): bigint {
	const inner = sha256(Buffer.from(':'), derived);
	return variant === 'padded' ? toBigInt(sha256(salt, inner)) : toBigInt(sha256(stripped(salt), stripped(inner)));
}

export const verifierFor = (x: bigint) => modPow(g, x, N);

/** The evidence both sides compute once they share K; `variant` picks rclone's padded or pysrp's stripped byte forms. */
export function proofs(
	accountName: string,
	salt: Buffer,
	A: bigint,
	B: bigint,
	S: bigint,
	variant: 'padded' | 'stripped',
): { m1: Buffer; m2: Buffer } {
	const bytes = variant === 'padded' ? pad : (value: bigint) => toBytes(value);
	const K = sha256(bytes(S));
	const hN = sha256(pad(N));
	const hg = sha256(pad(g));
	const xor = Buffer.from(hN.map((byte, index) => byte ^ hg[index]));
	const m1 = sha256(xor, sha256(Buffer.from(accountName, 'utf8')), variant === 'padded' ? salt : stripped(salt), bytes(A), bytes(B), K);
	const m2 = sha256(bytes(A), m1, K);
	return { m1, m2 };
}

export const scramble = (A: bigint, B: bigint) => toBigInt(sha256(pad(A), pad(B)));

/** The client's half of one sign-in: A to send, then M1 from the server's salt and B, and the M2 to expect. */
export class SrpClient {
	private readonly a: bigint;
	readonly A: bigint;

	constructor(secret: Buffer = randomBytes(32)) {
		this.a = toBigInt(secret);
		this.A = modPow(g, this.a, N);
	}

	get publicKey(): string {
		return pad(this.A).toString('base64');
	}

	/** M1 (and the M2 the server must answer with), or an error when the server's values are unsafe. */
	respond(accountName: string, password: string, init: { salt: string; b: string; iteration: number; protocol: string }): { m1: string; m2: string } {
		const salt = Buffer.from(init.salt, 'base64');
		const B = toBigInt(Buffer.from(init.b, 'base64'));
		if (B % N === 0n) throw new Error('Apple sent an invalid SRP challenge');
		const u = scramble(this.A, B);
		if (u === 0n) throw new Error('Apple sent an invalid SRP challenge');
		const x = passwordExponent(salt, derivePassword(password, init.protocol, salt, init.iteration));
		const S = modPow((((B - k * modPow(g, x, N)) % N) + N) % N, this.a + u * x, N);
		const { m1, m2 } = proofs(accountName, salt, this.A, B, S, 'padded');
		return { m1: m1.toString('base64'), m2: m2.toString('base64') };
	}
}
