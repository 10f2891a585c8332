/**
 * The sample clouds of the examples (examples/*.json), for the e2e tests and `npm run demo`:
 * a Google Drive emulator and a Dropbox emulator on 127.0.0.1, seeded with sample files, the n8n
 * credentials that sign in to them, and the example workflows with their local folders moved into
 * a sandbox's data folder.
 *
 *   const clouds = await startSampleClouds();            // both emulators, seeded
 *   const n8n = await N8nSandbox.create({ env: clouds.env });   // CLOUDSYNC_*_API_URL → the emulators
 *   seedLocalFiles(n8n.dataFolder);
 *   await n8n.importCredentials(clouds.credentials);
 *   await n8n.importWorkflow(loadExample('dropbox-to-google-drive-mirror', n8n.dataFolder));
 *   …
 *   await clouds.stop();
 *
 * The emulators run in the calling process: the tests and the demo read and change the clouds
 * directly (seed files, read what arrived) while n8n talks to them over HTTP.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DriveEmulator, type OAuthClientCredentials } from '../emulators/drive';
import { DropboxEmulator } from '../emulators/dropbox';
import { OneDriveEmulator } from '../emulators/onedrive';
import { GooglePhotosEmulator } from '../emulators/googlePhotos';
import { WebDavEmulator } from '../emulators/webdav';
import { sdkClient } from '../support/drive';
import { startS3Server, type S3TestServer } from '../support/s3';
import { REPO_ROOT, type CredentialJson, type WorkflowJson } from './n8n';

export const EXAMPLES_DIR = path.join(REPO_ROOT, 'examples');

/**
 * The folder the examples' local paths start with: N8N_RESTRICT_FILE_ACCESS_TO of n8n's Docker
 * image (~/.n8n-files of the `node` user). loadExample() moves it into a sandbox's data folder.
 */
export const EXAMPLE_FILES_ROOT = '/home/node/.n8n-files';

/** Credential ids and names the examples reference; import clouds.credentials before the workflows. */
export const EXAMPLE_CREDENTIALS = {
	dropbox: { id: 'cloudSyncDbxDemo', name: 'Dropbox account (demo)', type: 'cloudSyncDropboxOAuth2Api' },
	googleDrive: { id: 'cloudSyncGdrDemo', name: 'Google Drive account (demo)', type: 'cloudSyncGoogleDriveOAuth2Api' },
	oneDrive: { id: 'cloudSyncOdrDemo', name: 'OneDrive account (demo)', type: 'cloudSyncMicrosoftOneDriveOAuth2Api' },
	s3: { id: 'cloudSyncS3Demo', name: 'S3 account (demo)', type: 'cloudSyncS3Api' },
	googlePhotos: { id: 'cloudSyncGphDemo', name: 'Google Photos account (demo)', type: 'cloudSyncGooglePhotosOAuth2Api' },
	webDav: { id: 'cloudSyncDavDemo', name: 'Nextcloud account (demo)', type: 'cloudSyncWebDavApi' },
} as const;

/** The example workflows by file name (examples/<name>.json) and the id each is imported with. */
export const EXAMPLES = {
	mirror: { file: 'dropbox-to-google-drive-mirror', id: 'csExampleMirror1' },
	localToDropbox: { file: 'local-folder-to-dropbox', id: 'csExampleLocDbx1' },
	trigger: { file: 'dropbox-changes-to-local-folder', id: 'csExampleTrigger' },
	upload: { file: 'upload-report-to-dated-folder', id: 'csExampleUpload1' },
	oneDriveMirror: { file: 'onedrive-to-google-drive-mirror', id: 'csExampleOdMirr1' },
	localToS3Backup: { file: 'local-folder-to-s3-nightly-backup', id: 'csExampleLocS3b1' },
	photos: { file: 'icloud-photos-to-google-photos', id: 'csExamplePhotos1' },
} as const;

/** One fixed instant for seeded files whose copies must compare as unchanged (Dropbox keeps whole seconds). */
export const SEED_TIME = Date.UTC(2024, 5, 1, 12, 0, 0);

/** Deterministic bytes that look like a binary file: `size` bytes derived from `label`. */
export function sampleBytes(label: string, size: number): Buffer {
	const chunks: Buffer[] = [];
	let block = createHash('sha256').update(label).digest();
	for (let filled = 0; filled < size; filled += block.length) {
		chunks.push(block);
		block = createHash('sha256').update(block).digest();
	}
	return Buffer.concat(chunks).subarray(0, size);
}

export const sha256 = (content: Buffer | string): string => createHash('sha256').update(content).digest('hex');
export const md5 = (content: Buffer | string): string => createHash('md5').update(content).digest('hex');

/**
 * What the clouds and the local folder hold before anything runs. Paths are relative to each
 * example's folder: Dropbox /Photos and Google Drive /Backups/Photos (mirror), local outbox and
 * Dropbox /Backups/outbox (copy), Dropbox /Inbox and local inbox-backup (trigger).
 */
export const SAMPLE = {
	dropboxPhotos: {
		'2024/beach.jpg': sampleBytes('beach.jpg', 48 * 1024),
		'2024/sunset.png': sampleBytes('sunset.png', 20 * 1024),
		'2024/notes.txt': Buffer.from('Packing list: sunscreen, towel, camera.\n'),
		'scans/receipt.pdf': Buffer.concat([Buffer.from('%PDF-1.4\n'), sampleBytes('receipt.pdf', 6 * 1024)]),
		'raw/IMG_0001.cr2': sampleBytes('IMG_0001.cr2', 64 * 1024),
	} as Record<string, Buffer>,
	/** Already in Google Drive /Backups/Photos before the mirror. */
	drivePhotos: {
		/** Same bytes and time as on Dropbox: unchanged. */
		'2024/sunset.png': sampleBytes('sunset.png', 20 * 1024),
		/** An older version: replaced. */
		'2024/beach.jpg': sampleBytes('beach.jpg (old edit)', 40 * 1024),
		/** No longer on Dropbox: the mirror deletes it (to the Drive trash). */
		'old-trip.jpg': sampleBytes('old-trip.jpg', 12 * 1024),
		/** Outside the extension filter: the mirror leaves it alone. */
		'readme.txt': Buffer.from('Photos mirrored from Dropbox by n8n.\n'),
	} as Record<string, Buffer>,
	/** Extensions the mirror example keeps. */
	mirrorExtensions: ['jpg', 'jpeg', 'png', 'pdf'],
	localOutbox: {
		'report.csv': Buffer.from('month,revenue\n2026-01,1200\n2026-02,1350\n'),
		'img/logo.png': sampleBytes('logo.png', 9 * 1024),
		'contracts/2026/acme.pdf': Buffer.concat([Buffer.from('%PDF-1.7\n'), sampleBytes('acme.pdf', 3 * 1024)]),
		/** A system file: left out of syncs by default. */
		'.DS_Store': Buffer.from('Bud1 finder metadata'),
	} as Record<string, Buffer>,
	/** Already in Dropbox /Backups/outbox: a copy never deletes it. */
	dropboxOutbox: { 'keep-me.txt': Buffer.from('Only on Dropbox.\n') } as Record<string, Buffer>,
	dropboxInbox: {
		'welcome.txt': Buffer.from('Files dropped into /Inbox are copied to the local backup folder.\n'),
		'old.txt': Buffer.from('Delete me from Dropbox and the backup loses me too.\n'),
	} as Record<string, Buffer>,
	/** OneDrive /Documents/Contracts (the OneDrive mirror example's source). */
	oneDriveContracts: {
		'2026/acme.pdf': Buffer.concat([Buffer.from('%PDF-1.7\n'), sampleBytes('acme contract v2', 5 * 1024)]),
		'2026/budget.xlsx': sampleBytes('budget.xlsx', 14 * 1024),
		'nda.docx': sampleBytes('nda.docx', 11 * 1024),
		'drafts/ideas.txt': Buffer.from('Not a contract: the filter leaves it out.\n'),
	} as Record<string, Buffer>,
	/** Already in Google Drive /Backups/Contracts before that mirror. */
	driveContracts: {
		/** Same bytes and time as on OneDrive: unchanged. */
		'nda.docx': sampleBytes('nda.docx', 11 * 1024),
		/** An older version: replaced. */
		'2026/acme.pdf': Buffer.concat([Buffer.from('%PDF-1.7\n'), sampleBytes('acme contract v1', 4 * 1024)]),
		/** No longer on OneDrive: deleted (to the Drive trash). */
		'expired.pdf': Buffer.concat([Buffer.from('%PDF-1.4\n'), sampleBytes('expired.pdf', 2 * 1024)]),
	} as Record<string, Buffer>,
	/** Nextcloud /Projects (WebDAV, emulated), for a user to sync from in the editor. */
	nextcloudProjects: {
		'roadmap.md': Buffer.from('# Roadmap\n\n- WebDAV and Nextcloud in Cloud Sync\n'),
		'designs/logo.svg': Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><circle cx="4" cy="4" r="3"/></svg>\n'),
		'designs/mockup.png': sampleBytes('mockup.png', 24 * 1024),
	} as Record<string, Buffer>,
	/** Extensions the OneDrive mirror example keeps. */
	oneDriveMirrorExtensions: ['pdf', 'docx', 'xlsx'],
	/** The local folder the nightly S3 backup example backs up. */
	localDocuments: {
		'taxes/2025.pdf': Buffer.concat([Buffer.from('%PDF-1.7\n'), sampleBytes('taxes 2025', 7 * 1024)]),
		'photos/passport.jpg': sampleBytes('passport.jpg', 30 * 1024),
		'notes.md': Buffer.from('# Notes\nBacked up to S3 every night.\n'),
	} as Record<string, Buffer>,
	/** The local backup of Dropbox /Inbox as it stood when the trigger was activated. */
	localInboxBackup: {
		'welcome.txt': Buffer.from('Files dropped into /Inbox are copied to the local backup folder.\n'),
		'old.txt': Buffer.from('Delete me from Dropbox and the backup loses me too.\n'),
	} as Record<string, Buffer>,
};

/** Folders of the examples, as the examples name them. */
export const FOLDERS = {
	dropboxPhotos: '/Photos',
	drivePhotos: 'Backups/Photos',
	localOutbox: 'outbox',
	dropboxOutbox: '/Backups/outbox',
	dropboxInbox: '/Inbox',
	localInboxBackup: 'inbox-backup',
	driveReports: 'Reports',
	oneDriveContracts: 'Documents/Contracts',
	nextcloudProjects: 'Projects',
	driveContracts: 'Backups/Contracts',
	localDocuments: 'documents',
	/** The bucket and the folder in it that the S3 backup example writes its snapshots to. */
	s3Bucket: 'backups',
	s3Backups: 'laptop',
	/** The Google Photos album of the photos example. */
	photosAlbum: 'iPhone',
};

export interface SampleClouds {
	drive: DriveEmulator;
	dropbox: DropboxEmulator;
	onedrive: OneDriveEmulator;
	/** A real S3 server (s3rver) with the examples' bucket. */
	s3: S3TestServer;
	googlePhotos: GooglePhotosEmulator;
	/** A Nextcloud server (WebDAV); its credential holds its address, so n8n needs no variable for it. */
	nextcloud: WebDavEmulator;
	driveAuth: OAuthClientCredentials;
	/** CLOUDSYNC_GOOGLE_API_URL, CLOUDSYNC_DROPBOX_API_URL and CLOUDSYNC_ONEDRIVE_API_URL: give them to n8n (N8nSandbox.create({ env })). */
	env: Record<string, string>;
	/** n8n credentials (plain data) for both emulators, with the ids and names the examples use. */
	credentials: CredentialJson[];
	stop(): Promise<void>;
}

/** Starts both emulators on 127.0.0.1 and seeds the sample files of the examples into them. */
export async function startSampleClouds(): Promise<SampleClouds> {
	const drive = new DriveEmulator();
	await drive.start();
	let dropbox: DropboxEmulator;
	let onedrive: OneDriveEmulator;
	let s3: S3TestServer;
	const googlePhotos = new GooglePhotosEmulator();
	let nextcloud: WebDavEmulator;
	try {
		dropbox = await DropboxEmulator.start();
		onedrive = await OneDriveEmulator.start().catch(async (error: unknown) => {
			await dropbox.stop();
			throw error;
		});
		await googlePhotos.start().catch(async (error: unknown) => {
			await Promise.allSettled([dropbox.stop(), onedrive.stop()]);
			throw error;
		});
		nextcloud = await WebDavEmulator.start({ flavour: 'nextcloud', user: 'demo' }).catch(async (error: unknown) => {
			await Promise.allSettled([dropbox.stop(), onedrive.stop()]);
			throw error;
		});
		s3 = await startS3Server([FOLDERS.s3Bucket]).catch(async (error: unknown) => {
			await Promise.allSettled([dropbox.stop(), onedrive.stop(), googlePhotos.stop(), nextcloud.stop()]);
			throw error;
		});
	} catch (error) {
		await drive.stop();
		throw error;
	}
	const photosAuth = googlePhotos.addOAuthClient();
	const driveAuth = drive.addOAuthClient();
	seedCloudFiles(drive, dropbox);
	seedOneDrive(drive, onedrive);
	for (const [file, content] of Object.entries(SAMPLE.nextcloudProjects)) nextcloud.seedFile(`${FOLDERS.nextcloudProjects}/${file}`, content, { modTime: SEED_TIME });
	const credentials: CredentialJson[] = [
		{
			...EXAMPLE_CREDENTIALS.dropbox,
			// As n8n's OAuth2 flow stores it: the app's id and secret, and the tokens of the sign-in.
			data: {
				clientId: dropbox.credentials.clientId,
				clientSecret: dropbox.credentials.clientSecret,
				oauthTokenData: {
					access_token: dropbox.issueAccessToken(),
					refresh_token: dropbox.credentials.refreshToken,
					token_type: 'bearer',
					expires_in: 14_400,
				},
			},
		},
		{
			...EXAMPLE_CREDENTIALS.googleDrive,
			// No access token yet: the first request refreshes one, as after an hour in real life.
			data: {
				clientId: driveAuth.clientId,
				clientSecret: driveAuth.clientSecret,
				oauthTokenData: { refresh_token: driveAuth.refreshToken, token_type: 'Bearer', scope: 'https://www.googleapis.com/auth/drive' },
			},
		},
		{
			...EXAMPLE_CREDENTIALS.oneDrive,
			data: {
				clientId: onedrive.credentials.clientId,
				clientSecret: onedrive.credentials.clientSecret,
				tenant: 'common',
				sharePoint: false,
				oauthTokenData: { refresh_token: onedrive.credentials.refreshToken, token_type: 'Bearer', scope: 'offline_access Files.ReadWrite.All' },
			},
		},
		{
			...EXAMPLE_CREDENTIALS.s3,
			// A MinIO-style service on loopback; the keys are the ones s3rver accepts.
			data: { preset: 'minio', ...s3.connection, forcePathStyle: true },
		},
		{
			...EXAMPLE_CREDENTIALS.googlePhotos,
			data: { clientId: photosAuth.clientId, clientSecret: photosAuth.clientSecret, oauthTokenData: { refresh_token: photosAuth.refreshToken, token_type: 'Bearer' } },
		},
		{ ...EXAMPLE_CREDENTIALS.webDav, data: { vendor: 'nextcloud', url: nextcloud.url, user: nextcloud.user, password: nextcloud.password } },
	];
	return {
		drive,
		dropbox,
		onedrive,
		s3,
		googlePhotos,
		nextcloud,
		driveAuth,
		env: {
			CLOUDSYNC_GOOGLE_API_URL: drive.baseUrl,
			CLOUDSYNC_DROPBOX_API_URL: dropbox.baseUrl,
			CLOUDSYNC_ONEDRIVE_API_URL: onedrive.baseUrl,
			CLOUDSYNC_GOOGLE_PHOTOS_API_URL: googlePhotos.baseUrl,
			CLOUDSYNC_S3_API_URL: s3.endpoint,
		},
		credentials,
		async stop() {
			await Promise.allSettled([drive.stop(), dropbox.stop(), onedrive.stop(), googlePhotos.stop(), nextcloud.stop(), s3.stop()]);
		},
	};
}

function seedCloudFiles(drive: DriveEmulator, dropbox: DropboxEmulator): void {
	for (const [file, content] of Object.entries(SAMPLE.dropboxPhotos)) {
		dropbox.seedFile(`${FOLDERS.dropboxPhotos}/${file}`, content, { clientModified: SEED_TIME });
	}
	for (const [file, content] of Object.entries(SAMPLE.drivePhotos)) {
		const folder = path.posix.dirname(`${FOLDERS.drivePhotos}/${file}`);
		drive.addFile(drive.folderAt(folder), path.posix.basename(file), content, { modifiedTime: SEED_TIME, mimeType: mimeOf(file) });
	}
	for (const [file, content] of Object.entries(SAMPLE.dropboxOutbox)) {
		dropbox.seedFile(`${FOLDERS.dropboxOutbox}/${file}`, content, { clientModified: SEED_TIME });
	}
	for (const [file, content] of Object.entries(SAMPLE.dropboxInbox)) {
		dropbox.seedFile(`${FOLDERS.dropboxInbox}/${file}`, content, { clientModified: SEED_TIME });
	}
}

function seedOneDrive(drive: DriveEmulator, onedrive: OneDriveEmulator): void {
	for (const [file, content] of Object.entries(SAMPLE.oneDriveContracts)) onedrive.seedFile(`${FOLDERS.oneDriveContracts}/${file}`, content, { modTime: SEED_TIME });
	for (const [file, content] of Object.entries(SAMPLE.driveContracts)) {
		const folder = path.posix.dirname(`${FOLDERS.driveContracts}/${file}`);
		drive.addFile(drive.folderAt(folder), path.posix.basename(file), content, { modifiedTime: SEED_TIME, mimeType: mimeOf(file) });
	}
}

/** Writes the local sample folders (outbox, inbox-backup) into `root`: a sandbox's data folder. */
export function seedLocalFiles(root: string): void {
	const write = (folder: string, files: Record<string, Buffer>) => {
		for (const [file, content] of Object.entries(files)) {
			const target = path.join(root, folder, file);
			fs.mkdirSync(path.dirname(target), { recursive: true });
			fs.writeFileSync(target, content);
			fs.utimesSync(target, SEED_TIME / 1000, SEED_TIME / 1000);
		}
	};
	write(FOLDERS.localOutbox, SAMPLE.localOutbox);
	write(FOLDERS.localInboxBackup, SAMPLE.localInboxBackup);
	write(FOLDERS.localDocuments, SAMPLE.localDocuments);
}

function mimeOf(file: string): string {
	const extension = path.extname(file).slice(1).toLowerCase();
	return (
		{ jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', pdf: 'application/pdf', txt: 'text/plain', csv: 'text/csv' }[extension] ??
		'application/octet-stream'
	);
}

/**
 * Every file (not folder) below `root` of the local disk, by relative path, with its bytes; the
 * engine's own `.cloudsync` folder (staged writes, the trash of deleted and replaced files, lock and
 * state) only when asked.
 */
export function readLocalTree(root: string, options: { withEngineFolder?: boolean } = {}): Record<string, Buffer> {
	const files: Record<string, Buffer> = {};
	const walk = (dir: string) => {
		for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
			if (dir === root && entry.name === '.cloudsync' && !options.withEngineFolder) continue;
			const full = path.join(dir, entry.name);
			if (entry.isDirectory()) walk(full);
			else if (entry.isFile()) files[path.relative(root, full).split(path.sep).join('/')] = fs.readFileSync(full);
		}
	};
	if (fs.existsSync(root)) walk(root);
	return files;
}

/** What a reader of a cloud's tree leaves out unless asked: the engine's own `.cloudsync` folder (lock, state, change cursors, trash), as `readLocalTree` does. */
interface TreeOptions {
	withEngineFolder?: boolean;
}

const isEngineFile = (relative: string) => relative === '.cloudsync' || relative.startsWith('.cloudsync/');

function withoutEngineFolder(files: Record<string, Buffer>, options: TreeOptions): Record<string, Buffer> {
	if (options.withEngineFolder) return files;
	return Object.fromEntries(Object.entries(files).filter(([file]) => !isEngineFile(file)));
}

/** Every file below `folder` of the Dropbox emulator, by path relative to it, with its bytes. */
export function readDropboxTree(dropbox: DropboxEmulator, folder: string, options: TreeOptions = {}): Record<string, Buffer> {
	const files: Record<string, Buffer> = {};
	for (const full of dropbox.paths(folder)) {
		const content = dropbox.content(full);
		if (content !== undefined) files[full.slice(folder.length + 1)] = content;
	}
	return withoutEngineFolder(files, options);
}

/**
 * Every file (not trashed) below `folder` of the Drive emulator's My Drive, by relative path, with its
 * bytes. Listed with the official client over the emulator's files.list, as another app would see it.
 */
export async function readDriveTree(clouds: Pick<SampleClouds, 'drive' | 'driveAuth'>, folder: string, options: TreeOptions = {}): Promise<Record<string, Buffer>> {
	const { api } = sdkClient({ emulator: clouds.drive, auth: clouds.driveAuth });
	const files: Record<string, Buffer> = {};
	const top = clouds.drive.statPath(folder);
	if (!top?.id) return files;
	const walk = async (folderId: string, prefix: string): Promise<void> => {
		let pageToken: string | undefined;
		do {
			const { data } = await api.files.list({
				q: `'${folderId}' in parents and trashed = false`,
				fields: 'nextPageToken,files(id,name,mimeType)',
				pageSize: 1000,
				pageToken,
			});
			for (const child of data.files ?? []) {
				const relative = prefix === '' ? child.name! : `${prefix}/${child.name}`;
				if (child.mimeType === 'application/vnd.google-apps.folder') await walk(child.id!, relative);
				else files[relative] = clouds.drive.content(child.id!);
			}
			pageToken = data.nextPageToken ?? undefined;
		} while (pageToken);
	};
	await walk(top.id, '');
	return withoutEngineFolder(files, options);
}

/** Every file below `folder` of an S3 bucket, by path relative to it, with its bytes, read with our S3 provider. */
export async function readS3Tree(clouds: Pick<SampleClouds, 's3'>, bucket: string, folder: string, options: TreeOptions = {}): Promise<Record<string, Buffer>> {
	const { S3Provider } = await import('../../lib/providers/s3');
	const provider = await S3Provider.open({ ...clouds.s3.connection, bucket, prefix: folder });
	const files: Record<string, Buffer> = {};
	for await (const entry of provider.list('', { recursive: true })) {
		if (entry.isDir) continue;
		const chunks: Buffer[] = [];
		for await (const chunk of await provider.read(entry.path)) chunks.push(chunk as Buffer);
		files[entry.path] = Buffer.concat(chunks);
	}
	return withoutEngineFolder(files, options);
}

/** Hashes of a tree, so that failures print short, comparable values instead of buffers. */
export function treeHashes(files: Record<string, Buffer>): Record<string, string> {
	return Object.fromEntries(
		Object.entries(files)
			.sort(([a], [b]) => a.localeCompare(b))
			.map(([file, content]) => [file, sha256(content)]),
	);
}

/**
 * Reads examples/<name>.json. Local folders in it start with EXAMPLE_FILES_ROOT (n8n's Docker
 * default); with `localRoot` they are moved there (the data folder a sandbox allows).
 */
export function loadExample(name: string, localRoot?: string): WorkflowJson {
	const text = fs.readFileSync(path.join(EXAMPLES_DIR, `${name}.json`), 'utf8');
	const workflow = JSON.parse(text) as WorkflowJson;
	if (localRoot === undefined) return workflow;
	const relocate = (value: unknown): unknown => {
		if (typeof value === 'string') {
			return value.startsWith(EXAMPLE_FILES_ROOT) ? localRoot + value.slice(EXAMPLE_FILES_ROOT.length) : value;
		}
		if (Array.isArray(value)) return value.map(relocate);
		if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, relocate(v)]));
		return value;
	};
	return { ...workflow, nodes: workflow.nodes.map((node) => ({ ...node, parameters: relocate(node.parameters) })) } as WorkflowJson;
}

/** A copy of `workflow` with one node's parameters changed. */
export function withParameters(workflow: WorkflowJson, nodeName: string, change: (parameters: Record<string, unknown>) => void): WorkflowJson {
	const copy = JSON.parse(JSON.stringify(workflow)) as WorkflowJson;
	const node = copy.nodes.find((candidate) => candidate.name === nodeName);
	if (!node) throw new Error(`workflow "${workflow.name}" has no node "${nodeName}"`);
	change(node.parameters as Record<string, unknown>);
	return copy;
}
