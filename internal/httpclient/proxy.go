package httpclient

import (
	"net/http"
	"net/url"
	"os"

	"golang.org/x/net/http/httpproxy"
)

// osGetenv is the default Options.Getenv.
func osGetenv(k string) string { return os.Getenv(k) }

// envAny is the first non-empty of the named variables.
func envAny(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// proxyFunc reads the proxy variables once, through getenv, with the
// rules of golang.org/x/net/http/httpproxy (the ones net/http's
// ProxyFromEnvironment uses): upper case wins over lower case; https
// URLs use HTTPS_PROXY, http URLs HTTP_PROXY; NO_PROXY lists hosts,
// domains (".example.com" or "example.com" match subdomains), IPs, CIDRs
// and "*". Requests to localhost and loopback addresses are never
// proxied, whatever the variables say.
func proxyFunc(getenv func(string) string) func(*http.Request) (*url.URL, error) {
	cfg := &httpproxy.Config{
		HTTPProxy:  envAny(getenv, "HTTP_PROXY", "http_proxy"),
		HTTPSProxy: envAny(getenv, "HTTPS_PROXY", "https_proxy"),
		NoProxy:    envAny(getenv, "NO_PROXY", "no_proxy"),
	}
	f := cfg.ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return f(r.URL) }
}
