package watch

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// watchTestGuard bounds every wait; it only turns a hang into a failure.
const watchTestGuard = 10 * time.Second

// watchTestEntry is one OnChange call or one trace event ("lost dir",
// "back dir"). Both come from Run's goroutine, so their order is real.
type watchTestEntry struct {
	change Change
	trace  string
}

// watchTestRun is a running Watcher and what it reported, in order.
type watchTestRun struct {
	w       *Watcher
	entries chan watchTestEntry
}

// watchTestStart starts a Watcher and waits until it is Ready; it is
// stopped when the test ends.
func watchTestStart(t testing.TB, opts Options) *watchTestRun {
	t.Helper()
	r := &watchTestRun{entries: make(chan watchTestEntry, 1024)}
	opts.OnChange = func(c Change) { r.entries <- watchTestEntry{change: c} }
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	w.trace = func(what, dir string) { r.entries <- watchTestEntry{trace: what + " " + dir} }
	r.w = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-w.Ready():
	case err := <-done:
		t.Fatalf("Run ended before Ready: %v", err)
	case <-time.After(watchTestGuard):
		t.Fatal("watcher never became ready")
	}
	return r
}

// next waits for the next OnChange call, skipping trace events.
func (r *watchTestRun) next(t testing.TB) Change {
	t.Helper()
	timeout := time.After(watchTestGuard)
	for {
		select {
		case e := <-r.entries:
			if e.trace == "" {
				return e.change
			}
		case <-timeout:
			t.Fatal("no change reported")
		}
	}
}

// expect waits for the next OnChange call and compares it with want.
func (r *watchTestRun) expect(t testing.TB, step string, want Change) {
	t.Helper()
	if diff := cmp.Diff(want, r.next(t)); diff != "" {
		t.Fatalf("%s: change mismatch (-want +got):\n%s", step, diff)
	}
}

// waitTrace waits for a trace event, skipping everything before it.
func (r *watchTestRun) waitTrace(t testing.TB, want string) {
	t.Helper()
	timeout := time.After(watchTestGuard)
	for {
		select {
		case e := <-r.entries:
			if e.trace == want {
				return
			}
		case <-timeout:
			t.Fatalf("trace %q never seen", want)
		}
	}
}

// watchTestWrite replaces dir/name the way Codex and package store do:
// a temp file .auth-* in the same directory, then rename over the target,
// under auth.lock and auth.json.lock (which are touched too).
func watchTestWrite(t testing.TB, dir, name, data string) {
	t.Helper()
	for _, lock := range []string{"auth.lock", "auth.json.lock"} {
		f, err := os.OpenFile(filepath.Join(dir, lock), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	f, err := os.CreateTemp(dir, ".auth-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func TestNewWatcherValidates(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"no OnChange", Options{Dir: t.TempDir()}},
		{"negative debounce", Options{Dir: t.TempDir(), OnChange: func(Change) {}, Debounce: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.opts); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

// TestWatchAuthFile: atomic writes, overwrites, deletes and re-creates of
// auth.json are each reported once as an Auth change.
func TestWatchAuthFile(t *testing.T) {
	home := t.TempDir()
	r := watchTestStart(t, Options{Dir: home})

	watchTestWrite(t, home, "auth.json", `{"OPENAI_API_KEY":"k1"}`)
	r.expect(t, "create", Change{Auth: true})
	watchTestWrite(t, home, "auth.json", `{"OPENAI_API_KEY":"k2"}`)
	r.expect(t, "overwrite", Change{Auth: true})
	if err := os.Remove(filepath.Join(home, "auth.json")); err != nil {
		t.Fatal(err)
	}
	r.expect(t, "delete", Change{Auth: true})
	watchTestWrite(t, home, "auth.json", `{"OPENAI_API_KEY":"k3"}`)
	r.expect(t, "re-create", Change{Auth: true})

	// Quiescence: a config change is reported alone, so nothing about
	// auth.json was still pending.
	watchTestWrite(t, home, "config.toml", "model = \"x\"\n")
	r.expect(t, "config", Change{Config: true})
}

// TestWatchIgnoresTempAndLocks: temp files, locks, unrelated files and a
// chmod of auth.json are not changes.
func TestWatchIgnoresTempAndLocks(t *testing.T) {
	home := t.TempDir()
	watchTestWrite(t, home, "auth.json", `{}`)
	r := watchTestStart(t, Options{Dir: home})

	for _, name := range []string{".auth-abc123", "auth.lock", "auth.json.lock", "history.jsonl", "auth.json.corrupt-2025"} {
		p := filepath.Join(home, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("xy"), 0o600); err != nil {
			t.Fatal(err)
		}
		if name == ".auth-abc123" {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Chmod(filepath.Join(home, "auth.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The first change reported is the config write that follows.
	watchTestWrite(t, home, "config.toml", "")
	r.expect(t, "after ignored files", Change{Config: true})
}

// TestWatchConfigFiles: extra config files in another directory are
// watched by name; their neighbours are ignored.
func TestWatchConfigFiles(t *testing.T) {
	home, sys := t.TempDir(), t.TempDir()
	managed := filepath.Join(sys, "managed_config.toml")
	r := watchTestStart(t, Options{Dir: home, Files: []string{managed, filepath.Join(home, "config.toml")}})

	watchTestWrite(t, sys, "managed_config.toml", "forced_login_method = \"api\"\n")
	r.expect(t, "managed config", Change{Config: true})
	if err := os.WriteFile(managed, []byte("forced_login_method = \"chatgpt\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.expect(t, "managed config in place", Change{Config: true})
	watchTestWrite(t, home, "config.toml", "")
	r.expect(t, "home config", Change{Config: true})

	// Neighbours are ignored: the next change is the auth write.
	for _, name := range []string{"config.toml", "auth.json", "other.toml"} {
		if err := os.WriteFile(filepath.Join(sys, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	watchTestWrite(t, home, "auth.json", `{}`)
	r.expect(t, "auth after neighbours", Change{Auth: true})
}

// TestWatchHomeRemovedAndRecreated: the home going away is a change; when
// it comes back the watch resumes and that is a change too.
func TestWatchHomeRemovedAndRecreated(t *testing.T) {
	parent := t.TempDir()
	home := filepath.Join(parent, "codex-home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	watchTestWrite(t, home, "auth.json", `{}`)
	r := watchTestStart(t, Options{Dir: home})

	if err := os.RemoveAll(home); err != nil {
		t.Fatal(err)
	}
	r.waitTrace(t, "lost "+home)
	r.expect(t, "home removed", Change{Auth: true, Config: true})

	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	r.waitTrace(t, "back "+home)
	r.expect(t, "home re-created", Change{Auth: true, Config: true})

	watchTestWrite(t, home, "auth.json", `{}`)
	r.expect(t, "write after re-creation", Change{Auth: true})
}

// TestWatchHomeAndParentRemoved: when the parent goes too, the recovery
// poll finds the home again.
func TestWatchHomeAndParentRemoved(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "p")
	home := filepath.Join(parent, "codex-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	r := watchTestStart(t, Options{Dir: home, RecoverInterval: 10 * time.Millisecond})

	if err := os.RemoveAll(parent); err != nil {
		t.Fatal(err)
	}
	r.waitTrace(t, "lost "+home)
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	r.waitTrace(t, "back "+home)
	r.expect(t, "home re-created", Change{Auth: true, Config: true})
	watchTestWrite(t, home, "auth.json", `{}`)
	r.expect(t, "write after re-creation", Change{Auth: true})
}

// TestWatchHomeMissingAtStart: the default home may not exist yet.
func TestWatchHomeMissingAtStart(t *testing.T) {
	home := filepath.Join(t.TempDir(), ".codex")
	r := watchTestStart(t, Options{Dir: home})
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	r.waitTrace(t, "back "+home)
	r.expect(t, "home created", Change{Auth: true, Config: true})
	watchTestWrite(t, home, "auth.json", `{}`)
	r.expect(t, "first save", Change{Auth: true})
}

// TestWatchBurstCoalesced: many writes in a burst are one call.
func TestWatchBurstCoalesced(t *testing.T) {
	home := t.TempDir()
	// The debounce is long so that scheduling hiccups cannot split the
	// burst; the assertion is on calls, not on time.
	r := watchTestStart(t, Options{Dir: home, Debounce: 300 * time.Millisecond, MaxDelay: time.Minute})
	for range 20 {
		watchTestWrite(t, home, "auth.json", `{}`)
	}
	if err := os.Remove(filepath.Join(home, "auth.json")); err != nil {
		t.Fatal(err)
	}
	watchTestWrite(t, home, "auth.json", `{}`)
	r.expect(t, "burst", Change{Auth: true})
	// Quiescence: the next call is the config change alone.
	watchTestWrite(t, home, "config.toml", "")
	r.expect(t, "after burst", Change{Config: true})
}

func TestWatchDebounce(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		name   string
		events []int // ms offsets of events
		want   time.Time
	}{
		{"single", []int{0}, ms(10)},
		{"quiet extends", []int{0, 5, 12}, ms(22)},
		{"capped", []int{0, 8, 16, 24, 32, 40, 48}, ms(50)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d watchDebounce
			var at time.Time
			for i, off := range tt.events {
				at = d.add(Change{Auth: i%2 == 0, Config: i == 1}, ms(off), 10*time.Millisecond, 50*time.Millisecond)
			}
			if !at.Equal(tt.want) {
				t.Errorf("deadline = %v after start, want %v", at.Sub(t0), tt.want.Sub(t0))
			}
			got, ok := d.take()
			want := Change{Auth: true, Config: len(tt.events) > 1}
			if !ok || got != want {
				t.Errorf("take() = %+v, %v; want %+v, true", got, ok, want)
			}
			if _, ok := d.take(); ok {
				t.Error("second take() reported a change")
			}
		})
	}
}

// watchTestKeyring is a fake keyring entry for Poll.
type watchTestKeyring struct {
	mu    sync.Mutex
	value []byte
	err   error
	calls []time.Time
}

func (k *watchTestKeyring) poll(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, time.Now())
	return k.value, k.err
}

func (k *watchTestKeyring) set(v []byte, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.value, k.err = v, err
}

func (k *watchTestKeyring) callTimes() []time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]time.Time(nil), k.calls...)
}

// TestWatchPollKeyring: the entry is polled at the interval, and a change
// of its bytes is signalled once; errors and unchanged bytes are not.
func TestWatchPollKeyring(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 2 * time.Second
		k := &watchTestKeyring{value: []byte(`{"OPENAI_API_KEY":"k1"}`)}
		var (
			mu    sync.Mutex
			calls []Change
		)
		w, err := New(Options{
			Poll:     k.poll,
			OnChange: func(c Change) { mu.Lock(); calls = append(calls, c); mu.Unlock() },
			Logger:   slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		got := func() []Change { mu.Lock(); defer mu.Unlock(); return append([]Change(nil), calls...) }
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- w.Run(ctx) }()
		<-w.Ready()
		start := time.Now()

		time.Sleep(3 * interval)
		synctest.Wait()
		if diff := cmp.Diff([]Change(nil), got()); diff != "" {
			t.Errorf("unchanged entry reported (-want +got):\n%s", diff)
		}
		k.set(nil, errors.New("keyring locked"))
		time.Sleep(interval)
		synctest.Wait()
		if diff := cmp.Diff([]Change(nil), got()); diff != "" {
			t.Errorf("poll error reported (-want +got):\n%s", diff)
		}
		k.set(nil, nil) // deleted, as with secret-tool clear
		time.Sleep(3 * interval)
		synctest.Wait()
		if diff := cmp.Diff([]Change{{Auth: true}}, got()); diff != "" {
			t.Errorf("deletion (-want +got):\n%s", diff)
		}

		var offsets []time.Duration
		for _, c := range k.callTimes() {
			offsets = append(offsets, c.Sub(start))
		}
		want := []time.Duration{0}
		for i := 1; i <= 7; i++ {
			want = append(want, time.Duration(i)*interval)
		}
		if diff := cmp.Diff(want, offsets); diff != "" {
			t.Errorf("poll times (-want +got):\n%s", diff)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// TestWatchMaxDelay: a change every poll, faster than the debounce, still
// gets through at MaxDelay after the first.
func TestWatchMaxDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu sync.Mutex
			n  int
			at []time.Time
		)
		poll := func(context.Context) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			n++
			return []byte{byte(n)}, nil
		}
		w, err := New(Options{
			Poll:         poll,
			PollInterval: 10 * time.Millisecond,
			Debounce:     50 * time.Millisecond,
			MaxDelay:     95 * time.Millisecond,
			OnChange:     func(Change) { mu.Lock(); at = append(at, time.Now()); mu.Unlock() },
			Logger:       slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- w.Run(ctx) }()
		<-w.Ready()
		start := time.Now()
		time.Sleep(250 * time.Millisecond)
		synctest.Wait()
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		var got []time.Duration
		for _, a := range at {
			got = append(got, a.Sub(start))
		}
		// First change at 10ms: delivered at 105ms; the next burst starts
		// with the poll at 110ms: delivered at 205ms.
		want := []time.Duration{105 * time.Millisecond, 205 * time.Millisecond}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("delivery times (-want +got):\n%s", diff)
		}
	})
}

// BenchmarkWatchLatency measures the time from an atomic rename of
// auth.json to OnChange, with the default debounce.
func BenchmarkWatchLatency(b *testing.B) {
	home := b.TempDir()
	r := watchTestStart(b, Options{Dir: home})
	target := filepath.Join(home, "auth.json")
	for b.Loop() {
		b.StopTimer()
		f, err := os.CreateTemp(home, ".auth-*")
		if err != nil {
			b.Fatal(err)
		}
		f.WriteString(`{"OPENAI_API_KEY":null}`)
		f.Close()
		b.StartTimer()
		if err := os.Rename(f.Name(), target); err != nil {
			b.Fatal(err)
		}
		r.next(b)
	}
}
