/**
 * A real IMAP server for the end-to-end tests: Debian's Dovecot (`apt-get install dovecot-imapd`),
 * started in the foreground with a configuration of its own in a temporary folder, on 127.0.0.1 and
 * a free port, plaintext login (loopback only), one user with a Maildir. Mail is delivered with IMAP
 * APPEND, as another mail client would file it, so that Dovecot tells IDLE sessions at once.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './n8n';

export interface ImapServer {
	host: string;
	port: number;
	user: string;
	password: string;
	/** Files `eml` into INBOX with IMAP APPEND; resolves once the server has stored it. */
	append(eml: Buffer): Promise<void>;
	/**
	 * Waits until a client other than this helper holds a session (n8n's trigger, once activated,
	 * connects in the background), then a little more for it to select INBOX and IDLE.
	 */
	waitForListener(timeoutMs: number): Promise<void>;
	/** The server's log, for a failing test. */
	log(): string;
	stop(): Promise<void>;
}

/** Debian installs it in /usr/sbin, which a non-login shell's PATH may leave out. */
const DOVECOT = existsSync('/usr/sbin/dovecot') ? '/usr/sbin/dovecot' : 'dovecot';

/** The unprivileged account Dovecot runs mail processes as (it refuses root). */
const MAIL_USER = { name: 'nobody', uid: 65534, gid: 65534 };

export async function startImapServer(): Promise<ImapServer> {
	if (spawnSync(DOVECOT, ['--version']).status !== 0) {
		throw new Error('Dovecot is not installed: apt-get install -y --no-install-recommends dovecot-imapd (.ci/run does)');
	}
	const root = mkdtempSync(path.join(os.tmpdir(), 'cloudsync-imap-'));
	// Dovecot's login and mail processes run as other users and must reach these folders.
	chmodSync(root, 0o755);
	const mail = path.join(root, 'mail');
	for (const folder of ['run', 'state', 'mail']) mkdirSync(path.join(root, folder));
	chownSync(mail, MAIL_USER.uid, MAIL_USER.gid);
	const user = 'ada@example.com';
	const password = 'imap-test-password';
	writeFileSync(path.join(root, 'passwd'), `${user}:{PLAIN}${password}\n`);
	const port = await freePort();
	const config = path.join(root, 'dovecot.conf');
	writeFileSync(
		config,
		`base_dir = ${root}/run
state_dir = ${root}/state
log_path = ${root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:${mail}/%n/Maildir
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${root}/passwd
}
userdb {
  driver = static
  args = uid=${MAIL_USER.uid} gid=${MAIL_USER.gid} home=${mail}/%n
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
`,
	);
	const child: ChildProcess = spawn(DOVECOT, ['-F', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
	let output = '';
	child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
	child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
	const log = () => {
		let file = '';
		try {
			file = readFileSync(path.join(root, 'dovecot.log'), 'utf8');
		} catch {
			// not written yet
		}
		return output + file;
	};
	const server: ImapServer = {
		host: '127.0.0.1',
		port,
		user,
		password,
		append: (eml) => imapAppend(port, user, password, eml),
		async waitForListener(timeoutMs) {
			const deadline = Date.now() + timeoutMs;
			for (;;) {
				// "Login: ... session=<id>" opens a session, "<id>>: Info: Disconnected" closes it.
				const text = log();
				const opened = [...text.matchAll(/Login: .*session=<([^>]+)>/g)].map((match) => match[1]);
				if (opened.some((id) => !text.includes(`<${id}>: Info: Disconnected`))) break;
				if (Date.now() > deadline) throw new Error(`no IMAP client connected within ${timeoutMs} ms:\n${text}`);
				await new Promise((resolve) => setTimeout(resolve, 250));
			}
			await new Promise((resolve) => setTimeout(resolve, 3000));
		},
		log,
		async stop() {
			if (child.exitCode === null) {
				const exited = new Promise((resolve) => child.once('exit', resolve));
				child.kill('SIGTERM');
				await exited;
			}
			rmSync(root, { recursive: true, force: true });
		},
	};
	// Ready once a client can log in.
	const deadline = Date.now() + 20_000;
	for (;;) {
		try {
			await imapSession(port, [`a1 LOGIN ${user} ${password}`]);
			return server;
		} catch (error) {
			if (Date.now() > deadline || child.exitCode !== null) {
				await server.stop();
				throw new Error(`Dovecot did not start: ${(error as Error).message}\n${log()}`);
			}
			await new Promise((resolve) => setTimeout(resolve, 200));
		}
	}
}

/** Runs IMAP commands one after the other (each tagged `aN`), failing on any answer but OK. */
function imapSession(port: number, commands: Array<string | Buffer>): Promise<string> {
	return new Promise((resolve, reject) => {
		const socket = connect(port, '127.0.0.1');
		let received = '';
		let next = 0;
		let loggingOut = false;
		const timer = setTimeout(() => socket.destroy(new Error(`IMAP session timed out:\n${received}`)), 15_000);
		const send = () => {
			if (next === commands.length) {
				loggingOut = true;
				socket.end('z LOGOUT\r\n');
				return;
			}
			const command = commands[next++];
			socket.write(Buffer.isBuffer(command) ? command : `${command}\r\n`);
		};
		socket.on('data', (chunk: Buffer) => {
			received += chunk.toString('latin1');
			if (loggingOut) return;
			if (next === 0 && received.includes('* OK')) return send();
			const tag = `a${next} `;
			const answer = received.split('\r\n').find((line) => line.startsWith(tag));
			if (!answer) return;
			if (!answer.startsWith(`${tag}OK`)) return socket.destroy(new Error(`IMAP: ${answer}`));
			send();
		});
		socket.on('error', (error) => {
			clearTimeout(timer);
			reject(error);
		});
		socket.on('close', () => {
			clearTimeout(timer);
			resolve(received);
		});
	});
}

async function imapAppend(port: number, user: string, password: string, eml: Buffer): Promise<void> {
	// LITERAL+ ({n+}) sends the message without waiting for the server's go-ahead.
	const append = Buffer.concat([Buffer.from(`a2 APPEND INBOX {${eml.length}+}\r\n`), eml, Buffer.from('\r\n')]);
	await imapSession(port, [`a1 LOGIN ${user} ${password}`, append]);
}
