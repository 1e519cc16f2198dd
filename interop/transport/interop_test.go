package transport

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync/atomic"
	"testing"

	hraft "github.com/hashicorp/raft"

	raft "github.com/pontoon-raft/raft"
	pt "github.com/pontoon-raft/raft/transport"
)

// rpcCase is one RPC: the Pontoon request, the response the server gives,
// the snapshot data (InstallSnapshot only) and an error text to return
// instead of a response.
type rpcCase struct {
	name   string
	req    interface{}
	resp   interface{}
	data   []byte
	errStr string
}

func cases(t testing.TB) []rpcCase {
	snap := make([]byte, 6<<20+123)
	_, _ = rand.Read(snap)
	leader := []byte("127.0.0.1:7000")
	return []rpcCase{
		{
			name: "AppendEntries",
			req: &pt.AppendEntriesRequest{RPCHeader: hdr("n1", "127.0.0.1:7000"), Term: 9, Leader: leader,
				PrevLogEntry: 999, PrevLogTerm: 6, Entries: sampleLogs(40, 100), LeaderCommitIndex: 998},
			resp: &pt.AppendEntriesResponse{RPCHeader: hdr("n2", "127.0.0.1:7001"), Term: 9, LastLog: 1039, Success: true},
		},
		{
			name: "AppendEntriesLargeEntries",
			req: &pt.AppendEntriesRequest{RPCHeader: hdr("n1", "127.0.0.1:7000"), Term: 1 << 33, Leader: leader,
				PrevLogEntry: 1 << 40, PrevLogTerm: 1 << 33, Entries: sampleLogs(3, 70000), LeaderCommitIndex: 300},
			resp: &pt.AppendEntriesResponse{RPCHeader: hdr("n2", "127.0.0.1:7001"), Term: 1 << 33, LastLog: 12, NoRetryBackoff: true},
		},
		{
			name: "AppendEntriesNoEntries",
			req: &pt.AppendEntriesRequest{RPCHeader: hdr("n1", "127.0.0.1:7000"), Term: 9, Leader: leader,
				PrevLogEntry: 5, PrevLogTerm: 5, Entries: []*raft.Log{}, LeaderCommitIndex: 5},
			resp: &pt.AppendEntriesResponse{RPCHeader: hdr("n2", "127.0.0.1:7001"), Term: 9, LastLog: 5, Success: true},
		},
		{
			name: "Heartbeat",
			req:  &pt.AppendEntriesRequest{RPCHeader: hdr("n1", "127.0.0.1:7000"), Term: 9, Leader: leader},
			resp: &pt.AppendEntriesResponse{RPCHeader: hdr("n2", "127.0.0.1:7001"), Term: 9, LastLog: 5, Success: true},
		},
		{
			name: "RequestVote",
			req: &pt.RequestVoteRequest{RPCHeader: hdr("n1", "127.0.0.1:7000"), Term: 10, Candidate: leader,
				LastLogIndex: 1039, LastLogTerm: 9, LeadershipTransfer: true},
			resp: &pt.RequestVoteResponse{RPCHeader: hdr("n2", "127.0.0.1:7001"), Term: 10, Peers: []byte{0x91, 0xa1, 'x'}, Granted: true},
		},
		{
			name: "RequestPreVote",
			req:  &pt.RequestPreVoteRequest{RPCHeader: hdr("n1", "127.0.0.1:7000"), Term: 11, LastLogIndex: 1039, LastLogTerm: 9},
			resp: &pt.RequestPreVoteResponse{RPCHeader: hdr("n2", "127.0.0.1:7001"), Term: 10, Granted: true},
		},
		{
			name: "TimeoutNow",
			req:  &pt.TimeoutNowRequest{RPCHeader: hdr("n1", "127.0.0.1:7000")},
			resp: &pt.TimeoutNowResponse{},
		},
		{
			name: "InstallSnapshot",
			req: &pt.InstallSnapshotRequest{RPCHeader: hdr("n1", "127.0.0.1:7000"), SnapshotVersion: 1, Term: 12, Leader: leader,
				LastLogIndex: 5000, LastLogTerm: 11, Peers: []byte{0x91, 0xae}, Configuration: raft.EncodeConfiguration(raft.Configuration{
					Servers: []raft.Server{{Suffrage: raft.Voter, ID: "n1", Address: "127.0.0.1:7000"}}}),
				ConfigurationIndex: 1, Size: int64(len(snap))},
			resp: &pt.InstallSnapshotResponse{Term: 12, Success: true},
			data: snap,
		},
		{
			name:   "RemoteError",
			req:    &pt.RequestPreVoteRequest{RPCHeader: hdr("n1", "127.0.0.1:7000"), Term: 2},
			resp:   nil,
			errStr: "unexpected command",
		},
	}
}

// zeroOf returns a new zero Pontoon response for req.
func zeroOf(req interface{}) interface{} {
	switch req.(type) {
	case *pt.AppendEntriesRequest:
		return &pt.AppendEntriesResponse{}
	case *pt.RequestVoteRequest:
		return &pt.RequestVoteResponse{}
	case *pt.RequestPreVoteRequest:
		return &pt.RequestPreVoteResponse{}
	case *pt.InstallSnapshotRequest:
		return &pt.InstallSnapshotResponse{}
	case *pt.TimeoutNowRequest:
		return &pt.TimeoutNowResponse{}
	}
	panic("zeroOf")
}

func callPontoon(tr *pt.NetworkTransport, target raft.ServerAddress, c *rpcCase) (interface{}, error) {
	out := zeroOf(c.req)
	var err error
	switch r := c.req.(type) {
	case *pt.AppendEntriesRequest:
		err = tr.AppendEntries("n2", target, r, out.(*pt.AppendEntriesResponse))
	case *pt.RequestVoteRequest:
		err = tr.RequestVote("n2", target, r, out.(*pt.RequestVoteResponse))
	case *pt.RequestPreVoteRequest:
		err = tr.RequestPreVote("n2", target, r, out.(*pt.RequestPreVoteResponse))
	case *pt.InstallSnapshotRequest:
		err = tr.InstallSnapshot("n2", target, r, out.(*pt.InstallSnapshotResponse), bytes.NewReader(c.data))
	case *pt.TimeoutNowRequest:
		err = tr.TimeoutNow("n2", target, r, out.(*pt.TimeoutNowResponse))
	}
	return out, err
}

func callHashi(tr *hraft.NetworkTransport, target hraft.ServerAddress, c *rpcCase) (interface{}, error) {
	var err error
	var out interface{}
	switch r := toHashi(c.req).(type) {
	case *hraft.AppendEntriesRequest:
		o := &hraft.AppendEntriesResponse{}
		err, out = tr.AppendEntries("n2", target, r, o), o
	case *hraft.RequestVoteRequest:
		o := &hraft.RequestVoteResponse{}
		err, out = tr.RequestVote("n2", target, r, o), o
	case *hraft.RequestPreVoteRequest:
		o := &hraft.RequestPreVoteResponse{}
		err, out = tr.RequestPreVote("n2", target, r, o), o
	case *hraft.InstallSnapshotRequest:
		o := &hraft.InstallSnapshotResponse{}
		err, out = tr.InstallSnapshot("n2", target, r, o, bytes.NewReader(c.data)), o
	case *hraft.TimeoutNowRequest:
		o := &hraft.TimeoutNowResponse{}
		err, out = tr.TimeoutNow("n2", target, r, o), o
	}
	return fromHashi(out), err
}

// checkReceived compares what a server got with the case, snapshot data
// included; it returns a description of any difference.
func checkReceived(c *rpcCase, got interface{}, reader io.Reader) error {
	if !reflect.DeepEqual(got, c.req) {
		return fmt.Errorf("%s: server got\n%#v\nwant\n%#v", c.name, got, c.req)
	}
	if c.data != nil {
		data, err := io.ReadAll(reader)
		if err != nil {
			return fmt.Errorf("%s: read snapshot: %w", c.name, err)
		}
		if !bytes.Equal(data, c.data) {
			return fmt.Errorf("%s: snapshot data differs (%d bytes, want %d)", c.name, len(data), len(c.data))
		}
	}
	return nil
}

func checkReply(t *testing.T, c *rpcCase, got interface{}, err error) {
	t.Helper()
	if c.errStr != "" {
		if err == nil || err.Error() != c.errStr {
			t.Fatalf("%s: err = %v, want %q", c.name, err, c.errStr)
		}
		if !reflect.DeepEqual(got, zeroOf(c.req)) {
			t.Fatalf("%s: response with error = %#v, want zero", c.name, got)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	if !reflect.DeepEqual(got, c.resp) {
		t.Fatalf("%s: client got\n%#v\nwant\n%#v", c.name, got, c.resp)
	}
}

// responseFor returns the response and error a server sends for c.
func responseFor(c *rpcCase) (interface{}, error) {
	if c.errStr != "" {
		return nil, errors.New(c.errStr)
	}
	return c.resp, nil
}

func TestPontoonClientHashicorpServer(t *testing.T) {
	srv := newHashi(t, 0)
	cli := newPontoon(t, 0)
	var cur atomic.Pointer[rpcCase]
	serveErr := make(chan error, 1)
	serveLoop(t, srv.Consumer(), func(rpc hraft.RPC) {
		c := cur.Load()
		if err := checkReceived(c, fromHashi(rpc.Command), rpc.Reader); err != nil {
			select {
			case serveErr <- err:
			default:
			}
		}
		resp, err := responseFor(c)
		if resp != nil {
			resp = toHashi(resp)
		}
		rpc.Respond(resp, err)
	})
	all := cases(t)
	for i := range all {
		c := &all[i]
		t.Run(c.name, func(t *testing.T) {
			cur.Store(c)
			got, err := callPontoon(cli, raft.ServerAddress(srv.LocalAddr()), c)
			select {
			case e := <-serveErr:
				t.Fatal(e)
			default:
			}
			checkReply(t, c, got, err)
		})
	}
}

func TestHashicorpClientPontoonServer(t *testing.T) {
	srv := newPontoon(t, 0)
	cli := newHashi(t, 0)
	var cur atomic.Pointer[rpcCase]
	serveErr := make(chan error, 1)
	serveLoop(t, srv.Consumer(), func(rpc pt.RPC) {
		c := cur.Load()
		if err := checkReceived(c, rpc.Command, rpc.Reader); err != nil {
			select {
			case serveErr <- err:
			default:
			}
		}
		rpc.Respond(responseFor(c))
	})
	all := cases(t)
	for i := range all {
		c := &all[i]
		t.Run(c.name, func(t *testing.T) {
			cur.Store(c)
			got, err := callHashi(cli, hraft.ServerAddress(srv.LocalAddr()), c)
			select {
			case e := <-serveErr:
				t.Fatal(e)
			default:
			}
			checkReply(t, c, got, err)
		})
	}
}

// pipelineRequests returns n distinct AppendEntries with entries.
func pipelineRequests(n int) []*pt.AppendEntriesRequest {
	out := make([]*pt.AppendEntriesRequest, n)
	for i := range out {
		logs := sampleLogs(1+i%9, 10+i)
		for _, l := range logs {
			l.Index += uint64(i * 100)
		}
		out[i] = &pt.AppendEntriesRequest{RPCHeader: hdr("n1", "127.0.0.1:7000"), Term: 9, Leader: []byte("127.0.0.1:7000"),
			PrevLogEntry: uint64(i * 100), PrevLogTerm: 9, Entries: logs, LeaderCommitIndex: uint64(i)}
	}
	return out
}

func pipelineResponse(req *pt.AppendEntriesRequest) *pt.AppendEntriesResponse {
	return &pt.AppendEntriesResponse{RPCHeader: hdr("n2", "127.0.0.1:7001"), Term: req.Term,
		LastLog: req.PrevLogEntry + uint64(len(req.Entries)), Success: true}
}

func TestPipelinePontoonClientHashicorpServer(t *testing.T) {
	srv := newHashi(t, 0)
	cli := newPontoon(t, 8)
	reqs := pipelineRequests(60)
	var next atomic.Int64
	serveErr := make(chan error, 1)
	serveLoop(t, srv.Consumer(), func(rpc hraft.RPC) {
		i := next.Add(1) - 1
		got := fromHashi(rpc.Command).(*pt.AppendEntriesRequest)
		if int(i) >= len(reqs) || !reflect.DeepEqual(got, reqs[i]) {
			select {
			case serveErr <- fmt.Errorf("request %d differs or out of order", i):
			default:
			}
		}
		rpc.Respond(toHashi(pipelineResponse(got)), nil)
	})
	p, err := cli.AppendEntriesPipeline("n2", raft.ServerAddress(srv.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := make(chan error, 1)
	go func() {
		for i := range reqs {
			f := <-p.Consumer()
			if err := f.Error(); err != nil {
				done <- err
				return
			}
			if f.Request() != reqs[i] || !reflect.DeepEqual(f.Response(), pipelineResponse(reqs[i])) {
				done <- fmt.Errorf("future %d: response %#v", i, f.Response())
				return
			}
		}
		done <- nil
	}()
	for _, r := range reqs {
		if _, err := p.AppendEntries(r, &pt.AppendEntriesResponse{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-serveErr:
		t.Fatal(e)
	default:
	}
}

func TestPipelineHashicorpClientPontoonServer(t *testing.T) {
	srv := newPontoon(t, 0)
	cli := newHashi(t, 0)
	reqs := pipelineRequests(60)
	var next atomic.Int64
	serveErr := make(chan error, 1)
	serveLoop(t, srv.Consumer(), func(rpc pt.RPC) {
		i := next.Add(1) - 1
		got := rpc.Command.(*pt.AppendEntriesRequest)
		if int(i) >= len(reqs) || !reflect.DeepEqual(got, reqs[i]) {
			select {
			case serveErr <- fmt.Errorf("request %d differs or out of order", i):
			default:
			}
		}
		rpc.Respond(pipelineResponse(got), nil)
	})
	p, err := cli.AppendEntriesPipeline("n2", hraft.ServerAddress(srv.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := make(chan error, 1)
	go func() {
		for i := range reqs {
			f := <-p.Consumer()
			if err := f.Error(); err != nil {
				done <- err
				return
			}
			if !reflect.DeepEqual(fromHashi(f.Response()), pipelineResponse(reqs[i])) {
				done <- fmt.Errorf("future %d: response %#v", i, f.Response())
				return
			}
		}
		done <- nil
	}()
	for _, r := range reqs {
		if _, err := p.AppendEntries(toHashi(r).(*hraft.AppendEntriesRequest), &hraft.AppendEntriesResponse{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-serveErr:
		t.Fatal(e)
	default:
	}
}

// TestHeartbeatHandlers checks both fast paths: hashicorp's server hands a
// Pontoon heartbeat to its handler and Pontoon's does the same for
// hashicorp's.
func TestHeartbeatHandlers(t *testing.T) {
	hb := &pt.AppendEntriesRequest{RPCHeader: hdr("n1", "127.0.0.1:7000"), Term: 4, Leader: []byte("127.0.0.1:7000")}
	want := &pt.AppendEntriesResponse{RPCHeader: hdr("n2", "x"), Term: 4, Success: true}

	hsrv := newHashi(t, 0)
	var hgot atomic.Int64
	hsrv.SetHeartbeatHandler(func(rpc hraft.RPC) {
		if reflect.DeepEqual(fromHashi(rpc.Command), hb) {
			hgot.Add(1)
		}
		rpc.Respond(toHashi(want), nil)
	})
	psrv := newPontoon(t, 0)
	var pgot atomic.Int64
	psrv.SetHeartbeatHandler(func(rpc pt.RPC) {
		if reflect.DeepEqual(rpc.Command, hb) {
			pgot.Add(1)
		}
		rpc.Respond(want, nil)
	})
	pcli := newPontoon(t, 0)
	hcli := newHashi(t, 0)

	var resp pt.AppendEntriesResponse
	if err := pcli.AppendEntries("n2", raft.ServerAddress(hsrv.LocalAddr()), hb, &resp); err != nil || !reflect.DeepEqual(&resp, want) {
		t.Fatalf("pontoon→hashicorp heartbeat: %v %#v", err, resp)
	}
	var hresp hraft.AppendEntriesResponse
	if err := hcli.AppendEntries("n2", hraft.ServerAddress(psrv.LocalAddr()), toHashi(hb).(*hraft.AppendEntriesRequest), &hresp); err != nil || !reflect.DeepEqual(fromHashi(&hresp), want) {
		t.Fatalf("hashicorp→pontoon heartbeat: %v %#v", err, hresp)
	}
	if hgot.Load() != 1 || pgot.Load() != 1 {
		t.Fatalf("handlers saw %d (hashicorp) and %d (pontoon) heartbeats, want 1 each", hgot.Load(), pgot.Load())
	}
}

// TestReadIndexToHashicorp: Pontoon's ReadIndex extension sent to a
// hashicorp node fails promptly (hashicorp closes the connection on the
// unknown type), and the hashicorp node keeps serving.
func TestReadIndexToHashicorp(t *testing.T) {
	srv := newHashi(t, 0)
	serveLoop(t, srv.Consumer(), func(rpc hraft.RPC) { rpc.Respond(&hraft.TimeoutNowResponse{}, nil) })
	cli := newPontoon(t, 0)
	var resp pt.ReadIndexResponse
	if err := cli.ReadIndex("n2", raft.ServerAddress(srv.LocalAddr()), &pt.ReadIndexRequest{RPCHeader: hdr("n1", "x"), Term: 1}, &resp); err == nil {
		t.Fatal("hashicorp answered ReadIndex")
	}
	if err := cli.TimeoutNow("n2", raft.ServerAddress(srv.LocalAddr()), &pt.TimeoutNowRequest{RPCHeader: hdr("n1", "x")}, &pt.TimeoutNowResponse{}); err != nil {
		t.Fatalf("hashicorp stopped serving: %v", err)
	}
}
