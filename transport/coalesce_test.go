package transport

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	msgpack "github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/pontoon-raft/raft/internal/codec"
)

// collect receives n RPCs from tr's consumer, failing the test after the
// deadline instead of hanging.
func collect(t *testing.T, tr *NetworkTransport, n int) []RPC {
	t.Helper()
	var out []RPC
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for len(out) < n {
		select {
		case rpc := <-tr.Consumer():
			out = append(out, rpc)
		case <-timeout.C:
			t.Fatalf("received %d of %d RPCs", len(out), n)
		}
	}
	return out
}

// nextFuture receives the pipeline's next completed future, failing the
// test after the deadline instead of hanging.
func nextFuture(t *testing.T, p AppendPipeline) AppendFuture {
	t.Helper()
	select {
	case f := <-p.Consumer():
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no pipelined reply")
		return nil
	}
}

// TestNetRepliesCoalesced answers a window of pipelined AppendEntries at
// once, last first, so every reply is ready when the writer gets the first:
// they must all go out in one Write, each intact (errors included) and in
// request order.
func TestNetRepliesCoalesced(t *testing.T) {
	const window = 16
	stats := &ioStats{}
	srv := newCountingTransport(t, stats, func(c *NetworkTransportConfig) { c.ServerReadAhead = window })
	cli, _ := newTestTransport(t, func(c *NetworkTransportConfig) { c.MaxRPCsInFlight = window })
	p, err := cli.AppendEntriesPipeline("n2", srv.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for round := 0; round < 3; round++ {
		base := uint64(round * 1000)
		for i := 0; i < window; i++ {
			req := &AppendEntriesRequest{RPCHeader: header("n1", "a"), Term: 3, PrevLogEntry: base + uint64(i), Entries: sampleLogs(2, 8)}
			if _, err := p.AppendEntries(req, &AppendEntriesResponse{}); err != nil {
				t.Fatal(err)
			}
		}
		rpcs := collect(t, srv, window)
		writesBefore := stats.writes.Load()
		for i := window - 1; i >= 0; i-- {
			req := rpcs[i].Command.(*AppendEntriesRequest)
			if i%3 == 2 {
				rpcs[i].Respond(nil, fmt.Errorf("rejected %d", req.PrevLogEntry))
				continue
			}
			rpcs[i].Respond(&AppendEntriesResponse{Term: 3, LastLog: req.PrevLogEntry + 2, Success: true}, nil)
		}
		for i := 0; i < window; i++ {
			f := nextFuture(t, p)
			prev := base + uint64(i)
			if got := f.Request().PrevLogEntry; got != prev {
				t.Fatalf("round %d reply %d is for request %d, want %d", round, i, got, prev)
			}
			err := f.Error()
			if i%3 == 2 {
				if want := fmt.Sprintf("rejected %d", prev); err == nil || err.Error() != want {
					t.Fatalf("round %d reply %d: err %v, want %q", round, i, err, want)
				}
				continue
			}
			if err != nil || f.Response().LastLog != prev+2 || !f.Response().Success {
				t.Fatalf("round %d reply %d: %+v, %v", round, i, f.Response(), err)
			}
		}
		if got := stats.writes.Load() - writesBefore; got != 1 {
			t.Fatalf("round %d: %d replies took %d writes, want 1", round, window, got)
		}
	}
}

// TestNetReadyReplyNotHeldBack answers the first of two pipelined requests
// and not the second: the first reply must arrive while the second is
// still unanswered, since the writer never waits to fill a batch.
func TestNetReadyReplyNotHeldBack(t *testing.T) {
	srv, _ := newTestTransport(t, nil)
	cli, _ := newTestTransport(t, func(c *NetworkTransportConfig) { c.MaxRPCsInFlight = 4 })
	p, err := cli.AppendEntriesPipeline("n2", srv.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := 1; i <= 2; i++ {
		if _, err := p.AppendEntries(&AppendEntriesRequest{Term: 1, PrevLogEntry: uint64(i)}, &AppendEntriesResponse{}); err != nil {
			t.Fatal(err)
		}
	}
	rpcs := collect(t, srv, 2)
	rpcs[0].Respond(&AppendEntriesResponse{Term: 1, LastLog: 1, Success: true}, nil)
	if f := nextFuture(t, p); f.Error() != nil || f.Request().PrevLogEntry != 1 || f.Response().LastLog != 1 {
		t.Fatalf("first reply: %+v, %v", f.Response(), f.Error())
	}
	rpcs[1].Respond(&AppendEntriesResponse{Term: 1, LastLog: 2, Success: true}, nil)
	if f := nextFuture(t, p); f.Error() != nil || f.Request().PrevLogEntry != 2 || f.Response().LastLog != 2 {
		t.Fatalf("second reply: %+v, %v", f.Response(), f.Error())
	}
}

// unencodable fails go-msgpack encoding.
type unencodable struct{}

func (unencodable) CodecEncodeSelf(*msgpack.Encoder)  { panic(errors.New("cannot encode")) }
func (*unencodable) CodecDecodeSelf(*msgpack.Decoder) {}

// TestNetReplyEncodeErrorKeepsEarlierReplies makes the middle one of three
// coalesced replies fail to encode: the reply before it must still be
// written whole, then the connection closes (nothing partial, nothing
// after).
func TestNetReplyEncodeErrorKeepsEarlierReplies(t *testing.T) {
	srv, logs := newTestTransport(t, nil)
	conn, err := net.Dial("tcp", string(srv.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var enc *msgpack.Encoder
	var frames []byte
	for i := 1; i <= 3; i++ {
		b, err := encodeRequest(nil, &enc, false, rpcRequestVote, &RequestVoteRequest{RPCHeader: header("n1", "a"), Term: uint64(i)}, srv.lim)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, b...)
	}
	if _, err := conn.Write(frames); err != nil {
		t.Fatal(err)
	}
	rpcs := collect(t, srv, 3)
	rpcs[2].Respond(&RequestVoteResponse{Term: 3}, nil)
	rpcs[1].Respond(unencodable{}, nil)
	rpcs[0].Respond(&RequestVoteResponse{Term: 1, Granted: true}, nil)

	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	frame, err := readFrame(br, nil, 2, 1<<20)
	if err != nil {
		t.Fatalf("first reply: %v", err)
	}
	var errText string
	var resp RequestVoteResponse
	var dec codec.BytesDecoder
	if err := dec.DecodeMany(frame, &errText, &resp); err != nil || errText != "" || resp.Term != 1 || !resp.Granted {
		t.Fatalf("first reply: %q %+v %v", errText, resp, err)
	}
	if rest, err := readFrame(br, nil, 2, 1<<20); err == nil {
		t.Fatalf("read %x after the unencodable reply, want the connection closed", rest)
	}
	waitFor(t, "the encode error logged", func() bool { return strings.Contains(logs.String(), "cannot encode") })
}
