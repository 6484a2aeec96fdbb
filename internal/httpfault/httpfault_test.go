package httpfault

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestWrite: a whole answer arrives whole; a truncated one announces its
// whole length, and the client reads half of it and then an unexpected
// end, as after a connection cut on the way.
func TestWrite(t *testing.T) {
	body := []byte(`{"access_token":"abcdefghijklmnopqrstuvwxyz"}`)
	for _, cut := range []Cut{Whole, Truncated} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			Write(w, http.Header{"Content-Type": {"application/json"}}, http.StatusOK, body, cut)
		}))
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.ContentLength != int64(len(body)) || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("cut %v: Content-Length %d, type %q", cut, resp.ContentLength, resp.Header.Get("Content-Type"))
		}
		switch cut {
		case Whole:
			if err != nil || string(got) != string(body) {
				t.Errorf("whole: read %q, %v", got, err)
			}
		case Truncated:
			if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != len(body)/2 {
				t.Errorf("truncated: read %d bytes, %v; want %d and an unexpected EOF", len(got), err, len(body)/2)
			}
		}
	}
}

// TestDrop: the client gets no answer at all.
func TestDrop(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { Drop(w) }))
	defer srv.Close()
	if resp, err := srv.Client().Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Fatalf("got an answer (%s), want the connection closed", resp.Status)
	}
}

func TestRemoveFields(t *testing.T) {
	in := []byte(`{"access_token":"a","refresh_token":"r","id_token":"i"}`)
	if got := string(RemoveFields(in, http.StatusOK, []string{"refresh_token", "id_token"})); got != `{"access_token":"a"}` {
		t.Errorf("200: %s", got)
	}
	if got := string(RemoveFields(in, http.StatusBadRequest, []string{"access_token"})); got != string(in) {
		t.Errorf("400 changed: %s", got)
	}
	if got := string(RemoveFields([]byte("not json"), http.StatusOK, []string{"x"})); got != "not json" {
		t.Errorf("not JSON changed: %s", got)
	}
}

// TestWait: false as soon as the stop channel closes.
func TestWait(t *testing.T) {
	stop := make(chan struct{})
	close(stop)
	if Wait(t.Context(), time.Hour, stop) {
		t.Error("Wait returned true with stop closed")
	}
	if !Wait(t.Context(), 0, nil) {
		t.Error("Wait(0) returned false")
	}
}
