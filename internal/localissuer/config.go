package localissuer

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// DefaultClientID is the Codex CLI's public OAuth client id.
const DefaultClientID = "app_EMoamEEZ73f0CkXaXp7hrann"

// User is an account the issuer signs in.
type User struct {
	Email string `json:"email"`
	// PlanType is chatgpt_plan_type (free, plus, pro, team, ...); default "plus".
	PlanType string `json:"plan_type,omitempty"`
	// WorkspaceID is chatgpt_account_id; default derived from the email.
	WorkspaceID string `json:"workspace_id,omitempty"`
	// UserID is chatgpt_user_id and user_id; default derived from the email.
	UserID string `json:"user_id,omitempty"`
	// OrganizationID is organization_id; default derived from the email.
	OrganizationID string `json:"organization_id,omitempty"`
}

// Config configures a Server. The zero value is usable: one user
// (dev@example.com, plus), Codex's client id, ports 1455 and 1457.
type Config struct {
	// Users are the accounts; the first signs in until SetNextUser.
	Users []User
	// ClientID is the only client accepted (default DefaultClientID).
	ClientID string
	// AccessTokenTTL (default 1h), IDTokenTTL (default 1h) and
	// RefreshTokenTTL (default 30 days) are the token lifetimes.
	AccessTokenTTL  time.Duration
	IDTokenTTL      time.Duration
	RefreshTokenTTL time.Duration
	// AllowedRedirectPorts are the loopback ports a redirect_uri may use
	// (default 1455 and 1457, as OpenAI); an entry 0 allows any port.
	AllowedRedirectPorts []int
	// AllowedRedirectHosts are the hosts a redirect_uri may name
	// (default localhost, 127.0.0.1 and [::1]).
	AllowedRedirectHosts []string
	// Form makes /oauth/authorize show an approve/deny page instead of
	// approving at once.
	Form bool
	// DeviceCodeTTL is how long a device code lives (default 15 min).
	DeviceCodeTTL time.Duration
	// DeviceInterval is the poll interval announced (default 5s; whole
	// seconds).
	DeviceInterval time.Duration
	// DeviceDisabled makes the device usercode endpoint answer 404, as
	// OpenAI does for a workspace without device login.
	DeviceDisabled bool
	// IgnoreAllowedWorkspace signs the user in even when its workspace is
	// not in allowed_workspace_id (to test a client's own policy check).
	// By default such a login is refused with error=access_denied.
	IgnoreAllowedWorkspace bool
	// SigningKey is the RS256 key; generated when nil.
	SigningKey *rsa.PrivateKey
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Faults are armed from the start.
	Faults Faults
	// Ledger, when set, receives every secret the issuer mints or is
	// handed (access, ID and refresh tokens, authorization codes, PKCE
	// verifiers, device auth ids, API keys; not user codes, which are
	// shown by design) as one "kind\tsecret\n" line each, once per
	// secret, every line in a single Write: for leak scans
	// (internal/leakscan). Values under 16 characters are not recorded.
	Ledger io.Writer
}

// ErrConfig is wrapped by every configuration error from New.
var ErrConfig = errors.New("issuer: invalid configuration")

// withDefaults returns c with defaults filled in, or an error wrapping
// ErrConfig.
func (c Config) withDefaults() (Config, error) {
	if len(c.Users) == 0 {
		c.Users = []User{{Email: "dev@example.com"}}
	}
	users := make([]User, len(c.Users))
	seen := map[string]bool{}
	for i, u := range c.Users {
		if u.Email == "" {
			return c, fmt.Errorf("%w: user %d has no email", ErrConfig, i)
		}
		if seen[u.Email] {
			return c, fmt.Errorf("%w: user %s listed twice", ErrConfig, u.Email)
		}
		seen[u.Email] = true
		sum := sha256.Sum256([]byte(u.Email))
		id := hex.EncodeToString(sum[:8])
		if u.PlanType == "" {
			u.PlanType = "plus"
		}
		if u.WorkspaceID == "" {
			u.WorkspaceID = "ws-" + id
		}
		if u.UserID == "" {
			u.UserID = "user-" + id
		}
		if u.OrganizationID == "" {
			u.OrganizationID = "org-" + id
		}
		users[i] = u
	}
	c.Users = users
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	for _, d := range []struct {
		p   *time.Duration
		def time.Duration
		n   string
	}{
		{&c.AccessTokenTTL, time.Hour, "access token lifetime"},
		{&c.IDTokenTTL, time.Hour, "ID token lifetime"},
		{&c.RefreshTokenTTL, 30 * 24 * time.Hour, "refresh token lifetime"},
		{&c.DeviceCodeTTL, 15 * time.Minute, "device code lifetime"},
	} {
		if *d.p < 0 {
			return c, fmt.Errorf("%w: negative %s", ErrConfig, d.n)
		}
		if *d.p == 0 {
			*d.p = d.def
		}
	}
	if c.DeviceInterval < 0 || c.DeviceInterval%time.Second != 0 {
		return c, fmt.Errorf("%w: device interval must be whole seconds", ErrConfig)
	}
	if c.DeviceInterval == 0 {
		c.DeviceInterval = 5 * time.Second
	}
	if len(c.AllowedRedirectPorts) == 0 {
		c.AllowedRedirectPorts = []int{1455, 1457}
	}
	for _, p := range c.AllowedRedirectPorts {
		if p < 0 || p > 65535 {
			return c, fmt.Errorf("%w: redirect port %d", ErrConfig, p)
		}
	}
	if len(c.AllowedRedirectHosts) == 0 {
		c.AllowedRedirectHosts = []string{"localhost", "127.0.0.1", "[::1]"}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if err := c.Faults.validate(); err != nil {
		return c, err
	}
	return c, nil
}
