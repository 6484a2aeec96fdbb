// Neovim, for the editor client tests.

package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const nvimHowTo = "install Neovim (scripts/deps.sh does as root: apt-get install neovim) or set NVIM_BIN"

// Nvim returns the path of Neovim: $NVIM_BIN if set, else nvim on PATH,
// checked by running `nvim --version`. A missing Neovim is reported through
// Missing.
func Nvim(t testing.TB) string {
	t.Helper()
	path := os.Getenv("NVIM_BIN")
	if path == "" {
		var err error
		if path, err = exec.LookPath("nvim"); err != nil {
			Missing(t, "nvim not found on PATH", nvimHowTo)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		Missing(t, fmt.Sprintf("%s --version failed: %v", path, err), nvimHowTo)
	}
	if first, _, _ := strings.Cut(string(out), "\n"); !strings.HasPrefix(first, "NVIM v") {
		Missing(t, fmt.Sprintf("%s is not Neovim (--version printed %q)", path, first), nvimHowTo)
	}
	return path
}
