package core

import (
	"errors"
	"math/rand"
	"testing"

	raft "github.com/pontoon-raft/raft"
)

func testConfig(id raft.ServerID) Config {
	return Config{ID: id, ElectionTick: 10, HeartbeatTick: 1, LeaseTick: 5,
		MaxAppendEntries: 4, MaxInflight: 2, MaxSizePerMsg: 1 << 20, PreVote: true, Seed: 1}
}

func voters(ids ...raft.ServerID) raft.Configuration {
	var c raft.Configuration
	for _, id := range ids {
		c.Servers = append(c.Servers, raft.Server{ID: id, Address: raft.ServerAddress(id), Suffrage: raft.Voter})
	}
	return c
}

// drive plays a driver that persists everything and drops messages.
func drive(t *testing.T, c *Core, s *memStorage) []Ready {
	t.Helper()
	var out []Ready
	for c.HasReady() {
		rd := c.Ready()
		s.persistHard(rd)
		if _, err := s.persistEntries(rd); err != nil {
			t.Fatal(err)
		}
		c.Advance(rd)
		out = append(out, rd)
	}
	return out
}

func TestNewValidates(t *testing.T) {
	s := bootstrapStorage(voters("a"))
	for name, mut := range map[string]func(*Config){
		"no id":          func(c *Config) { c.ID = "" },
		"election":       func(c *Config) { c.ElectionTick = 0 },
		"heartbeat":      func(c *Config) { c.HeartbeatTick = 0 },
		"heartbeat>elec": func(c *Config) { c.HeartbeatTick = 11 },
		"lease":          func(c *Config) { c.LeaseTick = 0 },
		"max append":     func(c *Config) { c.MaxAppendEntries = 0 },
		"inflight":       func(c *Config) { c.MaxInflight = 0 },
	} {
		cfg := testConfig("a")
		mut(&cfg)
		if _, err := New(cfg, s); !errors.Is(err, raft.ErrInvalidConfig) {
			t.Errorf("%s: err=%v, want ErrInvalidConfig", name, err)
		}
	}
	if _, err := New(testConfig("a"), nil); !errors.Is(err, raft.ErrInvalidConfig) {
		t.Errorf("nil storage: %v", err)
	}
}

// hashicorp/raft: after bootstrap (term 1, log 1) a sole voter elects itself
// at term 2, writes a Noop at 2, and the first Apply goes to index 3.
func TestSingleVoter(t *testing.T) {
	s := bootstrapStorage(voters("a"))
	c, err := New(testConfig("a"), s)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Propose([]*raft.Log{{Data: []byte("x")}}); !errors.Is(err, raft.ErrNotLeader) {
		t.Fatalf("follower Propose: %v", err)
	}
	c.VerifyLeader(7)
	rds := drive(t, c, s)
	if len(rds) != 1 || len(rds[0].ReadStates) != 1 || rds[0].ReadStates[0] != (ReadState{ID: 7}) {
		t.Fatalf("follower VerifyLeader: %+v", rds)
	}
	for i := 0; i < 20 && c.role != roleLeader; i++ {
		c.Tick()
		drive(t, c, s)
	}
	st := c.Status()
	if st.Role != raft.Leader || st.Term != 2 || st.LastIndex != 2 || st.Commit != 2 {
		t.Fatalf("status after election: %+v", st)
	}
	first, last, err := c.Propose([]*raft.Log{{Data: []byte("x")}, {Data: []byte("y")}})
	if err != nil || first != 3 || last != 4 {
		t.Fatalf("Propose = %d, %d, %v", first, last, err)
	}
	c.VerifyLeader(8)
	var applied []uint64
	var reads []ReadState
	for _, rd := range drive(t, c, s) {
		for _, e := range rd.CommittedEntries {
			applied = append(applied, e.Index)
		}
		reads = append(reads, rd.ReadStates...)
	}
	if len(applied) != 2 || applied[0] != 3 || applied[1] != 4 {
		t.Fatalf("applied %v", applied)
	}
	if len(reads) != 1 || !reads[0].OK || reads[0].ID != 8 || reads[0].Index != 2 {
		t.Fatalf("reads %+v", reads)
	}
	st = c.Status()
	if st.Applied != 4 || st.Progress["a"].Match != 4 || st.Latest.Servers[0].ID != "a" {
		t.Fatalf("status: %+v", st)
	}
}

// A node that is not a voter in the latest configuration, or that has no
// configuration, never starts an election.
func TestNoElectionWithoutVote(t *testing.T) {
	conf := voters("a")
	conf.Servers = append(conf.Servers, raft.Server{ID: "b", Address: "b", Suffrage: raft.Nonvoter})
	for name, s := range map[string]*memStorage{
		"nonvoter":      bootstrapStorage(conf),
		"empty":         {},
		"not a member":  bootstrapStorage(voters("x", "y")),
		"staging voter": bootstrapStorage(raft.Configuration{Servers: []raft.Server{{ID: "b", Address: "b", Suffrage: raft.Staging}}}),
	} {
		c, err := New(testConfig("b"), s)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			c.Tick()
			for _, rd := range drive(t, c, s) {
				if len(rd.Messages) > 0 || rd.HardState != nil {
					t.Fatalf("%s: campaigns: %+v", name, rd)
				}
			}
		}
		if st := c.Status(); st.Role != raft.Follower || st.Term != s.hs.Term {
			t.Fatalf("%s: %+v", name, st)
		}
	}
}

// Vote rules, in hashicorp/raft's order.
func TestVoteRules(t *testing.T) {
	newFollower := func() (*Core, *memStorage) {
		s := bootstrapStorage(raft.Configuration{Servers: append(voters("a", "b", "c").Servers,
			raft.Server{ID: "n", Address: "n", Suffrage: raft.Nonvoter})})
		c, err := New(testConfig("a"), s)
		if err != nil {
			t.Fatal(err)
		}
		// The configuration is known committed, so rules 1 and 4 apply.
		c.log.commitTo(1)
		c.conf.onCommit(1)
		return c, s
	}
	vote := func(c *Core, s *memStorage, m Message) Message {
		t.Helper()
		if err := c.Step(m); err != nil {
			t.Fatal(err)
		}
		rds := drive(t, c, s)
		if len(rds) == 0 || len(rds[len(rds)-1].Messages) != 1 {
			t.Fatalf("no single response: %+v", rds)
		}
		return rds[len(rds)-1].Messages[0]
	}
	req := func(typ MsgType, from raft.ServerID, term, li, lt uint64) Message {
		return Message{Type: typ, From: from, To: "a", Term: term, LastLogIndex: li, LastLogTerm: lt}
	}

	c, s := newFollower()
	// 1. Not in the configuration: refused, term unchanged.
	if r := vote(c, s, req(MsgVote, "z", 5, 1, 1)); r.Granted || c.term != 1 {
		t.Fatalf("outsider: %+v term=%d", r, c.term)
	}
	// 4. Not a voter: refused (after the term is adopted).
	if r := vote(c, s, req(MsgVote, "n", 2, 1, 1)); r.Granted || c.term != 2 {
		t.Fatalf("nonvoter: %+v term=%d", r, c.term)
	}
	// 6. Log not up to date.
	if r := vote(c, s, req(MsgVote, "b", 3, 0, 0)); r.Granted {
		t.Fatalf("stale log granted: %+v", r)
	}
	// Pre-vote: granted, echoes the proposed term, changes nothing.
	if r := vote(c, s, req(MsgPreVote, "b", 9, 1, 1)); !r.Granted || r.Term != 9 || c.term != 3 || c.vote != "" {
		t.Fatalf("pre-vote: %+v term=%d vote=%q", r, c.term, c.vote)
	}
	// Grant, then 5. a repeat is granted and another candidate refused.
	if r := vote(c, s, req(MsgVote, "b", 3, 1, 1)); !r.Granted || c.vote != "b" || s.hs.Vote != "b" {
		t.Fatalf("grant: %+v", r)
	}
	if r := vote(c, s, req(MsgVote, "b", 3, 1, 1)); !r.Granted {
		t.Fatalf("repeat refused: %+v", r)
	}
	if r := vote(c, s, req(MsgVote, "c", 3, 5, 3)); r.Granted {
		t.Fatalf("second vote in term: %+v", r)
	}
	// 3. Lower term.
	if r := vote(c, s, req(MsgVote, "c", 2, 5, 3)); r.Granted || r.Term != 3 {
		t.Fatalf("lower term: %+v", r)
	}
	// 2. Sticky leader: once b leads, c is refused without a term change,
	// unless the request is a leadership transfer.
	if err := c.Step(Message{Type: MsgHeartbeat, From: "b", To: "a", Term: 3}); err != nil {
		t.Fatal(err)
	}
	drive(t, c, s)
	if r := vote(c, s, req(MsgVote, "c", 4, 5, 3)); r.Granted || c.term != 3 {
		t.Fatalf("sticky: %+v term=%d", r, c.term)
	}
	if r := vote(c, s, req(MsgPreVote, "c", 4, 5, 3)); r.Granted {
		t.Fatalf("sticky pre-vote: %+v", r)
	}
	m := req(MsgVote, "c", 4, 5, 3)
	m.LeadershipTransfer = true
	if r := vote(c, s, m); !r.Granted || c.term != 4 || c.vote != "c" {
		t.Fatalf("transfer: %+v term=%d", r, c.term)
	}

	// While the latest configuration is not known committed, rules 1 and 4
	// are waived: it may be a stale entry the next leader truncates.
	c, s = newFollower()
	c.log.committed = 0
	if r := vote(c, s, req(MsgVote, "n", 2, 1, 1)); !r.Granted {
		t.Fatalf("nonvoter refused under an uncommitted configuration: %+v", r)
	}
}

// Step never panics, whatever it is fed, and the core keeps its invariants.
func TestStepGarbage(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	ids := []raft.ServerID{"a", "b", "c", "", "z"}
	for iter := 0; iter < 200; iter++ {
		s := bootstrapStorage(voters("a", "b", "c"))
		c, err := New(testConfig("a"), s)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 300; j++ {
			m := randomMessage(rng, ids)
			_ = c.Step(m)
			switch rng.Intn(10) {
			case 0:
				c.Tick()
			case 1:
				c.campaign(rng.Intn(2) == 0, false)
			case 2:
				_, _, _ = c.Propose([]*raft.Log{{Data: []byte("p")}})
			case 3:
				c.VerifyLeader(uint64(j))
			}
			drive(t, c, s)
			_ = c.Status()
			if l := c.log; !(l.applied <= l.committed && l.committed <= l.lastIndex()) {
				t.Fatalf("iter %d: applied %d committed %d last %d", iter, l.applied, l.committed, l.lastIndex())
			}
		}
	}
}

func randomMessage(rng *rand.Rand, ids []raft.ServerID) Message {
	small := func() uint64 { return uint64(rng.Intn(6)) }
	m := Message{
		Type: MsgType(rng.Intn(14)), From: ids[rng.Intn(len(ids))], To: "a",
		Term: small(), Context: small(), PrevLogIndex: small(), PrevLogTerm: small(),
		Commit: small(), Index: small(), LastLog: small(), LastLogTerm: small(),
		LastLogIndex: small(), Success: rng.Intn(2) == 0, Granted: rng.Intn(2) == 0,
		NoRetryBackoff: rng.Intn(2) == 0, LeadershipTransfer: rng.Intn(2) == 0,
	}
	if rng.Intn(20) == 0 {
		m.Index, m.Commit, m.PrevLogIndex = ^uint64(0), ^uint64(0)-1, ^uint64(0)
	}
	for k := rng.Intn(4); k > 0; k-- {
		e := &raft.Log{Index: m.PrevLogIndex + uint64(len(m.Entries)) + 1, Term: small(), Data: []byte("g")}
		switch rng.Intn(8) {
		case 0:
			e = nil
		case 1:
			e.Index = small()
		case 2:
			e.Type, e.Data = raft.LogConfiguration, []byte{0xc1}
		}
		m.Entries = append(m.Entries, e)
	}
	return m
}

// FuzzStep feeds arbitrary message sequences to a core.
func FuzzStep(f *testing.F) {
	f.Add(int64(1), []byte{0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, seed int64, ops []byte) {
		rng := rand.New(rand.NewSource(seed))
		s := bootstrapStorage(voters("a", "b", "c"))
		c, err := New(testConfig("a"), s)
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range ops {
			switch op % 4 {
			case 0:
				c.Tick()
			case 1:
				c.campaign(op&4 != 0, false)
			default:
				_ = c.Step(randomMessage(rng, []raft.ServerID{"a", "b", "c", "z"}))
			}
			drive(t, c, s)
		}
	})
}

func TestMembershipTruncate(t *testing.T) {
	var m membership
	m.init(ConfState{Latest: voters("a"), LatestIndex: 1, Committed: voters("a"), CommittedIndex: 1})
	enc := func(i uint64, c raft.Configuration) *raft.Log {
		return &raft.Log{Index: i, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(c)}
	}
	if !m.onAppend([]*raft.Log{enc(3, voters("a", "b")), {Index: 4}, enc(5, voters("a", "b", "c"))}) {
		t.Fatal("append: no change")
	}
	if m.latestIndex() != 5 || len(m.voters) != 3 {
		t.Fatalf("latest %d voters %v", m.latestIndex(), m.voters)
	}
	// Truncating 5 reverts to the configuration at 3, not the committed one.
	if !m.onTruncate(5) || m.latestIndex() != 3 || len(m.voters) != 2 {
		t.Fatalf("after truncate(5): latest %d voters %v", m.latestIndex(), m.voters)
	}
	m.onCommit(4)
	if m.committedIndex != 3 || len(m.pending) != 0 || m.latestIndex() != 3 {
		t.Fatalf("after commit: %+v", m)
	}
	if m.onTruncate(4) {
		t.Fatal("truncating above the latest changed it")
	}
	// A configuration entry that does not decode is ignored as one.
	if m.onAppend([]*raft.Log{{Index: 6, Type: raft.LogConfiguration, Data: []byte{0xc1}}}) {
		t.Fatal("garbage configuration took effect")
	}
}

// A restarted follower whose driver reported its last (uncommitted)
// configuration as committed reverts to the previous one when the leader
// truncates it.
func TestTruncateReportedCommittedConf(t *testing.T) {
	s := bootstrapStorage(voters("a", "b", "c"))
	s.ents = append(s.ents,
		&raft.Log{Index: 2, Term: 1, Type: raft.LogNoop},
		&raft.Log{Index: 3, Term: 2, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(voters("a", "b", "c", "d"))})
	s.hs.Term = 2
	hs, cs, _ := s.InitialState()
	cs.Committed, cs.CommittedIndex = cs.Latest, cs.LatestIndex // hashicorp-style restart
	st := &fixedState{memStorage: s, hs: hs, cs: cs}
	c, err := New(testConfig("a"), st)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Status().Latest.Servers); got != 4 {
		t.Fatalf("latest has %d servers", got)
	}
	err = c.Step(Message{Type: MsgApp, From: "b", To: "a", Term: 3, PrevLogIndex: 2, PrevLogTerm: 1,
		Entries: []*raft.Log{{Index: 3, Term: 3, Type: raft.LogNoop}}})
	if err != nil {
		t.Fatal(err)
	}
	stt := c.Status()
	if len(stt.Latest.Servers) != 3 || stt.LatestIndex != 1 || stt.CommittedIndex != 1 {
		t.Fatalf("after truncation: latest %v at %d, committed at %d", stt.Latest, stt.LatestIndex, stt.CommittedIndex)
	}
}

type fixedState struct {
	*memStorage
	hs HardState
	cs ConfState
}

func (f *fixedState) InitialState() (HardState, ConfState, error) { return f.hs, f.cs, nil }

// A configuration entry takes effect on the leader when appended: adding a
// voter to a single-voter cluster makes its acknowledgement necessary for the
// configuration entry itself to commit.
func TestConfigurationTakesEffectWhenAppended(t *testing.T) {
	s := bootstrapStorage(voters("a"))
	c, err := New(testConfig("a"), s)
	if err != nil {
		t.Fatal(err)
	}
	c.campaign(false, false)
	drive(t, c, s)
	if c.role != roleLeader || c.log.committed != 2 {
		t.Fatalf("not leading: %+v", c.Status())
	}
	two := voters("a", "b")
	first, _, err := c.Propose([]*raft.Log{{Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(two)}})
	if err != nil || first != 3 {
		t.Fatal(first, err)
	}
	var apps []Message
	for _, rd := range drive(t, c, s) {
		for _, m := range rd.Messages {
			if m.Type == MsgApp && m.To == "b" {
				apps = append(apps, m)
			}
		}
	}
	st := c.Status()
	if st.Commit != 2 || st.LatestIndex != 3 || st.CommittedIndex != 1 || len(st.Progress) != 2 {
		t.Fatalf("after appending the configuration: %+v", st)
	}
	if len(apps) != 1 || apps[0].PrevLogIndex != 2 {
		t.Fatalf("MsgApp to b: %+v", apps)
	}
	// b rejects the probe: it has nothing. Its hint sends the leader back.
	if err := c.Step(Message{Type: MsgAppResp, From: "b", To: "a", Term: c.term, Index: 2, LastLog: 0}); err != nil {
		t.Fatal(err)
	}
	rds := drive(t, c, s)
	if len(rds) != 1 || len(rds[0].Messages) != 1 || rds[0].Messages[0].PrevLogIndex != 0 || len(rds[0].Messages[0].Entries) != 3 {
		t.Fatalf("after rejection: %+v", rds)
	}
	if err := c.Step(Message{Type: MsgAppResp, From: "b", To: "a", Term: c.term, Index: 3, Success: true}); err != nil {
		t.Fatal(err)
	}
	drive(t, c, s)
	st = c.Status()
	if st.Commit != 3 || st.CommittedIndex != 3 || st.Progress["b"].Match != 3 || st.Progress["b"].State.String() != "replicate" {
		t.Fatalf("after b's ack: %+v", st)
	}
}
