/**
 * `suspend` variants of [CodexAuthClient]'s calls for Kotlin callers, named with an `Await` suffix so
 * they never clash with the members. Cancelling the coroutine cancels the request (`$/cancelRequest`).
 * Needs kotlinx-coroutines at run time (the IntelliJ platform bundles it).
 */
package dev.codexauth.client.coroutines

import dev.codexauth.client.AccessToken
import dev.codexauth.client.AccountSessionList
import dev.codexauth.client.AccountStatus
import dev.codexauth.client.AccountUpdate
import dev.codexauth.client.BrowserLogin
import dev.codexauth.client.CodexAuthClient
import dev.codexauth.client.CodexAuthListener
import dev.codexauth.client.DeviceLogin
import dev.codexauth.client.LoginCancelStatus
import dev.codexauth.client.LoginResult
import dev.codexauth.client.PendingLogin
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.conflate
import kotlinx.coroutines.future.await

/** [CodexAuthClient.read]. */
suspend fun CodexAuthClient.readAwait(refreshToken: Boolean = false): AccountStatus = read(refreshToken).await()

/** [CodexAuthClient.loginWithApiKey]. */
suspend fun CodexAuthClient.loginWithApiKeyAwait(key: String) {
    loginWithApiKey(key).await()
}

/** [CodexAuthClient.loginWithChatGpt]: returns once the URL is known; await [completionAwait] for the end. */
suspend fun CodexAuthClient.loginWithChatGptAwait(): BrowserLogin = loginWithChatGpt().await()

/** [CodexAuthClient.loginWithDeviceCode]: returns once the code is known; await [completionAwait] for the end. */
suspend fun CodexAuthClient.loginWithDeviceCodeAwait(): DeviceLogin = loginWithDeviceCode().await()

/** [CodexAuthClient.cancelLogin]. */
suspend fun CodexAuthClient.cancelLoginAwait(loginId: String): LoginCancelStatus = cancelLogin(loginId).await()

/** [CodexAuthClient.token]. */
suspend fun CodexAuthClient.tokenAwait(refresh: Boolean = false): AccessToken = token(refresh).await()

/** [CodexAuthClient.token] of a saved account that is not active. */
suspend fun CodexAuthClient.tokenAwait(sessionId: String, refresh: Boolean = false): AccessToken = token(sessionId, refresh).await()

/** [CodexAuthClient.listAccounts]. */
suspend fun CodexAuthClient.listAccountsAwait(): AccountSessionList = listAccounts().await()

/** [CodexAuthClient.switchAccount]. */
suspend fun CodexAuthClient.switchAccountAwait(sessionId: String): AccountSessionList = switchAccount(sessionId).await()

/** [CodexAuthClient.logoutAccount]. */
suspend fun CodexAuthClient.logoutAccountAwait(sessionId: String): AccountSessionList = logoutAccount(sessionId).await()

/** [CodexAuthClient.forgetAccount]. */
suspend fun CodexAuthClient.forgetAccountAwait(sessionId: String): AccountSessionList = forgetAccount(sessionId).await()

/** [CodexAuthClient.logout]. */
suspend fun CodexAuthClient.logoutAwait() {
    logout().await()
}

/** [PendingLogin.completion]: the login's result. */
suspend fun PendingLogin.completionAwait(): LoginResult = completion.await()

/** Every `account/updated` from now on, while collected (a status-bar widget's feed). */
fun CodexAuthClient.accountUpdates(): Flow<AccountUpdate> = callbackFlow {
    val handle = addListener(object : CodexAuthListener {
        override fun onAccountUpdated(update: AccountUpdate) {
            trySend(update)
        }
    })
    awaitClose { handle.close() }
}

/**
 * The saved accounts' list after every change from now on (`accountSession/updated`), while
 * collected (an account picker's feed). Conflated: a slow collector skips to the latest list. It
 * starts with the next change: for the list as it is now, call [listAccountsAwait] once collecting
 * has started, so that no change falls in between.
 */
fun CodexAuthClient.accountSessionUpdates(): Flow<AccountSessionList> = callbackFlow {
    val handle = addListener(object : CodexAuthListener {
        override fun onAccountsUpdated(accounts: AccountSessionList) {
            trySend(accounts)
        }
    })
    awaitClose { handle.close() }
}.conflate()
