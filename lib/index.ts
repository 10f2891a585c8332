export type { Capabilities, Change, ChangeKind, ChangePage, Entry, HashType, Hashes, ListOptions, Provider, ReadOptions, WriteOptions } from './types';
export { HASH_TYPES } from './types';
export * from './errors';
export { normalizeRelativePath, matchKey, joinPath, parentPath, baseName } from './paths';
export { createHasher, hashStream, measure, MeasuringStream, sameHash } from './hashing';
export { createFilter, includes, FilterError, SYSTEM_FILES, type Filter, type FilterOptions } from './filters';
export {
	plan,
	planMatches,
	matchListings,
	compareFiles,
	needsHashes,
	type ActionKind,
	type CompareMode,
	type Match,
	type Plan,
	type PlanAction,
	type PlanOptions,
	type SyncMode,
} from './planner';
export { execute, verificationHash, type RunSettings, type ActionResult, type ExecuteOptions, type ExecutionReport, type Progress } from './executor';
export { Pacer, classifyError, parseRetryAfter, type PacerOptions } from './pacer';
export { sync, listAll, listPaths, safetyRefusal, INCREMENTAL_MAX_DELETES, comparableHash, type SyncOptions, type SyncReport, type SyncStatus } from './sync';
export { LocalProvider, type LocalProviderOptions } from './providers/local';
export { DropboxProvider, type DropboxProviderOptions, type DropboxCredentials } from './providers/dropbox';
export {
	GoogleDriveProvider,
	type GoogleDriveProviderOptions,
	type GoogleDriveOAuth,
	type GoogleDriveServiceAccount,
	type GoogleDocsMode,
	type GoogleDocsFormat,
} from './providers/drive';
export { twoWaySync, type ConflictPolicy, type TwoWayOptions, type TwoWayReport, type TwoWayAction, type ConflictResult, type DirectionCounts, type Side } from './twoWay';
export { encodeBaseline, decodeBaseline, pairId, readText, MemoryStateStore, ProviderStateStore, StateError, type Baseline, type BaselineEntry, type StateStore } from './state';
export { PairLock, LockedError, type LockOptions } from './lock';
export { STATE_FOLDER } from './filters';
export { withSuffix, backupPath, fileStamp } from './paths';
export { snapshotBackup, type SnapshotKind, type SnapshotOptions, type SnapshotReport } from './snapshot';
