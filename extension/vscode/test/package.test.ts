// The manifest and the package: the fixed names in package.json, what vsce
// would take from this folder (.vscodeignore), and a platform .vsix made by
// scripts/package.mjs (as make vsix runs it) holding the binary at
// bin/codex-auth with its executable bit, and nothing else of ours.

import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { EXT_DIR } from './harness';

const manifest = JSON.parse(fs.readFileSync(path.join(EXT_DIR, 'package.json'), 'utf8'));
const vsce = path.join(EXT_DIR, 'node_modules', '@vscode', 'vsce', 'vsce');

/** The entries of a zip file: names, Unix modes and contents, from its central directory. */
function zipEntries(file: string): Map<string, { mode: number; read(): string }> {
	const b = fs.readFileSync(file);
	const eocd = b.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
	assert.ok(eocd >= 0, `${file} is not a zip file`);
	const count = b.readUInt16LE(eocd + 10);
	let at = b.readUInt32LE(eocd + 16);
	const out = new Map<string, { mode: number; read(): string }>();
	for (let i = 0; i < count; i++) {
		assert.equal(b.readUInt32LE(at), 0x02014b50, 'a central directory entry');
		const nameLen = b.readUInt16LE(at + 28);
		const extraLen = b.readUInt16LE(at + 30);
		const commentLen = b.readUInt16LE(at + 32);
		const mode = b.readUInt32LE(at + 38) >>> 16;
		const method = b.readUInt16LE(at + 10);
		const size = b.readUInt32LE(at + 20);
		const local = b.readUInt32LE(at + 42);
		const read = () => {
			const start = local + 30 + b.readUInt16LE(local + 26) + b.readUInt16LE(local + 28);
			const data = b.subarray(start, start + size);
			return (method === 8 ? zlib.inflateRawSync(data) : data).toString('utf8');
		};
		out.set(b.subarray(at + 46, at + 46 + nameLen).toString('utf8'), { mode, read });
		at += 46 + nameLen + extraLen + commentLen;
	}
	return out;
}

describe('package', () => {
	it('package.json has the fixed names', () => {
		assert.equal(manifest.name, 'codex-auth');
		assert.equal(manifest.publisher, 'codex-auth');
		assert.equal(manifest.main, './dist/extension.js');
		assert.equal(manifest.license, 'MIT');
		assert.ok(manifest.repository?.url, 'a repository');
		assert.match(manifest.engines.vscode, /^\^1\.(9\d|\d{3,})\./, 'engines.vscode ^1.90 or newer');
		assert.equal(manifest.devDependencies['@types/vscode'], manifest.engines.vscode.replace(/^\^/, ''), '@types/vscode matches engines');
		assert.deepEqual(manifest.extensionKind, ['workspace']);
		assert.deepEqual(manifest.contributes.authentication, [{ id: 'codex', label: 'Codex' }]);
		assert.deepEqual(Object.keys(manifest.contributes.configuration.properties).sort(), ['codexAuth.logLevel', 'codexAuth.serverPath']);
	});

	it('vsce takes only the manifest, README and bundle from this folder (.vscodeignore)', () => {
		const listed = execFileSync(process.execPath, [vsce, 'ls', '--no-dependencies'], { cwd: EXT_DIR, encoding: 'utf8' })
			.split('\n')
			.map((l) => l.trim())
			.filter(Boolean)
			.sort();
		const allowed = new Set(['package.json', 'README.md', 'LICENSE', 'dist/extension.js']);
		const extra = listed.filter((f) => !allowed.has(f) && !f.startsWith('bin/'));
		assert.deepEqual(extra, [], 'nothing but the manifest, README, LICENSE, bundle and bin/');
		assert.ok(listed.includes('dist/extension.js'), 'the bundle is packaged');
	});

	it('scripts/package.mjs writes a platform .vsix with bin/codex-auth executable', () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-vsix-test-'));
		try {
			const fakeBin = path.join(dir, 'codex-auth-linux-arm64');
			fs.writeFileSync(fakeBin, '#!/bin/sh\n', { mode: 0o644 });
			const out = path.join(dir, 'out', 'codex-auth-linux-arm64.vsix');
			execFileSync(process.execPath, [path.join(EXT_DIR, 'scripts', 'package.mjs'), '--target', 'linux-arm64', '--binary', fakeBin, '--out', out], {
				stdio: 'pipe',
			});
			const entries = zipEntries(out);
			const ours = [...entries.keys()].filter((n) => n.startsWith('extension/')).sort();
			assert.deepEqual(ours, ['extension/LICENSE.txt', 'extension/bin/codex-auth', 'extension/dist/extension.js', 'extension/package.json', 'extension/readme.md']);
			assert.equal(entries.get('extension/bin/codex-auth')!.mode & 0o111, 0o111, 'the binary is executable');
			assert.match(entries.get('extension.vsixmanifest')!.read(), /TargetPlatform="linux-arm64"/);
			assert.equal(entries.get('extension/bin/codex-auth')!.read(), '#!/bin/sh\n', 'the binary given');
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});
});
