package raftimpl

import (
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
	"github.com/pontoon-raft/raft/transport"
)

// holdTransport answers synchronous AppendEntries at once and hands out a
// holdPipeline whose replies arrive only when the test releases them.
type holdTransport struct {
	*transport.InmemTransport
	pl     *holdPipeline
	window int
}

func (t *holdTransport) AppendEntries(_ raft.ServerID, _ raft.ServerAddress, args *transport.AppendEntriesRequest, resp *transport.AppendEntriesResponse) error {
	resp.Term, resp.Success = args.Term, true
	resp.LastLog = args.PrevLogEntry + uint64(len(args.Entries))
	return nil
}

func (t *holdTransport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (transport.AppendPipeline, error) {
	return t.pl, nil
}

func (t *holdTransport) MaxRPCsInFlight() int { return t.window }

// holdPipeline records each request's entry count and keeps its future
// pending until release.
type holdPipeline struct {
	mu       sync.Mutex
	sizes    []int
	pending  []*holdFuture
	consumer chan transport.AppendFuture
}

type holdFuture struct {
	start time.Time
	req   *transport.AppendEntriesRequest
	resp  *transport.AppendEntriesResponse
}

func (f *holdFuture) Error() error                               { return nil }
func (f *holdFuture) Start() time.Time                           { return f.start }
func (f *holdFuture) Request() *transport.AppendEntriesRequest   { return f.req }
func (f *holdFuture) Response() *transport.AppendEntriesResponse { return f.resp }

func (p *holdPipeline) AppendEntries(args *transport.AppendEntriesRequest, resp *transport.AppendEntriesResponse) (transport.AppendFuture, error) {
	f := &holdFuture{start: time.Now(), req: args, resp: resp}
	p.mu.Lock()
	p.sizes = append(p.sizes, len(args.Entries))
	p.pending = append(p.pending, f)
	p.mu.Unlock()
	return f, nil
}

func (p *holdPipeline) Consumer() <-chan transport.AppendFuture { return p.consumer }
func (p *holdPipeline) Close() error                            { return nil }

// outstanding returns how many requests await a reply.
func (p *holdPipeline) outstanding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

// sent returns the entry counts of the requests sent so far.
func (p *holdPipeline) sent() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.sizes...)
}

// release answers the oldest outstanding request.
func (p *holdPipeline) release() {
	p.mu.Lock()
	f := p.pending[0]
	p.pending = p.pending[1:]
	p.mu.Unlock()
	f.resp.Term, f.resp.Success = f.req.Term, true
	f.resp.LastLog = f.req.PrevLogEntry + uint64(len(f.req.Entries))
	p.consumer <- f
}

// appMsg is a MsgApp of n entries following index prev.
func appMsg(prev uint64, n int) core.Message {
	m := core.Message{Type: core.MsgApp, To: "b", From: "a", Term: 1, PrevLogIndex: prev, PrevLogTerm: 1}
	if prev == 0 {
		m.PrevLogTerm = 0
	}
	for i := 1; i <= n; i++ {
		m.Entries = append(m.Entries, &raft.Log{Index: prev + uint64(i), Term: 1, Type: raft.LogCommand, Data: []byte("x")})
	}
	return m
}

// TestPipelineWindow checks the sender's use of the pipeline window:
// requests that are not full wait while eagerWindow are outstanding (and
// merge what arrives meanwhile), full ones (MaxAppendEntries entries) use
// the transport's whole window.
func TestPipelineWindow(t *testing.T) {
	const window, maxEntries = 8, 4
	_, inmem := transport.NewInmemTransport("a")
	defer inmem.Close()
	pl := &holdPipeline{consumer: make(chan transport.AppendFuture, 64)}
	trans := &holdTransport{InmemTransport: inmem, pl: pl, window: window}
	r := &Raft{conf: Config{HeartbeatTimeout: time.Second}, logger: hclog.NewNullLogger(), trans: trans,
		localID: "a", localAddr: "a", appendEntries: maxEntries, appendBytes: 4 << 20,
		peerRespCh: make(chan core.Message, 256)}
	p := newPeer(r, raft.Server{ID: "b", Address: "b"})
	defer p.stop()

	waitOutstanding := func(want int) {
		t.Helper()
		waitFor(t, 5*time.Second, "outstanding requests", func() bool { return pl.outstanding() == want })
	}
	// The first request goes synchronously; its success opens the pipeline.
	p.appCh <- appMsg(0, 1)
	select {
	case resp := <-r.peerRespCh:
		if !resp.Success || resp.Index != 1 {
			t.Fatalf("first response = %+v", resp)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no response to the synchronous request")
	}
	next := uint64(1)
	push := func(n int) {
		p.appCh <- appMsg(next, n)
		next += uint64(n)
	}
	// Small requests: two go out, the third waits and takes the fourth
	// along when a reply frees room.
	push(1)
	waitOutstanding(1)
	push(1)
	waitOutstanding(2)
	push(1)
	// NB: once the sender took it, it waits for room (at eagerWindow) and
	// does not read appCh meanwhile.
	waitFor(t, 5*time.Second, "the sender to take the third request", func() bool { return len(p.appCh) == 0 })
	push(1)
	pl.release()
	waitFor(t, 5*time.Second, "the merged request", func() bool { return len(pl.sent()) == 3 })
	if got := pl.sent(); got[2] != 2 {
		t.Fatalf("requests sent (entries each) = %v, want the last to merge 2", got)
	}
	waitOutstanding(2)
	// A waiting request that fills up with what arrives goes out without
	// waiting for a reply.
	for i := 0; i < maxEntries; i++ {
		push(1)
	}
	waitOutstanding(3)
	if got := pl.sent(); len(got) != 4 || got[3] != maxEntries {
		t.Fatalf("requests sent (entries each) = %v, want a fourth of %d", got, maxEntries)
	}
	// Full requests fill the transport's window, and no more.
	for i := 3; i < window; i++ {
		push(maxEntries)
		waitOutstanding(i + 1)
	}
	push(maxEntries)
	pl.release()
	waitFor(t, 5*time.Second, "the request after a reply", func() bool { return len(pl.sent()) == window+2 })
	waitOutstanding(window)
	for _, n := range pl.sent()[3:] {
		if n != maxEntries {
			t.Fatalf("requests sent (entries each) = %v, want full ones after the third", pl.sent())
		}
	}
	for pl.outstanding() > 0 {
		pl.release()
	}
	waitFor(t, 5*time.Second, "every reply delivered", func() bool { return len(r.peerRespCh) == len(pl.sent()) })
}
