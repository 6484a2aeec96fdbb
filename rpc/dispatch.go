package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"

	"github.com/codex-auth/codex-auth/session"
)

// dispatch runs one account request. Lifecycle requests are answered by
// the read loop (admit) and never reach here.
func (s *Server) dispatch(ctx context.Context, method string, raw json.RawMessage) (any, error) {
	switch method {
	case MethodAccountRead:
		var p AccountReadParams
		if err := decodeParams(raw, &p); err != nil {
			return nil, err
		}
		st, err := s.svc.Status(ctx, p.RefreshToken)
		if err != nil {
			return nil, err
		}
		return toAccountRead(st), nil

	case MethodLoginStart:
		var p LoginStartParams
		if err := decodeParams(raw, &p); err != nil {
			return nil, err
		}
		if p.Type == nil {
			return nil, newError(CodeInvalidParams, "invalid params: params.type is required (apiKey, accessToken, chatgpt, chatgptDeviceCode, browser or deviceCode)")
		}
		kind, err := s.loginKindOf(*p.Type)
		if err != nil {
			return nil, err
		}
		switch {
		case kind == loginBrowser:
			b, err := s.svc.StartBrowserLogin(ctx)
			if err != nil {
				return nil, err
			}
			return LoginChatGPTResult{Type: *p.Type, LoginID: b.LoginID, AuthURL: b.AuthURL, Headless: b.Headless, Message: b.Message}, nil
		case kind == loginDevice:
			d, err := s.svc.StartDeviceLogin(ctx)
			if err != nil {
				return nil, err
			}
			exp := ""
			if t := formatTime(d.ExpiresAt); t != nil {
				exp = *t
			}
			return LoginDeviceCodeResult{Type: *p.Type, LoginID: d.LoginID, VerificationURL: d.VerificationURL, UserCode: d.UserCode, ExpiresAt: exp}, nil
		}
		switch *p.Type {
		case LoginTypeAPIKey:
			if p.APIKey == nil {
				return nil, newError(CodeInvalidParams, "invalid params: params.apiKey is required for type apiKey")
			}
			if err := s.svc.LoginAPIKey(ctx, *p.APIKey); err != nil {
				return nil, err
			}
			return LoginAPIKeyResult{Type: LoginTypeAPIKey}, nil
		case LoginTypeAccessToken:
			if p.AccessToken == nil {
				return nil, newError(CodeInvalidParams, "invalid params: params.accessToken is required for type accessToken")
			}
			if err := s.svc.LoginAccessToken(ctx, *p.AccessToken); err != nil {
				return nil, err
			}
			return LoginAPIKeyResult{Type: LoginTypeAccessToken}, nil
		}
		return nil, unknownLoginTypeError{}

	case MethodLoginCancel:
		var p LoginCancelParams
		if err := decodeParams(raw, &p); err != nil {
			return nil, err
		}
		if p.LoginID == nil {
			return nil, newError(CodeInvalidParams, "invalid params: params.loginId is required")
		}
		if s.svc.CancelLogin(ctx, *p.LoginID) {
			return LoginCancelResult{Status: CancelStatusCanceled}, nil
		}
		return LoginCancelResult{Status: CancelStatusNotFound}, nil

	case MethodLogout:
		if err := decodeParams(raw, &struct{}{}); err != nil {
			return nil, err
		}
		if err := s.svc.Logout(ctx); err != nil {
			return nil, err
		}
		return LogoutResult{}, nil

	case MethodToken:
		var p TokenParams
		if err := decodeParams(raw, &p); err != nil {
			return nil, err
		}
		var t session.Token
		var err error
		if p.SessionID != nil {
			if *p.SessionID == "" {
				return nil, newError(CodeInvalidParams, "invalid params: params.sessionId must not be empty")
			}
			t, err = s.svc.AccountToken(ctx, *p.SessionID, p.Refresh)
		} else {
			t, err = s.svc.Token(ctx, p.Refresh)
		}
		if err != nil {
			return nil, err
		}
		return toToken(t), nil

	case MethodAccountList:
		if err := decodeParams(raw, &struct{}{}); err != nil {
			return nil, err
		}
		l, err := s.svc.Accounts(ctx)
		if err != nil {
			return nil, err
		}
		return AccountSessionListOf(l), nil

	case MethodAccountSwitch, MethodAccountLogout, MethodAccountForget:
		var p AccountSessionParams
		if err := decodeParams(raw, &p); err != nil {
			return nil, err
		}
		switch {
		case p.SessionID == nil:
			return nil, newError(CodeInvalidParams, "invalid params: params.sessionId is required (a session id, or the email of one saved account)")
		case *p.SessionID == "":
			return nil, newError(CodeInvalidParams, "invalid params: params.sessionId must not be empty")
		}
		var l session.AccountList
		var err error
		switch method {
		case MethodAccountSwitch:
			l, err = s.svc.SwitchAccount(ctx, *p.SessionID)
		case MethodAccountLogout:
			l, err = s.svc.LogoutAccount(ctx, *p.SessionID)
		default:
			l, err = s.svc.ForgetAccount(ctx, *p.SessionID)
		}
		if err != nil {
			return nil, err
		}
		return AccountSessionListOf(l), nil
	}
	return nil, newError(CodeMethodNotFound, "method not found: %s", truncate(method, 100))
}

// decodeParams decodes params into v: absent, null or an empty array
// leaves v's zero value (Neovim 0.7 encodes an empty Lua table as [], and
// other clients do the same); anything else but an object (a non-empty
// array included), or a member of the wrong type, is -32602 with a message
// naming the member (never its value).
func decodeParams(raw json.RawMessage, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || isEmptyArray(raw) {
		return nil
	}
	if raw[0] != '{' {
		return newError(CodeInvalidParams, "invalid params: params must be an object")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := "params"
			if te.Field != "" {
				field += "." + te.Field
			}
			return newError(CodeInvalidParams, "invalid params: %s must be %s", field, kindOf(te.Type))
		}
		return newError(CodeInvalidParams, "invalid params")
	}
	return nil
}

// isEmptyArray reports whether raw (valid JSON, trimmed) is [] with
// only white space inside.
func isEmptyArray(raw []byte) bool {
	return len(raw) >= 2 && raw[0] == '[' && raw[len(raw)-1] == ']' && len(bytes.TrimSpace(raw[1:len(raw)-1])) == 0
}

// kindOf names a Go type as a JSON kind.
func kindOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// encodeJSON encodes what the server sends (results, notification and
// request params) with encoding/json, the codec that decodes what it
// reads: jsonrpc2 then only frames the bytes, so one codec decides every
// payload's form in both directions. A nil v is JSON null.
func encodeJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return json.RawMessage("null"), nil
	}
	return json.Marshal(v)
}
