// The window/showDocument handler: the one place that opens the sign-in
// page. OpenAI redirects the browser only to localhost:1455 or :1457, so
// the page is opened only when the browser can reach that port on the
// sidecar's machine: locally, or through VS Code's port forwarding when it
// maps the port to the same local port. Otherwise the handler answers
// {success: false} and tells the waiting browser flow to fall back to a
// device code.

import * as vscode from 'vscode';
import { Emitter } from './emitter';
import type { Log } from './log';

/** The port of authUrl's redirect_uri when it is a loopback callback. */
export function callbackPort(authUrl: string): number | undefined {
	let redirect: URL;
	try {
		const r = new URL(authUrl).searchParams.get('redirect_uri');
		if (!r) {
			return undefined;
		}
		redirect = new URL(r);
	} catch {
		return undefined;
	}
	if (!isLoopback(redirect.hostname) || !redirect.port) {
		return undefined;
	}
	return Number(redirect.port);
}

function isLoopback(host: string): boolean {
	return host === 'localhost' || host === '127.0.0.1' || host === '[::1]' || host === '::1';
}

/** Why the page was not opened. */
export interface Refusal {
	uri: string;
	reason: string;
}

export class SignInPage {
	private readonly refused = new Emitter<Refusal>();
	/** The page at uri was not opened: the login waiting on it should use a device code. */
	readonly onDidRefuse = this.refused.event;

	constructor(private readonly log: Log) {}

	async show(params: { uri?: unknown }): Promise<{ success: boolean }> {
		const uri = typeof params?.uri === 'string' ? params.uri : '';
		if (!/^https?:\/\//i.test(uri)) {
			this.log.warn('window/showDocument: not an http(s) URL; not opened');
			return { success: false };
		}
		const port = callbackPort(uri);
		if (port !== undefined) {
			const local = vscode.Uri.parse(`http://localhost:${port}/`);
			let external: vscode.Uri;
			try {
				external = await vscode.env.asExternalUri(local);
			} catch (err) {
				return this.refuse(uri, `the callback port ${port} cannot be forwarded (${(err as Error).message})`);
			}
			const [host, extPort] = splitAuthority(external.authority);
			if (external.scheme !== 'http' || !isLoopback(host) || extPort !== port) {
				return this.refuse(uri, `the callback port ${port} is forwarded as ${external.scheme}://${external.authority}, which OpenAI does not redirect to`);
			}
		}
		let opened = false;
		try {
			opened = await vscode.env.openExternal(vscode.Uri.parse(uri, true));
		} catch {
			opened = false;
		}
		if (!opened) {
			return this.refuse(uri, 'the browser could not be opened');
		}
		this.log.info('opened the sign-in page in the browser');
		return { success: true };
	}

	private refuse(uri: string, reason: string): { success: boolean } {
		this.log.info(`sign-in page not opened: ${reason}; signing in with a device code instead`);
		this.refused.fire({ uri, reason });
		return { success: false };
	}
}

function splitAuthority(authority: string): [string, number | undefined] {
	const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(authority.replace(/^[^@]*@/, ''));
	if (!m) {
		return [authority, undefined];
	}
	return [m[1].toLowerCase(), m[2] ? Number(m[2]) : undefined];
}
