/** What every cloud provider is built on, so that each provider file holds only its cloud's protocol. */
export { Remote, OAuthTokens, SignInError, type RemoteOptions, type TokenSource } from './remote';
export { ChunkReader, SliceStream, bodyStream, emptyStream, lazyStream } from './streams';
export { DirCache, insideOrSame } from './dirCache';
export { CommitBatcher, type BatchOptions, type Ticket } from './batcher';
export { ParentsFirst } from './parentsFirst';
export { BINARY, mimeTypeFor } from './mime';
export { walkInOrder, type WalkOptions } from './walkOrder';
export { UploadSessions, uploadIdentity, type UploadSessionsOptions } from './uploads';
export { googleDriveSdk, dropboxSdk, s3Sdk, s3UploadSdk, htmlParserSdk } from './sdks';
export { bufferFetch } from './bufferFetch';
