package benchutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Binaries locates codex-auth (built by make into bin/) and the pinned
// Codex CLI (installed by scripts/deps.sh into .cache/npm).
func Binaries() (codexAuth, codex string, err error) {
	root, err := moduleRoot()
	if err != nil {
		return "", "", err
	}
	codexAuth = os.Getenv("CODEX_AUTH_BIN")
	if codexAuth == "" {
		codexAuth = filepath.Join(root, "bin", "codex-auth")
	}
	if _, err := os.Stat(codexAuth); err != nil {
		return "", "", fmt.Errorf("codex-auth binary not found at %s: run make build", codexAuth)
	}
	codex = os.Getenv("CODEX_BIN")
	if codex == "" {
		codex = filepath.Join(root, ".cache", "npm", "node_modules", ".bin", "codex")
	}
	if _, err := os.Stat(codex); err != nil {
		return "", "", fmt.Errorf("codex CLI not found at %s: run scripts/deps.sh", codex)
	}
	return codexAuth, codex, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// APIKeyHome makes a CODEX_HOME holding an API-key login written by the
// real Codex CLI, outside /tmp so Codex prints no PATH-alias warning.
func APIKeyHome(codex string) (string, func(), error) {
	base, err := os.MkdirTemp("", "codex-auth-bench-")
	if err != nil {
		return "", nil, err
	}
	home := filepath.Join(base, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(base) }
	cmd := exec.Command(codex, "login", "--with-api-key")
	cmd.Env = Env(home)
	cmd.Stdin = strings.NewReader("sk-bench-0000000000000000000000000000\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("codex login --with-api-key: %v: %s", err, out)
	}
	return home, cleanup, nil
}

// Env is a minimal environment with CODEX_HOME set.
func Env(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Dir(home),
		"CODEX_HOME=" + home,
		"CODEX_AUTH_SYSTEM_CONFIG_DIR=" + filepath.Join(filepath.Dir(home), "etc"),
	}
}

// Median of durations.
func Median(ds []time.Duration) time.Duration { return Percentile(ds, 50) }

// Percentile p (0..100) of durations, nearest rank.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s))*p/100+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

// MedianInt of integers.
func MedianInt(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// Ratio formats a/b.
func Ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a/b)
}
