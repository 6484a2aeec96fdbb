// A stub of the parts of the vscode API the extension uses. The harness
// resolves `require('vscode')` to this file. What a user would do (pick an
// item, type a key, click a button) is answered by the test's responders;
// everything the extension shows is recorded for the test to read.

/* eslint-disable @typescript-eslint/no-explicit-any */

type Listener<T> = (e: T) => any;

export class Disposable {
	constructor(private readonly fn: () => void = () => {}) {}
	static from(...ds: { dispose(): any }[]): Disposable {
		return new Disposable(() => ds.forEach((d) => d.dispose()));
	}
	dispose(): void {
		this.fn();
	}
}

export class EventEmitter<T> {
	private listeners = new Set<Listener<T>>();
	readonly event = (listener: Listener<T>): Disposable => {
		this.listeners.add(listener);
		return new Disposable(() => this.listeners.delete(listener));
	};
	fire(e: T): void {
		for (const l of [...this.listeners]) {
			l(e);
		}
	}
	dispose(): void {
		this.listeners.clear();
	}
}

export class CancellationTokenSource {
	private readonly emitter = new EventEmitter<void>();
	readonly token = { isCancellationRequested: false, onCancellationRequested: this.emitter.event };
	cancel(): void {
		this.token.isCancellationRequested = true;
		this.emitter.fire();
	}
	dispose(): void {}
}

export class Uri {
	private constructor(
		private readonly raw: string,
		readonly scheme: string,
		readonly authority: string,
		readonly path: string,
		readonly query: string,
		readonly fragment: string,
	) {}
	static parse(value: string, _strict?: boolean): Uri {
		const u = new URL(value);
		return new Uri(value, u.protocol.replace(/:$/, ''), u.host, u.pathname, u.search.replace(/^\?/, ''), u.hash.replace(/^#/, ''));
	}
	static file(p: string): Uri {
		return Uri.parse(`file://${p}`);
	}
	toString(): string {
		return this.raw;
	}
}

export class ThemeColor {
	constructor(readonly id: string) {}
}

export enum StatusBarAlignment {
	Left = 1,
	Right = 2,
}

export enum ProgressLocation {
	SourceControl = 1,
	Window = 10,
	Notification = 15,
}

export class CancellationError extends Error {
	constructor() {
		super('Canceled');
	}
}

export enum UIKind {
	Desktop = 1,
	Web = 2,
}

export const version = '1.90.0';

/** What the extension showed. */
export interface Shown {
	kind: 'info' | 'warning' | 'error';
	message: string;
	items: string[];
}

export interface StatusItem {
	id: string;
	text: string;
	tooltip: string | undefined;
	command: string | undefined;
	backgroundColor: ThemeColor | undefined;
	name?: string;
	visible: boolean;
	show(): void;
	hide(): void;
	dispose(): void;
}

/** A quick pick of createQuickPick: the test reads its items as they change (quickPickEmitter). */
export interface QuickPick {
	title: string | undefined;
	placeholder: string | undefined;
	items: any[];
	selectedItems: any[];
	visible: boolean;
	onDidAccept: (l: Listener<void>) => Disposable;
	onDidHide: (l: Listener<void>) => Disposable;
	show(): void;
	hide(): void;
	dispose(): void;
}

/** The test's control panel: records and responders. */
export const stub = {
	/** Every line written to any output channel (since clearRecords). */
	output: [] as string[],
	/** Every line logged and every message shown, never cleared (for the secrets check). */
	transcript: [] as string[],
	shown: [] as Shown[],
	shownEmitter: new EventEmitter<Shown>(),
	/** Answers a message: the item clicked, or undefined (dismissed). Default: the user ignores it. */
	respondMessage: (_s: Shown): Promise<string | undefined> => new Promise(() => {}),
	/** Answers a quick pick (showQuickPick, or a createQuickPick shown: then pick is it): the item picked, or undefined (dismissed). */
	respondQuickPick: (_items: any[], _opts: any, _pick?: QuickPick): Promise<any> => Promise.resolve(undefined),
	/** createQuickPick's picks; quickPickEmitter fires when one's items change. */
	quickPicks: [] as QuickPick[],
	quickPickEmitter: new EventEmitter<QuickPick>(),
	respondInputBox: (_opts: any): Promise<string | undefined> => Promise.resolve(undefined),
	inputBoxes: [] as any[],
	/** What env.openExternal was asked to open. */
	opened: [] as string[],
	openedEmitter: new EventEmitter<string>(),
	openExternal: async (_uri: string): Promise<boolean> => true,
	asExternalUri: async (uri: Uri): Promise<Uri> => uri,
	clipboard: '',
	config: new Map<string, unknown>(),
	configEmitter: new EventEmitter<{ affectsConfiguration(s: string): boolean }>(),
	statusItems: [] as StatusItem[],
	statusEmitter: new EventEmitter<StatusItem>(),
	providers: new Map<string, { label: string; provider: any; options: any }>(),
	commands: new Map<string, (...args: any[]) => any>(),
	executed: [] as { command: string; args: any[] }[],
	executedEmitter: new EventEmitter<{ command: string; args: any[] }>(),
	progress: [] as { title: string; source: CancellationTokenSource }[],
	progressEmitter: new EventEmitter<{ title: string; source: CancellationTokenSource }>(),
	remoteName: undefined as string | undefined,

	/** Changes a setting and fires onDidChangeConfiguration. */
	setConfig(key: string, value: unknown): void {
		this.config.set(key, value);
		this.configEmitter.fire({ affectsConfiguration: (s: string) => key === s || key.startsWith(`${s}.`) });
	},
	/** Forgets what was recorded (not the responders). */
	clearRecords(): void {
		this.output.length = 0;
		this.shown.length = 0;
		this.opened.length = 0;
		this.executed.length = 0;
		this.progress.length = 0;
	},
};

function show(kind: Shown['kind'], message: string, rest: any[]): Promise<string | undefined> {
	const items = rest.filter((x) => typeof x === 'string');
	const s: Shown = { kind, message, items };
	stub.shown.push(s);
	stub.transcript.push(message, ...items);
	stub.shownEmitter.fire(s);
	return stub.respondMessage(s);
}

export const window = {
	createOutputChannel(_name: string) {
		return {
			append: (v: string) => (stub.output.push(v), stub.transcript.push(v)),
			appendLine: (v: string) => (stub.output.push(v), stub.transcript.push(v)),
			show: () => {},
			clear: () => {},
			dispose: () => {},
		};
	},
	createStatusBarItem(id: string, _alignment?: StatusBarAlignment, _priority?: number): StatusItem {
		const fields: Record<string, unknown> = {};
		const item: any = {
			id,
			visible: false,
			show() {
				item.visible = true;
				stub.statusEmitter.fire(item);
			},
			hide() {
				item.visible = false;
			},
			dispose() {
				item.visible = false;
			},
		};
		for (const f of ['text', 'tooltip', 'command', 'backgroundColor', 'name']) {
			Object.defineProperty(item, f, {
				get: () => fields[f],
				set: (v) => {
					fields[f] = v;
					stub.statusEmitter.fire(item);
				},
			});
		}
		stub.statusItems.push(item);
		return item;
	},
	showInformationMessage: (message: string, ...rest: any[]) => show('info', message, rest),
	showWarningMessage: (message: string, ...rest: any[]) => show('warning', message, rest),
	showErrorMessage: (message: string, ...rest: any[]) => show('error', message, rest),
	showQuickPick: (items: any[], opts: any) => stub.respondQuickPick(items, opts),
	/** A quick pick that keeps its items live: shown, it asks respondQuickPick; its answer accepts it (or hides it). */
	createQuickPick(): QuickPick {
		const accepted = new EventEmitter<void>();
		const hidden = new EventEmitter<void>();
		let items: any[] = [];
		const pick: QuickPick = {
			title: undefined,
			placeholder: undefined,
			get items() {
				return items;
			},
			set items(v: any[]) {
				items = v;
				stub.quickPickEmitter.fire(pick);
			},
			selectedItems: [],
			visible: false,
			onDidAccept: (l) => accepted.event(l),
			onDidHide: (l) => hidden.event(l),
			show() {
				pick.visible = true;
				stub.quickPicks.push(pick);
				void stub.respondQuickPick(items, { title: pick.title, placeHolder: pick.placeholder }, pick).then((chosen) => {
					if (!pick.visible) {
						return;
					}
					if (chosen) {
						pick.selectedItems = [chosen];
						accepted.fire();
					} else {
						pick.hide();
					}
				});
			},
			hide() {
				if (pick.visible) {
					pick.visible = false;
					hidden.fire();
				}
			},
			dispose() {
				pick.hide();
			},
		};
		return pick;
	},
	showInputBox: (opts: any) => {
		stub.inputBoxes.push(opts);
		return stub.respondInputBox(opts);
	},
	withProgress<T>(opts: { title?: string }, task: (progress: { report(): void }, token: any) => Promise<T>): Promise<T> {
		const source = new CancellationTokenSource();
		const p = { title: opts.title ?? '', source };
		stub.progress.push(p);
		stub.progressEmitter.fire(p);
		return task({ report: () => {} }, source.token);
	},
};

export const env = {
	appName: 'Visual Studio Code (stub)',
	uiKind: UIKind.Desktop,
	get remoteName() {
		return stub.remoteName;
	},
	clipboard: {
		readText: async () => stub.clipboard,
		writeText: async (v: string) => {
			stub.clipboard = v;
		},
	},
	openExternal: async (uri: Uri) => {
		const s = uri.toString();
		stub.opened.push(s);
		stub.openedEmitter.fire(s);
		return stub.openExternal(s);
	},
	asExternalUri: (uri: Uri) => stub.asExternalUri(uri),
};

export const workspace = {
	getConfiguration(section: string) {
		return {
			get<T>(key: string, def?: T): T | undefined {
				const k = `${section}.${key}`;
				return stub.config.has(k) ? (stub.config.get(k) as T) : def;
			},
		};
	},
	onDidChangeConfiguration: (l: Listener<{ affectsConfiguration(s: string): boolean }>) => stub.configEmitter.event(l),
};

export const commands = {
	registerCommand(id: string, fn: (...args: any[]) => any): Disposable {
		if (stub.commands.has(id)) {
			throw new Error(`command ${id} already registered`);
		}
		stub.commands.set(id, fn);
		return new Disposable(() => stub.commands.delete(id));
	},
	async executeCommand(id: string, ...args: any[]): Promise<any> {
		stub.executed.push({ command: id, args });
		stub.executedEmitter.fire({ command: id, args });
		const fn = stub.commands.get(id);
		return fn ? fn(...args) : undefined;
	},
};

export const authentication = {
	registerAuthenticationProvider(id: string, label: string, provider: any, options?: any): Disposable {
		if (stub.providers.has(id)) {
			throw new Error(`authentication provider ${id} already registered`);
		}
		stub.providers.set(id, { label, provider, options });
		return new Disposable(() => stub.providers.delete(id));
	},
	/** As VS Code does for one account: the provider's first session, else createSession when asked to. */
	async getSession(id: string, scopes: readonly string[], options?: { createIfNone?: boolean }): Promise<any> {
		const p = stub.providers.get(id);
		if (!p) {
			throw new Error(`No authentication provider '${id}' is currently registered.`);
		}
		const sessions = await p.provider.getSessions(scopes, {});
		if (sessions.length) {
			return sessions[0];
		}
		return options?.createIfNone ? p.provider.createSession(scopes, {}) : undefined;
	},
};
