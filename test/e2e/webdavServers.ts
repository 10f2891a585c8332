/**
 * Real WebDAV servers on loopback for the end-to-end tests and the benchmark: Debian's Apache with
 * mod_dav (`apt-get install apache2`) and `rclone serve webdav`, each started in the foreground on a
 * free port with a configuration and data folder of its own (no system service), and a fault proxy
 * to put in front of either.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { seededRandom } from '../support/faulty-provider';

export interface DavServer {
	/** The WebDAV address, ending in '/'. */
	url: string;
	user: string;
	password: string;
	/** The folder on disk the server serves. */
	files: string;
	log(): string;
	stop(): Promise<void>;
}

const APACHE = existsSync('/usr/sbin/apache2') ? '/usr/sbin/apache2' : 'apache2';
const MODULES = '/usr/lib/apache2/modules';

/** Why a server cannot run here, or undefined when it can. */
export function missingApache(): string | undefined {
	if (spawnSync(APACHE, ['-v']).status !== 0 || !existsSync(`${MODULES}/mod_dav_fs.so`)) return 'apache2 with mod_dav is not installed (apt-get install -y apache2)';
	return undefined;
}

export function missingRclone(): string | undefined {
	return spawnSync('rclone', ['version']).status === 0 ? undefined : 'rclone is not installed (apt-get install -y rclone)';
}

export async function freePort(): Promise<number> {
	const server = createNetServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	await new Promise<void>((resolve) => server.close(() => resolve()));
	return port;
}

async function waitForPort(port: number, child: ChildProcess, log: () => string, timeoutMs = 15_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}:\n${log()}`);
		const open = await fetch(`http://127.0.0.1:${port}/`, { method: 'OPTIONS' }).then(
			() => true,
			() => false,
		);
		if (open) return;
		if (Date.now() > deadline) throw new Error(`the server did not listen on ${port} in time:\n${log()}`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

/** Starts a server in the foreground, its output kept for a failing test; stopping it removes `root`. */
async function serve(server: { command: string; args: string[]; port: number; user: string; password: string; files: string; root: string; moreLog?: () => string }): Promise<DavServer> {
	const child = spawn(server.command, server.args, { stdio: ['ignore', 'pipe', 'pipe'] });
	let output = '';
	child.stdout?.on('data', (chunk) => (output += chunk));
	child.stderr?.on('data', (chunk) => (output += chunk));
	const log = () => `${output}\n${server.moreLog?.() ?? ''}`.slice(-4000);
	const stop = async () => {
		if (child.exitCode === null) {
			const exited = new Promise((resolve) => child.once('exit', resolve));
			child.kill('SIGTERM');
			const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
			await exited;
			clearTimeout(timer);
		}
		rmSync(server.root, { recursive: true, force: true });
	};
	try {
		await waitForPort(server.port, child, log);
	} catch (error) {
		await stop();
		throw error;
	}
	return { url: `http://127.0.0.1:${server.port}/`, user: server.user, password: server.password, files: server.files, log, stop };
}

/**
 * Apache 2.4 with mod_dav_fs, run as `apache2 -f <conf> -DFOREGROUND` with its own ServerRoot,
 * PidFile, Mutex and runtime folders, Basic sign-in from an htpasswd file of its own. As root it
 * serves as www-data, which must own the data folder (Apache refuses to serve as root).
 */
export async function startApacheDav(options: { user?: string; password?: string } = {}): Promise<DavServer> {
	const missing = missingApache();
	if (missing) throw new Error(missing);
	const user = options.user ?? 'dav';
	const password = options.password ?? 'apache-dav-password';
	const root = mkdtempSync(path.join(os.tmpdir(), 'cloudsync-apache-'));
	const files = path.join(root, 'dav');
	for (const folder of ['dav', 'run', 'lock', 'logs']) mkdirSync(path.join(root, folder));
	writeFileSync(path.join(root, 'htpasswd'), `${user}:{SHA}${createHash('sha1').update(password).digest('base64')}\n`);
	const asRoot = process.getuid?.() === 0;
	if (asRoot) {
		// The server's processes run as www-data and must reach the folders below this one.
		chmodSync(root, 0o755);
		const id = (flag: string) => Number(spawnSync('id', [flag, 'www-data'], { encoding: 'utf8' }).stdout.trim());
		for (const folder of ['dav', 'lock']) chownSync(path.join(root, folder), id('-u'), id('-g'));
	}
	const port = await freePort();
	const modules = ['mpm_event', 'authn_core', 'authn_file', 'authz_core', 'authz_user', 'auth_basic', 'dav', 'dav_fs'];
	const config = path.join(root, 'httpd.conf');
	writeFileSync(
		config,
		[
			`ServerRoot "${root}"`,
			`PidFile "${root}/run/httpd.pid"`,
			`DefaultRuntimeDir "${root}/run"`,
			`Mutex file:${root}/run default`,
			`Listen 127.0.0.1:${port}`,
			'ServerName 127.0.0.1',
			...modules.map((name) => `LoadModule ${name}_module ${MODULES}/mod_${name}.so`),
			...(asRoot ? ['User www-data', 'Group www-data'] : []),
			`ErrorLog "${root}/logs/error.log"`,
			'LogLevel warn',
			// 2.4.54 and later limit request bodies to 1 GiB by default; the benchmark sends exactly that.
			'LimitRequestBody 0',
			'Timeout 300',
			'KeepAliveTimeout 30',
			'MaxKeepAliveRequests 0',
			`DavLockDB "${root}/lock/davlock"`,
			`DocumentRoot "${files}"`,
			`<Directory "${files}">`,
			'  Dav On',
			'  AuthType Basic',
			'  AuthName "cloudsync"',
			`  AuthUserFile "${root}/htpasswd"`,
			'  Require valid-user',
			'</Directory>',
			'',
		].join('\n'),
	);
	const errorLog = () => (existsSync(`${root}/logs/error.log`) ? readFileSync(`${root}/logs/error.log`, 'utf8') : '');
	return serve({ command: APACHE, args: ['-f', config, '-DFOREGROUND'], port, user, password, files, root, moreLog: errorLog });
}

/** rclone 1.60's WebDAV server over a local folder (Debian's rclone; `--etag-hash MD5` as rclone's own tests run it). */
export async function startRcloneDav(options: { user?: string; password?: string } = {}): Promise<DavServer> {
	const missing = missingRclone();
	if (missing) throw new Error(missing);
	const user = options.user ?? 'dav';
	const password = options.password ?? 'rclone-dav-password';
	const root = mkdtempSync(path.join(os.tmpdir(), 'cloudsync-rclone-dav-'));
	const files = path.join(root, 'dav');
	mkdirSync(files);
	const port = await freePort();
	const args = ['serve', 'webdav', '--addr', `127.0.0.1:${port}`, '--user', user, '--pass', password, '--etag-hash', 'MD5', '--config', '/dev/null', files];
	return serve({ command: 'rclone', args, port, user, password, files, root });
}

export type ProxyFault = 'rate-limit' | 'unavailable' | 'server-error' | 'drop-before' | 'drop-after' | 'truncate';
const PROXY_FAULTS: ProxyFault[] = ['rate-limit', 'unavailable', 'server-error', 'drop-before', 'drop-after', 'truncate'];

export interface FaultProxy {
	url: string;
	/** Faults given so far, by kind. */
	given: Record<ProxyFault, number>;
	requests: number;
	stop(): Promise<void>;
}

/**
 * An HTTP proxy in front of a server that gives a share of the requests a fault: 429 or 503 with
 * Retry-After, 500, a connection dropped before the request reaches the server or after the server
 * did the work (its answer lost), or a body cut to half with a Content-Length that agrees.
 */
export async function startFaultProxy(target: string, options: { probability: number; seed?: number; retryAfterSeconds?: number }): Promise<FaultProxy> {
	const upstream = new URL(target);
	const random = seededRandom(options.seed ?? 13);
	const given = Object.fromEntries(PROXY_FAULTS.map((kind) => [kind, 0])) as Record<ProxyFault, number>;
	const sockets = new Set<Socket>();
	const proxy = {} as FaultProxy;
	const server: Server = createServer((request, response) => {
		proxy.requests++;
		const fault = random() < options.probability ? PROXY_FAULTS[Math.floor(random() * PROXY_FAULTS.length)] : undefined;
		if (fault) given[fault]++;
		const retryAfter = { 'retry-after': String(options.retryAfterSeconds ?? 1) };
		const answer = (status: number, headers: Record<string, string> = {}) => {
			request.resume();
			request.on('end', () => {
				response.writeHead(status, { 'content-type': 'text/plain', ...headers });
				response.end(`fault proxy: ${fault}`);
			});
		};
		if (fault === 'rate-limit') return answer(429, retryAfter);
		if (fault === 'unavailable') return answer(503, retryAfter);
		if (fault === 'server-error') return answer(500);
		if (fault === 'drop-before') return void request.socket.destroy();
		const forwarded = httpRequest(
			{ host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: { ...request.headers, host: upstream.host } },
			(reply: IncomingMessage) => {
				if (fault === 'drop-after') {
					reply.resume();
					reply.on('end', () => response.socket?.destroy());
					return;
				}
				if (fault === 'truncate') {
					const chunks: Buffer[] = [];
					reply.on('data', (chunk: Buffer) => chunks.push(chunk));
					reply.on('end', () => {
						const body = Buffer.concat(chunks);
						const half = body.subarray(0, Math.floor(body.length / 2));
						const headers = { ...reply.headers, 'content-length': String(half.length) };
						delete headers['transfer-encoding'];
						response.writeHead(reply.statusCode ?? 502, headers);
						response.end(half);
					});
					return;
				}
				response.writeHead(reply.statusCode ?? 502, reply.headers);
				reply.pipe(response);
			},
		);
		forwarded.on('error', () => response.socket?.destroy());
		request.pipe(forwarded);
	});
	server.on('connection', (socket) => {
		sockets.add(socket);
		socket.on('close', () => sockets.delete(socket));
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	Object.assign(proxy, {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
		given,
		requests: 0,
		stop: async () => {
			for (const socket of sockets) socket.destroy();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	});
	return proxy;
}
