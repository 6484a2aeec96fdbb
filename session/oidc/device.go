package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// Device grant defaults (RFC 8628).
const (
	// DefaultDeviceInterval is the poll interval when the provider gives
	// none (RFC 8628 section 3.2).
	DefaultDeviceInterval = 5 * time.Second
	// SlowDownStep is what each slow_down adds to the interval, for that
	// poll and all later ones (RFC 8628 section 3.5).
	SlowDownStep = 5 * time.Second
	// DefaultDeviceLimit bounds polling when the provider gave no
	// expires_in (it is required, RFC 8628 section 3.2).
	DefaultDeviceLimit = 15 * time.Minute
)

// DeviceCode is the provider's answer to a device authorization request
// (RFC 8628 section 3.2). Show UserCode and VerificationURI (or
// VerificationURIComplete, which holds the code) to the user; keep
// DeviceCode to yourself: it is what redeems the approval.
type DeviceCode struct {
	DeviceCode              string
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string
	// Expiry is when the codes expire (zero: the provider did not say;
	// DeviceWait then stops after DefaultDeviceLimit).
	Expiry time.Time
	// Interval is the least time between polls (DefaultDeviceInterval
	// when the provider gave none).
	Interval time.Duration
}

// DeviceStart asks for a user code (RFC 8628 section 3.1) with the
// configured scopes (and audience). ErrNotSupported when the provider
// advertises no device_authorization_endpoint; a client not allowed the
// grant is a *ProviderError (unauthorized_client).
func (p *Provider) DeviceStart(ctx context.Context) (DeviceCode, error) {
	const op = "device authorization"
	var da *oauth2.DeviceAuthResponse
	err := p.withEndpoints(ctx, func(m *Metadata) error {
		if m.DeviceAuthorizationEndpoint == "" {
			return fmt.Errorf("%w: %s: the provider advertises no device_authorization_endpoint", ErrNotSupported, op)
		}
		var opts []oauth2.AuthCodeOption
		if p.cfg.Audience != "" {
			opts = append(opts, oauth2.SetAuthURLParam("audience", p.cfg.Audience))
		}
		var err error
		da, err = p.oauth2Config(m, "").DeviceAuth(p.ctx(ctx), opts...)
		return classify(ctx, op, err)
	})
	if err != nil {
		return DeviceCode{}, err
	}
	if da.DeviceCode == "" || da.UserCode == "" || da.VerificationURI == "" {
		return DeviceCode{}, fmt.Errorf("%w: %s: the answer lacks device_code, user_code or verification_uri", ErrInvalidResponse, op)
	}
	dc := DeviceCode{
		DeviceCode:              da.DeviceCode,
		UserCode:                da.UserCode,
		VerificationURI:         da.VerificationURI,
		VerificationURIComplete: da.VerificationURIComplete,
		Expiry:                  da.Expiry,
		Interval:                time.Duration(da.Interval) * time.Second,
	}
	if da.Interval <= 0 || da.Interval > 3600 {
		dc.Interval = DefaultDeviceInterval
	}
	return dc, nil
}

// DeviceWait polls the token endpoint until the user approves dc (RFC
// 8628 section 3.4) through oauth2.Config.DeviceAccessToken: it waits one
// interval before each poll; authorization_pending polls again;
// slow_down adds SlowDownStep to the interval for the rest of the flow
// (section 3.5). A poll the provider could not answer (network, 5xx,
// 429) is not the end: polling goes on, one interval later, with the
// intervals slow_down earned kept. It returns:
//   - the Tokens, ID token verified, on approval;
//   - an error matching ErrDeviceDenied (access_denied; errors.As gives
//     the *ProviderError);
//   - an error matching ErrDeviceExpired (expired_token, or Expiry
//     passed);
//   - ctx's error when ctx ends;
//   - other *ProviderError answers, ErrInvalidResponse, ErrInvalidIDToken.
func (p *Provider) DeviceWait(ctx context.Context, dc DeviceCode) (Tokens, error) {
	const op = "device token"
	if dc.Expiry.IsZero() {
		dc.Expiry = p.now().Add(DefaultDeviceLimit)
	}
	base := dc.Interval
	if base <= 0 {
		base = DefaultDeviceInterval
	}
	secs := int64((base + time.Second - 1) / time.Second)
	slow := new(slowDownCounter)
	for {
		var tok *oauth2.Token
		err := p.withEndpoints(ctx, func(m *Metadata) error {
			da := &oauth2.DeviceAuthResponse{
				DeviceCode: dc.DeviceCode,
				Expiry:     dc.Expiry,
				Interval:   secs + slow.n.Load()*int64(SlowDownStep/time.Second),
			}
			pctx := context.WithValue(p.ctx(ctx), slowDownKey{}, slow)
			var err error
			tok, err = p.oauth2Config(m, "").DeviceAccessToken(pctx, da)
			if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && !p.now().Before(dc.Expiry) {
				return ErrDeviceExpired
			}
			return classify(ctx, op, err)
		})
		switch {
		case err == nil:
			return p.finish(ctx, op, tok, "", true, "")
		case ctx.Err() != nil:
			return Tokens{}, fmt.Errorf("%s: %w", op, ctx.Err())
		case errors.Is(err, ErrUnavailable) && p.now().Before(dc.Expiry):
			continue // the next DeviceAccessToken waits an interval first
		}
		return Tokens{}, err
	}
}

// slowDownKey carries a *slowDownCounter in a poll's context to slurp,
// which counts the slow_down answers x/oauth2 handles inside
// DeviceAccessToken, so a poll started again after a network failure
// keeps the longer interval.
type slowDownKey struct{}

type slowDownCounter struct{ n atomic.Int64 }

func (c *slowDownCounter) observe(body []byte) {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error == "slow_down" {
		c.n.Add(1)
	}
}
