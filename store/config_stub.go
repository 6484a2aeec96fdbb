// config_stub.go: configuration API, to be implemented in config.go.

package store

// Config is what codex-auth reads from Codex's configuration layers.
type Config struct {
	// CredentialsStore is cli_auth_credentials_store ("" when unset).
	CredentialsStore Mode
	// ForcedLoginMethod is forced_login_method: "", "chatgpt" or "api".
	ForcedLoginMethod string
	// ForcedWorkspaceIDs is forced_chatgpt_workspace_id (string or list).
	ForcedWorkspaceIDs []string
	// Issuer and ClientID are ours: [codex_auth] issuer / client_id.
	Issuer   string
	ClientID string
	// Files are the files that were read, highest precedence first.
	Files []string
}

// ConfigPaths are the layer files, highest precedence first.
func ConfigPaths(home Home, systemDir string) []string { return nil }

// LoadConfig reads the layers (managed_config.toml in systemDir, then
// $CODEX_HOME/config.toml, then config.toml in systemDir; systemDir is
// /etc/codex unless overridden by CODEX_AUTH_SYSTEM_CONFIG_DIR). A missing
// file is skipped; a malformed one is an error naming the file and line.
func LoadConfig(home Home, systemDir string) (Config, error) { return Config{}, errTODO }
