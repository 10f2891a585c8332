/**
 * Case 8: our engine and rclone 1.60, alternately, against the same WebDAV server on loopback
 * (Debian's Apache with mod_dav, started with a configuration of its own): upload 2,000 files of
 * 1–64 KiB, a no-op re-sync of them, and one 1 GiB file. rclone reaches the server through a remote
 * made of environment variables (RCLONE_CONFIG_BENCHDAV_*, vendor "other"), with the flags of
 * cases 1–3. Each run writes into a folder of its own, so no run finds another's files.
 */
import { spawnSync } from 'node:child_process';
import { WebDavProvider } from '../lib';
import { endpointArgument, type Endpoint } from './endpoints';
import type { DataSet } from './generate';
import type { Targets } from './figures';
import { printProfile, profileFlags } from './profile';
import { describeRun, expectSuccess, runOurs, runRclone, warmFiles, type Measured, type Tools } from './processes';
import { missingApache, startApacheDav, type DavServer } from '../test/e2e/webdavServers';

export interface WebDavCase {
	kind: 'webdav';
	id: number;
	name: string;
	/** The three steps, each a row of its own. */
	steps: Array<{ name: string; data: () => Promise<DataSet>; mode: 'copy' | 'mirror'; rcloneCommand: 'copy' | 'sync'; transfers: number; again?: boolean }>;
	targets: Targets;
}

export interface WebDavContext {
	tools: Tools;
	runs: number;
	usageFile: string;
	row: (name: string, ours: Measured[], rclone: Measured[]) => unknown;
	/** Where our runs write their CPU profiles, when profiling. */
	profileDir?: string;
}

const REMOTE = 'BENCHDAV';

/** rclone's remote for `server`, from environment variables only (no configuration file). */
function rcloneEnvironment(server: DavServer): Record<string, string> {
	const obscured = spawnSync('rclone', ['obscure', server.password], { encoding: 'utf8' }).stdout.trim();
	return {
		[`RCLONE_CONFIG_${REMOTE}_TYPE`]: 'webdav',
		[`RCLONE_CONFIG_${REMOTE}_URL`]: server.url,
		[`RCLONE_CONFIG_${REMOTE}_VENDOR`]: 'other',
		[`RCLONE_CONFIG_${REMOTE}_USER`]: server.user,
		[`RCLONE_CONFIG_${REMOTE}_PASS`]: obscured,
	};
}

/** Rows of case 8, or none with the reason when Apache or rclone cannot run here. */
export async function measureWebDavCase<Row>(bench: WebDavCase, context: WebDavContext, flags: string[]): Promise<Row[]> {
	const missing = missingApache() ?? (context.tools.rclone ? undefined : context.tools.rcloneMissing);
	if (missing) {
		console.log(`  skipped: ${missing}`);
		return [];
	}
	const server = await startApacheDav();
	const environment = rcloneEnvironment(server);
	const top = await WebDavProvider.open({ url: server.url, user: server.user, password: server.password, vendor: 'other' });
	const endpoint = (folder: string): Endpoint => ({ kind: 'webdav', url: server.url, user: server.user, password: server.password, vendor: 'other', folder: `/${folder}` });
	const rows: Row[] = [];
	const saved = { ...process.env };
	Object.assign(process.env, environment);
	try {
		for (const [index, step] of bench.steps.entries()) {
			const data = await step.data();
			const ours: Measured[] = [];
			const rclone: Measured[] = [];
			console.log(`  ${step.name}`);
			for (let run = 1; run <= context.runs; run++) {
				// A re-sync goes over the folder the step before filled in the same run.
				const folder = (side: string) => `case${bench.id}-run${run}-${side}-${step.again ? index - 1 : index}`;
				if (!step.again) await Promise.all([top.mkdir(folder('ours')), top.mkdir(folder('rclone'))]);
				// An upload reads its source: each run finds it cached, whatever the run before evicted (see warmFiles).
				if (step.transfers > 0) warmFiles(data.source);
				const profile = `case${bench.id}${String.fromCharCode(97 + index)}-run${run}`;
				const mine = await runOurs(['sync', step.mode, data.source, endpointArgument(endpoint(folder('ours')))], profileFlags(context.profileDir, profile));
				expectSuccess(mine.result, step.transfers);
				ours.push(mine);
				if (step.transfers > 0) warmFiles(data.source);
				const theirs = await runRclone([step.rcloneCommand, data.source, `${REMOTE}:${folder('rclone')}`, ...flags], context.tools, context.usageFile);
				if (theirs.stats.transferred !== step.transfers) throw new Error(`rclone transferred ${theirs.stats.transferred} files, expected ${step.transfers}`);
				rclone.push(theirs);
				console.log(`    run ${run}/${context.runs}: ours ${describeRun(mine)} | rclone ${describeRun(theirs)}`);
			}
			await printProfile(context.profileDir, `case${bench.id}${String.fromCharCode(97 + index)}-run1`);
			rows.push(context.row(step.name, ours, rclone) as Row);
		}
	} finally {
		process.env = saved;
		await server.stop();
	}
	return rows;
}
