export type { Capabilities, Change, ChangeKind, ChangePage, Entry, HashType, Hashes, ListOptions, Provider, ReadOptions, WriteOptions, UploadIdentity, SavedUpload, UploadSessionStore } from './core/types';
export { UploadSessions, type UploadSessionsOptions } from './state/uploads';
export { HASH_TYPES } from './core/types';
export * from './core/errors';
export { normalizeRelativePath, matchKey, joinPath, parentPath, baseName } from './core/paths';
export { createHasher, hashStream, measure, MeasuringStream, sameHash } from './core/hashing';
export { createFilter, includes, FilterError, SYSTEM_FILES, type Filter, type FilterOptions } from './core/filters';
export {
	plan,
	compareFiles,
	needsHashes,
	PlanBuilder,
	DEFAULT_ITEM_LIMIT,
	type ActionKind,
	type CompareMode,
	type Match,
	type Plan,
	type PlanAction,
	type PlanOptions,
	type SyncMode,
} from './engine/planner';
export { execute, verificationHash, type RunSettings, type ActionResult, type ExecuteOptions, type ExecutionReport, type Progress } from './engine/executor';
export { Pacer, classifyError, parseRetryAfter, type PacerOptions } from './core/pacer';
export { sync, safetyRefusal, INCREMENTAL_MAX_DELETES, type SyncOptions, type SyncReport } from './modes/oneWay';
export { listAll, listPaths, comparableHash, WalkListing, type Listing, type SyncStatus } from './engine/listing';
export { marchListings, marchGroups } from './engine/march';
export { compareWalkOrder, walkKey } from './core/walkOrder';
export { SpillDir, SpillQueue, ExternalSorter, DEFAULT_MEMORY_LIMIT } from './core/spill';
export { explain, failureOf, type Failure } from './engine/failures';
export type { RunReport } from './engine/run';
export { LocalProvider, type LocalProviderOptions } from './providers/local';
export { DropboxProvider, type DropboxProviderOptions, type DropboxCredentials } from './providers/dropbox';
export {
	OneDriveProvider,
	mapGraphError,
	type OneDriveProviderOptions,
	type OneDriveCredentials,
	ONEDRIVE_SCOPE,
	SHAREPOINT_SCOPE,
} from './providers/onedrive';
export { WebDavProvider, mapWebDavError, type WebDavProviderOptions, type WebDavVendor } from './providers/webdav';
export {
	GoogleDriveProvider,
	type GoogleDriveProviderOptions,
	type GoogleDriveOAuth,
	type GoogleDriveServiceAccount,
	type GoogleDocsMode,
	type GoogleDocsFormat,
} from './providers/drive';
export { twoWaySync, type ConflictPolicy, type TwoWayOptions, type TwoWayReport, type TwoWayAction, type ConflictResult, type DirectionCounts, type Side } from './modes/twoWay';
export {
	encodeBaseline,
	decodeBaseline,
	openBaseline,
	BaselineWriter,
	pairId,
	readText,
	MemoryStateStore,
	ProviderStateStore,
	FileStateStore,
	PointerStateStore,
	StateError,
	type Baseline,
	type BaselineEntry,
	type BaselineReader,
	type StateStore,
} from './state/state';
export { settingsHash, type FeedOptions, type ListingChoice } from './engine/changes';
export { PairLock, LockedError, type LockOptions } from './state/lock';
export { STATE_FOLDER } from './core/filters';
export { withSuffix, backupPath, fileStamp } from './core/paths';
export { snapshotBackup, type SnapshotKind, type SnapshotOptions, type SnapshotReport } from './modes/snapshot';
// What the nodes' cloud descriptors need besides the providers: the local folder rules, and what their folder pickers call the clouds with.
export { OutsideAllowedFoldersError, type LocalRootRules } from './providers/local';
export { escapeQuery as escapeDriveQuery, FOLDER_MIME as DRIVE_FOLDER_MIME, mapDriveError, openDriveApi } from './providers/drive';
export type { DriveApi } from './providers/driveApi';
export { redirectingFetch as dropboxRedirectingFetch, isDropboxResponseError } from './providers/dropbox';
// The SDKs load on first use (see kit/sdks.ts): the nodes' folder pickers call them through these too.
export { dropboxSdk } from './providers/kit/sdks';
export { S3Provider, S3_PRESETS, S3_MTIME_KEY, S3_MD5_KEY, mapS3Error, type S3Connection, type S3Preset, type S3ProviderOptions } from './providers/s3';
export {
	appleEndpoints,
	beginSignIn,
	completeSignIn,
	openSession as openICloudSession,
	trustDaysLeft,
	ICloudSignInError,
	TRUST_DAYS as ICLOUD_TRUST_DAYS,
	type AppleEndpoints,
	type AppleIdOptions,
	type PendingSignIn,
	type SignInProblem,
	type SignInStart,
} from './providers/icloud/auth';
export type { ICloudSession, SavedSession as ICloudSavedSession, WebService as ICloudWebService } from './providers/icloud/session';
export { ICloudDriveProvider, mapICloudError, type ICloudDriveProviderOptions } from './providers/icloudDrive';
export {
	ICloudPhotosProvider,
	ReadOnlySourceError,
	mapCloudKitError,
	forgetICloudPhotosLibraries,
	type ICloudPhotosProviderOptions,
	type PhotosLayout,
	type PhotosLibrary,
} from './providers/icloudPhotos';
export {
	GooglePhotosLibrary,
	GOOGLE_PHOTOS_SCOPES,
	MAX_ITEMS_PER_CREATE,
	ALBUM_CAPACITY,
	photosRefusal,
	photosMediaType,
	mapPhotosError,
	isDailyQuota,
	type GooglePhotosOptions,
	type GooglePhotosCredentials,
	type PhotosAlbum,
	type PhotosMediaItem,
	type NewMediaItem,
	type CreateResult,
} from './providers/googlePhotos';
export { addToGooglePhotos, productUrlOf, type AddToPhotosOptions, type AddToPhotosReport, type PhotoResult, type PhotoLibrary } from './modes/addToPhotos';
export { encodeLedger, decodeLedger, emptyLedger, describeSource, sourceOfDescription, type Ledger, type LedgerEntry, type PendingUpload } from './state/ledger';
export type { Paced } from './engine/run';
