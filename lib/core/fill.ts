import type { Readable } from 'node:stream';

/** Copies a source's next bytes into `into`, a buffer the caller owns, and says how many (0 at the end). */
export type Fill = (into: Buffer) => Promise<number>;

const FILL_OFFER = Symbol('cloudsync.fillOffer');

type Offering = Readable & { [FILL_OFFER]?: () => Promise<Fill | undefined> };

/**
 * Lets `stream` be read by filling the caller's buffers instead of as a stream. A stream hands out a
 * new buffer per chunk, garbage once passed on, and V8 frees such buffers only at a full collection,
 * once about 64 MiB of them piled up: a 1 GiB upload from a local file spent most of its CPU time in
 * those collections and in the page faults of fresh memory, and its peak RSS held the pile. An
 * upload that fills a few buffers of its own, reused once the socket took them, makes no such pile.
 *
 * `switchToFill` is called at most once, before the stream was read in any other way; it returns the
 * fill, through which alone the stream is read from then on, or undefined when the source under it
 * cannot fill (the stream is then read as a stream).
 */
export function offerFill(stream: Readable, switchToFill: () => Promise<Fill | undefined>): void {
	(stream as Offering)[FILL_OFFER] = switchToFill;
}

/** Whether `stream` may be read through a fill (offerFill), before it is asked to switch. */
export function offersFill(stream: Readable): boolean {
	return (stream as Offering)[FILL_OFFER] !== undefined;
}

/**
 * The fill of a stream that offers one and was not read yet, or undefined: the caller then reads it
 * as a stream. Asking twice gives undefined the second time.
 */
export async function fillOf(stream: Readable): Promise<Fill | undefined> {
	const offering = stream as Offering;
	const offer = offering[FILL_OFFER];
	if (!offer || stream.destroyed || stream.readableFlowing !== null || stream.readableDidRead) return undefined;
	offering[FILL_OFFER] = undefined;
	return offer();
}
