package store

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// gateKeyring is an in-memory keyring whose calls wait on gate while it
// is closed-over (hung); it counts calls and the most in flight at once.
type gateKeyring struct {
	mu       sync.Mutex
	gate     chan struct{} // receive to run; closed: never blocks
	entries  map[string]string
	calls    int
	inFlight int
	maxIn    int
	ops      []string
}

func newGateKeyring() *gateKeyring {
	return &gateKeyring{gate: make(chan struct{}), entries: map[string]string{}}
}

func (k *gateKeyring) enter(op string) {
	k.mu.Lock()
	k.calls++
	k.inFlight++
	k.maxIn = max(k.maxIn, k.inFlight)
	gate := k.gate
	k.mu.Unlock()
	<-gate
	k.mu.Lock()
	k.inFlight--
	k.ops = append(k.ops, op)
	k.mu.Unlock()
}

func (k *gateKeyring) Get(service, user string) (string, error) {
	k.enter("get")
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.entries[service+"/"+user]
	if !ok {
		return "", ErrKeyringNotFound
	}
	return v, nil
}

func (k *gateKeyring) Set(service, user, secret string) error {
	k.enter("set")
	k.mu.Lock()
	defer k.mu.Unlock()
	k.entries[service+"/"+user] = secret
	return nil
}

func (k *gateKeyring) Delete(service, user string) error {
	k.enter("delete")
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.entries[service+"/"+user]; !ok {
		return ErrKeyringNotFound
	}
	delete(k.entries, service+"/"+user)
	return nil
}

func (k *gateKeyring) stats() (calls, maxIn int, ops []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.calls, k.maxIn, append([]string(nil), k.ops...)
}

// TestKeyringOneCallInFlight: polling a hung keyring (the watcher does,
// every KeyringPoll) starts one keyring call, not one per poll; each poll
// fails within the timeout, and the store works again once the keyring
// answers.
func TestKeyringOneCallInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		kr := newGateKeyring()
		s := openStore(t, tempHome(t), Options{Mode: ModeKeyring, Keyring: kr, KeyringTimeout: 100 * time.Millisecond})
		base := runtime.NumGoroutine()
		for range 50 {
			start := time.Now()
			if _, err := s.Load(ctx); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Load on a hung keyring = %v, want ErrUnavailable", err)
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("Load took %v, over the keyring timeout", d)
			}
			time.Sleep(10 * time.Millisecond) // the poll interval (virtual time)
		}
		// The process's count: other tests' goroutines come and go, so
		// allow a few; one per poll (the old leak) is 50.
		if g := runtime.NumGoroutine() - base; g > 5 {
			t.Errorf("%d goroutines left behind by 50 polls of a hung keyring, want about 1", g)
		}
		calls, maxIn, _ := kr.stats()
		if calls != 1 || maxIn != 1 {
			t.Errorf("keyring calls started: %d (at most %d at once), want 1", calls, maxIn)
		}
		close(kr.gate) // the keyring answers again
		synctest.Wait()
		if r, err := s.Load(ctx); err != nil || r != nil {
			t.Errorf("Load once the keyring answers = %v, %v; want nothing stored", r, err)
		}
	})
}

// TestKeyringAbandonedWriteKeepsOrder: a write that timed out and
// completes late must not land after a newer call (a logout's delete
// would be undone by the login's late Set).
func TestKeyringAbandonedWriteKeepsOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		kr := newGateKeyring()
		s := openStore(t, tempHome(t), Options{Mode: ModeKeyring, Keyring: kr, KeyringTimeout: 100 * time.Millisecond})
		if err := s.Replace(ctx, NewAPIKeyRecord("sk-old-0123456789")); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Replace on a hung keyring = %v, want ErrUnavailable", err)
		}
		// The delete waits for the write in flight: let the write through
		// now, late, then the delete.
		done := make(chan error, 1)
		go func() { _, err := s.Delete(ctx); done <- err }()
		synctest.Wait()
		kr.gate <- struct{}{} // the late Set
		synctest.Wait()
		close(kr.gate) // the rest
		if err := <-done; err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if r, err := s.Load(ctx); err != nil || r != nil {
			t.Errorf("after the late Set and the Delete: Load = %v, %v; want nothing stored", r, err)
		}
		_, maxIn, ops := kr.stats()
		if maxIn != 1 {
			t.Errorf("%d keyring calls in flight at once, want 1", maxIn)
		}
		if len(ops) < 2 || ops[0] != "set" || ops[1] != "delete" {
			t.Errorf("keyring calls in order %v, want the set then the delete", ops)
		}
	})
}

// TestKeyringLateWriteDoesNotShadowTheFile: in auto mode a save that the
// hung keyring did not answer falls back to auth.json; when the keyring
// answers later, the abandoned write lands there, older than the file
// (which a refresh may have rotated since). Auto mode, which reads the
// keyring first, must keep reading the newer file.
func TestKeyringLateWriteDoesNotShadowTheFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		kr := newGateKeyring()
		s := openStore(t, tempHome(t), Options{Mode: ModeAuto, Keyring: kr, KeyringTimeout: 100 * time.Millisecond})
		if err := s.Replace(ctx, NewAPIKeyRecord("sk-first-0123456789")); err != nil {
			t.Fatalf("auto Replace with a hung keyring = %v, want a fallback to the file", err)
		}
		if _, err := s.Update(ctx, func(*Record) (*Record, error) { return NewAPIKeyRecord("sk-second-0123456789"), nil }); err != nil {
			t.Fatalf("auto Update with a hung keyring = %v, want a fallback to the file", err)
		}
		close(kr.gate) // the keyring answers: the first Set lands, late
		synctest.Wait()
		r, err := s.Load(ctx)
		if err != nil || r == nil || *r.APIKey != "sk-second-0123456789" {
			got := "<nil>"
			if r != nil && r.APIKey != nil {
				got = MaskAPIKey(*r.APIKey)
			}
			t.Errorf("auto Load after the late keyring write = %s, %v; want the newer record in auth.json", got, err)
		}
		// The next save reaches the keyring again: one copy, the newest.
		if _, err := s.Update(ctx, func(*Record) (*Record, error) { return NewAPIKeyRecord("sk-third-0123456789"), nil }); err != nil {
			t.Fatal(err)
		}
		if r, err := s.Load(ctx); err != nil || r == nil || *r.APIKey != "sk-third-0123456789" {
			t.Errorf("auto Load after the keyring recovered = %v, %v", r, err)
		}
	})
}
