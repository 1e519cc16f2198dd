package raftimpl

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// gatedFSM is a testFSM whose Apply waits while its gate is shut.
type gatedFSM struct {
	testFSM
	mu   sync.Mutex
	gate chan struct{}
}

func newGatedFSM() *gatedFSM {
	g := &gatedFSM{gate: make(chan struct{})}
	close(g.gate)
	return g
}

func (g *gatedFSM) shut() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedFSM) open() {
	g.mu.Lock()
	select {
	case <-g.gate:
	default:
		close(g.gate)
	}
	g.mu.Unlock()
}

func (g *gatedFSM) Apply(l *raft.Log) interface{} {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	<-gate
	return g.testFSM.Apply(l)
}

// startSingle starts a bootstrapped one-node cluster over fsm and waits
// until it leads.
func startSingle(t *testing.T, fsm raft.FSM, mut func(*Config)) *Raft {
	t.Helper()
	conf := testConfig(t, "n1")
	if mut != nil {
		mut(conf)
	}
	store := logstore.NewInmemStore()
	snaps := snapshot.NewInmemSnapshotStore()
	addr, trans := transport.NewInmemTransport("addr-1")
	cfg := raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: addr}}}
	if err := BootstrapCluster(conf, store, store, snaps, trans, cfg); err != nil {
		t.Fatal(err)
	}
	r, err := NewRaft(conf, fsm, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown().Error() })
	waitFor(t, 10*time.Second, "n1 to lead", func() bool { return r.State() == raft.Leader })
	return r
}

// An Apply whose caller got the plain raft.ErrEnqueueTimeout never reaches
// the log, even when the driver takes it from its queue later (issue 12
// item 4: a client retries on that error, as hashicorp/raft users do, and
// must not apply twice). The FSM is held so that the apply queue fills and
// the driver stops taking proposals; Applies then time out in its queue.
func TestPlainEnqueueTimeoutIsNeverApplied(t *testing.T) {
	fsm := newGatedFSM()
	r := startSingle(t, fsm, nil)
	if err := r.Apply([]byte("first"), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	fsm.shut()
	defer fsm.open()
	var plain [][]byte
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; len(plain) < 3; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no Apply returned the plain ErrEnqueueTimeout after %d tries", i)
		}
		c := []byte(fmt.Sprintf("c-%d", i))
		err := r.Apply(c, 10*time.Millisecond).Error()
		switch {
		case err == raft.ErrEnqueueTimeout:
			plain = append(plain, c)
		case errors.Is(err, raft.ErrEnqueueTimeout):
			// Taken by the driver: it may still apply.
		default:
			t.Fatalf("Apply %d with the FSM held: %v", i, err)
		}
	}
	// A membership change that times out in the queue is dropped too.
	if err := r.AddNonvoter("n9", "addr-9", 0, 10*time.Millisecond).Error(); err != raft.ErrEnqueueTimeout {
		t.Fatalf("AddNonvoter with the driver stuck: %v, want the plain ErrEnqueueTimeout", err)
	}
	fsm.open()
	if err := r.Barrier(10 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	for _, s := range r.GetConfiguration().Configuration().Servers {
		if s.ID == "n9" {
			t.Fatal("n9 was added although AddNonvoter returned the plain ErrEnqueueTimeout")
		}
	}
	for _, got := range fsm.commands() {
		for _, p := range plain {
			if bytes.Equal(got, p) {
				t.Fatalf("%s was applied although its Apply returned the plain ErrEnqueueTimeout", p)
			}
		}
	}
	// And the node goes on.
	if err := r.Apply([]byte("last"), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
}
