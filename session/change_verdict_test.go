package session

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/store"
)

// classifyTestJWT builds an unsigned JWT with the given ID token claims.
func classifyTestJWT(t *testing.T, email, user, workspace, plan string) string {
	t.Helper()
	payload, err := json.Marshal(map[string]any{
		"email": email,
		"https://api.openai.com/auth": map[string]string{
			"chatgpt_user_id":    user,
			"chatgpt_account_id": workspace,
			"chatgpt_plan_type":  plan,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc(payload) + "." + enc([]byte("sig"))
}

// classifyTestChatGPT is a ChatGPT record with tokens.account_id ws (at
// login Codex writes the ID token's workspace claim there); suffix makes
// its tokens unique.
func classifyTestChatGPT(idToken, ws, suffix string) *store.Record {
	return &store.Record{
		AuthMode: store.AuthModeChatGPT,
		Tokens: &store.Tokens{
			IDToken:      idToken,
			AccessToken:  "access-secret-" + suffix,
			RefreshToken: "refresh-secret-" + suffix,
			AccountID:    &ws,
		},
	}
}

// classifyTestLoad is one Store.Load result.
type classifyTestLoad struct {
	rec *store.Record
	err error
}

// classifyTestLoads are the store contents the tests classify, by name.
func classifyTestLoads(t *testing.T) map[string]classifyTestLoad {
	jwt := func(email, user, ws, plan string) string { return classifyTestJWT(t, email, user, ws, plan) }
	corrupt := func(reason string) error {
		return fmt.Errorf("load: %w", &store.CorruptError{Path: "/home/u/.codex/auth.json", Reason: reason})
	}
	return map[string]classifyTestLoad{
		"out":   {},
		"key1":  {rec: store.NewAPIKeyRecord("sk-proj-secret-one-abcdef")},
		"key2":  {rec: store.NewAPIKeyRecord("sk-proj-secret-two-ghijkl")},
		"gpt1":  {rec: classifyTestChatGPT(jwt("a@x.test", "user-1", "ws-1", "plus"), "ws-1", "1")},
		"gpt1r": {rec: classifyTestChatGPT(jwt("a@x.test", "user-1", "ws-1", "plus"), "ws-1", "2")},
		"gpt1p": {rec: classifyTestChatGPT(jwt("a@x.test", "user-1", "ws-1", "pro"), "ws-1", "3")},
		"gpt2":  {rec: classifyTestChatGPT(jwt("b@x.test", "user-2", "ws-1", "plus"), "ws-1", "4")},
		"gpt1w": {rec: classifyTestChatGPT(jwt("a@x.test", "user-1", "ws-2", "plus"), "ws-2", "5")},
		// Codex's workspace switch: tokens.account_id and the access token
		// rewritten, the old ID token kept.
		"gpt1s": {rec: classifyTestChatGPT(jwt("a@x.test", "user-1", "ws-1", "plus"), "ws-2", "7")},
		"gptX":  {rec: classifyTestChatGPT("not-a-jwt", "ws-from-tokens", "6")},
		"bad":   {err: corrupt("truncated JSON at byte 5")},
		"bad2":  {err: corrupt("file is empty")},
		"unsup": {rec: &store.Record{AuthMode: "agentIdentity"}},
		"unav":  {err: fmt.Errorf("%w: keyring locked", store.ErrUnavailable)},
	}
}

func TestSnapshotOf(t *testing.T) {
	loads := classifyTestLoads(t)
	tests := []struct {
		name string
		want snapshot
	}{
		{"out", snapshot{State: snapLoggedOut}},
		{"gpt1", snapshot{State: snapChatGPT, Identity: "chatgpt:ws-1/user-1", Mode: "chatgpt", Email: "a@x.test", PlanType: "plus", WorkspaceID: "ws-1"}},
		{"gpt1w", snapshot{State: snapChatGPT, Identity: "chatgpt:ws-2/user-1", Mode: "chatgpt", Email: "a@x.test", PlanType: "plus", WorkspaceID: "ws-2"}},
		// tokens.account_id wins over the ID token's claim.
		{"gpt1s", snapshot{State: snapChatGPT, Identity: "chatgpt:ws-2/user-1", Mode: "chatgpt", Email: "a@x.test", PlanType: "plus", WorkspaceID: "ws-2"}},
		// Unreadable ID token: identity unknown, workspace from tokens.account_id.
		{"gptX", snapshot{State: snapChatGPT, Mode: "chatgpt", WorkspaceID: "ws-from-tokens"}},
		{"bad", snapshot{State: snapCorrupt, Problem: "/home/u/.codex/auth.json is not a valid auth record: truncated JSON at byte 5"}},
		{"unsup", snapshot{State: snapUnsupported, Mode: "agentIdentity", Problem: ErrUnsupportedRecord.Error() + " (agentIdentity)"}},
		{"unav", snapshot{State: snapUnavailable, Problem: "credential store unavailable: keyring locked"}},
		{"key1", snapshot{State: snapAPIKey, Mode: "apikey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := loads[tt.name]
			got := snapshotOf(l.rec, l.err)
			// Fingerprints are checked in TestSnapshotFingerprints.
			got.TokensFP = ""
			if got.State == snapAPIKey {
				got.Identity = ""
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("snapshotOf(%s) mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

// TestSnapshotFingerprints: fingerprints tell records apart, are stable,
// and never contain the secrets.
func TestSnapshotFingerprints(t *testing.T) {
	loads := classifyTestLoads(t)
	snap := func(name string) snapshot { return snapshotOf(loads[name].rec, loads[name].err) }

	if a, b := snap("key1"), snapshotOf(store.NewAPIKeyRecord("sk-proj-secret-one-abcdef"), nil); a != b {
		t.Errorf("the same key gave different snapshots: %+v, %+v", a, b)
	}
	if a, b := snap("key1"), snap("key2"); a.Identity == b.Identity || a.TokensFP == b.TokensFP {
		t.Errorf("different keys share a fingerprint: %+v, %+v", a, b)
	}
	if a, b := snap("gpt1"), snap("gpt1r"); a.Identity != b.Identity || a.TokensFP == b.TokensFP {
		t.Errorf("refreshed tokens: got identities %q, %q and TokensFP equal=%v; want same identity, different TokensFP", a.Identity, b.Identity, a.TokensFP == b.TokensFP)
	}
	if !strings.HasPrefix(snap("key1").Identity, "apikey:") {
		t.Errorf("API key identity %q lacks the apikey: prefix", snap("key1").Identity)
	}
	secrets := []string{"secret", "sk-proj"}
	for name, l := range loads {
		s := snapshotOf(l.rec, l.err)
		for _, f := range []string{s.Identity, s.TokensFP, string(s.Mode), s.Email, s.PlanType, s.WorkspaceID, s.Problem} {
			for _, sec := range secrets {
				if strings.Contains(f, sec) {
					t.Errorf("snapshot %s holds a secret in %q", name, f)
				}
			}
		}
	}
}

// TestClassify covers every pair of the snapshots above.
func TestClassify(t *testing.T) {
	loads := classifyTestLoads(t)
	names := []string{"out", "key1", "key2", "gpt1", "gpt1r", "gpt1p", "gpt2", "gpt1w", "gptX", "bad", "bad2", "unsup", "unav"}
	// matrix[prev] lists the verdict for each next, in names order:
	//   .  nothing          C  Changed       R  Refreshed      CR both
	//   LO loggedOut        AC accountChanged (another account or key)
	//   AU accountChanged (unsupported)      CC credentialsCorrupted
	matrix := map[string]string{
		"out":   ".  C  C  C  C  C  C  C  C  C  C  C  .",
		"key1":  "LO .  AC AC AC AC AC AC AC CC CC AU .",
		"key2":  "LO AC .  AC AC AC AC AC AC CC CC AU .",
		"gpt1":  "LO AC AC .  R  CR AC AC CR CC CC AU .",
		"gpt1r": "LO AC AC R  .  CR AC AC CR CC CC AU .",
		"gpt1p": "LO AC AC CR CR .  AC AC CR CC CC AU .",
		"gpt2":  "LO AC AC AC AC AC .  AC CR CC CC AU .",
		"gpt1w": "LO AC AC AC AC AC AC .  CR CC CC AU .",
		"gptX":  "LO AC AC CR CR CR CR CR .  CC CC AU .",
		"bad":   "C  C  C  C  C  C  C  C  C  .  C  C  .",
		"bad2":  "C  C  C  C  C  C  C  C  C  C  .  C  .",
		"unsup": "C  C  C  C  C  C  C  C  C  C  C  .  .",
		"unav":  "C  C  C  C  C  C  C  C  C  C  C  C  .",
	}
	want := func(code, next string) verdict {
		switch code {
		case ".":
			return verdict{}
		case "C":
			return verdict{Changed: true}
		case "R":
			return verdict{Refreshed: true}
		case "CR":
			return verdict{Changed: true, Refreshed: true}
		case "LO":
			return verdict{Changed: true, Invalidation: ReasonLoggedOut, Message: classifyMsgLoggedOut}
		case "AC":
			return verdict{Changed: true, Invalidation: ReasonAccountChanged, Message: classifyMsgAccountChanged}
		case "AU":
			return verdict{Changed: true, Invalidation: ReasonAccountChanged, Message: classifyMsgUnsupported}
		case "CC":
			return verdict{Changed: true, Invalidation: ReasonCredentialsCorrupted,
				Message: "/home/u/.codex/auth.json is not a valid auth record: " + map[string]string{"bad": "truncated JSON at byte 5", "bad2": "file is empty"}[next]}
		}
		t.Fatalf("unknown code %q", code)
		return verdict{}
	}
	for _, prev := range names {
		codes := strings.Fields(matrix[prev])
		if len(codes) != len(names) {
			t.Fatalf("matrix row %s has %d entries, want %d", prev, len(codes), len(names))
		}
		for i, next := range names {
			t.Run(prev+"->"+next, func(t *testing.T) {
				p, n := loads[prev], loads[next]
				got := classify(snapshotOf(p.rec, p.err), snapshotOf(n.rec, n.err))
				if diff := cmp.Diff(want(codes[i], next), got); diff != "" {
					t.Errorf("classify(%s, %s) mismatch (-want +got):\n%s", prev, next, diff)
				}
			})
		}
	}
}
