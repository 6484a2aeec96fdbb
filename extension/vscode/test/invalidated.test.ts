// A refresh token the issuer rejects: the sidecar says refreshFailed, the
// session goes away and the status bar turns to a warning; signing in
// again brings the session back and clears it.

import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
	assertNoSession,
	browse,
	eventually,
	deactivateAll,
	extensionContext,
	freshHome,
	loadExtension,
	realPartsTest,
	secretsOf,
	startIssuer,
	stub,
	waitEvent,
	waitUntil,
	type ExtensionModule,
} from './harness';

const found = realPartsTest({ codex: false });

(found ? describe : describe.skip)('a session invalidated by the issuer', () => {
	let issuer: { base: string; stop(): Promise<void> };
	let home: string;
	let ext: ExtensionModule;
	let ctx: ReturnType<typeof extensionContext> | undefined;
	const provider = () => stub.providers.get('codex')!.provider;
	const status = () => stub.statusItems.find((i) => i.id === 'codexAuth.status' && i.visible);

	before(async () => {
		// Access tokens of 4 s: always inside the sidecar's refresh window, so
		// every token request after the first seconds redeems the refresh token.
		issuer = await startIssuer(found!.bin, ['--user', 'grace@example.com:team:ws-grace', '--access-ttl', '4s']);
		home = freshHome(issuer.base);
		stub.config.set('codexAuth.serverPath', found!.bin);
		stub.config.set('codexAuth.logLevel', 'debug');
		stub.openExternal = async (url) => {
			void browse(url).catch(() => {});
			return true;
		};
		ext = loadExtension();
		ctx = extensionContext();
		ext.activate(ctx);
	});

	after(async () => {
		if (ctx) {
			await deactivateAll(ext, ctx);
		}
		await issuer?.stop();
		fs.rmSync(home, { recursive: true, force: true });
	});

	it('refreshFailed removes the session and warns; signing in again clears the warning', async () => {
		const s = await provider().createSession([]);
		assert.equal(s.account.label, 'grace@example.com');

		const warned = waitEvent(stub.shownEmitter.event, (m) => m.kind === 'warning' && m.items.includes('Sign in again'), 'a "Sign in again" warning');
		const removed = waitEvent<any>((l) => provider().onDidChangeSessions(l), (e) => e.removed?.length > 0, 'the session removed');
		const res = await fetch(`${issuer.base}/debug/revoke`, { method: 'POST', body: JSON.stringify({ all: true }) });
		assert.equal(res.status, 200);
		// The sidecar serves the token it just stored for a few seconds
		// (its coalescing window) before it redeems the refresh token again.
		const gone = await eventually(async () => ((await provider().getSessions([])).length === 0 ? true : undefined), 'getSessions to answer no session');
		assert.ok(gone);
		assertNoSession(await provider().getSessions([]), 'no session once the refresh token is rejected');
		await removed;
		const w = await warned;
		await waitUntil([stub.statusEmitter.event], () => String(status()?.text).startsWith('$(warning)'), 'the status-bar warning');
		assert.ok(String(status()?.tooltip).includes(w.message));

		// Sign Out still removes the stored (now useless) credentials.
		assert.ok(secretsOf(home).length > 0, 'the rejected credentials are still stored');
		await stub.commands.get('codexAuth.signOut')!();
		assert.equal(secretsOf(home).length, 0, 'Sign Out removed them');

		// "Sign in again" from the warning: the quick pick, then the browser.
		stub.respondQuickPick = async (items) => items[0];
		const added = waitEvent<any>((l) => provider().onDidChangeSessions(l), (e) => e.added?.length > 0, 'a session added');
		await stub.commands.get('codexAuth.signIn')!();
		await added;
		await waitUntil([stub.statusEmitter.event], () => status()?.text === '$(account) Codex: grace@example.com', 'the status bar back to the email');
		assert.equal(status()?.backgroundColor, undefined);
		assert.equal((await provider().getSessions([])).length, 1);
	});
});
