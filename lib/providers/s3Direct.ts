import type { IncomingMessage } from 'node:http';
import type { HeadObjectCommandOutput, PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import type { SignatureV4 } from '@smithy/signature-v4';
import { readWhole } from '../core/streams';
import { s3Sdk, smithyEndpoints, smithySigner } from './kit';

/** What a HEAD tells of an object, as the SDK's HeadObject output names it. */
export type ObjectHead = Pick<HeadObjectCommandOutput, 'ContentLength' | 'Metadata' | 'ETag' | 'ContentType' | 'LastModified'>;

/** What a PUT's answer tells: the ETag to check, and whether encryption makes it no MD5. */
export interface PutAnswer {
	ETag?: string;
	ServerSideEncryption?: string;
	SSECustomerAlgorithm?: string;
}

export type PutParams = Pick<PutObjectCommandInput, 'Key' | 'Metadata' | 'StorageClass'>;

/**
 * From this body size on, the SDK asks for `Expect: 100-continue` [code] @aws-sdk/middleware-sdk-s3
 * resolveS3Config (expectContinueHeader, 2,097,152 by default): larger bodies keep going through the SDK.
 */
const EXPECT_CONTINUE_BYTES = 2_097_152;
/** A clock off by this much makes the SDK correct its signing dates [code] @aws-sdk/core getUpdatedSystemClockOffset. */
const CLOCK_SKEW_MS = 300_000;
/** Error answers are S3's short XML; more than this is no S3 error. */
const MAX_ANSWER_BYTES = 1024 * 1024;

type SignableRequest = Parameters<SignatureV4['sign']>[0];
interface HandledResponse {
	statusCode: number;
	headers: Record<string, string>;
	body: IncomingMessage;
}
interface RequestHandler {
	handle(request: SignableRequest, options?: { abortSignal?: AbortSignal }): Promise<{ response: HandledResponse }>;
}
interface ClientConfig {
	requestHandler: RequestHandler;
	systemClockOffset?: number;
	sha256: ConstructorParameters<typeof SignatureV4>[0]['sha256'];
}

/** Where an operation on this bucket goes and how it is signed, as the SDK's endpoint rules resolve it. */
interface Target {
	protocol: string;
	hostname: string;
	port?: number;
	/** The bucket's path ('' for virtual-hosted addressing, '/bucket' for path-style), without the key. */
	basePath: string;
	signer: SignatureV4;
	signingRegion: string;
	signingService: string;
}

/** A key as the SDK puts it in a path ("{Key+}"): each segment URI-encoded, '/' kept, and !'()* too [code] @smithy/core extendedEncodeURIComponent. */
export function encodeKeyPath(key: string): string {
	return key
		.split('/')
		.map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
		.join('/');
}

const xmlValue = (xml: string, name: string) => {
	const value = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
	return value?.replace(/&(lt|gt|quot|apos|amp);/g, (_, entity: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[entity]!);
};

/**
 * The per-file requests of a sync (HEAD for the stored modification time, PUT of a small file) sent
 * past the SDK's middleware: built, signed with the SDK's own SigV4 signer (`@smithy/signature-v4`,
 * as the client configures it for S3: no double escaping, payload SHA-256 signed), and sent through
 * the client's own request handler (its keep-alive agent, timeouts and network errors). The SDK spent
 * about 1 ms of CPU per request on its middleware (endpoint parameters, copies of its config in the
 * serialisers, a new signer per request, the response collected to look for an error), and most of
 * what outlived V8's young collections in a sync of many small files. A failed answer becomes the
 * S3ServiceException the SDK would throw (same name, message, status and headers), so that errors map,
 * and the pacer retries, exactly as for every other call.
 *
 * What the SDK does differently for other cases stays the SDK's: a body of 2 MiB or more (it asks for
 * 100-continue), an endpoint that is not plain SigV4 (S3 Express, multi-region access points) or adds
 * headers of its own, and a bucket name the SDK refuses.
 */
export class DirectS3 {
	private readonly targets = new Map<'HeadObject' | 'PutObject', Promise<Target | undefined>>();
	/** The keys the client signs with (`s3Client` gives it the connection's, as they are). */
	private readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

	constructor(
		private readonly client: S3Client,
		private readonly bucket: string,
		{ accessKeyId, secretAccessKey, sessionToken }: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
	) {
		this.credentials = { accessKeyId, secretAccessKey, sessionToken: sessionToken || undefined };
	}

	private get config(): ClientConfig {
		return this.client.config as unknown as ClientConfig;
	}

	async head(Key: string, abortSignal?: AbortSignal): Promise<ObjectHead> {
		const target = await this.target('HeadObject', Key);
		if (!target) {
			const { HeadObjectCommand } = s3Sdk();
			return this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
		}
		const response = await this.send(target, 'HEAD', Key, {}, {}, undefined, abortSignal);
		response.body.resume();
		const headers = response.headers;
		const Metadata: Record<string, string> = {};
		for (const name in headers) if (name.startsWith('x-amz-meta-')) Metadata[name.slice('x-amz-meta-'.length)] = headers[name];
		const length = headers['content-length'];
		const modified = headers['last-modified'];
		return {
			ContentLength: length === undefined ? undefined : Number(length),
			ETag: headers.etag,
			ContentType: headers['content-type'],
			LastModified: modified === undefined ? undefined : new Date(modified),
			Metadata,
		};
	}

	async put(params: PutParams & { Key: string }, Body: Buffer, abortSignal?: AbortSignal): Promise<PutAnswer> {
		const target = Body.length < EXPECT_CONTINUE_BYTES ? await this.target('PutObject', params.Key) : undefined;
		if (!target) {
			const { PutObjectCommand } = s3Sdk();
			return this.client.send(new PutObjectCommand({ ...params, Bucket: this.bucket, Body, ContentLength: Body.length }));
		}
		// The headers the SDK's serialiser makes of these fields, in its order.
		const headers: Record<string, string> = { 'content-length': String(Body.length) };
		for (const [name, value] of Object.entries(params.Metadata ?? {})) headers[`x-amz-meta-${name.toLowerCase()}`] = value;
		if (params.StorageClass) headers['x-amz-storage-class'] = params.StorageClass;
		headers['content-type'] = 'application/octet-stream';
		const response = await this.send(target, 'PUT', params.Key, headers, { 'x-id': 'PutObject' }, Body, abortSignal);
		// The answer has no body; reading it to its end frees the connection, and a connection cut
		// before the end fails here as it fails the SDK's collection of it.
		await readWhole(response.body, MAX_ANSWER_BYTES);
		return {
			ETag: response.headers.etag,
			ServerSideEncryption: response.headers['x-amz-server-side-encryption'],
			SSECustomerAlgorithm: response.headers['x-amz-server-side-encryption-customer-algorithm'],
		};
	}

	/** The operation's endpoint, resolved once; undefined when the SDK must send it (see the class). */
	private target(operation: 'HeadObject' | 'PutObject', Key: string): Promise<Target | undefined> {
		let target = this.targets.get(operation);
		if (!target) {
			target = this.resolve(operation, Key);
			this.targets.set(operation, target);
		}
		return target;
	}

	private async resolve(operation: 'HeadObject' | 'PutObject', Key: string): Promise<Target | undefined> {
		// The SDK refuses such names before sending anything [code] @aws-sdk/middleware-sdk-s3 validateBucketNameMiddleware.
		if (this.bucket.includes('/')) return undefined;
		const sdk = s3Sdk();
		const command = operation === 'HeadObject' ? sdk.HeadObjectCommand : sdk.PutObjectCommand;
		try {
			// The rules the SDK's endpoint middleware runs, with this client's configuration (region, endpoint, path style).
			const endpoint = await smithyEndpoints().getEndpointFromInstructions({ Bucket: this.bucket, Key }, command, this.client.config);
			const schemes = (endpoint.properties?.authSchemes ?? []) as Array<{ name?: string; signingName?: string; signingRegion?: string }>;
			const scheme = schemes[0];
			if (scheme?.name !== 'sigv4' || Object.keys(endpoint.headers ?? {}).length > 0) return undefined;
			const region = scheme.signingRegion ?? (await this.client.config.region());
			const service = scheme.signingName ?? 's3';
			const { SignatureV4 } = smithySigner();
			// As the S3 client makes its signer: S3 paths are not escaped a second time, and the payload's SHA-256 is sent and signed.
			const signer = new SignatureV4({ credentials: this.credentials, region, service, sha256: this.config.sha256, uriEscapePath: false, applyChecksum: true });
			const url = endpoint.url;
			return {
				protocol: url.protocol,
				hostname: url.hostname,
				port: url.port ? Number(url.port) : undefined,
				basePath: url.pathname.replace(/\/$/, ''),
				signer,
				signingRegion: region,
				signingService: service,
			};
		} catch {
			// Whatever the SDK makes of this configuration, it makes at each call, with its own error.
			return undefined;
		}
	}

	private async send(
		target: Target,
		method: string,
		key: string,
		headers: Record<string, string>,
		query: Record<string, string>,
		body: Buffer | undefined,
		abortSignal: AbortSignal | undefined,
	): Promise<HandledResponse> {
		const host = target.port === undefined ? target.hostname : `${target.hostname}:${target.port}`;
		const request: SignableRequest = {
			method,
			protocol: target.protocol,
			hostname: target.hostname,
			port: target.port,
			path: `${target.basePath}/${encodeKeyPath(key)}`,
			query,
			headers: { ...headers, host, 'user-agent': 'n8n-nodes-cloudsync' },
			body,
		};
		const signed = await target.signer.sign(request, {
			signingDate: new Date(Date.now() + (this.config.systemClockOffset ?? 0)),
			signingRegion: target.signingRegion,
			signingService: target.signingService,
		});
		const { response } = await this.config.requestHandler.handle(signed, { abortSignal });
		this.correctClock(response.headers.date);
		if (response.statusCode >= 200 && response.statusCode < 300) return response;
		throw await this.serviceException(response, method === 'HEAD');
	}

	/** The SDK keeps its signing dates within 5 minutes of the server's clock, learnt from each answer's Date. */
	private correctClock(date: string | undefined): void {
		const serverTime = date === undefined ? Number.NaN : Date.parse(date);
		if (Number.isNaN(serverTime)) return;
		const offset = this.config.systemClockOffset ?? 0;
		if (Math.abs(serverTime - (Date.now() + offset)) >= CLOCK_SKEW_MS) this.config.systemClockOffset = serverTime - Date.now();
	}

	/**
	 * The error the SDK throws for this answer [code] @aws-sdk/core AwsRestXmlProtocol.handleError,
	 * loadRestXmlErrorCode: the name is the XML's Code, or NotFound for a 404 without one, or Unknown;
	 * the message the XML's Message, or UnknownError.
	 */
	private async serviceException(response: HandledResponse, bodiless: boolean): Promise<Error> {
		const { S3ServiceException } = s3Sdk();
		const xml = bodiless ? '' : (await readWhole(response.body, MAX_ANSWER_BYTES)).toString('utf8');
		if (bodiless) response.body.resume();
		const code = xmlValue(xml, 'Code') ?? (response.statusCode === 404 ? 'NotFound' : 'Unknown');
		const error = new S3ServiceException({
			name: code,
			$fault: response.statusCode < 500 ? 'client' : 'server',
			message: xmlValue(xml, 'Message') ?? 'UnknownError',
			$metadata: {
				httpStatusCode: response.statusCode,
				requestId: response.headers['x-amz-request-id'] ?? xmlValue(xml, 'RequestId'),
				extendedRequestId: response.headers['x-amz-id-2'],
				cfId: response.headers['x-amz-cf-id'],
				attempts: 1,
				totalRetryDelay: 0,
			},
		});
		Object.defineProperty(error, '$response', { value: { statusCode: response.statusCode, headers: response.headers }, enumerable: false });
		return error;
	}
}
