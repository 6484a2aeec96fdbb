package e2e

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/localissuer"
)

// Wire codes from docs/protocol.md.
const (
	codeRequestCancelled  = -32800
	codeIssuerUnavailable = -32012
)

func hangingSidecar(t *testing.T) *e2eutil.Proc {
	iss := startIssuer(t, localissuer.Config{Faults: localissuer.Faults{{Kind: localissuer.FaultHang, Path: "/api/accounts/deviceauth/usercode"}}})
	return sidecar(t, "sidecar", e2eutil.SidecarEnv(t.TempDir(), iss.BaseURL(), "CODEX_AUTH_HTTP_TIMEOUT=2s"))
}

func TestHangingIssuerDoesNotFreeze(t *testing.T) {
	ctx := testCtx(t, waitLimit)
	p := hangingSidecar(t)
	startID, err := p.Send("account/login/start", map[string]string{"type": "chatgptDeviceCode"})
	if err != nil {
		t.Fatal(err)
	}
	readID, err := p.Send("account/read", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Reply(ctx, readID, nil); err != nil {
		t.Fatalf("account/read while a device-code start waits: %v", err)
	}
	// The read's reply must come before the start's.
	var order []string
	for _, m := range p.Messages() {
		if m.Method != "" {
			continue
		}
		switch string(m.ID) {
		case string(startID):
			order = append(order, "login/start")
		case string(readID):
			order = append(order, "read")
		}
	}
	if diff := cmp.Diff([]string{"read", "login/start"}, append(order, "login/start")[:2]); diff != "" {
		t.Errorf("order of the replies (-want +got):\n%s", diff)
	}
	err = p.Reply(ctx, startID, nil)
	var rpcErr *e2eutil.RPCError
	if !errors.As(err, &rpcErr) || rpcErr.Code != codeIssuerUnavailable {
		t.Errorf("device-code start against a hanging issuer: %v, want error %d (issuer unavailable)", err, codeIssuerUnavailable)
	}
}

func TestCancelDeviceCodeStart(t *testing.T) {
	ctx := testCtx(t, waitLimit)
	p := hangingSidecar(t)
	for _, id := range []any{41, "start-42"} {
		raw, err := p.SendID(id, "account/login/start", map[string]string{"type": "chatgptDeviceCode"})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Notify("$/cancelRequest", map[string]any{"id": json.RawMessage(raw)}); err != nil {
			t.Fatal(err)
		}
		err = p.Reply(ctx, raw, nil)
		var rpcErr *e2eutil.RPCError
		if !errors.As(err, &rpcErr) || rpcErr.Code != codeRequestCancelled {
			t.Errorf("device-code start %s cancelled by $/cancelRequest: %v, want error %d", raw, err, codeRequestCancelled)
		}
	}
}
