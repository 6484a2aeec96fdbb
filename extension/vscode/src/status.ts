// The status-bar item: who is signed in (the email, or "API key"), a
// warning when the session was invalidated elsewhere, an error when the
// sidecar cannot run.

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
		if (s.invalidated && !s.identity) {
			item.text = '$(warning) Codex: sign in again';
			item.tooltip = `${s.invalidated.message} Click to sign in again.`;
			item.command = 'codexAuth.signIn';
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
			item.tooltip = 'Not signed in to Codex. Click to sign in.';
			item.command = 'codexAuth.signIn';
		} else if (who.type === 'apiKey') {
			item.text = '$(key) Codex: API key';
			item.tooltip = `Signed in to Codex with the API key ${who.label}`;
			item.command = 'codexAuth.showStatus';
		} else {
			item.text = `$(account) Codex: ${who.label}`;
			const plan = (who.account as { planType?: string }).planType;
			item.tooltip = `Signed in to Codex as ${who.label}${who.type === 'chatgpt' ? ' with ChatGPT' : ` (${who.type})`}${plan ? `, plan ${plan}` : ''}`;
			item.command = 'codexAuth.showStatus';
		}
	}

	dispose(): void {
		this.sub.dispose();
		this.item.dispose();
	}
}
