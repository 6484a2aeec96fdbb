package dev.codexauth.client

import java.time.Instant
import java.util.concurrent.CompletableFuture

/** `account/read`'s result. Never holds a secret. */
data class AccountStatus(
    /** The signed-in account, `null` when signed out. */
    val account: Account?,
    /** The issuer is OpenAI's. */
    val requiresOpenaiAuth: Boolean,
    /** Where the credentials live. */
    val store: CredentialStore?,
    /** The issuer's URL, only when it is not the default one. */
    val issuer: String?,
    val policy: LoginPolicy,
    /** Why the stored record cannot be used, safe to show; `null` when it can. */
    val problem: String?,
) {
    /** `account != null`. */
    val isSignedIn: Boolean get() = account != null
}

/** The signed-in account: [type] is [Account.API_KEY] or [Account.CHATGPT]. */
data class Account(
    val type: String,
    /** ChatGPT only. */
    val email: String?,
    /** ChatGPT only: `free`, `plus`, `pro`, `team`, ... or `unknown`. */
    val planType: String?,
    /** ChatGPT only. */
    val workspaceId: String?,
    /** ChatGPT only: the access token's expiry, `null` when unknown. */
    val expiresAt: Instant?,
    /** API key only: Codex's mask (`sk-proj-***vwxyz`). */
    val apiKeyHint: String?,
) {
    companion object {
        const val API_KEY = "apiKey"
        const val CHATGPT = "chatgpt"
    }
}

/** `store` of `account/read`: [mode] `file`, `keyring`, `auto` or `ephemeral`. */
data class CredentialStore(val mode: String, val location: String, val fallback: String?)

/** Managed policy: [forcedLoginMethod] `chatgpt`, `api` or `null`. */
data class LoginPolicy(val forcedLoginMethod: String?, val forcedWorkspaceIds: List<String>)

/** `account/updated`: [authMode] is `apikey`, `chatgpt` or `null` when signed out. */
data class AccountUpdate(
    val authMode: String?,
    val planType: String?,
    val email: String?,
    val workspaceId: String?,
)

/**
 * The saved accounts (`accountSession/list`, and what `accountSession/switch`, `logout` and
 * `forget` answer). [sessions] are ordered by [AccountSession.lastUsedAt], newest first. Never
 * holds a secret.
 */
data class AccountSessionList(
    /** The account `auth.json` (or the keyring entry) holds, which the Codex CLI uses; `null` when none is active. */
    val activeSessionId: String?,
    val sessions: List<AccountSession>,
) {
    /** The active account's entry, `null` when none is active. */
    val active: AccountSession? get() = sessions.firstOrNull { it.sessionId == activeSessionId }

    /** The entry with this session id, `null` when there is none. */
    fun find(sessionId: String): AccountSession? = sessions.firstOrNull { it.sessionId == sessionId }
}

/**
 * One saved account. [type] is [CHATGPT], [API_KEY] or [ACCESS_TOKEN] (a later codex-auth may add
 * others). Each session has one workspace: switching workspaces inside one login needs OpenAI's
 * backend, which codex-auth cannot reach.
 */
data class AccountSession(
    /** Stable for one identity; `[A-Za-z0-9._-]`, at most 64 characters. */
    val sessionId: String,
    val type: String,
    val email: String?,
    val userId: String?,
    val displayName: String?,
    val imageUrl: String?,
    /** When it was last the active account, `null` when unknown. */
    val lastUsedAt: Instant?,
    val selectedWorkspaceAccountId: String?,
    val workspaces: List<Workspace>,
    /** ChatGPT: `free`, `plus`, `pro`, `team`, ... or `unknown`. */
    val planType: String?,
    /** API key only: Codex's mask (`sk-proj-***vwxyz`). */
    val apiKeyHint: String?,
    /** Its refresh token was rejected: sign in again as this account to use it. */
    val needsLogin: Boolean,
    /** Managed policy forbids it (it cannot be switched to): the policy's message; `null` when allowed. */
    val forbidden: String?,
) {
    /** What to call it: the email, else the key hint, else the type. */
    val label: String get() = email?.takeIf { it.isNotEmpty() } ?: apiKeyHint?.takeIf { it.isNotEmpty() } ?: "Codex ($type)"

    companion object {
        const val CHATGPT = "chatgpt"
        const val API_KEY = "apiKey"
        const val ACCESS_TOKEN = "accessToken"
    }
}

/** A ChatGPT workspace of a saved account. */
data class Workspace(val accountId: String, val name: String?, val imageUrl: String?, val kind: String?)

/** `account/login/completed`: [error] is safe to show, `null` on success. */
data class LoginResult(val loginId: String, val success: Boolean, val error: String?)

/** `account/sessionInvalidated`'s reasons (docs/protocol.md). */
object SessionInvalidatedReasons {
    const val LOGGED_OUT = "loggedOut"
    const val ACCOUNT_CHANGED = "accountChanged"
    const val REFRESH_FAILED = "refreshFailed"
    const val POLICY_VIOLATION = "policyViolation"
    const val CREDENTIALS_CORRUPTED = "credentialsCorrupted"
}

/**
 * `account/token`'s result, the only secret this library hands out: [value] is the API key or the
 * ChatGPT access token. [toString] masks it; never log [value].
 */
class AccessToken(
    /** [Account.API_KEY] or [Account.CHATGPT]. */
    val type: String,
    /** The bearer to send. */
    val value: String,
    /** ChatGPT only, `null` when unknown. */
    val expiresAt: Instant?,
    /** ChatGPT only: the workspace (`ChatGPT-Account-Id`). */
    val accountId: String?,
) {
    override fun toString(): String = "AccessToken(type=$type, value=***, expiresAt=$expiresAt, accountId=$accountId)"
}

/** A login that ends later with `account/login/completed`. */
interface PendingLogin {
    val loginId: String

    /** Completes with the login's result; exceptionally with [CodexAuthProcessException] if the process ends first. */
    val completion: CompletableFuture<LoginResult>
}

/**
 * A browser login under way: open [authUrl] (codex-auth already asked for it through
 * `CodexAuthOptions.openUrl` when given). [headless] is true when nothing could open it, and
 * [message] then tells the user what to do.
 */
class BrowserLogin(
    override val loginId: String,
    val authUrl: String,
    val headless: Boolean,
    val message: String?,
    override val completion: CompletableFuture<LoginResult>,
) : PendingLogin {
    override fun toString(): String = "BrowserLogin(loginId=$loginId, headless=$headless)"
}

/** A device-code login under way: show [userCode] and [verificationUrl] (until [expiresAt]). */
class DeviceLogin(
    override val loginId: String,
    val verificationUrl: String,
    val userCode: String,
    val expiresAt: Instant?,
    override val completion: CompletableFuture<LoginResult>,
) : PendingLogin {
    override fun toString(): String = "DeviceLogin(loginId=$loginId, verificationUrl=$verificationUrl, userCode=$userCode)"
}

/** `account/login/cancel`'s answer. */
enum class LoginCancelStatus {
    CANCELED,
    NOT_FOUND,
}
