package dev.codexauth.client

import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.assertThrows
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.attribute.PosixFilePermissions
import java.time.Instant
import java.util.Comparator
import java.util.concurrent.ExecutionException
import java.util.concurrent.TimeUnit

/** Behaviour the real binary does not show on demand, with [FakeSidecar] standing in for it. */
@Timeout(60)
class StandInTest {
    private lateinit var dir: Path
    private lateinit var pidFile: Path

    @BeforeEach
    fun tempDir() {
        dir = Files.createTempDirectory("codex-auth-jb-fake-")
        pidFile = dir.resolve("pid")
    }

    @AfterEach
    fun cleanUp() {
        Files.walk(dir).use { s -> s.sorted(Comparator.reverseOrder()).forEach { Files.deleteIfExists(it) } }
    }

    /** A `codex-auth`-like executable that runs FakeSidecar in [mode]. */
    private fun standIn(mode: String): CodexAuthOptions {
        val classes = Path.of(FakeSidecar::class.java.protectionDomain.codeSource.location.toURI())
        val gson = Path.of(com.google.gson.JsonParser::class.java.protectionDomain.codeSource.location.toURI())
        val java = Path.of(System.getProperty("java.home"), "bin", "java")
        val script = dir.resolve("codex-auth-$mode")
        Files.writeString(
            script,
            "#!/bin/sh\nexec '$java' -Xshare:auto -XX:TieredStopAtLevel=1 -cp '$classes:$gson' dev.codexauth.client.FakeSidecar $mode \"$@\"\n",
        )
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"))
        return CodexAuthOptions(script, environment = mapOf("FAKE_PID_FILE" to pidFile.toString()))
    }

    /** The pid the stand-in wrote (the script execs java, so it is the spawned process). */
    private fun fakePid(): Long = Files.readString(pidFile).trim().toLong()

    private fun assertGone(what: String) {
        val pid = fakePid()
        val h = ProcessHandle.of(pid)
        assertFalse(h.isPresent && h.get().isAlive, "$what: the stand-in (pid $pid) is still running")
    }

    @Test
    fun incompatibleProtocolRaisesAndLeavesNoProcess() {
        val e = assertThrows<IncompatibleProtocolException> { CodexAuthClient.start(standIn("incompatible")) }
        assertEquals(ErrorCodes.INCOMPATIBLE_PROTOCOL, e.code)
        assertTrue(e.message!!.contains("protocol version 2"), "the server's message: ${e.message}")
        assertTrue(e is CodexAuthException)
        assertGone("after IncompatibleProtocolException")
    }

    @Test
    fun completionBeforeTheStartReplyIsNotLost() {
        CodexAuthClient.start(standIn("race")).use { client ->
            val events = Recorder()
            client.addListener(events)
            val login = client.loginWithDeviceCode().await()
            assertEquals("login-race", login.loginId)
            assertEquals("RACE-0001", login.userCode)
            val result = login.completion.await()
            assertTrue(result.success)
            assertEquals("login-race", result.loginId)
            events.next(Recorder.Completed::class.java, "onLoginCompleted") { it.result.loginId == "login-race" }
        }
        assertGone("after close()")
    }

    @Test
    fun closeDestroysAProcessThatIgnoresShutdown() {
        val client = CodexAuthClient.start(standIn("stubborn"))
        val handle = client.processHandle()
        assertEquals(fakePid(), handle.pid(), "the handle is the stand-in's")
        val started = System.nanoTime()
        client.close()
        val took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)
        assertFalse(handle.isAlive, "close() destroyed the process")
        assertTrue(took < 10_000, "close() took $took ms")
        assertGone("after close()")
    }

    @Test
    fun malformedAccountListsAreReadLeniently() {
        CodexAuthClient.start(standIn("lists")).use { client ->
            val events = Recorder()
            client.addListener(events)
            client.read().await() // a reply is written after the notifications sent before it
            val first = events.next(Recorder.Listed::class.java, "the first accountSession/updated").accounts
            assertEquals(listOf("s-1", "s-2"), first.sessions.map { it.sessionId }, "entries without a session id dropped: $first")
            assertNull(first.activeSessionId, "an active id not in the list reads as none")
            val one = first.sessions[0]
            assertEquals("a@example.com", one.email)
            assertTrue(one.needsLogin)
            assertEquals("not allowed here", one.forbidden)
            assertEquals(Instant.parse("2030-01-02T03:04:05Z"), one.lastUsedAt)
            assertEquals(listOf(Workspace("ws-1", "One", null, null)), one.workspaces, "a workspace without an id dropped")
            val two = first.sessions[1]
            assertFalse(two.needsLogin, "a needsLogin that is not a boolean reads as false")
            assertNull(two.lastUsedAt, "a lastUsedAt that is not a time reads as none")
            val second = events.next(Recorder.Listed::class.java, "the second accountSession/updated").accounts
            assertEquals(AccountSessionList(null, emptyList()), second, "no list reads as an empty one")
        }
    }

    @Test
    fun aCrashFailsPendingCallsAndIsReported() {
        CodexAuthClient.start(standIn("crash")).use { client ->
            val events = Recorder()
            client.addListener(events)
            val e = assertThrows<ExecutionException> { client.read().await() }
            val cause = e.cause
            assertTrue(cause is CodexAuthProcessException, "a pending call fails with CodexAuthProcessException, got $cause")
            assertTrue(cause!!.message!!.contains("code 3"), "the message has the exit code: ${cause.message}")
            assertEquals(3, events.next(Recorder.Exited::class.java, "onProcessExited").code)
            assertFalse(client.isRunning)
            assertTrue(client.recentLog().contains("fake: crashing on account/read"), "stderr kept: ${client.recentLog()}")
        }
    }
}
