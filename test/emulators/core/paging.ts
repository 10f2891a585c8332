/**
 * Page tokens and cursors are opaque to clients, so emulators encode whatever state they need in
 * them; base64url JSON keeps them opaque-looking and lets a forged or mangled one be told apart.
 */
export function encodeToken(state: object): string {
	return Buffer.from(JSON.stringify(state)).toString('base64url');
}

/** The state a token encodes, or undefined when it is not one this emulator issued in that shape. */
export function decodeToken<T>(token: unknown, isState: (value: Partial<T>) => boolean): T | undefined {
	if (typeof token !== 'string') return undefined;
	try {
		const state = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<T> | null;
		return state !== null && typeof state === 'object' && isState(state) ? (state as T) : undefined;
	} catch {
		return undefined;
	}
}

/** `size` items from `start`, and where the next page starts when there is one. */
export function pageOf<T>(items: readonly T[], start: number, size: number): { items: T[]; next?: number } {
	const end = start + size;
	return { items: items.slice(start, end), next: end < items.length ? end : undefined };
}
