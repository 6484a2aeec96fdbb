package dev.codexauth.client

import com.google.gson.JsonElement
import com.google.gson.JsonObject
import dev.codexauth.client.internal.DropUnmatchedResponses
import dev.codexauth.client.internal.EditorEndpoint
import dev.codexauth.client.internal.FallbackExecutor
import dev.codexauth.client.internal.Json
import dev.codexauth.client.internal.Json.bool
import dev.codexauth.client.internal.Json.child
import dev.codexauth.client.internal.Json.instant
import dev.codexauth.client.internal.Json.objects
import dev.codexauth.client.internal.Json.required
import dev.codexauth.client.internal.Json.string
import dev.codexauth.client.internal.Json.strings
import dev.codexauth.client.internal.QuietOutput
import dev.codexauth.client.internal.SidecarServer
import dev.codexauth.client.internal.daemonThreads
import org.eclipse.lsp4j.jsonrpc.Launcher
import org.eclipse.lsp4j.jsonrpc.RemoteEndpoint
import org.eclipse.lsp4j.jsonrpc.ResponseErrorException
import java.io.BufferedReader
import java.io.IOException
import java.io.InputStreamReader
import java.nio.charset.StandardCharsets
import java.nio.file.Files
import java.util.ArrayDeque
import java.util.concurrent.CancellationException
import java.util.concurrent.CompletableFuture
import java.util.concurrent.CompletionException
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.ExecutionException
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.Future
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException
import java.util.concurrent.atomic.AtomicBoolean
import java.util.logging.Level
import java.util.logging.Logger

/**
 * A running `codex-auth serve`, spoken to over its stdin/stdout (docs/protocol.md, version 1).
 *
 * A thin adapter: every method is one JSON-RPC request and holds no credential logic; codex-auth
 * shares `$CODEX_HOME/auth.json` with the Codex CLI and tells this client about changes through the
 * [CodexAuthListener]s. Replies complete on a pool of the client's, never on the thread that reads
 * the wire, so blocking on another call from a callback is safe (though not on the UI thread).
 * JSON-RPC errors complete the futures with [CodexAuthException]; a process that is gone, with
 * [CodexAuthProcessException].
 *
 * One client per IDE is enough: [close] it when the plugin is unloaded.
 */
class CodexAuthClient private constructor(
    private val process: Process,
    private val options: CodexAuthOptions,
) : AutoCloseable {
    private val callbacks = FallbackExecutor.cached("callbacks")
    private val events = FallbackExecutor.single("events")
    private val readerThreads: ExecutorService = Executors.newCachedThreadPool(daemonThreads("reader"))
    private val listeners = CopyOnWriteArrayList<CodexAuthListener>()
    private val completions = ConcurrentHashMap<String, CompletableFuture<LoginResult>>()
    private val inFlight: MutableSet<CompletableFuture<*>> = ConcurrentHashMap.newKeySet()
    private val closed = AtomicBoolean()
    private val stderr = StderrTail(process, options)
    private val server: SidecarServer
    private val listening: Future<Void>

    /** `serverInfo.version` from `initialize`. */
    @Volatile
    var serverVersion: String? = null
        private set

    /** The protocol version the server stated (`"1"`, or `"1.x"`). */
    @Volatile
    var protocolVersion: String? = null
        private set

    init {
        val launcher = Launcher.Builder<SidecarServer>()
            .setLocalService(Endpoint())
            .setRemoteInterface(SidecarServer::class.java)
            .setInput(process.inputStream)
            .setOutput(process.outputStream)
            .setExecutorService(readerThreads)
            .setClassLoader(SidecarServer::class.java.classLoader)
            .wrapMessages { next -> if (next is RemoteEndpoint) DropUnmatchedResponses(next) else QuietOutput(next, closed) }
            // No traceMessages: the trace would print account/token's secret.
            .create()
        server = launcher.remoteProxy
        listening = launcher.startListening()
        process.onExit().thenRun { processExited() }
    }

    // ---- account API ----------------------------------------------------------------------------

    /** `account/read`: who is signed in. With [refreshToken] a ChatGPT token about to expire is refreshed first. */
    @JvmOverloads
    fun read(refreshToken: Boolean = false): CompletableFuture<AccountStatus> =
        call({ it.read(if (refreshToken) Json.obj("refreshToken" to true) else JsonObject()) }, ::accountStatus)

    /** `account/login/start {type:"apiKey"}`: saves the key (shared with the Codex CLI). */
    fun loginWithApiKey(key: String): CompletableFuture<Void> =
        done(call({ it.loginStart(Json.obj("type" to "apiKey", "apiKey" to key)) }) { })

    /**
     * `account/login/start {type:"chatgpt"}`: the browser login. codex-auth opens [BrowserLogin.authUrl]
     * through [CodexAuthOptions.openUrl] (or the system browser); the login ends with
     * [BrowserLogin.completion]. A new login cancels one in progress.
     */
    fun loginWithChatGpt(): CompletableFuture<BrowserLogin> =
        call({ it.loginStart(Json.obj("type" to "chatgpt")) }) { r ->
            val id = r.required("loginId", "account/login/start")
            BrowserLogin(id, r.required("authUrl", "account/login/start"), r.bool("headless") ?: false, r.string("message"), claim(id))
        }

    /** `account/login/start {type:"chatgptDeviceCode"}`: show the code and the URL; the login ends with [DeviceLogin.completion]. */
    fun loginWithDeviceCode(): CompletableFuture<DeviceLogin> =
        call({ it.loginStart(Json.obj("type" to "chatgptDeviceCode")) }) { r ->
            val id = r.required("loginId", "account/login/start")
            DeviceLogin(
                id,
                r.required("verificationUrl", "account/login/start"),
                r.required("userCode", "account/login/start"),
                r.instant("expiresAt"),
                claim(id),
            )
        }

    /** `account/login/cancel`: stops a browser or device login; its completion then reports `success=false`. */
    fun cancelLogin(loginId: String): CompletableFuture<LoginCancelStatus> =
        call({ it.loginCancel(Json.obj("loginId" to loginId)) }) { r ->
            if (r.string("status") == "canceled") LoginCancelStatus.CANCELED else LoginCancelStatus.NOT_FOUND
        }

    /**
     * `account/token`: the bearer to call the API with, refreshed first when it expires soon (or
     * always with [refresh]). Signed out: [CodexAuthException] -32010. Do not cache it past
     * [CodexAuthListener.onSessionInvalidated].
     */
    @JvmOverloads
    fun token(refresh: Boolean = false): CompletableFuture<AccessToken> =
        call({ it.token(if (refresh) Json.obj("refresh" to true) else JsonObject()) }, ::accessToken)

    /**
     * `account/token {sessionId}`: the bearer of a saved account that is not the active one (its saved
     * copy refreshed first when due, or always with [refresh]), so that a plugin can hold several.
     * No such account: [CodexAuthException] -32021 ([ErrorCodes.UNKNOWN_ACCOUNT]).
     */
    @JvmOverloads
    fun token(sessionId: String, refresh: Boolean = false): CompletableFuture<AccessToken> =
        call({ it.token(Json.obj("sessionId" to sessionId, "refresh" to (if (refresh) true else null))) }, ::accessToken)

    /** `account/logout`: removes the credentials everywhere (the Codex CLI's too); success when signed out already. */
    fun logout(): CompletableFuture<Void> = done(call({ it.logout(JsonObject()) }) { })

    // ---- saved accounts -------------------------------------------------------------------------

    /**
     * `accountSession/list`: the saved accounts, the most recently used first. To follow changes,
     * [CodexAuthListener.onAccountsUpdated] gets the new list after each (`accountSession/updated`).
     */
    fun listAccounts(): CompletableFuture<AccountSessionList> =
        call({ it.accountList(JsonObject()) }, ::accountSessionList)

    /**
     * `accountSession/switch`: makes a saved account the active one, for every editor and the Codex
     * CLI at once (no browser, nothing revoked). [sessionId] also takes an email only one saved
     * account has. Fails with [CodexAuthException]: -32021 unknown (or an email several share),
     * -32011 forbidden by managed policy, -32017 the account must sign in again, -32013 store
     * unavailable. The active one is a no-op. Completes with the list after the switch.
     */
    fun switchAccount(sessionId: String): CompletableFuture<AccountSessionList> =
        call({ it.accountSwitch(Json.obj("sessionId" to sessionId)) }, ::accountSessionList)

    /**
     * `accountSession/logout`: signs one saved account out (revoked at the issuer, its saved copy
     * removed). The active account: exactly [logout], after which none is active.
     */
    fun logoutAccount(sessionId: String): CompletableFuture<AccountSessionList> =
        call({ it.accountLogout(Json.obj("sessionId" to sessionId)) }, ::accountSessionList)

    /**
     * `accountSession/forget`: drops a saved account that is not active, without revoking it. The
     * active one: -32602 (switch first, or log it out).
     */
    fun forgetAccount(sessionId: String): CompletableFuture<AccountSessionList> =
        call({ it.accountForget(Json.obj("sessionId" to sessionId)) }, ::accountSessionList)

    /** Adds [listener]; close the returned handle to remove it. */
    fun addListener(listener: CodexAuthListener): AutoCloseable {
        listeners.add(listener)
        return AutoCloseable { listeners.remove(listener) }
    }

    // ---- the process ------------------------------------------------------------------------------

    /** The codex-auth process (its pid, whether it is alive). */
    fun processHandle(): ProcessHandle = process.toHandle()

    /** Whether the process runs and [close] was not called. */
    val isRunning: Boolean get() = !closed.get() && process.isAlive

    /** The process's exit code once it ended, else `null` (0 after a clean [close]). */
    val exitCode: Int? get() = if (process.isAlive) null else process.exitValue()

    /** The last lines codex-auth logged on stderr (it logs no secret), oldest first. */
    fun recentLog(): List<String> = stderr.lines()

    /**
     * Stops the process cleanly: `shutdown`, `exit`, end of its stdin; destroys it if it has not
     * exited within a few seconds. Pending futures fail with [CodexAuthProcessException]. Idempotent.
     */
    override fun close() {
        if (!closed.compareAndSet(false, true)) {
            process.waitFor(STOP_WAIT_MS * 3, TimeUnit.MILLISECONDS)
            return
        }
        try {
            if (process.isAlive) {
                try {
                    server.shutdown().get(STOP_WAIT_MS, TimeUnit.MILLISECONDS)
                    server.exit()
                } catch (e: Exception) {
                    LOG.log(Level.FINE, "codex-auth: shutdown not answered", e)
                }
            }
        } finally {
            try {
                process.outputStream.close()
            } catch (e: IOException) {
                // already gone
            }
            stop()
            failPending(CodexAuthProcessException("the codex-auth client is closed"))
            listening.cancel(true)
            readerThreads.shutdownNow()
            callbacks.pool.shutdown()
            events.pool.shutdown()
        }
    }

    private fun stop() {
        if (process.waitFor(STOP_WAIT_MS, TimeUnit.MILLISECONDS)) return
        process.destroy()
        if (process.waitFor(STOP_WAIT_MS, TimeUnit.MILLISECONDS)) return
        process.destroyForcibly()
        process.waitFor(STOP_WAIT_MS, TimeUnit.MILLISECONDS)
    }

    private fun processExited() {
        if (closed.get()) return
        val code = process.exitValue()
        failPending(CodexAuthProcessException("codex-auth exited with code $code${stderr.lastLineSuffix()}"))
        events.execute { listeners.forEach { safely { it.onProcessExited(code) } } }
    }

    private fun failPending(e: Exception) {
        inFlight.toList().forEach { it.completeExceptionally(e) }
        completions.values.toList().forEach { it.completeExceptionally(e) }
    }

    // ---- the wire ---------------------------------------------------------------------------------

    private fun <T> call(send: (SidecarServer) -> CompletableFuture<out JsonElement?>, map: (JsonObject) -> T): CompletableFuture<T> {
        val result = CompletableFuture<T>()
        if (closed.get()) {
            result.completeExceptionally(CodexAuthProcessException("the codex-auth client is closed"))
            return result
        }
        val raw = try {
            send(server)
        } catch (e: Exception) {
            result.completeExceptionally(CodexAuthProcessException("codex-auth is not running${stderr.lastLineSuffix()}", e))
            return result
        }
        inFlight.add(raw)
        if (!process.isAlive) raw.completeExceptionally(CodexAuthProcessException("codex-auth is not running${stderr.lastLineSuffix()}"))
        raw.whenCompleteAsync({ value, error ->
            inFlight.remove(raw)
            if (error != null) {
                result.completeExceptionally(translate(error))
            } else {
                try {
                    result.complete(map(value as? JsonObject ?: JsonObject()))
                } catch (e: Exception) {
                    result.completeExceptionally(e)
                }
            }
        }, callbacks)
        // Cancelling the caller's future sends $/cancelRequest.
        result.whenComplete { _, error -> if (error is CancellationException) raw.cancel(true) }
        return result
    }

    /** A future of no value, as Java's `CompletableFuture<Void>` (completes with `null`). */
    @Suppress("UNCHECKED_CAST")
    private fun done(f: CompletableFuture<Unit>): CompletableFuture<Void> = f.thenApply { null } as CompletableFuture<Void>

    /** The loginId's completion, registered whichever of the reply and the notification comes first. */
    private fun completionFor(loginId: String): CompletableFuture<LoginResult> =
        completions.computeIfAbsent(loginId) { CompletableFuture() }

    private fun claim(loginId: String): CompletableFuture<LoginResult> {
        val f = completionFor(loginId)
        f.whenComplete { _, _ -> completions.remove(loginId, f) }
        return f.copy()
    }

    private inner class Endpoint : EditorEndpoint {
        override fun accountUpdated(params: JsonObject) {
            val u = AccountUpdate(params.string("authMode"), params.string("planType"), params.string("email"), params.string("workspaceId"))
            events.execute { listeners.forEach { safely { it.onAccountUpdated(u) } } }
        }

        override fun accountSessionUpdated(params: JsonObject) {
            val list = accountSessionList(params)
            events.execute { listeners.forEach { safely { it.onAccountsUpdated(list) } } }
        }

        override fun loginCompleted(params: JsonObject) {
            val id = params.string("loginId") ?: return
            val r = LoginResult(id, params.bool("success") ?: false, params.string("error"))
            val f = completionFor(id)
            events.execute {
                f.complete(r)
                listeners.forEach { safely { it.onLoginCompleted(r) } }
            }
        }

        override fun sessionInvalidated(params: JsonObject) {
            val reason = params.string("reason") ?: ""
            val message = params.string("message") ?: ""
            events.execute { listeners.forEach { safely { it.onSessionInvalidated(reason, message) } } }
        }

        override fun showDocument(params: JsonObject): CompletableFuture<JsonObject> {
            val uri = params.string("uri")
            val open = options.openUrl
            return CompletableFuture.supplyAsync({
                val ok = uri != null && open != null && try {
                    open(uri)
                } catch (e: Exception) {
                    LOG.log(Level.WARNING, "codex-auth: openUrl failed", e)
                    false
                }
                Json.obj("success" to ok)
            }, callbacks)
        }
    }

    private inline fun safely(block: () -> Unit) {
        try {
            block()
        } catch (e: Exception) {
            LOG.log(Level.WARNING, "codex-auth: a listener threw", e)
        }
    }

    private fun initialize() {
        val params = Json.obj(
            "processId" to ProcessHandle.current().pid(),
            "clientInfo" to Json.obj("name" to options.clientName, "version" to options.clientVersion),
            "capabilities" to Json.obj(
                "window" to Json.obj("showDocument" to Json.obj("support" to (options.openUrl != null))),
            ),
            "initializationOptions" to Json.obj("protocolVersion" to PROTOCOL_VERSION),
        )
        val result = call({ it.initialize(params) }) { it }
        val r = try {
            result.get(options.startTimeout.toMillis(), TimeUnit.MILLISECONDS)
        } catch (e: TimeoutException) {
            result.cancel(true)
            throw CodexAuthProcessException("codex-auth did not answer initialize within ${options.startTimeout.seconds} s${stderr.lastLineSuffix()}")
        } catch (e: ExecutionException) {
            throw e.cause ?: e
        }
        val version = r.child("capabilities")?.child("experimental")?.child("codexAuth")?.string("protocolVersion")
        if (version == null || version.substringBefore('.') != PROTOCOL_VERSION) {
            throw IncompatibleProtocolException(
                "codex-auth ${options.binary} speaks protocol ${version ?: "(none stated)"}; this client speaks $PROTOCOL_VERSION",
            )
        }
        protocolVersion = version
        serverVersion = r.child("serverInfo")?.string("version")
        server.initialized(JsonObject())
    }

    private fun accessToken(r: JsonObject): AccessToken =
        when (val type = r.required("type", "account/token")) {
            Account.API_KEY -> AccessToken(type, r.required("apiKey", "account/token"), null, null)
            else -> AccessToken(type, r.required("accessToken", "account/token"), r.instant("expiresAt"), r.string("accountId"))
        }

    /**
     * The `accountSession/list` result, also `accountSession/updated`'s params. Entries lacking a
     * session id are dropped; an active id not in the list reads as none.
     */
    private fun accountSessionList(r: JsonObject): AccountSessionList {
        val sessions = r.objects("sessions").mapNotNull { s ->
            val id = s.string("sessionId")?.takeIf { it.isNotEmpty() } ?: return@mapNotNull null
            AccountSession(
                sessionId = id,
                type = s.string("type") ?: "",
                email = s.string("email"),
                userId = s.string("userId"),
                displayName = s.string("displayName"),
                imageUrl = s.string("imageUrl"),
                lastUsedAt = s.instant("lastUsedAt"),
                selectedWorkspaceAccountId = s.string("selectedWorkspaceAccountId"),
                workspaces = s.objects("workspaces").mapNotNull { w ->
                    w.string("accountId")?.let { Workspace(it, w.string("name"), w.string("imageUrl"), w.string("kind")) }
                },
                planType = s.string("planType"),
                apiKeyHint = s.string("apiKeyHint"),
                needsLogin = s.bool("needsLogin") ?: false,
                forbidden = s.string("forbidden"),
            )
        }
        val active = r.string("activeSessionId")?.takeIf { id -> sessions.any { it.sessionId == id } }
        return AccountSessionList(active, sessions)
    }

    private fun accountStatus(r: JsonObject): AccountStatus {
        val a = r.child("account")
        val store = r.child("store")
        val policy = r.child("policy")
        return AccountStatus(
            account = a?.let {
                Account(
                    type = it.required("type", "account/read"),
                    email = it.string("email"),
                    planType = it.string("planType"),
                    workspaceId = it.string("workspaceId"),
                    expiresAt = it.instant("expiresAt"),
                    apiKeyHint = it.string("apiKeyHint"),
                )
            },
            requiresOpenaiAuth = r.bool("requiresOpenaiAuth") ?: false,
            store = store?.let { CredentialStore(it.string("mode") ?: "", it.string("location") ?: "", it.string("fallback")) },
            issuer = r.string("issuer"),
            policy = LoginPolicy(policy?.string("forcedLoginMethod"), policy?.strings("forcedWorkspaceIds") ?: emptyList()),
            problem = r.string("problem"),
        )
    }

    companion object {
        /** The protocol version this library speaks (docs/protocol.md). */
        const val PROTOCOL_VERSION = "1"

        private const val STOP_WAIT_MS = 2000L
        private val LOG: Logger = Logger.getLogger(CodexAuthClient::class.java.name)

        /**
         * Spawns `binary serve` and initializes it (protocol version 1). Blocks until codex-auth
         * answered, at most [CodexAuthOptions.startTimeout]: call it off the UI thread.
         *
         * @throws IncompatibleProtocolException the binary speaks another major protocol version (-32019)
         * @throws CodexAuthException any other JSON-RPC error to `initialize`
         * @throws CodexAuthProcessException the process exited or did not answer in time
         * @throws IOException the binary could not be run
         */
        @JvmStatic
        @Throws(IOException::class)
        fun start(options: CodexAuthOptions): CodexAuthClient {
            if (!Files.isExecutable(options.binary)) {
                throw IOException("codex-auth binary not found or not executable: ${options.binary}")
            }
            val pb = ProcessBuilder(listOf(options.binary.toString(), "serve") + options.arguments)
            pb.environment().putAll(options.environment)
            val client = CodexAuthClient(pb.start(), options)
            try {
                client.initialize()
                return client
            } catch (e: Throwable) {
                client.kill()
                throw e
            }
        }

        internal fun translate(error: Throwable): Throwable {
            var e = error
            while ((e is CompletionException || e is ExecutionException) && e.cause != null) e = e.cause!!
            return when (e) {
                is ResponseErrorException -> CodexAuthException.of(e.responseError.code, e.responseError.message ?: "")
                is CodexAuthException, is CodexAuthProcessException, is CancellationException -> e
                else -> CodexAuthProcessException("codex-auth request failed: ${e.javaClass.simpleName}", e)
            }
        }
    }

    /** Ends a client that never initialized: no shutdown to send. */
    private fun kill() {
        closed.set(true)
        try {
            process.outputStream.close()
        } catch (e: IOException) {
            // already gone
        }
        stop()
        failPending(CodexAuthProcessException("codex-auth did not start"))
        listening.cancel(true)
        readerThreads.shutdownNow()
        callbacks.pool.shutdown()
        events.pool.shutdown()
    }
}

/** Drains the process's stderr (so it never blocks on a full pipe), keeping the last lines. */
private class StderrTail(process: Process, private val options: CodexAuthOptions) {
    private val tail = ArrayDeque<String>()
    private val thread = Thread({
        try {
            BufferedReader(InputStreamReader(process.errorStream, StandardCharsets.UTF_8)).useLines { lines ->
                lines.forEach { raw ->
                    val line = if (raw.length > MAX_LINE) raw.substring(0, MAX_LINE) + "…" else raw
                    synchronized(tail) {
                        if (tail.size == MAX_LINES) tail.removeFirst()
                        tail.addLast(line)
                    }
                    options.logSink?.let { sink -> runCatching { sink.accept(line) } }
                }
            }
        } catch (e: IOException) {
            // the process ended
        }
    }, "codex-auth-stderr").apply {
        isDaemon = true
        start()
    }

    fun lines(): List<String> = synchronized(tail) { tail.toList() }

    /** `": <last line>"` once stderr is drained (briefly waited for), or "". */
    fun lastLineSuffix(): String {
        thread.join(200)
        return synchronized(tail) { tail.peekLast() }?.let { ": $it" } ?: ""
    }

    private companion object {
        const val MAX_LINES = 200
        const val MAX_LINE = 4096
    }
}
