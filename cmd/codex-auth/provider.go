package main

import (
	"fmt"
	"log/slog"

	"github.com/codex-auth/codex-auth/internal/httpclient"
	"github.com/codex-auth/codex-auth/session"
	"github.com/codex-auth/codex-auth/session/oidc"
	"github.com/codex-auth/codex-auth/store"
)

// buildProvider is the stack of `codex-auth --provider NAME ...`: the
// provider's own store (store.OpenProvider: never Codex's auth.json or
// keyring entry), the OpenID provider client, and the Manager signing in
// to it. opts holds what every stack shares.
func buildProvider(su setup, getenv func(string) string, logger *slog.Logger, hc *httpclient.Client, netErr error, opts session.Options) (*stack, error) {
	pc := *su.provider
	secret, err := pc.Secret(getenv)
	if err != nil {
		return nil, err
	}
	st, err := store.OpenProvider(su.home, pc.Name, store.Options{Mode: su.mode, Logger: logger})
	if err != nil {
		return nil, err
	}
	prov, err := session.NewOIDCProvider(pc.Name, oidc.Config{
		Issuer:       pc.Issuer,
		ClientID:     pc.ClientID,
		ClientSecret: secret,
		Scopes:       pc.Scopes,
		Audience:     pc.Audience,
		HTTP:         hc.HTTP(),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pc.File, err)
	}
	opts.Store, opts.Provider = st, prov
	mgr, err := session.New(opts)
	if err != nil {
		return nil, err
	}
	info := prov.Info()
	return &stack{netErr: netErr, home: su.home, config: su.config, store: st, http: hc, provider: &info, manager: mgr}, nil
}
