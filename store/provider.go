package store

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// A provider is an OpenID provider of the user's choosing
// ([codex_auth.providers.NAME], chosen with --provider NAME). Its
// credentials are kept apart from Codex's: the Codex CLI would send
// anything in its auth.json or keyring entry to OpenAI.

// AuthModeOIDC is the auth_mode of a provider's record. The Codex CLI
// never writes it, and such a record is only ever stored where the Codex
// CLI does not look (OpenProvider).
const AuthModeOIDC AuthMode = "oidc"

// ProviderKindOIDC is kind = "oidc", the one kind of provider.
const ProviderKindOIDC = "oidc"

// Where a provider's record lives.
const (
	// ProvidersDir is the folder of the providers' records, under
	// CODEX_HOME: codex-auth/providers/NAME/auth.json.
	ProvidersDir = "codex-auth/providers"
	// ProviderKeyringService is the keyring service of the providers'
	// entries (Codex's is "Codex Auth"); the account is
	// "provider|NAME|" and the hash Codex uses for the home.
	ProviderKeyringService = "codex-auth"
)

// keyOIDC is the record's member holding what the provider said.
const keyOIDC = "oidc"

// OIDCInfo is the provider's part of a record: whose tokens they are
// and until when the access token lasts. It holds no secret.
type OIDCInfo struct {
	// Provider is the provider's name in the configuration.
	Provider string `json:"provider"`
	// Issuer and ClientID are the registration the tokens came from.
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	// Subject is the ID token's sub (OpenID Connect Core 1.0 section 2).
	Subject string `json:"subject"`
	Email   string `json:"email,omitempty"`
	Name    string `json:"name,omitempty"`
	// ExpiresAt is the access token's expiry as the token answer gave it
	// (expires_in); zero when the provider did not say. Access tokens
	// may be opaque, so it is stored rather than read from the token.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// NewOIDCRecord is a provider's record after a login.
func NewOIDCRecord(info OIDCInfo, idToken, accessToken, refreshToken string) *Record {
	r := &Record{AuthMode: AuthModeOIDC, Tokens: &Tokens{IDToken: idToken, AccessToken: accessToken, RefreshToken: refreshToken}}
	r.SetOIDC(info)
	return r
}

// OIDC is the record's provider part; ok is false when the record has
// none or it is malformed.
func (r *Record) OIDC() (info OIDCInfo, ok bool) {
	for _, f := range r.Extra {
		if f.Key == keyOIDC {
			return info, json.Unmarshal(f.Value, &info) == nil
		}
	}
	return OIDCInfo{}, false
}

// SetOIDC replaces the record's provider part.
func (r *Record) SetOIDC(info OIDCInfo) {
	info.ExpiresAt = info.ExpiresAt.UTC()
	b, _ := json.Marshal(info) // strings and a time: never fails
	for i, f := range r.Extra {
		if f.Key == keyOIDC {
			r.Extra[i].Value = b
			return
		}
	}
	r.Extra = append(r.Extra, RawField{Key: keyOIDC, Value: b})
}

// oidcSupported: a provider's record has tokens and a subject.
func (r *Record) oidcSupported() bool {
	info, ok := r.OIDC()
	return ok && info.Subject != "" && r.Tokens != nil && r.Tokens.AccessToken != ""
}

// ProviderConfig is one [codex_auth.providers.NAME] table.
type ProviderConfig struct {
	// Name is NAME.
	Name string
	// Kind is "oidc".
	Kind string
	// Issuer is the provider's issuer identifier (its discovery
	// document's issuer, exactly).
	Issuer string
	// ClientID is this app's registration at the provider.
	ClientID string
	// ClientSecret, or the environment variable ClientSecretEnv names,
	// for a confidential client; both empty for a public one.
	ClientSecret    string
	ClientSecretEnv string
	// Scopes to ask for; empty: the client's default.
	Scopes []string
	// Audience is sent as the audience parameter when set.
	Audience string
	// File is the configuration file that defined the provider.
	File string
}

// Secret is the client secret: ClientSecret, or the value of the
// variable ClientSecretEnv names (an error when it is unset or empty).
func (p ProviderConfig) Secret(getenv func(string) string) (string, error) {
	if p.ClientSecretEnv == "" {
		return p.ClientSecret, nil
	}
	v := getenv(p.ClientSecretEnv)
	if v == "" {
		return "", fmt.Errorf("provider %q: client_secret_env names %s, which is not set", p.Name, p.ClientSecretEnv)
	}
	return v, nil
}

// providerName is what a provider may be called: it names a folder.
var providerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckProviderName refuses a name that cannot name a provider's folder.
func CheckProviderName(name string) error {
	if !providerName.MatchString(name) {
		return fmt.Errorf("provider name %q: use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)", name)
	}
	return nil
}

// ProviderError: the provider asked for is not defined, or the managed
// configuration does not allow it. The message says which and where.
type ProviderError struct {
	Name   string
	Reason string
}

func (e *ProviderError) Error() string { return fmt.Sprintf("provider %q %s", e.Name, e.Reason) }

// Provider is the provider called name, once allowed_providers allows it.
func (c Config) Provider(name string) (ProviderConfig, error) {
	p, ok := c.Providers[name]
	if !ok {
		defined := make([]string, 0, len(c.Providers))
		for n := range c.Providers {
			defined = append(defined, n)
		}
		slices.Sort(defined)
		reason := "is not defined: add a [codex_auth.providers." + name + "] table to config.toml"
		if len(defined) > 0 {
			reason += " (defined: " + strings.Join(defined, ", ") + ")"
		}
		return ProviderConfig{}, &ProviderError{Name: name, Reason: reason}
	}
	if !c.ProviderAllowed(name) {
		return ProviderConfig{}, &ProviderError{Name: name, Reason: "is not allowed by the managed configuration (allowed_providers)"}
	}
	return p, nil
}

// ProviderAllowed reports whether allowed_providers, when set, lists name.
func (c Config) ProviderAllowed(name string) bool {
	return c.AllowedProviders == nil || slices.Contains(c.AllowedProviders, name)
}

// applyProviders reads [codex_auth] allowed_providers and the
// [codex_auth.providers.NAME] tables of one layer. A provider is taken
// whole from the highest layer that defines it: a lower layer cannot
// change a managed provider's issuer or client.
func applyProviders(t map[string]any, cfg *Config, set map[string]bool, path string) error {
	if v, ok := t["allowed_providers"]; ok && !set["codex_auth.allowed_providers"] {
		names, err := stringOrList(v)
		if err != nil {
			return &ConfigError{File: path, Key: "codex_auth.allowed_providers", Reason: err.Error()}
		}
		cfg.AllowedProviders = names
		set["codex_auth.allowed_providers"] = true
	}
	v, ok := t["providers"]
	if !ok {
		return nil
	}
	tables, ok := v.(map[string]any)
	if !ok {
		return &ConfigError{File: path, Key: "codex_auth.providers", Reason: fmt.Sprintf("must be a table, not %s", tomlType(v))}
	}
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		key := "codex_auth.providers." + name
		if set[key] {
			continue
		}
		p, err := parseProvider(name, tables[name], path, key)
		if err != nil {
			return err
		}
		if cfg.Providers == nil {
			cfg.Providers = map[string]ProviderConfig{}
		}
		cfg.Providers[name] = p
		set[key] = true
	}
	return nil
}

func parseProvider(name string, v any, path, key string) (ProviderConfig, error) {
	bad := func(k, reason string) error {
		return &ConfigError{File: path, Key: key + k, Reason: reason}
	}
	if err := CheckProviderName(name); err != nil {
		return ProviderConfig{}, bad("", err.Error())
	}
	t, ok := v.(map[string]any)
	if !ok {
		return ProviderConfig{}, bad("", fmt.Sprintf("must be a table, not %s", tomlType(v)))
	}
	p := ProviderConfig{Name: name, File: path}
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"kind", &p.Kind}, {"issuer", &p.Issuer}, {"client_id", &p.ClientID},
		{"client_secret", &p.ClientSecret}, {"client_secret_env", &p.ClientSecretEnv}, {"audience", &p.Audience},
	} {
		v, ok := t[f.key]
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return ProviderConfig{}, bad("."+f.key, fmt.Sprintf("must be a string, not %s", tomlType(v)))
		}
		*f.dst = s
	}
	if v, ok := t["scopes"]; ok {
		scopes, err := stringOrList(v)
		if err != nil {
			return ProviderConfig{}, bad(".scopes", err.Error())
		}
		p.Scopes = scopes
	}
	switch {
	case p.Kind == "":
		return ProviderConfig{}, bad(".kind", `is required; want "oidc"`)
	case p.Kind != ProviderKindOIDC:
		return ProviderConfig{}, bad(".kind", fmt.Sprintf(`is %q; want "oidc"`, p.Kind))
	case p.Issuer == "":
		return ProviderConfig{}, bad(".issuer", "is required")
	case p.ClientID == "":
		return ProviderConfig{}, bad(".client_id", "is required")
	case p.ClientSecret != "" && p.ClientSecretEnv != "":
		return ProviderConfig{}, bad("", "sets both client_secret and client_secret_env; keep one")
	}
	return p, nil
}

// OpenProvider opens the store of the provider called name on home:
// $CODEX_HOME/codex-auth/providers/NAME/auth.json (0600, in 0700
// folders created on first save), with auth.lock and auth.json.lock of
// its own in that folder, or in keyring and auto modes the keyring entry
// codex-auth / provider|NAME|<Codex's hash of the home>, which the
// Codex CLI never reads. Writes are atomic, as for Codex's record.
// Options.SecretAuthStorage (Codex's encrypted file) does not apply.
func OpenProvider(home Home, name string, opts Options) (*Store, error) {
	if err := CheckProviderName(name); err != nil {
		return nil, err
	}
	if home.Dir == "" || !filepath.IsAbs(home.Dir) {
		return nil, fmt.Errorf("store: home %q is not an absolute path", home.Dir)
	}
	// The provider's folder stands for the home: files and locks live in
	// it, and it is created (0700) on first save, as the default home is.
	dir := Home{Dir: filepath.Join(home.Dir, filepath.FromSlash(ProvidersDir), name), Default: true}
	opts.SecretAuthStorage = false
	s, err := Open(dir, opts)
	if err != nil {
		return nil, err
	}
	kr := newKeyringBackend(s.opts.Keyring, s.opts.KeyringTimeout, s.opts.KeyringLimit, home)
	kr.service = ProviderKeyringService
	kr.acct = func() string { return "provider|" + name + "|" + strings.TrimPrefix(home.KeyringAccount(), "cli|") }
	s.kr = kr
	s.loc = s.primary()
	return s, nil
}
