// JSON-RPC 2.0 over a byte stream, framed like LSP's base protocol
// (Content-Length headers): the wire of docs/protocol.md. No vscode import,
// so it is testable on its own.

import type { Readable, Writable } from 'node:stream';

/** An error answer from the other side (or one this side made up, code 0). */
export class RpcError extends Error {
	constructor(readonly code: number, message: string, readonly data?: unknown) {
		super(message);
		this.name = 'RpcError';
	}
}

/** The connection ended before the answer came. */
export class ConnectionClosedError extends Error {
	constructor(message = 'the codex-auth sidecar stopped') {
		super(message);
		this.name = 'ConnectionClosedError';
	}
}

/** A request the other side sends us; its result or a thrown RpcError is the answer. */
export type RequestHandler = (params: unknown) => Promise<unknown> | unknown;
/** A notification the other side sends us. */
export type NotificationHandler = (method: string, params: unknown) => void;

interface Pending {
	method: string;
	resolve(value: unknown): void;
	reject(err: Error): void;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEADER = 4096;

/**
 * One connection. Message bodies are never logged: the `trace` callback
 * gets only directions, methods, ids and error codes, since some results
 * (account/token) and params (account/login/start) hold secrets.
 */
export class Connection {
	private nextId = 1;
	private readonly pending = new Map<number, Pending>();
	private readonly handlers = new Map<string, RequestHandler>();
	private buf: Buffer = Buffer.alloc(0);
	private closed: Error | undefined;

	constructor(
		input: Readable,
		private readonly output: Writable,
		private readonly onNotification: NotificationHandler,
		private readonly trace: (line: string) => void = () => {},
	) {
		// The end of input is not the end of the connection: its owner closes
		// it when the process has exited, so a retry waits for the restart.
		input.on('data', (chunk: Buffer) => this.onData(chunk));
		input.on('error', () => {});
		output.on('error', () => {
			// EPIPE after the process died: the exit handler reports it.
		});
	}

	/** Registers the handler of a server-to-client request. */
	handle(method: string, handler: RequestHandler): void {
		this.handlers.set(method, handler);
	}

	/** Sends a request and resolves with its result (rejects with RpcError on an error answer). */
	request<T = unknown>(method: string, params?: unknown): Promise<T> {
		if (this.closed) {
			return Promise.reject(this.closed);
		}
		const id = this.nextId++;
		return new Promise<T>((resolve, reject) => {
			this.pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject });
			this.trace(`-> ${method} #${id}`);
			this.write({ jsonrpc: '2.0', id, method, params: params ?? {} });
		});
	}

	/** Sends a notification. */
	notify(method: string, params?: unknown): void {
		if (this.closed) {
			return;
		}
		this.trace(`-> ${method}`);
		this.write({ jsonrpc: '2.0', method, params: params ?? {} });
	}

	/** Fails every request in flight with err; later calls fail at once. */
	close(err: Error = new ConnectionClosedError()): void {
		if (this.closed) {
			return;
		}
		this.closed = err;
		for (const p of this.pending.values()) {
			p.reject(err);
		}
		this.pending.clear();
	}

	get isClosed(): boolean {
		return this.closed !== undefined;
	}

	private write(msg: unknown): void {
		const body = Buffer.from(JSON.stringify(msg), 'utf8');
		this.output.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]));
	}

	private onData(chunk: Buffer): void {
		this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
		for (;;) {
			const end = this.buf.indexOf(HEADER_END);
			if (end < 0) {
				if (this.buf.length > MAX_HEADER) {
					this.trace('<- header too long: dropped');
					this.buf = Buffer.alloc(0);
				}
				return;
			}
			let length = -1;
			for (const line of this.buf.subarray(0, end).toString('ascii').split('\r\n')) {
				const colon = line.indexOf(':');
				if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'content-length') {
					length = Number.parseInt(line.slice(colon + 1).trim(), 10);
				}
			}
			if (!(length >= 0)) {
				this.trace('<- frame without Content-Length: dropped');
				this.buf = this.buf.subarray(end + HEADER_END.length);
				continue;
			}
			const start = end + HEADER_END.length;
			if (this.buf.length < start + length) {
				return;
			}
			const body = this.buf.subarray(start, start + length).toString('utf8');
			this.buf = this.buf.subarray(start + length);
			let msg: any;
			try {
				msg = JSON.parse(body);
			} catch {
				this.trace('<- body is not JSON: dropped');
				continue;
			}
			this.dispatch(msg);
		}
	}

	private dispatch(msg: any): void {
		if (msg === null || typeof msg !== 'object') {
			return;
		}
		if (typeof msg.method === 'string') {
			if (msg.id === undefined || msg.id === null) {
				this.trace(`<- ${msg.method}`);
				try {
					this.onNotification(msg.method, msg.params);
				} catch (err) {
					this.trace(`notification handler for ${msg.method} failed: ${(err as Error).message}`);
				}
				return;
			}
			this.serve(msg.id, msg.method, msg.params);
			return;
		}
		if (typeof msg.id !== 'number') {
			return;
		}
		const p = this.pending.get(msg.id);
		if (!p) {
			return;
		}
		this.pending.delete(msg.id);
		if (msg.error) {
			this.trace(`<- ${p.method} #${msg.id} error ${msg.error.code}`);
			p.reject(new RpcError(Number(msg.error.code), String(msg.error.message ?? 'error'), msg.error.data));
		} else {
			this.trace(`<- ${p.method} #${msg.id} ok`);
			p.resolve(msg.result);
		}
	}

	private serve(id: number | string, method: string, params: unknown): void {
		this.trace(`<- ${method} #${id} (request)`);
		const handler = this.handlers.get(method);
		if (!handler) {
			this.write({ jsonrpc: '2.0', id, error: { code: -32601, message: `method not found: ${method}` } });
			return;
		}
		Promise.resolve()
			.then(() => handler(params))
			.then(
				(result) => {
					this.trace(`-> ${method} #${id} answered`);
					if (!this.closed) {
						this.write({ jsonrpc: '2.0', id, result: result ?? null });
					}
				},
				(err: unknown) => {
					const code = err instanceof RpcError ? err.code : -32603;
					this.trace(`-> ${method} #${id} error ${code}`);
					if (!this.closed) {
						this.write({ jsonrpc: '2.0', id, error: { code, message: err instanceof RpcError ? err.message : 'internal error' } });
					}
				},
			);
	}
}
