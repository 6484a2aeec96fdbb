// Bundles the extension with esbuild into dist/extension.js (vscode
// external, Node 20 as in VS Code 1.90's extension host); with --tests,
// also compiles test/*.ts into out/test/ (one file each, vscode external:
// the tests inject their stub).
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tests = process.argv.includes('--tests');
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['vscode'], logLevel: 'warning', absWorkingDir: root };

await esbuild.build({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', sourcemap: false, minify: false });

if (tests) {
	rmSync(join(root, 'out'), { recursive: true, force: true });
	const entries = readdirSync(join(root, 'test'))
		.filter((f) => f.endsWith('.ts') && f !== 'harness.ts')
		.map((f) => `test/${f}`);
	await esbuild.build({ ...common, entryPoints: entries, outdir: 'out/test', sourcemap: 'inline', packages: 'external' });
}
