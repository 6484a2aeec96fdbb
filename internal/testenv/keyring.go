// A usable Secret Service (or native) keyring for tests, probed under a timeout.

package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

const keyringHowTo = "run the tests under scripts/with-keyring.sh (make test does)"

// KeyringProbeTimeout bounds the keyring probe: a locked Secret Service can
// block a call forever.
const KeyringProbeTimeout = 3 * time.Second

// keyringOK remembers, per process, the D-Bus sessions already probed.
var keyringOK sync.Map // DBUS_SESSION_BUS_ADDRESS -> struct{}

// Keyring makes sure the OS keyring works: on Linux and other Unix systems
// a D-Bus session (DBUS_SESSION_BUS_ADDRESS) with a Secret Service, probed
// by setting, reading and deleting a throwaway item through go-keyring
// within KeyringProbeTimeout. If it does not work, Keyring reports it
// through Missing.
func Keyring(t testing.TB) {
	t.Helper()
	bus := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if runtime.GOOS != "darwin" && runtime.GOOS != "windows" && bus == "" {
		Missing(t, "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset), so no Secret Service keyring", keyringHowTo)
	}
	if _, ok := keyringOK.Load(bus); ok {
		return
	}
	if err := probeKeyring(KeyringProbeTimeout); err != nil {
		Missing(t, "the keyring does not work: "+err.Error(), keyringHowTo)
	}
	keyringOK.Store(bus, struct{}{})
}

// errKeyringTimeout means a keyring call did not return in time.
var errKeyringTimeout = errors.New("keyring call timed out")

// probeKeyring sets, reads back and deletes a random item. A call still
// blocked at the timeout is left running in its goroutine.
func probeKeyring(timeout time.Duration) error {
	b := make([]byte, 8)
	rand.Read(b)
	service, user, value := "codex-auth testenv probe", "probe-"+hex.EncodeToString(b), "probe value"
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			if err := keyring.Set(service, user, value); err != nil {
				return fmt.Errorf("set: %w", err)
			}
			got, err := keyring.Get(service, user)
			if err != nil {
				return fmt.Errorf("get: %w", err)
			}
			if got != value {
				return errors.New("get: read back a different value")
			}
			if err := keyring.Delete(service, user); err != nil {
				return fmt.Errorf("delete: %w", err)
			}
			return nil
		}()
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return fmt.Errorf("%w after %v (a locked or absent Secret Service?)", errKeyringTimeout, timeout)
	}
}
