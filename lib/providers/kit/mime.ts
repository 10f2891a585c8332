/** Media types for common extensions, which clouds preview files by; anything else is stored as plain bytes. */
const MIME_TYPES: Record<string, string> = {
	txt: 'text/plain',
	md: 'text/markdown',
	csv: 'text/csv',
	html: 'text/html',
	htm: 'text/html',
	xml: 'application/xml',
	json: 'application/json',
	pdf: 'application/pdf',
	zip: 'application/zip',
	gz: 'application/gzip',
	png: 'image/png',
	jpg: 'image/jpeg',
	jpeg: 'image/jpeg',
	gif: 'image/gif',
	webp: 'image/webp',
	svg: 'image/svg+xml',
	mp3: 'audio/mpeg',
	mp4: 'video/mp4',
	mov: 'video/quicktime',
	docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
	xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
	pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
};
export const BINARY = 'application/octet-stream';

/** The media type a cloud should store a file of this name as. */
export function mimeTypeFor(name: string): string {
	const dot = name.lastIndexOf('.');
	return (dot > 0 && MIME_TYPES[name.slice(dot + 1).toLowerCase()]) || BINARY;
}
