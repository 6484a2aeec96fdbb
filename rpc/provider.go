package rpc

import (
	"encoding/json"

	"github.com/codex-auth/codex-auth/session"
)

// The wire of a sidecar signed in to an OpenID provider (codex-auth
// --provider NAME serve): the same methods and notifications; the login
// types browser and deviceCode (which for Codex's sign-in mean chatgpt
// and chatgptDeviceCode); accounts and tokens of type "oidc"; the
// provider named in initialize and account/read.

// Login types any sign-in takes: a provider's, and Codex's (as chatgpt
// and chatgptDeviceCode).
const (
	LoginTypeBrowser    = "browser"
	LoginTypeDeviceCode = "deviceCode"
)

// ProviderWire is {name, kind, issuer}: the provider signed in to, in
// initialize's capabilities.experimental.codexAuth.provider and
// account/read's provider.
type ProviderWire struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Issuer string `json:"issuer"`
}

func toProviderWire(p *session.ProviderInfo) *ProviderWire {
	if p == nil {
		return nil
	}
	return &ProviderWire{Name: p.Name, Kind: string(p.Kind), Issuer: p.Issuer}
}

// marshalOIDCAccount writes {type:"oidc", subject, email?, name?, expiresAt}.
func marshalOIDCAccount(a Account) ([]byte, error) {
	return json.Marshal(struct {
		Type      string  `json:"type"`
		Subject   string  `json:"subject"`
		Email     string  `json:"email,omitempty"`
		Name      string  `json:"name,omitempty"`
		ExpiresAt *string `json:"expiresAt"`
	}{a.Type, a.Subject, a.Email, a.Name, a.ExpiresAt})
}

// TokenOIDCResult is account/token's result for a provider's session:
// {type:"oidc", accessToken, idToken?, expiresAt}.
type TokenOIDCResult struct {
	Type        string  `json:"type"`
	AccessToken string  `json:"accessToken"`
	IDToken     string  `json:"idToken,omitempty"`
	ExpiresAt   *string `json:"expiresAt"`
}

// loginKind is what a login type asks for, given the sign-in served:
// the browser or the device code, or neither (unknownLoginTypeError,
// or session.ErrProviderLoginType for Codex's own types asked of a
// provider). apiKey and accessToken are left to the service.
type loginKind int

const (
	loginOther loginKind = iota
	loginBrowser
	loginDevice
)

func (s *Server) loginKindOf(typ string) (loginKind, error) {
	switch typ {
	case LoginTypeBrowser:
		return loginBrowser, nil
	case LoginTypeDeviceCode:
		return loginDevice, nil
	case LoginTypeChatGPT, LoginTypeChatGPTDeviceCode:
		if s.provider != nil {
			return loginOther, session.ErrProviderLoginType
		}
		if typ == LoginTypeChatGPT {
			return loginBrowser, nil
		}
		return loginDevice, nil
	}
	return loginOther, nil
}
