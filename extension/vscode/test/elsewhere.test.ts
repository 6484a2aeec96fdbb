// Saved accounts changed outside the extension, against the real codex-auth
// binary and the local issuer (two users): the sidecar's
// accountSession/updated tells the extension, which fires
// onDidChangeSessions with what changed (an inactive account logged out
// with `codex-auth logout --account` in a shell is removed) and nothing for
// a use of an account (account/token {sessionId} in another sidecar); the
// status bar and an open switch pick follow.
// The cases run in order on one CODEX_HOME.

import { after, before, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Connection } from '../src/rpc';
import {
	deactivateAll,
	everythingShown,
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

type List = { activeSessionId: string | null; sessions: { sessionId: string; email?: string; lastUsedAt?: string }[] };

const found = realPartsTest({ codex: false });

(found ? describe : describe.skip)('saved accounts changed elsewhere', () => {
	const parts = found!;
	let issuer: { base: string; stop(): Promise<void> };
	let home: string;
	let ext: ExtensionModule;
	let ctx: ReturnType<typeof extensionContext> | undefined;
	let other: { child: ChildProcess; conn: Connection } | undefined;
	const secrets: string[] = [];
	const ADA = 'ada@example.com';
	const BOB = 'bob@example.com';
	const ids: Record<string, string> = {};

	const provider = () =>
		stub.providers.get('codex')!.provider as {
			getSessions(scopes?: string[]): Promise<Session[]>;
			createSession(scopes: string[]): Promise<Session>;
			accounts(): Promise<List>;
			onDidChangeSessions(l: (e: ChangeEvent) => void): { dispose(): void };
		};
	const status = () => stub.statusItems.find((i) => i.id === 'codexAuth.status' && i.visible);
	const nextUser = async (email: string) => {
		const res = await fetch(`${issuer.base}/debug/user`, { method: 'POST', body: JSON.stringify({ email }) });
		assert.equal(res.status, 200, `the issuer's next user is ${email}`);
	};
	const env = () => ({
		HOME: home,
		CODEX_HOME: home,
		CODEX_AUTH_SYSTEM_CONFIG_DIR: process.env.CODEX_AUTH_SYSTEM_CONFIG_DIR,
		CODEX_AUTH_ISSUER: issuer.base,
		PATH: process.env.PATH,
	});
	/** codex-auth ARGS in a shell, on the same CODEX_HOME. */
	const cli = (...args: string[]) =>
		spawnSync(parts.bin, args, { env: env(), encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
	/** Another editor's sidecar on the same CODEX_HOME, initialized. */
	const otherSidecar = async () => {
		const child = spawn(parts.bin, ['serve'], { env: env(), stdio: ['pipe', 'pipe', 'ignore'] });
		const reap = () => child.kill('SIGKILL');
		process.once('exit', reap);
		child.once('exit', () => process.removeListener('exit', reap));
		const conn = new Connection(child.stdout!, child.stdin!, () => {});
		await conn.request('initialize', { processId: process.pid, capabilities: {}, initializationOptions: { protocolVersion: '1' } });
		conn.notify('initialized', {});
		return { child, conn };
	};

	before(async () => {
		({ issuer, home, ext, ctx } = await activateSignedOut(parts.bin, [`${ADA}:pro:ws-ada`, `${BOB}:team:ws-bob`]));
	});

	after(async () => {
		if (other && other.child.exitCode === null && other.child.signalCode === null) {
			const exited = new Promise((r) => other!.child.once('exit', r));
			other.child.stdin!.end();
			await exited;
		}
		if (ctx) {
			await deactivateAll(ext, ctx);
		}
		await issuer?.stop();
		if (home) {
			fs.rmSync(home, { recursive: true, force: true });
		}
	});

	step('two ChatGPT users signed in: two sessions, bob (signed in last) active', async () => {
		await nextUser(ADA);
		assert.equal((await provider().createSession([])).account.label, ADA);
		secrets.push(...secretsOf(home));
		await nextUser(BOB);
		const bobAdded = waitEvent<ChangeEvent>((l) => provider().onDidChangeSessions(l), (e) => e.added?.some((s) => s.account.label === BOB) ?? false, 'bob added');
		assert.equal((await provider().createSession([])).account.label, BOB);
		await bobAdded;
		secrets.push(...secretsOf(home));

		const list = await provider().accounts();
		for (const a of list.sessions) {
			ids[a.email!] = a.sessionId;
		}
		assert.deepEqual(Object.keys(ids).sort(), [ADA, BOB]);
		assert.equal(list.activeSessionId, ids[BOB]);
		assert.deepEqual((await provider().getSessions([])).map((s) => s.account.label), [BOB, ADA]);
		await waitUntil([stub.statusEmitter.event], () => /1 other saved account\b/.test(String(status()?.tooltip)), 'the status bar to count ada');
	});

	step('a use of ada in another sidecar fires nothing; codex-auth logout --account ada in a shell removes her session', async () => {
		const events: ChangeEvent[] = [];
		const sub = provider().onDidChangeSessions((e) => events.push(e));
		try {
			// A use only: another editor's sidecar asks for ada's token (her
			// lastUsedAt changes, nothing an account list shows), and this
			// window uses bob's.
			other = await otherSidecar();
			const token = await other.conn.request<{ accessToken?: string }>('account/token', { sessionId: ids[ADA] });
			assert.equal(typeof token.accessToken, 'string', "the other sidecar gives ada's token");
			secrets.push(token.accessToken!);
			const seen = (await other.conn.request<List>('accountSession/list', {})).sessions.find((a) => a.sessionId === ids[ADA]);
			assert.ok(seen?.lastUsedAt, 'the use is recorded');
			await provider().getSessions([]);

			// The switch pick, open meanwhile, lists both.
			let pick: { items: { label: string }[] } | undefined;
			let dismiss: () => void = () => {};
			const opened = new Promise<void>((ready) => {
				stub.respondQuickPick = (_items, _opts, p) => {
					pick = p;
					ready();
					return new Promise((answer) => (dismiss = () => answer(undefined)));
				};
			});
			const switching = stub.commands.get('codexAuth.switchAccount')!();
			await opened;
			const labels = () => pick!.items.map((i) => i.label);
			assert.deepEqual(labels(), [`$(check) ${BOB}`, `$(account) ${ADA}`, '$(add) Add another account…'], 'the open pick lists both');

			// Then a change: the inactive ada logged out in a shell.
			const r = cli('logout', '--account', ADA);
			assert.equal(r.status, 0, `codex-auth logout --account ${ADA}: ${r.stderr}`);
			const removed = await waitUntil(
				[(l: (e: ChangeEvent) => void) => provider().onDidChangeSessions(l)],
				() => events.find((e) => e.removed?.some((s) => s.id === ids[ADA])),
				"ada's session removed",
			);
			assert.deepEqual(removed.removed!.map((s) => s.id), [ids[ADA]], 'only ada removed');
			assert.deepEqual(removed.added ?? [], [], 'nothing added');
			assert.deepEqual(removed.changed ?? [], [], 'nothing changed: bob stays active');
			assert.equal(events.length, 1, `one event (the removal), none for the uses: ${JSON.stringify(events.map((e) => ({ added: e.added?.length, removed: e.removed?.length, changed: e.changed?.length })))}`);
			await waitUntil([stub.quickPickEmitter.event], () => !labels().some((l) => l.includes(ADA)), 'the open pick to drop ada');
			assert.deepEqual(labels(), [`$(check) ${BOB}`, '$(add) Add another account…'], 'the open pick lists bob alone');
			dismiss();
			assert.equal(await switching, false, 'dismissed: no switch');
		} finally {
			sub.dispose();
		}
		assert.deepEqual((await provider().getSessions([])).map((s) => s.id), [ids[BOB]], 'bob is the only session left');
		assert.deepEqual((await provider().accounts()).sessions.map((a) => a.sessionId), [ids[BOB]], 'bob is the only saved account');
	});

	step('the status bar and the switch pick show bob alone', async () => {
		const item = await waitUntil(
			[stub.statusEmitter.event],
			() => {
				const s = status();
				return s && s.text === `$(account) Codex: ${BOB}` && !/other saved account/.test(String(s.tooltip)) ? s : undefined;
			},
			'the status bar to show bob and no other saved account',
		);
		assert.equal(item.command, 'codexAuth.switchAccount');
		let offered: { label: string }[] = [];
		stub.respondQuickPick = async (items) => {
			offered = items;
			return undefined;
		};
		assert.equal(await stub.commands.get('codexAuth.switchAccount')!(), false);
		assert.deepEqual(
			offered.map((i) => i.label),
			[`$(check) ${BOB}`, '$(add) Add another account…'],
		);
		assert.ok(!fs.existsSync(path.join(home, 'account-sessions', ids[ADA], 'auth.json')), "ada's saved copy is gone");
	});

	step('no secret reached the output channel, a message or the status bar', () => {
		assert.ok(secrets.length >= 4);
		const text = everythingShown();
		for (const s of secrets) {
			assert.ok(!text.includes(s), 'a secret is in what the extension showed or logged');
		}
	});
});
