package dev.codexauth.client;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The API as a Java plugin sees it: static start, overloads, default listener methods, futures. */
@Timeout(90)
class JavaApiTest {
    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    @Test
    void javaCallersSignInAndOut() throws Exception {
        try (Issuer issuer = new Issuer(); Home home = new Home()) {
            Map<String, String> env = home.sidecarEnv(issuer);
            // @JvmOverloads: binary, name, version, environment; no openUrl.
            CodexAuthOptions options = new CodexAuthOptions(RealParts.INSTANCE.codexAuth(), "Java plugin", "1.2.3", env);
            CompletableFuture<AccountUpdate> signedIn = new CompletableFuture<>();
            CompletableFuture<AccountSessionList> saved = new CompletableFuture<>();
            try (CodexAuthClient client = CodexAuthClient.start(options)) {
                // Two methods overridden: the others are real Java default methods.
                CodexAuthListener listener = new CodexAuthListener() {
                    @Override
                    public void onAccountUpdated(AccountUpdate update) {
                        if ("apikey".equals(update.getAuthMode())) {
                            signedIn.complete(update);
                        }
                    }

                    @Override
                    public void onAccountsUpdated(AccountSessionList accounts) {
                        AccountSession active = accounts.getActive();
                        if (active != null && AccountSession.API_KEY.equals(active.getType())) {
                            saved.complete(accounts);
                        }
                    }
                };
                AutoCloseable registration = client.addListener(listener);

                AccountStatus status = await(client.read());
                assertNull(status.getAccount());
                assertFalse(status.isSignedIn());

                String key = "sk-proj-java-" + System.nanoTime() + "abcde";
                LeakScan.handed("api_key", key);
                Void done = await(client.loginWithApiKey(key));
                assertNull(done);
                await(signedIn);
                Account account = await(client.read()).getAccount();
                assertEquals(Account.API_KEY, account.getType());
                assertEquals("sk-proj-***abcde", account.getApiKeyHint());
                AccountSessionList accounts = await(saved);
                assertEquals(1, accounts.getSessions().size());
                assertEquals("sk-proj-***abcde", accounts.getActive().getApiKeyHint());
                assertFalse(accounts.toString().contains(key), "the list holds no secret");

                AccessToken token = await(client.token());
                assertEquals(key, token.getValue());
                assertEquals(key, await(client.token(true)).getValue());

                registration.close();
                await(client.logout());
                ExecutionException e = assertThrows(ExecutionException.class, () -> await(client.token()));
                CodexAuthException cause = assertInstanceOf(CodexAuthException.class, e.getCause());
                assertEquals(ErrorCodes.NOT_LOGGED_IN, cause.getCode());
                assertTrue(client.isRunning());
                LeakScan.keepLog("java-api", client.recentLog());
            }
        }
    }
}
