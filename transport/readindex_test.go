package transport

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	raft "github.com/pontoon-raft/raft"
)

// hashicorpLikePeer accepts connections and, like a hashicorp/raft node on
// an unknown RPC type, reads the type byte and closes. It counts accepts.
func hashicorpLikePeer(t *testing.T) (raft.ServerAddress, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepts atomic.Int32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			_, _ = c.Read(make([]byte, 1))
			_ = c.Close()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		wg.Wait()
	})
	return raft.ServerAddress(l.Addr().String()), &accepts
}

// TestNetReadIndexToPeerWithoutIt: ReadIndex to a peer that closes the
// connection without answering fails with ErrReadIndexUnsupported after one
// retry on a new connection, and for a while later calls fail at once
// without connecting.
func TestNetReadIndexToPeerWithoutIt(t *testing.T) {
	addr, accepts := hashicorpLikePeer(t)
	cli, logs := newTestTransport(t, nil)
	if err := cli.ReadIndexUnsupported("h1", addr); err != nil {
		t.Fatalf("unsupported before any call: %v", err)
	}
	err := cli.ReadIndex("h1", addr, &ReadIndexRequest{Term: 1}, &ReadIndexResponse{})
	if !errors.Is(err, raft.ErrReadIndexUnsupported) {
		t.Fatalf("ReadIndex: %v, want ErrReadIndexUnsupported", err)
	}
	if n := accepts.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (one retry)", n)
	}
	if err := cli.ReadIndexUnsupported("h1", addr); !errors.Is(err, raft.ErrReadIndexUnsupported) {
		t.Fatalf("ReadIndexUnsupported after the failure: %v", err)
	}
	err = cli.ReadIndex("h1", addr, &ReadIndexRequest{Term: 1}, &ReadIndexResponse{})
	if !errors.Is(err, raft.ErrReadIndexUnsupported) || accepts.Load() != 2 {
		t.Fatalf("second ReadIndex: %v after %d connections, want a local refusal", err, accepts.Load())
	}
	waitFor(t, "the WARN", func() bool { return len(logs.String()) > 0 })
}

// TestNetReadIndexStalePooledConn: a pooled connection the server has
// closed meanwhile is not taken for a peer without ReadIndex: the call
// succeeds on a new connection.
func TestNetReadIndexStalePooledConn(t *testing.T) {
	srv, _ := newTestTransport(t, nil)
	serve(t, srv, func(rpc RPC) { rpc.Respond(&ReadIndexResponse{Term: 1, Index: 7, Success: true}, nil) })
	cli, _ := newTestTransport(t, nil)
	for i := 0; i < 3; i++ {
		var resp ReadIndexResponse
		if err := cli.ReadIndex("n2", srv.LocalAddr(), &ReadIndexRequest{Term: 1}, &resp); err != nil || resp.Index != 7 {
			t.Fatalf("call %d: %v %+v", i, err, resp)
		}
		srv.CloseStreams() // the pooled connection is now dead
		waitFor(t, "the server to drop its connections", func() bool { return serverConnCount(srv) == 0 })
	}
	if err := cli.ReadIndexUnsupported("n2", srv.LocalAddr()); err != nil {
		t.Fatalf("a Pontoon peer marked as without ReadIndex: %v", err)
	}
}
