package core

import "testing"

// A heartbeat answered outside the core (QuietHeartbeat, then
// HeartbeatAnswered) leaves the core exactly as stepping it does, minus the
// response: same election timer, same sticky refusal of other candidates.
func TestHeartbeatAnsweredMatchesStep(t *testing.T) {
	stepped, quiet := cluster(t, "3"), cluster(t, "3")
	a, b := stepped.nodes[1].core, quiet.nodes[1].core
	for i := 0; i < a.electionTimeout-1; i++ {
		a.Tick()
		b.Tick()
	}
	readStates(stepped, stepped.nodes[1])
	readStates(quiet, quiet.nodes[1])

	lead, term, lastLog, ok := b.QuietHeartbeat()
	if !ok || lead != "n1" || term != b.term || lastLog != b.log.lastIndex() {
		t.Fatalf("QuietHeartbeat = %q %d %d %v", lead, term, lastLog, ok)
	}
	if err := a.Step(Message{Type: MsgHeartbeat, From: "n1", To: "n2", Term: a.term, Context: 9}); err != nil {
		t.Fatal(err)
	}
	rd := a.Ready()
	if len(rd.Messages) != 1 || rd.Messages[0].Type != MsgHeartbeatResp || !rd.Messages[0].Success ||
		rd.Messages[0].LastLog != lastLog || rd.Messages[0].Term != term {
		t.Fatalf("stepped heartbeat answered %+v, fast path would answer term=%d lastLog=%d", rd.Messages, term, lastLog)
	}
	a.Advance(rd)
	b.HeartbeatAnswered(lead, term)
	if b.HasReady() {
		t.Fatalf("HeartbeatAnswered produced a Ready: %+v", b.Ready())
	}
	if a.electionElapsed != b.electionElapsed || a.lead != b.lead || a.term != b.term || a.role != b.role {
		t.Fatalf("stepped: elapsed=%d lead=%q term=%d; answered: elapsed=%d lead=%q term=%d",
			a.electionElapsed, a.lead, a.term, b.electionElapsed, b.lead, b.term)
	}
	// Sticky leader: n3's vote request of a higher term is refused by both.
	for _, c := range []*Core{a, b} {
		vote := Message{Type: MsgVote, From: "n3", To: "n2", Term: c.term + 1, LastLogIndex: 100, LastLogTerm: c.term + 1}
		if err := c.Step(vote); err != nil {
			t.Fatal(err)
		}
		if c.vote == "n3" || c.role != roleFollower || c.lead != "n1" {
			t.Fatalf("voted for n3 right after a heartbeat: vote=%q role=%v lead=%q", c.vote, c.role, c.lead)
		}
	}
	// Both time out at the same tick.
	for i := 0; i < 3*a.electionTimeout && a.role == roleFollower; i++ {
		a.Tick()
		b.Tick()
		if a.role != b.role {
			t.Fatalf("tick %d: stepped role %v, answered role %v", i, a.role, b.role)
		}
	}
}

// QuietHeartbeat offers nothing to a leader, a candidate or a follower
// without a leader, and HeartbeatAnswered ignores a report that does not
// match the core's state.
func TestQuietHeartbeatOnlyForFollowerWithLeader(t *testing.T) {
	e := cluster(t, "3")
	if _, _, _, ok := e.nodes[0].core.QuietHeartbeat(); ok {
		t.Fatalf("leader offers a quiet heartbeat")
	}
	run(t, e, "forget-leader 3")
	if _, _, _, ok := e.nodes[2].core.QuietHeartbeat(); ok {
		t.Fatalf("follower without leader offers a quiet heartbeat")
	}
	n2 := e.nodes[1].core
	n2.Tick()
	before := n2.electionElapsed
	n2.HeartbeatAnswered("n3", n2.term)   // not its leader
	n2.HeartbeatAnswered("n1", n2.term+1) // not its term
	if n2.electionElapsed != before || n2.HasReady() {
		t.Fatalf("mismatched report took effect: elapsed %d -> %d", before, n2.electionElapsed)
	}
	e.nodes[2].core.campaign(false, false)
	if _, _, _, ok := e.nodes[2].core.QuietHeartbeat(); ok {
		t.Fatalf("candidate offers a quiet heartbeat")
	}
}
