// The "codex" authentication provider: one class over the flows. The
// sidecar holds every credential; this class maps its account onto
// vscode.AuthenticationSession and fires onDidChangeSessions from the
// sidecar's notifications, whoever made the change.

import * as vscode from 'vscode';
import type { Sidecar } from './sidecar';
import { RpcError } from './rpc';
import { ErrorCodes, type Account, type ReadResult, type SessionInvalidated, type TokenResult } from './protocol';
import {
	ApiKeyFlow,
	BrowserFlow,
	DeviceCodeFlow,
	LoginWatcher,
	UseDeviceCodeError,
	type Flow,
	type FlowContext,
	type FlowKind,
} from './flows';
import type { SignInPage } from './signInPage';
import type { Log } from './log';

export const PROVIDER_ID = 'codex';
export const PROVIDER_LABEL = 'Codex';

/** Who is signed in, without a secret. */
export interface Identity {
	/** Stable for one account across restarts: from the workspace and email, or the key hint. */
	id: string;
	label: string;
	/** The sidecar's account type (apiKey, chatgpt, or a later one). */
	type: string;
	account: Account;
}

/** What the status bar shows. */
export interface ProviderState {
	/** undefined: not known yet (the sidecar is starting). */
	identity: Identity | null | undefined;
	invalidated?: SessionInvalidated;
	error?: Error;
}

/** The identity of an account/read account; unknown future types get a sensible label. */
export function identityOf(account: Account): Identity {
	const a = account as { type: string; email?: string; apiKeyHint?: string; workspaceId?: string };
	switch (a.type) {
		case 'apiKey':
			return { id: `apikey:${a.apiKeyHint ?? ''}`, label: a.apiKeyHint || 'API key', type: a.type, account };
		case 'chatgpt':
			return { id: `chatgpt:${a.workspaceId ?? ''}:${a.email ?? ''}`, label: a.email || 'ChatGPT account', type: a.type, account };
		default: {
			const who = a.email || a.apiKeyHint || '';
			return {
				id: `${a.type}:${a.workspaceId ?? ''}:${who}`,
				label: who || `Codex (${a.type || 'unknown sign-in'})`,
				type: String(a.type),
				account,
			};
		}
	}
}

function tokenOf(t: TokenResult): string | undefined {
	for (const v of [t.accessToken, t.apiKey, (t as { token?: unknown }).token]) {
		if (typeof v === 'string' && v) {
			return v;
		}
	}
	return undefined;
}

export class CodexAuthenticationProvider implements vscode.AuthenticationProvider, vscode.Disposable {
	private readonly sessionsChanged = new vscode.EventEmitter<vscode.AuthenticationProviderAuthenticationSessionsChangeEvent>();
	readonly onDidChangeSessions = this.sessionsChanged.event;
	private readonly stateChanged = new vscode.EventEmitter<ProviderState>();
	/** The account or its validity changed (for the status bar). */
	readonly onDidChangeState = this.stateChanged.event;

	private readonly logins: LoginWatcher;
	private readonly flows: Record<FlowKind, Flow> = {
		browser: new BrowserFlow(),
		deviceCode: new DeviceCodeFlow(),
		apiKey: new ApiKeyFlow(),
	};
	private readonly disposables: vscode.Disposable[] = [];
	/** The last session reported (undefined: no baseline yet). */
	private current: vscode.AuthenticationSession | null | undefined;
	private state: ProviderState = { identity: undefined };
	private syncing: Promise<void> = Promise.resolve();
	private signingOut = false;

	constructor(
		private readonly sidecar: Sidecar,
		private readonly page: SignInPage,
		private readonly log: Log,
	) {
		this.logins = new LoginWatcher(sidecar);
		this.disposables.push(
			this.sessionsChanged,
			this.stateChanged,
			this.logins,
			sidecar.onNotification((n) => {
				switch (n.method) {
					case 'account/updated':
						void this.sync();
						break;
					case 'account/sessionInvalidated':
						this.invalidated(n.params as SessionInvalidated);
						break;
					case 'account/login/completed':
						if (n.params?.success) {
							this.setState({ ...this.state, invalidated: undefined });
						}
						break;
				}
			}),
			sidecar.onDidStart(() => void this.sync()),
			sidecar.onDidFail((err) => this.setState({ ...this.state, error: err })),
		);
	}

	/** The status bar's view. */
	get currentState(): ProviderState {
		return this.state;
	}

	async getSessions(scopes?: readonly string[]): Promise<vscode.AuthenticationSession[]> {
		const s = await this.readSession(scopes ?? []);
		return s ? [s] : [];
	}

	/** Signs in with ChatGPT in the browser, or with a device code where the browser cannot reach back. */
	async createSession(scopes: readonly string[]): Promise<vscode.AuthenticationSession> {
		// Managed policy may allow API keys only (forced_login_method = "api").
		const policy = (await this.read()).policy;
		await this.runFlow(policy?.forcedLoginMethod === 'api' ? 'apiKey' : 'browser');
		const s = await this.readSession(scopes);
		if (!s) {
			throw new Error('Signed in, but codex-auth reports no account.');
		}
		return s;
	}

	/** Signs out (every store, like `codex logout`). */
	async removeSession(_sessionId: string): Promise<void> {
		this.signingOut = true;
		try {
			await this.sidecar.request('account/logout', {}, { retry: true });
		} finally {
			this.signingOut = false;
		}
		await this.sync();
	}

	/** The commands' sign-in: the given flow; the session appears through onDidChangeSessions. */
	async signIn(kind: FlowKind): Promise<Identity | undefined> {
		await this.runFlow(kind);
		return this.state.identity ?? undefined;
	}

	/** account/read, for showStatus. */
	read(): Promise<ReadResult> {
		return this.sidecar.request<ReadResult>('account/read', {}, { retry: true });
	}

	dispose(): void {
		for (const d of this.disposables) {
			d.dispose();
		}
	}

	private async runFlow(kind: FlowKind): Promise<void> {
		const ctx: FlowContext = { sidecar: this.sidecar, logins: this.logins, page: this.page, log: this.log };
		if (this.flows[kind].options.needsLoopbackCallback && vscode.env.uiKind === vscode.UIKind.Web) {
			kind = 'deviceCode'; // a browser tab's localhost is not the sidecar's
		}
		try {
			this.log.info(`signing in: ${this.flows[kind].label}`);
			await this.flows[kind].run(ctx);
		} catch (err) {
			if (!(err instanceof UseDeviceCodeError)) {
				throw err;
			}
			this.log.info(`browser sign-in not possible here (${err.message}): using a device code`);
			await this.flows.deviceCode.run(ctx);
		}
		this.log.info('signed in');
		this.setState({ ...this.state, invalidated: undefined });
		await this.sync();
	}

	private async readSession(scopes: readonly string[]): Promise<vscode.AuthenticationSession | undefined> {
		const read = await this.sidecar.request<ReadResult>('account/read', {}, { retry: true });
		if (!read?.account) {
			return undefined;
		}
		let token: TokenResult;
		try {
			token = await this.sidecar.request<TokenResult>('account/token', {}, { retry: true });
		} catch (err) {
			if (err instanceof RpcError && (err.code === ErrorCodes.NotLoggedIn || err.code === ErrorCodes.SessionExpired)) {
				return undefined;
			}
			throw err;
		}
		const who = identityOf(read.account);
		const accessToken = tokenOf(token);
		if (!accessToken) {
			throw new Error(`codex-auth gave no token for the sign-in type "${who.type}": update the extension.`);
		}
		return { id: who.id, accessToken, account: { id: who.id, label: who.label }, scopes: [...scopes] };
	}

	private invalidated(p: SessionInvalidated): void {
		if (this.signingOut && p?.reason === 'loggedOut') {
			return; // this window signed out: nothing to warn about
		}
		const message = typeof p?.message === 'string' && p.message ? p.message : 'Your Codex session ended.';
		this.log.warn(`session invalidated (${p?.reason}): ${message}`);
		this.setState({ ...this.state, invalidated: { reason: String(p?.reason), message } });
		const again = 'Sign in again';
		void vscode.window.showWarningMessage(message, again).then((choice) => {
			if (choice === again) {
				void vscode.commands.executeCommand('codexAuth.signIn');
			}
		});
	}

	/**
	 * Reads the account and fires onDidChangeSessions with what changed
	 * (another account: removed and added; a new token: changed); one at a
	 * time. The first read is the baseline and fires nothing.
	 */
	private sync(): Promise<void> {
		this.syncing = this.syncing.then(
			() => this.doSync(),
			() => this.doSync(),
		);
		return this.syncing.catch((err) => this.log.warn(`reading the account: ${(err as Error).message}`));
	}

	private async doSync(): Promise<void> {
		const read = await this.sidecar.request<ReadResult>('account/read', {}, { retry: true });
		const identity = read?.account ? identityOf(read.account) : null;
		const prev = this.current;
		const baseline = prev === undefined;
		let next: vscode.AuthenticationSession | null = null;
		if (identity) {
			next = (await this.readSession([])) ?? null;
		}
		this.current = next;
		const invalidated = next && (!prev || prev.id !== next.id) ? undefined : this.state.invalidated;
		this.setState({ identity: next ? identity : null, invalidated, error: undefined });
		if (baseline) {
			return;
		}
		const added: vscode.AuthenticationSession[] = [];
		const removed: vscode.AuthenticationSession[] = [];
		const changed: vscode.AuthenticationSession[] = [];
		if (prev && (!next || prev.id !== next.id)) {
			removed.push(prev);
		}
		if (next && (!prev || prev.id !== next.id)) {
			added.push(next);
		}
		if (next && prev && prev.id === next.id && prev.accessToken !== next.accessToken) {
			changed.push(next);
		}
		if (added.length || removed.length || changed.length) {
			this.log.info(`sessions changed: ${added.length} added, ${removed.length} removed, ${changed.length} changed`);
			this.sessionsChanged.fire({ added, removed, changed });
		}
	}

	private setState(s: ProviderState): void {
		this.state = s;
		this.stateChanged.fire(s);
	}
}
