// The "Codex Auth" output channel: the extension's own lines at
// codexAuth.logLevel and the sidecar's stderr as it comes (the sidecar
// filters by the same level). Callers never pass a secret: no message
// body, token or API key is ever logged.

import * as vscode from 'vscode';
import type { SidecarLog } from './sidecar';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function parseLevel(v: unknown): LogLevel {
	return typeof v === 'string' && v in ORDER ? (v as LogLevel) : 'info';
}

export class Log implements SidecarLog, vscode.Disposable {
	constructor(
		private readonly channel: vscode.OutputChannel,
		public level: LogLevel,
	) {}

	show(): void {
		this.channel.show(true);
	}

	debug(msg: string): void {
		this.write('debug', msg);
	}
	info(msg: string): void {
		this.write('info', msg);
	}
	warn(msg: string): void {
		this.write('warn', msg);
	}
	error(msg: string): void {
		this.write('error', msg);
	}

	sidecar(line: string): void {
		this.channel.appendLine(`[sidecar] ${line}`);
	}

	dispose(): void {
		this.channel.dispose();
	}

	private write(level: LogLevel, msg: string): void {
		if (ORDER[level] >= ORDER[this.level]) {
			this.channel.appendLine(`${new Date().toISOString()} [${level}] ${msg}`);
		}
	}
}
