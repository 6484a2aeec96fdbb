package e2eutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// Env is a minimal environment for a sidecar or the Codex CLI on home:
// HOME and CODEX_HOME are home, CODEX_AUTH_SYSTEM_CONFIG_DIR is an empty
// folder inside it (so /etc/codex is never read), and only what is needed
// to run and reach the keyring is passed through. extra ("K=V") is appended.
func Env(home string, extra ...string) []string {
	env := []string{
		"HOME=" + home,
		"CODEX_HOME=" + home,
		"CODEX_AUTH_SYSTEM_CONFIG_DIR=" + filepath.Join(home, ".no-system-config"),
	}
	for _, key := range []string{"PATH", "TMPDIR", "LANG", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "SYSTEMROOT"} {
		if v, ok := os.LookupEnv(key); ok {
			env = append(env, key+"="+v)
		}
	}
	return append(env, extra...)
}

// SidecarEnv is Env plus the sidecar's settings for the local issuer at
// issuerURL: any callback port.
func SidecarEnv(home, issuerURL string, extra ...string) []string {
	return Env(home, append([]string{
		"CODEX_AUTH_ISSUER=" + issuerURL,
		"CODEX_AUTH_CALLBACK_PORT=0",
	}, extra...)...)
}

// StartSidecar spawns `bin serve args...` with env and initializes it
// (initialize with protocol version 1, then initialized).
func StartSidecar(ctx context.Context, name, bin string, env []string, args ...string) (*Proc, error) {
	p, err := Start(name, LSP, bin, append([]string{"serve"}, args...), env)
	if err != nil {
		return nil, err
	}
	if err := InitializeSidecar(ctx, p); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// InitializeSidecar sends initialize and initialized.
func InitializeSidecar(ctx context.Context, p *Proc) error {
	params := map[string]any{
		"processId":             os.Getpid(),
		"clientInfo":            map[string]string{"name": "e2e", "version": "0"},
		"capabilities":          map[string]any{},
		"initializationOptions": map[string]string{"protocolVersion": "1"},
	}
	if err := p.Call(ctx, "initialize", params, nil); err != nil {
		return fmt.Errorf("%s: initialize: %w (stderr: %s)", p.Name, err, p.Stderr())
	}
	return p.Notify("initialized", map[string]any{})
}

// StartAppServer spawns `codex app-server` with env and initializes it
// (initialize {clientInfo}, then initialized; JSON lines).
func StartAppServer(ctx context.Context, name, codex string, env []string) (*Proc, error) {
	p, err := Start(name, JSONLines, codex, []string{"app-server"}, env)
	if err != nil {
		return nil, err
	}
	params := map[string]any{"clientInfo": map[string]string{"name": "codex_auth_e2e", "title": "codex-auth e2e", "version": "0.0.0"}}
	if err := p.Call(ctx, "initialize", params, nil); err != nil {
		p.Kill()
		return nil, fmt.Errorf("%s: initialize: %w (stderr: %s)", name, err, p.Stderr())
	}
	if err := p.Notify("initialized", nil); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// Stop ends a sidecar the way an editor does (end of input), killing it
// if it has not exited within timeout.
func Stop(p *Proc, timeout time.Duration) {
	_ = p.CloseStdin()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := p.Wait(ctx); err != nil {
		p.Kill()
	}
}

// LoginResult is account/login/start's result (every type's fields).
type LoginResult struct {
	Type            string `json:"type"`
	LoginID         string `json:"loginId"`
	AuthURL         string `json:"authUrl"`
	VerificationURL string `json:"verificationUrl"`
	UserCode        string `json:"userCode"`
}

// LoginCompleted is account/login/completed's params.
type LoginCompleted struct {
	LoginID string  `json:"loginId"`
	Success bool    `json:"success"`
	Error   *string `json:"error"`
}

// LoginChatGPT runs a browser login through p: account/login/start
// {type:"chatgpt"}, the fake browser follows authUrl, and the login must
// complete successfully.
func LoginChatGPT(ctx context.Context, p *Proc) error {
	var res LoginResult
	if err := p.Call(ctx, "account/login/start", map[string]string{"type": "chatgpt"}, &res); err != nil {
		return fmt.Errorf("account/login/start chatgpt: %w", err)
	}
	if res.AuthURL == "" || res.LoginID == "" {
		return fmt.Errorf("account/login/start chatgpt: no authUrl or loginId in %+v", res)
	}
	if err := Browse(ctx, res.AuthURL); err != nil {
		return err
	}
	m, err := p.WaitNotification(ctx, 0, "account/login/completed", func(raw json.RawMessage) bool {
		var c LoginCompleted
		return json.Unmarshal(raw, &c) == nil && c.LoginID == res.LoginID
	})
	if err != nil {
		return err
	}
	var c LoginCompleted
	if err := json.Unmarshal(m.Params, &c); err != nil {
		return err
	}
	if !c.Success {
		msg := ""
		if c.Error != nil {
			msg = *c.Error
		}
		return fmt.Errorf("browser login failed: %s", msg)
	}
	return nil
}

// Browse is the fake browser: it GETs url and follows redirects (to the
// sidecar's loopback callback and its success page) and wants a 2xx at
// the end.
func Browse(ctx context.Context, url string) error {
	client := &http.Client{Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fake browser: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("fake browser: %s ended with HTTP %d", resp.Request.URL.Path, resp.StatusCode)
	}
	return nil
}

// AuthFile is auth.json as the test reads it.
type AuthFile struct {
	AuthMode    string  `json:"auth_mode"`
	APIKey      *string `json:"OPENAI_API_KEY"`
	Tokens      *Tokens `json:"tokens"`
	LastRefresh string  `json:"last_refresh"`
}

// Tokens are auth.json's tokens.
type Tokens struct {
	IDToken      string  `json:"id_token"`
	AccessToken  string  `json:"access_token"`
	RefreshToken string  `json:"refresh_token"`
	AccountID    *string `json:"account_id"`
}

// ErrNoAuth: home holds no auth.json.
var ErrNoAuth = errors.New("no auth.json")

// ReadAuth reads home/auth.json.
func ReadAuth(home string) (AuthFile, error) {
	var a AuthFile
	b, err := os.ReadFile(filepath.Join(home, "auth.json"))
	if errors.Is(err, os.ErrNotExist) {
		return a, ErrNoAuth
	}
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("auth.json: %w", err)
	}
	return a, nil
}

// Secrets are the secret strings of a: the API key and the tokens.
func (a AuthFile) Secrets() []string {
	var s []string
	if a.APIKey != nil && *a.APIKey != "" {
		s = append(s, *a.APIKey)
	}
	if t := a.Tokens; t != nil {
		for _, v := range []string{t.IDToken, t.AccessToken, t.RefreshToken} {
			if v != "" {
				s = append(s, v)
			}
		}
	}
	return s
}

// WriteAtomic writes data to home/name through a temporary file and a
// rename, as Codex does.
func WriteAtomic(home, name string, data []byte) error {
	f, err := os.CreateTemp(home, ".e2e-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), filepath.Join(home, name))
}

// APIKeyRecord is auth.json for an API-key login, as Codex writes it.
func APIKeyRecord(key string) []byte {
	b, _ := json.MarshalIndent(map[string]any{"auth_mode": "apikey", "OPENAI_API_KEY": key}, "", "  ")
	return b
}
