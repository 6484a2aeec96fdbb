package e2e

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/internal/testenv"
)

// The mixed runs of issue 11: our sidecars beside the real Codex CLI,
// which does not hold auth.lock while it refreshes. One app-server at a
// time (two collide with each other), started every 1.5 s, each forcing a
// refresh. The bench (bench/stress) runs each for 60 s.
func TestMixedWithCodex(t *testing.T) {
	bin, codex := testenv.BuildBinary(t), testenv.Codex(t)
	cases := []struct {
		name string
		cfg  e2eutil.MixedConfig
	}{
		{"tokens", e2eutil.MixedConfig{TokenEvery: 50 * time.Millisecond, AccessTTL: time.Hour}},
		{"forced", e2eutil.MixedConfig{TokenEvery: 50 * time.Millisecond, ForceEvery: 2 * time.Second, AccessTTL: time.Hour}},
		// Shorter than Codex's 5-minute window: Codex refreshes on every start.
		{"short-lived", e2eutil.MixedConfig{TokenEvery: 50 * time.Millisecond, ForceEvery: 2 * time.Second, AccessTTL: 20 * time.Second}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Bin, cfg.Codex, cfg.Home, cfg.Logf = bin, codex, t.TempDir(), t.Logf
			cfg.Sidecars, cfg.AppServerEvery, cfg.Duration = 3, 1500*time.Millisecond, mixedDuration
			cfg.IssuerLatency = 100 * time.Millisecond
			res, err := e2eutil.RunMixed(testCtx(t, 2*waitLimit), cfg)
			if err != nil {
				t.Fatal(redact(err.Error()))
			}
			t.Logf("refreshes %d, reuse detections %d, app-servers %d, account/token calls %d (forced %d, errors %d), regressions %d",
				res.Refreshes, res.ReuseDetections, res.AppServers, res.TokenCalls, res.ForcedCalls, res.TokenErrors, res.Regressions)
			if res.ReuseDetections != 0 {
				t.Errorf("reuse detections: %d, want 0", res.ReuseDetections)
			}
			if res.TokenErrors != 0 || res.ReadErrors != 0 {
				t.Errorf("account/token failed %d times; app-servers unanswered %d times; first errors: %q", res.TokenErrors, res.ReadErrors, redactAll(res.FirstErrors))
			}
			if res.Regressions != 0 {
				t.Errorf("a sidecar served an older token after a newer one %d times", res.Regressions)
			}
			if res.StaleTokens != 0 {
				t.Errorf("account/token returned an expired access token %d times", res.StaleTokens)
			}
			// Codex must have taken part, or the run proves nothing.
			if res.AppServers < 3 || res.Refreshes < res.AppServers/2 {
				t.Errorf("app-servers %d, refreshes %d: Codex did not take part in refreshing", res.AppServers, res.Refreshes)
			}
		})
	}
}

// mixedDuration is each mixed run's length in make test.
const mixedDuration = 12 * time.Second

// TestWakeOnExpiredRecord: the machine slept; several sidecars and one
// Codex app-server start at once on a record whose access token has
// expired. Codex redeems at once, without auth.lock; the sidecars wait a
// short random delay before redeeming a token inside Codex's window, and
// adopt what Codex stored. One redemption; everyone serves it.
func TestWakeOnExpiredRecord(t *testing.T) {
	bin, codex := testenv.BuildBinary(t), testenv.Codex(t)
	ctx := testCtx(t, waitLimit)
	iss, err := localissuer.New(localissuer.Config{AllowedRedirectPorts: []int{0}})
	if err != nil {
		t.Fatal(err)
	}
	base, err := iss.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	// A slow issuer: Codex's redemption is in flight for a while.
	if err := iss.SetFaults(localissuer.Faults{{Kind: localissuer.FaultLatency, Path: "/oauth/token", Grant: "refresh_token", Latency: localissuer.Duration(300 * time.Millisecond)}}); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	raw, err := e2eutil.ChatGPTRecord(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	// The access token expired an hour ago (only its exp is read, by
	// Codex and by us).
	now := time.Now()
	rec["tokens"].(map[string]any)["access_token"] = unsignedJWT(map[string]any{"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix()})
	raw, _ = json.MarshalIndent(rec, "", "  ")
	if err := e2eutil.WriteAtomic(home, "auth.json", raw); err != nil {
		t.Fatal(err)
	}
	before := iss.Stats()

	env := e2eutil.SidecarEnv(home, base)
	codexEnv := e2eutil.Env(home, "CODEX_REFRESH_TOKEN_URL_OVERRIDE="+base+"/oauth/token")
	var wg sync.WaitGroup
	tokens := make([]string, wakeSidecars)
	errs := make([]error, len(tokens)+1)
	for i := range tokens {
		wg.Go(func() {
			p, err := e2eutil.StartSidecar(ctx, fmt.Sprintf("sidecar-%d", i), bin, env)
			if err != nil {
				errs[i] = err
				return
			}
			defer e2eutil.Stop(p, 5*time.Second)
			var tok struct {
				AccessToken string `json:"accessToken"`
			}
			if err := p.Call(ctx, "account/token", nil, &tok); err != nil {
				errs[i] = fmt.Errorf("%s: account/token: %w (stderr: %s)", p.Name, err, p.Stderr())
				return
			}
			tokens[i] = tok.AccessToken
		})
	}
	wg.Go(func() {
		p, err := e2eutil.StartAppServer(ctx, "app-server", codex, codexEnv)
		if err != nil {
			errs[len(tokens)] = err
			return
		}
		defer e2eutil.Stop(p, 5*time.Second)
		errs[len(tokens)] = p.Call(ctx, "account/read", map[string]bool{"refreshToken": false}, nil)
	})
	wg.Wait()
	for _, err := range errs {
		var rpcErr *e2eutil.RPCError
		if err != nil && !errors.As(err, &rpcErr) {
			t.Fatal(redact(err.Error()))
		}
	}
	st := iss.Stats()
	if n, reuse := st.Refreshes-before.Refreshes, st.ReuseDetections-before.ReuseDetections; n != 1 || reuse != 0 {
		t.Errorf("refreshes %d, reuse detections %d; want one redemption (Codex's) and no reuse", n, reuse)
	}
	stored, err := e2eutil.ReadAuth(home)
	if err != nil {
		t.Fatal(err)
	}
	for i, tok := range tokens {
		if tok != stored.Tokens.AccessToken {
			t.Errorf("sidecar-%d served a token other than the one stored", i)
		}
	}
}

// unsignedJWT is a JWT with claims and no signature worth checking.
func unsignedJWT(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(b) + ".sig"
}

var wakeSidecars = 3

// TestRefreshURLOverride: CODEX_REFRESH_TOKEN_URL_OVERRIDE sends the
// sidecar's refreshes where it sends the Codex CLI's, as Codex does; the
// rest of the flows stay with the issuer.
func TestRefreshURLOverride(t *testing.T) {
	bin := testenv.BuildBinary(t)
	ctx := testCtx(t, waitLimit)
	start := func() (*localissuer.Server, string) {
		s, err := localissuer.New(localissuer.Config{AllowedRedirectPorts: []int{0}})
		if err != nil {
			t.Fatal(err)
		}
		base, err := s.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s, base
	}
	main, base := start()
	other, otherBase := start()
	home := t.TempDir()
	p, err := e2eutil.StartSidecar(ctx, "sidecar", bin, e2eutil.SidecarEnv(home, base, "CODEX_REFRESH_TOKEN_URL_OVERRIDE="+otherBase+"/oauth/token"))
	if err != nil {
		t.Fatal(err)
	}
	defer e2eutil.Stop(p, 5*time.Second)
	if err := e2eutil.LoginChatGPT(ctx, p); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(home, "auth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	rec["last_refresh"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) // not just stored
	raw, _ = json.MarshalIndent(rec, "", "  ")
	if err := e2eutil.WriteAtomic(home, "auth.json", raw); err != nil {
		t.Fatal(err)
	}
	// The other issuer never issued this refresh token: it rejects it.
	var rpcErr *e2eutil.RPCError
	for other.Stats().TokenErrors == 0 && ctx.Err() == nil {
		err = p.Call(ctx, "account/token", map[string]bool{"refresh": true}, nil)
		if err != nil && !errors.As(err, &rpcErr) {
			t.Fatal(err)
		}
	}
	if main.Stats().Refreshes != 0 {
		t.Errorf("the issuer got %d refreshes, want none (they go to the override)", main.Stats().Refreshes)
	}
	if rpcErr == nil || rpcErr.Code != -32017 {
		t.Errorf("account/token {refresh:true}: %v, want -32017 from the override's rejection", err)
	}
}
