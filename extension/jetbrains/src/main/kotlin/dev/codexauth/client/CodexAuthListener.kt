package dev.codexauth.client

/**
 * What codex-auth tells the editor. Every method has an empty default body (a Java default method),
 * so implement only what you need. Calls come one at a time, in the order the server sent them, on a
 * thread of the client's (never the thread reading the wire, so calling the client from here is
 * fine); hop to the UI thread yourself.
 */
interface CodexAuthListener {
    /** The account changed, whoever changed it (this editor, another, the Codex CLI). */
    fun onAccountUpdated(update: AccountUpdate) {}

    /**
     * The saved accounts changed, whoever changed them (this editor, another, the Codex CLI or
     * `codex-auth` in a shell): an account added, removed (a logout or forget of an inactive one
     * too), made active, or changed (`needsLogin`, `forbidden`, email, name, plan, workspace).
     * [accounts] is the whole list after the change, as [CodexAuthClient.listAccounts] would answer;
     * it follows the [onAccountUpdated] of the same change. Never called with the `ephemeral` store
     * or an OpenID provider, which keep no saved accounts.
     */
    fun onAccountsUpdated(accounts: AccountSessionList) {}

    /** A login attempt ended. */
    fun onLoginCompleted(result: LoginResult) {}

    /**
     * The session the editor was using ended: drop tokens you hold. [reason] is one of
     * [SessionInvalidatedReasons]; [message] is safe to show.
     */
    fun onSessionInvalidated(reason: String, message: String) {}

    /** The process ended without [CodexAuthClient.close] (it crashed or was killed): start a new client. */
    fun onProcessExited(exitCode: Int) {}
}
