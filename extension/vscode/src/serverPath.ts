// Finding the codex-auth binary: the codexAuth.serverPath setting, else the
// one bundled in the .vsix (bin/codex-auth[.exe]), else codex-auth on PATH.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ServerNotFoundError } from './sidecar';

export interface ResolveOptions {
	/** codexAuth.serverPath ("" when unset). */
	setting: string;
	/** The extension's folder (holds bin/ in a platform .vsix). */
	extensionPath: string;
	env?: NodeJS.ProcessEnv;
	platform?: NodeJS.Platform;
}

function isExecutable(file: string, platform: NodeJS.Platform): boolean {
	try {
		if (!fs.statSync(file).isFile()) {
			return false;
		}
		if (platform !== 'win32') {
			fs.accessSync(file, fs.constants.X_OK);
		}
		return true;
	} catch {
		return false;
	}
}

/** Looks name up on PATH as a shell would. */
export function which(name: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string | undefined {
	const dirs = (env.PATH ?? env.Path ?? '').split(platform === 'win32' ? ';' : ':').filter(Boolean);
	const exts = platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';').filter(Boolean) : [''];
	for (const dir of dirs) {
		for (const ext of exts) {
			const candidate = path.join(dir, name + ext.toLowerCase());
			if (isExecutable(candidate, platform)) {
				return candidate;
			}
		}
	}
	return undefined;
}

/** The binary to run; throws ServerNotFoundError with a message naming what to do. */
export function resolveServerPath(opts: ResolveOptions): string {
	const env = opts.env ?? process.env;
	const platform = opts.platform ?? process.platform;
	const exe = platform === 'win32' ? 'codex-auth.exe' : 'codex-auth';
	let setting = opts.setting.trim();
	if (setting) {
		if (setting === '~' || setting.startsWith('~/')) {
			setting = path.join(os.homedir(), setting.slice(1));
		}
		if (path.isAbsolute(setting)) {
			if (isExecutable(setting, platform)) {
				return setting;
			}
			throw new ServerNotFoundError(`codexAuth.serverPath is ${setting}, which is not an executable file.`);
		}
		const found = which(setting, env, platform);
		if (found) {
			return found;
		}
		throw new ServerNotFoundError(`codexAuth.serverPath is ${setting}, which is not on PATH.`);
	}
	const bundled = path.join(opts.extensionPath, 'bin', exe);
	if (platform !== 'win32' && fs.existsSync(bundled) && !isExecutable(bundled, platform)) {
		try {
			fs.chmodSync(bundled, 0o755); // an unzip that dropped the mode bits
		} catch {
			// not ours to fix: PATH is next
		}
	}
	if (isExecutable(bundled, platform)) {
		return bundled;
	}
	const onPath = which('codex-auth', env, platform);
	if (onPath) {
		return onPath;
	}
	throw new ServerNotFoundError(
		'No codex-auth binary: this build of the extension bundles none and codex-auth is not on PATH. ' +
			'Install the platform-specific extension, put codex-auth on PATH, or set codexAuth.serverPath.',
	);
}
