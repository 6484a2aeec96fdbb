package dev.codexauth.client;

import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A stand-in for `codex-auth serve` that misbehaves on purpose, run as
 * {@code java -cp ... dev.codexauth.client.FakeSidecar MODE serve}:
 * <ul>
 * <li>{@code incompatible}: answers initialize with -32019, as a binary of protocol 2 does;</li>
 * <li>{@code race}: sends a login's account/login/completed before the account/login/start reply;</li>
 * <li>{@code stubborn}: never answers shutdown, ignores exit and the end of its stdin;</li>
 * <li>{@code crash}: exits with code 3 on account/read, without answering;</li>
 * <li>{@code lists}: before answering account/read, sends accountSession/updated with malformed
 * entries, then one with no list at all.</li>
 * </ul>
 * It writes its pid to $FAKE_PID_FILE when set.
 */
public final class FakeSidecar {
    private static final OutputStream OUT = System.out;

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        String pidFile = System.getenv("FAKE_PID_FILE");
        if (pidFile != null) {
            Files.writeString(Path.of(pidFile), Long.toString(ProcessHandle.current().pid()));
        }
        DataInputStream in = new DataInputStream(System.in);
        while (true) {
            JsonObject msg;
            try {
                msg = read(in);
            } catch (EOFException e) {
                if (mode.equals("stubborn")) {
                    Thread.sleep(Long.MAX_VALUE);
                }
                System.exit(0);
                return;
            }
            String method = msg.has("method") ? msg.get("method").getAsString() : "";
            JsonElement id = msg.get("id");
            switch (method) {
                case "initialize":
                    if (mode.equals("incompatible")) {
                        error(id, -32019, "this codex-auth speaks protocol version 2; the client stated 1: update the extension");
                    } else {
                        reply(id, JsonParser.parseString("{\"capabilities\":{\"experimental\":{\"codexAuth\":{\"protocolVersion\":\"1\"}}},"
                                + "\"serverInfo\":{\"name\":\"codex-auth\",\"version\":\"0.0.0-fake\"}}"));
                    }
                    break;
                case "account/login/start":
                    // The completion first, then the reply that carries the loginId.
                    write(JsonParser.parseString("{\"jsonrpc\":\"2.0\",\"method\":\"account/login/completed\","
                            + "\"params\":{\"loginId\":\"login-race\",\"success\":true,\"error\":null}}").getAsJsonObject());
                    reply(id, JsonParser.parseString("{\"type\":\"chatgptDeviceCode\",\"loginId\":\"login-race\","
                            + "\"verificationUrl\":\"http://127.0.0.1:1/codex/device\",\"userCode\":\"RACE-0001\",\"expiresAt\":\"2030-01-02T03:04:05Z\"}"));
                    break;
                case "account/read":
                    if (mode.equals("crash")) {
                        System.err.println("fake: crashing on account/read");
                        System.exit(3);
                    }
                    if (mode.equals("lists")) {
                        notify("accountSession/updated", "{\"activeSessionId\":\"gone\",\"sessions\":["
                                + "{\"sessionId\":\"s-1\",\"type\":\"chatgpt\",\"email\":\"a@example.com\",\"needsLogin\":true,"
                                + "\"lastUsedAt\":\"2030-01-02T03:04:05Z\",\"forbidden\":\"not allowed here\","
                                + "\"workspaces\":[{\"accountId\":\"ws-1\",\"name\":\"One\"},{\"name\":\"no id\"}]},"
                                + "{\"type\":\"apiKey\",\"apiKeyHint\":\"sk-***nosid\"},"
                                + "{\"sessionId\":\"\",\"type\":\"apiKey\"},"
                                + "\"not an object\","
                                + "{\"sessionId\":\"s-2\",\"type\":\"apiKey\",\"needsLogin\":\"yes\",\"lastUsedAt\":\"yesterday\"}]}");
                        notify("accountSession/updated", "{\"activeSessionId\":7,\"sessions\":\"not an array\"}");
                    }
                    reply(id, JsonParser.parseString("{\"account\":null,\"requiresOpenaiAuth\":true,"
                            + "\"store\":{\"mode\":\"file\",\"location\":\"/nowhere/auth.json\"},"
                            + "\"policy\":{\"forcedLoginMethod\":null,\"forcedWorkspaceIds\":[]}}"));
                    break;
                case "shutdown":
                    if (!mode.equals("stubborn")) {
                        reply(id, JsonNull.INSTANCE);
                    }
                    break;
                case "exit":
                    if (!mode.equals("stubborn")) {
                        System.exit(0);
                    }
                    break;
                default:
                    if (id != null) {
                        error(id, -32601, "method not found: " + method);
                    }
            }
        }
    }

    private static void notify(String method, String params) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("jsonrpc", "2.0");
        o.addProperty("method", method);
        o.add("params", JsonParser.parseString(params));
        write(o);
    }

    private static void reply(JsonElement id, JsonElement result) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("jsonrpc", "2.0");
        o.add("id", id);
        o.add("result", result);
        write(o);
    }

    private static void error(JsonElement id, int code, String message) throws IOException {
        JsonObject e = new JsonObject();
        e.addProperty("code", code);
        e.addProperty("message", message);
        JsonObject o = new JsonObject();
        o.addProperty("jsonrpc", "2.0");
        o.add("id", id);
        o.add("error", e);
        write(o);
    }

    private static synchronized void write(JsonObject o) throws IOException {
        byte[] body = o.toString().getBytes(StandardCharsets.UTF_8);
        OUT.write(("Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        OUT.write(body);
        OUT.flush();
    }

    private static JsonObject read(DataInputStream in) throws IOException {
        int length = -1;
        while (true) {
            String line = line(in);
            if (line.isEmpty()) {
                break;
            }
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().toLowerCase(Locale.ROOT).equals("content-length")) {
                length = Integer.parseInt(line.substring(colon + 1).trim());
            }
        }
        byte[] body = new byte[length];
        in.readFully(body);
        return JsonParser.parseString(new String(body, StandardCharsets.UTF_8)).getAsJsonObject();
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while (true) {
            int c = in.read();
            if (c < 0) {
                throw new EOFException();
            }
            if (c == '\n') {
                break;
            }
            if (c != '\r') {
                b.write(c);
            }
        }
        return b.toString(StandardCharsets.US_ASCII);
    }
}
