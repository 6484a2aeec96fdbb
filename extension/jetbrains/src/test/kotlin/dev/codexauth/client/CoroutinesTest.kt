package dev.codexauth.client

import dev.codexauth.client.coroutines.accountSessionUpdates
import dev.codexauth.client.coroutines.accountUpdates
import dev.codexauth.client.coroutines.completionAwait
import dev.codexauth.client.coroutines.loginWithApiKeyAwait
import dev.codexauth.client.coroutines.loginWithDeviceCodeAwait
import dev.codexauth.client.coroutines.logoutAwait
import dev.codexauth.client.coroutines.readAwait
import dev.codexauth.client.coroutines.tokenAwait
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.yield
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout

/** The `suspend` extensions of dev.codexauth.client.coroutines, against the real binary. */
@Timeout(90)
class CoroutinesTest {
    @Test
    fun suspendVariants() {
        Issuer().use { issuer ->
            Home().use { home ->
                CodexAuthClient.start(home.options(issuer)).use { client ->
                    runBlocking {
                        withTimeout(WAIT.toMillis() * 2) {
                            assertNull(client.readAwait().account)

                            val update = async(start = CoroutineStart.UNDISPATCHED) { client.accountUpdates().first { it.authMode == "apikey" } }
                            val saved = async(start = CoroutineStart.UNDISPATCHED) {
                                client.accountSessionUpdates().first { it.active?.type == AccountSession.API_KEY }
                            }
                            yield() // runBlocking's one thread: the flows' listeners are registered before the login is sent
                            client.loginWithApiKeyAwait(("sk-coroutines-" + System.nanoTime()).also { LeakScan.handed("api_key", it) })
                            assertEquals("apikey", update.await().authMode)
                            assertEquals(listOf(AccountSession.API_KEY), saved.await().sessions.map { it.type }, "the key saved")
                            assertEquals(Account.API_KEY, client.tokenAwait().type)

                            val login = client.loginWithDeviceCodeAwait()
                            issuer.approve(login.userCode)
                            assertTrue(login.completionAwait().success)
                            assertEquals(Issuer.EMAIL, client.readAwait(refreshToken = true).account?.email)
                            assertEquals(Account.CHATGPT, client.tokenAwait(refresh = true).type)

                            client.logoutAwait()
                            assertNull(client.readAwait().account)
                            val e = runCatching { client.tokenAwait() }.exceptionOrNull()
                            assertTrue(e is CodexAuthException && e.code == ErrorCodes.NOT_LOGGED_IN, "tokenAwait signed out: $e")
                        }
                    }
                }
            }
        }
    }
}
