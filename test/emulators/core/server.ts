import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { seededRandom } from '../../support/faulty-provider';

/**
 * What an emulator can be told to do wrong. Each cloud renders the HTTP-level ones in its own
 * documented shape (Drive's 403 userRateLimitExceeded, Dropbox's 429 too_many_write_operations).
 */
export type FaultKind =
	| 'rate-limit' // 429 with Retry-After
	| 'quota-rate-limit' // the cloud's own rate-limit error (Drive 403 userRateLimitExceeded, Dropbox too_many_write_operations)
	| 'server-error' // 500
	| 'unavailable' // 503
	| 'reset' // the connection is dropped part-way through the response body
	| 'truncate' // the body is cut short, with a Content-Length that agrees, so only a size or hash check notices
	| 'slow' // the response is delayed
	| 'drop-after-commit' // the request is carried out, then the connection drops before the answer is sent
	| 'short-listing'; // a listing page loses its tail and its next-page token, so the listing looks complete

export interface FaultRule {
	/** Matched against "METHOD /path" (without the query string); all requests when absent. */
	route?: RegExp;
	kind: FaultKind;
	/** How many matching requests get the fault; unlimited when absent. */
	times?: number;
	/** Share of matching requests that get it (seeded); 1 when absent. */
	probability?: number;
	retryAfterSeconds?: number;
	delayMs?: number;
}

export interface LoggedRequest {
	method: string;
	path: string;
	query: string;
	status?: number;
	fault?: FaultKind;
	/** What the call was about when the path does not say it (a Dropbox call's argument): for printing which calls a run made. */
	arg?: string;
}

export interface RequestContext {
	url: URL;
	/** The fault chosen for this request, if any; body faults (reset, truncate) are applied by `sendBody`. */
	fault?: FaultRule;
	log: LoggedRequest;
}

export type Handler = (request: IncomingMessage, response: ServerResponse, context: RequestContext) => Promise<void>;
/** Writes an HTTP-level fault in the cloud's own error shape. */
export type FaultRenderer = (fault: FaultRule, response: ServerResponse) => void;

export async function readBody(request: IncomingMessage): Promise<Buffer> {
	const chunks: Buffer[] = [];
	for await (const chunk of request) chunks.push(chunk as Buffer);
	return Buffer.concat(chunks);
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
	const text = JSON.stringify(body);
	response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
	response.end(text);
}

/**
 * Sends file bytes, applying a body fault when the request drew one: `reset` destroys the socket
 * half-way, `truncate` sends half the bytes with a matching Content-Length.
 */
export function sendBody(response: ServerResponse, context: RequestContext, status: number, headers: Record<string, string>, body: Buffer): void {
	const kind = context.fault?.kind;
	if (kind === 'truncate') {
		const half = body.subarray(0, Math.floor(body.length / 2));
		response.writeHead(status, { ...headers, 'content-length': String(half.length) });
		response.end(half);
		return;
	}
	response.writeHead(status, { ...headers, 'content-length': String(body.length) });
	if (kind === 'reset') {
		response.write(body.subarray(0, Math.floor(body.length / 2)), () => response.socket?.destroy());
		return;
	}
	response.end(body);
}

const HTTP_FAULTS: FaultKind[] = ['rate-limit', 'quota-rate-limit', 'server-error', 'unavailable'];

/** A loopback HTTP server with a request log and fault injection, shared by the cloud emulators. */
export class EmulatorServer {
	readonly log: LoggedRequest[] = [];
	/** Beside the log rather than in it, so that log entries stay plain records tests can compare and print. */
	private readonly headers = new WeakMap<LoggedRequest, IncomingHttpHeaders>();
	private readonly rules: Array<FaultRule & { used: number }> = [];
	private readonly random: () => number;
	private server?: Server;
	private readonly sockets = new Set<Socket>();
	private closedSocketBytes = 0;
	/** Requests being handled now, and who waits for there to be none. */
	private handling = 0;
	private idleWaiters: Array<() => void> = [];
	/** Told of every piece of bytes a client sends, as it arrives, with the total so far: a test can act mid-request. */
	onReceive?: (total: number) => void;
	baseUrl = '';

	constructor(
		private readonly handler: Handler,
		private readonly renderFault: FaultRenderer,
		seed = 1,
	) {
		this.random = seededRandom(seed);
	}

	async start(): Promise<string> {
		this.server = createServer((request, response) => void this.dispatch(request, response));
		this.server.on('connection', (socket) => {
			this.sockets.add(socket);
			socket.on('data', () => this.onReceive?.(this.bytesReceived));
			socket.on('close', () => {
				this.sockets.delete(socket);
				this.closedSocketBytes += socket.bytesRead;
			});
		});
		await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
		this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
		return this.baseUrl;
	}

	async stop(): Promise<void> {
		if (!this.server) return;
		this.server.closeAllConnections();
		await new Promise<void>((resolve) => this.server!.close(() => resolve()));
	}

	/** Adds a fault rule; rules are tried in order and the first that fires wins. */
	inject(rule: FaultRule): void {
		this.rules.push({ ...rule, used: 0 });
	}

	clearFaults(): void {
		this.rules.length = 0;
	}

	/** Bytes clients have sent, headers included, over every connection so far: what an upload cost on the wire. */
	get bytesReceived(): number {
		let live = 0;
		for (const socket of this.sockets) live += socket.bytesRead;
		return this.closedSocketBytes + live;
	}

	/**
	 * Resolves once no request is being handled: after a client gave up mid-upload, the server may
	 * still be reading what the client had already sent, and a test reads what it settled on.
	 */
	idle(): Promise<void> {
		return this.handling === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
	}

	/** Requests whose "METHOD /path" matches. */
	requests(route?: RegExp): LoggedRequest[] {
		return route ? this.log.filter((entry) => route.test(`${entry.method} ${entry.path}`)) : this.log;
	}

	headersOf(entry: LoggedRequest): IncomingHttpHeaders | undefined {
		return this.headers.get(entry);
	}

	private pickFault(signature: string): FaultRule | undefined {
		for (const rule of this.rules) {
			if (rule.route && !rule.route.test(signature)) continue;
			if (rule.times !== undefined && rule.used >= rule.times) continue;
			if (rule.probability !== undefined && this.random() >= rule.probability) continue;
			rule.used++;
			return rule;
		}
		return undefined;
	}

	private async dispatch(request: IncomingMessage, response: ServerResponse): Promise<void> {
		this.handling++;
		try {
			await this.handle(request, response);
		} finally {
			if (--this.handling === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
		}
	}

	private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
		const url = new URL(request.url ?? '/', this.baseUrl);
		const log: LoggedRequest = { method: request.method ?? 'GET', path: url.pathname, query: url.search };
		this.log.push(log);
		this.headers.set(log, request.headers);
		const fault = this.pickFault(`${log.method} ${url.pathname}`);
		if (fault) log.fault = fault.kind;
		response.on('finish', () => (log.status = response.statusCode));
		try {
			if (fault?.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.delayMs ?? 200));
			if (fault && HTTP_FAULTS.includes(fault.kind)) {
				await readBody(request);
				this.renderFault(fault, response);
				return;
			}
			if (fault?.kind === 'drop-after-commit') dropAnswer(request, response);
			await this.handler(request, response, { url, fault, log });
		} catch (error) {
			if (!response.headersSent) sendJson(response, 500, { error: String((error as Error)?.message ?? error) });
			else response.destroy();
		}
	}
}

/** Lets the handler do its work but never sends what it answers: the connection drops instead, as if the answer were lost on the way. */
function dropAnswer(request: IncomingMessage, response: ServerResponse): void {
	const drop = () => {
		request.socket.destroy();
		return response;
	};
	response.writeHead = drop as typeof response.writeHead;
	response.write = (() => (drop(), true)) as typeof response.write;
	response.end = drop as typeof response.end;
}
