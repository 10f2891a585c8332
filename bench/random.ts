// The same seeded generator as the tests' fault injection, so every run benchmarks the same data.
export { seededRandom } from '../test/support/faulty-provider';

/** A whole number in [min, max]. */
export function randomInt(random: () => number, min: number, max: number): number {
	return min + Math.floor(random() * (max - min + 1));
}

/** Fills `words` with seeded values; a Uint32Array view over a buffer fills it four bytes a step. */
export function fillRandom(words: Uint32Array, random: () => number): void {
	for (let i = 0; i < words.length; i++) words[i] = random() * 4294967296;
}
