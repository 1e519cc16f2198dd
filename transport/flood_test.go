package transport

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	raft "github.com/pontoon-raft/raft"
)

// silentConns dials n connections to addr that never send anything; they
// are closed when the test ends.
func silentConns(t *testing.T, addr raft.ServerAddress, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", string(addr))
		if errors.Is(err, syscall.EMFILE) {
			t.Skipf("the file descriptor limit is too low for %d connections: %v", n, err)
		}
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	return conns
}

func serverConnCount(tr *NetworkTransport) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.mu.serverConns)
}

// TestNetConnFloodDoesNotLockOutPeer is issue 11 row 9: 1,100 connections
// that never send anything, against the default inbound limit of 1,024 and a
// Timeout long enough that none of them times out during the test. A cluster
// peer that connects afterwards (as a restarted member does) must get
// through at once, the flood must be reported in a few WARN lines rather
// than one per connection, and goroutines and memory must stay bounded and
// come back down once the flood ends.
func TestNetConnFloodDoesNotLockOutPeer(t *testing.T) {
	const flood = 1100
	srv, logs := newTestTransport(t, func(c *NetworkTransportConfig) { c.Timeout = time.Minute })
	serve(t, srv, func(rpc RPC) { rpc.Respond(&RequestVoteResponse{Term: 1, Granted: true}, nil) })
	peer, _ := newTestTransport(t, func(c *NetworkTransportConfig) { c.Timeout = 5 * time.Second })

	start := time.Now()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	baseG := runtime.NumGoroutine()

	conns := silentConns(t, srv.LocalAddr(), flood)
	waitFor(t, "the server to fill up to its limit", func() bool { return serverConnCount(srv) == DefaultMaxInboundConns })

	// The peer's connection is accepted after every flood connection (the
	// listener's backlog is FIFO), so it meets the full limit.
	var resp RequestVoteResponse
	callStart := time.Now()
	if err := peer.RequestVote("n1", srv.LocalAddr(), &RequestVoteRequest{Term: 1}, &resp); err != nil || !resp.Granted {
		t.Fatalf("cluster peer locked out by %d silent connections: %v", flood, err)
	}
	callTook := time.Since(callStart)

	if n := serverConnCount(srv); n > DefaultMaxInboundConns {
		t.Errorf("%d connections served, limit %d", n, DefaultMaxInboundConns)
	}
	// Two goroutines per served connection, plus the test's own.
	if g := runtime.NumGoroutine() - baseG; g > 2*DefaultMaxInboundConns+64 {
		t.Errorf("%d goroutines over the baseline during the flood", g)
	}
	var during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&during)
	if grew := int64(during.HeapInuse) - int64(before.HeapInuse); grew > 64<<20 {
		t.Errorf("heap grew by %d MiB during the flood", grew>>20)
	}
	t.Logf("%d silent connections: the peer's call took %v; %d goroutines and %d KiB of heap over the baseline",
		flood, callTook, runtime.NumGoroutine()-baseG, (int64(during.HeapInuse)-int64(before.HeapInuse))>>10)
	out := logs.String()
	// One report at once, then at most one per floodLogInterval.
	maxReports := 1 + int(time.Since(start)/floodLogInterval)
	if n := strings.Count(out, "inbound connection flood"); n < 1 || n > maxReports {
		t.Errorf("flood reported %d times at WARN, want 1..%d (rate-limited):\n%s", n, maxReports, out)
	}
	if strings.Contains(out, "[ERROR]") {
		t.Errorf("flood logged at ERROR (per connection?)")
	}

	// The peer keeps being served, on pooled and on new connections.
	peer.CloseStreams()
	for i := 0; i < 3; i++ {
		if err := peer.RequestVote("n1", srv.LocalAddr(), &RequestVoteRequest{Term: 1}, &resp); err != nil {
			t.Fatalf("cluster peer, call %d after reconnect: %v", i, err)
		}
	}

	for _, c := range conns {
		_ = c.Close()
	}
	waitFor(t, "the flood's connections to be released", func() bool { return serverConnCount(srv) <= 3 })
	waitFor(t, "the flood's goroutines to exit", func() bool { return runtime.NumGoroutine() <= baseG+16 })
}

// TestNetSilentConnClosedWithinTimeout: a connection that sends nothing is
// closed Timeout after it was accepted, not after IdleTimeout, and one that
// trickles a request it never completes does not buy more time with its
// first byte. Each is reported (rate-limited) at WARN.
func TestNetSilentConnClosedWithinTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv, logs := newTestTransport(t, func(c *NetworkTransportConfig) {
		c.Timeout = timeout
		c.IdleTimeout = time.Hour
	})
	serve(t, srv, func(rpc RPC) { rpc.Respond(&RequestVoteResponse{}, nil) })

	start := time.Now()
	silent := silentConns(t, srv.LocalAddr(), 1)[0]
	expectClosed(t, "silent connection", silent)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("silent connection kept for %v, Timeout %v", d, timeout)
	}
	waitFor(t, "the silent connection to be reported", func() bool { return strings.Contains(logs.String(), "no-request-in-time=1") })

	// A frame's first byte just before the deadline must not extend it.
	trickle := silentConns(t, srv.LocalAddr(), 1)[0]
	start = time.Now()
	time.Sleep(timeout * 2 / 3) // the attacker's pacing, not synchronisation
	if _, err := trickle.Write([]byte{rpcRequestVote}); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, "trickling connection", trickle)
	if d := time.Since(start); d > timeout+timeout/2+time.Second {
		t.Errorf("trickling connection kept for %v, Timeout %v from the accept", d, timeout)
	}

	// A served connection then lives by IdleTimeout: a real client's pooled
	// connection survives well past Timeout.
	cli, _ := newTestTransport(t, nil)
	if err := cli.RequestVote("n", srv.LocalAddr(), &RequestVoteRequest{}, &RequestVoteResponse{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the client's connection to be served", func() bool { return serverConnCount(srv) == 1 })
	deadline := time.Now().Add(3 * timeout)
	for time.Now().Before(deadline) {
		if serverConnCount(srv) != 1 {
			t.Fatal("a served connection was closed before IdleTimeout")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cli.RequestVote("n", srv.LocalAddr(), &RequestVoteRequest{}, &RequestVoteResponse{}); err != nil {
		t.Fatal(err)
	}
}

// TestNetInboundConnLimit: at the limit, a new connection evicts the oldest
// connection that sent nothing; an idle served connection goes only when
// none is left; a connection with a request in the engine is never evicted,
// and when every connection has one the new connection is refused.
func TestNetInboundConnLimit(t *testing.T) {
	release := make(chan struct{})
	srv, logs := newTestTransport(t, func(c *NetworkTransportConfig) { c.MaxInboundConns = 2 })
	serve(t, srv, func(rpc RPC) {
		if _, ok := rpc.Command.(*RequestVoteRequest); ok {
			<-release // busy until the test releases it
		}
		rpc.Respond(&RequestVoteResponse{}, nil)
	})
	var released bool
	defer func() {
		if !released {
			close(release)
		}
	}()

	held := silentConns(t, srv.LocalAddr(), 2)
	waitFor(t, "two served connections", func() bool { return serverConnCount(srv) == 2 })
	extra := silentConns(t, srv.LocalAddr(), 1)[0]
	expectClosed(t, "oldest silent connection", held[0])
	waitFor(t, "the flood to be reported", func() bool { return strings.Contains(logs.String(), "evicted-idle=1") })

	// A client gets in by evicting held[1], then extra; each RPC
	// completes, so it is served and idle afterwards.
	cli, _ := newTestTransport(t, func(c *NetworkTransportConfig) { c.MaxPool = 2 })
	if err := cli.TimeoutNow("n", srv.LocalAddr(), &TimeoutNowRequest{}, &TimeoutNowResponse{}); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, "second silent connection", held[1])
	// Two busy RequestVotes on two connections: both slots busy.
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			errs <- cli.RequestVote("n", srv.LocalAddr(), &RequestVoteRequest{}, &RequestVoteResponse{})
		}()
	}
	expectClosed(t, "third silent connection", extra)
	waitFor(t, "two busy connections", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		busy := 0
		for _, ct := range srv.mu.serverConns {
			if ct.outstanding.Load() > 0 {
				busy++
			}
		}
		return busy == 2
	})
	refused := silentConns(t, srv.LocalAddr(), 1)[0]
	expectClosed(t, "connection while all are busy", refused)
	close(release)
	released = true
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("busy request was cut off: %v", err)
		}
	}
}

// TestFloodLogReportsEveryEventOnce: events are reported at once, then in
// sums at most once per interval, and the tail of a flood is reported when
// its interval ends even if nothing follows.
func TestFloodLogReportsEveryEventOnce(t *testing.T) {
	logs := &logBuffer{}
	f := &floodLog{
		logger:   hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Warn}),
		limit:    8,
		interval: 100 * time.Millisecond,
	}
	defer f.stop()
	for i := 0; i < 500; i++ {
		f.note(floodEvicted)
	}
	total := func() (reports, events int) {
		for _, line := range strings.Split(logs.String(), "\n") {
			if i := strings.Index(line, "evicted-idle="); i >= 0 {
				var n int
				fmt.Sscanf(line[i+len("evicted-idle="):], "%d", &n)
				reports++
				events += n
			}
		}
		return
	}
	if r, e := total(); r != 1 || e != 1 {
		t.Fatalf("after a burst: %d reports of %d events, want the first event reported at once", r, e)
	}
	waitFor(t, "the tail to be reported", func() bool { _, e := total(); return e == 500 })
	if r, _ := total(); r != 2 {
		t.Fatalf("%d reports, want 2", r)
	}
}

// TestNetIdlePipelineSurvivesFirstRequestDeadline: an engine may open a
// pipeline and send nothing on it for longer than the server's Timeout (a
// quiet cluster). The pipeline's connection is dialled by its first
// request, so the server's deadline for a first request does not break it.
func TestNetIdlePipelineSurvivesFirstRequestDeadline(t *testing.T) {
	const timeout = 200 * time.Millisecond
	srv, _ := newTestTransport(t, func(c *NetworkTransportConfig) { c.Timeout = timeout })
	serve(t, srv, func(rpc RPC) { rpc.Respond(&AppendEntriesResponse{Success: true}, nil) })
	cli, _ := newTestTransport(t, nil)
	p, err := cli.AppendEntriesPipeline("n2", srv.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	idle := time.Now().Add(3 * timeout)
	for time.Now().Before(idle) {
		time.Sleep(10 * time.Millisecond) // a quiet cluster, not synchronisation
	}
	for i := 0; i < 3; i++ {
		f, err := p.AppendEntries(&AppendEntriesRequest{Term: 1, PrevLogEntry: uint64(i)}, &AppendEntriesResponse{})
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if err := (<-p.Consumer()).Error(); err != nil || !f.Response().Success {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
}
