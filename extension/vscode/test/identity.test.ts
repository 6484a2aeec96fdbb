// Session identity from account/read's account: stable ids, labels for
// every type the sidecar reports, later ones included.

import './harness'; // injects the vscode stub before the provider loads
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { accountLabel, activeFirst, checkedList, identityOf, listOfRead, sessionChanges, stillGood } from '../src/provider';
import { accountItem } from '../src/accounts';
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

describe('saved accounts', () => {
	const ada = { sessionId: 'chatgpt-ada', type: 'chatgpt', email: 'ada@example.com', planType: 'pro', workspaces: [{ accountId: 'ws-ada', name: 'Ada' }], needsLogin: false };
	const key = { sessionId: 'apikey-1', type: 'apiKey', apiKeyHint: 'sk-proj-***vwxyz', workspaces: [], needsLogin: false };

	it('labels: the email, else the key hint, else the type', () => {
		assert.equal(accountLabel(ada), 'ada@example.com');
		assert.equal(accountLabel(key), 'sk-proj-***vwxyz');
		assert.equal(accountLabel({ sessionId: 'x', type: 'apiKey' }), 'API key');
		assert.equal(accountLabel({ sessionId: 'x', type: 'accessToken' }), 'Codex (accessToken)');
	});

	it('checkedList drops what is malformed; an active id not in the list is no active account', () => {
		assert.deepEqual(checkedList(null), { activeSessionId: null, sessions: [] });
		assert.deepEqual(checkedList({ activeSessionId: 'gone', sessions: [ada, null, 3, { type: 'chatgpt' }, { sessionId: '' }] }), {
			activeSessionId: null,
			sessions: [ada],
		});
		assert.deepEqual(checkedList({ activeSessionId: 'apikey-1', sessions: [ada, key] }).activeSessionId, 'apikey-1');
	});

	it('activeFirst keeps the order of the others', () => {
		const third = { ...ada, sessionId: 'c' };
		assert.deepEqual(
			activeFirst({ activeSessionId: 'apikey-1', sessions: [ada, key, third] }).map((a) => a.sessionId),
			['apikey-1', 'chatgpt-ada', 'c'],
		);
		assert.deepEqual(activeFirst({ activeSessionId: null, sessions: [ada, key] }).map((a) => a.sessionId), ['chatgpt-ada', 'apikey-1']);
	});

	it('listOfRead: an older sidecar has one account, with identityOf id', () => {
		const read: any = { account: { type: 'chatgpt', email: 'ada@example.com', planType: 'pro', workspaceId: 'ws-1', expiresAt: null } };
		const l = listOfRead(read);
		assert.equal(l.activeSessionId, 'chatgpt:ws-1:ada@example.com');
		assert.equal(l.sessions.length, 1);
		assert.equal(l.sessions[0].email, 'ada@example.com');
		assert.deepEqual(listOfRead({ account: null } as any), { activeSessionId: null, sessions: [] });
	});

	it('the pick marks the active, a forbidden and a signed-out account', () => {
		assert.equal(accountItem(ada, true).label, '$(check) ada@example.com');
		assert.equal(accountItem(ada, true).description, 'active · ChatGPT · pro · Ada');
		assert.equal(accountItem(key, false).label, '$(key) sk-proj-***vwxyz');
		assert.equal(accountItem({ ...ada, needsLogin: true }, false).detail, '$(warning) Signed out: sign in again as this account');
		assert.equal(accountItem({ ...ada, forbidden: 'Login is restricted to workspace id(s) ws-x.' }, false).detail, '$(circle-slash) Login is restricted to workspace id(s) ws-x.');
	});
});

describe('sessionChanges', () => {
	const session = (id: string, label: string, accessToken = `token-of-${id}`) => ({ id, accessToken, account: { id, label }, scopes: [] });
	const byId = (...s: ReturnType<typeof session>[]) => new Map(s.map((x) => [x.id, x]));
	const ids = (c: { added: { id: string }[]; removed: { id: string }[]; changed: { id: string }[] } | undefined) =>
		c && { added: c.added.map((s) => s.id), removed: c.removed.map((s) => s.id), changed: c.changed.map((s) => s.id) };
	const ada = session('ada', 'ada@example.com');
	const bob = session('bob', 'bob@example.com');

	it('nothing changed, or only the order (a use of an account): no change', () => {
		assert.equal(sessionChanges(byId(ada, bob), 'bob', [ada, bob], 'bob'), undefined);
		assert.equal(sessionChanges(byId(ada, bob), 'bob', [bob, { ...ada, scopes: ['x'] }], 'bob'), undefined);
		assert.equal(sessionChanges(new Map(), null, [], null), undefined);
	});

	it('an account gone (forgotten or signed out elsewhere, or needing a new sign-in) is removed; a new one added', () => {
		assert.deepEqual(ids(sessionChanges(byId(ada, bob), 'bob', [bob], 'bob')), { added: [], removed: ['ada'], changed: [] });
		assert.deepEqual(ids(sessionChanges(byId(bob), 'bob', [bob, ada], 'bob')), { added: ['ada'], removed: [], changed: [] });
	});

	it('a switch changes the old and the new active one; a new token or label changes that one', () => {
		assert.deepEqual(ids(sessionChanges(byId(ada, bob), 'bob', [ada, bob], 'ada')), { added: [], removed: [], changed: ['ada', 'bob'] });
		assert.deepEqual(ids(sessionChanges(byId(ada, bob), 'bob', [ada, bob], null)), { added: [], removed: [], changed: ['bob'] });
		assert.deepEqual(ids(sessionChanges(byId(ada, bob), 'bob', [session('ada', 'ada@example.com', 'refreshed'), bob], 'bob')), {
			added: [],
			removed: [],
			changed: ['ada'],
		});
		assert.deepEqual(ids(sessionChanges(byId(ada, bob), 'bob', [session('ada', 'ada@new.example.com'), bob], 'bob')), {
			added: [],
			removed: [],
			changed: ['ada'],
		});
	});
});

describe('stillGood', () => {
	it('keeps keys and tokens more than 5 minutes from expiry; asks again otherwise', () => {
		const now = Date.parse('2030-01-01T00:00:00Z');
		assert.equal(stillGood({ type: 'apiKey', apiKey: 'k' }, now), true);
		assert.equal(stillGood({ type: 'personalAccessToken', accessToken: 'at' }, now), true);
		assert.equal(stillGood({ type: 'chatgpt', accessToken: 't', expiresAt: '2030-01-01T00:06:00Z' }, now), true);
		assert.equal(stillGood({ type: 'chatgpt', accessToken: 't', expiresAt: '2030-01-01T00:04:00Z' }, now), false);
		assert.equal(stillGood({ type: 'chatgpt', accessToken: 't', expiresAt: null }, now), false);
		assert.equal(stillGood({ type: 'chatgpt', accessToken: 't', expiresAt: 'garbage' }, now), false);
	});
});
