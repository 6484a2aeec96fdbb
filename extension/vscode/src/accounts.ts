// "Codex: Switch Account": a quick pick of the saved accounts (the status
// bar opens it too), or a switch by id or email given as the command's
// argument. The sidecar makes the switch, for every editor and the Codex
// CLI at once. The pick follows the saved accounts while it is open (an
// account signed out elsewhere leaves it).

import * as vscode from 'vscode';
import { RpcError } from './rpc';
import { ErrorCodes, type AccountSession, type AccountSessionList } from './protocol';
import { accountLabel, activeFirst, type CodexAuthenticationProvider } from './provider';
import type { Log } from './log';

type Item = vscode.QuickPickItem & { sessionId?: string; action?: 'signIn' | 'showStatus' };

/** The pick's line of one saved account. */
export function accountItem(a: AccountSession, active: boolean): vscode.QuickPickItem & { sessionId: string } {
	const workspace = a.workspaces?.find((w) => w.accountId === a.selectedWorkspaceAccountId) ?? a.workspaces?.[0];
	const kind = a.type === 'apiKey' ? 'API key' : a.type === 'chatgpt' ? 'ChatGPT' : a.type === 'accessToken' ? 'access token' : a.type;
	const description = [active ? 'active' : undefined, kind, a.planType && a.planType !== 'unknown' ? a.planType : undefined, workspace?.name]
		.filter(Boolean)
		.join(' · ');
	let detail: string | undefined;
	if (a.forbidden) {
		detail = `$(circle-slash) ${a.forbidden}`;
	} else if (a.needsLogin) {
		detail = '$(warning) Signed out: sign in again as this account';
	}
	return {
		label: `${active ? '$(check)' : a.type === 'apiKey' ? '$(key)' : '$(account)'} ${accountLabel(a)}`,
		description,
		detail,
		sessionId: a.sessionId,
	};
}

/** The pick's lines for the saved accounts list. */
function itemsOf(list: AccountSessionList, multi: boolean | undefined): Item[] {
	const items: Item[] = activeFirst(list).map((a) => accountItem(a, a.sessionId === list.activeSessionId));
	items.push({ label: '$(add) Add another account…', action: 'signIn' });
	if (multi === false) {
		items.push({ label: '$(info) Show sign-in status', detail: 'This codex-auth keeps one account: update it to keep several.', action: 'showStatus' });
	}
	return items;
}

/**
 * Asks for an account in a quick pick showing list, then the saved
 * accounts as they change while it is open. Resolves with the item picked
 * and the list it was picked from (undefined: dismissed).
 */
function pickAccount(provider: CodexAuthenticationProvider, first: AccountSessionList): Promise<{ item: Item; list: AccountSessionList } | undefined> {
	const qp = vscode.window.createQuickPick<Item>();
	qp.title = 'Switch Codex account';
	let list = first;
	let shown = '';
	const render = () => {
		const items = itemsOf(list, provider.currentState.multi);
		const key = JSON.stringify(items);
		if (key !== shown) {
			shown = key; // an unchanged list keeps the user's place in it
			qp.items = items;
			qp.placeholder = list.sessions.length ? 'The account Codex uses here, in the other editors and in the Codex CLI' : 'No saved account: sign in';
		}
	};
	render();
	return new Promise((resolve) => {
		const subs = [
			provider.onDidChangeState((s) => {
				if (s.accounts) {
					list = s.accounts;
					render();
				}
			}),
			qp.onDidAccept(() => {
				const item = qp.selectedItems[0];
				resolve(item && { item, list });
				qp.hide();
			}),
			qp.onDidHide(() => {
				resolve(undefined);
				subs.forEach((d) => d.dispose());
				qp.dispose();
			}),
		];
		qp.show();
	});
}

/**
 * The command: switches to target (a session id or an email) when given,
 * else asks with a quick pick. Resolves with whether the active account
 * changed; failures are shown, never thrown.
 */
export async function switchAccount(provider: CodexAuthenticationProvider, log: Log, target?: unknown): Promise<boolean> {
	let sessionId: string;
	let label = '';
	try {
		if (typeof target === 'string' && target) {
			sessionId = target;
			label = target;
		} else {
			const picked = await pickAccount(provider, await provider.accounts());
			if (!picked) {
				return false;
			}
			const { item: pick, list } = picked;
			if (pick.action) {
				await vscode.commands.executeCommand(pick.action === 'signIn' ? 'codexAuth.signIn' : 'codexAuth.showStatus');
				return false;
			}
			if (pick.sessionId === list.activeSessionId) {
				return false;
			}
			sessionId = pick.sessionId!;
			const a = list.sessions.find((x) => x.sessionId === sessionId);
			label = a ? accountLabel(a) : sessionId;
		}
		const before = provider.currentState.identity?.id;
		const list = await provider.switchTo(sessionId);
		const now = list.sessions.find((x) => x.sessionId === list.activeSessionId);
		if (now) {
			label = accountLabel(now);
		}
		log.info(`switched the Codex account to ${list.activeSessionId}`);
		if (list.activeSessionId !== before) {
			void vscode.window.showInformationMessage(`Codex now uses ${label} (the Codex CLI and the other editors too).`);
			return true;
		}
		return false;
	} catch (err) {
		const message = (err as Error).message;
		log.warn(`switching the Codex account failed: ${message}`);
		if (err instanceof RpcError && err.code === ErrorCodes.SessionExpired) {
			const again = 'Sign in again';
			void vscode.window.showWarningMessage(`${message} Sign in again as this account to use it.`, again).then((choice) => {
				if (choice === again) {
					void vscode.commands.executeCommand('codexAuth.signIn');
				}
			});
		} else if (err instanceof RpcError && err.code === ErrorCodes.MethodNotFound) {
			void vscode.window.showErrorMessage('This codex-auth binary keeps one account: update it (or the extension) to switch accounts.');
		} else {
			void vscode.window.showErrorMessage(`Switching the Codex account${label ? ` to ${label}` : ''} failed: ${message}`);
		}
		return false;
	}
}
