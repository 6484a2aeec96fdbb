package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/localissuer"
)

// TestRefreshKeepsCodexFields: a ChatGPT record in Codex 0.171's shape
// (tokens.oauth_provenance, tokens.login_owner_id) plus unknown keys at
// both levels, refreshed by the sidecar, keeps every one of them.
func TestRefreshKeepsCodexFields(t *testing.T) {
	ctx := testCtx(t, waitLimit)
	iss := startIssuer(t, localissuer.Config{})
	home := t.TempDir()
	data, err := e2eutil.ChatGPTRecord(ctx, iss.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	tokens := rec["tokens"].(map[string]any)
	tokens["oauth_provenance"] = map[string]any{"issuer": iss.BaseURL(), "client_id": localissuer.DefaultClientID}
	tokens["login_owner_id"] = "user-owner-1"
	tokens["zz_future_token_field"] = []any{1.0, "x"}
	rec["zz_future_top"] = map[string]any{"nested": true}
	// Stored an hour ago: a forced refresh of a token stored in the last
	// few seconds is satisfied without redeeming.
	rec["last_refresh"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	out, _ := json.MarshalIndent(rec, "", "  ")
	if err := e2eutil.WriteAtomic(home, "auth.json", out); err != nil {
		t.Fatal(err)
	}
	p := sidecar(t, "sidecar", e2eutil.SidecarEnv(home, iss.BaseURL()))
	if err := p.Call(ctx, "account/token", map[string]bool{"refresh": true}, nil); err != nil {
		t.Fatal(err)
	}
	if got := iss.Stats().Refreshes; got != 1 {
		t.Fatalf("refreshes = %d, want 1", got)
	}
	after, err := os.ReadFile(filepath.Join(home, "auth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(after, &got); err != nil {
		t.Fatal(err)
	}
	gt := got["tokens"].(map[string]any)
	if gt["refresh_token"] == tokens["refresh_token"] {
		t.Error("the refresh token did not rotate")
	}
	for _, k := range []string{"oauth_provenance", "login_owner_id", "zz_future_token_field"} {
		if a, b := mustJSON(gt[k]), mustJSON(tokens[k]); a != b {
			t.Errorf("tokens.%s after the refresh = %s, want %s", k, a, b)
		}
	}
	if a, b := mustJSON(got["zz_future_top"]), mustJSON(rec["zz_future_top"]); a != b {
		t.Errorf("zz_future_top after the refresh = %s, want %s", a, b)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
