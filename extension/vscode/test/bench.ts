// npm run bench: activation to the first getSessions answer (signed in
// with an API key, so the answer carries a token), against the real
// binary; the median of several runs, in ms.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { deactivateAll, extensionContext, freshHome, loadExtension, realParts, stub } from './harness';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);

async function main(): Promise<void> {
	const { bin } = realParts({ codex: false });
	stub.config.set('codexAuth.serverPath', bin);
	const ext = loadExtension();
	const times: number[] = [];
	for (let i = 0; i < RUNS; i++) {
		const home = freshHome('http://127.0.0.1:9');
		const key = `sk-proj-bench${i}${'x'.repeat(24)}abcde`;
		fs.writeFileSync(path.join(home, 'auth.json'), JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: key }), { mode: 0o600 });
		const ctx = extensionContext();
		const t0 = process.hrtime.bigint();
		ext.activate(ctx);
		const sessions = await stub.providers.get('codex')!.provider.getSessions([]);
		const ms = Number(process.hrtime.bigint() - t0) / 1e6;
		if (sessions.length !== 1 || sessions[0].accessToken !== key) {
			throw new Error(`run ${i}: getSessions did not answer the stored API key`);
		}
		times.push(ms);
		await deactivateAll(ext, ctx);
		fs.rmSync(home, { recursive: true, force: true });
	}
	const sorted = [...times].sort((a, b) => a - b);
	const median = sorted[Math.floor(sorted.length / 2)];
	console.log(`activation to first getSessions answer: median ${median.toFixed(1)} ms over ${RUNS} runs (min ${sorted[0].toFixed(1)}, max ${sorted.at(-1)!.toFixed(1)})`);
}

main().catch((err) => {
	console.error(`bench: ${(err as Error).message}`);
	process.exit(1);
});
