package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/zalando/go-keyring"
)

// KeyringService is the keyring service name Codex uses.
const KeyringService = "Codex Auth"

// DefaultKeyringTimeout bounds every keyring call: a locked Secret Service
// can otherwise block forever (openai/codex#41031).
const DefaultKeyringTimeout = 3 * time.Second

// Keyring is the OS credential store as the Store uses it. Get returns an
// error wrapping ErrKeyringNotFound when there is no entry.
type Keyring interface {
	Get(service, user string) (string, error)
	Set(service, user, secret string) error
	Delete(service, user string) error
}

// ErrKeyringNotFound: the keyring has no such entry.
var ErrKeyringNotFound = keyring.ErrNotFound

// SystemKeyring is the OS keyring through github.com/zalando/go-keyring.
type SystemKeyring struct{}

// Get reads a secret.
func (SystemKeyring) Get(service, user string) (string, error) { return keyring.Get(service, user) }

// Set writes a secret.
func (SystemKeyring) Set(service, user, secret string) error {
	return keyring.Set(service, user, secret)
}

// Delete removes a secret.
func (SystemKeyring) Delete(service, user string) error { return keyring.Delete(service, user) }

// platformKeyringLimit is the largest value go-keyring stores here.
func platformKeyringLimit() int {
	switch runtime.GOOS {
	case "windows":
		return 2560
	case "darwin":
		return 3000
	}
	return 0
}

// keyringBackend stores the record in the keyring entry of one home.
type keyringBackend struct {
	kr      Keyring
	timeout time.Duration
	limit   int
	home    Home
	// service and acct name the entry: Codex's ("Codex Auth", the
	// home's KeyringAccount) unless a provider's store set others.
	service string
	acct    func() string
	// slot holds the one keyring call in flight: taken before a call
	// starts and given back when the call returns, not when its caller
	// stops waiting. A hung keyring thus holds one goroutine, however
	// often it is polled, and calls reach it in the order they were made
	// (a write abandoned at its timeout cannot land after a newer one).
	slot chan struct{}
}

func newKeyringBackend(kr Keyring, timeout time.Duration, limit int, home Home) *keyringBackend {
	return &keyringBackend{kr: kr, timeout: timeout, limit: limit, home: home, service: KeyringService, acct: home.KeyringAccount, slot: make(chan struct{}, 1)}
}

// account is worked out at every call, not once at Open: a default home
// that does not exist yet cannot be canonicalized, and once it is created
// the canonical path (symlinks resolved) is what Codex hashes.
func (k *keyringBackend) account() string { return k.acct() }

func (k *keyringBackend) where() string {
	return "keyring: " + k.service + "/" + k.account()
}

// call runs fn with the timeout, which also bounds waiting for a call
// still in flight (see slot). A call still blocked when the timeout ends
// is abandoned: its goroutine keeps the slot until the keyring answers.
func (k *keyringBackend) call(ctx context.Context, op string, fn func() error) error {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	select {
	case k.slot <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("keyring %s: an earlier keyring call has not answered within %v (is the keyring locked?): %w: %w", op, k.timeout, ErrUnavailable, ctx.Err())
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-k.slot }()
		done <- fn()
	}()
	select {
	case err := <-done:
		switch {
		case err == nil:
			return nil
		case errors.Is(err, keyring.ErrNotFound):
			return err
		case errors.Is(err, keyring.ErrSetDataTooBig):
			return fmt.Errorf("keyring %s: %w", op, ErrTooLarge)
		}
		return fmt.Errorf("keyring %s: %w: %w", op, ErrUnavailable, err)
	case <-ctx.Done():
		return fmt.Errorf("keyring %s: no answer within %v (is the keyring locked?): %w: %w", op, k.timeout, ErrUnavailable, ctx.Err())
	}
}

// load reads the entry; (nil, nil) when there is none.
func (k *keyringBackend) load(ctx context.Context) (*Record, error) {
	val, err := k.get(ctx, k.service, k.account())
	if errors.Is(err, keyring.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r, err := ParseRecord([]byte(val))
	if err != nil {
		return nil, &CorruptError{Path: k.where(), Reason: err.Error()}
	}
	return r, nil
}

// save writes the record as compact JSON, refusing one over the limit.
func (k *keyringBackend) save(ctx context.Context, r *Record) error {
	return k.set(ctx, k.service, k.account(), r)
}

// remove deletes the entry; a missing entry is success with existed false.
func (k *keyringBackend) remove(ctx context.Context) (bool, error) {
	return k.del(ctx, k.service, k.account())
}

// get reads any entry through the one call slot; an error wrapping
// ErrKeyringNotFound when there is none.
func (k *keyringBackend) get(ctx context.Context, service, account string) (string, error) {
	var val string
	err := k.call(ctx, "read", func() error {
		v, err := k.kr.Get(service, account)
		val = v
		return err
	})
	return val, err
}

// set writes r as compact JSON to any entry, refusing one over the limit.
func (k *keyringBackend) set(ctx context.Context, service, account string, r *Record) error {
	b, err := r.MarshalCompact()
	if err != nil {
		return err
	}
	tooLarge := func() error {
		return fmt.Errorf("the auth record is %d bytes, over this keyring's limit of %d bytes; set cli_auth_credentials_store = \"auto\" (or --store auto) to keep it in auth.json instead: %w", len(b), k.limit, ErrTooLarge)
	}
	if k.limit > 0 && len(b) > k.limit {
		return tooLarge()
	}
	err = k.call(ctx, "write", func() error { return k.kr.Set(service, account, string(b)) })
	if errors.Is(err, ErrTooLarge) {
		return tooLarge()
	}
	return err
}

// del deletes any entry; a missing entry is success with existed false.
func (k *keyringBackend) del(ctx context.Context, service, account string) (bool, error) {
	err := k.call(ctx, "delete", func() error { return k.kr.Delete(service, account) })
	if errors.Is(err, keyring.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
