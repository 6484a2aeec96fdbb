package dev.codexauth.client

/**
 * A JSON-RPC error answered by codex-auth. [code] is one of docs/protocol.md's (the constants in
 * [ErrorCodes]); the message is safe to show a user and never holds a secret.
 */
open class CodexAuthException(val code: Int, message: String) : RuntimeException(message) {
    companion object {
        /** The exception for a JSON-RPC error: [IncompatibleProtocolException] for -32019. */
        @JvmStatic
        fun of(code: Int, message: String): CodexAuthException = when (code) {
            ErrorCodes.INCOMPATIBLE_PROTOCOL -> IncompatibleProtocolException(message)
            else -> CodexAuthException(code, message)
        }
    }
}

/**
 * The binary speaks another major protocol version than this library (-32019): an old plugin next
 * to a new codex-auth, or the reverse. Tell the user to update one of them.
 */
class IncompatibleProtocolException(message: String) :
    CodexAuthException(ErrorCodes.INCOMPATIBLE_PROTOCOL, message)

/**
 * The codex-auth process is not there to answer: it could not be initialized in time, it exited
 * (its exit code and the last line it logged are in the message), or the client was closed.
 * Start a new client to go on.
 */
class CodexAuthProcessException(message: String, cause: Throwable? = null) : RuntimeException(message, cause)

/** docs/protocol.md's error codes. */
object ErrorCodes {
    const val PARSE_ERROR = -32700
    const val INVALID_REQUEST = -32600
    const val METHOD_NOT_FOUND = -32601
    const val INVALID_PARAMS = -32602
    const val INTERNAL_ERROR = -32603
    const val SERVER_NOT_INITIALIZED = -32002
    const val REQUEST_CANCELLED = -32800
    const val NOT_LOGGED_IN = -32010
    const val POLICY_FORBIDS = -32011
    const val ISSUER_UNAVAILABLE = -32012
    const val STORE_UNAVAILABLE = -32013
    const val UNSUPPORTED_RECORD = -32014
    const val CREDENTIALS_CORRUPT = -32015
    const val LOGIN_TYPE_UNSUPPORTED = -32016
    const val SESSION_EXPIRED = -32017
    const val DEVICE_CODE_DISABLED = -32018
    const val INCOMPATIBLE_PROTOCOL = -32019
    const val LOGIN_FAILED = -32020

    /** No saved account has that session id (or several share that email: the message says which). */
    const val UNKNOWN_ACCOUNT = -32021
}
