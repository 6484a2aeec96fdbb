// The parts of docs/protocol.md (version 1) this extension uses: method
// names, shapes and error codes. Nothing else about the sidecar is assumed.

/** The protocol version stated in initialize. */
export const PROTOCOL_VERSION = '1';

export const ErrorCodes = {
	MethodNotFound: -32601,
	InvalidParams: -32602,
	ServerNotInitialized: -32002,
	RequestCancelled: -32800,
	NotLoggedIn: -32010,
	PolicyForbids: -32011,
	IssuerUnavailable: -32012,
	StoreUnavailable: -32013,
	UnsupportedRecord: -32014,
	CredentialsCorrupt: -32015,
	LoginTypeUnsupported: -32016,
	SessionExpired: -32017,
	DeviceCodeDisabled: -32018,
	IncompatibleProtocol: -32019,
	LoginFailed: -32020,
	UnknownAccount: -32021,
} as const;

/** account/read's account (unknown future types keep their fields). */
export type Account =
	| { type: 'apiKey'; apiKeyHint: string }
	| { type: 'chatgpt'; email: string; planType: string; workspaceId: string; expiresAt: string | null }
	| { type: string; email?: string; apiKeyHint?: string; workspaceId?: string; planType?: string };

export interface ReadResult {
	account: Account | null;
	requiresOpenaiAuth: boolean;
	store: { mode: string; location: string; fallback?: string };
	issuer?: string;
	policy: { forcedLoginMethod: string | null; forcedWorkspaceIds: string[] };
	problem?: string;
}

/** account/token's result: the only secret on the wire. */
export interface TokenResult {
	type: string;
	apiKey?: string;
	accessToken?: string;
	expiresAt?: string | null;
	accountId?: string;
}

/** One saved account of accountSession/list (never a secret). */
export interface AccountSession {
	/** Stable for one identity; [A-Za-z0-9._-], at most 64 characters. */
	sessionId: string;
	/** chatgpt | apiKey | accessToken, or a later one. */
	type: string;
	email?: string;
	userId?: string;
	displayName?: string;
	imageUrl?: string;
	lastUsedAt?: string;
	selectedWorkspaceAccountId?: string;
	workspaces?: { accountId: string; name?: string; imageUrl?: string; kind?: string }[];
	planType?: string;
	apiKeyHint?: string;
	/** Its refresh token was rejected: sign in again as it. */
	needsLogin?: boolean;
	/** Managed policy forbids it: the policy's message. */
	forbidden?: string;
}

/** accountSession/list's result (also what switch, logout and forget answer). */
export interface AccountSessionList {
	activeSessionId: string | null;
	/** Newest lastUsedAt first. */
	sessions: AccountSession[];
}

export interface BrowserLoginStart {
	type: 'chatgpt';
	loginId: string;
	authUrl: string;
	headless?: boolean;
	message?: string;
}

export interface DeviceLoginStart {
	type: 'chatgptDeviceCode';
	loginId: string;
	verificationUrl: string;
	userCode: string;
	expiresAt: string;
}

export interface LoginCompleted {
	loginId: string;
	success: boolean;
	error: string | null;
}

export interface AccountUpdated {
	authMode: string | null;
	planType: string | null;
	email?: string;
	workspaceId?: string;
}

export interface SessionInvalidated {
	reason: string;
	message: string;
}

export interface InitializeResult {
	capabilities?: { experimental?: { codexAuth?: { protocolVersion?: string } } };
	serverInfo?: { name?: string; version?: string };
}
