package rpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/editortest"
	"github.com/codex-auth/codex-auth/rpc"
)

// benchClient is a minimal editor for benchmarks: it writes frames and
// reads replies without recording anything, so that the measured time is
// the server's plus the pipes'.
type benchClient struct {
	w io.Writer
	r *bufio.Reader
}

// call sends a request and reads frames until its reply, returning the
// result. Notifications in between are skipped.
func (c *benchClient) call(b *testing.B, id int, method, params string) json.RawMessage {
	body := `{"jsonrpc":"2.0","id":` + strconv.Itoa(id) + `,"method":"` + method + `","params":` + params + `}`
	c.send(b, body)
	for {
		frame, err := editortest.ReadFrame(c.r)
		if err != nil {
			b.Fatalf("%s: reading the reply: %v", method, err)
		}
		var m struct {
			ID     json.RawMessage   `json:"id"`
			Result json.RawMessage   `json:"result"`
			Error  *editortest.Error `json:"error"`
		}
		if err := json.Unmarshal(frame, &m); err != nil {
			b.Fatalf("%s: reply is not JSON: %v", method, err)
		}
		if string(m.ID) != strconv.Itoa(id) {
			continue // a notification, or a stray reply
		}
		if m.Error != nil {
			b.Fatalf("%s: %v", method, m.Error)
		}
		return m.Result
	}
}

func (c *benchClient) send(b *testing.B, body string) {
	if _, err := io.WriteString(c.w, "Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body); err != nil {
		b.Fatalf("writing a frame: %v", err)
	}
}

// BenchmarkAccountRead measures one account/read round trip on an
// initialized connection over io.Pipe with a fake Service, and reports
// the p50 and p99 latency of the iterations (issue 3: p99 under 200 µs).
func BenchmarkAccountRead(b *testing.B) {
	srv, err := rpc.NewServer(rpc.Options{Name: "codex-auth", Version: "0.0.0-bench"})
	if err != nil {
		b.Fatalf("NewServer: %v", err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- srv.Run(ctx, newFakeService(), inR, outW) }()
	b.Cleanup(func() {
		_ = inW.Close()
		cancel()
		<-code
	})
	c := &benchClient{w: inW, r: bufio.NewReaderSize(outR, 1<<16)}
	c.call(b, 1, "initialize", `{"processId":null,"capabilities":{},"initializationOptions":{"protocolVersion":"1"}}`)
	c.send(b, `{"jsonrpc":"2.0","method":"initialized","params":{}}`)

	// One checked call first, so the benchmark cannot time error replies.
	var first struct {
		Account *struct {
			Type string `json:"type"`
		} `json:"account"`
	}
	if err := json.Unmarshal(c.call(b, 2, "account/read", `{}`), &first); err != nil || first.Account == nil || first.Account.Type != "apiKey" {
		b.Fatalf("account/read: got account %+v (err %v), want type apiKey", first.Account, err)
	}

	durs := make([]time.Duration, 0, 1<<16)
	id := 3
	for b.Loop() {
		start := time.Now()
		c.call(b, id, "account/read", `{"refreshToken":false}`)
		durs = append(durs, time.Since(start))
		id++
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(percentile(durs, 50).Seconds()*1e6, "p50-µs")
	b.ReportMetric(percentile(durs, 99).Seconds()*1e6, "p99-µs")
}

// percentile p (0..100) of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
