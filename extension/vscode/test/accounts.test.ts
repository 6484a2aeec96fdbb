// Several saved accounts against the real codex-auth binary, the local
// issuer (two users) and the real Codex CLI: one session per account,
// switching through the quick pick, the command's argument and
// `codex-auth switch` in a shell, signing one account out, `codex logout`
// of the active one. The cases run in order on one CODEX_HOME.

import { after, before, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
	codexCli,
	deactivateAll,
	eventually,
	everythingShown,
	handed,
	extensionContext,
	realPartsTest,
	secretsOf,
	stub,
	waitEvent,
	waitUntil,
	type ExtensionModule,
	step,
	type ChangeEvent,
	type Session,
	activateSignedOut,
} from './harness';

type SavedAccount = { sessionId: string; type: string; email?: string; apiKeyHint?: string; needsLogin: boolean; workspaces: { accountId: string }[] };
type List = { activeSessionId: string | null; sessions: SavedAccount[] };

const found = realPartsTest({ codex: true });

(found ? describe : describe.skip)('several saved accounts', () => {
	const parts = found!;
	let issuer: { base: string; stop(): Promise<void> };
	let home: string;
	let ext: ExtensionModule;
	let ctx: ReturnType<typeof extensionContext> | undefined;
	const secrets: string[] = [];
	const API_KEY = `sk-proj-${'m4ny'.repeat(8)}Ac7Qp`;
	handed('api_key', API_KEY);
	const ADA = 'ada@example.com';
	const BOB = 'bob@example.com';
	const ids: Record<string, string> = {};

	const provider = () =>
		stub.providers.get('codex')!.provider as {
			getSessions(scopes?: string[]): Promise<Session[]>;
			createSession(scopes: string[]): Promise<Session>;
			removeSession(id: string): Promise<void>;
			accounts(): Promise<List>;
			onDidChangeSessions(l: (e: ChangeEvent) => void): { dispose(): void };
		};
	const sessionsChanged = (pred: (e: ChangeEvent) => boolean, what: string) =>
		waitEvent<ChangeEvent>((l) => provider().onDidChangeSessions(l), pred, what);
	const status = () => stub.statusItems.find((i) => i.id === 'codexAuth.status' && i.visible);
	const statusIs = (pred: (text: string) => boolean, what: string) =>
		waitUntil([stub.statusEmitter.event], () => {
			const s = status();
			return s && pred(String(s.text)) ? s : undefined;
		}, what);
	const authJson = () => JSON.parse(fs.readFileSync(path.join(home, 'auth.json'), 'utf8'));
	const savedCopy = (id: string) => path.join(home, 'account-sessions', id, 'auth.json');
	const stats = async () => (await (await fetch(`${issuer.base}/debug/stats`)).json()) as Record<string, number>;
	const nextUser = async (email: string) => {
		const res = await fetch(`${issuer.base}/debug/user`, { method: 'POST', body: JSON.stringify({ email }) });
		assert.equal(res.status, 200, `the issuer's next user is ${email}`);
	};
	/** `codex login status`: how the Codex CLI reads auth.json. */
	const codexSees = () => {
		const r = codexCli(parts.codex, ['login', 'status']);
		return `${r.stdout}\n${r.stderr}`;
	};
	/** `codex-auth switch ACCOUNT` in a shell, on the same CODEX_HOME. */
	const cliSwitch = (account: string) =>
		spawnSync(parts.bin, ['switch', account], {
			env: { HOME: home, CODEX_HOME: home, CODEX_AUTH_SYSTEM_CONFIG_DIR: process.env.CODEX_AUTH_SYSTEM_CONFIG_DIR, CODEX_AUTH_ISSUER: issuer.base, PATH: process.env.PATH },
			encoding: 'utf8',
			timeout: 30_000,
			stdio: ['ignore', 'pipe', 'pipe'],
		});

	before(async () => {
		({ issuer, home, ext, ctx } = await activateSignedOut(parts.bin, [`${ADA}:pro:ws-ada`, `${BOB}:team:ws-bob`]));
	});

	after(async () => {
		if (ctx) {
			await deactivateAll(ext, ctx);
		}
		await issuer?.stop();
		if (home) {
			fs.rmSync(home, { recursive: true, force: true });
		}
	});

	step('the provider declares several accounts and the switch command', () => {
		assert.equal(stub.providers.get('codex')!.options?.supportsMultipleAccounts, true);
		assert.ok(stub.commands.has('codexAuth.switchAccount'));
	});

	step('two ChatGPT users and an API key: three saved accounts, three sessions, the active one first', async () => {
		await nextUser(ADA);
		const ada = await provider().createSession([]);
		assert.equal(ada.account.label, ADA);
		secrets.push(...secretsOf(home));

		await nextUser(BOB);
		const bobAdded = sessionsChanged((e) => e.added?.some((s) => s.account.label === BOB) ?? false, 'bob added');
		const bob = await provider().createSession([]);
		assert.equal(bob.account.label, BOB);
		const ev = await bobAdded;
		assert.deepEqual(ev.removed?.map((s) => s.account.label) ?? [], [], 'signing in as bob removes no session');
		secrets.push(...secretsOf(home));

		stub.respondInputBox = async () => API_KEY;
		const keyAdded = sessionsChanged((e) => e.added?.some((s) => s.accessToken === API_KEY) ?? false, 'the API key added');
		await stub.commands.get('codexAuth.signInWithApiKey')!();
		await keyAdded;
		secrets.push(API_KEY);

		const list = await provider().accounts();
		assert.equal(list.sessions.length, 3, `three saved accounts: ${list.sessions.map((a) => a.email ?? a.apiKeyHint).join(', ')}`);
		for (const a of list.sessions) {
			assert.match(a.sessionId, /^[A-Za-z0-9._-]{1,64}$/, 'a safe session id');
			ids[a.email ?? 'key'] = a.sessionId;
		}
		assert.deepEqual(Object.keys(ids).sort(), [ADA, BOB, 'key'].sort());
		assert.equal(list.activeSessionId, ids.key, 'the API key, signed in last, is active');

		const sessions = await provider().getSessions(['a.scope']);
		assert.equal(sessions.length, 3, 'one session per saved account');
		assert.equal(sessions[0].account.label, 'sk-proj-***Ac7Qp', 'the active session first');
		assert.deepEqual(sessions.slice(1).map((s) => s.account.label).sort(), [ADA, BOB]);
		assert.deepEqual(
			sessions.slice(1).map((s) => s.id),
			list.sessions.filter((a) => a.sessionId !== list.activeSessionId).map((a) => a.sessionId),
			"the others in the sidecar's order (most recently used first)",
		);
		for (const s of sessions) {
			assert.equal(s.id, s.account.id, 'the session id is the account id');
			assert.deepEqual(s.scopes, ['a.scope']);
		}
		assert.ok(sessions[0].accessToken === API_KEY, 'the active session carries the key');
		for (const who of [ADA, BOB]) {
			const s = sessions.find((x) => x.account.label === who)!;
			assert.equal(s.id, ids[who]);
			const copy = JSON.parse(fs.readFileSync(savedCopy(s.id), 'utf8'));
			assert.ok(s.accessToken === copy.tokens.access_token, `${who}'s token is the one of its saved copy`);
			secrets.push(copy.tokens.access_token, copy.tokens.refresh_token, copy.tokens.id_token);
		}
		assert.equal(authJson().OPENAI_API_KEY === API_KEY, true, 'auth.json holds the active account, the key');

		const item = await statusIs((t) => t === '$(key) Codex: API key', 'the status bar to show the API key');
		assert.equal(item.command, 'codexAuth.switchAccount', 'clicking the status bar opens the switch');
		assert.match(String(item.tooltip), /2 other saved accounts/);
	});

	step('Switch Account: the quick pick lists the accounts; picking bob makes him active for the Codex CLI too', async () => {
		stub.clearRecords();
		let offered: { label: string; description?: string; detail?: string }[] = [];
		stub.respondQuickPick = async (items) => {
			offered = items;
			return items.find((i: { label: string }) => i.label.includes(BOB));
		};
		const changed = sessionsChanged(
			(e) => (e.changed ?? []).some((s) => s.id === ids[BOB]) && (e.changed ?? []).some((s) => s.id === ids.key),
			'the old and the new active session reported changed',
		);
		const switched = await stub.commands.get('codexAuth.switchAccount')!();
		assert.equal(switched, true, 'the command reports a switch');
		await changed;
		assert.equal(offered.length, 4, 'three accounts and "Add another account"');
		assert.equal(offered[0].label, '$(check) sk-proj-***Ac7Qp', 'the active account first, checked');
		assert.match(String(offered[0].description), /^active · API key/);
		assert.deepEqual(offered.slice(1, 3).map((i) => i.label).sort(), [`$(account) ${ADA}`, `$(account) ${BOB}`]);
		assert.match(String(offered.find((i) => i.label.includes(BOB))!.description), /^ChatGPT · team/);
		assert.equal(offered[3].label, '$(add) Add another account…');

		const sessions = await provider().getSessions([]);
		assert.equal(sessions[0].account.label, BOB, 'bob is first now');
		assert.ok(sessions[0].accessToken === authJson().tokens.access_token, "auth.json holds bob's tokens");
		assert.ok(sessions.some((s) => s.accessToken === API_KEY), 'the API key is still a session');
		assert.match(codexSees(), /ChatGPT/, 'codex login status: ChatGPT');
		await statusIs((t) => t === `$(account) Codex: ${BOB}`, 'the status bar to show bob');
		assert.ok(stub.shown.some((m) => m.kind === 'info' && m.message.includes(`Codex now uses ${BOB}`)), 'the switch is confirmed');
		assert.deepEqual(stub.shown.filter((m) => m.kind !== 'info'), [], 'a switch is no warning');
	});

	step('switches made elsewhere (codex-auth switch in a shell) and by the command argument: everyone follows, nothing is revoked', async () => {
		const before = await stats();
		const order: [string, string, RegExp][] = [
			[ADA, `$(account) Codex: ${ADA}`, /ChatGPT/],
			['key', '$(key) Codex: API key', /API key/],
			[BOB, `$(account) Codex: ${BOB}`, /ChatGPT/],
		];
		for (let round = 0; round < 2; round++) {
			for (const [who, text, kind] of order) {
				const target = who === 'key' ? ids.key : who;
				if (round === 0) {
					const r = cliSwitch(target);
					assert.equal(r.status, 0, `codex-auth switch ${target}: ${r.stderr}`);
				} else {
					assert.equal(await stub.commands.get('codexAuth.switchAccount')!(target), true, `switched to ${target}`);
				}
				await statusIs((t) => t === text, `the status bar to show ${who}`);
				const list = await provider().accounts();
				assert.equal(list.activeSessionId, ids[who]);
				assert.equal((await provider().getSessions([]))[0].id, ids[who], `${who}'s session first`);
				assert.match(codexSees(), kind, `codex login status after the switch to ${who}`);
			}
		}
		const after = await stats();
		assert.equal(after.revocations, before.revocations, 'no switch revoked anything');
		assert.equal(after.reuse_detections, 0, 'no refresh token was used twice');
		assert.deepEqual(stub.shown.filter((m) => m.kind === 'warning' || m.kind === 'error'), [], 'no warning or error');
	});

	step('an unknown account: the sidecar says which, nothing changes', async () => {
		stub.clearRecords();
		const before = fs.readFileSync(path.join(home, 'auth.json'), 'utf8');
		assert.equal(await stub.commands.get('codexAuth.switchAccount')!('nobody@example.com'), false);
		const err = stub.shown.find((m) => m.kind === 'error');
		assert.ok(err, 'an error is shown');
		assert.match(err.message, /nobody@example\.com/, 'it names the account');
		assert.equal(fs.readFileSync(path.join(home, 'auth.json'), 'utf8'), before, 'auth.json unchanged');
		assert.equal((await provider().accounts()).activeSessionId, ids[BOB]);
	});

	step('removeSession of an inactive account signs it out (revoked, saved copy gone); the active one stays', async () => {
		stub.clearRecords();
		const before = await stats();
		const active = fs.readFileSync(path.join(home, 'auth.json'), 'utf8');
		const removed = sessionsChanged((e) => e.removed?.some((s) => s.id === ids[ADA]) ?? false, 'ada removed');
		await provider().removeSession(ids[ADA]);
		const ev = await removed;
		assert.deepEqual(ev.added ?? [], []);
		assert.deepEqual(
			(await provider().getSessions([])).map((s) => s.account.label),
			[BOB, 'sk-proj-***Ac7Qp'],
			'bob (active) and the key are left',
		);
		assert.ok(!fs.existsSync(savedCopy(ids[ADA])), "ada's saved copy is gone");
		assert.equal(fs.readFileSync(path.join(home, 'auth.json'), 'utf8'), active, 'the active account is untouched');
		await eventually(async () => (await stats()).revocations > before.revocations, "ada's refresh token revoked at the issuer");
		assert.deepEqual(stub.shown.filter((m) => m.kind === 'warning'), [], 'signing out here is no warning');
	});

	step('codex logout of the active account drops its saved copy, the key stays; the status bar offers the switch', async () => {
		stub.clearRecords();
		const removed = sessionsChanged((e) => e.removed?.some((s) => s.id === ids[BOB]) ?? false, 'bob removed');
		const r = codexCli(parts.codex, ['logout']);
		assert.equal(r.status, 0, `codex logout: ${r.stderr}`);
		await removed;
		await eventually(async () => !fs.existsSync(savedCopy(ids[BOB])), "bob's saved copy removed");
		const list = await provider().accounts();
		assert.equal(list.activeSessionId, null, 'no account is active');
		assert.deepEqual(list.sessions.map((a) => a.sessionId), [ids.key], 'the API key is still saved');
		const sessions = await provider().getSessions([]);
		assert.equal(sessions.length, 1);
		assert.ok(sessions[0].accessToken === API_KEY, 'the inactive key is still a session');
		const item = await statusIs((t) => t.startsWith('$(warning)') || t.includes('sign in'), 'the status bar to say signed out');
		assert.equal(item.command, 'codexAuth.switchAccount', 'with a saved account, the click offers the switch');

		stub.respondQuickPick = async (items) => items.find((i: { label: string }) => i.label.includes('sk-proj-'));
		assert.equal(await stub.commands.get('codexAuth.switchAccount')!(), true);
		const back = await statusIs((t) => t === '$(key) Codex: API key', 'the status bar back to the key');
		assert.equal(back.backgroundColor, undefined, 'the warning is cleared');
		assert.equal(authJson().OPENAI_API_KEY === API_KEY, true, 'auth.json holds the key again');
		assert.match(codexSees(), /API key/);
	});

	step('no secret reached the output channel, a message or the status bar', () => {
		assert.ok(secrets.length >= 6);
		const text = everythingShown();
		for (const s of secrets) {
			assert.ok(!text.includes(s), 'a secret is in what the extension showed or logged');
		}
	});
});
