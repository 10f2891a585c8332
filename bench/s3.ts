/**
 * Cases 10–12: our engine and rclone (Debian's 1.60, its s3 backend) alternately against one real S3
 * server on loopback: s3rver, run in this (the parent) process with its objects on disk, so that
 * neither side's figures include the server. rclone is configured by environment variables
 * (RCLONE_CONFIG_BENCHS3_*), with no config file. Each upload run writes into an empty prefix of its
 * own; the no-op case re-syncs the prefix its side filled.
 */
import type { DataSet } from './generate';
import { describeRun, expectSuccess, flushDisks, runOurs, runRclone, warmFiles, type Measured, type RcloneStats, type Tools } from './processes';
import { endpointArgument, type Endpoint } from './endpoints';
import { S3Provider } from '../lib/providers/s3';
import { startS3Server, type S3TestServer } from '../test/support/s3';
import type { Targets } from './figures';
import { printProfile, profileFlags } from './profile';

const BUCKET = 'bench';
const REMOTE = 'BENCHS3';

export interface S3Case {
	kind: 's3';
	id: number;
	name: string;
	/** Upload into an empty prefix each run, or re-sync the prefix a first upload filled. */
	step: 'upload' | 'noop';
	data: () => Promise<DataSet>;
	files: number;
	targets: Targets;
}

export interface S3Measured {
	ours: Measured[];
	rclone: Measured[];
}

let server: S3TestServer | undefined;

async function s3Server(): Promise<S3TestServer> {
	server ??= await startS3Server([BUCKET]);
	const { endpoint, connection } = server;
	// rclone's remote "benchs3:", from the environment its runs inherit [doc] rclone docs "Config file" (environment variables).
	Object.assign(process.env, {
		[`RCLONE_CONFIG_${REMOTE}_TYPE`]: 's3',
		[`RCLONE_CONFIG_${REMOTE}_PROVIDER`]: 'Other',
		[`RCLONE_CONFIG_${REMOTE}_ACCESS_KEY_ID`]: connection.accessKeyId,
		[`RCLONE_CONFIG_${REMOTE}_SECRET_ACCESS_KEY`]: connection.secretAccessKey,
		[`RCLONE_CONFIG_${REMOTE}_ENDPOINT`]: endpoint,
		[`RCLONE_CONFIG_${REMOTE}_REGION`]: 'us-east-1',
		[`RCLONE_CONFIG_${REMOTE}_FORCE_PATH_STYLE`]: 'true',
	});
	// rclone's AWS SDK refuses a custom CA bundle with rclone's own HTTP transport ("LoadCustomCABundleError"); the server is plain http.
	delete process.env.AWS_CA_BUNDLE;
	return server;
}

export async function stopS3Server(): Promise<void> {
	await server?.stop();
	server = undefined;
}

const ourEndpoint = (s3: S3TestServer, prefix: string): Endpoint => ({ kind: 's3', connection: s3.connection, bucket: BUCKET, prefix });

/** Removes a prefix between runs, from the parent (not measured). */
async function emptyPrefix(s3: S3TestServer, prefix: string): Promise<void> {
	const provider = await S3Provider.open({ ...s3.connection, bucket: BUCKET, prefix: '' });
	try {
		await provider.delete(prefix, { recursive: true });
	} catch {
		// Nothing there yet.
	}
	provider.client.destroy();
}

function expectRcloneTransfers(stats: RcloneStats, transfers: number): void {
	if (stats.transferred !== transfers) throw new Error(`rclone transferred ${stats.transferred} files, expected ${transfers}`);
}

/** Alternating runs (ours, rclone, ours, …) of one case; rclone's are left out when it is missing. */
export async function measureS3Case(bench: S3Case, runs: number, tools: Tools, rcloneFlags: string[], usageFile: string, profileDir?: string): Promise<S3Measured> {
	const data = await bench.data();
	const s3 = await s3Server();
	const ours: Measured[] = [];
	const rclone: Measured[] = [];
	const noop = bench.step === 'noop';
	const expected = noop ? 0 : bench.files;
	const prefixOf = (side: string, run: number) => (noop ? `case${bench.id}-${side}` : `case${bench.id}-${side}-run${run}`);
	if (!tools.rclone) console.log(`  rclone is missing (${tools.rcloneMissing}): our side only`);
	if (noop) {
		// The tree both no-op runs re-sync, uploaded once by each tool.
		expectSuccess((await runOurs(['sync', 'copy', data.source, endpointArgument(ourEndpoint(s3, prefixOf('ours', 0)))])).result, bench.files);
		if (tools.rclone) expectRcloneTransfers((await runRclone(['copy', data.source, `${REMOTE}:${BUCKET}/${prefixOf('rclone', 0)}`, ...rcloneFlags], tools, usageFile)).stats, bench.files);
	}
	// An upload reads its source: each run finds it cached, whatever the run before evicted (see warmFiles).
	const prepare = () => {
		flushDisks();
		if (!noop) warmFiles(data.source);
	};
	for (let run = 1; run <= runs; run++) {
		prepare();
		const mine = await runOurs(['sync', 'copy', data.source, endpointArgument(ourEndpoint(s3, prefixOf('ours', run)))], profileFlags(profileDir, `case${bench.id}-run${run}`));
		expectSuccess(mine.result, expected);
		ours.push(mine);
		let line = `  run ${run}/${runs}: ours ${describeRun(mine)}`;
		if (!noop) await emptyPrefix(s3, prefixOf('ours', run));
		if (tools.rclone) {
			prepare();
			const theirs = await runRclone(['copy', data.source, `${REMOTE}:${BUCKET}/${prefixOf('rclone', run)}`, ...rcloneFlags], tools, usageFile);
			expectRcloneTransfers(theirs.stats, expected);
			rclone.push(theirs);
			line += ` | rclone ${describeRun(theirs)}`;
			if (!noop) await emptyPrefix(s3, prefixOf('rclone', run));
		}
		console.log(line);
	}
	await printProfile(profileDir, `case${bench.id}-run1`);
	return { ours, rclone };
}
