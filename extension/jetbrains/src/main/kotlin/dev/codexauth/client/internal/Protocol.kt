package dev.codexauth.client.internal

import com.google.gson.JsonArray
import com.google.gson.JsonElement
import com.google.gson.JsonObject
import com.google.gson.JsonPrimitive
import org.eclipse.lsp4j.jsonrpc.services.JsonNotification
import org.eclipse.lsp4j.jsonrpc.services.JsonRequest
import java.time.Instant
import java.time.format.DateTimeParseException
import java.util.concurrent.CompletableFuture

/**
 * docs/protocol.md, client to server. Params and results stay JSON here; CodexAuthClient maps them
 * onto the public types, so no LSP4J or Gson type leaks into the API (both are shaded).
 */
internal interface SidecarServer {
    @JsonRequest("initialize")
    fun initialize(params: JsonObject): CompletableFuture<JsonObject>

    @JsonNotification("initialized")
    fun initialized(params: JsonObject)

    @JsonRequest("shutdown")
    fun shutdown(): CompletableFuture<JsonElement>

    @JsonNotification("exit")
    fun exit()

    @JsonRequest("account/read")
    fun read(params: JsonObject): CompletableFuture<JsonObject>

    @JsonRequest("account/login/start")
    fun loginStart(params: JsonObject): CompletableFuture<JsonObject>

    @JsonRequest("account/login/cancel")
    fun loginCancel(params: JsonObject): CompletableFuture<JsonObject>

    @JsonRequest("account/logout")
    fun logout(params: JsonObject): CompletableFuture<JsonObject>

    @JsonRequest("account/token")
    fun token(params: JsonObject): CompletableFuture<JsonObject>

    @JsonRequest("accountSession/list")
    fun accountList(params: JsonObject): CompletableFuture<JsonObject>

    @JsonRequest("accountSession/switch")
    fun accountSwitch(params: JsonObject): CompletableFuture<JsonObject>

    @JsonRequest("accountSession/logout")
    fun accountLogout(params: JsonObject): CompletableFuture<JsonObject>

    @JsonRequest("accountSession/forget")
    fun accountForget(params: JsonObject): CompletableFuture<JsonObject>
}

/** Server to client: what the editor side handles. Called on LSP4J's reader thread: must not block. */
internal interface EditorEndpoint {
    @JsonNotification("account/updated")
    fun accountUpdated(params: JsonObject)

    @JsonNotification("account/login/completed")
    fun loginCompleted(params: JsonObject)

    @JsonNotification("account/sessionInvalidated")
    fun sessionInvalidated(params: JsonObject)

    @JsonNotification("accountSession/updated")
    fun accountSessionUpdated(params: JsonObject)

    @JsonRequest("window/showDocument")
    fun showDocument(params: JsonObject): CompletableFuture<JsonObject>
}

/** Small, lenient readers: a member of an unexpected type reads as absent. */
internal object Json {
    fun obj(vararg members: Pair<String, Any?>): JsonObject {
        val o = JsonObject()
        for ((k, v) in members) {
            when (v) {
                null -> {}
                is JsonElement -> o.add(k, v)
                is String -> o.addProperty(k, v)
                is Boolean -> o.addProperty(k, v)
                is Number -> o.addProperty(k, v)
                else -> error("unsupported JSON value for $k")
            }
        }
        return o
    }

    fun JsonObject.string(name: String): String? {
        val e = get(name) ?: return null
        return if (e is JsonPrimitive && e.isString) e.asString else null
    }

    fun JsonObject.bool(name: String): Boolean? {
        val e = get(name) ?: return null
        return if (e is JsonPrimitive && e.isBoolean) e.asBoolean else null
    }

    fun JsonObject.child(name: String): JsonObject? = get(name) as? JsonObject

    fun JsonObject.objects(name: String): List<JsonObject> =
        (get(name) as? JsonArray)?.mapNotNull { it as? JsonObject } ?: emptyList()

    fun JsonObject.strings(name: String): List<String> =
        (get(name) as? JsonArray)?.mapNotNull { (it as? JsonPrimitive)?.takeIf { p -> p.isString }?.asString } ?: emptyList()

    fun JsonObject.instant(name: String): Instant? = string(name)?.let {
        try {
            Instant.parse(it)
        } catch (e: DateTimeParseException) {
            null
        }
    }

    /** A required string member; the error names the member, never a value. */
    fun JsonObject.required(name: String, what: String): String =
        string(name) ?: throw IllegalStateException("codex-auth answered $what without $name")
}
