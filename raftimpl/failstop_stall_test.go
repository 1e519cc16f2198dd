package raftimpl

import (
	"fmt"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// A leader whose disk stalls steps down, and everything pending on it fails
// at once with raft.ErrLeadershipLost: Applies, a Barrier and a membership
// change that cannot commit (every node's log writes hang). An Apply sent
// to it afterwards fails at once with raft.ErrNotLeader, stuck disk or not
// (issue 11 row 12). Then the disks come back and the cluster goes on.
func TestStalledLeaderFailsPendingAtOnce(t *testing.T) {
	c, gates := newGatedCluster(t, 3)
	const stall = 300 * time.Millisecond
	conf := c.conf
	c.conf = func(id raft.ServerID) *Config {
		cf := conf(id)
		cf.DiskStallTimeout = stall
		return cf
	}
	for _, nd := range c.nodes {
		c.stop(nd)
	}
	for _, nd := range c.nodes {
		c.restart(nd)
	}
	l := c.leader()
	if err := l.raft.Apply(cmd(0), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	for _, g := range gates {
		g.stall()
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			for _, g := range gates {
				g.resume()
			}
		}
	}
	defer resume()

	type result struct {
		what string
		err  error
		at   time.Time
	}
	results := make(chan result, 8)
	wait := func(what string, f Future) {
		go func() {
			err := f.Error()
			results <- result{what, err, time.Now()}
		}()
	}
	const long = 30 * time.Second
	for i := 1; i <= 3; i++ {
		wait(fmt.Sprintf("Apply %d", i), l.raft.Apply(cmd(i), long))
	}
	wait("Barrier", l.raft.Barrier(long))
	wait("AddNonvoter", l.raft.AddNonvoter("n9", "addr-9", 0, long))
	const pending = 5

	var steppedDown time.Time
	waitFor(t, 10*time.Second, "the stalled leader to step down", func() bool {
		if l.raft.State() != raft.Leader {
			steppedDown = time.Now()
			return true
		}
		return false
	})
	// Everything pending fails at once (not after its 30 s timeout).
	bound := 2 * time.Second
	timer := time.NewTimer(bound)
	defer timer.Stop()
	var slowest time.Duration
	for i := 0; i < pending; i++ {
		select {
		case res := <-results:
			slowest = max(slowest, res.at.Sub(steppedDown))
			if res.err != raft.ErrLeadershipLost {
				t.Errorf("%s: %v, want ErrLeadershipLost", res.what, res.err)
			}
			if d := res.at.Sub(steppedDown); d > bound {
				t.Errorf("%s failed %s after the step-down", res.what, d)
			}
		case <-timer.C:
			t.Fatalf("%d of %d pending operations still waiting %s after the leader stepped down", pending-i, pending, bound)
		}
	}
	t.Logf("pending operations failed at most %s after State() left Leader", slowest)
	// A new Apply is refused at once, the disk still stuck.
	start := time.Now()
	if err := l.raft.Apply(cmd(99), long).Error(); err != raft.ErrNotLeader {
		t.Fatalf("Apply on the stalled former leader: %v, want ErrNotLeader", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Apply on the stalled former leader took %s", d)
	} else {
		t.Logf("Apply on the stalled former leader: ErrNotLeader after %s", d)
	}
	if err := l.raft.Barrier(long).Error(); err != raft.ErrNotLeader {
		t.Fatalf("Barrier on the stalled former leader: %v, want ErrNotLeader", err)
	}

	// The disks come back: a leader is elected and every node converges.
	resume()
	l2 := c.leader()
	if err := l2.raft.Apply(cmd(100), 10*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if err := l2.raft.Barrier(10 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	c.waitApplied(l2.fsm.commands())
}
