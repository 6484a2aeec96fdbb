package e2e

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/internal/testenv"
)

// waitLimit bounds every wait on a condition: generous, only for failures.
const waitLimit = 60 * time.Second

// testCtx is a context that ends with the test or after d.
func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// secretLike matches what could be a secret in a transcript: JWTs, the
// local issuer's refresh tokens, API keys, personal access tokens, and
// account/token's tokens (an OpenID provider's may be opaque).
var secretLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+|rt_local_[A-Za-z0-9_-]+|sk-[A-Za-z0-9_-]+|at-[A-Za-z0-9_-]{8,}|"(accessToken|idToken)":"[^"]*"`)

// redact hides anything that looks like a secret, so failure output never
// shows one (even a test's fake one).
func redact(s string) string { return secretLike.ReplaceAllString(s, "<redacted>") }

// startIssuer starts the local issuer on a loopback port with any
// redirect port allowed; it is closed when the test ends.
func startIssuer(t *testing.T, cfg localissuer.Config) *localissuer.Server {
	t.Helper()
	if cfg.AllowedRedirectPorts == nil {
		cfg.AllowedRedirectPorts = []int{0}
	}
	s, err := localissuer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sidecar spawns the real binary's serve and initializes it; it is
// stopped (end of input) when the test ends, and on failure its redacted
// transcript and stderr are logged.
func sidecar(t *testing.T, name string, env []string, args ...string) *e2eutil.Proc {
	t.Helper()
	bin := testenv.BuildBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	p, err := e2eutil.StartSidecar(ctx, name, bin, env, args...)
	if err != nil {
		t.Fatal(redact(err.Error()))
	}
	watchProc(t, p)
	return p
}

// watchProc stops p when the test ends and logs its transcript on failure.
func watchProc(t *testing.T, p *e2eutil.Proc) {
	t.Cleanup(func() {
		e2eutil.Stop(p, 10*time.Second)
		if t.Failed() {
			t.Logf("%s transcript (-> to it, <- from it), redacted:\n%s\n%s stderr:\n%s",
				p.Name, redact(p.Transcript()), p.Name, redact(p.Stderr()))
		}
	})
}

// account is account/read's result, as much as the tests look at.
type account struct {
	Account *struct {
		Type        string  `json:"type"`
		APIKeyHint  string  `json:"apiKeyHint"`
		Email       string  `json:"email"`
		PlanType    string  `json:"planType"`
		WorkspaceID string  `json:"workspaceId"`
		ExpiresAt   *string `json:"expiresAt"`
	} `json:"account"`
	Store struct {
		Mode     string `json:"mode"`
		Location string `json:"location"`
	} `json:"store"`
}

// token is account/token's result.
type token struct {
	Type        string  `json:"type"`
	APIKey      string  `json:"apiKey"`
	AccessToken string  `json:"accessToken"`
	ExpiresAt   *string `json:"expiresAt"`
	AccountID   string  `json:"accountId"`
}

// invalidated is account/sessionInvalidated's params.
type invalidated struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// updated is account/updated's params.
type updated struct {
	AuthMode *string `json:"authMode"`
	PlanType *string `json:"planType"`
	Email    string  `json:"email"`
}
