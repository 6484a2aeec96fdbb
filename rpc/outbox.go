package rpc

import (
	"sync"

	"go.lsp.dev/jsonrpc2"
)

// outboxBacklog is how many notifications may wait before account/updated
// and accountSession/updated are coalesced: below it the editor is
// reading, and it hears every one.
const outboxBacklog = 8

// outbox sends the server's notifications in order on a goroutine of its
// own, so that the session never waits for an editor that stops reading
// stdout. While notifications back up (outboxBacklog waiting), a new
// account/updated replaces the account/updated still waiting, and a new
// accountSession/updated the accountSession/updated (the latest state
// wins, told last); account/login/completed and account/sessionInvalidated are
// never dropped. A reply, or a request of ours, is written only once
// every notification queued before it has been (see flushed), so the
// editor sees them in the order they happened.
type outbox struct {
	mu       sync.Mutex
	queue    []outgoing
	writing  uint64 // seq of the one being written, 0 when none
	next     uint64 // seq of the last pushed
	progress chan struct{}
	wake     chan struct{}
}

// outgoing is one queued notification.
type outgoing struct {
	seq uint64
	n   *jsonrpc2.Notification
	key coalescing
}

// coalescing says which queued notifications a new one replaces once
// they back up: those of the same key (a method whose latest state is all
// the editor needs); neverCoalesced, none.
type coalescing string

const neverCoalesced coalescing = ""

// coalesceKey is method's coalescing: account/updated and
// accountSession/updated carry a state, the latest of which wins; the
// others are events, never dropped.
func coalesceKey(method string) coalescing {
	switch method {
	case MethodAccountUpdated, MethodAccountsUpdated:
		return coalescing(method)
	}
	return neverCoalesced
}

func newOutbox() *outbox {
	return &outbox{progress: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// push queues n, replacing the queued ones of the same key once they back
// up.
func (o *outbox) push(n *jsonrpc2.Notification, key coalescing) {
	o.mu.Lock()
	o.next++
	if key != neverCoalesced && len(o.queue) >= outboxBacklog {
		kept := o.queue[:0]
		for _, q := range o.queue {
			if q.key == key {
				continue
			}
			kept = append(kept, q)
		}
		clear(o.queue[len(kept):])
		o.queue = kept
		o.advance()
	}
	o.queue = append(o.queue, outgoing{seq: o.next, n: n, key: key})
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// mark is the seq of the last notification pushed.
func (o *outbox) mark() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.next
}

// flushed reports whether every notification pushed up to seq has been
// written (or superseded), and a channel closed at the next progress.
func (o *outbox) flushed(seq uint64) (bool, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	pending := o.writing
	if pending == 0 && len(o.queue) > 0 {
		pending = o.queue[0].seq
	}
	return pending == 0 || pending > seq, o.progress
}

// wait blocks until every notification pushed up to seq has been written,
// or one of stop is closed (a nil one never is).
func (o *outbox) wait(seq uint64, stop1, stop2 <-chan struct{}) {
	for {
		ok, progress := o.flushed(seq)
		if ok {
			return
		}
		select {
		case <-progress:
		case <-stop1:
			return
		case <-stop2:
			return
		}
	}
}

// advance wakes the waiters. The caller holds mu.
func (o *outbox) advance() {
	close(o.progress)
	o.progress = make(chan struct{})
}

// run writes the queue with write until done is closed.
func (o *outbox) run(done <-chan struct{}, write func(*jsonrpc2.Notification)) {
	for {
		o.mu.Lock()
		if len(o.queue) == 0 {
			o.mu.Unlock()
			select {
			case <-o.wake:
				continue
			case <-done:
				return
			}
		}
		q := o.queue[0]
		o.queue[0] = outgoing{}
		o.queue = o.queue[1:]
		o.writing = q.seq
		o.mu.Unlock()

		write(q.n)

		o.mu.Lock()
		o.writing = 0
		o.advance()
		o.mu.Unlock()
		select {
		case <-done:
			return
		default:
		}
	}
}
