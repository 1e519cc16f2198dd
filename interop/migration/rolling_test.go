package migration

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// cluster is a set of members that a load generator writes to while they
// are replaced.
type cluster struct {
	t  *testing.T
	mu sync.Mutex
	ms []*member

	ackMu sync.Mutex
	acked []string

	stop chan struct{}
	done chan struct{}
}

func (c *cluster) members() []*member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*member(nil), c.ms...)
}

func (c *cluster) ackedCount() int {
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	return len(c.acked)
}

// load writes unique commands to whichever member leads, recording those
// acknowledged, until stopLoad.
func (c *cluster) load() {
	defer close(c.done)
	for i := 0; ; i++ {
		select {
		case <-c.stop:
			return
		default:
		}
		var l *member
		for _, m := range c.members() {
			if m.isLeader() {
				l = m
				break
			}
		}
		if l == nil {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		cmd := fmt.Sprintf("w-%d", i)
		if err := l.apply(cmd, 2*time.Second); err != nil {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		c.ackMu.Lock()
		c.acked = append(c.acked, cmd)
		c.ackMu.Unlock()
	}
}

func (c *cluster) stopLoad() {
	close(c.stop)
	<-c.done
}

// waitWrites waits until n more writes were acknowledged.
func (c *cluster) waitWrites(n int, why string) {
	c.t.Helper()
	from := c.ackedCount()
	waitFor(c.t, 60*time.Second, fmt.Sprintf("%d writes acknowledged %s", n, why), func() bool {
		return c.ackedCount() >= from+n
	})
}

// replace stops member i and starts the other engine over its directory,
// address and ID.
func (c *cluster) replace(i int, tn tuning) *member {
	c.t.Helper()
	old := c.members()[i]
	old.stop(c.t)
	var m *member
	if old.kind == "hashicorp" {
		m = startPontoon(c.t, old.id, old.addr, old.dir, &state{}, tn, nil)
	} else {
		m = startHashicorp(c.t, old.id, old.addr, old.dir, &state{}, tn, nil)
	}
	c.mu.Lock()
	c.ms[i] = m
	c.mu.Unlock()
	l := leaderAmong(c.t, c.members())
	target := l.appliedIndex()
	waitFor(c.t, 60*time.Second, m.String()+" to catch up", func() bool { return m.appliedIndex() >= target })
	c.t.Logf("%s replaced by %s; leader %s; %d writes acknowledged", old, m, l, c.ackedCount())
	return m
}

// lead makes m the leader, by a transfer from the current one.
func (c *cluster) lead(m *member) {
	c.t.Helper()
	waitFor(c.t, 60*time.Second, m.String()+" to lead", func() bool {
		l := leaderAmong(c.t, c.members())
		if l == m {
			return true
		}
		if err := l.transferTo(m); err != nil {
			c.t.Logf("transfer %s -> %s: %v", l, m, err)
		}
		return false
	})
}

func (c *cluster) kinds() string {
	s := ""
	for _, m := range c.members() {
		s += m.String() + " "
	}
	return s
}

// A three-node hashicorp/raft cluster (raft-boltdb/v2, file snapshots,
// TCP) has its nodes replaced by Pontoon one at a time under write load,
// the leader moved to each side while the cluster is mixed, and then one
// node rolled back to hashicorp/raft. Snapshots are frequent, so they cross
// between the engines too. Every acknowledged write is kept, once, on every
// node.
func TestRollingReplacementUnderLoad(t *testing.T) {
	addrs := freeAddrs(t, 3)
	base := t.TempDir()
	tn := tuning{snapThreshold: 200, trailing: 100}
	var boot []string
	for i, a := range addrs {
		boot = append(boot, fmt.Sprintf("n%d=%s", i+1, a))
	}
	c := &cluster{t: t, stop: make(chan struct{}), done: make(chan struct{})}
	for i, a := range addrs {
		if err := os.MkdirAll(filepath.Join(base, fmt.Sprintf("n%d", i+1)), 0o755); err != nil {
			t.Fatal(err)
		}
		c.ms = append(c.ms, startHashicorp(t, fmt.Sprintf("n%d", i+1), a, filepath.Join(base, fmt.Sprintf("n%d", i+1)), &state{}, tn, boot))
	}
	defer func() {
		for _, m := range c.members() {
			m.stop(t)
		}
	}()
	leaderAmong(t, c.members())
	go c.load()
	loadStopped := false
	defer func() {
		if !loadStopped {
			c.stopLoad()
		}
	}()
	c.waitWrites(100, "on hashicorp/raft")

	// 2 hashicorp + 1 Pontoon: the Pontoon node leads hashicorp followers.
	p3 := c.replace(2, tn)
	c.lead(p3)
	c.waitWrites(100, "with Pontoon leading hashicorp followers")
	t.Logf("mixed: %s; Pontoon %s leads", c.kinds(), p3)

	// 1 hashicorp + 2 Pontoon: the hashicorp node leads Pontoon followers.
	c.replace(1, tn)
	h1 := c.members()[0]
	c.lead(h1)
	c.waitWrites(100, "with hashicorp leading Pontoon followers")
	t.Logf("mixed: %s; hashicorp %s leads", c.kinds(), h1)

	// All Pontoon.
	c.replace(0, tn)
	c.waitWrites(100, "on Pontoon only")

	// Roll one node back (a clean stop folded its journal).
	c.replace(0, tn)
	c.waitWrites(50, "after rolling n1 back to hashicorp/raft")

	c.stopLoad()
	loadStopped = true
	all := converged(t, c.members())
	c.ackMu.Lock()
	acked := append([]string(nil), c.acked...)
	c.ackMu.Unlock()
	for _, m := range c.members() {
		checkHas(t, m.String(), m.st.commands(), acked)
	}
	t.Logf("%d writes acknowledged, %d applied on every node: %s", len(acked), len(all), c.kinds())
}
