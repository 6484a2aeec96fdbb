package store

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// childEnv switches the test binary into a child role (see TestMain).
const childEnv = "STORE_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role, os.Getenv("STORE_TEST_HOME")))
	}
	os.Exit(m.Run())
}

// runChild is a child process: "incr N" adds N to the counter, one
// Update at a time; "writer" replaces a large record forever, printing a
// line after each write.
func runChild(role, dir string) int {
	ctx := context.Background()
	s, err := Open(Home{Dir: dir}, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fields := strings.Fields(role)
	switch fields[0] {
	case "incr":
		n, _ := strconv.Atoi(fields[1])
		for range n {
			if _, err := s.Update(ctx, increment); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return 0
	case "writer":
		pad := strings.Repeat("x", 256<<10)
		for i := 0; ; i++ {
			r := withCounter(NewAPIKeyRecord("sk-writer-0123456789"), i)
			r.Extra = append(r.Extra, RawField{Key: "pad", Value: []byte(`"` + pad[:(i*7919)%len(pad)] + `"`)})
			if err := s.Replace(ctx, r); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Println(i)
		}
	}
	return 2
}

func child(t *testing.T, home Home, role string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, "STORE_TEST_HOME="+home.Dir)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestProcessesLoseNoUpdate(t *testing.T) {
	home := tempHome(t)
	const procs, each = 4, 25
	var wg sync.WaitGroup
	for range procs {
		cmd := child(t, home, "incr "+strconv.Itoa(each))
		wg.Go(func() {
			if err := cmd.Run(); err != nil {
				t.Errorf("child: %v", err)
			}
		})
	}
	// This process joins in too.
	s := openStore(t, home, Options{})
	for range each {
		if _, err := s.Update(t.Context(), increment); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if got, want := readCounter(t, home), (procs+1)*each; got != want {
		t.Errorf("counter = %d, want %d", got, want)
	}
}

func TestKilledWriterNeverTearsTheFile(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a few hundred processes")
	}
	home := tempHome(t)
	s := openStore(t, home, Options{})
	const kills = 200
	last := -1
	for i := range kills {
		cmd := child(t, home, "writer")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let it finish a few writes, then kill it wherever it is.
		sc := bufio.NewScanner(out)
		for range 1 + rand.IntN(3) {
			if !sc.Scan() {
				t.Fatalf("writer %d stopped early", i)
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		r, err := s.Load(t.Context())
		if err != nil || r == nil {
			t.Fatalf("after kill %d: Load = %v, %v", i, r, err)
		}
		n, ok := counterOf(r)
		if !ok || n < 0 {
			t.Fatalf("after kill %d: no counter in the record", i)
		}
		last = n
	}
	t.Logf("%d kills; last record written was #%d of its writer", kills, last)
}
