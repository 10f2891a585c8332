/* eslint-disable @typescript-eslint/no-require-imports -- a cached require() is how a CommonJS package loads a dependency on first use; see below */
/**
 * The cloud SDKs, each loaded on its provider's first use instead of with lib/index.
 *
 * Loaded up front they cost every process that imports this package about 40 MiB of RSS and a few
 * hundred ms before any work (`npm run bench -- --case footprint`): the AWS S3 client about 27 MiB,
 * whichever clouds the run uses (Google Drive, once @googleapis/drive at about 21 MiB, now has a thin
 * client of its own: providers/driveApi.ts; WebDAV, once htmlparser2 at about 14 MiB, reads its XML
 * itself). An n8n worker loads the nodes, hence this package, whether or not a workflow uses any of
 * these clouds, and a sync between two local folders needs none of them. Provider files import only
 * the SDKs' types and call these functions where they need a value; the first call loads the module,
 * the next ones get Node's cached copy.
 */
import type * as DropboxSdk from 'dropbox';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type * as SmithyEndpoints from '@smithy/core/endpoints';
import type * as SmithySigner from '@smithy/signature-v4';

/** The module `load` returns, loaded at the first call and kept (calls on every request stay a field read). */
function onFirstUse<Module>(load: () => Module): () => Module {
	let loaded: Module | undefined;
	return () => (loaded ??= load());
}

export const dropboxSdk = onFirstUse((): typeof DropboxSdk => require('dropbox'));
export const s3Sdk = onFirstUse((): typeof S3Sdk => require('@aws-sdk/client-s3'));
/** The S3 client's own endpoint rules and SigV4 signer, for the requests sent past its middleware (providers/s3Direct.ts). */
export const smithyEndpoints = onFirstUse((): typeof SmithyEndpoints => require('@smithy/core/endpoints'));
export const smithySigner = onFirstUse((): typeof SmithySigner => require('@smithy/signature-v4'));
