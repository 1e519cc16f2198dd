package transport

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// A failure readRequests has logged (here: a handler that left snapshot data
// unread) is logged once, not a second time as "error=handled".
func TestNetHandledFailureLoggedOnce(t *testing.T) {
	srv, logs := newTestTransport(t, nil)
	cli, _ := newTestTransport(t, nil)
	serve(t, srv, func(rpc RPC) {
		_, _ = io.CopyN(io.Discard, rpc.Reader, 10)
		rpc.Respond(&InstallSnapshotResponse{Success: true}, nil)
	})
	args := &InstallSnapshotRequest{Term: 1, Size: 1000}
	var resp InstallSnapshotResponse
	if err := cli.InstallSnapshot("n2", srv.LocalAddr(), args, &resp, bytes.NewReader(make([]byte, 1000))); err != nil {
		t.Fatal(err)
	}
	// The connection's goroutine logs its end before it forgets the
	// connection.
	waitFor(t, "the server connection to end", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return strings.Contains(logs.String(), "left data unread") && len(srv.mu.serverConns) == 0
	})
	out := logs.String()
	if strings.Contains(out, "error=handled") {
		t.Fatalf("a handled failure was logged again:\n%s", out)
	}
	if n := strings.Count(out, "left data unread"); n != 1 {
		t.Fatalf("the failure was logged %d times, want once:\n%s", n, out)
	}
}
