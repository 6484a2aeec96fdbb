package dev.codexauth.client

import org.junit.platform.engine.TestExecutionResult
import org.junit.platform.launcher.TestExecutionListener
import org.junit.platform.launcher.TestIdentifier
import org.junit.platform.launcher.TestPlan
import java.util.concurrent.atomic.AtomicInteger

/**
 * Prints `SUITE: N passed, N failed, N skipped` when the JVM's tests end, so the count shows even
 * under `mvn -q` (which hides Surefire's own summary). A class that failed before its tests ran
 * (in @BeforeAll) counts as one failure. Registered in META-INF/services.
 */
class SummaryListener : TestExecutionListener {
    private val passed = AtomicInteger()
    private val failed = AtomicInteger()
    private val skipped = AtomicInteger()

    override fun executionSkipped(testIdentifier: TestIdentifier, reason: String) {
        if (testIdentifier.isTest) skipped.incrementAndGet()
    }

    override fun executionFinished(testIdentifier: TestIdentifier, result: TestExecutionResult) {
        when (result.status) {
            TestExecutionResult.Status.SUCCESSFUL -> if (testIdentifier.isTest) passed.incrementAndGet()
            TestExecutionResult.Status.ABORTED -> if (testIdentifier.isTest) skipped.incrementAndGet()
            TestExecutionResult.Status.FAILED -> {
                failed.incrementAndGet()
                System.out.println("FAILED: ${testIdentifier.displayName}: ${result.throwable.map { it.toString() }.orElse("")}")
            }
            null -> {}
        }
    }

    override fun testPlanExecutionFinished(testPlan: TestPlan) {
        val suite = System.getProperty("codexauth.suite") ?: "tests"
        System.out.println("$suite: ${passed.get()} passed, ${failed.get()} failed, ${skipped.get()} skipped")
        System.out.flush()
    }
}
