package migration

import (
	"strings"
	"testing"
)

// applyAll applies cmds on m, failing on any error.
func applyAll(t *testing.T, m *member, cmds []string) {
	t.Helper()
	for _, c := range cmds {
		if err := m.apply(c, opTimeout); err != nil {
			t.Fatalf("%s apply %s: %v", m, c, err)
		}
	}
}

// sameOrder fails unless got is want, in order.
func sameOrder(t *testing.T, who string, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s holds %d commands, want %d in order", who, len(got), len(want))
	}
}

// A hashicorp/raft + raft-boltdb/v2 data directory (log and snapshot)
// opened in place by Pontoon, written to, and handed back.
func TestInPlaceHashicorpToPontoonAndBack(t *testing.T) {
	dir := t.TempDir()
	const addr = "n1-addr" // in-memory: one server needs no network
	boot := []string{"n1=" + addr}

	h := startHashicorp(t, "n1", addr, dir, &state{}, tuning{}, boot)
	leaderAmong(t, []*member{h})
	a := cmds("a", 0, 60)
	applyAll(t, h, a[:40])
	if err := h.snapshotNow(); err != nil {
		t.Fatalf("hashicorp snapshot: %v", err)
	}
	applyAll(t, h, a[40:])
	h.stop(t)

	p := startPontoon(t, "n1", addr, dir, &state{}, tuning{}, nil)
	leaderAmong(t, []*member{p})
	if err := p.barrier(); err != nil {
		t.Fatal(err)
	}
	sameOrder(t, "Pontoon over hashicorp's directory", p.st.commands(), a)
	b := cmds("b", 0, 50)
	applyAll(t, p, b[:30])
	if err := p.snapshotNow(); err != nil {
		t.Fatalf("Pontoon snapshot: %v", err)
	}
	applyAll(t, p, b[30:])
	p.stop(t)

	h = startHashicorp(t, "n1", addr, dir, &state{}, tuning{}, nil)
	leaderAmong(t, []*member{h})
	if err := h.barrier(); err != nil {
		t.Fatal(err)
	}
	sameOrder(t, "hashicorp back over Pontoon's directory", h.st.commands(), append(append([]string(nil), a...), b...))
	applyAll(t, h, cmds("c", 0, 10))
	h.stop(t)
}
