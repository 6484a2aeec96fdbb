package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// The registered clients and the user.
const (
	// PublicClient is a native, public client (no secret, PKCE; RFC 8252
	// section 8.4) with loopback redirects http://127.0.0.1/callback and
	// http://[::1]/callback, any port (section 7.3), allowed the code,
	// refresh_token and device_code grants.
	PublicClient = "codex-auth-native"
	// OtherClient is a second public client like PublicClient: a token
	// issued to one is for another audience at the other.
	OtherClient = "other-native"
	// ConfidentialClient authenticates with ConfidentialSecret
	// (client_secret_basic), same grants and redirects.
	ConfidentialClient = "codex-auth-web"
	// ConfidentialSecret is ConfidentialClient's secret.
	ConfidentialSecret = "web-secret"

	// Username and Password sign in on the provider's pages. The user's
	// id (the sub claim) is UserID, the same as Username: the example's
	// device page makes the username the subject, its browser login the
	// id.
	Username = "alice"
	Password = "correct horse battery staple"
	UserID   = Username
	// UserEmail and UserName are the user's email and name claims.
	UserEmail = "alice@example.com"
	UserName  = "Alice Liddell"
)

// RedirectPath is the path of the registered loopback redirects.
const RedirectPath = "/callback"

// Server is a running provider. Its URL is the issuer.
type Server struct {
	// URL is the issuer identifier, http://127.0.0.1:PORT (no trailing
	// slash), as the discovery document gives it.
	URL string

	srv   *httptest.Server
	store *store

	mu   sync.Mutex
	hits map[string]int
}

// Start runs a provider until t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	return start(t, hs, "http://"+hs.Listener.Addr().String())
}

// start runs the provider on hs (not started yet) with the issuer
// identifier issuer: hs's own URL, or a proxy's in front of it.
func start(t testing.TB, hs *httptest.Server, issuer string) *Server {
	t.Helper()
	s := &Server{URL: issuer, srv: hs, hits: map[string]int{}}
	redirects := []string{"http://127.0.0.1" + RedirectPath, "http://[::1]" + RedirectPath}
	native := storage.NativeClient(PublicClient, redirects...)
	other := storage.NativeClient(OtherClient, redirects...)
	web := storage.WebClient(ConfidentialClient, ConfidentialSecret, redirects...)
	clients := map[string]*storage.Client{PublicClient: native, OtherClient: other, ConfidentialClient: web}
	users, err := userStore(t)
	if err != nil {
		t.Fatal(err)
	}
	s.store = &store{
		Storage: storage.NewStorageWithClients(users, clients),
		device:  []string{PublicClient, OtherClient, ConfidentialClient},
	}
	if err := s.store.rotate(); err != nil {
		t.Fatal(err)
	}
	router := exampleop.SetupServer(s.URL, s.store, nil, false)
	hs.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		router.ServeHTTP(w, r)
	})
	hs.Start()
	t.Cleanup(hs.Close)
	return s
}

// userStore is the example's user store, read from a file as the example
// does (storage.StoreFromFile), with the one user.
func userStore(t testing.TB) (storage.UserStore, error) {
	users := map[string]storage.User{UserID: {
		ID: UserID, Username: Username, Password: Password,
		FirstName: "Alice", LastName: "Liddell",
		Email: UserEmail, EmailVerified: true,
		PreferredLanguage: language.English,
	}}
	data, err := json.Marshal(users)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, err
	}
	return storage.StoreFromFile(path)
}

// Close stops the provider: from then on its port refuses connections.
func (s *Server) Close() { s.srv.Close() }

// Hits counts the requests made to path (such as "/keys" or
// "/.well-known/openid-configuration").
func (s *Server) Hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// RotateKey makes a new signing key (a new kid) that signs every token
// from now on; the old keys stay published, as providers do.
func (s *Server) RotateKey() error { return s.store.rotate() }

// KeyID is the kid tokens are signed with now.
func (s *Server) KeyID() string {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	return s.store.keys[len(s.store.keys)-1].id
}

// store is the example's storage with the device grant and key rotation.
type store struct {
	*storage.Storage
	device []string

	mu   sync.Mutex
	keys []*signingKey // the last one signs
}

// GetClientByClientID gives the example's client, allowed the device
// grant too for the test clients.
func (s *store) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil || !slices.Contains(s.device, id) {
		return c, err
	}
	if c.ApplicationType() == op.ApplicationTypeNative {
		return deviceClient{c}, nil
	}
	// zitadel matches loopback redirects on any port only for native
	// clients (RFC 8252 section 7.3); a web client gets the same through
	// redirect globs.
	return webClient{deviceClient{c}}, nil
}

// CreateAccessAndRefreshTokens is the example's, with a device grant's
// client and subject carried as the example carries a code flow's.
func (s *store) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	if d, ok := req.(*op.DeviceAuthorizationState); ok && current == "" {
		req = &storage.AuthRequest{ApplicationID: d.ClientID, UserID: d.Subject, Scopes: d.Scopes}
	}
	return s.Storage.CreateAccessAndRefreshTokens(ctx, req, current)
}

type deviceClient struct{ op.Client }

func (c deviceClient) GrantTypes() []oidc.GrantType {
	return append(slices.Clone(c.Client.GrantTypes()), oidc.GrantTypeDeviceCode)
}

type webClient struct{ deviceClient }

func (webClient) RedirectURIGlobs() []string {
	return []string{"http://127.0.0.1:*" + RedirectPath, "http://[[]::1]:*" + RedirectPath}
}

func (webClient) PostLogoutRedirectURIGlobs() []string { return nil }

func (s *store) rotate() error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, &signingKey{id: "key-" + strconv.Itoa(len(s.keys)+1), key: k})
	return nil
}

// SigningKey is the newest key.
func (s *store) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[len(s.keys)-1], nil
}

// SignatureAlgorithms is RS256.
func (s *store) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet publishes every key made.
func (s *store) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]op.Key, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, publicKey{k})
	}
	return out, nil
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }
