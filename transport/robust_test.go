package transport

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// TestNetBadPeers attacks a server with garbage, truncated frames, huge
// declared lengths and a peer that trickles one byte at a time, while a
// well-behaved client keeps calling it. Each bad connection must be closed
// with a logged error, the good client must keep being served, and memory
// must stay bounded.
func TestNetBadPeers(t *testing.T) {
	const limit = 1 << 20
	srv, logs := newTestTransport(t, func(c *NetworkTransportConfig) {
		c.MaxMessageSize = limit
		c.IdleTimeout = 300 * time.Millisecond
		c.Timeout = 300 * time.Millisecond
	})
	// NB: the client's IdleTimeout matches the server's, as in a cluster of
	// one configuration: it then never reuses a pooled connection the server
	// may have dropped as idle (it drops its own at half the timeout).
	cli, _ := newTestTransport(t, func(c *NetworkTransportConfig) { c.IdleTimeout = 300 * time.Millisecond })
	serve(t, srv, func(rpc RPC) { rpc.Respond(&RequestVoteResponse{Term: 1, Granted: true}, nil) })

	// The good client calls continuously until the attacks are over.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var goodCalls int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var resp RequestVoteResponse
			if err := cli.RequestVote("n2", srv.LocalAddr(), &RequestVoteRequest{Term: 1}, &resp); err != nil || !resp.Granted {
				t.Errorf("good client: %v %+v", err, resp)
				return
			}
			goodCalls++
		}
	}()

	attacks := []struct {
		name    string
		payload []byte
		logged  string
	}{
		{"unknown type", []byte{0x09, 0x80}, "unknown rpc type"},
		{"invalid msgpack", []byte{0x01, 0xc1}, "corrupt"},
		{"garbage", []byte("GET / HTTP/1.1\r\n\r\n"), "unknown rpc type"},
		{"4 GiB string", []byte{0x01, 0x81, 0xa4, 'T', 'e', 'r', 'm', 0xdb, 0xff, 0xff, 0xff, 0xff}, "message too large"},
		{"4 GiB array", []byte{0x00, 0x81, 0xa7, 'E', 'n', 't', 'r', 'i', 'e', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}, "message too large"},
		{"4G-entry map", []byte{0x00, 0xdf, 0xff, 0xff, 0xff, 0xff}, "message too large"},
		{"huge time", []byte{0x00, 0x81, 0xa7, 'E', 'n', 't', 'r', 'i', 'e', 's', 0x91, 0x81, 0xaa, 'A', 'p', 'p', 'e', 'n', 'd', 'e', 'd', 'A', 't', 0xdb, 0x7f, 0xff, 0xff, 0xff}, "message too large"},
		{"over the limit", append([]byte{0x01, 0x81, 0xa4, 'T', 'e', 'r', 'm', 0xdb, 0x00, 0x10, 0x00, 0x00}, make([]byte, 4096)...), "message too large"},
		{"truncated", []byte{0x01, 0x82, 0xa4, 'T', 'e', 'r', 'm', 0x05}, "truncated frame"},
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, a := range attacks {
		conn := dialAndWrite(t, srv.LocalAddr(), a.name, a.payload)
		if a.name == "truncated" {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
		expectClosed(t, a.name, conn)
		waitFor(t, a.name+" to be logged", func() bool { return strings.Contains(logs.String(), a.logged) })
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("attacks made the process allocate %d MiB", grew>>20)
	}

	// A peer that trickles a valid frame one byte per 50ms never completes it
	// within the 300ms Timeout and is cut off; meanwhile the good client goes on.
	frame, _ := encodeRequest(nil, nil, false, rpcAppendEntries, &AppendEntriesRequest{Term: 1, Entries: sampleLogs(2, 32)}, srv.lim)
	conn, err := net.Dial("tcp", string(srv.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	closed := false
	for _, b := range frame {
		if _, err := conn.Write([]byte{b}); err != nil {
			closed = true
			break
		}
		if time.Since(start) > 2*time.Second {
			break
		}
		time.Sleep(50 * time.Millisecond) // the trickle itself, not synchronisation
	}
	if !closed {
		expectClosed(t, "trickle", conn)
	}
	_ = conn.Close()
	if time.Since(start) > 3*time.Second {
		t.Errorf("trickling peer kept for %v", time.Since(start))
	}

	// A silent connection is dropped after the idle timeout.
	silent, err := net.Dial("tcp", string(srv.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	expectClosed(t, "silent", silent)

	close(stop)
	wg.Wait()
	if goodCalls == 0 {
		t.Fatal("the good client made no calls")
	}
}

// dialAndWrite dials addr and writes payload. A write can find the
// connection already closed when this goroutine was starved past the
// server's first-request Timeout between the dial and the write (a loaded
// -race run): that attempt proves nothing, so it dials again (bounded).
func dialAndWrite(t *testing.T, addr raft.ServerAddress, name string, payload []byte) net.Conn {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		conn, err := net.Dial("tcp", string(addr))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(payload); err != nil {
			lastErr = err
			_ = conn.Close()
			continue
		}
		return conn
	}
	t.Fatalf("%s: write: %v", name, lastErr)
	return nil
}

// expectClosed waits (bounded) for the server to close conn.
func expectClosed(t *testing.T, name string, conn net.Conn) {
	t.Helper()
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	for {
		_, err := conn.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: server kept the connection open", name)
		}
		if errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset") {
			return
		}
		t.Fatalf("%s: read: %v", name, err)
	}
}

// TestNetSilentPeerDoesNotBlockOthers calls a peer that accepts connections
// and never answers while calling a healthy peer: the healthy calls finish
// at once, and the silent call fails when its deadline passes.
func TestNetSilentPeerDoesNotBlockOthers(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var held sync.WaitGroup
	held.Add(1)
	go func() {
		defer held.Done()
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // never read, never answered
		}
	}()
	defer held.Wait()
	defer silent.Close()

	good, _ := newTestTransport(t, nil)
	serve(t, good, func(rpc RPC) { rpc.Respond(&RequestVoteResponse{Granted: true}, nil) })
	cli, _ := newTestTransport(t, func(c *NetworkTransportConfig) { c.Timeout = time.Second })

	slowDone := make(chan error, 1)
	start := time.Now()
	go func() {
		var resp RequestVoteResponse
		slowDone <- cli.RequestVote("s", raft.ServerAddress(silent.Addr().String()), &RequestVoteRequest{Term: 1}, &resp)
	}()
	for i := 0; i < 20; i++ {
		var resp RequestVoteResponse
		if err := cli.RequestVote("g", good.LocalAddr(), &RequestVoteRequest{Term: 1}, &resp); err != nil || !resp.Granted {
			t.Fatalf("healthy peer: %v", err)
		}
	}
	select {
	case err := <-slowDone:
		t.Fatalf("silent peer answered before the healthy calls finished: %v", err)
	default:
	}
	err = <-slowDone
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("silent peer: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("silent call took %v", d)
	}
}
