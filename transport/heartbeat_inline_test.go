package transport

import (
	"sync"
	"testing"
	"time"
)

// A heartbeat the handler answers at once, with nothing outstanding on its
// connection, is written by the reader itself; one answered later, or one
// behind outstanding requests, goes through the writer. Either way every
// reply is right and replies stay in request order.
func TestNetHeartbeatInlineOrder(t *testing.T) {
	srv, _ := newTestTransport(t, nil)
	cli, _ := newTestTransport(t, func(c *NetworkTransportConfig) { c.MaxRPCsInFlight = 8 })
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	serve(t, srv, func(rpc RPC) {
		<-release
		rpc.Respond(&AppendEntriesResponse{Term: 1, LastLog: rpc.Command.(*AppendEntriesRequest).PrevLogEntry, Success: true}, nil)
	})
	t.Cleanup(unblock) // before serve's cleanup, which waits for the handler
	var later sync.WaitGroup
	t.Cleanup(later.Wait)
	srv.SetHeartbeatHandler(func(rpc RPC) {
		req := rpc.Command.(*AppendEntriesRequest)
		if req.Term%2 == 0 {
			// Answered later, as an engine busy with its loop does.
			later.Add(1)
			go func() {
				defer later.Done()
				time.Sleep(time.Millisecond)
				rpc.Respond(&AppendEntriesResponse{Term: req.Term, Success: true}, nil)
			}()
			return
		}
		rpc.Respond(&AppendEntriesResponse{Term: req.Term, Success: true}, nil)
	})
	hb := func(term uint64) *AppendEntriesRequest {
		return &AppendEntriesRequest{RPCHeader: header("n1", "a"), Term: term, Leader: []byte("a")}
	}
	for term := uint64(3); term < 23; term++ {
		var resp AppendEntriesResponse
		if err := cli.AppendEntries("n2", srv.LocalAddr(), hb(term), &resp); err != nil {
			t.Fatal(err)
		}
		if !resp.Success || resp.Term != term {
			t.Fatalf("heartbeat of term %d answered %+v", term, resp)
		}
	}

	// On one pipelined connection: an AppendEntries the engine holds, then
	// heartbeats (one answered at once, one later), then another
	// AppendEntries. The replies come back in that order.
	p, err := cli.AppendEntriesPipeline("n2", srv.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	reqs := []*AppendEntriesRequest{
		{RPCHeader: header("n1", "a"), Term: 1, PrevLogEntry: 10, Entries: sampleLogs(1, 4)},
		hb(5), hb(6),
		{RPCHeader: header("n1", "a"), Term: 1, PrevLogEntry: 11, Entries: sampleLogs(1, 4)},
	}
	for _, r := range reqs {
		if _, err := p.AppendEntries(r, new(AppendEntriesResponse)); err != nil {
			t.Fatal(err)
		}
	}
	unblock()
	want := []AppendEntriesResponse{{Term: 1, LastLog: 10}, {Term: 5}, {Term: 6}, {Term: 1, LastLog: 11}}
	for i, w := range want {
		select {
		case f := <-p.Consumer():
			if err := f.Error(); err != nil {
				t.Fatal(err)
			}
			got := f.Response()
			if f.Request() != reqs[i] || got.Term != w.Term || got.LastLog != w.LastLog || !got.Success {
				t.Fatalf("reply %d: %+v, want %+v", i, got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("reply %d missing", i)
		}
	}
}
