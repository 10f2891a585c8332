import { randomBytes } from 'node:crypto';
import { WebDavEmulator } from './emulators/webdav';
import { runProviderConformance } from './conformance/suite';
import { emulatedWebDav } from './support/webdav';

let nextcloud: WebDavEmulator | undefined;
let generic: WebDavEmulator | undefined;
let ignoring: WebDavEmulator | undefined;

afterAll(async () => {
	await nextcloud?.stop();
	await generic?.stop();
	await ignoring?.stop();
});

// Each case gets its own root folder, spelled with a space and a '#' so the root's encoding is exercised too.
const freshRoot = (emulator: WebDavEmulator) => {
	const root = `Conformance #${randomBytes(4).toString('hex')}/Case root`;
	emulator.seedFolder(root);
	return root;
};

// Nextcloud: X-OC-Mtime, oc:checksums (SHA-1), chunked upload v2 (10 MiB chunks: the 64 MiB case goes in 7).
runProviderConformance('webdav nextcloud (emulator)', async () => {
	nextcloud ??= await WebDavEmulator.start({ flavour: 'nextcloud' });
	const server = nextcloud;
	const root = freshRoot(server);
	return { provider: await emulatedWebDav(server, { root: `/${root}` }), cleanup: async () => server.remove(root) };
});

// A generic server (Apache's answers): no times kept, no hashes, uploads staged and moved into place.
runProviderConformance('webdav generic (emulator)', async () => {
	generic ??= await WebDavEmulator.start({ flavour: 'generic' });
	const server = generic;
	const root = freshRoot(server);
	return { provider: await emulatedWebDav(server, { root: `/${root}` }), cleanup: async () => server.remove(root) };
});

// Nextcloud behind something that drops X-OC-Mtime: times are set by PROPPATCH instead.
runProviderConformance('webdav nextcloud without X-OC-Mtime (emulator)', async () => {
	ignoring ??= await WebDavEmulator.start({ flavour: 'nextcloud', ignoreMtimeHeader: true, lockedWhileMerging: 2 });
	const server = ignoring;
	const root = freshRoot(server);
	return { provider: await emulatedWebDav(server, { root: `/${root}` }), cleanup: async () => server.remove(root) };
});
