package watch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Change says what kind of watched thing changed; several at once when a
// burst touched both.
type Change struct {
	// Auth: auth.json (or the polled keyring entry) may have changed.
	Auth bool
	// Config: a configuration layer may have changed.
	Config bool
	// Accounts: the saved accounts' index may have changed.
	Accounts bool
}

// or is every kind of change in c or d.
func (c Change) or(d Change) Change {
	return Change{Auth: c.Auth || d.Auth, Config: c.Config || d.Config, Accounts: c.Accounts || d.Accounts}
}

// Defaults for Options.
const (
	DefaultDebounce = 10 * time.Millisecond
	DefaultPoll     = 2 * time.Second
	DefaultRecover  = 500 * time.Millisecond
	// defaultWatchMaxDelayX: MaxDelay defaults to this many Debounces.
	defaultWatchMaxDelayX = 10
	watchAuthFile         = "auth.json"
	watchHomeConfigFile   = "config.toml"
)

// Options configure a Watcher.
type Options struct {
	// Dir is CODEX_HOME; auth.json and config.toml in it are watched. It
	// may not exist yet (the default home is created on first save) or be
	// removed and re-created. "" watches no home (poll only).
	Dir string
	// Files are more configuration files to watch (e.g.
	// /etc/codex/managed_config.toml): their parent directories are
	// watched and events filtered by name.
	Files []string
	// AuthFiles are more files holding the credentials (the encrypted
	// secrets file), watched the same way; a change is an Auth change.
	AuthFiles []string
	// AccountsFiles are the saved accounts' index (account-sessions.json),
	// watched the same way; a change is an Accounts change.
	AccountsFiles []string
	// Debounce is the quiet time that ends a burst of events (default
	// 10ms): a Codex write is create temp + write + rename, and an
	// in-place writer's truncate + write must not be seen half done.
	Debounce time.Duration
	// MaxDelay caps how long a constant stream of events can hold a
	// change back (default 10 × Debounce).
	MaxDelay time.Duration
	// Poll, when set, reads the keyring entry (nil bytes when absent).
	// It is called once when Run starts, for a baseline, then every
	// PollInterval; a change of the bytes' SHA-256 is an Auth change. An
	// error is logged and skipped. The bytes are never kept or logged.
	Poll func(ctx context.Context) ([]byte, error)
	// PollInterval defaults to 2s: Secret Service does not expose changes.
	PollInterval time.Duration
	// RecoverInterval is how often a missing watched directory is looked
	// for (default 500ms). Its parent is watched too when it exists, so a
	// re-creation is usually seen at once; this poll is the fallback for
	// a parent that is itself missing.
	RecoverInterval time.Duration
	// OnChange is called from Run's goroutine, one call at a time, after a
	// burst ends. Events during a call are coalesced into the next one.
	OnChange func(Change)
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Watcher reports changes to the shared credential cache and the
// configuration layers. Create it with New and call Run once.
type Watcher struct {
	// resync: report the next poll as a change (see Resync).
	resync atomic.Bool
	opts   Options
	log    *slog.Logger
	// dirs maps each watched directory to the file names relevant in it.
	dirs    map[string]map[string]Change
	ready   chan struct{}
	started atomic.Bool
	// trace, when set (tests), hears "lost" and "back" for a watched
	// directory that went away or came back.
	trace func(what, dir string)
}

// New validates opts and fills in defaults. It does no I/O.
func New(opts Options) (*Watcher, error) {
	if opts.OnChange == nil {
		return nil, errors.New("watch: OnChange is required")
	}
	if opts.Debounce < 0 || opts.MaxDelay < 0 || opts.PollInterval < 0 || opts.RecoverInterval < 0 {
		return nil, errors.New("watch: negative duration")
	}
	if opts.Debounce == 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.MaxDelay == 0 {
		opts.MaxDelay = defaultWatchMaxDelayX * opts.Debounce
	}
	opts.MaxDelay = max(opts.MaxDelay, opts.Debounce)
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPoll
	}
	if opts.RecoverInterval == 0 {
		opts.RecoverInterval = DefaultRecover
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	w := &Watcher{opts: opts, log: opts.Logger, dirs: map[string]map[string]Change{}, ready: make(chan struct{})}
	add := func(path string, c Change) error {
		abs, err := filepath.Abs(path)
		if err != nil {
			return fmt.Errorf("watch: %s: %w", path, err)
		}
		dir, name := filepath.Dir(abs), filepath.Base(abs)
		if w.dirs[dir] == nil {
			w.dirs[dir] = map[string]Change{}
		}
		w.dirs[dir][name] = w.dirs[dir][name].or(c)
		return nil
	}
	if opts.Dir != "" {
		if err := add(filepath.Join(opts.Dir, watchAuthFile), Change{Auth: true}); err != nil {
			return nil, err
		}
		if err := add(filepath.Join(opts.Dir, watchHomeConfigFile), Change{Config: true}); err != nil {
			return nil, err
		}
	}
	for _, f := range opts.Files {
		if f == "" {
			continue
		}
		if err := add(f, Change{Config: true}); err != nil {
			return nil, err
		}
	}
	for _, f := range opts.AuthFiles {
		if f == "" {
			continue
		}
		if err := add(f, Change{Auth: true}); err != nil {
			return nil, err
		}
	}
	for _, f := range opts.AccountsFiles {
		if f == "" {
			continue
		}
		if err := add(f, Change{Accounts: true}); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// watchState is Run's bookkeeping, owned by Run's goroutine.
type watchState struct {
	fw *fsnotify.Watcher
	// missing: watched directories that do not exist now.
	missing map[string]bool
	// parents: directories watched only to see a missing child come back.
	parents map[string]bool
}

// Resync makes the next keyring poll report a change even when the
// entry's bytes equal the last poll's. The Manager calls it after its own
// writes: a change of its own that another process undoes within one poll
// interval (log in, then `secret-tool clear`) leaves the bytes as they
// were at the last poll, yet the editor was told of the first change.
func (w *Watcher) Resync() { w.resync.Store(true) }

// Ready is closed once Run has its watches in place and the first poll
// done: a change after that is reported. Load the state to compare
// against after Ready, so that no change falls between the two.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Run watches until ctx ends, then returns nil. It fails only when file
// watching cannot start at all, or when called a second time.
func (w *Watcher) Run(ctx context.Context) error {
	if w.started.Swap(true) {
		return errors.New("watch: Run called twice")
	}
	var (
		events <-chan fsnotify.Event
		errs   <-chan error
		st     = watchState{missing: map[string]bool{}, parents: map[string]bool{}}
	)
	if len(w.dirs) > 0 {
		fw, err := fsnotify.NewBufferedWatcher(256)
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		// Closed in the background: closing an inotify descriptor waits
		// for a kernel grace period (about 10 ms measured here), which
		// would otherwise delay every exit of the sidecar.
		defer func() { go fw.Close() }()
		st.fw, events, errs = fw, fw.Events, fw.Errors
		for dir := range w.dirs {
			if err := fw.Add(dir); err != nil {
				w.lost(&st, dir)
			}
		}
	}

	var polled <-chan struct{}
	if w.opts.Poll != nil {
		ch := make(chan struct{}, 1)
		polled = ch
		pctx, cancel := context.WithCancel(ctx)
		done, based := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			w.pollLoop(pctx, ch, based)
		}()
		defer func() { cancel(); <-done }()
		select {
		case <-based:
		case <-ctx.Done():
			return nil
		}
	}
	close(w.ready)

	var (
		deb     watchDebounce
		timer   = time.NewTimer(time.Hour)
		recTick *time.Ticker
		recC    <-chan time.Time
	)
	timer.Stop()
	defer timer.Stop()
	defer func() {
		if recTick != nil {
			recTick.Stop()
		}
	}()
	add := func(c Change) {
		if c == (Change{}) {
			return
		}
		at := deb.add(c, time.Now(), w.opts.Debounce, w.opts.MaxDelay)
		timer.Reset(time.Until(at))
	}
	for {
		// The recovery ticker runs only while a directory is missing.
		switch {
		case len(st.missing) > 0 && recTick == nil:
			recTick = time.NewTicker(w.opts.RecoverInterval)
			recC = recTick.C
		case len(st.missing) == 0 && recTick != nil:
			recTick.Stop()
			recTick, recC = nil, nil
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			add(w.event(&st, ev))
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost: anything may have changed.
				add(Change{Auth: true, Config: true})
			}
			w.log.Warn("file watch error", "err", err)
		case <-polled:
			add(Change{Auth: true})
		case <-recC:
			for dir := range st.missing {
				add(w.retry(&st, dir))
			}
		case <-timer.C:
			if c, ok := deb.take(); ok {
				w.opts.OnChange(c)
			}
		}
	}
}

// event turns one fsnotify event into the change it stands for.
func (w *Watcher) event(st *watchState, ev fsnotify.Event) Change {
	if names, ok := w.dirs[ev.Name]; ok && !st.missing[ev.Name] && ev.Op.Has(fsnotify.Remove|fsnotify.Rename) {
		// A watched directory itself went away (or was moved, which
		// leaves the inotify watch on the moved inode: drop it).
		_ = st.fw.Remove(ev.Name)
		w.lost(st, ev.Name)
		return watchAll(names)
	}
	if st.missing[ev.Name] && ev.Op.Has(fsnotify.Create) {
		return w.retry(st, ev.Name)
	}
	if ev.Op == fsnotify.Chmod {
		return Change{} // contents unchanged
	}
	dir, name := filepath.Dir(ev.Name), filepath.Base(ev.Name)
	// Temp files (.auth-*), auth.lock and auth.json.lock are not in the
	// map, so they are ignored here.
	return w.dirs[dir][name]
}

// lost records a watched directory as missing and watches its parent for
// its return.
func (w *Watcher) lost(st *watchState, dir string) {
	w.log.Debug("watched directory missing", "dir", dir)
	w.note("lost", dir)
	st.missing[dir] = true
	parent := filepath.Dir(dir)
	if _, primary := w.dirs[parent]; primary || st.parents[parent] || parent == dir {
		return
	}
	if err := st.fw.Add(parent); err == nil {
		st.parents[parent] = true
	}
	// The directory may have come back before the parent watch started.
	w.retry(st, dir)
}

// retry tries to watch a missing directory again; on success the parent
// watch is dropped and everything in the directory counts as changed.
func (w *Watcher) retry(st *watchState, dir string) Change {
	if !st.missing[dir] {
		return Change{}
	}
	if err := st.fw.Add(dir); err != nil {
		parent := filepath.Dir(dir)
		if _, primary := w.dirs[parent]; !primary && !st.parents[parent] && parent != dir {
			if st.fw.Add(parent) == nil {
				st.parents[parent] = true
			}
		}
		return Change{}
	}
	delete(st.missing, dir)
	w.log.Debug("watched directory back", "dir", dir)
	w.note("back", dir)
	parent := filepath.Dir(dir)
	if st.parents[parent] && !w.parentNeeded(st, parent) {
		_ = st.fw.Remove(parent)
		delete(st.parents, parent)
	}
	return watchAll(w.dirs[dir])
}

// note tells the test trace, if any.
func (w *Watcher) note(what, dir string) {
	if w.trace != nil {
		w.trace(what, dir)
	}
}

// parentNeeded reports whether another missing directory waits on parent.
func (w *Watcher) parentNeeded(st *watchState, parent string) bool {
	for d := range st.missing {
		if filepath.Dir(d) == parent {
			return true
		}
	}
	return false
}

// watchAll is every kind of change the names in a directory stand for.
func watchAll(names map[string]Change) Change {
	var c Change
	for _, k := range names {
		c = c.or(k)
	}
	return c
}

// pollLoop calls Poll at start and every PollInterval, and signals on ch
// when the SHA-256 of the bytes changes.
// based is closed after the first poll.
func (w *Watcher) pollLoop(ctx context.Context, ch chan<- struct{}, based chan<- struct{}) {
	var (
		last [sha256.Size]byte
		have bool
	)
	poll := func() {
		b, err := w.opts.Poll(ctx)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Debug("keyring poll failed", "err", err)
			}
			return
		}
		sum := sha256.Sum256(b)
		force := w.resync.Swap(false)
		if have && (sum != last || force) {
			select {
			case ch <- struct{}{}:
			default: // a signal is already pending
			}
		}
		last, have = sum, true
	}
	poll()
	close(based)
	t := time.NewTicker(w.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			poll()
		}
	}
}

// watchDebounce coalesces a burst of changes: the burst ends after a quiet
// Debounce, or MaxDelay after its first event, whichever comes first.
type watchDebounce struct {
	pending Change
	first   time.Time
	active  bool
}

// add merges c and returns when the burst should be delivered.
func (d *watchDebounce) add(c Change, now time.Time, debounce, maxDelay time.Duration) time.Time {
	if !d.active {
		d.active, d.first = true, now
	}
	d.pending = d.pending.or(c)
	at := now.Add(debounce)
	if limit := d.first.Add(maxDelay); limit.Before(at) {
		at = limit
	}
	return at
}

// take returns the pending change and starts a new burst.
func (d *watchDebounce) take() (Change, bool) {
	c, ok := d.pending, d.active
	*d = watchDebounce{}
	return c, ok
}
