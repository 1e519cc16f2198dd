package raftimpl

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

func TestValidateConfig(t *testing.T) {
	ok := DefaultConfig()
	ok.LocalID = "a"
	if err := ValidateConfig(ok); err != nil {
		t.Fatalf("default config with an ID: %v", err)
	}
	cases := map[string]func(c *Config){
		"no ID":              func(c *Config) { c.LocalID = "" },
		"protocol 0":         func(c *Config) { c.ProtocolVersion = 0 },
		"protocol 4":         func(c *Config) { c.ProtocolVersion = 4 },
		"heartbeat too low":  func(c *Config) { c.HeartbeatTimeout = time.Millisecond },
		"election too low":   func(c *Config) { c.ElectionTimeout = time.Millisecond },
		"commit too low":     func(c *Config) { c.CommitTimeout = 0 },
		"no append entries":  func(c *Config) { c.MaxAppendEntries = 0 },
		"too many entries":   func(c *Config) { c.MaxAppendEntries = 2000 },
		"snapshot interval":  func(c *Config) { c.SnapshotInterval = time.Millisecond },
		"lease too low":      func(c *Config) { c.LeaderLeaseTimeout = time.Millisecond },
		"lease > heartbeat":  func(c *Config) { c.LeaderLeaseTimeout = 2 * c.HeartbeatTimeout },
		"election < heartbt": func(c *Config) { c.ElectionTimeout = c.HeartbeatTimeout / 2 },
	}
	for name, mutate := range cases {
		c := *ok
		mutate(&c)
		err := ValidateConfig(&c)
		if !errors.Is(err, raft.ErrInvalidConfig) {
			t.Errorf("%s: got %v, want ErrInvalidConfig", name, err)
		}
	}
	// NewRaft refuses a bad config without starting anything.
	bad := *ok
	bad.LocalID = ""
	_, trans := transport.NewInmemTransport("")
	defer trans.Close()
	s := logstore.NewInmemStore()
	if _, err := NewRaft(&bad, &testFSM{}, s, s, snapshot.NewInmemSnapshotStore(), trans); !errors.Is(err, raft.ErrInvalidConfig) {
		t.Fatalf("NewRaft with bad config: %v", err)
	}
}

func TestBootstrapRules(t *testing.T) {
	s := logstore.NewInmemStore()
	snaps := snapshot.NewInmemSnapshotStore()
	addr, trans := transport.NewInmemTransport("")
	defer trans.Close()
	conf := testConfig(t, "a")
	has, err := HasExistingState(s, s, snaps)
	if err != nil || has {
		t.Fatalf("fresh stores: has=%v err=%v", has, err)
	}
	if err := BootstrapCluster(conf, s, s, snaps, trans, raft.Configuration{}); !errors.Is(err, raft.ErrInvalidConfig) {
		t.Fatalf("bootstrap with empty configuration: %v", err)
	}
	good := raft.Configuration{Servers: []raft.Server{{ID: "a", Address: addr}}}
	if err := BootstrapCluster(conf, s, s, snaps, trans, good); err != nil {
		t.Fatal(err)
	}
	if has, _ := HasExistingState(s, s, snaps); !has {
		t.Fatal("no state after bootstrap")
	}
	if err := BootstrapCluster(conf, s, s, snaps, trans, good); !errors.Is(err, raft.ErrCantBootstrap) {
		t.Fatalf("second bootstrap: %v, want ErrCantBootstrap", err)
	}
	var l raft.Log
	if err := s.GetLog(1, &l); err != nil || l.Type != raft.LogConfiguration || l.Term != 1 {
		t.Fatalf("bootstrap entry: %+v %v", l, err)
	}
	if term, _ := s.GetUint64([]byte("CurrentTerm")); term != 1 {
		t.Fatalf("CurrentTerm %d after bootstrap, want 1", term)
	}
}

// A single node bootstrapped through the method elects itself, writes a noop
// at index 2, and puts the first command at index 3 (as hashicorp/raft).
func TestSingleNodeBootstrapMethodAndIndexes(t *testing.T) {
	s := logstore.NewInmemStore()
	addr, trans := transport.NewInmemTransport("")
	fsm := &testFSM{}
	r, err := NewRaft(testConfig(t, "solo"), fsm, s, s, snapshot.NewInmemSnapshotStore(), trans)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { r.Shutdown().Error() }()
	if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: "other", Address: "x"}}}).Error(); !errors.Is(err, raft.ErrNotVoter) {
		t.Fatalf("bootstrap without self: %v, want ErrNotVoter", err)
	}
	if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: "solo", Address: addr}}}).Error(); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-r.LeaderCh():
		if !v {
			t.Fatal("LeaderCh gave false")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no leadership notification")
	}
	f := r.Apply([]byte("x"), 5*time.Second)
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	if f.Index() != 3 {
		t.Fatalf("first command at index %d, want 3", f.Index())
	}
	if r.CurrentTerm() != 2 {
		t.Fatalf("term %d, want 2", r.CurrentTerm())
	}
	if err := r.VerifyLeader().Error(); err != nil {
		t.Fatalf("VerifyLeader on single node: %v", err)
	}
	if err := r.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatalf("Barrier: %v", err)
	}
	if r.AppliedIndex() < 4 {
		t.Fatalf("applied index %d after barrier at 4", r.AppliedIndex())
	}
	if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: "solo", Address: addr}}}).Error(); !errors.Is(err, raft.ErrCantBootstrap) {
		t.Fatalf("bootstrap of a leader: %v", err)
	}
	st := r.Stats()
	for _, k := range []string{"state", "term", "last_log_index", "last_log_term", "commit_index", "applied_index",
		"fsm_pending", "last_snapshot_index", "last_snapshot_term", "protocol_version", "protocol_version_min",
		"protocol_version_max", "snapshot_version_min", "snapshot_version_max", "latest_configuration_index",
		"latest_configuration", "num_peers", "last_contact"} {
		if _, ok := st[k]; !ok {
			t.Errorf("Stats lacks %q", k)
		}
	}
	if st["state"] != "Leader" || st["num_peers"] != "0" || st["last_contact"] != "0" {
		t.Errorf("Stats: %v", st)
	}
	if !strings.Contains(st["latest_configuration"], "ID:solo") {
		t.Errorf("latest_configuration: %q", st["latest_configuration"])
	}
	cf := r.GetConfiguration()
	if cf.Error() != nil || len(cf.Configuration().Servers) != 1 || cf.Index() != 1 {
		t.Fatalf("GetConfiguration: %+v index %d", cf.Configuration(), cf.Index())
	}
}

// Apply's timeout covers the wait for commit, not just the enqueue: a leader
// cut off from its followers cannot commit, and Apply returns by its timeout.
func TestApplyTimeoutCoversWholeWait(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	for _, f := range c.followers(l) {
		l.trans.Disconnect(f.addr)
	}
	start := time.Now()
	err := l.raft.Apply(cmd(1), 50*time.Millisecond).Error()
	if !errors.Is(err, raft.ErrEnqueueTimeout) && !errors.Is(err, raft.ErrLeadershipLost) && !errors.Is(err, raft.ErrNotLeader) {
		t.Fatalf("apply without quorum: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("apply returned after %s", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = l.raft.ApplyContext(ctx, cmd(2)).Error()
	if err == nil {
		t.Fatal("ApplyContext committed without a quorum")
	}
}

func TestShutdown(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	c.stop(l)
	if err := l.raft.Shutdown().Error(); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	if l.raft.State() != raft.Shutdown {
		t.Fatalf("state %v after shutdown", l.raft.State())
	}
	if err := l.raft.Apply(cmd(1), time.Second).Error(); !errors.Is(err, raft.ErrRaftShutdown) {
		t.Fatalf("apply after shutdown: %v", err)
	}
	if err := l.raft.VerifyLeader().Error(); !errors.Is(err, raft.ErrRaftShutdown) {
		t.Fatalf("verify after shutdown: %v", err)
	}
}

func TestObserversSeeLeaderAndState(t *testing.T) {
	c := newCluster(t, 3)
	ch := make(chan Observation, 64)
	obs := NewObserver(ch, false, func(o *Observation) bool {
		_, ok := o.Data.(LeaderObservation)
		return ok
	})
	for _, nd := range c.nodes {
		nd.raft.RegisterObserver(obs)
	}
	l := c.leader()
	c.stop(l)
	l2 := c.leader()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case o := <-ch:
			if lo := o.Data.(LeaderObservation); lo.LeaderID == l2.id && lo.LeaderAddr == l2.addr {
				if obs.GetNumObserved() == 0 {
					t.Fatal("observed count not incremented")
				}
				for _, nd := range c.running() {
					nd.raft.DeregisterObserver(obs)
				}
				return
			}
		case <-deadline:
			t.Fatal("no LeaderObservation for the new leader")
		}
	}
}

func TestVerifyLeaderAndBarrierInCluster(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	if err := l.raft.VerifyLeader().Error(); err != nil {
		t.Fatalf("VerifyLeader: %v", err)
	}
	for i := 0; i < 10; i++ {
		l.raft.Apply(cmd(i), 0)
	}
	if err := l.raft.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if got := len(l.fsm.commands()); got != 10 {
		t.Fatalf("after barrier the leader's FSM has %d commands, want 10", got)
	}
	// A leader cut off from everyone cannot verify its leadership: it steps
	// down, which fails the pending verification with ErrLeadershipLost
	// (hashicorp/raft's answer), or a later one with ErrNotLeader.
	c.partition(l)
	if err := l.raft.VerifyLeader().Error(); err != raft.ErrLeadershipLost && err != raft.ErrNotLeader {
		t.Fatalf("VerifyLeader on isolated leader: %v", err)
	}
}

func TestObserversSeeFailedAndResumedHeartbeats(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	ch := make(chan Observation, 256)
	obs := NewObserver(ch, false, func(o *Observation) bool {
		switch o.Data.(type) {
		case FailedHeartbeatObservation, ResumedHeartbeatObservation:
			return true
		}
		return false
	})
	l.raft.RegisterObserver(obs)
	defer l.raft.DeregisterObserver(obs)
	f := c.followers(l)[0]
	l.trans.Disconnect(f.addr)
	expect := func(want string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case o := <-ch:
				switch d := o.Data.(type) {
				case FailedHeartbeatObservation:
					if want == "failed" && d.PeerID == f.id {
						return
					}
				case ResumedHeartbeatObservation:
					if want == "resumed" && d.PeerID == f.id {
						return
					}
				}
			case <-deadline:
				t.Fatalf("no %s heartbeat observation for %s", want, f.id)
			}
		}
	}
	expect("failed")
	l.trans.Connect(f.addr, f.trans)
	expect("resumed")
}
