// Finding and starting the binary: a binary of another protocol version
// (a stand-in that answers initialize with -32019, as codex-auth does), a
// missing binary, the bundled one before PATH.

import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveServerPath } from '../src/serverPath';
import { assertNoSession, children, deactivateAll, extensionContext, freshHome, loadExtension, realPartsTest, stub, waitEvent, waitUntil, type ExtensionModule } from './harness';

// A codex-auth of protocol version 2: it answers initialize with -32019
// (the real message's wording) and every other request with -32002.
const STAND_IN = `#!/usr/bin/env node
let buf = Buffer.alloc(0);
const send = (m) => { const b = Buffer.from(JSON.stringify(m)); process.stdout.write('Content-Length: ' + b.length + '\\r\\n\\r\\n'); process.stdout.write(b); };
process.stdin.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  for (;;) {
    const end = buf.indexOf('\\r\\n\\r\\n'); if (end < 0) return;
    const len = Number(/content-length:\\s*(\\d+)/i.exec(buf.subarray(0, end).toString())[1]);
    if (buf.length < end + 4 + len) return;
    const msg = JSON.parse(buf.subarray(end + 4, end + 4 + len).toString()); buf = buf.subarray(end + 4 + len);
    if (msg.id === undefined) continue;
    if (msg.method === 'initialize') {
      const v = msg.params && msg.params.initializationOptions && msg.params.initializationOptions.protocolVersion;
      send({ jsonrpc: '2.0', id: msg.id, error: { code: -32019, message: 'incompatible protocol: the client speaks codex-auth protocol version "' + v + '" but this codex-auth (9.0.0) speaks version "2"; update the older of the two' } });
    } else {
      send({ jsonrpc: '2.0', id: msg.id, error: { code: -32002, message: 'the server is not initialized: send initialize first' } });
    }
  }
});
process.stdin.on('end', () => process.exit(0));
`;

const found = realPartsTest({ codex: false });

(found ? describe : describe.skip)('the codex-auth binary', () => {
	let ext: ExtensionModule;
	let ctx: ReturnType<typeof extensionContext> | undefined;
	let dir: string;
	let home: string;
	let standIn: string;

	before(() => {
		home = freshHome('http://127.0.0.1:9');
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-vscode-bin-'));
		standIn = path.join(dir, 'codex-auth-v2');
		fs.writeFileSync(standIn, STAND_IN, { mode: 0o755 });
		ext = loadExtension();
	});

	after(async () => {
		if (ctx) {
			await deactivateAll(ext, ctx);
		}
		fs.rmSync(dir, { recursive: true, force: true });
		fs.rmSync(home, { recursive: true, force: true });
	});

	it('says plainly when binary and extension speak different protocol versions (-32019), with a button to the setting', async () => {
		stub.config.set('codexAuth.serverPath', standIn);
		let clicked = false;
		stub.respondMessage = async (m) => {
			if (m.kind === 'error' && m.items.includes('Open Settings')) {
				clicked = true;
				return 'Open Settings';
			}
			return undefined;
		};
		const shown = waitEvent(stub.shownEmitter.event, (m) => m.kind === 'error', 'an error message');
		ctx = extensionContext();
		ext.activate(ctx);
		const err = await shown;
		assert.match(err.message, /does not match this extension/);
		assert.ok(err.message.includes(standIn), 'the message names the binary');
		assert.match(err.message, /protocol version "1".*version "2"/, "the sidecar's words, naming both versions");
		assert.deepEqual(err.items, ['Open Settings']);
		const opened = await waitEvent(stub.executedEmitter.event, (e) => e.command === 'workbench.action.openSettings', 'the settings to open');
		assert.ok(clicked);
		assert.deepEqual(opened?.args, ['codexAuth.serverPath']);
		const provider = stub.providers.get('codex')!.provider;
		await assert.rejects(provider.getSessions([]), /does not match this extension/, 'getSessions reports it too');
		const status = stub.statusItems.find((i) => i.visible);
		assert.equal(status?.text, '$(error) Codex');
		assert.equal(
			stub.output.filter((l) => l.includes('started ')).length,
			1,
			'started once: no restart loop on a version mismatch',
		);
		assert.deepEqual(children().filter((c) => c.cmd.includes(standIn)), [], 'the stand-in was stopped');
	});

	it('a missing binary is an error naming the setting; fixing the setting restarts the sidecar', async () => {
		stub.clearRecords();
		const shown = waitEvent(stub.shownEmitter.event, (m) => m.kind === 'error', 'an error message');
		stub.setConfig('codexAuth.serverPath', path.join(dir, 'no-such-codex-auth'));
		const err = await shown;
		assert.match(err.message, /codexAuth\.serverPath is .*no-such-codex-auth.*not an executable/);
		assert.deepEqual(err.items, ['Open Settings']);
		const provider = stub.providers.get('codex')!.provider;
		await assert.rejects(provider.getSessions([]), /no-such-codex-auth/);

		stub.setConfig('codexAuth.serverPath', process.env.CODEX_AUTH_BIN);
		assertNoSession(await provider.getSessions([]), 'the real binary answers after the fix');
		await waitUntil([stub.statusEmitter.event], () => stub.statusItems.some((i) => i.visible && String(i.text).includes('sign in')), 'the status bar to recover');
	});

	it('a binary that keeps exiting is retried with backoff and reported once, with its stderr in the log', async () => {
		stub.clearRecords();
		const crasher = path.join(dir, 'codex-auth-crash');
		fs.writeFileSync(crasher, '#!/bin/sh\necho "crash: no config" >&2\nexit 3\n', { mode: 0o755 });
		const shown = waitEvent(stub.shownEmitter.event, (m) => m.kind === 'error', 'an error message');
		stub.setConfig('codexAuth.serverPath', crasher);
		const err = await shown;
		assert.match(err.message, /keeps stopping/);
		assert.deepEqual(err.items, ['Show Log']);
		assert.ok(stub.output.includes('[sidecar] crash: no config'), "the binary's stderr is in the output channel");
		assert.ok(stub.output.some((l) => /restarting the codex-auth sidecar in \d+ ms/.test(l)), 'restarted with backoff');
		stub.setConfig('codexAuth.serverPath', process.env.CODEX_AUTH_BIN);
		assertNoSession(await stub.providers.get('codex')!.provider.getSessions([]), 'the real binary answers after the fix');
	});

	it('empty serverPath: bin/ inside the extension first, then codex-auth on PATH, else an error', async () => {
		const extDir = path.join(dir, 'ext');
		const pathDir = path.join(dir, 'path');
		fs.mkdirSync(path.join(extDir, 'bin'), { recursive: true });
		fs.mkdirSync(pathDir);
		const env = { PATH: pathDir };
		assert.throws(() => resolveServerPath({ setting: '', extensionPath: extDir, env, platform: 'linux' }), /bundles none and codex-auth is not on PATH/);
		fs.writeFileSync(path.join(pathDir, 'codex-auth'), '', { mode: 0o755 });
		assert.equal(resolveServerPath({ setting: '', extensionPath: extDir, env, platform: 'linux' }), path.join(pathDir, 'codex-auth'));
		fs.writeFileSync(path.join(extDir, 'bin', 'codex-auth'), '', { mode: 0o755 });
		assert.equal(resolveServerPath({ setting: '', extensionPath: extDir, env, platform: 'linux' }), path.join(extDir, 'bin', 'codex-auth'));
		assert.equal(resolveServerPath({ setting: 'codex-auth', extensionPath: extDir, env, platform: 'linux' }), path.join(pathDir, 'codex-auth'));
	});
});
