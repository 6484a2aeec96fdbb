// The sign-in flows, one small object each (after the GitHub
// authentication extension's flows.ts): each says where it works and runs
// one login through the sidecar. None opens the sign-in page itself: the
// sidecar asks for it with window/showDocument (see signInPage.ts).

import * as vscode from 'vscode';
import type { Sidecar } from './sidecar';
import { RpcError } from './rpc';
import { ErrorCodes, type BrowserLoginStart, type DeviceLoginStart, type LoginCompleted } from './protocol';
import type { SignInPage } from './signInPage';
import type { Log } from './log';

export type FlowKind = 'browser' | 'deviceCode' | 'apiKey';

/** The user gave up (dismissed, cancelled): no error message. */
export class CancelledError extends Error {
	constructor() {
		super('Cancelled');
		this.name = 'CancelledError';
	}
}

/** The browser cannot reach the callback here: use a device code. */
export class UseDeviceCodeError extends Error {
	constructor(reason: string) {
		super(reason);
		this.name = 'UseDeviceCodeError';
	}
}

/** What every flow gets. */
export interface FlowContext {
	sidecar: Sidecar;
	logins: LoginWatcher;
	page: SignInPage;
	log: Log;
}

export interface Flow {
	readonly kind: FlowKind;
	readonly label: string;
	/**
	 * Where it works: needsLoopbackCallback means the browser must reach
	 * localhost:PORT on the sidecar's machine (desktop, or a remote whose
	 * port VS Code forwards to the same local port; never VS Code for the
	 * Web).
	 */
	readonly options: { needsLoopbackCallback: boolean };
	/** Signs in; resolves once the sidecar saved the credentials. */
	run(ctx: FlowContext): Promise<void>;
}

/**
 * Waits for account/login/completed by login id. Completions are kept a
 * while, since one may arrive before the start's answer is read; a wait
 * fails when the sidecar dies (its flows die with it).
 */
export class LoginWatcher implements vscode.Disposable {
	private readonly done = new Map<string, LoginCompleted>();
	private readonly waiters = new Map<string, { resolve(c: LoginCompleted): void; reject(e: Error): void }>();
	private readonly subs: { dispose(): void }[] = [];

	constructor(sidecar: Sidecar) {
		this.subs.push(
			sidecar.onNotification((n) => {
				if (n.method === 'account/login/completed' && n.params && typeof n.params.loginId === 'string') {
					this.complete(n.params as LoginCompleted);
				}
			}),
			sidecar.onDidDie(() => this.failAll(new Error('The codex-auth sidecar stopped during sign-in; try again.'))),
			// A new process (after a restart) knows nothing of the old one's logins.
			sidecar.onDidStart(() => this.failAll(new Error('The codex-auth sidecar restarted during sign-in; try again.'))),
		);
	}

	wait(loginId: string): Promise<LoginCompleted> {
		const c = this.done.get(loginId);
		if (c) {
			return Promise.resolve(c);
		}
		return new Promise((resolve, reject) => this.waiters.set(loginId, { resolve, reject }));
	}

	/** Stops waiting for loginId (the flow went another way). */
	forget(loginId: string): void {
		this.waiters.delete(loginId);
	}

	dispose(): void {
		this.failAll(new CancelledError());
		for (const s of this.subs) {
			s.dispose();
		}
	}

	private complete(c: LoginCompleted): void {
		const w = this.waiters.get(c.loginId);
		if (w) {
			this.waiters.delete(c.loginId);
			w.resolve(c);
			return;
		}
		this.done.set(c.loginId, c);
		if (this.done.size > 16) {
			this.done.delete(this.done.keys().next().value!);
		}
	}

	private failAll(err: Error): void {
		for (const w of this.waiters.values()) {
			w.reject(err);
		}
		this.waiters.clear();
	}
}

function loginError(c: LoginCompleted): Error {
	if (c.error === 'canceled') {
		return new CancelledError();
	}
	return new Error(`Codex sign-in failed: ${c.error ?? 'unknown error'}`);
}

async function cancelLogin(ctx: FlowContext, loginId: string): Promise<void> {
	ctx.logins.forget(loginId);
	try {
		await ctx.sidecar.request('account/login/cancel', { loginId });
	} catch (err) {
		ctx.log.debug(`account/login/cancel: ${(err as Error).message}`);
	}
}

/** Races p against a cancellable progress notification; cancelling calls onCancel and throws CancelledError. */
async function withCancellableProgress<T>(title: string, p: Promise<T>, onCancel: () => Promise<void>): Promise<T> {
	return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (_progress, token) =>
		new Promise<T>((resolve, reject) => {
			const sub = token.onCancellationRequested(() => {
				sub.dispose();
				onCancel().finally(() => reject(new CancelledError()));
			});
			p.then(
				(v) => {
					sub.dispose();
					resolve(v);
				},
				(e) => {
					sub.dispose();
					reject(e);
				},
			);
		}),
	);
}

/**
 * ChatGPT in the browser, over the sidecar's loopback callback. Works on
 * the desktop, and remotely when VS Code forwards the callback port to the
 * same local port; else the page is refused and the flow ends with
 * UseDeviceCodeError (the caller then runs the device code flow).
 */
export class BrowserFlow implements Flow {
	readonly kind = 'browser';
	readonly label = 'ChatGPT in the browser';
	readonly options = { needsLoopbackCallback: true };

	async run(ctx: FlowContext): Promise<void> {
		const refusals = new Map<string, string>();
		let onRefusal: ((reason: string) => void) | undefined;
		let authUrl: string | undefined;
		const sub = ctx.page.onDidRefuse((r) => {
			if (authUrl === undefined) {
				refusals.set(r.uri, r.reason);
			} else if (r.uri === authUrl) {
				onRefusal?.(r.reason);
			}
		});
		try {
			let start: BrowserLoginStart;
			try {
				start = await ctx.sidecar.request<BrowserLoginStart>('account/login/start', { type: 'chatgpt' });
			} catch (err) {
				if (err instanceof RpcError && err.code === ErrorCodes.LoginFailed) {
					// The callback ports are taken by another program.
					throw new UseDeviceCodeError(err.message);
				}
				throw err;
			}
			authUrl = start.authUrl;
			const refused = new Promise<never>((_, reject) => {
				onRefusal = (reason) => reject(new UseDeviceCodeError(reason));
				const early = refusals.get(start.authUrl);
				if (early !== undefined) {
					onRefusal(early);
				}
			});
			const completed = ctx.logins.wait(start.loginId);
			let c: LoginCompleted;
			try {
				c = await withCancellableProgress(
					'Signing in to Codex in your browser…',
					Promise.race([completed, refused]),
					() => cancelLogin(ctx, start.loginId),
				);
			} catch (err) {
				if (err instanceof UseDeviceCodeError) {
					await cancelLogin(ctx, start.loginId);
				}
				throw err;
			}
			if (!c.success) {
				throw loginError(c);
			}
		} finally {
			sub.dispose();
		}
	}
}

/**
 * ChatGPT with a device code: works everywhere, the browser need not reach
 * this machine. The code is shown in a notification with "Copy and open";
 * dismissing it cancels the flow.
 */
export class DeviceCodeFlow implements Flow {
	readonly kind = 'deviceCode';
	readonly label = 'ChatGPT with a device code';
	readonly options = { needsLoopbackCallback: false };

	async run(ctx: FlowContext): Promise<void> {
		let start: DeviceLoginStart;
		try {
			start = await ctx.sidecar.request<DeviceLoginStart>('account/login/start', { type: 'chatgptDeviceCode' });
		} catch (err) {
			if (err instanceof RpcError && err.code === ErrorCodes.DeviceCodeDisabled) {
				throw new Error(`${err.message}.`);
			}
			throw err;
		}
		const completed = ctx.logins.wait(start.loginId);
		const copyAndOpen = 'Copy and open';
		const choice = await Promise.race([
			vscode.window.showInformationMessage(
				`To sign in to Codex, enter the code ${start.userCode} at ${start.verificationUrl}`,
				copyAndOpen,
			),
			completed.then(() => 'completed' as const, () => 'completed' as const),
		]);
		if (choice === undefined) {
			await cancelLogin(ctx, start.loginId);
			throw new CancelledError();
		}
		if (choice === copyAndOpen) {
			await vscode.env.clipboard.writeText(start.userCode);
			await vscode.env.openExternal(vscode.Uri.parse(start.verificationUrl, true));
		}
		const c = await withCancellableProgress(
			`Enter the code ${start.userCode} in your browser to sign in to Codex…`,
			completed,
			() => cancelLogin(ctx, start.loginId),
		);
		if (!c.success) {
			throw loginError(c);
		}
	}
}

/** An OpenAI API key, typed into a password box; never echoed or logged. */
export class ApiKeyFlow implements Flow {
	readonly kind = 'apiKey';
	readonly label = 'API key';
	readonly options = { needsLoopbackCallback: false };

	async run(ctx: FlowContext): Promise<void> {
		const key = await vscode.window.showInputBox({
			title: 'Sign in to Codex with an API key',
			prompt: 'Your OpenAI API key. It is saved where the Codex CLI keeps it (like `codex login --with-api-key`).',
			placeHolder: 'sk-…',
			password: true,
			ignoreFocusOut: true,
			validateInput: (v) => (v.trim() ? undefined : 'Enter an API key'),
		});
		if (!key || !key.trim()) {
			throw new CancelledError();
		}
		await ctx.sidecar.request('account/login/start', { type: 'apiKey', apiKey: key.trim() });
	}
}
