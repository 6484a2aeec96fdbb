//go:build !unix

// proc_other.go: without process groups, Kill ends the process only.

package e2eutil

import "os/exec"

func setGroup(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
