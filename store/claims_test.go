package store

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(payload)) + ".sig"
}

func TestParseIDToken(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    Claims
	}{
		{"full", `{"email":"a@b.c","https://api.openai.com/auth":{"chatgpt_plan_type":"pro","chatgpt_user_id":"u1","user_id":"u0","chatgpt_account_id":"ws","organization_id":"o","project_id":"p"}}`,
			Claims{Email: "a@b.c", PlanType: "pro", UserID: "u1", AccountID: "ws", OrganizationID: "o", ProjectID: "p"}},
		{"profile email and user_id fallback", `{"https://api.openai.com/profile":{"email":"p@b.c"},"https://api.openai.com/auth":{"user_id":"u0"}}`,
			Claims{Email: "p@b.c", UserID: "u0"}},
		{"top-level email wins", `{"email":"top@b.c","https://api.openai.com/profile":{"email":"p@b.c"}}`,
			Claims{Email: "top@b.c"}},
		{"empty", `{}`, Claims{}},
	}
	for _, tt := range tests {
		got, err := ParseIDToken(testJWT(tt.payload))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", testJWT("[1]"), testJWT("not json")} {
		if _, err := ParseIDToken(bad); err == nil {
			t.Errorf("ParseIDToken(%q) succeeded, want an error", bad)
		}
	}
}

func TestTokenExpiry(t *testing.T) {
	tests := []struct {
		payload string
		want    time.Time
		ok      bool
	}{
		{`{"exp":1893456000}`, time.Unix(1893456000, 0).UTC(), true},
		{`{"exp":1893456000.7}`, time.Unix(1893456000, 0).UTC(), true},
		{`{}`, time.Time{}, false},
		{`{"exp":"soon"}`, time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := TokenExpiry(testJWT(tt.payload))
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("TokenExpiry(%s) = %v, %v; want %v, %v", tt.payload, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMaskAPIKey(t *testing.T) {
	// The short/long boundary (13/14 bytes) was read off Codex 0.171.0;
	// cmd/codex-auth's test compares with the real CLI.
	tests := []struct{ in, want string }{
		{"", "***"},
		{"abcdefghijklm", "***"},
		{"abcdefghijklmn", "abcdefgh***jklmn"},
		{"sk-proj-abcdefghijklmnopqrstuvwxyz", "sk-proj-***vwxyz"},
		{"sk-test<&>abcdefghijklmnop", "sk-test<***lmnop"},
		{"sk-test\u00e9abcdefghijk", "***"}, // the cut would split é
	}
	for _, tt := range tests {
		if got := MaskAPIKey(tt.in); got != tt.want {
			t.Errorf("MaskAPIKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
