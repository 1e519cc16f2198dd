package core

import (
	"errors"
	"math/rand"
	"slices"
	"strings"
	"testing"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/tracker"
)

// Unit tests for issue 5: configuration changes, staging, transfers, lease
// and follower reads, snapshots. Clusters are driven with the scenario
// interpreter (interaction_test.go), whose output is ignored here.

// cluster starts n voters with opts (add-nodes options), n1 leading.
func cluster(t *testing.T, args string) *scenario {
	t.Helper()
	e := newScenario()
	run(t, e, "add-nodes "+args)
	for _, n := range e.nodes {
		// NB: with lease reads, servers that have just started refuse
		// votes for ElectionTick ticks; the tests skip that wait.
		n.core.quietTicks = 0
	}
	run(t, e, "campaign 1")
	run(t, e, "stabilize")
	if e.nodes[0].core.role != roleLeader {
		t.Fatalf("n1 is not leader")
	}
	return e
}

func run(t *testing.T, e *scenario, cmds ...string) []string {
	t.Helper()
	var out []string
	for _, c := range cmds {
		got := e.exec(c)
		for _, l := range got {
			if len(l) > 6 && l[:6] == "error:" {
				t.Fatalf("%s: %s", c, l)
			}
		}
		out = append(out, got...)
	}
	return out
}

func TestProposeConfChangeRules(t *testing.T) {
	e := cluster(t, "3")
	l, f := e.nodes[0].core, e.nodes[1].core
	add4 := ConfChange{Command: AddVoter, ID: "n4", Address: "n4"}

	if _, err := f.ProposeConfChange(add4); !errors.Is(err, raft.ErrNotLeader) {
		t.Errorf("follower: %v", err)
	}
	for _, tc := range []struct {
		name string
		cc   ConfChange
		want error
	}{
		{"stale prev", ConfChange{Command: AddVoter, ID: "n4", Address: "n4", PrevIndex: 7}, raft.ErrConfigurationChanged},
		{"no voter left", ConfChange{Command: DemoteVoter, ID: "n1"}, nil},
		{"empty id", ConfChange{Command: AddVoter, Address: "x"}, raft.ErrInvalidConfig},
		{"empty address", ConfChange{Command: AddVoter, ID: "n9"}, raft.ErrInvalidConfig},
		{"duplicate address", ConfChange{Command: AddVoter, ID: "n9", Address: "n2"}, raft.ErrInvalidConfig},
		{"unknown command", ConfChange{Command: 99, ID: "n4", Address: "n4"}, raft.ErrInvalidConfig},
		{"promote a voter", ConfChange{Command: Promote, ID: "n2"}, raft.ErrUnknownServer},
	} {
		if tc.want == nil {
			continue
		}
		if _, err := l.ProposeConfChange(tc.cc); !errors.Is(err, tc.want) {
			t.Errorf("%s: err=%v, want %v", tc.name, err, tc.want)
		}
	}
	// The last voter cannot go.
	one := cluster(t, "1")
	if _, err := one.nodes[0].core.ProposeConfChange(ConfChange{Command: RemoveServer, ID: "n1"}); !errors.Is(err, raft.ErrInvalidConfig) {
		t.Errorf("removing the only voter: %v", err)
	}
	if _, err := one.nodes[0].core.ProposeConfChange(ConfChange{Command: DemoteVoter, ID: "n1"}); !errors.Is(err, raft.ErrInvalidConfig) {
		t.Errorf("demoting the only voter: %v", err)
	}

	// prev = the latest index is accepted; a second change waits for the
	// first to commit.
	run(t, e, "add-spare")
	idx, err := l.ProposeConfChange(ConfChange{Command: AddNonvoter, ID: "n4", Address: "n4", PrevIndex: 1})
	if err != nil || idx != 3 {
		t.Fatalf("add-nonvoter: %d, %v", idx, err)
	}
	e.ready(e.nodes[0])
	if _, err := l.ProposeConfChange(add4); !errors.Is(err, ErrConfChangePending) {
		t.Errorf("second change while one is pending: %v", err)
	}
	run(t, e, "stabilize")
	if _, err := l.ProposeConfChange(ConfChange{Command: AddVoter, ID: "n4", Address: "n4", PrevIndex: 1}); !errors.Is(err, raft.ErrConfigurationChanged) {
		t.Errorf("prev before the latest: %v", err)
	}

	// A new leader must first commit an entry of its term.
	e2 := newScenario()
	run(t, e2, "add-nodes 3", "campaign 1", "stabilize", "forget-leader 2 3", "campaign 2",
		"deliver-msgs type=MsgPreVote", "deliver-msgs type=MsgPreVoteResp", "deliver-msgs type=MsgVote", "deliver-msgs type=MsgVoteResp")
	c2 := e2.nodes[1].core
	if c2.role != roleLeader {
		t.Fatalf("n2 not leader")
	}
	if _, err := c2.ProposeConfChange(add4); !errors.Is(err, ErrConfChangePending) {
		t.Errorf("before the first commit of the term: %v", err)
	}
	run(t, e2, "stabilize")
	if _, err := c2.ProposeConfChange(add4); err != nil {
		t.Errorf("after the first commit: %v", err)
	}

	// During a transfer.
	e3 := cluster(t, "3")
	run(t, e3, "partition 1 2 | 3", "propose 1 x", "stabilize", "transfer 1 3")
	if _, err := e3.nodes[0].core.ProposeConfChange(add4); !errors.Is(err, raft.ErrLeadershipTransferInProgress) {
		t.Errorf("during a transfer: %v", err)
	}
}

func TestApplyConfChange(t *testing.T) {
	base := raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: "a", Address: "a1"},
		{Suffrage: raft.Nonvoter, ID: "b", Address: "b1"},
		{Suffrage: raft.Staging, ID: "c", Address: "c1"},
	}}
	srv := func(conf raft.Configuration, id raft.ServerID) (raft.Server, bool) {
		for _, s := range conf.Servers {
			if s.ID == id {
				return s, true
			}
		}
		return raft.Server{}, false
	}
	for _, tc := range []struct {
		cc   ConfChange
		want raft.Server
		gone bool
	}{
		{ConfChange{Command: AddVoter, ID: "d", Address: "d1"}, raft.Server{Suffrage: raft.Voter, ID: "d", Address: "d1"}, false},
		{ConfChange{Command: AddVoter, ID: "b", Address: "b2"}, raft.Server{Suffrage: raft.Voter, ID: "b", Address: "b2"}, false},
		{ConfChange{Command: AddVoter, ID: "a", Address: "a2"}, raft.Server{Suffrage: raft.Voter, ID: "a", Address: "a2"}, false},
		{ConfChange{Command: AddNonvoter, ID: "a", Address: "a2"}, raft.Server{Suffrage: raft.Voter, ID: "a", Address: "a2"}, false},
		{ConfChange{Command: AddNonvoter, ID: "d", Address: "d1"}, raft.Server{Suffrage: raft.Nonvoter, ID: "d", Address: "d1"}, false},
		{ConfChange{Command: AddNonvoterPromoting, ID: "d", Address: "d1"}, raft.Server{Suffrage: raft.Staging, ID: "d", Address: "d1"}, false},
		{ConfChange{Command: DemoteVoter, ID: "a"}, raft.Server{Suffrage: raft.Nonvoter, ID: "a", Address: "a1"}, false},
		{ConfChange{Command: Promote, ID: "c"}, raft.Server{Suffrage: raft.Voter, ID: "c", Address: "c1"}, false},
		{ConfChange{Command: RemoveServer, ID: "b"}, raft.Server{}, true},
	} {
		got, err := applyConfChange(base, tc.cc)
		if err != nil {
			t.Errorf("%+v: %v", tc.cc, err)
			continue
		}
		s, ok := srv(got, tc.cc.ID)
		if tc.gone {
			if ok || len(got.Servers) != 2 {
				t.Errorf("%+v: still there: %+v", tc.cc, got)
			}
			continue
		}
		if s != tc.want {
			t.Errorf("%+v: got %+v, want %+v", tc.cc, s, tc.want)
		}
	}
	if len(base.Servers) != 3 || base.Servers[0].Address != "a1" {
		t.Errorf("input modified: %+v", base)
	}
}

// A staging server gets the log without counting, and is promoted by the
// leader once it has caught up.
func TestStagingPromotion(t *testing.T) {
	e := cluster(t, "3")
	run(t, e, "propose 1 count=10 prefix=e", "stabilize", "add-spare")
	l := e.nodes[0].core
	idx, err := l.ProposeConfChange(ConfChange{Command: AddNonvoterPromoting, ID: "n4", Address: "n4"})
	if err != nil {
		t.Fatal(err)
	}
	if raft.HasVote(l.conf.latest(), "n4") || len(l.conf.voters) != 3 {
		t.Fatalf("staging server votes: %+v", l.conf.latest())
	}
	// Deliver the staging entry to n2 and n3 only: it commits without n4
	// (a staging server does not count).
	e.ready(e.nodes[0])
	run(t, e, "partition 1 2 3 | 4", "stabilize")
	if l.log.committed < idx {
		t.Fatalf("staging entry not committed without n4: commit %d", l.log.committed)
	}
	if !isStaging(l.conf.latest(), "n4") {
		t.Fatalf("promoted before catching up: %+v", l.conf.latest())
	}
	run(t, e, "heal", "tick 1 3", "stabilize")
	if !raft.HasVote(l.conf.latest(), "n4") || l.conf.latestIndex() <= idx {
		t.Fatalf("not promoted after catching up: %+v at %d", l.conf.latest(), l.conf.latestIndex())
	}
	if l.conf.latestIndex() > l.log.committed {
		t.Fatalf("promotion not committed")
	}
	if n4 := e.nodes[3].core; !n4.promotable() || n4.log.lastIndex() != l.log.lastIndex() {
		t.Fatalf("n4 after promotion: voter=%v last=%d", n4.promotable(), n4.log.lastIndex())
	}
}

func TestTransferAbort(t *testing.T) {
	e := cluster(t, "3")
	run(t, e, "partition 1 2 | 3")
	l := e.nodes[0].core
	if err := l.TransferLeadership("n3"); err != nil {
		t.Fatal(err)
	}
	var res *TransferResult
	for i := 0; i < 10 && res == nil; i++ {
		l.Tick()
		for l.HasReady() {
			rd := l.Ready()
			if rd.Transfer != nil {
				res = rd.Transfer
			}
			e.nodes[0].store.persistHard(rd)
			e.nodes[0].store.persistEntries(rd)
			l.Advance(rd)
		}
	}
	if res == nil || res.OK || res.Target != "n3" {
		t.Fatalf("transfer result: %+v", res)
	}
	if l.role != roleLeader {
		t.Fatalf("leader lost its role")
	}
	if _, _, err := l.Propose([]*raft.Log{{Data: []byte("after")}}); err != nil {
		t.Fatalf("Propose after the abort: %v", err)
	}
	if err := l.TransferLeadership("n1"); !errors.Is(err, errTransferToSelf) {
		t.Errorf("to self: %v", err)
	}
	if err := l.TransferLeadership("n9"); !errors.Is(err, raft.ErrUnknownServer) {
		t.Errorf("unknown: %v", err)
	}
	if err := e.nodes[1].core.TransferLeadership("n3"); !errors.Is(err, raft.ErrNotLeader) {
		t.Errorf("follower: %v", err)
	}
	if err := l.TransferLeadership(""); err != nil {
		t.Fatal(err)
	}
	if l.transfer.target != "n2" {
		t.Errorf("best voter: %s, want n2 (n3 lags)", l.transfer.target)
	}
	if err := l.TransferLeadership("n3"); !errors.Is(err, raft.ErrLeadershipTransferInProgress) {
		t.Errorf("second transfer: %v", err)
	}
	if err := l.CanRestore(); !errors.Is(err, raft.ErrLeadershipTransferInProgress) {
		t.Errorf("restore during a transfer: %v", err)
	}
	// StepDown ends it, not OK.
	l.StepDown()
	if rd := l.Ready(); rd.Transfer == nil || rd.Transfer.OK || l.role != roleFollower {
		t.Fatalf("StepDown: %+v role=%v", rd.Transfer, l.role)
	}
}

// A transfer has hashicorp/raft's two budgets: ElectionTick ticks to catch
// the target up and send MsgTimeoutNow, then ElectionTick ticks more for the
// target's election. A catch-up that used most of the first budget does not
// cut the election short (TestProtocolOnBolt/Transfer failed so under load:
// the leader reported a timeout, then the target won).
func TestTransferElectionGetsItsOwnBudget(t *testing.T) {
	e := cluster(t, "3")
	l := e.nodes[0].core
	run(t, e, "partition 1 2 | 3", "propose 1 x", "stabilize", "heal")
	if err := l.TransferLeadership("n3"); err != nil {
		t.Fatal(err)
	}
	e.ready(e.nodes[0])
	// Only n1 and n2 talk until the first budget's last tick: n3 lags.
	var held []Message
	tick := func(deliver func(Message) bool) {
		t.Helper()
		run(t, e, "tick 1")
		held = deliverOnly(e, deliver, held)
		if l.role != roleLeader || l.transfer == nil {
			t.Fatalf("transfer ended early: role %v", l.role)
		}
	}
	for i := 0; i < l.cfg.ElectionTick-1; i++ {
		tick(func(m Message) bool { return m.From != "n3" && m.To != "n3" })
	}
	// Now n3 catches up; its MsgTimeoutNow is held back while the first
	// budget runs out.
	notTimeoutNow := func(m Message) bool { return m.Type != MsgTimeoutNow }
	e.pending = append(e.pending, held...)
	held = deliverOnly(e, notTimeoutNow, nil)
	if !l.transfer.sent || len(held) != 1 || held[0].Type != MsgTimeoutNow {
		t.Fatalf("n3 caught up but no MsgTimeoutNow: sent=%v held=%d", l.transfer.sent, len(held))
	}
	for i := 0; i < l.cfg.ElectionTick-1; i++ {
		tick(notTimeoutNow)
	}
	e.pending = append(e.pending, held...)
	if out := run(t, e, "stabilize"); !slices.Contains(out, "n1: transfer to n3 ok=true") {
		t.Fatalf("transfer outcome not OK:\n%s", strings.Join(out, "\n"))
	}
	if e.nodes[2].core.role != roleLeader {
		t.Fatalf("n3 did not take over")
	}

	// The second budget runs out too: the transfer is aborted.
	e = cluster(t, "3")
	l = e.nodes[0].core
	run(t, e, "transfer 1 2")
	if !l.transfer.sent {
		t.Fatal("MsgTimeoutNow not sent to an up-to-date target")
	}
	held = deliverOnly(e, notTimeoutNow, nil)
	for i := 0; i < l.cfg.ElectionTick-1; i++ {
		tick(notTimeoutNow)
	}
	if out := run(t, e, "tick 1"); !slices.Contains(out, "n1: transfer to n2 ok=false") || l.role != roleLeader {
		t.Fatalf("transfer not aborted after two budgets (role %v):\n%s", l.role, strings.Join(out, "\n"))
	}
}

// deliverOnly delivers pending messages, and those they cause, while deliver
// accepts them; the others are appended to held and returned.
func deliverOnly(e *scenario, deliver func(Message) bool, held []Message) []Message {
	for i := 0; len(e.pending) > 0; i++ {
		if i > 1000 {
			panic("deliverOnly: no fixpoint")
		}
		var now []Message
		for _, m := range e.pending {
			if deliver(m) {
				now = append(now, m)
			} else {
				held = append(held, m)
			}
		}
		e.pending = now
		e.deliver(map[string]string{})
	}
	return held
}

// readStates runs n's Readys and returns their read states.
func readStates(e *scenario, n *scNode) []ReadState {
	var out []ReadState
	for n.core.HasReady() {
		rd := n.core.Ready()
		out = append(out, rd.ReadStates...)
		n.store.persistHard(rd)
		n.store.persistEntries(rd)
		e.pending = append(e.pending, rd.Messages...)
		n.core.Advance(rd)
	}
	return out
}

func TestLeaseReadFallback(t *testing.T) {
	// Without Config.LeaseReads, LeaseRead is VerifyLeader: a heartbeat
	// round, no answer at once.
	e := cluster(t, "3")
	n1 := e.nodes[0]
	n1.core.LeaseRead(1)
	if rs := readStates(e, n1); len(rs) != 0 || n1.core.round == 0 {
		t.Fatalf("lease read without leases: %+v", rs)
	}
	run(t, e, "stabilize")

	e = cluster(t, "3 lease-reads=true")
	n1 = e.nodes[0]
	// No round acknowledged yet: fallback.
	n1.core.LeaseRead(2)
	if rs := readStates(e, n1); len(rs) != 0 {
		t.Fatalf("lease read before any round: %+v", rs)
	}
	run(t, e, "stabilize")
	// The round just acknowledged holds the lease: at once.
	n1.core.LeaseRead(3)
	if rs := readStates(e, n1); len(rs) != 1 || !rs[0].OK || rs[0].ID != 3 || rs[0].Index != n1.core.log.committed {
		t.Fatalf("lease read within the lease: %+v", rs)
	}
	// Cut off, the leader's lease runs out (window: min(lease 8, election
	// 10) - drift 0 ticks) before check-quorum deposes it.
	run(t, e, "partition 1 | 2 3")
	for i := 0; i < 7; i++ {
		n1.core.Tick()
		readStates(e, n1)
	}
	n1.core.LeaseRead(4)
	if rs := readStates(e, n1); len(rs) != 1 || !rs[0].OK {
		t.Fatalf("lease read near the end of the lease: %+v", rs)
	}
	n1.core.Tick()
	readStates(e, n1)
	if n1.core.role != roleLeader {
		t.Fatalf("deposed too early")
	}
	n1.core.LeaseRead(5)
	if rs := readStates(e, n1); len(rs) != 0 {
		t.Fatalf("lease read after the lease: %+v", rs)
	}
	// A drift margin shortens the lease.
	n1.core.cfg.LeaseDriftTicks = 8
	run(t, e, "heal", "stabilize")
	n1.core.LeaseRead(6)
	if rs := readStates(e, n1); len(rs) != 0 {
		t.Fatalf("lease read with no margin left: %+v", rs)
	}
	n1.core.cfg.LeaseDriftTicks = 0
	run(t, e, "tick 1 1", "stabilize")
	// Once a transfer sent MsgTimeoutNow, no lease for the rest of the term.
	if err := n1.core.TransferLeadership("n2"); err != nil {
		t.Fatal(err)
	}
	n1.core.LeaseRead(7)
	if rs := readStates(e, n1); len(rs) != 0 || !n1.core.leaseBroken {
		t.Fatalf("lease read during a transfer: %+v", rs)
	}
}

func TestLeaseQuietStart(t *testing.T) {
	e := cluster(t, "3 lease-reads=true")
	run(t, e, "crash 3", "restart 3")
	n3 := e.nodes[2].core
	if n3.quietTicks != n3.cfg.ElectionTick {
		t.Fatalf("quiet=%d", n3.quietTicks)
	}
	term, voted := n3.term, n3.vote
	vote := Message{Type: MsgVote, From: "n2", To: "n3", Term: n3.term + 1, LastLogIndex: 100, LastLogTerm: n3.term + 1}
	n3.Step(vote)
	if n3.vote != voted || n3.term != term {
		t.Fatalf("voted during the quiet period: term=%d vote=%q", n3.term, n3.vote)
	}
	vote.LeadershipTransfer = true
	n3.Step(vote)
	if n3.vote != "n2" {
		t.Fatalf("transfer vote refused during the quiet period")
	}
}

func TestFollowerReadIndex(t *testing.T) {
	e := cluster(t, "3")
	run(t, e, "propose 1 a b", "stabilize")
	out := run(t, e, "read-index 2 7", "stabilize")
	want := "n2: read 7 ok=true index=4"
	if !contains(out, want) {
		t.Fatalf("want %q in:\n%v", want, out)
	}
	// Unknown leader: fails at once.
	run(t, e, "forget-leader 3")
	if out := run(t, e, "read-index 3 8"); !contains(out, "n3: read 8 ok=false index=0") {
		t.Fatalf("no leader: %v", out)
	}
	// The leader changes before answering: the read fails.
	run(t, e, "read-index 2 9", "drop-msgs type=MsgReadIndex")
	n2 := e.nodes[1].core
	n2.Step(Message{Type: MsgHeartbeat, From: "n3", To: "n2", Term: n2.term + 1})
	if rs := readStates(e, e.nodes[1]); len(rs) != 1 || rs[0].OK || rs[0].ID != 9 {
		t.Fatalf("leader change: %+v", rs)
	}
	// No answer within ElectionTick ticks: fails.
	e = cluster(t, "3")
	run(t, e, "read-index 2 10", "drop-msgs type=MsgReadIndex")
	var rs []ReadState
	for i := 0; i < 10; i++ {
		e.nodes[1].core.electionElapsed = 0 // keep the leader
		e.nodes[1].core.Tick()
		rs = append(rs, readStates(e, e.nodes[1])...)
	}
	if len(rs) != 1 || rs[0].OK {
		t.Fatalf("timeout: %+v", rs)
	}
	// Unreachable leader: fails.
	run(t, e, "read-index 2 11", "drop-msgs type=MsgReadIndex")
	e.nodes[1].core.Step(Message{Type: MsgUnreachable, From: "n1", To: "n2"})
	if rs := readStates(e, e.nodes[1]); len(rs) != 1 || rs[0].OK || rs[0].ID != 11 {
		t.Fatalf("unreachable: %+v", rs)
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

func TestSetTimeouts(t *testing.T) {
	c, err := New(testConfig("a"), bootstrapStorage(voters("a")))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetTimeouts(0, 5); !errors.Is(err, raft.ErrInvalidConfig) {
		t.Errorf("election 0: %v", err)
	}
	if err := c.SetTimeouts(10, 0); !errors.Is(err, raft.ErrInvalidConfig) {
		t.Errorf("lease 0: %v", err)
	}
	if err := c.SetTimeouts(20, 7); err != nil || c.cfg.ElectionTick != 20 || c.cfg.LeaseTick != 7 {
		t.Errorf("valid: %v %+v", err, c.cfg)
	}
	c.becomeFollower(c.term, "")
	if c.electionTimeout < 20 || c.electionTimeout >= 40 {
		t.Errorf("timeout %d not from the new ElectionTick", c.electionTimeout)
	}
}

// A node restarts from a snapshot and an empty log: the log ends at the
// snapshot, which is committed and applied.
func TestNewFromSnapshot(t *testing.T) {
	s := &memStorage{hs: HardState{Term: 3}}
	s.installSnapshot(SnapshotInfo{Index: 10, Term: 3, Configuration: voters("a", "b"), ConfigurationIndex: 4})
	c, err := New(testConfig("a"), s)
	if err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	if st.LastIndex != 10 || st.LastTerm != 3 || st.Commit != 10 || st.Applied != 10 || c.LastIndex() != 10 {
		t.Fatalf("status: %+v", st)
	}
	if len(st.Latest.Servers) != 2 || st.CommittedIndex != 4 {
		t.Fatalf("configuration: %+v", st)
	}
	if _, err := c.log.term(9); !errors.Is(err, ErrCompacted) {
		t.Fatalf("term(9): %v", err)
	}
	// A MsgApp below the snapshot is acknowledged from the committed
	// prefix; one after it appends.
	c.Step(Message{Type: MsgApp, From: "b", To: "a", Term: 3, PrevLogIndex: 8, PrevLogTerm: 3,
		Entries: []*raft.Log{{Index: 9, Term: 3}, {Index: 10, Term: 3}, {Index: 11, Term: 3}}, Commit: 11})
	rds := drive(t, c, s)
	if c.log.lastIndex() != 11 || c.log.committed != 11 || len(rds) == 0 || !rds[0].Messages[0].Success || rds[0].Messages[0].Index != 11 {
		t.Fatalf("append after the snapshot: last=%d commit=%d %+v", c.log.lastIndex(), c.log.committed, rds)
	}
}

func TestRestoreLocal(t *testing.T) {
	e := cluster(t, "3")
	run(t, e, "propose 1 a b", "stabilize")
	n1 := e.nodes[0]
	l := n1.core
	if err := e.nodes[1].core.RestoreLocal(SnapshotInfo{}); !errors.Is(err, raft.ErrNotLeader) {
		t.Errorf("follower: %v", err)
	}
	info := SnapshotInfo{Index: l.LastIndex() + 1, Term: l.term, Configuration: l.conf.committed.Clone(), ConfigurationIndex: l.conf.committedIndex}
	if err := l.RestoreLocal(SnapshotInfo{Index: l.LastIndex(), Term: l.term}); !errors.Is(err, raft.ErrInvalidConfig) {
		t.Errorf("restore at the last index: %v", err)
	}
	if err := l.RestoreLocal(info); err != nil {
		t.Fatal(err)
	}
	n1.store.installSnapshot(info)
	if l.log.committed != info.Index || l.log.applied != info.Index || l.prs["n1"].Match != info.Index {
		t.Fatalf("after restore: commit=%d applied=%d", l.log.committed, l.log.applied)
	}
	out := run(t, e, "stabilize", "propose 1 c", "stabilize")
	if !contains(out, "n2: install snapshot 5/2 {n1 n2 n3}") || !contains(out, "n3: install snapshot 5/2 {n1 n2 n3}") {
		t.Fatalf("followers did not install the restore:\n%v", out)
	}
	for _, n := range e.nodes {
		if n.core.log.committed != 6 {
			t.Errorf("%s: commit %d, want 6", n.id, n.core.log.committed)
		}
	}
}

// A leader that loses a snapshot it sent (unreachable) waits for a
// heartbeat answer before sending another: never a tight loop.
func TestSnapshotRetryPaced(t *testing.T) {
	e := cluster(t, "3")
	run(t, e, "partition 1 2 | 3", "propose 1 count=6 prefix=e", "stabilize", "snapshot 1 index=8", "heal", "tick 1 3")
	for i := 0; i < 100 && !hasMsg(e.pending, MsgSnap); i++ {
		run(t, e, "deliver-msgs limit=1")
	}
	l := e.nodes[0].core
	if pr := l.prs["n3"]; pr.State != tracker.StateSnapshot || pr.PendingSnapshot != 8 {
		t.Fatalf("n3: %v", pr)
	}
	run(t, e, "drop-msgs type=MsgSnap")
	l.Step(Message{Type: MsgUnreachable, From: "n3", To: "n1"})
	for _, m := range readMsgs(e, e.nodes[0]) {
		if m.Type == MsgSnap {
			t.Fatalf("snapshot resent at once")
		}
	}
	if pr := l.prs["n3"]; pr.State != trackerProbe || !pr.IsPaused() {
		t.Fatalf("after failure: %v", pr)
	}
	out := run(t, e, "tick 1 3", "stabilize")
	if !contains(out, "n1->n3 MsgSnap t2 snapshot=8/2") || !contains(out, "n3: install snapshot 8/2 {n1 n2 n3}") {
		t.Fatalf("no retry after the heartbeat:\n%v", out)
	}
}

func hasMsg(ms []Message, typ MsgType) bool {
	for _, m := range ms {
		if m.Type == typ {
			return true
		}
	}
	return false
}

func readMsgs(e *scenario, n *scNode) []Message {
	var out []Message
	for n.core.HasReady() {
		rd := n.core.Ready()
		out = append(out, rd.Messages...)
		n.store.persistHard(rd)
		n.store.persistEntries(rd)
		e.pending = append(e.pending, rd.Messages...)
		n.core.Advance(rd)
	}
	return out
}

// TestStepGarbageProto feeds random messages, issue 5's included (random
// snapshots, read-index traffic), mixed with random API calls, to a core
// driven by a driver that installs snapshots: nothing panics and the log's
// invariants hold.
func TestStepGarbageProto(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	ids := []raft.ServerID{"a", "b", "c", "", "z"}
	for iter := 0; iter < 200; iter++ {
		s := bootstrapStorage(voters("a", "b", "c"))
		cfg := testConfig("a")
		cfg.LeaseReads = iter%2 == 0
		c, err := New(cfg, s)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 300; j++ {
			m := randomMessage(rng, ids)
			m.Type = MsgType(rng.Intn(int(maxMsgType) + 2))
			if m.Type == MsgSnap && rng.Intn(4) != 0 {
				m.Snapshot = &SnapshotInfo{Index: uint64(rng.Intn(12)), Term: uint64(rng.Intn(6)),
					Configuration: voters("a", "b", "c"), ConfigurationIndex: 1}
			}
			_ = c.Step(m)
			switch rng.Intn(14) {
			case 0, 1:
				c.Tick()
			case 2:
				c.campaign(rng.Intn(2) == 0, false)
			case 3:
				_, _, _ = c.Propose([]*raft.Log{{Data: []byte("p")}})
			case 4:
				c.LeaseRead(uint64(j))
			case 5:
				c.ReadIndex(uint64(j))
			case 6:
				_, _ = c.ProposeConfChange(ConfChange{Command: ConfChangeCommand(rng.Intn(7)), ID: ids[rng.Intn(len(ids))], Address: "x"})
			case 7:
				_ = c.TransferLeadership(ids[rng.Intn(len(ids))])
			case 8:
				c.StepDown()
			case 9:
				if c.log.applied > s.snap.Index {
					info := SnapshotInfo{Index: c.log.applied, Configuration: c.conf.committed.Clone(), ConfigurationIndex: c.conf.committedIndex}
					info.Term, _ = s.Term(info.Index)
					s.snap = info
					s.compact(info.Index)
					c.ReportSnapshot(info)
				}
			}
			for c.HasReady() {
				rd := c.Ready()
				s.persistHard(rd)
				if rd.Snapshot != nil {
					s.installSnapshot(*rd.Snapshot)
				}
				if _, err := s.persistEntries(rd); err != nil {
					t.Fatal(err)
				}
				c.Advance(rd)
			}
			_ = c.Status()
			if l := c.log; !(l.applied <= l.committed && l.committed <= l.lastIndex() && l.snap.Index <= l.committed) {
				t.Fatalf("iter %d: applied %d committed %d last %d snapshot %d", iter, l.applied, l.committed, l.lastIndex(), l.snap.Index)
			}
		}
	}
}
