package rpc_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/internal/editortest"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata")

// archive is a tiny txtar: a comment, then "-- name --" sections.
type archive struct {
	comment  string
	sections map[string]string
	order    []string
}

func parseArchive(data string) archive {
	a := archive{sections: map[string]string{}}
	cur := ""
	var b strings.Builder
	flush := func() {
		if cur == "" {
			a.comment = b.String()
		} else {
			a.sections[cur] = b.String()
			a.order = append(a.order, cur)
		}
		b.Reset()
	}
	for _, line := range strings.SplitAfter(data, "\n") {
		if t := strings.TrimRight(line, "\n"); strings.HasPrefix(t, "-- ") && strings.HasSuffix(t, " --") && len(t) > 6 {
			flush()
			cur = t[3 : len(t)-3]
			continue
		}
		b.WriteString(line)
	}
	flush()
	return a
}

func (a archive) format() string {
	var b strings.Builder
	b.WriteString(a.comment)
	for _, name := range a.order {
		fmt.Fprintf(&b, "-- %s --\n%s", name, a.sections[name])
	}
	return b.String()
}

// TestGolden replays each archive's input section (one message a line,
// each request waiting for its reply) and compares the whole transcript.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			a := parseArchive(string(data))
			h := start(t, newFakeService(), nil)
			ctx := t.Context()
			exited := false
			for _, line := range strings.Split(a.sections["input"], "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				var m struct {
					ID     json.RawMessage `json:"id"`
					Method string          `json:"method"`
				}
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("input line %q: %v", line, err)
				}
				if err := h.ed.Send([]byte(line)); err != nil {
					t.Fatal(err)
				}
				switch {
				case m.ID != nil:
					var je *editortest.Error
					if err := h.ed.Reply(ctx, m.ID, nil); err != nil && !errors.As(err, &je) {
						t.Fatalf("%s: %v", line, err)
					}
				case m.Method == "exit":
					code := <-h.code
					<-h.ed.Done()
					h.ed.Close()
					exited = true
					_ = code
				}
			}
			got := h.ed.Transcript() + "\n"
			if exited {
				got += "(server exited)\n"
			}
			if *update {
				a.sections["transcript"] = got
				if _, ok := findSection(a, "transcript"); !ok {
					a.order = append(a.order, "transcript")
				}
				if err := os.WriteFile(file, []byte(a.format()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(a.sections["transcript"], got); diff != "" {
				t.Errorf("%s transcript (-want +got), rerun with -update if the change is intended:\n%s", file, diff)
			}
		})
	}
}

func findSection(a archive, name string) (int, bool) {
	for i, n := range a.order {
		if n == name {
			return i, true
		}
	}
	return 0, false
}
