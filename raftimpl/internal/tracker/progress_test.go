package tracker

import "testing"

func TestInflights(t *testing.T) {
	in := NewInflights(3)
	for _, i := range []uint64{5, 7, 9} {
		if in.Full() {
			t.Fatal("full too early")
		}
		in.Add(i)
	}
	if !in.Full() || in.Count() != 3 {
		t.Fatalf("count=%d", in.Count())
	}
	in.Add(11) // ignored
	in.FreeLE(6)
	if in.Count() != 2 {
		t.Fatalf("after FreeLE(6): %d", in.Count())
	}
	in.Add(11)
	in.FreeLE(10)
	if in.Count() != 1 {
		t.Fatalf("after FreeLE(10): %d", in.Count())
	}
	in.FreeFirst()
	if in.Count() != 0 {
		t.Fatalf("after FreeFirst: %d", in.Count())
	}
	in.FreeFirst()
	in.Add(1)
	in.Reset()
	if in.Count() != 0 {
		t.Fatal("reset")
	}
}

func TestProbeToReplicate(t *testing.T) {
	pr := NewProgress(11, 2)
	if pr.IsPaused() {
		t.Fatal("fresh probe is paused")
	}
	pr.SentAppend(10, 3)
	if !pr.IsPaused() || pr.Next != 11 {
		t.Fatalf("after probe: %v", pr)
	}
	// The probe is rejected; the follower only has 4 entries.
	if !pr.MaybeDecrTo(10, 4) {
		t.Fatal("current rejection ignored")
	}
	if pr.Next != 5 || pr.IsPaused() {
		t.Fatalf("after rejection: %v", pr)
	}
	// A duplicate of the same rejection is stale now.
	if pr.MaybeDecrTo(10, 4) {
		t.Fatal("stale rejection applied")
	}
	pr.SentAppend(4, 3)
	if !pr.MaybeUpdate(4) {
		t.Fatal("update ignored")
	}
	pr.BecomeReplicate()
	if pr.State != StateReplicate || pr.Next != 5 {
		t.Fatalf("replicate: %v", pr)
	}
	pr.SentAppend(8, 3)
	pr.SentAppend(12, 3)
	if !pr.IsPaused() || pr.Next != 13 {
		t.Fatalf("window: %v", pr)
	}
	// Old ack: frees the first message only.
	pr.MaybeUpdate(8)
	if pr.IsPaused() || pr.Match != 8 || pr.Next != 13 {
		t.Fatalf("after ack 8: %v", pr)
	}
	// Stale update.
	if pr.MaybeUpdate(7) {
		t.Fatal("stale update moved match")
	}
	// Rejection at or below match is stale in replicate.
	if pr.MaybeDecrTo(8, 2) {
		t.Fatal("stale replicate rejection applied")
	}
	// A current rejection drops to probe, using the hint.
	if !pr.MaybeDecrTo(12, 10) || pr.State != StateProbe || pr.Next != 11 {
		t.Fatalf("after replicate rejection: %v", pr)
	}
	// The hint never takes Next to or below Match.
	pr.SentAppend(10, 3)
	if !pr.MaybeDecrTo(10, 2) || pr.Next != 9 {
		t.Fatalf("hint below match: %v", pr)
	}
	pr.BecomeProbe()
	if pr.Next != 9 || pr.State != StateProbe {
		t.Fatalf("BecomeProbe: %v", pr)
	}
}

func TestSentCommit(t *testing.T) {
	pr := NewProgress(1, 1)
	pr.SentAppend(0, 5)
	pr.SentAppend(0, 3)
	if pr.SentCommit != 5 {
		t.Fatalf("SentCommit=%d", pr.SentCommit)
	}
}
