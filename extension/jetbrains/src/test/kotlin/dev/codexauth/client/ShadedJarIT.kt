package dev.codexauth.client

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.assertThrows
import java.net.URLClassLoader
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.CompletableFuture

/**
 * The artifact a plugin bundles: the shaded jar, loaded with nothing but kotlin-stdlib (as the IDE
 * provides it) in a class loader of its own, signs in with an API key against the real binary. Run by
 * failsafe after `package`.
 */
@Timeout(90)
class ShadedJarIT {
    @Test
    fun shadedJarWorksAlone() {
        val jar = Path.of(System.getProperty("codexauth.shadedJar") ?: error("codexauth.shadedJar is not set (run through failsafe)"))
        assertTrue(Files.isRegularFile(jar), "$jar exists")
        val stdlib = Path.of(Unit::class.java.protectionDomain.codeSource.location.toURI())
        URLClassLoader(arrayOf(jar.toUri().toURL(), stdlib.toUri().toURL()), ClassLoader.getPlatformClassLoader()).use { loader ->
            assertThrows<ClassNotFoundException>("LSP4J is relocated") { loader.loadClass("org.eclipse.lsp4j.jsonrpc.Launcher") }
            assertThrows<ClassNotFoundException>("Gson is relocated") { loader.loadClass("com.google.gson.Gson") }
            loader.loadClass("dev.codexauth.client.internal.lsp4j.jsonrpc.Launcher")

            val optionsClass = loader.loadClass("dev.codexauth.client.CodexAuthOptions")
            val clientClass = loader.loadClass("dev.codexauth.client.CodexAuthClient")
            Issuer().use { issuer ->
                Home().use { home ->
                    val options = optionsClass
                        .getConstructor(Path::class.java, String::class.java, String::class.java, Map::class.java)
                        .newInstance(RealParts.codexAuth(), "shaded", "0", home.sidecarEnv(issuer))
                    val client = clientClass.getMethod("start", optionsClass).invoke(null, options) as AutoCloseable
                    client.use {
                        fun call(name: String, vararg args: Any): Any? =
                            (clientClass.methods.first { it.name == name && it.parameterCount == args.size }.invoke(client, *args) as CompletableFuture<*>).await()

                        val status = call("read")!!
                        assertNull(status.javaClass.getMethod("getAccount").invoke(status), "signed out")
                        val key = "sk-shaded-" + System.nanoTime()
                        LeakScan.handed("api_key", key)
                        call("loginWithApiKey", key)
                        val token = call("token")!!
                        assertEquals(key, token.javaClass.getMethod("getValue").invoke(token))
                        call("logout")
                        LeakScan.keepLog("shaded", (clientClass.getMethod("recentLog").invoke(client) as List<*>).map { it.toString() })
                    }
                    val handle = clientClass.getMethod("processHandle").invoke(client) as ProcessHandle
                    assertTrue(!handle.isAlive, "closed")
                }
            }
        }
    }
}
