package dev.codexauth.client

import dev.codexauth.client.coroutines.forgetAccountAwait
import dev.codexauth.client.coroutines.listAccountsAwait
import dev.codexauth.client.coroutines.switchAccountAwait
import dev.codexauth.client.coroutines.tokenAwait
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.assertThrows
import java.nio.file.Files
import java.util.concurrent.ExecutionException

/**
 * Several saved accounts: two users of the local issuer and an API key, against the real binary,
 * with a second client (another editor) and the real Codex CLI watching every switch.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(180)
class AccountsTest {
    private lateinit var issuer: Issuer

    @BeforeAll
    fun startIssuer() {
        RealParts.codex()
        issuer = Issuer(listOf("$BOB:team:ws-bob"))
    }

    @AfterAll
    fun stopIssuer() {
        issuer.close()
    }

    private fun deviceLogin(client: CodexAuthClient, email: String) {
        issuer.nextUser(email)
        val login = client.loginWithDeviceCode().await()
        issuer.approve(login.userCode)
        assertTrue(login.completion.await().success, "device login as $email")
    }

    private fun failure(f: () -> Any?): CodexAuthException {
        val e = assertThrows<ExecutionException> { f() }
        val cause = e.cause
        assertTrue(cause is CodexAuthException, "fails with CodexAuthException, got $cause")
        return cause as CodexAuthException
    }

    @Test
    fun listSwitchTokenForgetLogout() {
        val key = "sk-proj-jb-many-" + System.nanoTime() + "Qz7pA"
        LeakScan.handed("api_key", key)
        Home().use { home ->
            CodexAuthClient.start(home.options(issuer)).use { client ->
                CodexAuthClient.start(home.options(issuer)).use { other ->
                    val watcher = Recorder()
                    other.addListener(watcher)
                    assertEquals(AccountSessionList(null, emptyList()), client.listAccounts().await(), "nothing saved at first")

                    client.loginWithApiKey(key).await()
                    deviceLogin(client, Issuer.EMAIL)
                    deviceLogin(client, BOB)

                    val list = client.listAccounts().await()
                    assertEquals(3, list.sessions.size, "three saved accounts: $list")
                    val bob = list.sessions.single { it.email == BOB }
                    val ada = list.sessions.single { it.email == Issuer.EMAIL }
                    val apiKey = list.sessions.single { it.type == AccountSession.API_KEY }
                    assertEquals(bob.sessionId, list.activeSessionId, "bob, signed in last, is active")
                    assertEquals(bob, list.active)
                    assertEquals(AccountSession.CHATGPT, bob.type)
                    assertEquals("team", bob.planType)
                    assertEquals(listOf("ws-bob"), bob.workspaces.map { it.accountId }, "one workspace per session")
                    assertFalse(bob.needsLogin)
                    assertNull(bob.forbidden)
                    assertNotNull(bob.lastUsedAt, "lastUsedAt is a time")
                    assertEquals("sk-proj-***Qz7pA", apiKey.apiKeyHint)
                    assertEquals("sk-proj-***Qz7pA", apiKey.label)
                    assertEquals(Issuer.EMAIL, ada.label)
                    for (s in list.sessions) {
                        assertTrue(Regex("[A-Za-z0-9._-]{1,64}").matches(s.sessionId), "a safe session id: ${s.sessionId}")
                    }
                    val times = list.sessions.map { it.lastUsedAt!! }
                    assertEquals(times.sortedDescending(), times, "newest lastUsedAt first")
                    assertFalse(list.toString().contains(key), "the list holds no secret")

                    // Switches by email and by id: the other editor and the Codex CLI follow each.
                    val before = issuer.stats()
                    repeat(2) {
                        for ((target, email, cli) in listOf(
                            Triple(Issuer.EMAIL, Issuer.EMAIL, "ChatGPT"),
                            Triple(apiKey.sessionId, null, "API key"),
                            Triple(bob.sessionId, BOB, "ChatGPT"),
                        )) {
                            watcher.drain() // what came before this switch
                            val after = client.switchAccount(target).await()
                            assertEquals(list.sessions.single { it.email == email || (email == null && it.type == AccountSession.API_KEY) }.sessionId, after.activeSessionId)
                            watcher.next(Recorder.Updated::class.java, "the other client's account/updated for $target") {
                                if (email == null) it.update.authMode == "apikey" else it.update.email == email
                            }
                            val (code, out) = home.codex("login", "status")
                            assertEquals(0, code, "codex login status: $out")
                            assertTrue(out.contains(cli), "codex login status after switching to $target: $out")
                        }
                    }
                    assertEquals(bob.sessionId, client.switchAccount(bob.sessionId).await().activeSessionId, "switching to the active one is a no-op")
                    val stats = issuer.stats()
                    assertEquals(before["revocations"], stats["revocations"], "no switch revoked anything")
                    assertEquals(0L, stats["reuse_detections"], "no refresh token used twice")

                    // A token of an inactive account: its saved copy's; the active record is left alone.
                    val active = home.authJson()
                    val adaToken = client.token(ada.sessionId).await()
                    assertEquals(AccountSession.CHATGPT, adaToken.type)
                    assertEquals(Issuer.WORKSPACE, adaToken.accountId)
                    assertTrue(Files.readString(home.savedCopy(ada.sessionId)).contains(adaToken.value), "ada's token is her saved copy's")
                    assertEquals(key, client.token(apiKey.sessionId).await().value, "the inactive key")
                    assertEquals(active, home.authJson(), "auth.json untouched by tokens of inactive accounts")
                    assertTrue(client.recentLog().none { it.contains(adaToken.value) || it.contains(key) }, "no secret in the log")

                    // Errors map to CodexAuthException with protocol.md's codes.
                    val unknown = failure { client.switchAccount("nobody@example.com").await() }
                    assertEquals(ErrorCodes.UNKNOWN_ACCOUNT, unknown.code)
                    assertTrue(unknown.message!!.contains("no saved account"), "the sidecar's message: ${unknown.message}")
                    assertEquals(ErrorCodes.UNKNOWN_ACCOUNT, failure { client.token("no-such-session").await() }.code)
                    assertEquals(ErrorCodes.INVALID_PARAMS, failure { client.forgetAccount(bob.sessionId).await() }.code, "forgetting the active one")
                    assertEquals(active, home.authJson(), "failed calls change nothing")

                    // Suspend variants; forget drops ada without revoking.
                    runBlocking {
                        assertEquals(bob.sessionId, client.listAccountsAwait().activeSessionId)
                        assertEquals(key, client.tokenAwait(apiKey.sessionId).value)
                        val revoked = issuer.stats()["revocations"]
                        val left = client.forgetAccountAwait(ada.sessionId)
                        assertNull(left.find(ada.sessionId), "ada forgotten")
                        assertFalse(Files.exists(home.savedCopy(ada.sessionId)), "her saved copy removed")
                        assertEquals(revoked, issuer.stats()["revocations"], "forget revokes nothing")
                        assertEquals(apiKey.sessionId, client.switchAccountAwait(apiKey.sessionId).activeSessionId)
                    }

                    // Logging out an inactive account revokes it and removes its copy; the active stays.
                    val revoked = issuer.stats()["revocations"]!!
                    val keyActive = home.authJson()
                    val left = client.logoutAccount(bob.sessionId).await()
                    assertEquals(listOf(apiKey.sessionId), left.sessions.map { it.sessionId })
                    assertEquals(apiKey.sessionId, left.activeSessionId)
                    assertFalse(Files.exists(home.savedCopy(bob.sessionId)), "bob's saved copy removed")
                    assertEquals(keyActive, home.authJson(), "the active account untouched")
                    val deadline = System.nanoTime() + WAIT.toNanos()
                    while (issuer.stats()["revocations"]!! <= revoked) {
                        assertTrue(System.nanoTime() < deadline, "bob's refresh token revoked at the issuer within $WAIT")
                        Thread.sleep(50) // polling the issuer's counter, no timing asserted
                    }

                    // The active one: as logout(), after which none is active.
                    val none = client.logoutAccount(apiKey.sessionId).await()
                    assertNull(none.activeSessionId)
                    assertEquals(emptyList<AccountSession>(), none.sessions)
                    assertNull(client.read().await().account)
                }
            }
        }
    }

    @Test
    fun anInactiveAccountLoggedOutInAShellReachesTheListener() {
        Home().use { home ->
            CodexAuthClient.start(home.options(issuer)).use { client ->
                val recorder = Recorder()
                client.addListener(recorder)
                deviceLogin(client, Issuer.EMAIL)
                deviceLogin(client, BOB)
                val both = client.listAccounts().await()
                val ada = both.sessions.single { it.email == Issuer.EMAIL }
                val bob = both.sessions.single { it.email == BOB }
                assertEquals(bob.sessionId, both.activeSessionId, "bob, signed in last, is active")

                // A login is told to the editor that made it too, after its account/updated.
                recorder.next(Recorder.Updated::class.java, "account/updated for bob's login") { it.update.email == BOB }
                val afterLogin = recorder.next(Recorder.Listed::class.java, "accountSession/updated after bob's login") {
                    it.accounts.activeSessionId == bob.sessionId
                }.accounts
                assertEquals(setOf(ada.sessionId, bob.sessionId), afterLogin.sessions.map { it.sessionId }.toSet(), "both saved: $afterLogin")
                assertEquals(BOB, afterLogin.active?.email)
                assertEquals(listOf("ws-bob"), afterLogin.active?.workspaces?.map { it.accountId }, "parsed as the list is")

                // Another process logs out the inactive one: nothing about the active account changes,
                // yet the list does, and the listener gets it.
                val mark = recorder.drain().size
                val (code, out) = home.codexAuth(issuer, "logout", "--account", Issuer.EMAIL)
                assertEquals(0, code, "codex-auth logout --account: $out")
                assertTrue(out.contains("Successfully logged out"), "codex-auth logout --account: $out")
                assertFalse(Files.exists(home.savedCopy(ada.sessionId)), "ada's saved copy removed")
                val left = recorder.next(Recorder.Listed::class.java, "accountSession/updated without ada") {
                    it.accounts.find(ada.sessionId) == null
                }.accounts
                assertEquals(listOf(bob.sessionId), left.sessions.map { it.sessionId }, "only bob left: $left")
                assertEquals(bob.sessionId, left.activeSessionId, "bob still active")
                assertEquals(left, client.listAccounts().await(), "the notification carries accountSession/list's result")
                val since = recorder.drain().drop(mark)
                assertTrue(since.none { it is Recorder.Invalidated }, "the active session is not invalidated: $since")
                assertEquals(BOB, client.read().await().account?.email)
            }
        }
    }

    private companion object {
        const val BOB = "bob@example.com"
    }
}
