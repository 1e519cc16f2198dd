package transport

import (
	"reflect"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	raft "github.com/pontoon-raft/raft"
	pt "github.com/pontoon-raft/raft/transport"
)

// TestNewTimeFormat runs AppendEntries both ways with
// MsgpackUseNewTimeFormat set on the sender, as a cluster migrating to the
// new format would: each side's decoder must read the other's timestamps.
func TestNewTimeFormat(t *testing.T) {
	req := &pt.AppendEntriesRequest{RPCHeader: hdr("n1", "127.0.0.1:7000"), Term: 3, Leader: []byte("x"),
		PrevLogEntry: 10, PrevLogTerm: 3, Entries: sampleLogs(8, 20), LeaderCommitIndex: 9}
	resp := &pt.AppendEntriesResponse{RPCHeader: hdr("n2", "y"), Term: 3, LastLog: 18, Success: true}

	newP := func() *pt.NetworkTransport {
		tr, err := pt.NewTCPTransportWithConfig("127.0.0.1:0", nil, &pt.NetworkTransportConfig{
			MaxPool: 1, Timeout: 10 * time.Second, Logger: quietLogger(), MsgpackUseNewTimeFormat: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		return tr
	}
	newH := func() *hraft.NetworkTransport {
		tr, err := hraft.NewTCPTransportWithConfig("127.0.0.1:0", nil, &hraft.NetworkTransportConfig{
			MaxPool: 1, Timeout: 10 * time.Second, Logger: quietLogger(), MsgpackUseNewTimeFormat: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			tr.CloseStreams()
			_ = tr.Close()
		})
		return tr
	}

	hsrv := newH()
	got := make(chan interface{}, 1)
	serveLoop(t, hsrv.Consumer(), func(rpc hraft.RPC) {
		got <- fromHashi(rpc.Command)
		rpc.Respond(toHashi(resp), nil)
	})
	pcli := newP()
	var out pt.AppendEntriesResponse
	if err := pcli.AppendEntries("n2", raft.ServerAddress(hsrv.LocalAddr()), req, &out); err != nil {
		t.Fatal(err)
	}
	if g := <-got; !reflect.DeepEqual(g, req) {
		t.Fatalf("hashicorp server got %#v", g)
	}
	if !reflect.DeepEqual(&out, resp) {
		t.Fatalf("pontoon client got %#v", out)
	}

	psrv := newP()
	pgot := make(chan interface{}, 1)
	serveLoop(t, psrv.Consumer(), func(rpc pt.RPC) {
		pgot <- rpc.Command
		rpc.Respond(resp, nil)
	})
	hcli := newH()
	var hout hraft.AppendEntriesResponse
	if err := hcli.AppendEntries("n2", hraft.ServerAddress(psrv.LocalAddr()), toHashi(req).(*hraft.AppendEntriesRequest), &hout); err != nil {
		t.Fatal(err)
	}
	if g := <-pgot; !reflect.DeepEqual(g, req) {
		t.Fatalf("pontoon server got %#v", g)
	}
	if !reflect.DeepEqual(fromHashi(&hout), resp) {
		t.Fatalf("hashicorp client got %#v", hout)
	}
}
