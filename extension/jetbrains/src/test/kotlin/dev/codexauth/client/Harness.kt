package dev.codexauth.client

import com.google.gson.JsonObject
import com.google.gson.JsonParser
import java.io.BufferedReader
import java.io.InputStreamReader
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.charset.StandardCharsets
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.attribute.PosixFilePermissions
import java.time.Duration
import java.util.Comparator
import java.util.concurrent.CompletableFuture
import java.util.concurrent.Future
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import java.util.function.Consumer
import java.util.logging.Handler
import java.util.logging.Level
import java.util.logging.LogRecord
import java.util.logging.Logger
import java.util.logging.SimpleFormatter

/** How long any single wait in a test may take. */
val WAIT: Duration = Duration.ofSeconds(30)

fun <T> Future<T>.await(): T = get(WAIT.toMillis(), TimeUnit.MILLISECONDS)

/** The real parts the tests drive; a missing one fails the test (never skips) and says how to get it. */
object RealParts {
    private val repoRoot: Path =
        Path.of(System.getProperty("codexauth.repoRoot") ?: "../..").toAbsolutePath().normalize()

    fun codexAuth(): Path = find(
        "CODEX_AUTH_BIN", repoRoot.resolve("bin/codex-auth"),
        "build it in the repository root with `go build -o bin/codex-auth ./cmd/codex-auth` (or `make build`)",
    )

    fun codex(): Path = find(
        "CODEX_BIN", repoRoot.resolve(".cache/npm/node_modules/.bin/codex"),
        "install the pinned Codex CLI (0.171.0) with `scripts/deps.sh` (or `make deps`) in the repository root",
    )

    fun find(variable: String, default: Path, howTo: String): Path {
        val set = System.getenv(variable)?.takeIf { it.isNotEmpty() }
        val path = set?.let { Path.of(it) } ?: default
        if (!Files.isExecutable(path)) {
            val where = if (set != null) "$variable=$set" else "$path ($variable unset)"
            throw AssertionError(
                "missing real part: $where is not an executable file; $howTo. " +
                    "These tests need it (CODEX_AUTH_REAL_PARTS=${System.getenv("CODEX_AUTH_REAL_PARTS") ?: "unset"}); " +
                    "build without tests with -DskipTests.",
            )
        }
        return path
    }
}

/**
 * The leak scan (make clients; internal/leakscan). With CODEX_AUTH_SCAN_DIR set, every [Issuer] keeps a
 * ledger of the secrets it handled, [handed] notes the ones the tests type in, and the sidecars' stderr
 * ([Home.options]' log sink, [keepLog]) and the client's own java.util.logging records are saved there,
 * under jetbrains/, files named by the JVM's pid. Without it, nothing is written.
 */
object LeakScan {
    @JvmStatic
    val dir: Path? = System.getenv("CODEX_AUTH_SCAN_DIR")?.takeIf { it.isNotEmpty() }?.let { Path.of(it, "jetbrains") }
    private val pid = ProcessHandle.current().pid()
    private val issuers = AtomicInteger()
    private val lock = Any()

    /** Held so the logger (weakly referenced by java.util.logging) keeps its handler. */
    private val clientLogger: Logger? = dir?.let { d ->
        Files.createDirectories(d, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")))
        Logger.getLogger("dev.codexauth").apply {
            level = Level.ALL
            addHandler(object : Handler() {
                init { formatter = SimpleFormatter(); level = Level.ALL }
                override fun publish(record: LogRecord) { append("client-$pid.jul.log", formatter.format(record)) }
                override fun flush() {}
                override fun close() {}
            })
        }
    }

    /** `--ledger FILE` for the next issuer, or nothing. */
    fun ledgerArgs(): List<String> {
        clientLogger // initialized with the first issuer
        return dir?.let { listOf("--ledger", it.resolve("issuer-$pid-${issuers.incrementAndGet()}.ledger").toString()) } ?: emptyList()
    }

    /** Notes secrets the test typed in itself (API keys). */
    @JvmStatic
    fun handed(kind: String, vararg secrets: String) {
        append("handed.secrets", secrets.joinToString("") { "$kind\t$it\n" })
    }

    /** A log sink saving each stderr line of a sidecar, or `null`. */
    fun sink(): Consumer<String>? = dir?.let { Consumer { line -> append("sidecar-$pid.stderr.log", line + "\n") } }

    /** Saves a client's [CodexAuthClient.recentLog] (for the tests that give no log sink). */
    @JvmStatic
    fun keepLog(name: String, lines: List<String>) {
        append("$name-$pid.stderr.log", lines.joinToString("") { it + "\n" })
    }

    private fun append(file: String, text: String) {
        val d = dir ?: return
        synchronized(lock) {
            val p = d.resolve(file)
            if (!Files.exists(p)) {
                Files.createFile(p, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))
            }
            Files.writeString(p, text, StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND)
        }
    }
}

/**
 * `codex-auth dev issuer` on a free port, device polls every second. Its first user
 * (ada@example.com, pro, ws-ada) signs in until [nextUser]; [moreUsers] are `EMAIL[:PLAN[:WORKSPACE]]`.
 */
class Issuer @JvmOverloads constructor(moreUsers: List<String> = emptyList()) : AutoCloseable {
    private val process: Process = ProcessBuilder(
        listOf(
            RealParts.codexAuth().toString(), "dev", "issuer", "--addr", "127.0.0.1:0", "--ports", "0",
            "--device-interval", "1", "--user", "$EMAIL:$PLAN:$WORKSPACE",
        ) + LeakScan.ledgerArgs() + moreUsers.flatMap { listOf("--user", it) },
    ).redirectError(ProcessBuilder.Redirect.DISCARD).start()

    val base: String

    init {
        val out = BufferedReader(InputStreamReader(process.inputStream, StandardCharsets.UTF_8))
        val first = CompletableFuture.supplyAsync { out.readLine() }
        base = try {
            first.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)
                ?: throw AssertionError("codex-auth dev issuer printed no base URL (exit ${process.waitFor()})")
        } catch (e: Exception) {
            process.destroyForcibly()
            throw e
        }
        check(base.startsWith("http://127.0.0.1:")) { "issuer's first line is not its URL: $base" }
        Thread({ out.useLines { it.forEach { } } }, "issuer-stdout").apply { isDaemon = true }.start()
    }

    /** Approves a device code as the user would at `$base/codex/device`. */
    fun approve(userCode: String) {
        val form = "user_code=" + URLEncoder.encode(userCode, StandardCharsets.UTF_8)
        val req = HttpRequest.newBuilder(URI.create("$base/codex/device"))
            .timeout(WAIT)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString(form))
            .build()
        val resp = HTTP.send(req, HttpResponse.BodyHandlers.discarding())
        check(resp.statusCode() == 200) { "approving the device code: HTTP ${resp.statusCode()}" }
    }

    /** Every following login signs in as [email] (`POST /debug/user`). */
    fun nextUser(email: String) {
        val req = HttpRequest.newBuilder(URI.create("$base/debug/user"))
            .timeout(WAIT)
            .POST(HttpRequest.BodyPublishers.ofString(JsonObject().apply { addProperty("email", email) }.toString()))
            .build()
        val resp = HTTP.send(req, HttpResponse.BodyHandlers.discarding())
        check(resp.statusCode() == 200) { "POST /debug/user $email: HTTP ${resp.statusCode()}" }
    }

    /** `GET /debug/stats`: refreshes, revocations, reuse_detections, ... */
    fun stats(): Map<String, Long> {
        val req = HttpRequest.newBuilder(URI.create("$base/debug/stats")).timeout(WAIT).GET().build()
        val body = HTTP.send(req, HttpResponse.BodyHandlers.ofString()).body()
        return JsonParser.parseString(body).asJsonObject.entrySet().associate { (k, v) -> k to v.asLong }
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(5, TimeUnit.SECONDS)
    }

    companion object {
        const val EMAIL = "ada@example.com"
        const val PLAN = "pro"
        const val WORKSPACE = "ws-ada"
        val HTTP: HttpClient = HttpClient.newBuilder().connectTimeout(WAIT).build()
    }
}

/** A fresh HOME = CODEX_HOME (0700) with an empty system config dir, as internal/e2e/e2eutil/peers.go. */
class Home : AutoCloseable {
    val dir: Path = Files.createTempDirectory(
        "codex-auth-jb-",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")),
    )

    init {
        Files.createDirectory(dir.resolve(".no-system-config"))
    }

    /** `auth.json`'s bytes, `null` when there is none. */
    fun authJson(): String? = dir.resolve("auth.json").takeIf { Files.exists(it) }?.let { Files.readString(it) }

    /** Where codex-auth keeps the saved copy of an account. */
    fun savedCopy(sessionId: String): Path = dir.resolve("account-sessions").resolve(sessionId).resolve("auth.json")

    /** The environment of the Codex CLI on this home. */
    fun env(): Map<String, String> = mapOf(
        "HOME" to dir.toString(),
        "CODEX_HOME" to dir.toString(),
        "CODEX_AUTH_SYSTEM_CONFIG_DIR" to dir.resolve(".no-system-config").toString(),
    )

    /** The sidecar's: the local issuer at [issuer], any callback port. */
    fun sidecarEnv(issuer: Issuer): Map<String, String> =
        env() + mapOf("CODEX_AUTH_ISSUER" to issuer.base, "CODEX_AUTH_CALLBACK_PORT" to "0")

    fun options(issuer: Issuer, openUrl: ((String) -> Boolean)? = null): CodexAuthOptions =
        CodexAuthOptions(RealParts.codexAuth(), "JetBrains test", "0.0.0", sidecarEnv(issuer), openUrl, logSink = LeakScan.sink())

    /** Runs the real Codex CLI on this home; returns its exit code and stderr. */
    fun codex(vararg args: String): Pair<Int, String> = run(RealParts.codex(), env(), args)

    /**
     * Runs `codex-auth` as a command (not `serve`) on this home with [issuer]; returns its exit code
     * and stderr, which the leak scan also gets.
     */
    fun codexAuth(issuer: Issuer, vararg args: String): Pair<Int, String> =
        run(RealParts.codexAuth(), sidecarEnv(issuer), args).also { (_, err) -> LeakScan.keepLog("cli", err.lines()) }

    private fun run(binary: Path, vars: Map<String, String>, args: Array<out String>): Pair<Int, String> {
        val pb = ProcessBuilder(listOf(binary.toString()) + args)
        val env = pb.environment()
        val keep = setOf("PATH", "TMPDIR", "LANG", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")
        env.keys.retainAll(keep)
        env.putAll(vars)
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD)
        val p = pb.start()
        p.outputStream.close()
        val err = CompletableFuture.supplyAsync { String(p.errorStream.readAllBytes(), StandardCharsets.UTF_8) }
        if (!p.waitFor(WAIT.seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly()
            throw AssertionError("${binary.fileName} ${args.joinToString(" ")} did not finish within $WAIT")
        }
        return p.exitValue() to err.await()
    }

    override fun close() {
        Files.walk(dir).use { s -> s.sorted(Comparator.reverseOrder()).forEach { Files.deleteIfExists(it) } }
    }
}

/** The fake browser: GET the URL, following redirects (to the loopback callback), 2xx at the end. */
fun browse(url: String): Boolean {
    val client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL).connectTimeout(WAIT).build()
    val resp = client.send(HttpRequest.newBuilder(URI.create(url)).timeout(WAIT).GET().build(), HttpResponse.BodyHandlers.discarding())
    return resp.statusCode() / 100 == 2
}

/** Records what the client reports and waits for it. */
class Recorder : CodexAuthListener {
    sealed interface Event
    data class Updated(val update: AccountUpdate) : Event
    data class Listed(val accounts: AccountSessionList) : Event
    data class Completed(val result: LoginResult) : Event
    data class Invalidated(val reason: String, val message: String) : Event
    data class Exited(val code: Int) : Event

    private val queue = LinkedBlockingQueue<Event>()
    private val seen = mutableListOf<Event>()

    override fun onAccountUpdated(update: AccountUpdate) { queue.add(Updated(update)) }
    override fun onAccountsUpdated(accounts: AccountSessionList) { queue.add(Listed(accounts)) }
    override fun onLoginCompleted(result: LoginResult) { queue.add(Completed(result)) }
    override fun onSessionInvalidated(reason: String, message: String) { queue.add(Invalidated(reason, message)) }
    override fun onProcessExited(exitCode: Int) { queue.add(Exited(exitCode)) }

    /** Waits (at most [WAIT]) for an event matching [want], consuming the ones before it. */
    fun <E : Event> next(type: Class<E>, what: String, want: (E) -> Boolean = { true }): E {
        val deadline = System.nanoTime() + WAIT.toNanos()
        while (true) {
            val left = deadline - System.nanoTime()
            val e = (if (left > 0) queue.poll(left, TimeUnit.NANOSECONDS) else null)
                ?: throw AssertionError("no $what within $WAIT; saw $seen")
            seen.add(e)
            if (type.isInstance(e) && want(type.cast(e))) return type.cast(e)
        }
    }

    /** What arrived so far, without waiting. */
    fun drain(): List<Event> {
        queue.drainTo(seen)
        return seen.toList()
    }
}
