// The "codex" authentication provider: one class over the flows. The
// sidecar holds every credential; this class maps its saved accounts onto
// vscode.AuthenticationSessions (one each, the active one first) and fires
// onDidChangeSessions from the sidecar's notifications, whoever made the
// change: account/updated (the active account), and accountSession/updated
// (the saved accounts' list, from a sidecar that sends it).

import * as vscode from 'vscode';
import type { Sidecar } from './sidecar';
import { RpcError } from './rpc';
import {
	ErrorCodes,
	type Account,
	type AccountSession,
	type AccountSessionList,
	type ReadResult,
	type SessionInvalidated,
	type TokenResult,
} from './protocol';
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
	/** The active account; undefined: not known yet (the sidecar is starting). */
	identity: Identity | null | undefined;
	/** The saved accounts, the active one included (undefined: not known yet). */
	accounts?: AccountSessionList;
	/** The sidecar keeps several accounts (it answers accountSession/list). */
	multi?: boolean;
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

/** What the Accounts menu and the switch pick call a saved account: the email, else the key hint. */
export function accountLabel(a: AccountSession): string {
	return a.email || a.apiKeyHint || (a.type === 'apiKey' ? 'API key' : `Codex (${a.type || 'unknown sign-in'})`);
}

/**
 * The one-account list of a sidecar without accountSession/list (an older
 * binary): the active account only, with identityOf's stable id.
 */
export function listOfRead(read: ReadResult): AccountSessionList {
	if (!read?.account) {
		return { activeSessionId: null, sessions: [] };
	}
	const who = identityOf(read.account);
	const a = read.account as { type: string; email?: string; apiKeyHint?: string; workspaceId?: string; planType?: string };
	return {
		activeSessionId: who.id,
		sessions: [
			{
				sessionId: who.id,
				type: a.type,
				email: a.email || undefined,
				apiKeyHint: a.apiKeyHint || undefined,
				planType: a.planType || undefined,
				workspaces: a.workspaceId ? [{ accountId: a.workspaceId }] : [],
				needsLogin: false,
			},
		],
	};
}

/** accountSession/*'s answer, with anything malformed dropped. */
export function checkedList(raw: unknown): AccountSessionList {
	const r = (raw ?? {}) as { activeSessionId?: unknown; sessions?: unknown };
	const sessions = Array.isArray(r.sessions)
		? r.sessions.filter((x): x is AccountSession => !!x && typeof x === 'object' && typeof (x as AccountSession).sessionId === 'string' && (x as AccountSession).sessionId !== '')
		: [];
	const active = typeof r.activeSessionId === 'string' && sessions.some((x) => x.sessionId === r.activeSessionId) ? r.activeSessionId : null;
	return { activeSessionId: active, sessions };
}

/** The saved accounts, the active one first, the others in the sidecar's order (most recently used first). */
export function activeFirst(list: AccountSessionList): AccountSession[] {
	const active = list.sessions.filter((a) => a.sessionId === list.activeSessionId);
	return [...active, ...list.sessions.filter((a) => a.sessionId !== list.activeSessionId)];
}

/** What onDidChangeSessions reports: the sessions added, removed and changed between two readings. */
export interface SessionChanges {
	added: vscode.AuthenticationSession[];
	removed: vscode.AuthenticationSession[];
	changed: vscode.AuthenticationSession[];
}

/**
 * The changes from the sessions prev (activeId prevActive) to next: an id
 * new in next is added, one gone removed, one whose token or label changed,
 * or that became or stopped being the active one, changed. Everything else
 * (the order, a use of an account) is no change. undefined when nothing
 * changed.
 */
export function sessionChanges(
	prev: ReadonlyMap<string, vscode.AuthenticationSession>,
	prevActive: string | null,
	next: readonly vscode.AuthenticationSession[],
	nextActive: string | null,
): SessionChanges | undefined {
	const ids = new Set(next.map((s) => s.id));
	const added = next.filter((s) => !prev.has(s.id));
	const removed = [...prev.values()].filter((s) => !ids.has(s.id));
	const changed = next.filter((s) => {
		const p = prev.get(s.id);
		return p && (p.accessToken !== s.accessToken || p.account.label !== s.account.label || (s.id === nextActive) !== (s.id === prevActive));
	});
	return added.length || removed.length || changed.length ? { added, removed, changed } : undefined;
}

/** An inactive account's token is asked for again when it expires within this. */
const TOKEN_MARGIN_MS = 5 * 60_000;

/** Whether a token seen before can be handed out again: a key, or one that does not expire soon. */
export function stillGood(t: TokenResult, now = Date.now()): boolean {
	if (t.type === 'apiKey' || t.type === 'personalAccessToken') {
		return true;
	}
	const exp = typeof t.expiresAt === 'string' ? Date.parse(t.expiresAt) : NaN;
	return Number.isFinite(exp) && exp - now > TOKEN_MARGIN_MS;
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
	/** The sessions last reported, by id (undefined: no baseline yet), and the active one's id. */
	private known: Map<string, vscode.AuthenticationSession> | undefined;
	private knownActive: string | null = null;
	private state: ProviderState = { identity: undefined };
	private syncing: Promise<void> = Promise.resolve();
	/** Sign-outs made here in flight: their loggedOut is no news. */
	private signingOut = 0;
	/** Whether the sidecar answers accountSession/list (undefined: not asked yet). */
	private multi: boolean | undefined;
	/** The last token seen of each saved account (secrets: never logged). */
	private readonly tokens = new Map<string, TokenResult>();
	/**
	 * The last accountSession/updated from the running sidecar and its
	 * number (undefined: none yet, or the sidecar restarted since).
	 */
	private pushed: { list: AccountSessionList; seq: number } | undefined;
	/** accountSession/updated notifications received. */
	private pushes = 0;
	/** The last list a sync used is as new as notification number covered, or newer. */
	private covered = 0;

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
					case 'accountSession/updated':
						if (!Array.isArray(n.params?.sessions)) {
							// Not the list: read it instead of taking every account for gone.
							this.log.warn('accountSession/updated without a sessions list: reading the saved accounts instead');
							void this.sync();
							break;
						}
						this.pushed = { list: checkedList(n.params), seq: ++this.pushes };
						this.multi = true;
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
			sidecar.onDidStart(() => {
				this.pushed = undefined; // changes made while it was down were never told
				void this.sync();
			}),
			sidecar.onDidFail((err) => this.setState({ ...this.state, error: err })),
		);
	}

	/** The status bar's view. */
	get currentState(): ProviderState {
		return this.state;
	}

	/** One session per saved account that has a token, the active account's first. */
	async getSessions(scopes?: readonly string[]): Promise<vscode.AuthenticationSession[]> {
		const read = await this.read();
		return (await this.sessionsOf(await this.listWith(read), scopes ?? [])).sessions;
	}

	/** Signs in with ChatGPT in the browser (or a device code where the browser cannot reach back): a new saved account, made active. */
	async createSession(scopes: readonly string[]): Promise<vscode.AuthenticationSession> {
		// Managed policy may allow API keys only (forced_login_method = "api").
		const policy = (await this.read()).policy;
		await this.runFlow(policy?.forcedLoginMethod === 'api' ? 'apiKey' : 'browser');
		const read = await this.read();
		const { sessions, activeId } = await this.sessionsOf(await this.listWith(read), scopes);
		const s = sessions.find((x) => x.id === activeId);
		if (!s) {
			throw new Error('Signed in, but codex-auth reports no account.');
		}
		return s;
	}

	/**
	 * Signs one saved account out: accountSession/logout (revoked, its saved
	 * copy removed; the active one as account/logout, after which no account
	 * is active). Without accountSession/* (an older sidecar): account/logout.
	 */
	async removeSession(sessionId: string): Promise<void> {
		if (this.multi === false) {
			return this.signOut();
		}
		this.signingOut++;
		try {
			await this.sidecar.request('accountSession/logout', { sessionId }, { retry: true });
		} catch (err) {
			if (err instanceof RpcError && err.code === ErrorCodes.MethodNotFound) {
				await this.sidecar.request('account/logout', {}, { retry: true });
			} else if (!(err instanceof RpcError && err.code === ErrorCodes.UnknownAccount)) {
				throw err; // an unknown account is signed out already
			}
		} finally {
			this.signingOut--;
		}
		await this.sync();
	}

	/** Signs the active account out (every store, like `codex logout`); the other saved accounts stay. */
	async signOut(): Promise<void> {
		this.signingOut++;
		try {
			await this.sidecar.request('account/logout', {}, { retry: true });
		} finally {
			this.signingOut--;
		}
		await this.sync();
	}

	/**
	 * Makes a saved account (by session id, or an email only one account
	 * has) the active one, for this window, every other editor and the
	 * Codex CLI. Rejects with the sidecar's RpcError (-32021 unknown,
	 * -32011 forbidden by policy, -32017 needs a new sign-in).
	 */
	async switchTo(sessionIdOrEmail: string): Promise<AccountSessionList> {
		const list = checkedList(await this.sidecar.request('accountSession/switch', { sessionId: sessionIdOrEmail }, { retry: true }));
		await this.sync();
		return list;
	}

	/** The saved accounts (the active one only, from an older sidecar without accountSession/list). */
	async accounts(): Promise<AccountSessionList> {
		return this.listWith(undefined);
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

	/**
	 * accountSession/list; from a sidecar without it (-32601), the active
	 * account of account/read (read given, or asked for).
	 */
	private async listWith(read: ReadResult | undefined): Promise<AccountSessionList> {
		try {
			const list = checkedList(await this.sidecar.request<unknown>('accountSession/list', {}, { retry: true }));
			this.multi = true;
			return list;
		} catch (err) {
			if (!(err instanceof RpcError && err.code === ErrorCodes.MethodNotFound)) {
				throw err;
			}
			if (this.multi !== false) {
				this.log.info('this codex-auth keeps one account (no accountSession/list)');
			}
			this.multi = false;
			return listOfRead(read ?? (await this.read()));
		}
	}

	/** The sessions of the saved accounts that give a token, the active one first. */
	private async sessionsOf(
		list: AccountSessionList,
		scopes: readonly string[],
	): Promise<{ sessions: vscode.AuthenticationSession[]; activeId: string | null }> {
		for (const id of this.tokens.keys()) {
			if (!list.sessions.some((a) => a.sessionId === id)) {
				this.tokens.delete(id); // signed out or forgotten
			}
		}
		const all = await Promise.all(activeFirst(list).map((a) => this.sessionOf(a, a.sessionId === list.activeSessionId, scopes)));
		const sessions = all.filter((s): s is vscode.AuthenticationSession => s !== undefined);
		return { sessions, activeId: sessions.some((s) => s.id === list.activeSessionId) ? list.activeSessionId : null };
	}

	/**
	 * One account's session: the active one's token asked for every time
	 * (the sidecar answers from memory and refreshes it when due); another
	 * one's from account/token {sessionId} (the sidecar refreshes its saved
	 * copy when due, and counts it as a use) when the last one seen expires
	 * within TOKEN_MARGIN_MS. undefined when it has none (signed out, needs a
	 * new sign-in, forbidden by policy).
	 */
	private async sessionOf(a: AccountSession, active: boolean, scopes: readonly string[]): Promise<vscode.AuthenticationSession | undefined> {
		if (!active && (a.needsLogin || a.forbidden)) {
			this.tokens.delete(a.sessionId); // a token seen before is no good now, nor after a new sign-in
			return undefined;
		}
		const cached = this.tokens.get(a.sessionId);
		let token: TokenResult;
		try {
			if (!active && cached && stillGood(cached)) {
				token = cached;
			} else {
				// The id names the account even for the active one, so a switch
				// meanwhile cannot give one account's token to another's session.
				const params = this.multi ? { sessionId: a.sessionId } : {};
				token = await this.sidecar.request<TokenResult>('account/token', params, { retry: true });
			}
		} catch (err) {
			if (
				err instanceof RpcError &&
				(err.code === ErrorCodes.NotLoggedIn || err.code === ErrorCodes.SessionExpired || err.code === ErrorCodes.UnknownAccount)
			) {
				return undefined; // signed out, or gone meanwhile
			}
			if (!active && err instanceof RpcError) {
				// One saved account's trouble (gone meanwhile, the issuer unreachable) leaves the others.
				this.log.warn(`no token for the saved account ${a.sessionId}: ${err.message}`);
				return undefined;
			}
			throw err;
		}
		const accessToken = tokenOf(token);
		if (!accessToken) {
			if (!active) {
				this.log.warn(`codex-auth gave no token for the saved account ${a.sessionId} (sign-in type "${a.type}")`);
				return undefined;
			}
			throw new Error(`codex-auth gave no token for the sign-in type "${a.type}": update the extension.`);
		}
		this.tokens.set(a.sessionId, token);
		const label = accountLabel(a);
		return { id: a.sessionId, accessToken, account: { id: a.sessionId, label }, scopes: [...scopes] };
	}

	private invalidated(p: SessionInvalidated): void {
		if (this.signingOut > 0 && p?.reason === 'loggedOut') {
			return; // this window signed out: nothing to warn about
		}
		const message = typeof p?.message === 'string' && p.message ? p.message : 'Your Codex session ended.';
		if (p?.reason === 'accountChanged') {
			// A switch (here or elsewhere) or a new sign-in: the old account is
			// still saved (or signed out, which says so itself); the status bar
			// and onDidChangeSessions show the new one.
			this.log.info(`session invalidated (accountChanged): ${message}`);
			return;
		}
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
	 * Reads the accounts and fires onDidChangeSessions with what changed
	 * (a new saved account: added; one gone: removed; a new token, or a
	 * switch, for the old and the new active account: changed); one at a
	 * time. The first read is the baseline and fires nothing.
	 */
	private sync(): Promise<void> {
		this.syncing = this.syncing.then(
			() => this.doSync(),
			() => this.doSync(),
		);
		return this.syncing.catch((err) => this.log.warn(`reading the account: ${(err as Error).message}`));
	}

	/**
	 * The saved accounts for a sync: the last accountSession/updated's list
	 * when no list used since is newer, else accountSession/list. Its answer
	 * is newer than every notification received before the request (a reply
	 * follows the notifications sent before it); when one came meanwhile,
	 * that notification's list is used instead: the notifications tell every
	 * change in order, so the last one told is the state in the end.
	 */
	private async savedAccounts(read: ReadResult): Promise<AccountSessionList> {
		const p = this.pushed;
		if (p && p.seq > this.covered) {
			this.covered = p.seq;
			return p.list;
		}
		const before = this.pushes;
		const list = await this.listWith(read);
		const q = this.pushed;
		if (this.pushes !== before && q) {
			this.covered = q.seq;
			return q.list;
		}
		this.covered = before;
		return list;
	}

	private async doSync(): Promise<void> {
		const read = await this.read();
		const list = await this.savedAccounts(read);
		const { sessions, activeId } = await this.sessionsOf(list, []);
		const prev = this.known;
		const prevActive = this.knownActive;
		const next = new Map(sessions.map((s) => [s.id, s]));
		this.known = next;
		this.knownActive = activeId;
		let identity: Identity | null = null;
		if (activeId && read?.account) {
			identity = { ...identityOf(read.account), id: activeId };
			const a = list.sessions.find((x) => x.sessionId === activeId);
			if (a) {
				identity.label = accountLabel(a);
			}
		}
		const invalidated = activeId && activeId !== prevActive ? undefined : this.state.invalidated;
		this.setState({ identity, accounts: list, multi: this.multi, invalidated, error: undefined });
		if (!prev) {
			return;
		}
		const changes = sessionChanges(prev, prevActive, sessions, activeId);
		if (changes) {
			this.log.info(`sessions changed: ${changes.added.length} added, ${changes.removed.length} removed, ${changes.changed.length} changed`);
			this.sessionsChanged.fire(changes);
		}
	}

	private setState(s: ProviderState): void {
		this.state = s;
		this.stateChanged.fire(s);
	}
}
