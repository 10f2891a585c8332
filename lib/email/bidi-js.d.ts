// bidi-js ships no type declarations: the part of its API that the renderer uses.
declare module 'bidi-js' {
	interface EmbeddingLevels {
		levels: Uint8Array;
		paragraphs: Array<{ start: number; end: number; level: number }>;
	}
	interface Bidi {
		getEmbeddingLevels(text: string, direction?: 'ltr' | 'rtl'): EmbeddingLevels;
		getMirroredCharacter(char: string): string | null;
	}
	export default function bidiFactory(): Bidi;
}
