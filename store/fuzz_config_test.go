package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pelletier/go-toml/v2"
)

// FuzzLoadConfig writes arbitrary bytes as $CODEX_HOME/config.toml and
// loads the layers. LoadConfig must never panic; a failure is a
// *ConfigError naming the file; a success holds only values LoadConfig
// validates, and writing those values back as TOML loads the same Config.
// (There is no bytes-level parser to call: the decoder sits behind
// LoadConfig's file reads.) Seeds: testdata/fuzz/FuzzLoadConfig.
func FuzzLoadConfig(f *testing.F) {
	// One pair of directories for all inputs (each fuzzing process runs
	// inputs one at a time): a fresh t.TempDir per input is most of the cost.
	sys, home := f.TempDir(), Home{Dir: f.TempDir()}
	path := filepath.Join(home.Dir, "config.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(home, sys)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("LoadConfig failed with %T (%v), want a *ConfigError", err, err)
			}
			if ce.File != path {
				t.Fatalf("ConfigError names %q, want %q", ce.File, path)
			}
			return
		}
		if diff := cmp.Diff([]string{path}, cfg.Files); diff != "" {
			t.Fatalf("Files (-want +got):\n%s", diff)
		}
		switch cfg.CredentialsStore {
		case "", ModeFile, ModeKeyring, ModeAuto, ModeEphemeral:
		default:
			t.Fatalf("CredentialsStore %q is not a mode", cfg.CredentialsStore)
		}
		switch cfg.ForcedLoginMethod {
		case "", "chatgpt", "api":
		default:
			t.Fatalf("ForcedLoginMethod %q is not chatgpt or api", cfg.ForcedLoginMethod)
		}

		again, err := toml.Marshal(configTOML(cfg))
		if err != nil {
			t.Fatalf("encoding the loaded config: %v", err)
		}
		if err := os.WriteFile(path, again, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := LoadConfig(home, sys)
		if err != nil {
			t.Fatalf("LoadConfig of its own values:\n%s\nfailed: %v", again, err)
		}
		if diff := cmp.Diff(cfg, got); diff != "" {
			t.Fatalf("config changed when written back as\n%s\n(-first +second):\n%s", again, diff)
		}
	})
}

// configTOML is cfg as the keys LoadConfig reads.
func configTOML(cfg Config) map[string]any {
	m := map[string]any{}
	if cfg.CredentialsStore != "" {
		m["cli_auth_credentials_store"] = string(cfg.CredentialsStore)
	}
	if cfg.ForcedLoginMethod != "" {
		m["forced_login_method"] = cfg.ForcedLoginMethod
	}
	if cfg.ForcedWorkspaceIDs != nil {
		m["forced_chatgpt_workspace_id"] = cfg.ForcedWorkspaceIDs
	}
	ca := map[string]any{}
	if cfg.Issuer != "" {
		ca["issuer"] = cfg.Issuer
	}
	if cfg.ClientID != "" {
		ca["client_id"] = cfg.ClientID
	}
	if len(ca) > 0 {
		m["codex_auth"] = ca
	}
	return m
}
