/**
 * A real SMTP server for the end-to-end tests: Debian's OpenSMTPD (`apt-get install opensmtpd`),
 * started in the foreground with a configuration of its own, on 127.0.0.1 and a free port, no TLS
 * and no authentication (loopback only). It accepts mail for one address and delivers it into a
 * Maildir, where the test reads what a mail client would receive.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './n8n';

export interface SmtpServer {
	host: string;
	port: number;
	/** The one address it accepts mail for. */
	recipient: string;
	/** The raw messages delivered so far, oldest first. */
	delivered(): Buffer[];
	log(): string;
	stop(): Promise<void>;
}

/** Debian installs it in /usr/sbin, which a non-login shell's PATH may leave out. */
const SMTPD = existsSync('/usr/sbin/smtpd') ? '/usr/sbin/smtpd' : 'smtpd';
/** The unprivileged account mail is delivered as. */
const MAIL_USER = { name: 'nobody', uid: 65534, gid: 65534 };

export async function startSmtpServer(): Promise<SmtpServer> {
	if (spawnSync(SMTPD, ['-h']).error) throw new Error('OpenSMTPD is not installed: apt-get install -y --no-install-recommends opensmtpd (.ci/run does)');
	const root = mkdtempSync(path.join(os.tmpdir(), 'cloudsync-smtp-'));
	chmodSync(root, 0o755);
	const maildir = path.join(root, 'Maildir');
	for (const folder of ['', 'new', 'cur', 'tmp']) mkdirSync(path.join(maildir, folder), { recursive: true });
	for (const folder of ['', 'new', 'cur', 'tmp']) chownSync(path.join(maildir, folder), MAIL_USER.uid, MAIL_USER.gid);
	const recipient = 'ada@example.com';
	const port = await freePort();
	const config = path.join(root, 'smtpd.conf');
	writeFileSync(
		config,
		`table recipients { "${recipient}" = "${MAIL_USER.name}" }
listen on 127.0.0.1 port ${port}
action "deliver" maildir "${maildir}" virtual <recipients>
match from any for domain "example.com" action "deliver"
`,
	);
	// OpenSMTPD refuses a configuration others may read or write.
	chmodSync(config, 0o600);
	const check = spawnSync(SMTPD, ['-n', '-f', config], { encoding: 'utf8' });
	if (check.status !== 0) throw new Error(`OpenSMTPD refused its configuration: ${check.stderr}`);
	let output = '';
	const server: ChildProcess = spawn(SMTPD, ['-d', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
	server.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
	server.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
	const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));

	// Ready once it answers on its port with its greeting.
	const deadline = Date.now() + 15_000;
	for (;;) {
		const greeting = await new Promise<string>((resolve) => {
			const socket = connect(port, '127.0.0.1');
			socket.once('data', (data) => {
				socket.end('QUIT\r\n');
				resolve(data.toString());
			});
			socket.once('error', () => resolve(''));
		});
		if (greeting.startsWith('220')) break;
		if (Date.now() > deadline || server.exitCode !== null) {
			server.kill('SIGTERM');
			throw new Error(`OpenSMTPD did not start:\n${output}`);
		}
		await new Promise((resolve) => setTimeout(resolve, 200));
	}

	return {
		host: '127.0.0.1',
		port,
		recipient,
		delivered: () =>
			readdirSync(path.join(maildir, 'new'))
				.sort()
				.map((file) => readFileSync(path.join(maildir, 'new', file))),
		log: () => output,
		async stop() {
			if (server.exitCode === null) {
				server.kill('SIGTERM');
				await exited;
			}
			rmSync(root, { recursive: true, force: true });
		},
	};
}
