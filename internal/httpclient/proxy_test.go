package httpclient

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/google/go-cmp/cmp"
)

// testProxy is a CONNECT (https) and forward (http) proxy that resolves
// issuer.test to 127.0.0.1 and records what it was asked for.
type testProxy struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newTestProxy(t *testing.T) *testProxy {
	p := &testProxy{}
	resolve := func(hostport string) string {
		h, port, _ := net.SplitHostPort(hostport)
		if h == "issuer.test" {
			h = "127.0.0.1"
		}
		return net.JoinHostPort(h, port)
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.Host)
		p.mu.Unlock()
		if r.Method == http.MethodConnect {
			up, err := net.Dial("tcp", resolve(r.Host))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer up.Close()
			w.WriteHeader(http.StatusOK)
			down, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer down.Close()
			go func() { _, _ = io.Copy(up, buf); up.(*net.TCPConn).CloseWrite() }()
			_, _ = io.Copy(down, up)
			return
		}
		// Forward proxy: the request line carries the absolute URL.
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.URL.Host = resolve(r.URL.Host)
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *testProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func TestProxyHTTPS(t *testing.T) {
	pki := newPKI(t)
	_, base := startIssuer(t, pki, localissuer.Config{})
	port := base[strings.LastIndex(base, ":")+1:]
	proxy := newTestProxy(t)
	c, err := New(Options{Getenv: env{
		EnvCACertificate: pki.caFile,
		"HTTPS_PROXY":    proxy.URL,
		"NO_PROXY":       "example.com",
	}.get})
	if err != nil {
		t.Fatal(err)
	}
	st, err := getStatus(c, "https://issuer.test:"+port+"/.well-known/openid-configuration")
	if err != nil || st != 200 {
		t.Fatalf("GET through the proxy: %d %v", st, err)
	}
	if d := cmp.Diff([]string{"CONNECT issuer.test:" + port}, proxy.requests()); d != "" {
		t.Errorf("proxy requests (-want +got):\n%s", d)
	}
}

func TestProxyHTTP(t *testing.T) {
	s, err := localissuer.New(localissuer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	port := base[strings.LastIndex(base, ":")+1:]
	proxy := newTestProxy(t)
	c, err := New(Options{Getenv: env{"http_proxy": proxy.URL}.get})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := getStatus(c, "http://issuer.test:"+port+"/.well-known/jwks.json"); err != nil || st != 200 {
		t.Fatalf("GET through the proxy: %d %v", st, err)
	}
	// Loopback is never proxied.
	if st, err := getStatus(c, base+"/.well-known/jwks.json"); err != nil || st != 200 {
		t.Fatalf("GET loopback: %d %v", st, err)
	}
	if d := cmp.Diff([]string{"GET issuer.test:" + port}, proxy.requests()); d != "" {
		t.Errorf("proxy requests (-want +got):\n%s", d)
	}
}

func TestProxyDecision(t *testing.T) {
	tests := []struct {
		name string
		env  env
		url  string
		want string // "" means direct
	}{
		{"https uses HTTPS_PROXY", env{"HTTPS_PROXY": "http://p:3128", "HTTP_PROXY": "http://q:3128"}, "https://auth.openai.com/oauth/token", "http://p:3128"},
		{"http uses HTTP_PROXY", env{"HTTPS_PROXY": "http://p:3128", "HTTP_PROXY": "http://q:3128"}, "http://auth.openai.com/", "http://q:3128"},
		{"lower case", env{"https_proxy": "http://p:3128"}, "https://auth.openai.com/", "http://p:3128"},
		{"upper case wins", env{"HTTPS_PROXY": "http://up:1", "https_proxy": "http://low:1"}, "https://auth.openai.com/", "http://up:1"},
		{"scheme-less proxy", env{"HTTPS_PROXY": "p:3128"}, "https://auth.openai.com/", "http://p:3128"},
		{"NO_PROXY domain", env{"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "openai.com"}, "https://auth.openai.com/", ""},
		{"NO_PROXY dot domain", env{"HTTPS_PROXY": "http://p:3128", "NO_PROXY": ".openai.com"}, "https://auth.openai.com/", ""},
		{"NO_PROXY other", env{"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "example.com"}, "https://auth.openai.com/", "http://p:3128"},
		{"NO_PROXY star", env{"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "*"}, "https://auth.openai.com/", ""},
		{"NO_PROXY CIDR", env{"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "10.0.0.0/8"}, "https://10.1.2.3/", ""},
		{"loopback never", env{"HTTPS_PROXY": "http://p:3128"}, "https://127.0.0.1:8443/", ""},
		{"localhost never", env{"HTTP_PROXY": "http://p:3128"}, "http://localhost:1455/", ""},
		{"no variables", env{}, "https://auth.openai.com/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse(tt.url)
			got, err := proxyFunc(tt.env.get)(&http.Request{URL: u})
			if err != nil {
				t.Fatal(err)
			}
			gotS := ""
			if got != nil {
				gotS = got.String()
			}
			if gotS != tt.want {
				t.Errorf("proxy for %s = %q, want %q", tt.url, gotS, tt.want)
			}
		})
	}
}
