package localissuer

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

func (s *Server) debugRoutes(m *http.ServeMux) {
	// Where FaultRedirect points: a request here followed a redirect.
	m.HandleFunc("/debug/redirected", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.stats.RedirectsFollowed++
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]string{})
	})
	m.HandleFunc("GET /debug/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	m.HandleFunc("GET /debug/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.ArmedFaults())
	})
	m.HandleFunc("POST /debug/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if !decodeDebug(w, r, &f) {
			return
		}
		if err := s.SetFaults(f); err != nil {
			debugError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, s.ArmedFaults())
	})
	m.HandleFunc("POST /debug/user", func(w http.ResponseWriter, r *http.Request) {
		var v struct{ Email string }
		if !decodeDebug(w, r, &v) {
			return
		}
		debugResult(w, s.SetNextUser(v.Email))
	})
	decide := func(approve bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var v struct {
				UserCode string `json:"user_code"`
			}
			if !decodeDebug(w, r, &v) {
				return
			}
			debugResult(w, s.decideDevice(v.UserCode, approve))
		}
	}
	m.HandleFunc("POST /debug/device/approve", decide(true))
	m.HandleFunc("POST /debug/device/deny", decide(false))
	m.HandleFunc("POST /debug/revoke", func(w http.ResponseWriter, r *http.Request) {
		var v struct {
			RefreshToken string `json:"refresh_token"`
			All          bool   `json:"all"`
		}
		if !decodeDebug(w, r, &v) {
			return
		}
		if v.All {
			s.RevokeAll()
			debugResult(w, nil)
			return
		}
		debugResult(w, s.RevokeFamily(v.RefreshToken))
	})
	m.HandleFunc("POST /debug/clock", func(w http.ResponseWriter, r *http.Request) {
		var v struct {
			Advance Duration `json:"advance"`
		}
		if !decodeDebug(w, r, &v) {
			return
		}
		if v.Advance < 0 {
			debugError(w, http.StatusBadRequest, errors.New("advance must not be negative"))
			return
		}
		s.Advance(v.Advance.std())
		debugResult(w, nil)
	})
}

// decodeDebug reads a JSON body into v, answering 400 on failure.
func decodeDebug(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		debugError(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

// debugResult answers 200 {} or the error (404 for unknown things, 409 for
// a decided device code, 410 for an expired one).
func debugResult(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]any{})
	case errors.Is(err, ErrUnknownUser), errors.Is(err, ErrUnknownUserCode), errors.Is(err, ErrUnknownToken):
		debugError(w, http.StatusNotFound, err)
	case errors.Is(err, ErrDeviceDecided):
		debugError(w, http.StatusConflict, err)
	case errors.Is(err, ErrDeviceExpired):
		debugError(w, http.StatusGone, err)
	default:
		debugError(w, http.StatusInternalServerError, err)
	}
}

func debugError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
