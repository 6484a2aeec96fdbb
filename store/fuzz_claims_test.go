package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseIDToken checks that ParseIDToken and TokenExpiry never panic
// on an arbitrary token and fail only with ErrNotJWT, which never echoes
// the token; and that claims put in a JWT payload (RFC 7519 section 7.1)
// read back unchanged. Seeds: testdata/fuzz/FuzzParseIDToken.
func FuzzParseIDToken(f *testing.F) {
	f.Fuzz(func(t *testing.T, token, email, plan, userID, accountID string, exp int64) {
		if _, err := ParseIDToken(token); err != nil {
			if !errors.Is(err, ErrNotJWT) || err.Error() != ErrNotJWT.Error() {
				t.Fatalf("ParseIDToken failed with %v, want exactly ErrNotJWT", err)
			}
		}
		_, _ = TokenExpiry(token)

		for _, s := range []string{email, plan, userID, accountID} {
			if !utf8.ValidString(s) {
				return // JSON cannot carry it unchanged
			}
		}
		payload, err := json.Marshal(map[string]any{
			"email": email,
			"exp":   exp,
			"https://api.openai.com/auth": map[string]any{
				"chatgpt_plan_type":  plan,
				"chatgpt_user_id":    userID,
				"chatgpt_account_id": accountID,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		jwt := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(payload) + ".c2ln"
		got, err := ParseIDToken(jwt)
		if err != nil {
			t.Fatalf("ParseIDToken of a valid JWT: %v", err)
		}
		want := Claims{Email: email, PlanType: plan, UserID: userID, AccountID: accountID}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("claims (-want +got):\n%s", diff)
		}
		// exp goes through a float64: exact up to 2^53 seconds.
		if exp < -1<<53 || exp > 1<<53 {
			return
		}
		at, ok := TokenExpiry(jwt)
		if wantAt := time.Unix(exp, 0).UTC(); !ok || !at.Equal(wantAt) {
			t.Fatalf("TokenExpiry = %v, %v; want %v, true", at, ok, wantAt)
		}
	})
}
