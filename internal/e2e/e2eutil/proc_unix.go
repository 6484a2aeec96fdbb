//go:build unix

// proc_unix.go: a peer runs in its own process group, so killing it also
// ends its children (the Codex CLI is a node wrapper around a native binary).

package e2eutil

import (
	"os/exec"
	"syscall"
)

func setGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
