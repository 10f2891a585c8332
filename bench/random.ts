/** mulberry32: a small seeded generator, so every run benchmarks the same data. */
export function seededRandom(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** A whole number in [min, max]. */
export function randomInt(random: () => number, min: number, max: number): number {
	return min + Math.floor(random() * (max - min + 1));
}

/** Fills `words` with seeded values; a Uint32Array view over a buffer fills it four bytes a step. */
export function fillRandom(words: Uint32Array, random: () => number): void {
	for (let i = 0; i < words.length; i++) words[i] = random() * 4294967296;
}
