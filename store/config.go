package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pelletier/go-toml/v2"
)

// DefaultSystemConfigDir holds Codex's system-wide and managed config.
const DefaultSystemConfigDir = "/etc/codex"

// Config is what codex-auth reads from Codex's configuration layers.
type Config struct {
	// CredentialsStore is cli_auth_credentials_store ("" when unset).
	CredentialsStore Mode
	// ForcedLoginMethod is forced_login_method: "", "chatgpt" or "api"
	// (session.LoginMethod; store may not import session, so
	// session.TestLoginMethodsOfConfig keeps the two in step).
	ForcedLoginMethod string
	// ForcedWorkspaceIDs is forced_chatgpt_workspace_id (string or list).
	ForcedWorkspaceIDs []string
	// SecretAuthStorage is [features] secret_auth_storage (Codex's flag,
	// off by default): the encrypted secrets file in keyring and auto
	// modes.
	SecretAuthStorage bool
	// Issuer and ClientID are ours: [codex_auth] issuer / client_id.
	Issuer   string
	ClientID string
	// Providers are the [codex_auth.providers.NAME] tables, by NAME,
	// each from the highest layer defining it (store/provider.go).
	Providers map[string]ProviderConfig
	// AllowedProviders is [codex_auth] allowed_providers: the providers
	// that may be chosen; nil when unset (any).
	AllowedProviders []string
	// Files are the files that were read, highest precedence first.
	Files []string
}

// ConfigError: a config file is malformed or a key has the wrong type or
// value. Line is 0 when the problem is a key's value, not the syntax.
type ConfigError struct {
	File   string
	Line   int
	Column int
	// Key is the dotted key at fault, when known.
	Key    string
	Reason string
	Err    error
}

func (e *ConfigError) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Reason)
	case e.Key != "":
		return fmt.Sprintf("%s: %s %s", e.File, e.Key, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// ConfigPaths are the layer files, highest precedence first.
func ConfigPaths(home Home, systemDir string) []string {
	if systemDir == "" {
		systemDir = DefaultSystemConfigDir
	}
	return []string{
		filepath.Join(systemDir, "managed_config.toml"),
		filepath.Join(home.Dir, "config.toml"),
		filepath.Join(systemDir, "config.toml"),
	}
}

// LoadConfig reads the layers (managed_config.toml in systemDir, then
// $CODEX_HOME/config.toml, then config.toml in systemDir; systemDir is
// /etc/codex unless overridden by CODEX_AUTH_SYSTEM_CONFIG_DIR). A missing
// file is skipped; a malformed one is an error naming the file and line;
// a key of the wrong type is an error naming the file and key.
func LoadConfig(home Home, systemDir string) (Config, error) {
	var cfg Config
	set := map[string]bool{}
	for _, path := range ConfigPaths(home, systemDir) {
		layer, err := readLayer(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Config{}, err
		}
		cfg.Files = append(cfg.Files, path)
		if err := layer.applyTo(&cfg, set, path); err != nil {
			return Config{}, err
		}
	}
	return cfg, nil
}

// layer is one file's keys, undecoded.
type layer map[string]any

func readLayer(path string) (layer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, &ConfigError{File: path, Reason: "cannot be read: " + err.Error(), Err: err}
	}
	var l layer
	if err := toml.Unmarshal(data, &l); err != nil {
		ce := &ConfigError{File: path, Reason: err.Error(), Err: err}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			ce.Line, ce.Column = de.Position()
		}
		return nil, ce
	}
	return l, nil
}

// applyTo sets the keys this layer has and no higher layer set.
func (l layer) applyTo(cfg *Config, set map[string]bool, path string) error {
	str := func(m map[string]any, prefix, key string, dst *string) error {
		v, ok := m[key]
		full := prefix + key
		if !ok || set[full] {
			return nil
		}
		s, ok := v.(string)
		if !ok {
			return &ConfigError{File: path, Key: full, Reason: fmt.Sprintf("must be a string, not %s", tomlType(v))}
		}
		*dst = s
		set[full] = true
		return nil
	}
	var mode string
	if err := str(l, "", "cli_auth_credentials_store", &mode); err != nil {
		return err
	}
	if mode != "" {
		m, err := ParseMode(mode)
		if err != nil {
			return &ConfigError{File: path, Key: "cli_auth_credentials_store", Reason: fmt.Sprintf("is %q; want file, keyring, auto or ephemeral", mode)}
		}
		cfg.CredentialsStore = m
	}
	var method string
	if err := str(l, "", "forced_login_method", &method); err != nil {
		return err
	}
	if method != "" {
		if method != "chatgpt" && method != "api" {
			return &ConfigError{File: path, Key: "forced_login_method", Reason: fmt.Sprintf("is %q; want \"chatgpt\" or \"api\"", method)}
		}
		cfg.ForcedLoginMethod = method
	}
	if v, ok := l["forced_chatgpt_workspace_id"]; ok && !set["forced_chatgpt_workspace_id"] {
		ids, err := stringOrList(v)
		if err != nil {
			return &ConfigError{File: path, Key: "forced_chatgpt_workspace_id", Reason: err.Error()}
		}
		cfg.ForcedWorkspaceIDs = ids
		set["forced_chatgpt_workspace_id"] = true
	}
	if v, ok := l["features"]; ok {
		t, ok := v.(map[string]any)
		if !ok {
			return &ConfigError{File: path, Key: "features", Reason: fmt.Sprintf("must be a table, not %s", tomlType(v))}
		}
		if f, ok := t["secret_auth_storage"]; ok && !set["features.secret_auth_storage"] {
			b, ok := f.(bool)
			if !ok {
				return &ConfigError{File: path, Key: "features.secret_auth_storage", Reason: fmt.Sprintf("must be a boolean, not %s", tomlType(f))}
			}
			cfg.SecretAuthStorage = b
			set["features.secret_auth_storage"] = true
		}
	}
	if v, ok := l["codex_auth"]; ok {
		t, ok := v.(map[string]any)
		if !ok {
			return &ConfigError{File: path, Key: "codex_auth", Reason: fmt.Sprintf("must be a table, not %s", tomlType(v))}
		}
		if err := str(t, "codex_auth.", "issuer", &cfg.Issuer); err != nil {
			return err
		}
		if err := str(t, "codex_auth.", "client_id", &cfg.ClientID); err != nil {
			return err
		}
		if err := applyProviders(t, cfg, set, path); err != nil {
			return err
		}
	}
	return nil
}

// stringOrList reads a string or an array of strings.
func stringOrList(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("item %d must be a string, not %s", i, tomlType(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("must be a string or a list of strings, not %s", tomlType(v))
}

// tomlType names a decoded TOML value's type for error messages.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return "a date or time"
}
