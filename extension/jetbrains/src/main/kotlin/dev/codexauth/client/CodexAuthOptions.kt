package dev.codexauth.client

import java.nio.file.Path
import java.time.Duration
import java.util.function.Consumer

/**
 * How to start codex-auth.
 *
 * @property binary the `codex-auth` executable; it is run as `binary serve [arguments]`.
 * @property clientName reported to codex-auth (`clientInfo.name`, the HTTP user agent).
 * @property clientVersion the plugin's or IDE's version (`clientInfo.version`).
 * @property environment added to (and overriding) the IDE's environment for the process.
 * @property openUrl opens a sign-in page for `window/showDocument` and says whether it did
 *   (in a plugin: `BrowserUtil.browse(url); true`). When `null`, codex-auth opens the system browser
 *   itself where it can, and [BrowserLogin.headless] tells you when it could not.
 * @property arguments more arguments after `serve` (for example `--log-level`, `debug`).
 * @property startTimeout how long [CodexAuthClient.start] waits for `initialize`.
 * @property logSink receives each line codex-auth logs on stderr (it logs no secret); `null` keeps
 *   only the last lines, for error messages and [CodexAuthClient.recentLog].
 */
class CodexAuthOptions @JvmOverloads constructor(
    val binary: Path,
    val clientName: String = "JetBrains",
    val clientVersion: String = "",
    val environment: Map<String, String> = emptyMap(),
    val openUrl: ((String) -> Boolean)? = null,
    val arguments: List<String> = emptyList(),
    val startTimeout: Duration = Duration.ofSeconds(30),
    val logSink: Consumer<String>? = null,
) {
    override fun toString(): String = "CodexAuthOptions(binary=$binary, clientName=$clientName, clientVersion=$clientVersion)"
}
