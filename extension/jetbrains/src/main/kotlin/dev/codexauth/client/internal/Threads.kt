package dev.codexauth.client.internal

import org.eclipse.lsp4j.jsonrpc.JsonRpcException
import org.eclipse.lsp4j.jsonrpc.MessageConsumer
import org.eclipse.lsp4j.jsonrpc.RemoteEndpoint
import org.eclipse.lsp4j.jsonrpc.messages.Message
import org.eclipse.lsp4j.jsonrpc.messages.ResponseMessage
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.RejectedExecutionException
import java.util.concurrent.ThreadFactory
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import java.util.logging.Logger

/** Daemon threads named `codex-auth-<role>-N`: the IDE never waits on them to exit. */
internal fun daemonThreads(role: String): ThreadFactory {
    val n = AtomicInteger()
    return ThreadFactory { r ->
        Thread(r, "codex-auth-$role-${n.incrementAndGet()}").apply { isDaemon = true }
    }
}

/**
 * Runs tasks on [pool]; once the pool is shut down, on the caller's thread, so a future completed
 * after close() still reaches its callers.
 */
internal class FallbackExecutor(val pool: ExecutorService) : java.util.concurrent.Executor {
    override fun execute(command: Runnable) {
        try {
            pool.execute(command)
        } catch (e: RejectedExecutionException) {
            command.run()
        }
    }

    companion object {
        fun cached(role: String) = FallbackExecutor(Executors.newCachedThreadPool(daemonThreads(role)))
        fun single(role: String) = FallbackExecutor(Executors.newSingleThreadExecutor(daemonThreads(role)))
    }
}

/**
 * Drops a response to no request in flight before RemoteEndpoint sees it: LSP4J would log the whole
 * message, and an `account/token` result holds a secret.
 */
internal class DropUnmatchedResponses(private val next: RemoteEndpoint) : MessageConsumer {
    override fun consume(message: Message) {
        if (message is ResponseMessage && next.resolveMethod(message.id) == null) {
            LOG.warning("codex-auth: dropped a response to no request in flight (id ${message.id})")
            return
        }
        next.consume(message)
    }

    private companion object {
        val LOG: Logger = Logger.getLogger(DropUnmatchedResponses::class.java.name)
    }
}

/**
 * The way out to the process. Our answer to a request of the server's (`window/showDocument`) that
 * cannot be written any more, because the client closed or the process ended, is dropped quietly
 * instead of LSP4J logging an internal error; requests and notifications still fail to the caller.
 */
internal class QuietOutput(private val next: MessageConsumer, private val closed: AtomicBoolean) : MessageConsumer {
    override fun consume(message: Message) {
        if (message !is ResponseMessage) {
            next.consume(message)
            return
        }
        if (closed.get()) return
        try {
            next.consume(message)
        } catch (e: JsonRpcException) {
            LOG.fine("codex-auth: an answer to the server could not be written: the process is gone")
        }
    }

    private companion object {
        val LOG: Logger = Logger.getLogger(QuietOutput::class.java.name)
    }
}
