// Activation: the output channel, the sidecar, the "codex" authentication
// provider (several accounts), the status bar and the commands.

import * as vscode from 'vscode';
import { Log, parseLevel } from './log';
import { Sidecar } from './sidecar';
import { resolveServerPath } from './serverPath';
import { SignInPage } from './signInPage';
import { CodexAuthenticationProvider, PROVIDER_ID, PROVIDER_LABEL, identityOf } from './provider';
import { switchAccount } from './accounts';
import { StatusBar } from './status';
import { CancelledError, type FlowKind } from './flows';

/** What activate returns (for tests and curious extensions; no secret). */
export interface CodexAuthApi {
	/** The running sidecar's process id. */
	readonly sidecarPid: number | undefined;
}

let running: { sidecar: Sidecar } | undefined;

function config() {
	const c = vscode.workspace.getConfiguration('codexAuth');
	return { serverPath: c.get<string>('serverPath', '') ?? '', logLevel: parseLevel(c.get<string>('logLevel', 'info')) };
}

export function activate(context: vscode.ExtensionContext): CodexAuthApi {
	const log = new Log(vscode.window.createOutputChannel('Codex Auth'), config().logLevel);
	const page = new SignInPage(log);
	const sidecar = new Sidecar({
		command: () => {
			const c = config();
			const path = resolveServerPath({ setting: c.serverPath, extensionPath: context.extensionPath });
			return { path, args: ['serve', '--log-level', c.logLevel] };
		},
		clientInfo: { name: vscode.env.appName, version: vscode.version },
		showDocument: (params) => page.show(params),
		log,
	});
	const provider = new CodexAuthenticationProvider(sidecar, page, log);
	running = { sidecar };

	const openSettings = 'Open Settings';
	context.subscriptions.push(
		log,
		provider,
		vscode.authentication.registerAuthenticationProvider(PROVIDER_ID, PROVIDER_LABEL, provider, { supportsMultipleAccounts: true }),
		new StatusBar(provider),
		{ dispose: () => void sidecar.stop() },
	);
	sidecar.onDidFail((err) => {
		void vscode.window.showErrorMessage(err.message, openSettings).then((choice) => {
			if (choice === openSettings) {
				void vscode.commands.executeCommand('workbench.action.openSettings', 'codexAuth.serverPath');
			}
		});
	});

	sidecar.onDidKeepFailing((err) => {
		void vscode.window.showErrorMessage(err.message, 'Show Log').then((choice) => choice && log.show());
	});

	const signIn = async (kind: FlowKind) => {
		try {
			const who = await provider.signIn(kind);
			if (who) {
				void vscode.window.showInformationMessage(`Signed in to Codex as ${who.type === 'apiKey' ? `the API key ${who.label}` : who.label}.`);
			}
		} catch (err) {
			if (!(err instanceof CancelledError)) {
				log.warn(`sign-in failed: ${(err as Error).message}`);
				void vscode.window.showErrorMessage((err as Error).message);
			}
		}
	};
	const command = (id: string, fn: () => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));
	command('codexAuth.signIn', async () => {
		type Item = vscode.QuickPickItem & { flow: FlowKind };
		const items: Item[] = [
			{ label: '$(globe) ChatGPT in the browser', description: 'Recommended', flow: 'browser' },
			{ label: '$(device-mobile) ChatGPT with a device code', description: 'When the browser cannot reach this machine', flow: 'deviceCode' },
			{ label: '$(key) API key', description: 'An OpenAI API key', flow: 'apiKey' },
		];
		const pick = await vscode.window.showQuickPick(items, { title: 'Sign in to Codex', placeHolder: 'How do you want to sign in?' });
		if (pick) {
			await signIn(pick.flow);
		}
	});
	command('codexAuth.signInWithDeviceCode', () => signIn('deviceCode'));
	command('codexAuth.signInWithApiKey', () => signIn('apiKey'));
	command('codexAuth.signOut', async () => {
		try {
			// account/read, not getSessions: credentials whose refresh token
			// was rejected give no session but are still stored.
			const r = await provider.read();
			if (!r.account) {
				void vscode.window.showInformationMessage('You are not signed in to Codex.');
				return;
			}
			await provider.signOut();
			void vscode.window.showInformationMessage('Signed out of Codex.');
		} catch (err) {
			void vscode.window.showErrorMessage(`Signing out of Codex failed: ${(err as Error).message}`);
		}
	});
	// An argument (a session id or an email) switches without asking: for keybindings and other extensions.
	command('codexAuth.switchAccount', (target?: unknown) => switchAccount(provider, log, target));
	command('codexAuth.showStatus', async () => {
		try {
			const r = await provider.read();
			const lines: string[] = [];
			if (r.account) {
				const who = identityOf(r.account);
				const plan = (r.account as { planType?: string }).planType;
				lines.push(
					who.type === 'apiKey'
						? `Signed in with the API key ${who.label}.`
						: `Signed in as ${who.label}${who.type === 'chatgpt' ? ' with ChatGPT' : ` (${who.type})`}${plan ? `, plan ${plan}` : ''}.`,
				);
			} else {
				lines.push('Not signed in.');
			}
			if (r.problem) {
				lines.push(r.problem);
			}
			const saved = provider.currentState.accounts;
			const others = saved ? saved.sessions.filter((a) => a.sessionId !== saved.activeSessionId).length : 0;
			if (others > 0) {
				lines.push(`${others} other saved account${others === 1 ? '' : 's'} (Codex: Switch Account).`);
			}
			lines.push(`Credentials: ${r.store.location} (${r.store.mode}${r.store.fallback ? `; ${r.store.fallback}` : ''}).`);
			if (r.issuer) {
				lines.push(`Issuer: ${r.issuer}.`);
			}
			const info = sidecar.info;
			lines.push(`codex-auth ${info?.version ?? '?'}${vscode.env.remoteName ? ` on the ${vscode.env.remoteName} side` : ''}.`);
			const action = r.account ? 'Sign Out' : 'Sign In';
			const choice = await vscode.window.showInformationMessage(lines.join(' '), action, 'Show Log');
			if (choice === 'Sign Out') {
				await vscode.commands.executeCommand('codexAuth.signOut');
			} else if (choice === 'Sign In') {
				await vscode.commands.executeCommand('codexAuth.signIn');
			} else if (choice === 'Show Log') {
				log.show();
			}
		} catch (err) {
			void vscode.window.showErrorMessage(`Codex: ${(err as Error).message}`, 'Show Log').then((c) => c && log.show());
		}
	});
	command('codexAuth.showLog', () => log.show());

	context.subscriptions.push(
		vscode.workspace.onDidChangeConfiguration((e) => {
			if (e.affectsConfiguration('codexAuth.serverPath') || e.affectsConfiguration('codexAuth.logLevel')) {
				log.level = config().logLevel;
				log.info('settings changed: restarting the codex-auth sidecar');
				void sidecar.restart();
			}
		}),
	);

	sidecar.start();
	return {
		get sidecarPid() {
			return sidecar.pid;
		},
	};
}

/** Stops the sidecar (stdin closed, then SIGTERM, then SIGKILL) and waits for it. */
export async function deactivate(): Promise<void> {
	const r = running;
	running = undefined;
	await r?.sidecar.stop();
}
