/**
 * Screenshots of a page with Debian's headless Chromium, driven over the DevTools protocol with
 * Node's own WebSocket (Node >= 22): no playwright/puppeteer, no browser download.
 *
 *   await screenshot({ url, output: 'test/e2e/output/editor.png', cookies, localStorage, waitFor })
 *
 * Chromium: CLOUDSYNC_CHROMIUM, else /usr/lib/chromium/chromium (the binary behind Debian's wrapper
 * script), else `chromium` / `chromium-browser` / `google-chrome` on PATH (`apt-get install -y chromium`).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { settlesWithin, sleep } from './n8n';

export function findChromium(): string {
	const candidates = [process.env.CLOUDSYNC_CHROMIUM, '/usr/lib/chromium/chromium'];
	for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
		for (const name of ['chromium', 'chromium-browser', 'google-chrome']) candidates.push(path.join(dir, name));
	}
	const found = candidates.find((c): c is string => Boolean(c) && fs.existsSync(c as string));
	if (!found) throw new Error('Chromium not found: apt-get install -y chromium (or set CLOUDSYNC_CHROMIUM)');
	return found;
}

export interface ScreenshotOptions {
	url: string;
	/** PNG file to write (folders are created). */
	output: string;
	width?: number;
	height?: number;
	/** Cookies set before navigating, e.g. n8n's session cookie. */
	cookies?: Array<{ name: string; value: string; url: string }>;
	/** localStorage entries set on the page's origin before any of its scripts run. */
	localStorage?: Record<string, string>;
	/** CSS selector to wait for, and how many matches (default 1). */
	waitFor?: { selector: string; count?: number; timeoutMs?: number };
	/** Extra wait after the selector appears, for animations and fonts (default 1500 ms). */
	settleMs?: number;
	/** Browser console messages and Chromium's stderr are appended here. */
	logFile?: string;
	/** A JavaScript expression evaluated in the page just before the screenshot; its value is returned as `probe`. */
	probe?: string;
	/**
	 * What a person does before the screenshot, in order, after `waitFor`: each `script` is evaluated
	 * in the page (a click, a double-click), then `until` (an expression) is awaited to be true.
	 */
	steps?: Array<{ script: string; until?: string; timeoutMs?: number }>;
}

export interface ScreenshotResult {
	/** location.href when the screenshot was taken (e.g. to see a redirect to /signin). */
	finalUrl: string;
	title: string;
	/** Number of matches of waitFor.selector at the end. */
	matches: number;
	/** The value of options.probe (JSON-serializable values only). */
	probe?: unknown;
}

/** Takes a screenshot; rejects (after still writing the PNG) if waitFor is not satisfied in time. */
export async function screenshot(options: ScreenshotOptions): Promise<ScreenshotResult> {
	const width = options.width ?? 1440;
	const height = options.height ?? 900;
	const profile = await fsp.mkdtemp(path.join(os.tmpdir(), 'cloudsync-chromium-'));
	const logFd = options.logFile ? fs.openSync(options.logFile, 'a') : 'ignore';
	const browser = spawn(
		findChromium(),
		[
			'--headless',
			'--no-sandbox',
			'--disable-gpu',
			'--disable-quic',
			'--no-first-run',
			'--no-default-browser-check',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
			'--disable-dev-shm-usage',
			'--hide-scrollbars',
			'--mute-audio',
			'--password-store=basic',
			`--user-data-dir=${profile}`,
			'--remote-debugging-address=127.0.0.1',
			'--remote-debugging-port=0',
			`--window-size=${width},${height}`,
			'about:blank',
		],
		{ stdio: ['ignore', logFd, logFd], detached: true },
	);
	if (typeof logFd === 'number') fs.closeSync(logFd);
	let exited = false;
	browser.once('exit', () => (exited = true));
	let cdp: Cdp | undefined;
	try {
		const port = await waitForDevToolsPort(profile, () => exited);
		const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{
			type: string;
			webSocketDebuggerUrl: string;
		}>;
		const page = targets.find((t) => t.type === 'page');
		if (!page) throw new Error('Chromium has no page target');
		cdp = await Cdp.connect(page.webSocketDebuggerUrl);
		const log = (line: string) => options.logFile && fs.appendFileSync(options.logFile, `[chromium] ${line}\n`);
		cdp.on('Runtime.consoleAPICalled', (p: { type: string; args: Array<{ value?: unknown; description?: string }> }) =>
			log(`console.${p.type}: ${p.args.map((a) => a.value ?? a.description).join(' ')}`),
		);
		cdp.on('Runtime.exceptionThrown', (p: { exceptionDetails: { text: string; exception?: { description?: string } } }) =>
			log(`exception: ${p.exceptionDetails.exception?.description ?? p.exceptionDetails.text}`),
		);
		await cdp.send('Runtime.enable');
		await cdp.send('Page.enable');
		await cdp.send('Network.enable');
		await cdp.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
		for (const cookie of options.cookies ?? []) {
			const { success } = (await cdp.send('Network.setCookie', cookie)) as { success?: boolean };
			if (success === false) throw new Error(`Chromium refused cookie ${cookie.name}`);
		}
		if (options.localStorage && Object.keys(options.localStorage).length) {
			const origin = new URL(options.url).origin;
			const entries = JSON.stringify(options.localStorage);
			await cdp.send('Page.addScriptToEvaluateOnNewDocument', {
				source: `if (location.origin === ${JSON.stringify(origin)}) { const e = ${entries}; for (const k in e) localStorage.setItem(k, e[k]); }`,
			});
		}
		const loaded = cdp.waitFor('Page.loadEventFired', 60_000);
		const nav = (await cdp.send('Page.navigate', { url: options.url })) as { errorText?: string };
		if (nav.errorText) throw new Error(`navigation to ${options.url} failed: ${nav.errorText}`);
		await loaded;

		let matches = 0;
		let waitError: Error | undefined;
		if (options.waitFor) {
			const { selector, count = 1, timeoutMs = 60_000 } = options.waitFor;
			const deadline = Date.now() + timeoutMs;
			for (;;) {
				matches = (await cdp.evaluate(`document.querySelectorAll(${JSON.stringify(selector)}).length`)) as number;
				if (matches >= count) break;
				if (Date.now() > deadline) {
					waitError = new Error(`${count} × "${selector}" not found within ${timeoutMs} ms (found ${matches})`);
					break;
				}
				await sleep(250);
			}
		}
		for (const step of waitError ? [] : (options.steps ?? [])) {
			await cdp.evaluate(step.script);
			if (!step.until) continue;
			const deadline = Date.now() + (step.timeoutMs ?? 60_000);
			while (!(await cdp.evaluate(`Boolean(${step.until})`))) {
				if (Date.now() > deadline) {
					waitError = new Error(`"${step.until}" did not hold within ${step.timeoutMs ?? 60_000} ms after ${step.script}`);
					break;
				}
				await sleep(250);
			}
			if (waitError) break;
		}
		await sleep(options.settleMs ?? 1500);
		const probe = options.probe === undefined ? undefined : await cdp.evaluate(options.probe);
		const { data } = (await cdp.send('Page.captureScreenshot', { format: 'png' })) as { data: string };
		await fsp.mkdir(path.dirname(options.output), { recursive: true });
		await fsp.writeFile(options.output, Buffer.from(data, 'base64'));
		const finalUrl = (await cdp.evaluate('location.href')) as string;
		const title = (await cdp.evaluate('document.title')) as string;
		if (waitError) throw Object.assign(waitError, { message: `${waitError.message}; page ${finalUrl}; screenshot ${options.output}` });
		return { finalUrl, title, matches, probe };
	} finally {
		try {
			await cdp?.send('Browser.close', {}, 5000);
		} catch {
			// closing anyway
		}
		cdp?.close();
		if (!exited && browser.pid) {
			await settlesWithin(new Promise((r) => browser.once('exit', r)), 5000);
			try {
				if (!exited) process.kill(-browser.pid, 'SIGKILL');
			} catch {
				// gone
			}
		}
		await fsp.rm(profile, { recursive: true, force: true }).catch(() => undefined);
	}
}

async function waitForDevToolsPort(profile: string, hasExited: () => boolean): Promise<number> {
	const file = path.join(profile, 'DevToolsActivePort');
	const deadline = Date.now() + 30_000;
	for (;;) {
		if (hasExited()) throw new Error('Chromium exited before opening its DevTools port');
		try {
			const port = Number((await fsp.readFile(file, 'utf8')).split('\n')[0]);
			if (port > 0) return port;
		} catch {
			// not yet written
		}
		if (Date.now() > deadline) throw new Error('Chromium did not open its DevTools port within 30 s');
		await sleep(100);
	}
}

type Listener = (params: any) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A minimal DevTools-protocol client over one page target. */
class Cdp {
	private nextId = 1;
	private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
	private readonly listeners = new Map<string, Listener[]>();
	private readonly ws: WebSocket;

	private constructor(ws: WebSocket) {
		this.ws = ws;
		ws.addEventListener('message', (event) => {
			const msg = JSON.parse(String(event.data)) as {
				id?: number;
				result?: unknown;
				error?: { message: string };
				method?: string;
				params?: unknown;
			};
			if (msg.id !== undefined) {
				const waiter = this.pending.get(msg.id);
				this.pending.delete(msg.id);
				if (msg.error) waiter?.reject(new Error(msg.error.message));
				else waiter?.resolve(msg.result);
			} else if (msg.method) {
				for (const listener of this.listeners.get(msg.method) ?? []) listener(msg.params);
			}
		});
		ws.addEventListener('close', () => {
			for (const waiter of this.pending.values()) waiter.reject(new Error('DevTools connection closed'));
			this.pending.clear();
		});
	}

	static connect(url: string): Promise<Cdp> {
		return new Promise((resolve, reject) => {
			const ws = new WebSocket(url);
			ws.addEventListener('open', () => resolve(new Cdp(ws)), { once: true });
			ws.addEventListener('error', () => reject(new Error(`cannot connect to ${url}`)), { once: true });
		});
	}

	send(method: string, params: object = {}, timeoutMs = 60_000): Promise<unknown> {
		const id = this.nextId++;
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.pending.delete(id);
				reject(new Error(`${method} timed out`));
			}, timeoutMs);
			timer.unref();
			this.pending.set(id, {
				resolve: (v) => (clearTimeout(timer), resolve(v)),
				reject: (e) => (clearTimeout(timer), reject(e)),
			});
			this.ws.send(JSON.stringify({ id, method, params }));
		});
	}

	on(method: string, listener: Listener): void {
		this.listeners.set(method, [...(this.listeners.get(method) ?? []), listener]);
	}

	waitFor(method: string, timeoutMs: number): Promise<unknown> {
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`${method} not received within ${timeoutMs} ms`)), timeoutMs);
			timer.unref();
			const listener: Listener = (params) => {
				clearTimeout(timer);
				this.listeners.set(method, (this.listeners.get(method) ?? []).filter((l) => l !== listener));
				resolve(params);
			};
			this.on(method, listener);
		});
	}

	async evaluate(expression: string): Promise<unknown> {
		const { result, exceptionDetails } = (await this.send('Runtime.evaluate', {
			expression,
			returnByValue: true,
			awaitPromise: true,
		})) as { result: { value?: unknown }; exceptionDetails?: { text: string } };
		if (exceptionDetails) throw new Error(`evaluate failed: ${exceptionDetails.text}`);
		return result.value;
	}

	close(): void {
		try {
			this.ws.close();
		} catch {
			// already closed
		}
	}
}
