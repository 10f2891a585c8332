import { tmpdir } from 'node:os';
import type { IDataObject, INodeParameters } from 'n8n-workflow';
import { MemoryStateStore, twoWaySync, type TwoWayOptions, type TwoWayReport } from '../../lib';
import { CloudSync } from '../../nodes/CloudSync/CloudSync.node';
import { CloudSyncDropboxOAuth2Api } from '../../credentials/CloudSyncDropboxOAuth2Api.credentials';
import { CloudSyncGoogleDriveOAuth2Api } from '../../credentials/CloudSyncGoogleDriveOAuth2Api.credentials';
import { CloudSyncMicrosoftOneDriveOAuth2Api } from '../../credentials/CloudSyncMicrosoftOneDriveOAuth2Api.credentials';
import { CloudSyncS3Api } from '../../credentials/CloudSyncS3Api.credentials';
import { CloudSyncAppleIdApi } from '../../credentials/CloudSyncAppleIdApi.credentials';
import { CloudSyncWebDavApi } from '../../credentials/CloudSyncWebDavApi.credentials';
import { fixtureCredentialTypes } from '../nodes/fixtures/credentials';
import { fixtureNodeTypes } from '../nodes/fixtures/nodes';
import { cloudSync, workflow } from '../nodes/fixtures/workflow';
import { disposeHarness, outputItems, runWorkflow } from '../nodes/harness';
import { removeTempDirs } from './trees';
import { quickPacer } from './dropbox';
import type { Pair } from './sides';

/**
 * For test files that run the node on the temporary folders of `sides.ts`: n8n lets nodes open only
 * folders inside its file-access folder, here the system's temp folder; the harness and the folders
 * are cleaned up after the file.
 */
export function runNodesOnTempFolders(): void {
	process.env.N8N_RESTRICT_FILE_ACCESS_TO = tmpdir();
	afterAll(async () => {
		disposeHarness();
		await removeTempDirs();
	});
}

/** What a scenario may ask of a run, whichever way it is driven. */
export type RunOptions = Pick<TwoWayOptions, 'conflict' | 'resync' | 'force' | 'backupDir' | 'dryRun'>;

/** A report as the scenarios read it: the engine's own, or rebuilt from the node's output items. */
export type Outcome = Pick<TwoWayReport, 'status' | 'firstRun' | 'toDestination' | 'toSource' | 'conflicts' | 'bytes' | 'baselineSaved' | 'baselineFiles' | 'startedAt'> & {
	actions: Array<{ kind: string; side: string; path: string; status: string }>;
};

export interface Driver {
	run(options?: RunOptions): Promise<Outcome>;
	/** The saved state, to tell whether a run moved it. */
	saved(): string | undefined;
}

export type DriverFactory = (pair: Pair, now: number) => Driver;

/** `twoWaySync` itself, with the state in memory and a fixed clock. */
export const engineDriver: DriverFactory = (pair, now) => {
	const state = new MemoryStateStore();
	return {
		run: (options = {}) => twoWaySync(pair.source, pair.destination, { state, pair: 'test pair', lock: { settleMs: 0 }, pacer: quickPacer(), now: () => now, ...options }),
		saved: () => state.state,
	};
};

/**
 * One run of the Cloud Sync node on `pair` through n8n-core, as a production run ('trigger') starting
 * from `staticData`: its output items, and the static data n8n would save. A node error is thrown.
 */
export async function runCloudSyncNode(pair: Pair, parameters: INodeParameters, staticData: IDataObject = {}) {
	const result = await runWorkflow(workflow([cloudSync({ resource: 'folder', ...pair.parameters, ...parameters }, { credentials: pair.nodeCredentials })]), {
		nodeTypes: { ...fixtureNodeTypes, 'n8n-nodes-cloudsync.cloudSync': new CloudSync() },
		credentialTypes: [...fixtureCredentialTypes, new CloudSyncGoogleDriveOAuth2Api(), new CloudSyncDropboxOAuth2Api(), new CloudSyncMicrosoftOneDriveOAuth2Api(), new CloudSyncAppleIdApi(), new CloudSyncWebDavApi(), new CloudSyncS3Api()],
		credentials: pair.credentials ?? {},
		mode: 'trigger',
		staticData,
	});
	if (result.status !== 'success') throw new Error(`${result.error?.message} (${result.error?.description})`);
	// The summary is alone on the first output; per-file items, when asked for, on the second.
	const [summary] = outputItems(result, 'Cloud Sync').map((item) => item.json);
	const items = outputItems(result, 'Cloud Sync', 1).map((item) => item.json);
	return { summary, items, staticData: result.staticData };
}

/**
 * The Cloud Sync node in Two-Way mode through n8n-core, each run a production run ('trigger') that
 * starts from the static data the previous one saved, as a scheduled workflow does.
 */
export const nodeDriver: DriverFactory = (pair) => {
	let staticData: IDataObject = {};
	return {
		// The baseline, not the change cursors and the lock's memo kept beside it: those move with every run.
		saved: () => JSON.stringify(staticData, (key, value: unknown) => (key.startsWith('two-way-feed-') || key.startsWith('two-way-lock-') ? undefined : value)),
		run: async (options = {}) => {
			const run = await runCloudSyncNode(
				pair,
				{
					operation: options.dryRun ? 'diff' : 'sync',
					output: 'both',
					mode: 'twoWay',
					options: { conflict: options.conflict, resync: options.resync, force: options.force, backupDir: options.backupDir },
				},
				staticData,
			);
			staticData = run.staticData;
			const { summary, items } = run;
			return {
				status: summary.status,
				firstRun: summary.firstRun,
				toDestination: summary.toDestination,
				toSource: summary.toSource,
				conflicts: summary.conflicts,
				bytes: summary.bytes,
				baselineSaved: summary.stateSaved,
				baselineFiles: summary.stateFiles,
				startedAt: summary.startedAt,
				actions: items.map((item) => ({ ...item, kind: item.action })),
			} as Outcome;
		},
	};
};
