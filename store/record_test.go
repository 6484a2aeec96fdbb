package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestGoldenRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseRecord(want)
			if err != nil {
				t.Fatalf("ParseRecord: %v", err)
			}
			got, err := r.MarshalPretty()
			if err != nil {
				t.Fatalf("MarshalPretty: %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("round trip changed the file (-want +got):\n%s", diff)
			}
			// Through the keyring's compact form and back.
			compact, err := r.MarshalCompact()
			if err != nil {
				t.Fatal(err)
			}
			r2, err := ParseRecord(compact)
			if err != nil {
				t.Fatalf("ParseRecord(compact): %v", err)
			}
			got2, _ := r2.MarshalPretty()
			if diff := cmp.Diff(string(want), string(got2)); diff != "" {
				t.Errorf("compact round trip changed the record (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGoldenModes(t *testing.T) {
	tests := []struct {
		file      string
		mode      AuthMode
		supported bool
	}{
		{"apikey.json", AuthModeAPIKey, true},
		{"chatgpt.json", AuthModeChatGPT, true},
		{"unknown_keys.json", AuthModeChatGPT, true},
		{"unknown_mode.json", "someFutureMode", false},
		{"personal_access_token.json", AuthModePersonalAccessToken, true},
		{"personal_access_token_extra.json", AuthModePersonalAccessToken, true},
		{"agent_identity.json", AuthModeAgentIdentity, true},
		{"chatgpt_codex171.json", AuthModeChatGPT, true},
		{"legacy.json", AuthModeAPIKey, true},
		{"legacy_chatgpt.json", AuthModeChatGPT, true},
	}
	for _, tt := range tests {
		data, err := os.ReadFile(filepath.Join("testdata/golden", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseRecord(data)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if got := r.EffectiveMode(); got != tt.mode {
			t.Errorf("%s: EffectiveMode = %q, want %q", tt.file, got, tt.mode)
		}
		if got := r.Supported(); got != tt.supported {
			t.Errorf("%s: Supported = %v, want %v", tt.file, got, tt.supported)
		}
	}
}

func TestMarshalEncoding(t *testing.T) {
	key := "sk-<&>\u2028\"\\\n\x01é"
	ts := time.Date(2025, 1, 2, 3, 4, 5, 120_000_000, time.UTC)
	r := &Record{AuthMode: AuthModeAPIKey, APIKey: &key, LastRefresh: &ts}
	got, err := r.MarshalCompact()
	if err != nil {
		t.Fatal(err)
	}
	// serde_json: no HTML or U+2028 escapes; \u0001 in lowercase hex;
	// chrono AutoSi: three fraction digits here.
	want := `{"auth_mode":"apikey","OPENAI_API_KEY":"sk-<&>` + "\u2028" + `\"\\\n\u0001é","last_refresh":"2025-01-02T03:04:05.120Z"}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("MarshalCompact (-want +got):\n%s", diff)
	}
}

func TestFormatTime(t *testing.T) {
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		ns   int
		want string
	}{
		{0, "2025-01-02T03:04:05Z"},
		{500_000_000, "2025-01-02T03:04:05.500Z"},
		{123_456_000, "2025-01-02T03:04:05.123456Z"},
		{123_456_789, "2025-01-02T03:04:05.123456789Z"},
	}
	for _, tt := range tests {
		if got := formatTime(base.Add(time.Duration(tt.ns))); got != tt.want {
			t.Errorf("formatTime(+%dns) = %q, want %q", tt.ns, got, tt.want)
		}
	}
}

func TestParseRecordErrors(t *testing.T) {
	secret := "sk-SECRET-should-not-leak"
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"spaces", "  \n"},
		{"truncated", `{"auth_mode":"apikey","OPENAI_API_KEY":"` + secret},
		{"array", `["` + secret + `"]`},
		{"trailing", `{"OPENAI_API_KEY":"` + secret + `"} {}`},
		{"duplicate", `{"OPENAI_API_KEY":null,"OPENAI_API_KEY":"` + secret + `"}`},
		{"bad key type", `{"OPENAI_API_KEY":42}`},
		{"bad tokens", `{"OPENAI_API_KEY":null,"tokens":{"id_token":7}}`},
		{"bad time", `{"OPENAI_API_KEY":null,"last_refresh":"` + secret + `"}`},
	}
	for _, tt := range tests {
		_, err := ParseRecord([]byte(tt.in))
		if err == nil {
			t.Errorf("%s: ParseRecord succeeded, want an error", tt.name)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error %q reveals the input", tt.name, err)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	files, _ := filepath.Glob("testdata/golden/*.json")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecord(data)
		if err != nil {
			return
		}
		b1, err := r.MarshalPretty()
		if err != nil {
			t.Fatalf("MarshalPretty of a parsed record: %v", err)
		}
		r2, err := ParseRecord(b1)
		if err != nil {
			t.Fatalf("our own output does not parse: %v", err)
		}
		b2, err := r2.MarshalPretty()
		if err != nil {
			t.Fatal(err)
		}
		if string(b1) != string(b2) {
			t.Fatalf("parse->marshal is not stable:\n%s\n%s", b1, b2)
		}
	})
}
