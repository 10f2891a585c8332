import { randomBytes } from 'node:crypto';
import { g, k, modPow, N, proofs, scramble, toBigInt } from '../../lib/providers/icloud/srp';

/** The server's half, so a wrong password fails as it does at Apple: B from the stored verifier, then a check of M1 in either byte variant. */
export class SrpServer {
	private readonly b: bigint;
	readonly B: bigint;

	constructor(
		private readonly verifier: bigint,
		secret: Buffer = randomBytes(32),
	) {
		this.b = toBigInt(secret);
		this.B = (k * verifier + modPow(g, this.b, N)) % N;
	}

	/** M2 when `m1` proves the password, else undefined. */
	verify(accountName: string, salt: Buffer, A: bigint, m1: Buffer): Buffer | undefined {
		if (A % N === 0n) return undefined;
		const u = scramble(A, this.B);
		const S = modPow(A * modPow(this.verifier, u, N), this.b, N);
		for (const variant of ['padded', 'stripped'] as const) {
			const expected = proofs(accountName, salt, A, this.B, S, variant);
			if (expected.m1.equals(m1)) return expected.m2;
		}
		return undefined;
	}
}
