package rpc

// Why the loop is ours and not jsonrpc2.Conn's: Conn runs the handler
// inside its read loop and stops for good when the handler or the stream
// returns an error; it cannot stop reading on "exit" without closing the
// stream, cannot wait for handlers still running, and its CancelHandler
// drops numeric ids. The loop below is about as long as Conn.run and
// keeps jsonrpc2's message types (Call, Notification, Response, ID,
// Error) and its Stream interface, which our Stream implements.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/codex-auth/codex-auth/session"
)

// DefaultMaxInFlight bounds the requests handled at once; when that many
// are running the server stops reading until one finishes.
const DefaultMaxInFlight = 64

// Options configure NewServer.
type Options struct {
	// Name and Version go in initialize's serverInfo. Name is required.
	Name, Version string
	// MaxMessageBytes caps a message body; 0 means DefaultMaxMessageBytes.
	MaxMessageBytes int
	// MaxInFlight bounds concurrent requests; 0 means DefaultMaxInFlight.
	MaxInFlight int
	// Logger receives the server's logs (never a secret); nil discards.
	Logger *slog.Logger
	// Provider is the OpenID provider the service signs in to; nil for
	// Codex's sign-in. initialize names it, and the login types follow
	// it (rpc/provider.go).
	Provider *session.ProviderInfo
}

// Server serves the codex-auth protocol on one connection.
type Server struct {
	svc         Service
	name        string
	version     string
	maxMessage  int
	maxInFlight int
	log         *slog.Logger
	provider    *ProviderWire

	started atomic.Bool
	seq     atomic.Int32 // ids of our calls to the client

	mu           sync.Mutex
	state        lifecycle
	showDocument bool
	stream       *Stream
	inflight     map[string]context.CancelFunc      // by idKey
	pending      map[string]chan *jsonrpc2.Response // our calls, by idKey
	// early is the latest account/sessionInvalidated notified before
	// initialize (the policy check at start runs before the editor has
	// initialized); it is sent after initialized, once. nil when none.
	early *jsonrpc2.Notification
	// out sends the notifications (see outbox).
	out *outbox
	wg  sync.WaitGroup
}

// lifecycle is the LSP lifecycle state.
type lifecycle int

const (
	stateNew lifecycle = iota
	stateInitialized
	stateShutdown
	stateExited
)

// NewServer validates opts.
func NewServer(opts Options) (*Server, error) {
	if opts.Name == "" {
		return nil, errors.New("rpc: Options.Name is required")
	}
	if opts.MaxMessageBytes < 0 {
		return nil, fmt.Errorf("rpc: MaxMessageBytes %d is negative", opts.MaxMessageBytes)
	}
	if opts.MaxInFlight < 0 {
		return nil, fmt.Errorf("rpc: MaxInFlight %d is negative", opts.MaxInFlight)
	}
	s := &Server{
		name:        opts.Name,
		version:     opts.Version,
		maxMessage:  opts.MaxMessageBytes,
		maxInFlight: opts.MaxInFlight,
		log:         opts.Logger,
		provider:    toProviderWire(opts.Provider),
		inflight:    map[string]context.CancelFunc{},
		pending:     map[string]chan *jsonrpc2.Response{},
		out:         newOutbox(),
	}
	if s.maxMessage == 0 {
		s.maxMessage = DefaultMaxMessageBytes
	}
	if s.maxInFlight == 0 {
		s.maxInFlight = DefaultMaxInFlight
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Run serves one connection with svc answering the account methods: it
// reads in, writes out, and returns on the exit notification (0 after shutdown, 1 without), at end of input (0) or
// when ctx is done (0). Before returning it cancels the requests still
// running, closes in and out when they are io.Closers, and waits until no
// goroutine of the server is writing. Run may be called once.
func (s *Server) Run(ctx context.Context, svc Service, in io.Reader, out io.Writer) (exitCode int) {
	if !s.started.CompareAndSwap(false, true) {
		s.log.Error("Server.Run called twice")
		return 1
	}
	if svc == nil {
		s.log.Error("Server.Run without a service")
		return 1
	}
	s.svc = svc
	st := NewStream(in, out, StreamOptions{MaxMessageBytes: s.maxMessage, Logger: s.log})
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(ctx, func() { _ = st.Close() })
	defer stop()
	s.mu.Lock()
	s.stream = st
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.out.run(st.Done(), func(n *jsonrpc2.Notification) {
			if _, err := st.Write(context.Background(), n); err != nil {
				s.log.Debug("notification not sent", "method", n.Method(), "err", err)
			}
		})
	}()

	// The loop runs on its own goroutine: a read blocked on a pipe (the
	// editor's stdin) cannot be interrupted by closing it, and SIGTERM must
	// stop the server while the editor keeps stdin open. When ctx ends
	// first, the loop is left blocked in that read; it dispatches nothing
	// more (it checks ctx after every read) and the stream it would write
	// to is closed.
	loopDone := make(chan int, 1)
	go func() { loopDone <- s.loop(ctx, st) }()
	var code int
	select {
	case code = <-loopDone:
	case <-ctx.Done():
		s.log.Info("stopping: context done")
	}

	s.mu.Lock()
	s.state = stateExited
	s.mu.Unlock()
	cancel() // cancels running requests and closes the stream
	_ = st.Close()
	s.wg.Wait()
	return code
}

// loop reads and dispatches until exit, end of input or ctx done.
func (s *Server) loop(ctx context.Context, st *Stream) int {
	sem := make(chan struct{}, s.maxInFlight)
	for {
		msg, _, err := st.Read(ctx)
		if ctx.Err() != nil {
			return 0 // Run has stopped (and logged why)
		}
		if err != nil {
			s.log.Info("end of input", "err", err)
			return 0
		}
		switch m := msg.(type) {
		case *jsonrpc2.Call:
			if !s.admit(ctx, st, m) {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return 0
			}
			s.spawn(ctx, st, m, sem)
		case *jsonrpc2.Notification:
			if code, exit := s.notification(m); exit {
				return code
			}
		case *jsonrpc2.Response:
			s.response(m)
		}
	}
}

// admit answers inline what does not need a goroutine: the lifecycle
// requests and the requests the lifecycle state refuses. It reports
// whether m should run in its own goroutine.
func (s *Server) admit(ctx context.Context, st *Stream, m *jsonrpc2.Call) bool {
	s.mu.Lock()
	state := s.state
	s.mu.Unlock()
	switch {
	case m.Method() == MethodInitialize:
		result, err := s.initialize(m.Params())
		s.reply(ctx, st, m.ID(), result, err)
		return false
	case state == stateNew:
		s.reply(ctx, st, m.ID(), nil, newError(CodeServerNotInitialized, "the server is not initialized: send initialize first"))
		return false
	case state == stateShutdown:
		s.reply(ctx, st, m.ID(), nil, newError(CodeInvalidRequest, "invalid request: the server is shutting down"))
		return false
	case m.Method() == MethodShutdown:
		s.mu.Lock()
		s.state = stateShutdown
		s.mu.Unlock()
		s.log.Info("shutdown requested")
		s.reply(ctx, st, m.ID(), nil, nil)
		return false
	case m.Method() == MethodAccountRead && !wantsRefresh(m.Params()):
		// Answered from memory, never waiting on the network or a lock
		// (the Service's contract), so inline: a goroutine per status
		// call would cost more than the call (thread wake-ups).
		result, err := s.call(ctx, m.Method(), m.Params())
		s.reply(ctx, st, m.ID(), result, err)
		return false
	}
	return true
}

// wantsRefresh reports whether account/read params ask for a refresh (or
// cannot be read: the goroutine path then answers with the error).
func wantsRefresh(raw json.RawMessage) bool {
	var p AccountReadParams
	if err := decodeParams(raw, &p); err != nil {
		return true
	}
	return p.RefreshToken
}

// spawn runs one request in its own goroutine with a context that
// $/cancelRequest cancels.
func (s *Server) spawn(ctx context.Context, st *Stream, m *jsonrpc2.Call, sem chan struct{}) {
	key := idKey(m.ID())
	rctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	if s.state == stateExited {
		// Run has returned (ctx ended while this was being read).
		s.mu.Unlock()
		cancel()
		<-sem
		return
	}
	if _, dup := s.inflight[key]; dup {
		s.mu.Unlock()
		cancel()
		<-sem
		s.reply(ctx, st, m.ID(), nil, newError(CodeInvalidRequest, "invalid request: id %s is already in use by a request in flight", key))
		return
	}
	s.inflight[key] = cancel
	s.wg.Add(1) // under mu: Run sets stateExited under mu before it waits
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() { <-sem }()
		result, err := s.call(rctx, m.Method(), m.Params())
		s.mu.Lock()
		delete(s.inflight, key)
		s.mu.Unlock()
		if err != nil && rctx.Err() != nil {
			err = newError(CodeRequestCancelled, "request cancelled")
		}
		cancel()
		s.reply(ctx, st, m.ID(), result, err)
	}()
}

// call runs one request, turning a panic into an internal error.
func (s *Server) call(ctx context.Context, method string, params json.RawMessage) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in request handler", "method", method, "panic", fmt.Sprint(p))
			result, err = nil, newError(CodeInternalError, "internal error")
		}
	}()
	return s.dispatch(ctx, method, params)
}

// reply writes the answer to a request; err goes through wireError.
func (s *Server) reply(ctx context.Context, st *Stream, id jsonrpc2.ID, result any, err error) {
	var werr error
	if err != nil {
		werr = wireError(err, s.log)
		result = nil
	}
	raw, merr := encodeJSON(result)
	var resp *jsonrpc2.Response
	if merr == nil {
		resp, merr = jsonrpc2.NewResponse(id, raw, werr)
	}
	if merr != nil {
		s.log.Error("encoding a result", "err", merr)
		resp, _ = jsonrpc2.NewResponse(id, nil, newError(CodeInternalError, "internal error"))
	}
	s.out.wait(s.out.mark(), st.Done(), nil) // what was notified before it comes first
	if _, err := st.Write(context.WithoutCancel(ctx), resp); err != nil {
		s.log.Debug("reply not sent", "id", idKey(id), "err", err)
	}
}

// notification handles a client notification; exit reports "stop now".
func (s *Server) notification(m *jsonrpc2.Notification) (code int, exit bool) {
	switch method := m.Method(); {
	case method == MethodExit:
		s.mu.Lock()
		state := s.state
		s.mu.Unlock()
		if state == stateShutdown {
			s.log.Info("exit after shutdown")
			return 0, true
		}
		s.log.Info("exit without shutdown")
		return 1, true
	case method == MethodCancelRequest:
		s.cancelRequest(m.Params())
	case method == MethodInitialized:
		s.log.Debug("client initialized")
		s.sendEarly()
	case len(method) >= 2 && method[:2] == "$/":
		// Optional protocol notifications: ignored silently (LSP).
	default:
		s.log.Debug("unknown notification ignored", "method", method)
	}
	return 0, false
}

// cancelRequest cancels the request whose id the params name (LSP
// $/cancelRequest: {id: integer | string}).
func (s *Server) cancelRequest(params json.RawMessage) {
	var p struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		s.log.Debug("$/cancelRequest with bad params ignored")
		return
	}
	id, ok := parseID(p.ID)
	if !ok {
		s.log.Debug("$/cancelRequest without a usable id ignored")
		return
	}
	s.mu.Lock()
	cancel := s.inflight[idKey(id)]
	s.mu.Unlock()
	if cancel == nil {
		s.log.Debug("$/cancelRequest for a request not in flight", "id", idKey(id))
		return
	}
	cancel()
}

// response routes a client's response to the call waiting for it.
func (s *Server) response(m *jsonrpc2.Response) {
	key := idKey(m.ID())
	s.mu.Lock()
	ch := s.pending[key]
	delete(s.pending, key)
	s.mu.Unlock()
	if ch == nil {
		s.log.Warn("response to an id we never sent, dropped", "id", key)
		return
	}
	ch <- m // buffered, never blocks
}

// initializeParams is the part of LSP's InitializeParams we read. The
// rest of protocol.InitializeParams is not decoded: a client sending
// capabilities newer than protocol v0.12.0 knows must not fail initialize.
type initializeParams struct {
	ClientInfo   *protocol.ClientInfo `json:"clientInfo"`
	Capabilities struct {
		Window *struct {
			ShowDocument *protocol.ShowDocumentClientCapabilities `json:"showDocument"`
		} `json:"window"`
	} `json:"capabilities"`
	InitializationOptions *InitializationOptions `json:"initializationOptions"`
}

// initialize answers LSP's initialize and checks the protocol version.
func (s *Server) initialize(raw json.RawMessage) (any, error) {
	s.mu.Lock()
	state := s.state
	s.mu.Unlock()
	if state != stateNew {
		return nil, newError(CodeInvalidRequest, "invalid request: initialize was already received")
	}
	var p initializeParams
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	switch {
	case p.InitializationOptions == nil || p.InitializationOptions.ProtocolVersion == nil:
		s.log.Info("client states no protocol version; assuming " + ProtocolVersion)
	case majorOf(*p.InitializationOptions.ProtocolVersion) != majorOf(ProtocolVersion):
		v := *p.InitializationOptions.ProtocolVersion
		if len(v) > 32 {
			v = v[:32] + "..."
		}
		return nil, newError(CodeIncompatibleProtocol,
			"incompatible protocol: the client speaks codex-auth protocol version %q but this codex-auth (%s) speaks version %q; update the older of the two",
			v, s.version, ProtocolVersion)
	}
	var name, version string
	if p.ClientInfo != nil {
		name, version = p.ClientInfo.Name, p.ClientInfo.Version
	}
	s.svc.SetClient(name, version)
	show := p.Capabilities.Window != nil && p.Capabilities.Window.ShowDocument != nil && p.Capabilities.Window.ShowDocument.Support
	s.mu.Lock()
	s.state = stateInitialized
	s.showDocument = show
	s.mu.Unlock()
	s.log.Info("initialized", "client", name, "clientVersion", version, "showDocument", show)
	return protocol.InitializeResult{
		Capabilities: protocol.ServerCapabilities{
			Experimental: map[string]any{"codexAuth": CodexAuthCapabilities{
				ProtocolVersion: ProtocolVersion,
				Methods:         accountMethods,
				Notifications:   accountNotifications,
				Provider:        s.provider,
			}},
		},
		ServerInfo: &protocol.ServerInfo{Name: s.name, Version: s.version},
	}, nil
}

// majorOf is the part of a version before the first dot.
func majorOf(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] == '.' {
			return v[:i]
		}
	}
	return v
}

// The Server is the editor as the session sees it (session.Editor): its
// notifications and its window/showDocument.
var _ session.Editor = (*Server)(nil)

// AccountUpdated sends account/updated.
func (s *Server) AccountUpdated(e session.AccountUpdated) {
	s.notify(MethodAccountUpdated, toUpdatedParams(e))
}

// LoginCompleted sends account/login/completed.
func (s *Server) LoginCompleted(e session.LoginCompleted) {
	s.notify(MethodLoginCompleted, toCompletedParams(e))
}

// SessionInvalidated sends account/sessionInvalidated; the latest one
// before initialize is kept and sent after the client's initialized.
func (s *Server) SessionInvalidated(e session.Invalidation) {
	s.notify(MethodSessionInvalidated, toInvalidatedParams(e))
}

// AccountsUpdated sends accountSession/updated.
func (s *Server) AccountsUpdated(l session.AccountList) {
	s.notify(MethodAccountsUpdated, AccountSessionListOf(l))
}

// notify sends a notification when the connection is initialized and
// not exited, and drops it otherwise (logged), except that the latest
// account/sessionInvalidated before initialize is kept and sent after the
// client's initialized. It never waits for the client: the outbox writes
// (and coalesces account/updated and accountSession/updated while the
// client is not reading).
func (s *Server) notify(method string, params any) {
	raw, err := encodeJSON(params)
	var n *jsonrpc2.Notification
	if err == nil {
		n, err = jsonrpc2.NewNotification(method, raw)
	}
	if err != nil {
		s.log.Error("encoding a notification", "method", method, "err", err)
		return
	}
	s.mu.Lock()
	st, state := s.stream, s.state
	if state == stateNew && method == MethodSessionInvalidated {
		// Kept for the editor: why the session it may expect has ended.
		s.early = n
		s.mu.Unlock()
		s.log.Debug("notification kept until initialized", "method", method)
		return
	}
	if method == MethodSessionInvalidated {
		s.early = nil // superseded: the latest one only, in order
	}
	s.mu.Unlock()
	if st == nil || state == stateNew || state == stateExited {
		s.log.Debug("notification dropped: not initialized or exited", "method", method)
		return
	}
	s.out.push(n, coalesceKey(method))
}

// sendEarly sends the invalidation kept from before initialize, if any,
// once the client has said initialized.
func (s *Server) sendEarly() {
	s.mu.Lock()
	n, st, state := s.early, s.stream, s.state
	if state != stateInitialized {
		s.mu.Unlock()
		return
	}
	s.early = nil
	s.mu.Unlock()
	if n == nil || st == nil {
		return
	}
	s.out.push(n, neverCoalesced)
}

// ErrNotRunning is returned by ShowDocument when the connection is not
// initialized or has ended.
var ErrNotRunning = errors.New("rpc: the connection is not running")

// CanShowDocuments reports whether the editor advertised
// capabilities.window.showDocument.support in initialize: it opens pages
// where the user is (VS Code Remote forwards them to the local machine).
func (s *Server) CanShowDocuments() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.showDocument
}

// ShowDocument asks the editor to open uri in the external browser with
// LSP's window/showDocument {uri, external:true}. It returns false
// without sending anything when the client did not advertise
// capabilities.window.showDocument.support; otherwise it returns the
// client's success flag.
func (s *Server) ShowDocument(ctx context.Context, uri string) (bool, error) {
	s.mu.Lock()
	st, state, supported := s.stream, s.state, s.showDocument
	s.mu.Unlock()
	if st == nil || state == stateNew || state == stateExited {
		return false, ErrNotRunning
	}
	if !supported {
		return false, nil
	}
	id := jsonrpc2.NewNumberID(s.seq.Add(1))
	key := idKey(id)
	raw, err := encodeJSON(protocol.ShowDocumentParams{URI: protocol.URI(uri), External: true})
	var call *jsonrpc2.Call
	if err == nil {
		call, err = jsonrpc2.NewCall(id, MethodShowDocument, raw)
	}
	if err != nil {
		return false, fmt.Errorf("rpc: encoding window/showDocument: %w", err)
	}
	ch := make(chan *jsonrpc2.Response, 1)
	s.mu.Lock()
	s.pending[key] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, key)
		s.mu.Unlock()
	}()
	s.out.wait(s.out.mark(), ctx.Done(), st.Done())
	if _, err := st.Write(ctx, call); err != nil {
		return false, fmt.Errorf("rpc: sending window/showDocument: %w", err)
	}
	select {
	case resp := <-ch:
		if resp.Err() != nil {
			return false, fmt.Errorf("rpc: window/showDocument failed: %w", resp.Err())
		}
		var r protocol.ShowDocumentResult
		if err := json.Unmarshal(resp.Result(), &r); err != nil {
			return false, fmt.Errorf("rpc: window/showDocument result: %w", err)
		}
		return r.Success, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-st.Done():
		return false, ErrNotRunning
	}
}
