package raftimpl

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// A data directory reopened under another LocalID, where the stored state
// proves it is another server's (it lists that server at this address, and
// holds that server's vote for itself there): NewRaft refuses, naming both
// IDs (issue 11 row 10).
func TestReopenedUnderAnotherIDRefusedWhenStateProvesIt(t *testing.T) {
	store := logstore.NewInmemStore()
	snaps := snapshot.NewInmemSnapshotStore()
	addr, trans := transport.NewInmemTransport("addr-1")
	conf := testConfig(t, "n1")
	cfg := raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: addr}}}
	if err := BootstrapCluster(conf, store, store, snaps, trans, cfg); err != nil {
		t.Fatal(err)
	}
	r, err := NewRaft(conf, &testFSM{}, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "n1 to lead", func() bool { return r.State() == raft.Leader })
	if err := r.Apply(cmd(0), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	_, trans2 := transport.NewInmemTransport(addr)
	defer trans2.Close()
	r2, err := NewRaft(testConfig(t, "n9"), &testFSM{}, store, store, snaps, trans2)
	if err == nil {
		r2.Shutdown().Error()
		t.Fatal("NewRaft with another LocalID over n1's state succeeded")
	}
	if !errors.Is(err, raft.ErrServerIDMismatch) || !strings.Contains(err.Error(), `"n9"`) || !strings.Contains(err.Error(), `"n1"`) {
		t.Fatalf("NewRaft under another ID: %v; want ErrServerIDMismatch naming n9 and n1", err)
	}
	// Under its own ID it starts and leads again, with its write.
	_, trans3 := transport.NewInmemTransport(addr)
	fsm := &testFSM{}
	r3, err := NewRaft(testConfig(t, "n1"), fsm, store, store, snaps, trans3)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { r3.Shutdown().Error() }()
	waitFor(t, 10*time.Second, "n1 to lead again", func() bool { return r3.State() == raft.Leader })
	if err := r3.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
}

// Where the state does not prove it (this server never voted for itself
// under the old ID: a non-voter), the node starts, and says at WARN that it
// is not part of its configuration, naming its ID and the configuration.
func TestReopenedUnderAnotherIDWarns(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	store := logstore.NewInmemStore()
	snaps := snapshot.NewInmemSnapshotStore()
	addr, trans := transport.NewInmemTransport("addr-4")
	for _, nd := range c.nodes {
		nd.trans.Connect(addr, trans)
		trans.Connect(nd.addr, nd.trans)
	}
	n4, err := NewRaft(testConfig(t, "n4"), &testFSM{}, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.raft.AddNonvoter("n4", addr, 0, 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if err := l.raft.Apply(cmd(0), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "n4 to catch up", func() bool { return n4.AppliedIndex() >= l.raft.AppliedIndex() })
	if err := n4.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}

	out := &logCapture{}
	conf := testConfig(t, "n5")
	conf.Logger = hclog.New(&hclog.LoggerOptions{Name: "n5", Level: hclog.Warn, Output: io.MultiWriter(out, testWriter{t})})
	addr, trans = transport.NewInmemTransport(addr)
	for _, nd := range c.nodes {
		nd.trans.Connect(addr, trans)
		trans.Connect(nd.addr, nd.trans)
	}
	n5, err := NewRaft(conf, &testFSM{}, store, store, snaps, trans)
	if err != nil {
		t.Fatalf("NewRaft under another ID without proof: %v", err)
	}
	defer func() { n5.Shutdown().Error() }()
	if out.count(0, "local node is not part of the stable configuration") != 1 || out.count(0, "local_id=n5") == 0 || out.count(0, "n4 addr-4") == 0 {
		t.Fatalf("no warning naming n5 and the configuration; logged:\n%s", out.buf.String())
	}
	if n5.State() == raft.Leader {
		t.Fatal("n5 leads")
	}
}
