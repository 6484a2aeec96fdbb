// Tests of the decision to fail or skip, the module root and the versions file.

package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRequired(t *testing.T) {
	tests := []struct {
		ci, realParts string
		want          bool
	}{
		{"", "", false},
		{"true", "", true},
		{"", "required", true},
		{"true", "required", true},
		{"false", "", false},
		{"1", "", false},
		{"", "optional", false},
		{"", "REQUIRED", false},
	}
	for _, tt := range tests {
		t.Setenv("CI", tt.ci)
		t.Setenv("CODEX_AUTH_REAL_PARTS", tt.realParts)
		if got := Required(); got != tt.want {
			t.Errorf("Required() with CI=%q CODEX_AUTH_REAL_PARTS=%q = %v, want %v", tt.ci, tt.realParts, got, tt.want)
		}
	}
}

// helperEnv is the environment for re-running this test binary as a helper:
// the caller's, minus the variables the tests set.
func helperEnv(helper string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		switch key {
		case "CI", "CODEX_AUTH_REAL_PARTS", "CODEX_BIN", "TESTENV_HELPER":
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "TESTENV_HELPER="+helper), extra...)
}

// runHelper runs the test named test in a child process and returns whether
// it passed, failed or skipped, and its output.
func runHelper(t *testing.T, test string, env []string) (verdict, output string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Env = env
	out, _ := cmd.CombinedOutput()
	for _, v := range []string{"FAIL", "SKIP", "PASS"} {
		if strings.Contains(string(out), "--- "+v+": "+test) {
			return v, string(out)
		}
	}
	t.Fatalf("helper %s gave no verdict:\n%s", test, out)
	return "", ""
}

func TestHelperMissing(t *testing.T) {
	if os.Getenv("TESTENV_HELPER") != "missing" {
		t.Skip("helper process for TestMissing")
	}
	Missing(t, "the widget is absent", "install the widget")
	t.Log("Missing returned")
}

func TestMissing(t *testing.T) {
	tests := []struct {
		env  []string
		want string
	}{
		{nil, "SKIP"},
		{[]string{"CI=true"}, "FAIL"},
		{[]string{"CODEX_AUTH_REAL_PARTS=required"}, "FAIL"},
	}
	for _, tt := range tests {
		verdict, out := runHelper(t, "TestHelperMissing", helperEnv("missing", tt.env...))
		if verdict != tt.want {
			t.Errorf("Missing with %v: verdict %s, want %s; output:\n%s", tt.env, verdict, tt.want, out)
		}
		if !strings.Contains(out, "the widget is absent: install the widget") {
			t.Errorf("Missing with %v: output lacks what and how to install:\n%s", tt.env, out)
		}
		if strings.Contains(out, "Missing returned") {
			t.Errorf("Missing with %v: the test went on after Missing:\n%s", tt.env, out)
		}
	}
}

func TestModuleRoot(t *testing.T) {
	root := ModuleRoot(t)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if rel, err := filepath.Rel(root, wd); err != nil || rel != filepath.Join("internal", "testenv") {
		t.Errorf("ModuleRoot() = %s; working directory %s is not its internal/testenv", root, wd)
	}
	if _, err := os.Stat(filepath.Join(root, VersionsFile)); err != nil {
		t.Errorf("ModuleRoot() = %s: %v", root, err)
	}
}

func TestModulePathOf(t *testing.T) {
	tests := []struct{ gomod, want string }{
		{"module github.com/codex-auth/codex-auth\n\ngo 1.25\n", ModulePath},
		{"// comment\nmodule \"example.com/x\"\n", "example.com/x"},
		{"go 1.25\n", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := modulePathOf([]byte(tt.gomod)); got != tt.want {
			t.Errorf("modulePathOf(%q) = %q, want %q", tt.gomod, got, tt.want)
		}
	}
}

func TestParseEnvFile(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		wantErr  bool
	}{
		{"empty", "", map[string]string{}, false},
		{"comments and blanks", "# c\n\n  # indented\nA=1\n", map[string]string{"A": "1"}, false},
		{"quotes", "A=\"x y\"\nB='z'\nC=\"\n", map[string]string{"A": "x y", "B": "z", "C": "\""}, false},
		{"export", "export CODEX_VERSION=0.171.0\n", map[string]string{"CODEX_VERSION": "0.171.0"}, false},
		{"last wins", "A=1\nA=2\n", map[string]string{"A": "2"}, false},
		{"empty value", "A=\n", map[string]string{"A": ""}, false},
		{"no equals", "A\n", nil, true},
		{"bad key", "A-B=1\n", nil, true},
		{"digit key", "1A=1\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEnvFile(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseEnvFile(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseEnvFile(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestCodexVersionPinned(t *testing.T) {
	if got := CodexVersion(t); !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(got) {
		t.Errorf("CodexVersion() = %q, want an exact version x.y.z", got)
	}
}
