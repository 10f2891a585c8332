/*
 * Opaque-signed S/MIME (application/pkcs7-mime; smime-type=signed-data, smime.p7m): a CMS
 * SignedData (RFC 5652) whose encapsulated content is the signed MIME entity itself, readable
 * without any key. This reads the BER just far enough to take that content out; it checks no
 * signature (the PDF says so).
 */

interface Node {
	tag: number;
	constructed: boolean;
	/** Start and end of the contents; an indefinite length ends before its end-of-contents octets. */
	start: number;
	end: number;
	/** Where the next node starts. */
	next: number;
}

function node(bytes: Buffer, at: number): Node | undefined {
	if (at + 2 > bytes.length) return undefined;
	const tag = bytes[at];
	const constructed = (tag & 0x20) !== 0;
	let length = bytes[at + 1];
	let start = at + 2;
	if (length === 0x80) {
		// Indefinite length: children until the 00 00 end-of-contents.
		let child = start;
		while (child + 2 <= bytes.length && !(bytes[child] === 0 && bytes[child + 1] === 0)) {
			const inner = node(bytes, child);
			if (!inner) return undefined;
			child = inner.next;
		}
		return { tag, constructed, start, end: child, next: child + 2 };
	}
	if (length > 0x80) {
		const octets = length & 0x7f;
		if (octets > 4 || start + octets > bytes.length) return undefined;
		length = bytes.readUIntBE(start, octets);
		start += octets;
	}
	if (start + length > bytes.length) return undefined;
	return { tag, constructed, start, end: start + length, next: start + length };
}

function children(bytes: Buffer, parent: Node): Node[] {
	const result: Node[] = [];
	for (let at = parent.start; at < parent.end; ) {
		const child = node(bytes, at);
		if (!child) break;
		result.push(child);
		at = child.next;
	}
	return result;
}

/** An OCTET STRING's bytes, joined when it is sent in constructed pieces. */
function octets(bytes: Buffer, string: Node): Buffer {
	if (!string.constructed) return bytes.subarray(string.start, string.end);
	return Buffer.concat(children(bytes, string).map((piece) => octets(bytes, piece)));
}

const SIGNED_DATA = Buffer.from('2a864886f70d010702', 'hex');

/** The signed MIME entity inside a CMS SignedData, or undefined when it is not one (or is detached). */
export function signedContent(der: Buffer): Buffer | undefined {
	const contentInfo = node(der, 0);
	if (!contentInfo || contentInfo.tag !== 0x30) return undefined;
	const [type, explicit] = children(der, contentInfo);
	if (!type || type.tag !== 0x06 || !der.subarray(type.start, type.end).equals(SIGNED_DATA) || !explicit) return undefined;
	const signedData = children(der, explicit)[0];
	if (!signedData) return undefined;
	// version, digestAlgorithms, encapContentInfo { eContentType, [0] eContent OCTET STRING }
	const encapsulated = children(der, signedData)[2];
	if (!encapsulated) return undefined;
	const wrapper = children(der, encapsulated)[1];
	const content = wrapper && children(der, wrapper)[0];
	return content ? octets(der, content) : undefined;
}
