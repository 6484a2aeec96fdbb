package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadConfigLayers(t *testing.T) {
	sys, home := t.TempDir(), Home{Dir: t.TempDir()}
	writeFile(t, filepath.Join(sys, "config.toml"), `
cli_auth_credentials_store = "keyring"
forced_login_method = "api"
forced_chatgpt_workspace_id = "ws-system"
[codex_auth]
issuer = "https://system.example"
client_id = "sys-client"
`)
	writeFile(t, filepath.Join(home.Dir, "config.toml"), `
cli_auth_credentials_store = "auto"
forced_chatgpt_workspace_id = ["ws-1", "ws-2"]
model = "ignored"
[codex_auth]
issuer = "https://user.example"
`)
	writeFile(t, filepath.Join(sys, "managed_config.toml"), `forced_login_method = "chatgpt"`)
	got, err := LoadConfig(home, sys)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		CredentialsStore:   ModeAuto,
		ForcedLoginMethod:  "chatgpt",
		ForcedWorkspaceIDs: []string{"ws-1", "ws-2"},
		Issuer:             "https://user.example",
		ClientID:           "sys-client",
		Files: []string{
			filepath.Join(sys, "managed_config.toml"),
			filepath.Join(home.Dir, "config.toml"),
			filepath.Join(sys, "config.toml"),
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadConfig (-want +got):\n%s", diff)
	}
}

func TestLoadConfigStringWorkspaceAndMissing(t *testing.T) {
	sys, home := t.TempDir(), Home{Dir: t.TempDir()}
	got, err := LoadConfig(home, sys)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Config{}, got); diff != "" {
		t.Errorf("no files (-want +got):\n%s", diff)
	}
	writeFile(t, filepath.Join(home.Dir, "config.toml"), `forced_chatgpt_workspace_id = "ws-only"`)
	got, err = LoadConfig(home, sys)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ws-only"}, got.ForcedWorkspaceIDs); diff != "" {
		t.Errorf("workspace (-want +got):\n%s", diff)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name, content string
		line          int
		key           string
	}{
		{"syntax", "a = 1\nb = = 2\n", 2, ""},
		{"unterminated", "[codex_auth\nissuer = \"x\"\n", 1, ""},
		{"store type", "cli_auth_credentials_store = 3\n", 0, "cli_auth_credentials_store"},
		{"store value", "cli_auth_credentials_store = \"vault\"\n", 0, "cli_auth_credentials_store"},
		{"method value", "forced_login_method = \"sso\"\n", 0, "forced_login_method"},
		{"workspace item", "forced_chatgpt_workspace_id = [\"a\", 2]\n", 0, "forced_chatgpt_workspace_id"},
		{"workspace type", "forced_chatgpt_workspace_id = true\n", 0, "forced_chatgpt_workspace_id"},
		{"table type", "codex_auth = \"x\"\n", 0, "codex_auth"},
		{"issuer type", "[codex_auth]\nissuer = 1\n", 0, "codex_auth.issuer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys, home := t.TempDir(), Home{Dir: t.TempDir()}
			path := filepath.Join(home.Dir, "config.toml")
			writeFile(t, path, tt.content)
			_, err := LoadConfig(home, sys)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("LoadConfig error = %v, want a *ConfigError", err)
			}
			if ce.File != path || ce.Line != tt.line || ce.Key != tt.key {
				t.Errorf("ConfigError{File:%q Line:%d Key:%q}, want {%q %d %q}", ce.File, ce.Line, ce.Key, path, tt.line, tt.key)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}
