// Session identity from account/read's account: stable ids, labels for
// every type the sidecar reports, later ones included.

import './harness'; // injects the vscode stub before the provider loads
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { identityOf } from '../src/provider';
import { callbackPort } from '../src/signInPage';

describe('identityOf', () => {
	it('labels and ids every account type, unknown ones included', () => {
		const cases: { account: any; id: string; label: string }[] = [
			{ account: { type: 'apiKey', apiKeyHint: 'sk-proj-***vwxyz' }, id: 'apikey:sk-proj-***vwxyz', label: 'sk-proj-***vwxyz' },
			{
				account: { type: 'chatgpt', email: 'ada@example.com', planType: 'pro', workspaceId: 'ws-1', expiresAt: null },
				id: 'chatgpt:ws-1:ada@example.com',
				label: 'ada@example.com',
			},
			{ account: { type: 'chatgptAuthTokens', email: 'bob@example.com', workspaceId: 'ws-2' }, id: 'chatgptAuthTokens:ws-2:bob@example.com', label: 'bob@example.com' },
			{ account: { type: 'somethingNew' }, id: 'somethingNew::', label: 'Codex (somethingNew)' },
			{ account: { type: '' }, id: '::', label: 'Codex (unknown sign-in)' },
		];
		for (const c of cases) {
			const got = identityOf(c.account);
			assert.equal(got.id, c.id, `id of ${JSON.stringify(c.account)}`);
			assert.equal(got.label, c.label, `label of ${JSON.stringify(c.account)}`);
		}
	});

	it('another workspace of the same email is another account', () => {
		const a = identityOf({ type: 'chatgpt', email: 'ada@example.com', planType: 'pro', workspaceId: 'ws-1', expiresAt: null });
		const b = identityOf({ type: 'chatgpt', email: 'ada@example.com', planType: 'team', workspaceId: 'ws-2', expiresAt: null });
		assert.notEqual(a.id, b.id);
	});
});

describe('callbackPort', () => {
	it("reads the loopback port of authUrl's redirect_uri", () => {
		const u = (r: string) => `https://auth.openai.com/oauth/authorize?client_id=x&redirect_uri=${encodeURIComponent(r)}&state=s`;
		assert.equal(callbackPort(u('http://localhost:1455/auth/callback')), 1455);
		assert.equal(callbackPort(u('http://127.0.0.1:1457/auth/callback')), 1457);
		assert.equal(callbackPort(u('https://example.com:1455/auth/callback')), undefined);
		assert.equal(callbackPort('https://auth.openai.com/codex/device'), undefined);
		assert.equal(callbackPort('not a url'), undefined);
	});
});
