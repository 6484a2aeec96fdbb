// The status-bar item: who is signed in (the email, or "API key"), a
// warning when the session was invalidated elsewhere, an error when the
// sidecar cannot run. Clicking it opens the account switch (when the
// sidecar keeps several accounts), else signs in or shows the status.

import * as vscode from 'vscode';
import type { CodexAuthenticationProvider, ProviderState } from './provider';

export class StatusBar implements vscode.Disposable {
	private readonly item: vscode.StatusBarItem;
	private readonly sub: vscode.Disposable;

	constructor(provider: CodexAuthenticationProvider) {
		this.item = vscode.window.createStatusBarItem('codexAuth.status', vscode.StatusBarAlignment.Right, 100);
		this.item.name = 'Codex Account';
		this.sub = provider.onDidChangeState((s) => this.render(s));
		this.render(provider.currentState);
		this.item.show();
	}

	private render(s: ProviderState): void {
		const item = this.item;
		item.backgroundColor = undefined;
		if (s.error) {
			item.text = '$(error) Codex';
			item.tooltip = s.error.message;
			item.command = 'codexAuth.showLog';
			item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
			return;
		}
		const saved = s.accounts?.sessions.length ?? 0;
		const others = saved - (s.identity ? 1 : 0);
		const switchable = s.multi === true && saved > 0;
		const otherText = others > 0 ? ` ${others} other saved account${others === 1 ? '' : 's'}.` : '';
		if (s.invalidated && !s.identity) {
			item.text = '$(warning) Codex: sign in again';
			item.tooltip = `${s.invalidated.message}${otherText} Click to ${switchable ? 'switch accounts or ' : ''}sign in again.`;
			item.command = switchable ? 'codexAuth.switchAccount' : 'codexAuth.signIn';
			item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
			return;
		}
		const who = s.identity;
		if (who === undefined) {
			item.text = '$(sync~spin) Codex';
			item.tooltip = 'Starting codex-auth…';
			item.command = 'codexAuth.showLog';
		} else if (who === null) {
			item.text = '$(sign-in) Codex: sign in';
			item.tooltip = switchable ? `Not signed in to Codex.${otherText} Click to switch to one or sign in.` : 'Not signed in to Codex. Click to sign in.';
			item.command = switchable ? 'codexAuth.switchAccount' : 'codexAuth.signIn';
		} else {
			const click = s.multi === true ? ' Click to switch accounts.' : '';
			if (who.type === 'apiKey') {
				item.text = '$(key) Codex: API key';
				item.tooltip = `Signed in to Codex with the API key ${who.label}.${otherText}${click}`;
			} else {
				item.text = `$(account) Codex: ${who.label}`;
				const plan = (who.account as { planType?: string }).planType;
				item.tooltip = `Signed in to Codex as ${who.label}${who.type === 'chatgpt' ? ' with ChatGPT' : ` (${who.type})`}${plan ? `, plan ${plan}` : ''}.${otherText}${click}`;
			}
			item.command = s.multi === true ? 'codexAuth.switchAccount' : 'codexAuth.showStatus';
		}
	}

	dispose(): void {
		this.sub.dispose();
		this.item.dispose();
	}
}
