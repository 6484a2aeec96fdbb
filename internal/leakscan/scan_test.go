package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// files writes name -> content under dir (folders made 0700, files 0600).
func files(t *testing.T, dir string, fs map[string]string) {
	t.Helper()
	for name, content := range fs {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// run0 is a clean client folder's secrets: a ledger of five tokens.
type run0 struct {
	tokens []string
	ledger string
}

func newRun() run0 {
	var r run0
	for _, prefix := range []string{"rt_local_", "ac_local_", "sk-local-", "deviceauth_", ""} {
		tok := prefix + rand.Text()
		r.tokens = append(r.tokens, tok)
		r.ledger += "refresh_token\t" + tok + "\n"
	}
	return r
}

func scan(t *testing.T, dir string, clients ...string) Report {
	t.Helper()
	rep, err := Scan(Options{Dir: dir, Clients: clients, MinSecrets: 5})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return rep
}

func TestCleanRunPasses(t *testing.T) {
	dir := t.TempDir()
	r := newRun()
	key := "sk-proj-" + rand.Text() + "Ac7Qp"
	files(t, dir, map[string]string{
		"vscode/a.ledger":       r.ledger,
		"vscode/handed.secrets": key + "\n",
		"vscode/output.log":     "signed in with an API key (sk-proj-***Ac7Qp)\nrefreshed\n",
		"vscode/sub/stderr":     "level=INFO msg=ok\n",
	})
	rep := scan(t, dir, "vscode")
	want := Report{Files: 2, Bytes: int64(len("signed in with an API key (sk-proj-***Ac7Qp)\nrefreshed\n") + len("level=INFO msg=ok\n")), Secrets: 6}
	if d := cmp.Diff(want, rep); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
}

func TestPlantedSecretFound(t *testing.T) {
	dir := t.TempDir()
	r := newRun()
	planted := r.tokens[0]
	files(t, dir, map[string]string{
		"nvim/issuer.ledger":  r.ledger,
		"nvim/codex_auth.log": "time=1 msg=refresh token=" + planted + " ok\n",
	})
	rep := scan(t, dir, "nvim")
	if len(rep.Leaks) != 1 {
		t.Fatalf("%d leaks, want 1", len(rep.Leaks))
	}
	l := rep.Leaks[0]
	want := Leak{File: filepath.Join("nvim", "codex_auth.log"), Offset: len("time=1 msg=refresh token="), Whole: true,
		Kind: "refresh_token", Masked: "rt_l***", Length: len(planted), Source: filepath.Join("nvim", "issuer.ledger") + ":1"}
	if d := cmp.Diff(want, l); d != "" {
		t.Errorf("leak (-want +got):\n%s", d)
	}
	if s := l.String(); strings.Contains(s, planted[4:12]) {
		t.Errorf("the report holds the secret: %q", strings.ReplaceAll(s, planted, "<secret>"))
	}
}

func TestTruncatedSecretFound(t *testing.T) {
	dir := t.TempDir()
	r := newRun()
	jwt := "eyJhbGciOiJSUzI1NiJ9." + rand.Text() + rand.Text() + "." + rand.Text() + rand.Text()
	files(t, dir, map[string]string{
		"jetbrains/i.ledger":   r.ledger + "access_token\t" + jwt + "\n",
		"jetbrains/client.log": "token " + jwt[:40] + "…\n",
	})
	rep := scan(t, dir, "jetbrains")
	if len(rep.Leaks) != 1 || rep.Leaks[0].Whole || rep.Leaks[0].Kind != "access_token" {
		t.Fatalf("leaks %+v, want a piece of the access token", rep.Leaks)
	}
}

func TestMaskedAPIKeyNotFound(t *testing.T) {
	dir := t.TempDir()
	r := newRun()
	key := "sk-proj-" + strings.Repeat("m4ny", 8) + "Ac7Qp"
	masked := key[:8] + "***" + key[len(key)-5:]
	files(t, dir, map[string]string{
		"vscode/a.ledger":       r.ledger,
		"vscode/handed.secrets": "api_key\t" + key + "\n",
		"vscode/output.log":     "signed in with an API key (" + masked + ")\n$(check) " + masked + "\n",
	})
	if rep := scan(t, dir, "vscode"); len(rep.Leaks) != 0 {
		t.Errorf("the masked key counts as a leak: %v", rep.Leaks)
	}
	// The same key unmasked is found.
	files(t, dir, map[string]string{"vscode/output.log": "key " + key + "\n"})
	if rep := scan(t, dir, "vscode"); len(rep.Leaks) != 1 || rep.Leaks[0].Kind != "api_key" {
		t.Errorf("the key itself: leaks %v, want the api_key", rep.Leaks)
	}
}

func TestSharedPieceIsNoSecret(t *testing.T) {
	dir := t.TempDir()
	r := newRun()
	header := "eyJhbGciOiJSUzI1NiIsImtpZCI6Ik5vdEFTZWNyZXQiLCJ0eXAiOiJKV1QifQ"
	a := header + "." + rand.Text() + "." + rand.Text()
	b := header + "." + rand.Text() + "." + rand.Text()
	files(t, dir, map[string]string{
		"nvim/i.ledger": r.ledger + "id_token\t" + a + "\nid_token\t" + b + "\n",
		"nvim/log":      "the header every token of this issuer starts with: " + header + "\n",
	})
	if rep := scan(t, dir, "nvim"); len(rep.Leaks) != 0 {
		t.Errorf("a piece both tokens share counts as a leak: %v", rep.Leaks)
	}
}

func TestSecretOfAnotherClientFound(t *testing.T) {
	dir := t.TempDir()
	a, b := newRun(), newRun()
	files(t, dir, map[string]string{
		"vscode/i.ledger": a.ledger,
		"vscode/log":      "quiet\n",
		"nvim/i.ledger":   b.ledger,
		"nvim/log":        "oops " + a.tokens[2] + "\n",
	})
	rep := scan(t, dir, "vscode", "nvim")
	if len(rep.Leaks) != 1 || rep.Leaks[0].File != filepath.Join("nvim", "log") || rep.Leaks[0].Source != filepath.Join("vscode", "i.ledger")+":3" {
		t.Errorf("leaks %v, want vscode's secret in nvim's log", rep.Leaks)
	}
}

func TestRunsThatProveNothingFail(t *testing.T) {
	r := newRun()
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"missing client folder", map[string]string{"vscode/i.ledger": r.ledger, "vscode/log": "x"}, "no folder for client nvim"},
		{"empty ledger", map[string]string{"vscode/i.ledger": r.ledger, "vscode/log": "x", "nvim/i.ledger": "", "nvim/log": "x"}, "hold 0 secrets, fewer than 5"},
		{"too few secrets", map[string]string{"vscode/i.ledger": r.ledger, "vscode/log": "x", "nvim/handed.secrets": r.tokens[0] + "\n", "nvim/log": "x"}, "hold 1 secrets"},
		{"no log", map[string]string{"vscode/i.ledger": r.ledger, "vscode/log": "x", "nvim/i.ledger": r.ledger}, "no output to scan"},
		{"empty logs only", map[string]string{"vscode/i.ledger": r.ledger, "vscode/log": "x", "nvim/i.ledger": r.ledger, "nvim/log": ""}, "no output to scan (1 empty files)"},
		{"short secret", map[string]string{"vscode/i.ledger": r.ledger + "api_key\tshort\n", "vscode/log": "x", "nvim/i.ledger": r.ledger, "nvim/log": "x"}, "i.ledger:6: a api_key of 5 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files(t, dir, tt.files)
			_, err := Scan(Options{Dir: dir, Clients: []string{"vscode", "nvim"}, MinSecrets: 5})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Scan: %v, want an error with %q", err, tt.want)
			}
		})
	}
	if _, err := Scan(Options{Dir: t.TempDir(), Clients: []string{"../etc"}}); err == nil {
		t.Error("a client name with a slash is accepted")
	}
}

func TestRunPrintsNoSecret(t *testing.T) {
	dir := t.TempDir()
	r := newRun()
	files(t, dir, map[string]string{
		"vscode/i.ledger": r.ledger,
		"vscode/log":      "fine\n",
	})
	var out, errOut bytes.Buffer
	if code := run([]string{"-dir", dir, "-clients", "vscode", "-min-secrets", "5"}, &out, &errOut); code != 0 {
		t.Fatalf("clean run: exit %d: %s", code, errOut.String())
	}
	if want := "leakscan: 1 clients (vscode), 1 files, 5 bytes scanned for 5 secrets: none found\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
	files(t, dir, map[string]string{"vscode/log": strings.Join(r.tokens, "\n")})
	out.Reset()
	errOut.Reset()
	if code := run([]string{"-dir", dir, "-clients", "vscode", "-min-secrets", "5"}, &out, &errOut); code != 1 {
		t.Errorf("leaky run: exit %d, want 1", code)
	}
	if n := strings.Count(errOut.String(), "LEAK "); n != len(r.tokens) {
		t.Errorf("%d leaks reported, want %d", n, len(r.tokens))
	}
	for _, tok := range r.tokens {
		if strings.Contains(out.String()+errOut.String(), tok[len(tok)-10:]) {
			t.Error("the output holds a secret")
		}
	}
	if code := run([]string{"-dir", dir}, &out, &errOut); code != 2 {
		t.Errorf("no -clients: exit %d, want 2", code)
	}
}
