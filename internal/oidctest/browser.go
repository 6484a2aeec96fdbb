package oidctest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/html"
)

// Browser is a user's browser on the provider's pages: it keeps cookies,
// follows redirects (the last one to the app's loopback redirect, which
// the test must serve) and fills in the forms it finds.
type Browser struct {
	http *http.Client
}

// NewBrowser makes a browser with an empty cookie jar.
func NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// Page is a page the browser shows: where it ended and what it says.
type Page struct {
	URL    *url.URL
	Status int
	Body   string
}

// Login opens authURL, fills the provider's login form with username and
// password and submits it, following redirects to the end: for a good
// login, the app's redirect URI with code and state. It returns the last
// page.
func (b *Browser) Login(ctx context.Context, authURL, username, password string) (*Page, error) {
	pg, err := b.get(ctx, authURL)
	if err != nil {
		return nil, err
	}
	return b.submit(ctx, pg, map[string]string{"username": username, "password": password})
}

// ApproveDevice enters userCode at verificationURI, signs in and allows
// the device; DenyDevice denies it instead.
func (b *Browser) ApproveDevice(ctx context.Context, verificationURI, userCode, username, password string) error {
	return b.device(ctx, verificationURI, userCode, username, password, "allowed")
}

// DenyDevice is ApproveDevice with the Deny button.
func (b *Browser) DenyDevice(ctx context.Context, verificationURI, userCode, username, password string) error {
	return b.device(ctx, verificationURI, userCode, username, password, "denied")
}

func (b *Browser) device(ctx context.Context, verificationURI, userCode, username, password, action string) error {
	u, err := url.Parse(verificationURI)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("user_code", userCode)
	u.RawQuery = q.Encode()
	pg, err := b.get(ctx, u.String())
	if err != nil {
		return err
	}
	pg, err = b.submit(ctx, pg, map[string]string{"username": username, "password": password})
	if err != nil {
		return err
	}
	// The confirmation page has an Allow and a Deny button, each going to
	// ./confirm?action=...
	href, err := buttonTarget(pg, "action="+action)
	if err != nil {
		return err
	}
	pg, err = b.get(ctx, href)
	if err != nil {
		return err
	}
	if !strings.Contains(pg.Body, "Device authorization "+action) {
		return fmt.Errorf("oidctest: the device page answered %d %q", pg.Status, clipText(pg.Body))
	}
	return nil
}

func (b *Browser) get(ctx context.Context, u string) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return b.do(req)
}

func (b *Browser) do(req *http.Request) (*Page, error) {
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return &Page{URL: resp.Request.URL, Status: resp.StatusCode, Body: string(body)}, nil
}

// submit fills the page's first form (its hidden inputs kept, fields set
// by name) and posts it to its action.
func (b *Browser) submit(ctx context.Context, pg *Page, fields map[string]string) (*Page, error) {
	doc, err := html.Parse(strings.NewReader(pg.Body))
	if err != nil {
		return nil, err
	}
	form := find(doc, func(n *html.Node) bool { return n.Data == "form" })
	if form == nil {
		return nil, fmt.Errorf("oidctest: no form on %s (%d %q)", pg.URL, pg.Status, clipText(pg.Body))
	}
	vals := url.Values{}
	walk(form, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") != "" {
			vals.Set(attr(n, "name"), attr(n, "value"))
		}
	})
	for k, v := range fields {
		if _, ok := vals[k]; !ok {
			return nil, fmt.Errorf("oidctest: the form on %s has no field %q", pg.URL, k)
		}
		vals.Set(k, v)
	}
	action, err := pg.URL.Parse(attr(form, "action"))
	if err != nil {
		return nil, err
	}
	method := strings.ToUpper(attr(form, "method"))
	if method == "" {
		method = http.MethodGet
	}
	var req *http.Request
	if method == http.MethodPost {
		req, err = http.NewRequestWithContext(ctx, method, action.String(), strings.NewReader(vals.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		action.RawQuery = vals.Encode()
		req, err = http.NewRequestWithContext(ctx, method, action.String(), nil)
	}
	if err != nil {
		return nil, err
	}
	return b.do(req)
}

// buttonTarget finds the button whose onclick goes to a URL containing
// want and resolves that URL against the page.
func buttonTarget(pg *Page, want string) (string, error) {
	doc, err := html.Parse(strings.NewReader(pg.Body))
	if err != nil {
		return "", err
	}
	var href string
	walk(doc, func(n *html.Node) {
		on := attr(n, "onclick")
		if href != "" || n.Data != "button" || !strings.Contains(on, want) {
			return
		}
		// location.href='./confirm?action=allowed'
		if i := strings.IndexByte(on, '\''); i >= 0 {
			if j := strings.IndexByte(on[i+1:], '\''); j >= 0 {
				href = on[i+1 : i+1+j]
			}
		}
	})
	if href == "" {
		return "", fmt.Errorf("oidctest: no button for %q on %s (%d %q)", want, pg.URL, pg.Status, clipText(pg.Body))
	}
	u, err := pg.URL.Parse(href)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	var found *html.Node
	walk(n, func(c *html.Node) {
		if found == nil && c.Type == html.ElementNode && match(c) {
			found = c
		}
	})
	return found
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func clipText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
