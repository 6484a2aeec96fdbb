// The extension against the real codex-auth binary, the local issuer and
// the real Codex CLI, with only vscode stubbed. The cases run in order on
// one CODEX_HOME, as a user's day would.

import { after, before, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
	alive,
	assertNoSession,
	browse,
	children,
	codexCli,
	deactivateAll,
	everythingShown,
	handed,
	extensionContext,
	freshHome,
	loadExtension,
	realPartsTest,
	secretsOf,
	startIssuer,
	stub,
	vscode,
	waitEvent,
	waitUntil,
	type ExtensionModule,
	step,
	type ChangeEvent,
	type Session,
} from './harness';


const found = realPartsTest({ codex: true });

(found ? describe : describe.skip)('codex authentication provider', () => {
	const parts = found!;
	let issuer: { base: string; stop(): Promise<void> };
	let home: string;
	let ext: ExtensionModule;
	let ctx: ReturnType<typeof extensionContext>;
	let api: { readonly sidecarPid: number | undefined };
	const secrets: string[] = [];
	let browserErrors: Error[] = [];
	const API_KEY = `sk-proj-${'t3st'.repeat(8)}Kx9Qz`;
	const API_KEY_2 = `sk-proj-${'s3cr'.repeat(8)}Lm7Wv`;
	handed('api_key', API_KEY, API_KEY_2);

	const provider = () => {
		const p = stub.providers.get('codex');
		assert.ok(p, 'the codex provider is registered');
		return p.provider as {
			getSessions(scopes?: string[]): Promise<Session[]>;
			createSession(scopes: string[]): Promise<Session>;
			removeSession(id: string): Promise<void>;
			onDidChangeSessions(l: (e: ChangeEvent) => void): { dispose(): void };
		};
	};
	const sessionsChanged = (pred: (e: ChangeEvent) => boolean, what: string) =>
		waitEvent<ChangeEvent>((l) => provider().onDidChangeSessions(l), pred, what);
	const status = () => stub.statusItems.find((i) => i.id === 'codexAuth.status' && i.visible);
	const statusIs = (pred: (text: string, bg: string | undefined) => boolean, what: string) =>
		waitUntil([stub.statusEmitter.event], () => {
			const s = status();
			return s && pred(String(s.text), s.backgroundColor?.id) ? s : undefined;
		}, what);
	const activate = () => {
		ctx = extensionContext();
		api = ext.activate(ctx);
	};

	before(async () => {
		issuer = await startIssuer(parts.bin, ['--device-interval', '1', '--user', 'ada@example.com:pro:ws-ada']);
		home = freshHome(issuer.base);
		stub.config.set('codexAuth.serverPath', parts.bin);
		stub.config.set('codexAuth.logLevel', 'debug');
		// The fake browser: it follows the sign-in page to the loopback callback.
		stub.openExternal = async (url) => {
			if (url.includes('/oauth/authorize')) {
				browse(url).catch((err) => browserErrors.push(err));
			}
			return true;
		};
		ext = loadExtension();
	});

	after(async () => {
		if (ext && ctx) {
			await deactivateAll(ext, ctx);
		}
		await issuer?.stop();
		if (home) {
			fs.rmSync(home, { recursive: true, force: true });
		}
	});

	step('activation registers the provider, the commands and the status bar', async () => {
		activate();
		const p = stub.providers.get('codex');
		assert.ok(p, 'registerAuthenticationProvider("codex", ...) was called');
		assert.equal(p.label, 'Codex');
		for (const id of ['codexAuth.signIn', 'codexAuth.signInWithDeviceCode', 'codexAuth.signInWithApiKey', 'codexAuth.signOut', 'codexAuth.showStatus', 'codexAuth.showLog']) {
			assert.ok(stub.commands.has(id), `command ${id} registered`);
		}
		const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
		const declared = manifest.contributes.commands.map((c: { command: string }) => c.command).sort();
		assert.deepEqual([...stub.commands.keys()].sort(), declared, 'the commands registered are the ones package.json declares');
		await statusIs((t) => t.includes('sign in'), 'the status bar to say "sign in"');
	});

	step('getSessions is empty when signed out', async () => {
		assertNoSession(await provider().getSessions([]));
	});

	step('codex login --with-api-key in a shell adds a session (onDidChangeSessions)', async () => {
		const changed = sessionsChanged((e) => (e.added?.length ?? 0) > 0, 'a session added after codex login');
		const r = codexCli(parts.codex, ['login', '--with-api-key'], API_KEY);
		assert.equal(r.status, 0, `codex login --with-api-key failed: ${r.stderr}`);
		const ev = await changed;
		assert.ok(ev.added![0].accessToken === API_KEY, 'the event carries the key Codex saved');
		const sessions = await provider().getSessions(['any.scope']);
		assert.equal(sessions.length, 1);
		const s = sessions[0];
		assert.ok(s.accessToken === API_KEY, 'the token is the key Codex saved');
		assert.match(s.account.label, /^sk-proj-\*\*\*[A-Za-z0-9]{5}$/, 'the label is the masked key hint');
		assert.ok(!s.account.label.includes(API_KEY.slice(8, -5)), 'the label does not hold the key');
		assert.deepEqual(s.scopes, ['any.scope'], 'the scopes asked for');
		assert.equal(s.id, s.account.id);
		await statusIs((t) => t === '$(key) Codex: API key', 'the status bar to show the API key');
		secrets.push(...secretsOf(home));
	});

	step('codex logout in a shell removes the session and turns the status bar to a warning', async () => {
		const warned = waitEvent(stub.shownEmitter.event, (s) => s.kind === 'warning' && s.items.includes('Sign in again'), 'a "Sign in again" warning');
		const removed = sessionsChanged((e) => (e.removed?.length ?? 0) > 0, 'the session removed after codex logout');
		const r = codexCli(parts.codex, ['logout']);
		assert.equal(r.status, 0, `codex logout failed: ${r.stderr}`);
		await removed;
		const w = await warned;
		assert.match(w.message, /another process|signed out/i, 'the sidecar message is shown');
		const item = await statusIs((t, bg) => t.startsWith('$(warning)') && bg === 'statusBarItem.warningBackground', 'the status-bar warning');
		assert.equal(item.command, 'codexAuth.signIn', 'clicking the warning signs in again');
		assert.ok(String(item.tooltip).includes(w.message), 'the tooltip holds the message');
		assertNoSession(await provider().getSessions([]));
	});

	step('getSession(createIfNone) signs in with ChatGPT through the browser', async () => {
		stub.clearRecords();
		browserErrors = [];
		const added = sessionsChanged((e) => (e.added?.length ?? 0) > 0, 'a session added by the browser sign-in');
		const s = (await vscode.authentication.getSession('codex', [], { createIfNone: true })) as Session;
		assert.deepEqual(browserErrors, [], 'the fake browser reached the callback');
		assert.equal(s.account.label, 'ada@example.com');
		assert.ok(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/.test(s.accessToken), 'a JWT access token');
		const saved = JSON.parse(fs.readFileSync(path.join(home, 'auth.json'), 'utf8'));
		assert.ok(s.accessToken === saved.tokens.access_token, 'the access token the sidecar saved');
		assert.equal((await added).added![0].id, s.id);
		const pages = stub.opened.filter((u) => u.includes('/oauth/authorize'));
		assert.equal(pages.length, 1, 'the sign-in page opened exactly once');
		await statusIs((t, bg) => t === '$(account) Codex: ada@example.com' && bg === undefined, 'the status bar to show the email, warning cleared');
		secrets.push(...secretsOf(home));
	});

	step('the session id stays the same across a restart of the extension', async () => {
		const before = (await provider().getSessions([]))[0];
		const oldPid = api.sidecarPid;
		await deactivateAll(ext, ctx);
		assert.ok(oldPid !== undefined && !alive(oldPid), 'the old sidecar is gone');
		activate();
		const after = (await provider().getSessions([]))[0];
		assert.ok(after, 'signed in after the restart');
		assert.equal(after.id, before.id);
		assert.equal(after.account.id, before.account.id);
		assert.equal(after.account.label, 'ada@example.com');
	});

	step('removeSession signs out', async () => {
		stub.clearRecords();
		const s = (await provider().getSessions([]))[0];
		const removed = sessionsChanged((e) => e.removed?.some((r) => r.id === s.id) ?? false, 'the session removed');
		await provider().removeSession(s.id);
		await removed;
		assertNoSession(await provider().getSessions([]));
		assert.equal(secretsOf(home).length, 0, 'no credentials left in auth.json');
		await statusIs((t) => t.includes('sign in') && !t.includes('again'), 'the status bar to say "sign in"');
		assert.equal(stub.shown.filter((m) => m.kind === 'warning').length, 0, 'signing out here is no warning');
	});

	step('device-code sign-in: the code in a notification, "Copy and open", approved at the issuer', async () => {
		stub.clearRecords();
		stub.respondMessage = async (m) => (/enter the code/i.test(m.message) ? 'Copy and open' : undefined);
		const added = sessionsChanged((e) => (e.added?.length ?? 0) > 0, 'a session added by the device code');
		const opened = waitEvent(stub.openedEmitter.event, () => true, 'the verification page opened');
		const done = stub.commands.get('codexAuth.signInWithDeviceCode')!();
		await opened;
		const code = stub.clipboard;
		assert.match(code, /^[A-Z0-9]{4,}-?[A-Z0-9]{4,}$/, 'the user code is on the clipboard');
		const notice = stub.shown.find((m) => /enter the code/i.test(m.message))!;
		assert.ok(notice.message.includes(code), 'the notification shows the code');
		const res = await fetch(`${issuer.base}/codex/device`, { method: 'POST', body: new URLSearchParams({ user_code: code }) });
		assert.equal(res.status, 200, 'the issuer approved the code');
		await done;
		await added;
		assert.equal((await provider().getSessions([]))[0].account.label, 'ada@example.com');
		assert.ok(stub.opened.every((u) => !u.includes('/oauth/authorize')), 'no browser sign-in page');
		assert.deepEqual(stub.shown.filter((m) => m.kind === 'error'), []);
		secrets.push(...secretsOf(home));
		await provider().removeSession((await provider().getSessions([]))[0].id);
	});

	step('dismissing the device-code notification cancels the flow', async () => {
		stub.clearRecords();
		stub.respondMessage = async () => undefined;
		await stub.commands.get('codexAuth.signInWithDeviceCode')!();
		const notice = stub.shown.find((m) => /enter the code/i.test(m.message));
		assert.ok(notice, 'the code was shown');
		assert.deepEqual(stub.shown.filter((m) => m.kind === 'error'), [], 'cancelling is no error');
		assert.deepEqual(stub.opened, [], 'nothing opened');
		assertNoSession(await provider().getSessions([]));
		assert.ok(stub.output.some((l) => l.includes('account/login/cancel')), 'account/login/cancel was sent');
	});

	step('remote: a callback port not forwarded as itself signs in with a device code instead', async () => {
		stub.clearRecords();
		// As over SSH when the local port is taken: the tunnel lands on another port.
		stub.asExternalUri = async (uri) => {
			const u = new URL(uri.toString());
			return vscode.Uri.parse(`http://localhost:${Number(u.port) + 1}/`);
		};
		stub.respondMessage = async (m) => (/enter the code/i.test(m.message) ? 'Copy and open' : undefined);
		const opened = waitEvent(stub.openedEmitter.event, (u) => !u.includes('/oauth/authorize'), 'the verification page opened');
		const created = provider().createSession([]);
		await opened;
		const res = await fetch(`${issuer.base}/codex/device`, { method: 'POST', body: new URLSearchParams({ user_code: stub.clipboard }) });
		assert.equal(res.status, 200);
		const s = await created;
		assert.equal(s.account.label, 'ada@example.com');
		assert.ok(stub.opened.every((u) => !u.includes('/oauth/authorize')), 'the sign-in page was not opened');
		stub.asExternalUri = async (uri) => uri;
		secrets.push(...secretsOf(home));
		await provider().removeSession(s.id);
	});

	step('API key in a password box, never echoed or logged', async () => {
		stub.clearRecords();
		stub.respondInputBox = async () => API_KEY_2;
		const added = sessionsChanged((e) => (e.added?.length ?? 0) > 0, 'a session added by the API key');
		await stub.commands.get('codexAuth.signInWithApiKey')!();
		await added;
		assert.equal(stub.inputBoxes.at(-1).password, true, 'a password input box');
		const s = (await provider().getSessions([]))[0];
		assert.ok(s.accessToken === API_KEY_2, 'the token is the key typed');
		assert.ok(!everythingShown().includes(API_KEY_2), 'the key is not in the log, messages or status bar');
		secrets.push(API_KEY_2);
	});

	step('the sidecar killed is restarted and the provider keeps answering', async () => {
		const pid = api.sidecarPid;
		assert.ok(pid, 'a sidecar is running');
		process.kill(pid, 'SIGKILL');
		const s = await provider().getSessions([]);
		assert.equal(s.length, 1, 'the session is still there');
		assert.ok(s[0].accessToken === API_KEY_2, 'the token is the key typed');
		const now = api.sidecarPid;
		assert.ok(now && now !== pid, `a new sidecar runs (was ${pid}, now ${now})`);
		assert.ok(!alive(pid), 'the killed one is gone');
		// And it still follows changes made elsewhere.
		const removed = sessionsChanged((e) => (e.removed?.length ?? 0) > 0, 'the session removed after codex logout');
		assert.equal(codexCli(parts.codex, ['logout']).status, 0);
		await removed;
	});

	step('deactivate leaves no process behind', async () => {
		const pid = api.sidecarPid;
		assert.ok(pid);
		assert.ok(children().some((c) => c.pid === pid), 'the sidecar is our child');
		await deactivateAll(ext, ctx);
		assert.ok(!alive(pid), 'the sidecar exited');
		const left = children().filter((c) => c.cmd.includes('serve'));
		assert.deepEqual(left, [], 'no codex-auth serve left');
		assert.equal(api.sidecarPid, undefined);
		ctx = undefined as never;
	});

	step('no secret reached the output channel, a message or the status bar', () => {
		assert.ok(secrets.length >= 4, 'secrets were collected');
		const text = everythingShown();
		assert.ok(stub.output.length > 0, 'something was logged');
		for (const s of secrets) {
			assert.ok(!text.includes(s), 'a secret is in what the extension showed or logged');
		}
	});
});
