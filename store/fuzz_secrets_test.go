package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseSecrets feeds arbitrary decrypted bytes to the encrypted
// secret storage's parser (what Codex's secrets/codex_auth.age holds once
// decrypted) and checks: no panic; a failure is a *CorruptError that
// names the file and quotes nothing of the input; what parses writes back
// (marshal) to bytes that parse to the same record and the same other
// secrets, so a save never loses what Codex stored beside the record.
func FuzzParseSecrets(f *testing.F) {
	rec := `{"auth_mode":"apikey","OPENAI_API_KEY":"sk-proj-SECRET-abcdefghij","tokens":null,"last_refresh":null}`
	enc, _ := json.Marshal(rec)
	f.Add([]byte(`{"version":1,"secrets":{"global/CODEX_AUTH":` + string(enc) + `,"other/KEY":"kept"}}`))
	f.Add([]byte(`{"version":1,"secrets":{}}`))
	f.Add([]byte(`{"version":2,"secrets":{}}`))
	f.Add([]byte(`{"secrets":{}}`))
	f.Add([]byte(`{"version":1,"secrets":{"global/CODEX_AUTH":42}}`))
	f.Add([]byte(`{"version":1,"secrets":{"global/CODEX_AUTH":"{not json"},"extra":[1,2]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, plain []byte) {
		const path = "/home/u/.codex/secrets/codex_auth.age"
		p, err := parseSecrets(plain, path)
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), path) {
				t.Fatalf("parseSecrets failed with %v, want a *CorruptError naming the file", err)
			}
			checkQuotesNothing(t, err.Error(), plain)
			return
		}
		if p.recErr != nil {
			checkQuotesNothing(t, p.recErr.Error(), plain)
		}
		out, err := p.marshal()
		if err != nil {
			return // a value Codex's writer could not have written either
		}
		q, err := parseSecrets(out, path)
		if err != nil {
			t.Fatalf("what marshal wrote does not parse: %v", err)
		}
		if (p.rec == nil) != (q.rec == nil) || (p.recErr == nil) != (q.recErr == nil) {
			t.Fatalf("the record changed across a write: %v/%v, then %v/%v", p.rec != nil, p.recErr, q.rec != nil, q.recErr)
		}
		if p.rec != nil && p.rec.EffectiveMode() != q.rec.EffectiveMode() {
			t.Fatalf("the record's mode changed across a write")
		}
		keys := func(fs []RawField) []string {
			var ks []string
			for _, f := range fs {
				ks = append(ks, f.Key)
			}
			return ks
		}
		if len(p.secrets) != len(q.secrets) || len(p.top) != len(q.top) {
			t.Fatalf("keys lost across a write: %v %v, then %v %v", keys(p.secrets), keys(p.top), keys(q.secrets), keys(q.top))
		}
	})
}

// checkQuotesNothing fails when msg repeats a 12-byte run of the input
// that looks like a value (a secret could be any of them).
func checkQuotesNothing(t *testing.T, msg string, input []byte) {
	t.Helper()
	for _, f := range bytes.FieldsFunc(input, func(r rune) bool { return strings.ContainsRune("\"{}[],: \t\r\n", r) }) {
		if len(f) >= 12 && utf8.Valid(f) && strings.Contains(msg, string(f)) && !strings.Contains("the decrypted file secrets global/CODEX_AUTH unsupported version", string(f)) {
			t.Fatalf("the error %q repeats %q from the input", msg, f)
		}
	}
}

// FuzzParseAgentIdentity checks that an arbitrary agent identity token
// never panics the parser, fails only with ErrNotJWT (which never echoes
// the token), and that claims put in a JWT read back unchanged.
func FuzzParseAgentIdentity(f *testing.F) {
	f.Add("a.b.c", "rt-1", "ws-1", "user-1", "a@b.c", "plus", int64(1900000000))
	f.Add("not a jwt", "", "", "", "", "", int64(0))
	f.Fuzz(func(t *testing.T, token, runtimeID, accountID, userID, email, plan string, exp int64) {
		if _, err := ParseAgentIdentity(token); err != nil && (!errors.Is(err, ErrNotJWT) || err.Error() != ErrNotJWT.Error()) {
			t.Fatalf("ParseAgentIdentity failed with %v, want exactly ErrNotJWT", err)
		}
		for _, s := range []string{runtimeID, accountID, userID, email, plan} {
			if !utf8.ValidString(s) {
				return
			}
		}
		if exp < 0 || exp > 1<<40 {
			return
		}
		payload, err := json.Marshal(map[string]any{
			"agent_runtime_id": runtimeID, "account_id": accountID, "chatgpt_user_id": userID,
			"email": email, "plan_type": plan, "exp": exp, "agent_private_key": "PRIVATE-never-read",
		})
		if err != nil {
			t.Fatal(err)
		}
		jwt := "eyJhbGciOiJFZERTQSJ9." + base64.RawURLEncoding.EncodeToString(payload) + ".c2ln"
		got, err := ParseAgentIdentity(jwt)
		if err != nil {
			t.Fatalf("a well-formed agent identity: %v", err)
		}
		want := AgentClaims{RuntimeID: runtimeID, AccountID: accountID, UserID: userID, Email: email, PlanType: plan, Expires: time.Unix(exp, 0).UTC()}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("claims (-want +got):\n%s", diff)
		}
	})
}
