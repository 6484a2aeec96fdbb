package dev.codexauth.client

import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.assertThrows
import java.util.concurrent.CompletableFuture
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.ExecutionException

/** The real binary against the local issuer, with the real Codex CLI in a shell. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(90)
class SessionTest {
    private lateinit var issuer: Issuer
    private lateinit var home: Home

    @BeforeAll
    fun startIssuer() {
        RealParts.codex() // fail at once, naming it, when the Codex CLI is missing
        issuer = Issuer()
    }

    @AfterAll
    fun stopIssuer() {
        issuer.close()
    }

    @BeforeEach
    fun newHome() {
        home = Home()
    }

    @AfterEach
    fun removeHome() {
        home.close()
    }

    @Test
    fun deviceLoginTokenThenCodexLogout() {
        CodexAuthClient.start(home.options(issuer)).use { client ->
            val events = Recorder()
            client.addListener(events)
            assertEquals(CodexAuthClient.PROTOCOL_VERSION, client.protocolVersion?.substringBefore('.'))

            val before = client.read().await()
            assertNull(before.account, "signed out at first")
            assertFalse(before.isSignedIn)
            assertEquals(issuer.base, before.issuer, "the local issuer is reported")

            val login = client.loginWithDeviceCode().await()
            assertTrue(login.userCode.isNotEmpty(), "a user code")
            assertTrue(login.verificationUrl.startsWith(issuer.base), "verification URL ${login.verificationUrl} at the issuer")
            issuer.approve(login.userCode)
            val result = login.completion.await()
            assertTrue(result.success, "device login succeeded: ${result.error}")
            assertEquals(login.loginId, result.loginId)
            events.next(Recorder.Completed::class.java, "onLoginCompleted") { it.result.loginId == login.loginId }
            events.next(Recorder.Updated::class.java, "onAccountUpdated chatgpt") { it.update.authMode == "chatgpt" }

            val account = client.read().await().account
            assertNotNull(account)
            assertEquals(Account.CHATGPT, account!!.type)
            assertEquals(Issuer.EMAIL, account.email)
            assertEquals(Issuer.PLAN, account.planType)
            assertEquals(Issuer.WORKSPACE, account.workspaceId)

            val token = client.token().await()
            assertEquals(Account.CHATGPT, token.type)
            assertEquals(3, token.value.split('.').size, "the access token is a JWT")
            assertEquals(Issuer.WORKSPACE, token.accountId)
            assertNotNull(token.expiresAt)
            assertFalse(token.toString().contains(token.value), "toString masks the token")
            assertTrue(client.recentLog().none { it.contains(token.value) }, "the sidecar's log holds no token")

            val (code, out) = home.codex("logout")
            assertEquals(0, code, "codex logout exit code; stderr: $out")
            assertTrue(out.contains("Successfully logged out"), "codex logout said: $out")
            val gone = events.next(Recorder.Invalidated::class.java, "onSessionInvalidated after codex logout")
            assertEquals(SessionInvalidatedReasons.LOGGED_OUT, gone.reason)
            assertTrue(gone.message.isNotEmpty())
            events.next(Recorder.Updated::class.java, "onAccountUpdated signed out") { it.update.authMode == null }
            assertNull(client.read().await().account, "signed out after codex logout")

            client.logout().await() // logging out when logged out is success
        }
    }

    @Test
    fun apiKeyLoginTokenAndLogout() {
        val key = "sk-proj-jetbrains-" + System.nanoTime() + "vwxyz"
        LeakScan.handed("api_key", key)
        CodexAuthClient.start(home.options(issuer)).use { client ->
            val events = Recorder()
            client.addListener(events)
            client.loginWithApiKey(key).await()
            events.next(Recorder.Updated::class.java, "onAccountUpdated apikey") { it.update.authMode == "apikey" }

            val account = client.read().await().account!!
            assertEquals(Account.API_KEY, account.type)
            assertEquals("sk-proj-***vwxyz", account.apiKeyHint)

            val token = client.token().await()
            assertEquals(Account.API_KEY, token.type)
            assertEquals(key, token.value)
            assertFalse(token.toString().contains(key))

            client.logout().await()
            events.next(Recorder.Updated::class.java, "onAccountUpdated signed out") { it.update.authMode == null }
            assertNull(client.read().await().account)
            val e = assertThrows<ExecutionException> { client.token().await() }
            val cause = e.cause
            assertTrue(cause is CodexAuthException, "token() signed out fails with CodexAuthException, got $cause")
            assertEquals(ErrorCodes.NOT_LOGGED_IN, (cause as CodexAuthException).code)
            assertTrue(client.recentLog().none { it.contains(key) }, "the sidecar's log holds no key")
        }
    }

    @Test
    fun browserLoginThroughOpenUrl() {
        val opened = CopyOnWriteArrayList<String>()
        val browsed = CompletableFuture<Boolean>()
        val openUrl: (String) -> Boolean = { url ->
            opened.add(url)
            try {
                browse(url).also { browsed.complete(it) }
            } catch (e: Exception) {
                browsed.completeExceptionally(e)
                throw e
            }
        }
        CodexAuthClient.start(home.options(issuer, openUrl)).use { client ->
            val login = client.loginWithChatGpt().await()
            assertFalse(login.headless, "an editor that opens pages is not headless")
            assertTrue(login.authUrl.startsWith("${issuer.base}/oauth/authorize?"), "authUrl at the issuer")
            val result = login.completion.await()
            assertTrue(result.success, "browser login succeeded: ${result.error}")
            assertTrue(browsed.await(), "the browser followed the redirects to the loopback's success page")
            assertEquals(listOf(login.authUrl), opened, "window/showDocument reached openUrl with the authUrl")
            val account = client.read().await().account!!
            assertEquals(Account.CHATGPT, account.type)
            assertEquals(Issuer.EMAIL, account.email)
        }
    }

    @Test
    fun cancelledDeviceLoginCompletesUnsuccessfully() {
        CodexAuthClient.start(home.options(issuer)).use { client ->
            val login = client.loginWithDeviceCode().await()
            assertEquals(LoginCancelStatus.CANCELED, client.cancelLogin(login.loginId).await())
            val result = login.completion.await()
            assertFalse(result.success)
            assertNotNull(result.error)
            assertEquals(LoginCancelStatus.NOT_FOUND, client.cancelLogin(login.loginId).await())
            assertNull(client.read().await().account)
        }
    }

    @Test
    fun closeStopsTheProcessCleanly() {
        val client = CodexAuthClient.start(home.options(issuer))
        val events = Recorder()
        client.addListener(events)
        val handle = client.processHandle()
        assertTrue(handle.isAlive)
        assertTrue(client.isRunning)
        client.close()
        assertFalse(handle.isAlive, "no process left after close()")
        assertFalse(client.isRunning)
        // shutdown then exit: exit code 0, so close() did not have to kill it.
        assertEquals(0, client.exitCode, "exit code after shutdown and exit")
        val e = assertThrows<ExecutionException> { client.read().await() }
        assertTrue(e.cause is CodexAuthProcessException, "a call after close fails with CodexAuthProcessException, got ${e.cause}")
        client.close() // idempotent
        assertTrue(events.drain().none { it is Recorder.Exited }, "close() is not reported as a crash")
    }
}
