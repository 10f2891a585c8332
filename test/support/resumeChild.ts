/**
 * One Copy of a local folder to an emulated cloud, its upload sessions kept in a file: the process
 * the resume test kills (SIGKILL) at random points and starts again. Prints the run's status.
 */
import { LocalProvider } from '../../lib/providers/local';
import { GoogleDriveProvider, type GoogleDriveProviderOptions } from '../../lib/providers/drive';
import { DropboxProvider, type DropboxProviderOptions } from '../../lib/providers/dropbox';
import { OneDriveProvider, type OneDriveProviderOptions } from '../../lib/providers/onedrive';
import { S3Provider, type S3ProviderOptions } from '../../lib/providers/s3';
import { WebDavProvider, type WebDavProviderOptions } from '../../lib/providers/webdav';
import { UploadSessions } from '../../lib/state/uploads';
import { FileStateStore } from '../../lib/state/state';
import { sync } from '../../lib/modes/oneWay';
import type { Provider } from '../../lib/core/types';

export interface ResumeChildSpec {
	cloud: 'drive' | 'dropbox' | 'onedrive' | 's3' | 'nextcloud';
	sourceDir: string;
	storeFile: string;
	drive?: GoogleDriveProviderOptions;
	dropbox?: DropboxProviderOptions;
	onedrive?: OneDriveProviderOptions;
	s3?: S3ProviderOptions;
	nextcloud?: WebDavProviderOptions;
}

async function open(spec: ResumeChildSpec): Promise<Provider> {
	if (spec.cloud === 'drive') return GoogleDriveProvider.open(spec.drive!);
	if (spec.cloud === 'dropbox') return new DropboxProvider(spec.dropbox!);
	if (spec.cloud === 's3') return S3Provider.open(spec.s3!);
	if (spec.cloud === 'nextcloud') return WebDavProvider.open(spec.nextcloud!);
	return OneDriveProvider.open(spec.onedrive!);
}

async function main(): Promise<void> {
	const spec = JSON.parse(process.env.CLOUDSYNC_RESUME_CHILD ?? '{}') as ResumeChildSpec;
	const uploads = new UploadSessions(new FileStateStore(spec.storeFile), { saveEveryMs: 500 });
	const destination = await open(spec);
	destination.keepUploads!(uploads);
	const report = await sync(await LocalProvider.open(spec.sourceDir), destination, { mode: 'copy', transfers: 1 });
	await uploads.flush();
	const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
	process.stdout.write(JSON.stringify({ status: report.status, added: report.added, errors: report.errors.map((error) => error.message), peakRssMiB }));
	process.exitCode = report.status === 'success' ? 0 : 1;
}

main().catch((error: unknown) => {
	process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
	process.exitCode = 2;
});
