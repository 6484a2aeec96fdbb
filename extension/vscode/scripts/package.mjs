// Packages one platform-specific .vsix with its codex-auth binary at
// bin/codex-auth[.exe]: node scripts/package.mjs --target linux-x64
// --binary ../../dist/codex-auth-linux-amd64 --out ../../dist/codex-auth-linux-x64.vsix
//
// It stages package.json, README.md, LICENSE, dist/extension.js and the
// binary in a temporary folder and runs vsce there (--no-dependencies: the
// bundle has none), so neither node_modules nor tests can get in and no
// binary is left in the source tree. Run `npm run build` first.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { target: { type: 'string' }, binary: { type: 'string' }, out: { type: 'string' } } });
const targets = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64', 'win32-arm64'];
if (!values.target || !targets.includes(values.target) || !values.binary || !values.out) {
	console.error(`usage: package.mjs --target ${targets.join('|')} --binary PATH --out FILE.vsix`);
	process.exit(2);
}
const binary = resolve(values.binary);
const out = resolve(values.out);
const bundle = join(root, 'dist', 'extension.js');
for (const [what, file] of [['the binary', binary], ['the bundle (npm run build)', bundle]]) {
	if (!existsSync(file)) {
		console.error(`package: ${what} is missing: ${file}`);
		process.exit(1);
	}
}
mkdirSync(dirname(out), { recursive: true });
const stage = mkdtempSync(join(tmpdir(), 'codex-auth-vsix-'));
try {
	mkdirSync(join(stage, 'dist'));
	mkdirSync(join(stage, 'bin'));
	for (const f of ['package.json', 'README.md', '.vscodeignore']) {
		copyFileSync(join(root, f), join(stage, f));
	}
	copyFileSync(join(root, '..', '..', 'LICENSE'), join(stage, 'LICENSE'));
	copyFileSync(bundle, join(stage, 'dist', 'extension.js'));
	const exe = values.target.startsWith('win32-') ? 'codex-auth.exe' : 'codex-auth';
	copyFileSync(binary, join(stage, 'bin', exe));
	chmodSync(join(stage, 'bin', exe), 0o755);
	const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
	execFileSync(process.execPath, [vsce, 'package', '--no-dependencies', '--target', values.target, '--out', out], { cwd: stage, stdio: 'inherit' });
} finally {
	rmSync(stage, { recursive: true, force: true });
}
