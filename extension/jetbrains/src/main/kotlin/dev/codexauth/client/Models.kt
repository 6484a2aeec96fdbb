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
