import type { ICredentialDataDecryptedObject, ICredentialsDecrypted, ICredentialTestFunctions, INodeCredentialTestResult, INodeListSearchResult, INodeProperties } from 'n8n-workflow';
import { CloudSyncError, PermissionError, S3Provider, S3_PRESETS, type S3Connection, type S3Preset } from '../../../lib';
import { CloudSyncS3Api } from '../../../credentials/CloudSyncS3Api.credentials';
import { cloudCredential } from '../transport/credentials';
import { errorText } from '../helpers/errors';
import { parameter } from '../helpers/parameters';
import { matchesFilter, pickedFolder, PICKER_PAGE } from './pickers';
import type { CloudDescriptor } from './descriptor';

const LABEL = 'S3';
const SEARCH_METHOD = 'searchS3Folders';

/** Read when a request is made, so that tests and the demo can point every S3 credential at a loopback server. */
const apiBaseUrl = () => process.env.CLOUDSYNC_S3_API_URL || undefined;

/** The connection a stored credential describes; the secret stays inside the SDK's signer. */
export function s3Connection(credential: ICredentialDataDecryptedObject): S3Connection {
	const preset = (Object.keys(S3_PRESETS).includes(String(credential.preset)) ? credential.preset : 'aws') as S3Preset;
	const override = apiBaseUrl();
	return {
		preset,
		accessKeyId: String(credential.accessKeyId ?? '').trim(),
		secretAccessKey: String(credential.secretAccessKey ?? ''),
		region: String(credential.region ?? '').trim() || undefined,
		endpoint: override ?? (String(credential.endpoint ?? '').trim() || undefined),
		forcePathStyle: override ? true : credential.forcePathStyle === true ? true : undefined,
	};
}

/** "bucket/prefix" as the folder field holds it: a leading slash and trailing slashes are ignored. */
export function bucketAndPrefix(folder: string): { bucket: string; prefix: string } {
	const trimmed = folder.trim().replace(/^\/+/, '').replace(/\/+$/, '');
	const slash = trimmed.indexOf('/');
	return slash < 0 ? { bucket: trimmed, prefix: '' } : { bucket: trimmed.slice(0, slash), prefix: trimmed.slice(slash + 1) };
}

/**
 * The picker: the key's buckets, then, once a bucket is typed ("photos/" or "photos/2026"), the folders
 * one level below what was typed.
 */
async function searchFolders(credential: ICredentialDataDecryptedObject, filter: string | undefined): Promise<INodeListSearchResult> {
	const connection = s3Connection(credential);
	const typed = (filter ?? '').trim().replace(/^\/+/, '');
	if (!typed.includes('/')) {
		const buckets = await S3Provider.buckets(connection);
		return { results: buckets.filter((bucket) => matchesFilter(bucket, typed)).slice(0, PICKER_PAGE).map((bucket) => ({ name: bucket, value: bucket })) };
	}
	const { bucket, prefix } = bucketAndPrefix(typed);
	const base = typed.endsWith('/') ? prefix : prefix.split('/').slice(0, -1).join('/');
	const rest = typed.endsWith('/') ? '' : prefix.split('/').at(-1) ?? '';
	const folders = await S3Provider.prefixes(connection, bucket, base);
	const results = [{ name: [bucket, base].filter(Boolean).join('/'), value: [bucket, base].filter(Boolean).join('/') }];
	for (const folder of folders) {
		const path = [bucket, base, folder].filter(Boolean).join('/');
		if (matchesFilter(folder, rest)) results.push({ name: path, value: path });
	}
	return { results: results.slice(0, PICKER_PAGE) };
}

/** Signs a request with the key: ListBuckets, or the refusal a key limited to one bucket gets, proves the key and secret. */
async function testKey(this: ICredentialTestFunctions, credential: ICredentialsDecrypted): Promise<INodeCredentialTestResult> {
	try {
		await S3Provider.buckets(s3Connection(credential.data ?? {}));
		return { status: 'OK', message: 'Connection successful' };
	} catch (error) {
		// AccessDenied comes only after the signature was accepted: a key restricted to its bucket is a good key.
		if (error instanceof PermissionError) return { status: 'OK', message: 'Connection successful (this key may not list buckets: type the bucket name in the folder field)' };
		const hint = error instanceof CloudSyncError ? error.hint : undefined;
		return { status: 'Error', message: hint ? `${errorText(error)}. ${hint}` : errorText(error) };
	}
}

const STORAGE_CLASSES = ['STANDARD', 'INTELLIGENT_TIERING', 'STANDARD_IA', 'ONEZONE_IA', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE', 'REDUCED_REDUNDANCY'];

const storageClassOption: INodeProperties = {
	displayName: 'S3 Storage Class',
	name: 's3StorageClass',
	type: 'options',
	options: [{ name: "Bucket's Default", value: '' }, ...STORAGE_CLASSES.map((value) => ({ name: value, value }))],
	default: '',
	description: 'Storage class of the objects written to S3 (AWS names; other services accept STANDARD, some more)',
};

const credential = { type: new CloudSyncS3Api(), test: { method: 'testS3Key', run: testKey } };

export const s3: CloudDescriptor = {
	value: 's3',
	option: { name: 'S3 (AWS, R2, B2, Wasabi, MinIO)', description: 'A bucket, or a folder (prefix) in one, on Amazon S3 or an S3-compatible service' },
	label: LABEL,
	phrase: 'S3-compatible storage',
	sides: ['source', 'destination', 'target'],
	credential,
	options: [storageClassOption],
	// The storage class is given to what is written: the destination only.
	optionsReadOn: ['destination'],
	deletions: { byDefault: 'S3 deletes objects for good unless versioning is on for the bucket', deletePermanently: false },
	folderSearch: { method: SEARCH_METHOD, search: (signIn, filter) => searchFolders(signIn, filter) },

	folderFields: (side, sideLabel) => [
		{
			displayName: `${sideLabel} Bucket and Folder`,
			name: `${side}S3Folder`,
			type: 'resourceLocator',
			default: { mode: 'path', value: '' },
			required: true,
			description: 'The bucket, then the folder (key prefix) inside it, such as backups/laptop; the bucket must exist',
			modes: [
				{
					displayName: 'From List',
					name: 'list',
					type: 'list',
					placeholder: 'Select a bucket, then type "bucket/" for its folders...',
					typeOptions: { searchListMethod: SEARCH_METHOD, searchable: true },
				},
				{ displayName: 'By Path', name: 'path', type: 'string', placeholder: 'my-bucket/backups/laptop' },
			],
		},
	],

	async open({ context, side, itemIndex }) {
		const folder = pickedFolder(context, side, itemIndex, { parameter: `${side}S3Folder`, cloud: LABEL, top: 'a bucket' });
		const { bucket, prefix } = bucketAndPrefix(folder);
		// Read before signing in, so that it is read on every run that shows it, whatever the sign-in does.
		const storageClass = side === 'destination' ? parameter<{ s3StorageClass?: string }>(context, 'options', itemIndex, {}).s3StorageClass || undefined : undefined;
		const connection = s3Connection(await cloudCredential(context, { label: LABEL, credential }, itemIndex, side));
		const provider = await S3Provider.open({ ...connection, bucket, prefix, storageClass });
		return { provider, label: `${LABEL}:${bucket}/${prefix}` };
	},
};
