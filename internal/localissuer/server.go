package localissuer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Errors from the Go API and the admin endpoints.
var (
	// ErrUnknownUser: no configured user has that email.
	ErrUnknownUser = errors.New("issuer: unknown user")
	// ErrUnknownUserCode: no device code has that user code.
	ErrUnknownUserCode = errors.New("issuer: unknown user code")
	// ErrDeviceExpired: the device code outlived Config.DeviceCodeTTL.
	ErrDeviceExpired = errors.New("issuer: device code expired")
	// ErrDeviceDecided: the device code was already approved or denied.
	ErrDeviceDecided = errors.New("issuer: device code already approved or denied")
	// ErrUnknownToken: the refresh token was never issued.
	ErrUnknownToken = errors.New("issuer: unknown refresh token")
	// ErrStarted: Start or StartTLS was already called.
	ErrStarted = errors.New("issuer: already started")
)

// Stats are the issuer's counters (GET /debug/stats).
type Stats struct {
	CodesIssued     int `json:"codes_issued"`
	CodesRedeemed   int `json:"codes_redeemed"`
	Refreshes       int `json:"refreshes"`
	ReuseDetections int `json:"reuse_detections"`
	Revocations     int `json:"revocations"`
	DeviceCodes     int `json:"device_codes"`
	DeviceApprovals int `json:"device_approvals"`
	DeviceDenials   int `json:"device_denials"`
	APIKeyExchanges int `json:"api_key_exchanges"`
	TokenErrors     int `json:"token_errors"`
	WhoamiCalls     int `json:"whoami_calls"`
	// RedirectsServed counts FaultRedirect's answers; RedirectsFollowed
	// the requests that came after one (a client must never follow).
	RedirectsServed   int `json:"redirects_served"`
	RedirectsFollowed int `json:"redirects_followed"`
}

// authCode is an issued authorization code (RFC 6749 section 4.1.2).
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	user        User
	expires     time.Time
	used        bool
	family      string // set once redeemed
}

// refreshToken is one refresh token of a family (one login).
type refreshToken struct {
	family  string
	user    User
	expires time.Time
	used    bool
}

// family is every refresh token descended from one login.
type family struct {
	revoked bool
}

// deviceState is where a device code stands.
type deviceState int

const (
	devicePending deviceState = iota
	deviceApproved
	deviceDenied
)

// deviceAuth is one device-code login.
type deviceAuth struct {
	id       string
	userCode string
	expires  time.Time
	state    deviceState
	code     string // authorization code once approved
	verifier string
	issuer   string
}

// Server is the local issuer. Its methods are safe for concurrent use.
type Server struct {
	cfg Config
	key *rsa.PrivateKey
	kid string
	mux *http.ServeMux

	closed    chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	base      string // set by Start/StartTLS; else derived from each request
	srv       *http.Server
	user      int
	offset    time.Duration
	faults    Faults
	codes     map[string]*authCode
	refresh   map[string]*refreshToken
	families  map[string]*family
	devices   map[string]*deviceAuth // by device_auth_id
	userCodes map[string]string      // user code -> device_auth_id
	pending   map[string]pendingAuthorize
	stats     Stats
	// revokedAccessTokens are the access tokens whoami rejects.
	revokedAccessTokens map[string]bool
	// ledger records every secret (nil without Config.Ledger).
	ledger *ledger
}

// New validates cfg and builds a Server (generating an RS256 key unless
// cfg.SigningKey is set). It serves nothing until Start or Handler.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	key := cfg.SigningKey
	if key == nil {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("issuer: generating the signing key: %w", err)
		}
	}
	s := &Server{
		cfg:       cfg,
		key:       key,
		kid:       keyID(&key.PublicKey),
		closed:    make(chan struct{}),
		faults:    append(Faults(nil), cfg.Faults...),
		codes:     map[string]*authCode{},
		refresh:   map[string]*refreshToken{},
		families:  map[string]*family{},
		devices:   map[string]*deviceAuth{},
		userCodes: map[string]string{},
		pending:   map[string]pendingAuthorize{},

		revokedAccessTokens: map[string]bool{},
		ledger:              newLedger(cfg.Ledger),
	}
	s.mux = s.routes()
	return s, nil
}

// routes builds the endpoint mux.
func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/oauth/authorize", s.handleAuthorize)
	m.HandleFunc("/oauth/token", s.handleToken)
	m.HandleFunc("/oauth/revoke", s.handleRevoke)
	m.HandleFunc(pathDeviceUserCode, s.handleDeviceUserCode)
	m.HandleFunc(pathDeviceToken, s.handleDeviceToken)
	m.HandleFunc("/codex/device", s.handleDevicePage)
	m.HandleFunc("/deviceauth/callback", s.handleDeviceCallback)
	m.HandleFunc("/.well-known/openid-configuration", s.handleDiscovery)
	m.HandleFunc("/.well-known/jwks.json", s.handleJWKS)
	m.HandleFunc(PathWhoami, s.handleWhoami)
	s.debugRoutes(m)
	return m
}

// Handler serves every endpoint (with faults applied, /debug/ excepted),
// for use under an httptest.Server or any other listener.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/debug/") {
			s.mux.ServeHTTP(w, r)
			return
		}
		s.serveWithFaults(w, r, s.mux)
	})
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves plain HTTP in the
// background; it returns the base URL ("http://127.0.0.1:PORT").
func (s *Server) Start(addr string) (string, error) {
	return s.start(addr, nil)
}

// StartTLS is Start over TLS with cert; the base URL is https and names
// the listening address (cert must cover it).
func (s *Server) StartTLS(addr string, cert tls.Certificate) (string, error) {
	return s.start(addr, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
}

func (s *Server) start(addr string, tc *tls.Config) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return "", ErrStarted
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("issuer: %w", err)
	}
	scheme := "http"
	if tc != nil {
		scheme = "https"
		tc.NextProtos = []string{"h2", "http/1.1"}
		ln = tls.NewListener(ln, tc)
	}
	s.base = scheme + "://" + ln.Addr().String()
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         tc,
		ErrorLog:          log.New(io.Discard, "", 0), // handshake noise; faults abort on purpose
	}
	srv := s.srv
	go func() { _ = srv.Serve(ln) }()
	return s.base, nil
}

// BaseURL is the URL Start returned ("" before Start).
func (s *Server) BaseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base
}

// Close stops serving, ends hung requests and closes every connection.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// Shutdown stops serving gracefully, waiting for requests in flight until
// ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.closed) })
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

// ClientID is the client id it accepts (Config.ClientID, or Codex's by
// default).
func (s *Server) ClientID() string { return s.cfg.ClientID }

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// LedgerErr is the first error writing to Config.Ledger (nil when every
// secret was written, or without a ledger). After one, nothing more is
// recorded.
func (s *Server) LedgerErr() error {
	return s.ledger.failure()
}

// SetFaults replaces the armed faults.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(Faults(nil), f...)
	return nil
}

// ArmedFaults returns the faults still armed (count-limited ones drop out
// once used up).
func (s *Server) ArmedFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(Faults{}, s.faults...)
}

// SetNextUser makes the user with this email the one every following
// login signs in as.
func (s *Server) SetNextUser(email string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, u := range s.cfg.Users {
		if u.Email == email {
			s.user = i
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrUnknownUser, email)
}

// Advance moves the issuer's clock forward by d (tokens and device codes
// expire against it).
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// ApproveDevice approves the device code with this user code for the
// current user, as POST /codex/device does.
func (s *Server) ApproveDevice(userCode string) error {
	return s.decideDevice(userCode, true)
}

// DenyDevice denies the device code with this user code.
func (s *Server) DenyDevice(userCode string) error {
	return s.decideDevice(userCode, false)
}

// RevokeFamily revokes every refresh token of the login refreshToken
// belongs to, as the server does on reuse detection.
func (s *Server) RevokeFamily(refreshToken string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[refreshToken]
	if !ok {
		return ErrUnknownToken
	}
	s.families[rt.family].revoked = true
	return nil
}

// RevokeAll revokes every refresh token issued so far.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.families {
		f.revoked = true
	}
}

// nowLocked is the issuer's clock; s.mu must be held.
func (s *Server) nowLocked() time.Time {
	return s.cfg.Now().Add(s.offset)
}

// currentUserLocked is the user logins sign in as.
func (s *Server) currentUserLocked() User {
	return s.cfg.Users[s.user]
}

// userByEmailLocked finds a configured user.
func (s *Server) userByEmailLocked(email string) (User, bool) {
	for _, u := range s.cfg.Users {
		if u.Email == email {
			return u, true
		}
	}
	return User{}, false
}

// issuerURL is the issuer's base URL as the client of r addressed it
// (its scheme and Host), so iss and the device redirect_uri match the URL
// the client was configured with.
func (s *Server) issuerURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// randomToken returns prefix followed by 26 random base32 characters.
func randomToken(prefix string) string {
	return prefix + rand.Text()
}
