package httpfault

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Malformed is a body that starts like a token answer and is not JSON.
const Malformed = `{"access_token": "not json at all` + "\x00<html>"

// htmlPage is what a proxy or a captive portal answers instead.
const htmlPage = "<!doctype html><html><body><h1>Service temporarily unavailable</h1></body></html>\n"

// Drop closes the connection under w without an answer: hijacked on
// HTTP/1, the stream reset on HTTP/2 (http.ErrAbortHandler).
func Drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// HTMLPage answers status with an HTML page, as a proxy or a captive
// portal in front of a server does.
func HTMLPage(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, htmlPage)
}

// RemoveFields deletes fields from a 200 answer's JSON object; any other
// answer is returned as it is.
func RemoveFields(body []byte, status int, fields []string) []byte {
	var m map[string]json.RawMessage
	if status != http.StatusOK || json.Unmarshal(body, &m) != nil {
		return body
	}
	for _, f := range fields {
		delete(m, f)
	}
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

// Cut says whether Write sends the whole body.
type Cut bool

// Whole and Truncated are Write's two ways.
const (
	Whole     Cut = false
	Truncated Cut = true
)

// Write answers status with header and body. Truncated, it announces the
// whole body's Content-Length, sends half of it and drops the connection,
// as an answer cut short on the way does.
func Write(w http.ResponseWriter, header http.Header, status int, body []byte, cut Cut) {
	for k, v := range header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if cut == Whole {
		_, _ = w.Write(body)
		return
	}
	_, _ = w.Write(body[:len(body)/2])
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	Drop(w)
}

// Wait waits d; false when ctx ends (the client gave up) or stop closes
// (the server is closing) first.
func Wait(ctx context.Context, d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-stop:
	}
	return false
}
