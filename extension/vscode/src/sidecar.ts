// The codex-auth sidecar process: spawned, initialized with protocol
// version 1, restarted with backoff when it dies, stopped cleanly (stdin
// closed, then SIGTERM, then SIGKILL). No vscode import.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Connection, ConnectionClosedError, RpcError } from './rpc';
import { ErrorCodes, PROTOCOL_VERSION, type InitializeResult } from './protocol';
import { Emitter, type Event } from './emitter';

/** Where the binary is and how to start it; thrown errors are fatal until the settings change. */
export interface ServerCommand {
	path: string;
	args: string[];
}

/** What the sidecar needs from its host. */
export interface SidecarOptions {
	/** Resolves the binary each time it starts (settings may have changed). */
	command(): ServerCommand;
	clientInfo: { name: string; version: string };
	/** Handles window/showDocument; the one place the sign-in page opens. */
	showDocument(params: { uri: string; external?: boolean }): Promise<{ success: boolean }>;
	log: SidecarLog;
	/** The environment of the sidecar; default: this process's (CODEX_HOME, proxies, CA bundle). */
	env?: NodeJS.ProcessEnv;
	/** Milliseconds to wait at each step of stop() before the next signal. */
	stopGraceMs?: number;
}

export interface SidecarLog {
	info(msg: string): void;
	warn(msg: string): void;
	error(msg: string): void;
	debug(msg: string): void;
	/** One line of the sidecar's stderr. */
	sidecar(line: string): void;
}

/** The binary and this extension speak different protocol versions (-32019). */
export class IncompatibleProtocolError extends Error {
	constructor(readonly serverPath: string, detail: string) {
		super(
			`The codex-auth binary at ${serverPath} does not match this extension (${detail}). ` +
				'Use the binary bundled with the extension (leave codexAuth.serverPath empty) or one from the same release.',
		);
		this.name = 'IncompatibleProtocolError';
	}
}

/** The binary cannot be found or started. */
export class ServerNotFoundError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'ServerNotFoundError';
	}
}

/** A notification from the sidecar. */
export interface Notification {
	method: string;
	params: any;
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 30_000;
/** Failed starts in a row before onDidKeepFailing. */
const TROUBLE_AFTER = 3;
/** A process that lived this long resets the backoff. */
const HEALTHY_MS = 10_000;

export class Sidecar {
	private readonly notifications = new Emitter<Notification>();
	private readonly started = new Emitter<InitializeResult>();
	private readonly died = new Emitter<{ code: number | null; signal: string | null }>();
	private readonly failed = new Emitter<Error>();
	/** Every notification the sidecar sends. */
	readonly onNotification: Event<Notification> = this.notifications.event;
	/** The sidecar (re)started and answered initialize. */
	readonly onDidStart: Event<InitializeResult> = this.started.event;
	/** The sidecar died unexpectedly; a restart is on its way. */
	readonly onDidDie = this.died.event;
	/** A fatal error (wrong protocol version, no binary): no restart until restart() is called. */
	readonly onDidFail: Event<Error> = this.failed.event;
	private readonly troubled = new Emitter<Error>();
	/** The sidecar failed to start TROUBLE_AFTER times in a row (it is still retried); once per streak. */
	readonly onDidKeepFailing: Event<Error> = this.troubled.event;

	private ready: Promise<Connection> | undefined;
	private child: ChildProcess | undefined;
	private live: ChildProcess | undefined;
	private stopping = false;
	private fatal: Error | undefined;
	private failures = 0;
	private cancelBackoff: (() => void) | undefined;
	private restarting: Promise<void> | undefined;
	private serverInfo: InitializeResult['serverInfo'];

	constructor(private readonly opts: SidecarOptions) {}

	/** The running process's id, if any. */
	get pid(): number | undefined {
		return this.live?.exitCode === null ? this.live.pid : undefined;
	}

	/** serverInfo from the last initialize. */
	get info(): InitializeResult['serverInfo'] {
		return this.serverInfo;
	}

	/** The fatal error in force, if any. */
	get error(): Error | undefined {
		return this.fatal;
	}

	/** Starts the sidecar (once; requests wait for it). After stop(), only restart() starts it again. */
	start(): void {
		if (!this.ready && !this.stopping) {
			this.ready = this.run();
			this.ready.catch(() => {}); // reported through onDidFail and to each request
		}
	}

	/**
	 * Sends a request once the sidecar is initialized. With retry (for
	 * idempotent methods), a request lost because the sidecar died is sent
	 * again to the restarted one.
	 */
	async request<T>(method: string, params?: unknown, opts?: { retry?: boolean }): Promise<T> {
		for (let attempt = 0; ; attempt++) {
			await this.restarting;
			this.start();
			if (!this.ready) {
				throw this.fatal ?? new ConnectionClosedError('the codex-auth sidecar is stopped');
			}
			try {
				const conn = await this.ready;
				return await conn.request<T>(method, params);
			} catch (err) {
				if (!opts?.retry || attempt >= 2 || !(err instanceof ConnectionClosedError) || this.stopping || this.fatal) {
					throw err;
				}
				this.opts.log.info(`${method}: sent again to the restarted sidecar`);
			}
		}
	}

	/** Stops the sidecar and starts it again (settings changed); requests meanwhile wait for the new one. */
	restart(): Promise<void> {
		const p = (async () => {
			await this.stop();
			this.stopping = false;
			this.fatal = undefined;
			this.failures = 0;
			this.ready = undefined;
			this.start();
		})();
		this.restarting = p;
		p.finally(() => {
			if (this.restarting === p) {
				this.restarting = undefined;
			}
		}).catch(() => {});
		return p;
	}

	/** Stops the sidecar: stdin closed, then SIGTERM, then SIGKILL; resolves once it has exited. */
	async stop(): Promise<void> {
		this.stopping = true;
		this.cancelBackoff?.();
		const child = this.child;
		this.ready = undefined;
		if (!child || child.exitCode !== null || child.signalCode !== null) {
			return;
		}
		await this.terminate(child);
	}

	/** Ends child: stdin closed, then SIGTERM, then SIGKILL, each after a grace period; resolves once it exited. */
	private async terminate(child: ChildProcess): Promise<void> {
		if (child.exitCode !== null || child.signalCode !== null) {
			return;
		}
		const grace = this.opts.stopGraceMs ?? 2000;
		const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
		const within = (ms: number) =>
			Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
		child.stdin?.end();
		if (await within(grace)) {
			return;
		}
		this.opts.log.warn('the codex-auth sidecar did not exit when its input closed: sending SIGTERM');
		child.kill('SIGTERM');
		if (await within(grace)) {
			return;
		}
		this.opts.log.warn('the codex-auth sidecar did not exit on SIGTERM: sending SIGKILL');
		child.kill('SIGKILL');
		await exited;
	}

	/** Launches until one process is initialized; backs off between failures. */
	private async run(): Promise<Connection> {
		for (;;) {
			if (this.stopping) {
				throw new ConnectionClosedError('the codex-auth sidecar is stopped');
			}
			if (this.failures > 0) {
				const ms = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (this.failures - 1));
				this.opts.log.info(`restarting the codex-auth sidecar in ${ms} ms`);
				await new Promise<void>((resolve) => {
					const t = setTimeout(resolve, ms);
					this.cancelBackoff = () => {
						clearTimeout(t);
						resolve();
					};
				});
				this.cancelBackoff = undefined;
				if (this.stopping) {
					throw new ConnectionClosedError('the codex-auth sidecar is stopped');
				}
			}
			try {
				return await this.launch();
			} catch (err) {
				if (err instanceof IncompatibleProtocolError || err instanceof ServerNotFoundError) {
					this.fatal = err;
					this.opts.log.error(err.message);
					this.failed.fire(err);
					throw err;
				}
				if (this.stopping) {
					throw err;
				}
				this.failures++;
				this.opts.log.warn(`the codex-auth sidecar did not start: ${(err as Error).message}`);
				if (this.failures === TROUBLE_AFTER) {
					this.troubled.fire(new Error(`codex-auth keeps stopping before it answers (${(err as Error).message}); retrying with backoff.`));
				}
			}
		}
	}

	private async launch(): Promise<Connection> {
		const cmd = this.opts.command();
		const child = spawn(cmd.path, cmd.args, {
			env: this.opts.env ?? process.env,
			stdio: ['pipe', 'pipe', 'pipe'],
			windowsHide: true,
		});
		this.child = child;
		await new Promise<void>((resolve, reject) => {
			child.once('spawn', resolve);
			child.once('error', (err: NodeJS.ErrnoException) => {
				reject(
					err.code === 'ENOENT' || err.code === 'EACCES'
						? new ServerNotFoundError(`cannot run ${cmd.path}: ${err.code}`)
						: err,
				);
			});
		});
		child.on('error', (err) => this.opts.log.warn(`the codex-auth sidecar: ${err.message}`));
		const startedAt = Date.now();
		this.opts.log.info(`started ${cmd.path} (pid ${child.pid})`);
		createInterface({ input: child.stderr! }).on('line', (line) => this.opts.log.sidecar(line));
		const conn = new Connection(
			child.stdout!,
			child.stdin!,
			(method, params) => this.notifications.fire({ method, params }),
			(line) => this.opts.log.debug(line),
		);
		conn.handle('window/showDocument', (params) => this.opts.showDocument(params as { uri: string }));
		child.on('exit', (code, signal) => {
			conn.close(new ConnectionClosedError(`the codex-auth sidecar exited (${signal ?? `code ${code}`})`));
			if (child !== this.live) {
				return;
			}
			this.live = undefined;
			if (this.stopping || this.fatal) {
				this.opts.log.info(`the codex-auth sidecar exited (${signal ?? `code ${code}`})`);
				return;
			}
			this.opts.log.warn(`the codex-auth sidecar died (${signal ?? `code ${code}`})`);
			this.failures = Date.now() - startedAt >= HEALTHY_MS ? 1 : this.failures + 1;
			this.ready = this.run();
			this.ready.catch(() => {});
			this.died.fire({ code, signal });
		});
		let init: InitializeResult;
		try {
			init = await conn.request<InitializeResult>('initialize', {
				processId: process.pid,
				clientInfo: this.opts.clientInfo,
				capabilities: { window: { showDocument: { support: true } } },
				initializationOptions: { protocolVersion: PROTOCOL_VERSION },
			});
		} catch (err) {
			await this.terminate(child);
			if (err instanceof RpcError && err.code === ErrorCodes.IncompatibleProtocol) {
				throw new IncompatibleProtocolError(cmd.path, err.message);
			}
			throw err;
		}
		const spoken = init?.capabilities?.experimental?.codexAuth?.protocolVersion;
		if (spoken !== undefined && String(spoken).split('.')[0] !== PROTOCOL_VERSION) {
			await this.terminate(child);
			throw new IncompatibleProtocolError(cmd.path, `it speaks protocol ${spoken}, this extension ${PROTOCOL_VERSION}`);
		}
		conn.notify('initialized', {});
		this.live = child;
		this.serverInfo = init?.serverInfo;
		this.started.fire(init);
		return conn;
	}
}
