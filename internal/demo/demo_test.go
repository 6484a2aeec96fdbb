package main

import (
	"context"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/testenv"
)

// TestDemo runs what `make demo` runs, against the real binary, so the
// README's first command cannot rot unnoticed.
func TestDemo(t *testing.T) {
	bin := testenv.BuildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, bin); err != nil {
		t.Fatalf("demo: %v", err)
	}
}
