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

// Reads made before the next Ready share one heartbeat round; a read made
// after it starts a fresh round, which an answer to the earlier round does
// not confirm.
func TestReadsShareOneRoundPerBatch(t *testing.T) {
	e := cluster(t, "3")
	l := e.nodes[0]
	round := l.core.round
	for id := uint64(1); id <= 5; id++ {
		l.core.VerifyLeader(id)
	}
	rd := l.core.Ready()
	hbs := 0
	for _, m := range rd.Messages {
		if m.Type == MsgHeartbeat {
			hbs++
			if m.Context != round+1 {
				t.Fatalf("heartbeat of round %d, want %d", m.Context, round+1)
			}
		}
	}
	if hbs != 2 || len(rd.ReadStates) != 0 {
		t.Fatalf("5 reads in one batch: %d heartbeats (want 2), read states %+v", hbs, rd.ReadStates)
	}
	l.core.Advance(rd)
	// The next batch gets its own round at once, without waiting for the
	// first round's answers.
	l.core.VerifyLeader(6)
	rd2 := l.core.Ready()
	l.core.Advance(rd2)
	if l.core.round != round+2 || !hasMsg(rd2.Messages, MsgHeartbeat) {
		t.Fatalf("second batch: round %d (want %d), messages %+v", l.core.round, round+2, rd2.Messages)
	}
	// n2 answers round 1: the first batch is confirmed, not the second.
	ack := func(r uint64) []ReadState {
		if err := l.core.Step(Message{Type: MsgHeartbeatResp, From: "n2", To: "n1", Term: l.core.term, Success: true, Context: r}); err != nil {
			t.Fatal(err)
		}
		rd := l.core.Ready()
		l.core.Advance(rd)
		return rd.ReadStates
	}
	rs := ack(round + 1)
	if len(rs) != 5 {
		t.Fatalf("answer to round 1 confirmed %+v, want reads 1-5", rs)
	}
	for i, r := range rs {
		if !r.OK || r.ID != uint64(i+1) || r.Index != l.core.log.committed {
			t.Fatalf("read state %+v", r)
		}
	}
	if rs := ack(round + 2); len(rs) != 1 || rs[0].ID != 6 || !rs[0].OK {
		t.Fatalf("answer to round 2 confirmed %+v, want read 6", rs)
	}
}

// A leader deposed with reads pending answers them all ok=false.
func TestDeposedLeaderFailsPendingReads(t *testing.T) {
	e := cluster(t, "3")
	l := e.nodes[0]
	for id := uint64(1); id <= 3; id++ {
		l.core.VerifyLeader(id)
	}
	l.core.Advance(l.core.Ready())
	if err := l.core.Step(Message{Type: MsgHeartbeat, From: "n2", To: "n1", Term: l.core.term + 1}); err != nil {
		t.Fatal(err)
	}
	rd := l.core.Ready()
	if len(rd.ReadStates) != 3 {
		t.Fatalf("deposed leader answered %+v, want 3 failed reads", rd.ReadStates)
	}
	for _, r := range rd.ReadStates {
		if r.OK {
			t.Fatalf("read confirmed by a deposed leader: %+v", r)
		}
	}
}

// A follower's ReadIndex calls share one MsgReadIndex per batch, one batch
// in flight at a time: calls made while one is in flight form the next,
// sent when the answer comes. An answer settles its batch only.
func TestFollowerReadsShareOneRequest(t *testing.T) {
	e := cluster(t, "3")
	f := e.nodes[1].core
	step := func(m Message) Ready {
		if m.Type != 0 {
			if err := f.Step(m); err != nil {
				t.Fatal(err)
			}
		}
		rd := f.Ready()
		f.Advance(rd)
		return rd
	}
	reqs := func(rd Ready) (out []Message) {
		for _, m := range rd.Messages {
			if m.Type == MsgReadIndex {
				out = append(out, m)
			}
		}
		return out
	}
	for id := uint64(1); id <= 3; id++ {
		f.ReadIndex(id)
	}
	first := reqs(step(Message{}))
	if len(first) != 1 || first[0].To != "n1" {
		t.Fatalf("3 reads in one batch sent %+v, want one MsgReadIndex to n1", first)
	}
	f.ReadIndex(4)
	if got := reqs(step(Message{})); len(got) != 0 {
		t.Fatalf("sent %+v while the first batch is in flight", got)
	}
	f.ReadIndex(5)
	answer := func(batch uint64) Ready {
		return step(Message{Type: MsgReadIndexResp, From: "n1", To: "n2", Term: f.term, Context: batch, Index: 7, Success: true})
	}
	rd := answer(first[0].Context)
	if len(rd.ReadStates) != 3 {
		t.Fatalf("answer to the first batch settled %+v, want reads 1-3", rd.ReadStates)
	}
	for i, r := range rd.ReadStates {
		if r.ID != uint64(i+1) || !r.OK || r.Index != 7 {
			t.Fatalf("read state %+v", r)
		}
	}
	second := reqs(rd)
	if len(second) != 1 || second[0].Context == first[0].Context {
		t.Fatalf("after the first answer sent %+v, want the second batch's MsgReadIndex", second)
	}
	rd = answer(second[0].Context)
	if len(rd.ReadStates) != 2 || rd.ReadStates[0].ID != 4 || rd.ReadStates[1].ID != 5 {
		t.Fatalf("answer to the second batch settled %+v, want reads 4 and 5", rd.ReadStates)
	}
	// An answer that never comes: the batch fails after ElectionTick ticks
	// and the next one goes.
	f.ReadIndex(6)
	lost := reqs(step(Message{}))
	for i := 0; i < 2; i++ {
		f.electionElapsed = 0
		f.Tick()
		step(Message{})
	}
	f.ReadIndex(7)
	var failed []ReadState
	var next []Message
	for i := 0; i < f.cfg.ElectionTick && len(next) == 0; i++ {
		f.electionElapsed = 0 // keep the leader
		f.Tick()
		rd := step(Message{})
		failed = append(failed, rd.ReadStates...)
		next = reqs(rd)
	}
	if len(lost) != 1 || len(failed) != 1 || failed[0].ID != 6 || failed[0].OK || len(next) != 1 {
		t.Fatalf("lost batch %+v: failed %+v, next %+v", lost, failed, next)
	}
}

// ReadRoundInFlight holds from a leader's read until a quorum answered its
// round, and never on a follower.
func TestReadRoundInFlight(t *testing.T) {
	e := cluster(t, "3")
	l := e.nodes[0]
	if l.core.ReadRoundInFlight() {
		t.Fatalf("idle leader has a read round in flight")
	}
	l.core.VerifyLeader(1)
	rd := l.core.Ready()
	l.core.Advance(rd)
	if !l.core.ReadRoundInFlight() {
		t.Fatalf("no read round in flight after VerifyLeader")
	}
	if err := l.core.Step(Message{Type: MsgHeartbeatResp, From: "n2", To: "n1", Term: l.core.term, Success: true, Context: l.core.round}); err != nil {
		t.Fatal(err)
	}
	rd = l.core.Ready()
	l.core.Advance(rd)
	if len(rd.ReadStates) != 1 || !rd.ReadStates[0].OK || l.core.ReadRoundInFlight() {
		t.Fatalf("after a quorum answered: read states %+v, in flight %v", rd.ReadStates, l.core.ReadRoundInFlight())
	}
	f := e.nodes[1].core
	f.ReadIndex(2)
	if f.ReadRoundInFlight() {
		t.Fatalf("follower reports a read round in flight")
	}
}

// OldestReadRound is the round of the oldest read still waiting, the next
// round once none waits, 0 on a follower.
func TestOldestReadRound(t *testing.T) {
	e := cluster(t, "3")
	l := e.nodes[0]
	if r := l.core.OldestReadRound(); r != l.core.round+1 {
		t.Fatalf("no reads: OldestReadRound = %d, want %d", r, l.core.round+1)
	}
	if r := e.nodes[1].core.OldestReadRound(); r != 0 {
		t.Fatalf("follower: OldestReadRound = %d", r)
	}
	l.core.VerifyLeader(1)
	l.core.Advance(l.core.Ready())
	first := l.core.round
	l.core.VerifyLeader(2)
	l.core.Advance(l.core.Ready())
	if r := l.core.OldestReadRound(); r != first || l.core.round != first+1 {
		t.Fatalf("two rounds: OldestReadRound = %d (want %d), round %d", r, first, l.core.round)
	}
	ack := func(r uint64) {
		if err := l.core.Step(Message{Type: MsgHeartbeatResp, From: "n2", To: "n1", Term: l.core.term, Success: true, Context: r}); err != nil {
			t.Fatal(err)
		}
		l.core.Advance(l.core.Ready())
	}
	ack(first)
	if r := l.core.OldestReadRound(); r != first+1 {
		t.Fatalf("first round confirmed: OldestReadRound = %d, want %d", r, first+1)
	}
	ack(first + 1)
	if r := l.core.OldestReadRound(); r != first+2 {
		t.Fatalf("all confirmed: OldestReadRound = %d, want %d", r, first+2)
	}
}
