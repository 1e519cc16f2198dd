package migration

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// New servers of one engine join a cluster led by the other after the
// leader compacted its log, so they start from an InstallSnapshot sent
// across: hashicorp/raft to Pontoon, then Pontoon to hashicorp/raft.
func TestJoinBySnapshotAcrossEngines(t *testing.T) {
	addrs := freeAddrs(t, 3)
	base := t.TempDir()
	dir := func(id string) string {
		d := filepath.Join(base, id)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	tn := tuning{snapThreshold: 50, trailing: 10}
	h1 := startHashicorp(t, "n1", addrs[0], dir("n1"), &state{}, tn, []string{"n1=" + addrs[0]})
	ms := []*member{h1}
	defer func() {
		for _, m := range ms {
			m.stop(t)
		}
	}()
	leaderAmong(t, ms)
	applyAll(t, h1, cmds("a", 0, 300))
	waitFor(t, 30*time.Second, "hashicorp to snapshot and compact", func() bool {
		return h1.lastSnapshotIndex() != "0"
	})

	p2 := startPontoon(t, "n2", addrs[1], dir("n2"), &state{}, tn, nil)
	ms = append(ms, p2)
	if err := h1.addVoter(p2); err != nil {
		t.Fatalf("adding Pontoon n2: %v", err)
	}
	all := converged(t, ms)
	if p2.lastSnapshotIndex() == "0" {
		t.Fatalf("Pontoon n2 caught up without a snapshot: the test did not cross one")
	}
	t.Logf("Pontoon n2 joined from hashicorp's snapshot at %s; %d commands", p2.lastSnapshotIndex(), len(all))

	c := &cluster{t: t, ms: ms}
	c.lead(p2)
	s0 := atoi(p2.lastSnapshotIndex())
	applyAll(t, p2, cmds("b", 0, 300))
	waitFor(t, 30*time.Second, "Pontoon to snapshot past the new entries", func() bool {
		return atoi(p2.lastSnapshotIndex()) > s0+100
	})
	h3 := startHashicorp(t, "n3", addrs[2], dir("n3"), &state{}, tn, nil)
	ms = append(ms, h3)
	if err := p2.addVoter(h3); err != nil {
		t.Fatalf("adding hashicorp n3: %v", err)
	}
	all = converged(t, ms)
	if h3.lastSnapshotIndex() == "0" {
		t.Fatalf("hashicorp n3 caught up without a snapshot: the test did not cross one")
	}
	t.Logf("hashicorp n3 joined from Pontoon's snapshot at %s; %d commands", h3.lastSnapshotIndex(), len(all))
	want := append(cmds("a", 0, 300), cmds("b", 0, 300)...)
	checkHas(t, "every node", all, want)
}

func atoi(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}
