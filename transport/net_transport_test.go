package transport

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	raft "github.com/pontoon-raft/raft"
)

// rpcCase is one request type with the request sent and the response
// returned.
type rpcCase struct {
	name string
	req  interface{}
	resp interface{}
	call func(tr *NetworkTransport, target raft.ServerAddress, out interface{}) error
	out  func() interface{}
}

func rpcCases() []rpcCase {
	hdr := header("n1", "127.0.0.1:7000")
	rhdr := header("n2", "127.0.0.1:7001")
	return []rpcCase{
		{
			name: "AppendEntries",
			req: &AppendEntriesRequest{RPCHeader: hdr, Term: 9, Leader: []byte("127.0.0.1:7000"),
				PrevLogEntry: 99, PrevLogTerm: 6, Entries: sampleLogs(5, 40), LeaderCommitIndex: 98},
			resp: &AppendEntriesResponse{RPCHeader: rhdr, Term: 9, LastLog: 104, Success: true, NoRetryBackoff: true},
			out:  func() interface{} { return &AppendEntriesResponse{} },
		},
		{
			name: "AppendEntriesEmpty",
			req: &AppendEntriesRequest{RPCHeader: hdr, Term: 9, Leader: []byte("x"),
				PrevLogEntry: 1, PrevLogTerm: 1, Entries: []*raft.Log{}, LeaderCommitIndex: 1},
			resp: &AppendEntriesResponse{RPCHeader: rhdr, Term: 9, LastLog: 1 << 40},
			out:  func() interface{} { return &AppendEntriesResponse{} },
		},
		{
			name: "RequestVote",
			req: &RequestVoteRequest{RPCHeader: hdr, Term: 10, Candidate: []byte("127.0.0.1:7000"),
				LastLogIndex: 104, LastLogTerm: 9, LeadershipTransfer: true},
			resp: &RequestVoteResponse{RPCHeader: rhdr, Term: 10, Granted: true},
			out:  func() interface{} { return &RequestVoteResponse{} },
		},
		{
			name: "RequestPreVote",
			req:  &RequestPreVoteRequest{RPCHeader: hdr, Term: 11, LastLogIndex: 104, LastLogTerm: 9},
			resp: &RequestPreVoteResponse{RPCHeader: rhdr, Term: 10, Granted: true},
			out:  func() interface{} { return &RequestPreVoteResponse{} },
		},
		{
			name: "ReadIndex",
			req:  &ReadIndexRequest{RPCHeader: hdr, Term: 12},
			resp: &ReadIndexResponse{RPCHeader: rhdr, Term: 12, Index: 1 << 35, Success: true},
			out:  func() interface{} { return &ReadIndexResponse{} },
		},
		{
			name: "TimeoutNow",
			req:  &TimeoutNowRequest{RPCHeader: hdr},
			resp: &TimeoutNowResponse{RPCHeader: rhdr},
			out:  func() interface{} { return &TimeoutNowResponse{} },
		},
	}
}

// callRPC sends req to target with the matching client method.
func callRPC(tr *NetworkTransport, target raft.ServerAddress, req, out interface{}) error {
	switch r := req.(type) {
	case *AppendEntriesRequest:
		return tr.AppendEntries("n2", target, r, out.(*AppendEntriesResponse))
	case *RequestVoteRequest:
		return tr.RequestVote("n2", target, r, out.(*RequestVoteResponse))
	case *RequestPreVoteRequest:
		return tr.RequestPreVote("n2", target, r, out.(*RequestPreVoteResponse))
	case *TimeoutNowRequest:
		return tr.TimeoutNow("n2", target, r, out.(*TimeoutNowResponse))
	case *ReadIndexRequest:
		return tr.ReadIndex("n2", target, r, out.(*ReadIndexResponse))
	}
	panic("unknown request")
}

func TestNetRoundTripEveryRPC(t *testing.T) {
	srv, _ := newTestTransport(t, nil)
	cli, _ := newTestTransport(t, nil)
	cases := rpcCases()
	var cur atomic.Pointer[rpcCase]
	serve(t, srv, func(rpc RPC) {
		c := cur.Load()
		if !reflect.DeepEqual(rpc.Command, c.req) {
			rpc.Respond(nil, errors.New("request mismatch"))
			t.Errorf("%s: server got %#v, want %#v", c.name, rpc.Command, c.req)
			return
		}
		rpc.Respond(c.resp, nil)
	})
	for i := range cases {
		c := &cases[i]
		t.Run(c.name, func(t *testing.T) {
			cur.Store(c)
			out := c.out()
			if err := callRPC(cli, srv.LocalAddr(), c.req, out); err != nil {
				t.Fatalf("call: %v", err)
			}
			if !reflect.DeepEqual(out, c.resp) {
				t.Fatalf("response %#v, want %#v", out, c.resp)
			}
		})
	}
}

func TestNetRemoteErrorKeepsConnection(t *testing.T) {
	srv, _ := newTestTransport(t, nil)
	cli, _ := newTestTransport(t, nil)
	serve(t, srv, func(rpc RPC) { rpc.Respond(nil, errors.New("unexpected command")) })
	for i := 0; i < 3; i++ {
		var resp RequestVoteResponse
		err := cli.RequestVote("n2", srv.LocalAddr(), &RequestVoteRequest{RPCHeader: header("n1", "a"), Term: 1}, &resp)
		if err == nil || err.Error() != "unexpected command" {
			t.Fatalf("err = %v, want the remote text", err)
		}
		if !reflect.DeepEqual(resp, RequestVoteResponse{}) {
			t.Fatalf("response %#v, want zero", resp)
		}
	}
	cli.mu.Lock()
	pooled := len(cli.mu.pool[poolKey{target: srv.LocalAddr()}])
	cli.mu.Unlock()
	if pooled != 1 {
		t.Fatalf("%d pooled connections after remote errors, want 1", pooled)
	}
}

// countingStream counts accepted connections.
type countingStream struct {
	StreamLayer
	accepted atomic.Int64
}

func (c *countingStream) Accept() (net.Conn, error) {
	conn, err := c.StreamLayer.Accept()
	if err == nil {
		c.accepted.Add(1)
	}
	return conn, err
}

func TestNetPoolReuse(t *testing.T) {
	counting := &countingStream{}
	inner, err := NewTCPStreamLayer("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	counting.StreamLayer = inner
	srv := NewNetworkTransportWithConfig(&NetworkTransportConfig{Stream: counting, MaxPool: 2, Timeout: 5 * time.Second})
	t.Cleanup(func() { _ = srv.Close() })
	cli, _ := newTestTransport(t, nil)
	serve(t, srv, func(rpc RPC) { rpc.Respond(&RequestVoteResponse{Term: 1}, nil) })

	for i := 0; i < 20; i++ {
		var resp RequestVoteResponse
		if err := cli.RequestVote("n2", srv.LocalAddr(), &RequestVoteRequest{Term: 1}, &resp); err != nil {
			t.Fatal(err)
		}
	}
	if got := counting.accepted.Load(); got != 1 {
		t.Fatalf("%d connections accepted for 20 sequential RPCs, want 1", got)
	}
	// Concurrent calls need more connections; at most MaxPool stay pooled.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resp RequestVoteResponse
			if err := cli.RequestVote("n2", srv.LocalAddr(), &RequestVoteRequest{Term: 1}, &resp); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	cli.mu.Lock()
	pooled := len(cli.mu.pool[poolKey{target: srv.LocalAddr()}])
	cli.mu.Unlock()
	if pooled > cli.maxPool {
		t.Fatalf("%d pooled connections, MaxPool %d", pooled, cli.maxPool)
	}
}

func TestNetPipelineOrder(t *testing.T) {
	srv, _ := newTestTransport(t, nil)
	cli, _ := newTestTransport(t, func(c *NetworkTransportConfig) { c.MaxRPCsInFlight = 8 })
	serve(t, srv, func(rpc RPC) {
		req := rpc.Command.(*AppendEntriesRequest)
		rpc.Respond(&AppendEntriesResponse{Term: req.Term, LastLog: req.PrevLogEntry + uint64(len(req.Entries)), Success: true}, nil)
	})
	p, err := cli.AppendEntriesPipeline("n2", srv.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const total = 200
	errc := make(chan error, 1)
	go func() {
		for i := 0; i < total; i++ {
			f := <-p.Consumer()
			if err := f.Error(); err != nil {
				errc <- err
				return
			}
			want := uint64(i*10) + 3
			if f.Response().LastLog != want || f.Request().PrevLogEntry != uint64(i*10) {
				errc <- errors.New("out of order")
				return
			}
		}
		errc <- nil
	}()
	for i := 0; i < total; i++ {
		req := &AppendEntriesRequest{RPCHeader: header("n1", cli.LocalAddr()), Term: 3, PrevLogEntry: uint64(i * 10), PrevLogTerm: 3, Entries: sampleLogs(3, 8)}
		if _, err := p.AppendEntries(req, &AppendEntriesResponse{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestNetPipelineDisabled(t *testing.T) {
	cli, _ := newTestTransport(t, func(c *NetworkTransportConfig) { c.MaxRPCsInFlight = 1 })
	if _, err := cli.AppendEntriesPipeline("n2", "127.0.0.1:1"); !errors.Is(err, raft.ErrPipelineReplicationNotSupported) {
		t.Fatalf("err = %v", err)
	}
}

func TestNetHeartbeatFastPath(t *testing.T) {
	srv, _ := newTestTransport(t, nil)
	cli, _ := newTestTransport(t, nil)
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	// The engine is stuck: it takes one RPC and does not answer until released.
	serve(t, srv, func(rpc RPC) {
		<-release
		rpc.Respond(&AppendEntriesResponse{Success: true}, nil)
	})
	var heartbeats atomic.Int64
	srv.SetHeartbeatHandler(func(rpc RPC) {
		if !IsHeartbeat(rpc.Command.(*AppendEntriesRequest)) {
			t.Error("handler got a non-heartbeat")
		}
		heartbeats.Add(1)
		rpc.Respond(&AppendEntriesResponse{Term: 5, Success: true}, nil)
	})
	slow := make(chan error, 1)
	go func() {
		var resp AppendEntriesResponse
		slow <- cli.AppendEntries("n2", srv.LocalAddr(), &AppendEntriesRequest{RPCHeader: header("n1", "a"), Term: 5, PrevLogEntry: 1, Entries: sampleLogs(2, 4)}, &resp)
	}()
	for i := 0; i < 5; i++ {
		var resp AppendEntriesResponse
		hb := &AppendEntriesRequest{RPCHeader: header("n1", "a"), Term: 5, Leader: []byte("a")}
		if err := cli.AppendEntries("n2", srv.LocalAddr(), hb, &resp); err != nil {
			t.Fatal(err)
		}
		if !resp.Success || resp.Term != 5 {
			t.Fatalf("heartbeat response %+v", resp)
		}
	}
	if heartbeats.Load() != 5 {
		t.Fatalf("%d heartbeats handled, want 5", heartbeats.Load())
	}
	unblock()
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
}

func TestNetInstallSnapshotStreams(t *testing.T) {
	srv, _ := newTestTransport(t, nil)
	cli, _ := newTestTransport(t, nil)
	const size = 8 << 20
	data := make([]byte, size)
	_, _ = rand.Read(data)
	want := sha256.Sum256(data)
	var got [32]byte
	var gotReq *InstallSnapshotRequest
	serve(t, srv, func(rpc RPC) {
		gotReq = rpc.Command.(*InstallSnapshotRequest)
		h := sha256.New()
		n, err := io.Copy(h, rpc.Reader)
		if err != nil || n != size {
			rpc.Respond(nil, errors.New("short read"))
			return
		}
		copy(got[:], h.Sum(nil))
		rpc.Respond(&InstallSnapshotResponse{Term: 4, Success: true}, nil)
	})
	args := &InstallSnapshotRequest{RPCHeader: header("n1", "a"), SnapshotVersion: 1, Term: 4, Leader: []byte("a"),
		LastLogIndex: 1000, LastLogTerm: 3, Configuration: []byte{0x81, 0xa7, 'S', 'e', 'r', 'v', 'e', 'r', 's', 0x90}, ConfigurationIndex: 5, Size: size}
	var resp InstallSnapshotResponse
	if err := cli.InstallSnapshot("n2", srv.LocalAddr(), args, &resp, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if !resp.Success || resp.Term != 4 || got != want {
		t.Fatalf("resp %+v, digest match %v", resp, got == want)
	}
	if !reflect.DeepEqual(gotReq, args) {
		t.Fatalf("request %#v, want %#v", gotReq, args)
	}
	// Short data fails on the client side without hanging the server.
	args.Size = 100
	if err := cli.InstallSnapshot("n2", srv.LocalAddr(), args, &resp, bytes.NewReader(data[:10])); err == nil {
		t.Fatal("short data accepted")
	}
}

func TestNetInstallSnapshotUndrainedClosesConn(t *testing.T) {
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
	waitFor(t, "the undrained snapshot to be logged", func() bool {
		return strings.Contains(logs.String(), "left data unread")
	})
}

func TestNetCloseFailsPendingCalls(t *testing.T) {
	srv, _ := newTestTransport(t, nil)
	cli, _ := newTestTransport(t, nil)
	got := make(chan RPC, 1)
	serve(t, srv, func(rpc RPC) { got <- rpc }) // never answered
	errc := make(chan error, 1)
	go func() {
		var resp RequestVoteResponse
		errc <- cli.RequestVote("n2", srv.LocalAddr(), &RequestVoteRequest{Term: 1}, &resp)
	}()
	<-got
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, raft.ErrTransportShutdown) {
		t.Fatalf("pending call: %v, want ErrTransportShutdown", err)
	}
	if !cli.IsShutdown() {
		t.Fatal("IsShutdown false after Close")
	}
	var resp RequestVoteResponse
	if err := cli.RequestVote("n2", srv.LocalAddr(), &RequestVoteRequest{Term: 1}, &resp); !errors.Is(err, raft.ErrTransportShutdown) {
		t.Fatalf("call after close: %v", err)
	}
	// The server side closes with an RPC outstanding in its consumer.
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestNetClosePipeline(t *testing.T) {
	srv, _ := newTestTransport(t, nil)
	cli, _ := newTestTransport(t, func(c *NetworkTransportConfig) { c.MaxRPCsInFlight = 4 })
	serve(t, srv, func(rpc RPC) {}) // never answered
	p, err := cli.AppendEntriesPipeline("n2", srv.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	var futures []AppendFuture
	for i := 0; i < 3; i++ {
		f, err := p.AppendEntries(&AppendEntriesRequest{Term: 1, PrevLogEntry: 1}, &AppendEntriesResponse{})
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
	}
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range futures {
		if f.Error() == nil {
			t.Fatal("pending pipelined future succeeded after Close")
		}
	}
	if _, err := p.AppendEntries(&AppendEntriesRequest{Term: 1}, &AppendEntriesResponse{}); !errors.Is(err, raft.ErrPipelineShutdown) {
		t.Fatalf("append after close: %v", err)
	}
}

func TestNetEncodeDecodePeer(t *testing.T) {
	tr, _ := newTestTransport(t, nil)
	b := tr.EncodePeer("n1", "10.0.0.1:7000")
	if string(b) != "10.0.0.1:7000" || tr.DecodePeer(b) != "10.0.0.1:7000" {
		t.Fatalf("EncodePeer = %q", b)
	}
	if _, err := NewTCPTransport("0.0.0.0:0", nil, 1, time.Second, io.Discard); !errors.Is(err, ErrNotAdvertisable) {
		t.Fatalf("unspecified bind: %v", err)
	}
}

func TestNetCloseStreams(t *testing.T) {
	srv, _ := newTestTransport(t, nil)
	cli, _ := newTestTransport(t, nil)
	serve(t, srv, func(rpc RPC) { rpc.Respond(&TimeoutNowResponse{}, nil) })
	call := func() error {
		return cli.TimeoutNow("n2", srv.LocalAddr(), &TimeoutNowRequest{}, &TimeoutNowResponse{})
	}
	if err := call(); err != nil {
		t.Fatal(err)
	}
	cli.CloseStreams()
	if err := call(); err != nil {
		t.Fatal(err)
	}
}

// TestNetRetainedRequestsStayIntact keeps every request the engine gets and
// checks them all at the end: the server's buffers must not be reused under
// requests it handed out.
func TestNetRetainedRequestsStayIntact(t *testing.T) {
	srv, _ := newTestTransport(t, nil)
	cli, _ := newTestTransport(t, func(c *NetworkTransportConfig) { c.MaxRPCsInFlight = 8 })
	var mu sync.Mutex
	var kept []*AppendEntriesRequest
	serve(t, srv, func(rpc RPC) {
		mu.Lock()
		kept = append(kept, rpc.Command.(*AppendEntriesRequest))
		mu.Unlock()
		rpc.Respond(&AppendEntriesResponse{Success: true}, nil)
	})
	p, err := cli.AppendEntriesPipeline("n2", srv.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var sent []*AppendEntriesRequest
	for i := 0; i < 50; i++ {
		logs := sampleLogs(1+i%5, 10+i*37)
		for _, l := range logs {
			l.Index += uint64(i * 10)
		}
		req := &AppendEntriesRequest{RPCHeader: header("n1", "a"), Term: 2, PrevLogEntry: uint64(i), Entries: logs}
		sent = append(sent, req)
		if _, err := p.AppendEntries(req, &AppendEntriesResponse{}); err != nil {
			t.Fatal(err)
		}
		if err := (<-p.Consumer()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !reflect.DeepEqual(kept, sent) {
		t.Fatal("retained requests changed after later requests")
	}
}

// mapProvider resolves server IDs from a map.
type mapProvider map[raft.ServerID]raft.ServerAddress

func (m mapProvider) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if a, ok := m[id]; ok {
		return a, nil
	}
	return "", errors.New("unknown id")
}

func TestNetServerAddressProvider(t *testing.T) {
	srv, _ := newTestTransport(t, nil)
	serve(t, srv, func(rpc RPC) { rpc.Respond(&TimeoutNowResponse{}, nil) })
	cli, _ := newTestTransport(t, func(c *NetworkTransportConfig) {
		c.ServerAddressProvider = mapProvider{"n2": srv.LocalAddr()}
	})
	// The given address is wrong; the provider's wins.
	if err := cli.TimeoutNow("n2", "127.0.0.1:1", &TimeoutNowRequest{}, &TimeoutNowResponse{}); err != nil {
		t.Fatal(err)
	}
	if got := string(cli.EncodePeer("n2", "ignored")); got != string(srv.LocalAddr()) {
		t.Fatalf("EncodePeer = %q", got)
	}
	// An unknown ID falls back to the given address.
	if err := cli.TimeoutNow("n9", srv.LocalAddr(), &TimeoutNowRequest{}, &TimeoutNowResponse{}); err != nil {
		t.Fatal(err)
	}
}

// TestNetCloseLeavesNoGoroutines closes a client and a server in the middle
// of traffic (a pipeline with requests in flight, a server connection
// waiting on the engine, pooled connections) and checks that no goroutine
// of either survives Close.
func TestNetCloseLeavesNoGoroutines(t *testing.T) {
	before := goleak.IgnoreCurrent()
	srv, err := NewTCPTransportWithConfig("127.0.0.1:0", nil, &NetworkTransportConfig{MaxPool: 2, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := NewTCPTransportWithConfig("127.0.0.1:0", nil, &NetworkTransportConfig{MaxPool: 2, Timeout: 5 * time.Second, MaxRPCsInFlight: 4})
	if err != nil {
		t.Fatal(err)
	}
	// The engine answers the first RPC, then takes RPCs without answering.
	stop := make(chan struct{})
	engineDone := make(chan struct{})
	stuck := make(chan struct{}, 16)
	go func() {
		defer close(engineDone)
		answered := false
		for {
			select {
			case rpc := <-srv.Consumer():
				if !answered {
					answered = true
					rpc.Respond(&RequestVoteResponse{}, nil)
					continue
				}
				stuck <- struct{}{}
			case <-stop:
				return
			}
		}
	}()
	if err := cli.RequestVote("n", srv.LocalAddr(), &RequestVoteRequest{Term: 1}, &RequestVoteResponse{}); err != nil {
		t.Fatal(err)
	}
	p, err := cli.AppendEntriesPipeline("n", srv.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := p.AppendEntries(&AppendEntriesRequest{Term: 1, PrevLogEntry: 1}, &AppendEntriesResponse{}); err != nil {
			t.Fatal(err)
		}
	}
	<-stuck // a server connection now waits on the engine
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-engineDone
	goleak.VerifyNone(t, before)
}
