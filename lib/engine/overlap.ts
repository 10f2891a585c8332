import type { Provider, RootLocation } from '../core/types';
import { SafetyError } from '../core/errors';
import { joinPath, matchKey } from '../core/paths';

/** What a run may do when the destination lies inside the source: leave it out of the source listing. */
export interface Overlap {
	/** The destination's path relative to the source root, to leave out of the source listing. */
	destinationInSource: string;
	note: string;
}

/**
 * Refuses two roots that are the same folder or lie one inside the other (after links, ids and case
 * rules): a run would copy the tree into itself, or delete what it just copied. A destination inside
 * the source is allowed for runs that never delete from the source (`nested: 'allow'`): the caller
 * leaves it out of the source listing.
 */
export async function checkOverlap(source: Provider, destination: Provider, what: string, nested: 'allow' | 'refuse'): Promise<Overlap | undefined> {
	if (source.name !== destination.name || !source.locate || !destination.locate) return undefined;
	const [a, b] = await Promise.all([source.locate(), destination.locate()]);
	if (a.namespace !== b.namespace) return undefined;
	const relation = nesting(a, b);
	if (relation === undefined) return undefined;
	const hint = 'Choose a source and a destination that are separate folders, neither inside the other.';
	if (relation === 'same') {
		throw new SafetyError(`${what} refused: the source and the destination are the same folder (${describe(a)}); nothing was changed.`, { hint });
	}
	if (relation === 'sourceInDestination') {
		throw new SafetyError(`${what} refused: the source (${describe(a)}) lies inside the destination (${describe(b)}); the run would write and delete inside its own source. Nothing was changed.`, { hint });
	}
	const inside = joinPath(...b.names.slice(a.names.length));
	if (nested === 'refuse') {
		throw new SafetyError(`${what} refused: the destination lies inside the source, at ${inside}; this mode changes the source too, so it would sync the tree into itself. Nothing was changed.`, { hint });
	}
	return { destinationInSource: inside, note: `the destination lies inside the source at ${inside}; that folder is left out of the source` };
}

function nesting(a: RootLocation, b: RootLocation): 'same' | 'sourceInDestination' | 'destinationInSource' | undefined {
	const caseInsensitive = a.caseInsensitive || b.caseInsensitive;
	const key = (segment: string) => matchKey(segment, caseInsensitive);
	const shared = Math.min(a.chain.length, b.chain.length);
	for (let i = 0; i < shared; i++) if (key(a.chain[i]) !== key(b.chain[i])) return undefined;
	if (a.chain.length === b.chain.length) return 'same';
	return a.chain.length > b.chain.length ? 'sourceInDestination' : 'destinationInSource';
}

function describe(location: RootLocation): string {
	return location.names.length === 0 ? 'the top folder' : location.names.join('/');
}
