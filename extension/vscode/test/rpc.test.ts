// The wire: LSP framing in pieces, header names in any case, error answers,
// server-to-client requests, and requests failing when the connection ends.

import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { Connection, ConnectionClosedError, RpcError } from '../src/rpc';

function frame(msg: unknown, header = 'Content-Length'): Buffer {
	const body = Buffer.from(JSON.stringify(msg));
	return Buffer.concat([Buffer.from(`${header}: ${body.length}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n`), body]);
}

/** The frames the connection wrote, parsed. */
function written(out: PassThrough): any[] {
	const buf: Buffer = out.read() ?? Buffer.alloc(0);
	const msgs: any[] = [];
	let rest = buf;
	while (rest.length) {
		const end = rest.indexOf('\r\n\r\n');
		const len = Number(/Content-Length: (\d+)/.exec(rest.subarray(0, end).toString())![1]);
		msgs.push(JSON.parse(rest.subarray(end + 4, end + 4 + len).toString()));
		rest = rest.subarray(end + 4 + len);
	}
	return msgs;
}

describe('Connection', () => {
	it('reads frames split anywhere, with any header case, and answers by id', async () => {
		const input = new PassThrough();
		const output = new PassThrough();
		const notes: string[] = [];
		const c = new Connection(input, output, (m) => notes.push(m));
		const p1 = c.request('account/read', {});
		const p2 = c.request('account/token', {});
		const [r1, r2] = written(output);
		assert.equal(r1.method, 'account/read');
		assert.equal(r1.jsonrpc, '2.0');
		const bytes = Buffer.concat([
			frame({ jsonrpc: '2.0', method: 'account/updated', params: { authMode: null } }, 'content-length'),
			frame({ jsonrpc: '2.0', id: r2.id, error: { code: -32010, message: 'not logged in' } }),
			frame({ jsonrpc: '2.0', id: r1.id, result: { account: null, note: 'é' } }, 'CONTENT-LENGTH'),
		]);
		for (let i = 0; i < bytes.length; i += 7) {
			input.write(bytes.subarray(i, i + 7));
		}
		assert.deepEqual(await p1, { account: null, note: 'é' });
		await assert.rejects(p2, (err: unknown) => err instanceof RpcError && err.code === -32010 && err.message === 'not logged in');
		assert.deepEqual(notes, ['account/updated']);
	});

	it('answers server requests, -32601 for unknown ones', async () => {
		const input = new PassThrough();
		const output = new PassThrough();
		const c = new Connection(input, output, () => {});
		c.handle('window/showDocument', async (p: any) => ({ success: p.uri === 'https://x/' }));
		input.write(frame({ jsonrpc: '2.0', id: 7, method: 'window/showDocument', params: { uri: 'https://x/', external: true } }));
		input.write(frame({ jsonrpc: '2.0', id: 'q', method: 'workspace/configuration', params: {} }));
		const got = await new Promise<any[]>((resolve) => {
			const seen: any[] = [];
			output.on('readable', () => {
				seen.push(...written(output));
				if (seen.length >= 2) {
					resolve(seen);
				}
			});
		});
		const byId = new Map(got.map((m) => [m.id, m]));
		assert.deepEqual(byId.get(7).result, { success: true });
		assert.equal(byId.get('q').error.code, -32601);
	});

	it('fails requests in flight, and later ones, when closed', async () => {
		const c = new Connection(new PassThrough(), new PassThrough(), () => {});
		const p = c.request('account/read');
		c.close(new ConnectionClosedError('gone'));
		await assert.rejects(p, ConnectionClosedError);
		await assert.rejects(c.request('account/read'), ConnectionClosedError);
	});
});
