/** What every cloud provider is built on, so that each provider file holds only its cloud's protocol. */
export { Remote, OAuthTokens, SignInError, type RemoteOptions, type TokenSource } from './remote';
export { RefreshGrant, type RefreshGrantOptions } from './oauth';
export { ChunkReader, SliceStream, bodyStream, emptyStream, lazyStream } from './streams';
export { spool, type Spooled } from '../../core/spool';
export { DirCache, insideOrSame } from './dirCache';
export { CommitBatcher, type BatchOptions, type Ticket } from './batcher';
export { ParentsFirst } from './parentsFirst';
export { BINARY, mimeTypeFor } from './mime';
export { walkInOrder, type WalkOptions } from './walkOrder';
export { ResumableUploads, piecedSession, type PiecedSession, type ResumeSteps } from './resume';
export { dropboxSdk, s3Sdk, smithyEndpoints, smithySigner } from './sdks';
export { answerOf, bufferFetch, nodeBodyOf, NO_HEADERS } from './bufferFetch';
export { requestSignal } from './requestSignal';
export { PooledBody } from './pooledBody';
