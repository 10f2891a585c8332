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
export { ERRORS_KEPT, execute, verificationHash, type RunSettings, type ActionResult, type ExecuteOptions, type ExecutionReport, type Progress } from './engine/executor';
export { Pacer, classifyError, parseRetryAfter, type PacerOptions } from './core/pacer';
export { sync, safetyRefusal, INCREMENTAL_MAX_DELETES, type SyncOptions, type SyncReport } from './modes/oneWay';
export { listAll, listPaths, comparableHash, WalkListing, type Listing, type SyncStatus } from './engine/listing';
export { marchListings, marchGroups } from './engine/march';
export { compareWalkOrder, walkKey } from './core/walkOrder';
export { SpillDir, SpillQueue, ExternalSorter, DEFAULT_MEMORY_LIMIT } from './core/spill';
export { explain, failureOf, type Failure } from './engine/failures';
export type { RunReport } from './engine/run';
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
export { encodeLedger, decodeLedger, emptyLedger, describeSource, sourceOfDescription, type Ledger, type LedgerEntry, type PendingUpload } from './state/ledger';
export type { Paced } from './engine/run';
/*
 * The providers and what comes with them load on first use, not with this file: each is a module
 * required when one of its exports is first read (`new DropboxProvider(…)`, `S3_PRESETS`…), so a
 * sync between two local folders loads no cloud's code, and an n8n worker only the clouds its
 * workflows use. The SDKs behind them load later still (providers/kit/sdks.ts). `npm run bench --
 * --case footprint` prints what lib/index costs a fresh process. Each value is declared with its
 * type here (and each class as a type too) and defined below by `exportOnFirstUse`; the test in
 * test/unit/index.test.ts checks that every declared name is there when read.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- a require() in a getter is how a CommonJS module loads another on first use */

/**
 * Defines each name on this module's exports as a getter that requires the module `load` returns
 * and then leaves the value in its place (later reads are a plain property read). `renamed` maps a
 * name exported here to the module's own name for it.
 */
function exportOnFirstUse<Module>(load: () => Module, names: ReadonlyArray<keyof Module & string>, renamed: Record<string, keyof Module & string> = {}): void {
	const pairs: Array<[string, keyof Module & string]> = [...names.map((name): [string, keyof Module & string] => [name, name]), ...Object.entries(renamed)];
	for (const [exported, name] of pairs) {
		Object.defineProperty(exports, exported, {
			enumerable: true,
			configurable: true,
			get() {
				const value = load()[name];
				Object.defineProperty(exports, exported, { enumerable: true, value });
				return value;
			},
		});
	}
}

import type * as Local from './providers/local';
export type { LocalProviderOptions, LocalRootRules } from './providers/local';
export declare const LocalProvider: typeof Local.LocalProvider;
export type LocalProvider = Local.LocalProvider;
// The nodes' local folder rules.
export declare const OutsideAllowedFoldersError: typeof Local.OutsideAllowedFoldersError;
export type OutsideAllowedFoldersError = Local.OutsideAllowedFoldersError;
exportOnFirstUse((): typeof Local => require('./providers/local'), ['LocalProvider', 'OutsideAllowedFoldersError']);

import type * as Dropbox from './providers/dropbox';
export type { DropboxProviderOptions, DropboxCredentials } from './providers/dropbox';
export declare const DropboxProvider: typeof Dropbox.DropboxProvider;
export type DropboxProvider = Dropbox.DropboxProvider;
// What the nodes' folder pickers call Dropbox with.
export declare const dropboxRedirectingFetch: typeof Dropbox.redirectingFetch;
export declare const isDropboxResponseError: typeof Dropbox.isDropboxResponseError;
exportOnFirstUse((): typeof Dropbox => require('./providers/dropbox'), ['DropboxProvider', 'isDropboxResponseError'], { dropboxRedirectingFetch: 'redirectingFetch' });

import type * as OneDrive from './providers/onedrive';
export type { OneDriveProviderOptions, OneDriveCredentials } from './providers/onedrive';
export declare const OneDriveProvider: typeof OneDrive.OneDriveProvider;
export type OneDriveProvider = OneDrive.OneDriveProvider;
export declare const mapGraphError: typeof OneDrive.mapGraphError;
export declare const ONEDRIVE_SCOPE: typeof OneDrive.ONEDRIVE_SCOPE;
export declare const SHAREPOINT_SCOPE: typeof OneDrive.SHAREPOINT_SCOPE;
exportOnFirstUse((): typeof OneDrive => require('./providers/onedrive'), ['OneDriveProvider', 'mapGraphError', 'ONEDRIVE_SCOPE', 'SHAREPOINT_SCOPE']);

import type * as WebDav from './providers/webdav';
export type { WebDavProviderOptions, WebDavVendor } from './providers/webdav';
export declare const WebDavProvider: typeof WebDav.WebDavProvider;
export type WebDavProvider = WebDav.WebDavProvider;
export declare const mapWebDavError: typeof WebDav.mapWebDavError;
exportOnFirstUse((): typeof WebDav => require('./providers/webdav'), ['WebDavProvider', 'mapWebDavError']);

import type * as Drive from './providers/drive';
export type { GoogleDriveProviderOptions, GoogleDriveOAuth, GoogleDriveServiceAccount, GoogleDocsMode, GoogleDocsFormat } from './providers/drive';
export declare const GoogleDriveProvider: typeof Drive.GoogleDriveProvider;
export type GoogleDriveProvider = Drive.GoogleDriveProvider;
// What the nodes' folder pickers call Drive with.
export declare const escapeDriveQuery: typeof Drive.escapeQuery;
export declare const DRIVE_FOLDER_MIME: typeof Drive.FOLDER_MIME;
export declare const mapDriveError: typeof Drive.mapDriveError;
export declare const openDriveApi: typeof Drive.openDriveApi;
export type { DriveApi } from './providers/driveApi';
exportOnFirstUse((): typeof Drive => require('./providers/drive'), ['GoogleDriveProvider', 'mapDriveError', 'openDriveApi'], {
	escapeDriveQuery: 'escapeQuery',
	DRIVE_FOLDER_MIME: 'FOLDER_MIME',
});

import type * as Sdks from './providers/kit/sdks';
// The SDKs themselves load at the first call of these (the nodes' folder pickers call them too).
export declare const dropboxSdk: typeof Sdks.dropboxSdk;
exportOnFirstUse((): typeof Sdks => require('./providers/kit/sdks'), ['dropboxSdk']);

import type * as S3 from './providers/s3';
export type { S3Connection, S3Preset, S3ProviderOptions } from './providers/s3';
export declare const S3Provider: typeof S3.S3Provider;
export type S3Provider = S3.S3Provider;
export declare const S3_PRESETS: typeof S3.S3_PRESETS;
export declare const S3_MTIME_KEY: typeof S3.S3_MTIME_KEY;
export declare const S3_MD5_KEY: typeof S3.S3_MD5_KEY;
export declare const mapS3Error: typeof S3.mapS3Error;
exportOnFirstUse((): typeof S3 => require('./providers/s3'), ['S3Provider', 'S3_PRESETS', 'S3_MTIME_KEY', 'S3_MD5_KEY', 'mapS3Error']);

import type * as ICloudAuth from './providers/icloud/auth';
export type { AppleEndpoints, AppleIdOptions, PendingSignIn, SignInProblem, SignInStart } from './providers/icloud/auth';
export type { ICloudSession, SavedSession as ICloudSavedSession, WebService as ICloudWebService } from './providers/icloud/session';
export declare const appleEndpoints: typeof ICloudAuth.appleEndpoints;
export declare const beginSignIn: typeof ICloudAuth.beginSignIn;
export declare const completeSignIn: typeof ICloudAuth.completeSignIn;
export declare const openICloudSession: typeof ICloudAuth.openSession;
export declare const trustDaysLeft: typeof ICloudAuth.trustDaysLeft;
export declare const ICloudSignInError: typeof ICloudAuth.ICloudSignInError;
export type ICloudSignInError = ICloudAuth.ICloudSignInError;
export declare const ICLOUD_TRUST_DAYS: typeof ICloudAuth.TRUST_DAYS;
exportOnFirstUse((): typeof ICloudAuth => require('./providers/icloud/auth'), ['appleEndpoints', 'beginSignIn', 'completeSignIn', 'trustDaysLeft', 'ICloudSignInError'], {
	openICloudSession: 'openSession',
	ICLOUD_TRUST_DAYS: 'TRUST_DAYS',
});

import type * as ICloudDrive from './providers/icloudDrive';
export type { ICloudDriveProviderOptions } from './providers/icloudDrive';
export declare const ICloudDriveProvider: typeof ICloudDrive.ICloudDriveProvider;
export type ICloudDriveProvider = ICloudDrive.ICloudDriveProvider;
export declare const mapICloudError: typeof ICloudDrive.mapICloudError;
exportOnFirstUse((): typeof ICloudDrive => require('./providers/icloudDrive'), ['ICloudDriveProvider', 'mapICloudError']);

import type * as ICloudPhotos from './providers/icloudPhotos';
export type { ICloudPhotosProviderOptions, PhotosLayout, PhotosLibrary } from './providers/icloudPhotos';
export declare const ICloudPhotosProvider: typeof ICloudPhotos.ICloudPhotosProvider;
export type ICloudPhotosProvider = ICloudPhotos.ICloudPhotosProvider;
export declare const ReadOnlySourceError: typeof ICloudPhotos.ReadOnlySourceError;
export type ReadOnlySourceError = ICloudPhotos.ReadOnlySourceError;
export declare const mapCloudKitError: typeof ICloudPhotos.mapCloudKitError;
export declare const forgetICloudPhotosLibraries: typeof ICloudPhotos.forgetICloudPhotosLibraries;
exportOnFirstUse((): typeof ICloudPhotos => require('./providers/icloudPhotos'), ['ICloudPhotosProvider', 'ReadOnlySourceError', 'mapCloudKitError', 'forgetICloudPhotosLibraries']);

import type * as GooglePhotos from './providers/googlePhotos';
export type { GooglePhotosOptions, GooglePhotosCredentials, PhotosAlbum, PhotosMediaItem, NewMediaItem, CreateResult } from './providers/googlePhotos';
export declare const GooglePhotosLibrary: typeof GooglePhotos.GooglePhotosLibrary;
export type GooglePhotosLibrary = GooglePhotos.GooglePhotosLibrary;
export declare const GOOGLE_PHOTOS_SCOPES: typeof GooglePhotos.GOOGLE_PHOTOS_SCOPES;
export declare const MAX_ITEMS_PER_CREATE: typeof GooglePhotos.MAX_ITEMS_PER_CREATE;
export declare const ALBUM_CAPACITY: typeof GooglePhotos.ALBUM_CAPACITY;
export declare const photosRefusal: typeof GooglePhotos.photosRefusal;
export declare const photosMediaType: typeof GooglePhotos.photosMediaType;
export declare const mapPhotosError: typeof GooglePhotos.mapPhotosError;
export declare const isDailyQuota: typeof GooglePhotos.isDailyQuota;
exportOnFirstUse((): typeof GooglePhotos => require('./providers/googlePhotos'), [
	'GooglePhotosLibrary',
	'GOOGLE_PHOTOS_SCOPES',
	'MAX_ITEMS_PER_CREATE',
	'ALBUM_CAPACITY',
	'photosRefusal',
	'photosMediaType',
	'mapPhotosError',
	'isDailyQuota',
]);

// The Add to Google Photos mode comes with the Google Photos library it drives.
import type * as AddToPhotos from './modes/addToPhotos';
export type { AddToPhotosOptions, AddToPhotosReport, PhotoResult, PhotoLibrary } from './modes/addToPhotos';
export declare const addToGooglePhotos: typeof AddToPhotos.addToGooglePhotos;
export declare const productUrlOf: typeof AddToPhotos.productUrlOf;
exportOnFirstUse((): typeof AddToPhotos => require('./modes/addToPhotos'), ['addToGooglePhotos', 'productUrlOf']);
