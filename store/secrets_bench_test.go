package store

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"

	"filippo.io/age"
)

func BenchmarkSecretsDecrypt(b *testing.B) {
	const pw = "UtMDhBVavjGED+70yDHG/sAcMyg0C4wPzq8ZoEpD0xQ=" // 44 characters, as Codex's
	plain := []byte(`{"version":1,"secrets":{"global/CODEX_AUTH":"{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":\"sk-bench\"}"}}`)
	for _, wf := range []int{20, SecretsWorkFactor} {
		rcp, err := age.NewScryptRecipient(pw)
		if err != nil {
			b.Fatal(err)
		}
		rcp.SetWorkFactor(wf)
		var ct bytes.Buffer
		w, _ := age.Encrypt(&ct, rcp)
		_, _ = w.Write(plain)
		_ = w.Close()
		sb := &secretsBackend{home: Home{Dir: b.TempDir()}, logger: slog.New(slog.DiscardHandler)}
		b.Run(fmt.Sprintf("workFactor=%d", wf), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := sb.decrypt(ct.Bytes(), pw)
				if err != nil || !bytes.Equal(out, plain) {
					b.Fatalf("decrypt: %v", err)
				}
			}
		})
	}
}
