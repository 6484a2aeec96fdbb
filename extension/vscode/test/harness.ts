// The tests' harness: the real codex-auth binary and Codex CLI (missing
// ones fail the test, naming what to build or install), the local issuer,
// a fresh CODEX_HOME, the vscode stub injected for `require('vscode')`,
// the fake browser, and waiting on events with timeouts (never sleeps).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { it, test } from 'node:test';
import type * as Stub from './vscode-stub';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Module = require('node:module');

/** extension/vscode */
export const EXT_DIR = path.resolve(__dirname, '..', '..');
const REPO = path.resolve(EXT_DIR, '..', '..');
const STUB = path.join(__dirname, 'vscode-stub.js');

// Inject the stub: the bundled extension's require('vscode') resolves to it.
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request: string, ...rest: unknown[]) {
	return request === 'vscode' ? STUB : resolveFilename.call(this, request, ...rest);
};

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const vscode: typeof Stub = require(STUB);
export const stub = vscode.stub;

/**
 * The leak scan (make clients; internal/leakscan): with CODEX_AUTH_SCAN_DIR
 * set, every issuer keeps a ledger of the secrets it handled, handed()
 * notes the ones the tests type in, and everything the extension showed or
 * logged (the sidecar's stderr included) and the issuers' stderr are saved
 * there, under vscode/, a file set per test process.
 */
const SCAN_DIR = process.env.CODEX_AUTH_SCAN_DIR ? path.join(process.env.CODEX_AUTH_SCAN_DIR, 'vscode') : undefined;
const RUN = `${path.basename(process.argv[1] ?? 'test', '.js')}-${process.pid}`;
let issuersStarted = 0;
if (SCAN_DIR) {
	fs.mkdirSync(SCAN_DIR, { recursive: true, mode: 0o700 });
	process.once('exit', () => fs.writeFileSync(path.join(SCAN_DIR, `${RUN}.shown.log`), everythingShown(), { mode: 0o600 }));
}

/** Notes secrets the test itself typed in or handed over, for the leak scan (a no-op without CODEX_AUTH_SCAN_DIR). */
export function handed(kind: string, ...secrets: string[]): void {
	if (SCAN_DIR) {
		fs.appendFileSync(path.join(SCAN_DIR, 'handed.secrets'), secrets.map((s) => `${kind}\t${s}\n`).join(''), { mode: 0o600 });
	}
}

/** The built extension (dist/extension.js, as in the .vsix). */
export interface ExtensionModule {
	activate(ctx: unknown): { readonly sidecarPid: number | undefined };
	deactivate(): Promise<void>;
}

export function loadExtension(): ExtensionModule {
	const main = path.join(EXT_DIR, 'dist', 'extension.js');
	if (!fs.existsSync(main)) {
		throw new Error(`${main} is missing: run \`npm run build\` in ${EXT_DIR}`);
	}
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	return require(main);
}

/** The real parts: $CODEX_AUTH_BIN and $CODEX_BIN. A missing one throws (the test fails), never skips. */
export function realParts(opts: { codex: boolean }): { bin: string; codex: string } {
	const bin = process.env.CODEX_AUTH_BIN ?? '';
	if (!bin || !isExecutable(bin)) {
		throw new Error(
			`CODEX_AUTH_BIN ${bin ? `(${bin}) is not an executable file` : 'is not set'}: build the binary with ` +
				`\`cd ${REPO} && go build -o bin/codex-auth ./cmd/codex-auth\` and run with CODEX_AUTH_BIN=${path.join(REPO, 'bin', 'codex-auth')} (make test-vscode does both)`,
		);
	}
	const codex = process.env.CODEX_BIN ?? '';
	if (opts.codex && (!codex || !isExecutable(codex))) {
		throw new Error(
			`CODEX_BIN ${codex ? `(${codex}) is not an executable file` : 'is not set'}: install the pinned Codex CLI with ` +
				`\`${path.join(REPO, 'scripts', 'deps.sh')}\` and run with CODEX_BIN=${path.join(REPO, '.cache', 'npm', 'node_modules', '.bin', 'codex')} (make test-vscode does both)`,
		);
	}
	return { bin, codex };
}

/**
 * The real parts, checked in a test of their own: a missing one fails it
 * with what to build or install (and the suite needing them is not
 * registered). undefined when missing.
 */
export function realPartsTest(opts: { codex: boolean }): { bin: string; codex: string } | undefined {
	let parts: { bin: string; codex: string } | undefined;
	let missing: Error | undefined;
	try {
		parts = realParts(opts);
	} catch (err) {
		missing = err as Error;
	}
	test(`the real parts are there (CODEX_AUTH_BIN${opts.codex ? ', CODEX_BIN' : ''})`, () => {
		if (missing) {
			throw missing;
		}
	});
	return parts;
}

function isExecutable(p: string): boolean {
	try {
		fs.accessSync(p, fs.constants.X_OK);
		return fs.statSync(p).isFile();
	} catch {
		return false;
	}
}

/** A fresh CODEX_HOME (mode 0700) that this process and the sidecars it spawns use. */
export function freshHome(issuer?: string): string {
	const home = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-vscode-'));
	fs.chmodSync(home, 0o700);
	const sys = path.join(home, '.no-system-config');
	fs.mkdirSync(sys);
	process.env.HOME = home;
	process.env.CODEX_HOME = home;
	process.env.CODEX_AUTH_SYSTEM_CONFIG_DIR = sys;
	process.env.CODEX_AUTH_CALLBACK_PORT = '0';
	if (issuer) {
		process.env.CODEX_AUTH_ISSUER = issuer;
	}
	for (const k of ['OPENAI_API_KEY', 'CODEX_API_KEY', 'SSH_CONNECTION', 'SSH_TTY']) {
		delete process.env[k];
	}
	return home;
}

/** The local issuer (`codex-auth dev issuer`), with one user. */
export async function startIssuer(bin: string, extra: string[] = []): Promise<{ base: string; stop(): Promise<void> }> {
	const scan = SCAN_DIR ? path.join(SCAN_DIR, `${RUN}-issuer-${++issuersStarted}`) : undefined;
	const ledger = scan ? ['--ledger', `${scan}.ledger`] : [];
	const child = spawn(bin, ['dev', 'issuer', '--addr', '127.0.0.1:0', '--ports', '0', ...ledger, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
	// Never outlive the test process, even when a test is interrupted.
	const reap = () => child.kill('SIGKILL');
	process.once('exit', reap);
	child.once('exit', () => process.removeListener('exit', reap));
	let stderr = '';
	child.stderr!.on('data', (d) => {
		stderr += d;
		if (scan) {
			fs.appendFileSync(`${scan}.stderr`, d, { mode: 0o600 });
		}
	});
	const base = await new Promise<string>((resolve, reject) => {
		const t = setTimeout(() => reject(new Error(`the local issuer printed no URL in 10 s: ${stderr}`)), 10_000);
		createInterface({ input: child.stdout! }).once('line', (line) => {
			clearTimeout(t);
			resolve(line.trim());
		});
		child.once('exit', (code) => reject(new Error(`the local issuer exited (${code}): ${stderr}`)));
	});
	return { base, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) {
		return Promise.resolve();
	}
	return new Promise((resolve) => {
		child.once('exit', () => resolve());
		child.kill('SIGTERM');
	});
}

/** Runs the real Codex CLI with the same HOME and CODEX_HOME, input on stdin. */
export function codexCli(codex: string, args: string[], input = ''): { status: number | null; stdout: string; stderr: string } {
	const env: NodeJS.ProcessEnv = { HOME: process.env.HOME, CODEX_HOME: process.env.CODEX_HOME, PATH: process.env.PATH };
	for (const k of ['TMPDIR', 'LANG']) {
		if (process.env[k]) {
			env[k] = process.env[k];
		}
	}
	const r = spawnSync(codex, args, { input, env, encoding: 'utf8', timeout: 60_000 });
	return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The fake browser: GET url, follow the redirects (to the loopback callback), want a 2xx. */
export async function browse(url: string): Promise<void> {
	const res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(30_000) });
	await res.arrayBuffer();
	if (!res.ok) {
		throw new Error(`fake browser: ${new URL(res.url).pathname} ended with HTTP ${res.status}`);
	}
}

type Ev<T> = (l: (e: T) => any) => { dispose(): any };

/** Resolves with the first event for which pred holds; fails after ms naming what it waited for. */
export function waitEvent<T>(event: Ev<T>, pred: (e: T) => boolean, what: string, ms = 20_000): Promise<T> {
	return new Promise((resolve, reject) => {
		const t = setTimeout(() => {
			sub.dispose();
			reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
		}, ms);
		const sub = event((e) => {
			if (pred(e)) {
				clearTimeout(t);
				sub.dispose();
				resolve(e);
			}
		});
	});
}

/** Resolves once check() gives a value: now, or after one of the events; fails after ms. */
export function waitUntil<T>(events: Ev<any>[], check: () => T | undefined | false, what: string, ms = 20_000): Promise<T> {
	return new Promise((resolve, reject) => {
		const now = check();
		if (now) {
			resolve(now);
			return;
		}
		const subs: { dispose(): any }[] = [];
		const done = () => {
			clearTimeout(t);
			subs.forEach((s) => s.dispose());
		};
		const t = setTimeout(() => {
			done();
			reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
		}, ms);
		for (const ev of events) {
			subs.push(
				ev(() => {
					const v = check();
					if (v) {
						done();
						resolve(v);
					}
				}),
			);
		}
	});
}

/** Whether pid is a live (not zombie) process. */
export function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return !isZombie(pid);
	} catch {
		return false;
	}
}

function isZombie(pid: number): boolean {
	try {
		return / Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ''));
	} catch {
		return false;
	}
}

/** This process's live child processes (Linux /proc), with their command lines. */
export function children(): { pid: number; cmd: string }[] {
	const out: { pid: number; cmd: string }[] = [];
	for (const d of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(d)) {
			continue;
		}
		try {
			const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
			const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			if (Number(fields[1]) === process.pid && fields[0] !== 'Z') {
				out.push({ pid: Number(d), cmd: fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').trim() });
			}
		} catch {
			// gone meanwhile
		}
	}
	return out;
}

/** A minimal ExtensionContext. */
export function extensionContext(): { subscriptions: { dispose(): any }[]; extensionPath: string; extensionUri: unknown } {
	return { subscriptions: [], extensionPath: EXT_DIR, extensionUri: vscode.Uri.file(EXT_DIR) };
}

/** Deactivates as VS Code does: deactivate(), then the subscriptions are disposed. */
export async function deactivateAll(ext: ExtensionModule, ctx: { subscriptions: { dispose(): any }[] }): Promise<void> {
	await ext.deactivate();
	for (const d of ctx.subscriptions.splice(0)) {
		d.dispose();
	}
}

/** Every text the extension showed or logged, to look for secrets in. */
export function everythingShown(): string {
	const parts: string[] = [...stub.transcript];
	for (const i of stub.statusItems) {
		parts.push(String(i.text), String(i.tooltip));
	}
	for (const p of stub.progress) {
		parts.push(p.title);
	}
	return parts.join('\n');
}

/** The secrets in CODEX_HOME/auth.json (the API key and tokens), as the sidecar saved them. */
export function secretsOf(home: string): string[] {
	let a: any;
	try {
		a = JSON.parse(fs.readFileSync(path.join(home, 'auth.json'), 'utf8'));
	} catch {
		return [];
	}
	return [a.OPENAI_API_KEY, a.tokens?.id_token, a.tokens?.access_token, a.tokens?.refresh_token].filter(
		(s): s is string => typeof s === 'string' && s.length > 0,
	);
}

/** Fails unless sessions is empty, naming the accounts only: a session's token never reaches test output. */
export function assertNoSession(sessions: { id: string; account: { label: string } }[], msg = 'no session'): void {
	if (sessions.length) {
		throw new Error(`${msg}: got ${sessions.length} (${sessions.map((s) => s.account.label).join(', ')})`);
	}
}

/**
 * Resolves once check() resolves truthy, trying again every interval ms
 * (for a condition no event reports, such as a time window in the sidecar
 * passing); fails after ms naming what it waited for.
 */
export async function eventually<T>(check: () => Promise<T | undefined | false>, what: string, ms = 20_000, interval = 200): Promise<T> {
	const deadline = Date.now() + ms;
	for (;;) {
		const v = await check();
		if (v) {
			return v;
		}
		if (Date.now() > deadline) {
			throw new Error(`timed out after ${ms} ms waiting for ${what}`);
		}
		await new Promise((r) => setTimeout(r, interval));
	}
}

/** A session as the provider gives it, and onDidChangeSessions' event. */
export type Session = { id: string; accessToken: string; account: { id: string; label: string }; scopes: string[] };
export type ChangeEvent = { added?: Session[]; removed?: Session[]; changed?: Session[] };

/** it(), printing the output channel (never a secret) when the case fails. */
export function step(name: string, fn: () => Promise<void> | void): void {
	it(name, async () => {
		try {
			await fn();
		} catch (err) {
			console.error(`--- the Codex Auth output channel during "${name}":\n${stub.output.join('\n')}\n---`);
			throw err;
		}
	});
}

/**
 * The local issuer with users (`--user` values), a fresh CODEX_HOME on it,
 * and the extension activated on the binary at bin, every browser sign-in
 * completed by the fake browser.
 */
export async function activateSignedOut(
	bin: string,
	users: string[],
): Promise<{ issuer: { base: string; stop(): Promise<void> }; home: string; ext: ExtensionModule; ctx: ReturnType<typeof extensionContext> }> {
	const issuer = await startIssuer(bin, users.flatMap((u) => ['--user', u]));
	const home = freshHome(issuer.base);
	stub.config.set('codexAuth.serverPath', bin);
	stub.config.set('codexAuth.logLevel', 'debug');
	stub.openExternal = async (url) => {
		if (url.includes('/oauth/authorize')) {
			void browse(url).catch(() => {});
		}
		return true;
	};
	stub.respondMessage = async () => undefined;
	const ext = loadExtension();
	const ctx = extensionContext();
	ext.activate(ctx);
	return { issuer, home, ext, ctx };
}
