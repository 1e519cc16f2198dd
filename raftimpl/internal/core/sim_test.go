package core

import (
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// The seeded simulator: N cores, a fake network (loss, delay, duplication,
// reordering, partitions that heal), a fake clock (ticks), fake durable
// storage per node, crashes (also in the middle of a Ready) and restarts, and
// clients proposing to whoever leads. The Raft safety properties are checked
// after every event; liveness is checked loosely once faults stop.
//
// A failing run prints its seed; replay it, with its event trace, with
//
//	go test ./raftimpl/internal/core -run TestSimulator -sim.seed=N
var (
	simSeed  = flag.Int64("sim.seed", -1, "replay this simulator seed only, with its trace")
	simSeeds = flag.Int("sim.seeds", 2000, "number of seeded simulator runs")
	simTrace = flag.Int("sim.trace", 150, "events of trace printed for a failing seed")
	simAll   = flag.Bool("sim.all", false, "run every seed and list all failing ones")
)

func TestSimulator(t *testing.T) {
	if *simSeed >= 0 {
		s := newSim(*simSeed, true)
		err := s.run()
		t.Logf("seed=%d: %s", *simSeed, s.summary())
		if err != nil {
			t.Fatalf("seed=%d: %v\ntrace:\n%s", *simSeed, err, s.tail(*simTrace))
		}
		return
	}
	n := *simSeeds
	if testing.Short() {
		n = min(n, 200)
	}
	start := time.Now()
	var next, failed atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var firstSeed int64 = -1
	var ticks, asyncWrites, lostWrites atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				seed := next.Add(1) - 1
				if seed >= int64(n) || failed.Load() > 0 {
					return
				}
				s := newSim(seed, false)
				err := s.run()
				ticks.Add(int64(s.now))
				asyncWrites.Add(int64(s.stats.asyncWrites))
				lostWrites.Add(int64(s.stats.lostWrites))
				if err != nil {
					if *simAll {
						t.Logf("seed=%d: %v", seed, err)
					} else {
						failed.Add(1)
					}
					mu.Lock()
					if firstErr == nil || seed < firstSeed {
						firstErr, firstSeed = err, seed
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		// Replay with the trace on: the run is a pure function of its seed.
		s := newSim(firstSeed, true)
		err := s.run()
		t.Fatalf("seed=%d: %v\nreplay: go test ./raftimpl/internal/core -run TestSimulator -sim.seed=%d\nreplay gave: %v\ntrace:\n%s",
			firstSeed, firstErr, firstSeed, err, s.tail(*simTrace))
	}
	el := time.Since(start)
	t.Logf("%d seeded runs (3- and 5-node), %d ticks, in %v: %.0f runs/s; %d asynchronous log writes, %d lost in crashes",
		n, ticks.Load(), el.Round(time.Millisecond), float64(n)/el.Seconds(), asyncWrites.Load(), lostWrites.Load())
	if n >= 100 && (asyncWrites.Load() == 0 || lostWrites.Load() == 0) {
		t.Errorf("the runs did not exercise asynchronous log writes and their loss in crashes")
	}
}

// simParams are drawn from the seed.
type simParams struct {
	voters, nonvoters int
	loss, dup         float64
	maxDelay          int
	crash, partition  float64
	propose, read     float64
	faultTicks        int
	confChange        float64
	conflictTerm      bool
	cfg               Config
	proto             protoParams
}

type simNode struct {
	id          raft.ServerID
	idx         int
	store       *memStorage
	core        *Core // nil while crashed
	incarnation int
	lastApplied uint64
	prevCommit  uint64
	// leaderChecked is the last term whose leader completeness was checked
	// on this node.
	leaderChecked uint64
	// reads maps an open VerifyLeader to the highest index known committed
	// anywhere when it was called.
	reads map[uint64]uint64
	// readInfo holds the open reads; serving the confirmed ones waiting
	// for the FSM to apply their index (sim_protocol_test.go).
	readInfo map[uint64]simRead
	serving  []simRead
	// received is a snapshot received (durable in the snapshot store) and
	// not yet installed.
	received *SnapshotInfo
	// writing holds the log writes handed out with AdvanceAsync and not
	// yet completed, oldest first (lost in a crash).
	writing [][]*raft.Log
	// held are responses acknowledging entries, waiting for the writes in
	// flight when they were made (write sequence numbers: submitted and
	// completed so far).
	held                   []heldMsg
	wSubmitted, wCompleted int
}

type inflight struct {
	at int
	m  Message
}

// entryID is what must agree between logs at the same (index, term).
type entryID struct {
	typ      raft.LogType
	data     string
	prevTerm uint64
}

type committedEntry struct {
	term uint64
	// inTerm bounds from above the term in which the entry was committed.
	inTerm uint64
}

type sim struct {
	seed  int64
	rng   *rand.Rand
	p     simParams
	now   int
	nodes []*simNode
	net   []inflight
	// group puts each node in a partition side; nil: no partition.
	group map[raft.ServerID]int
	// oneWay cuts only the messages from side 0 to side 1.
	oneWay bool

	leaders   map[uint64]raft.ServerID
	entries   map[[2]uint64]entryID
	committed map[uint64]committedEntry
	applied   map[uint64]entryID
	maxCommit uint64
	proposals int
	readID    uint64
	// proposer maps a command's data to the node that proposed it;
	// ackedWrite is the highest write acknowledged to its client.
	proposer   map[string]raft.ServerID
	ackedWrite uint64
	leaseHits  int
	// isolated is set while the partition cuts one leader off; cut is a
	// single broken link (sim_protocol_test.go).
	isolated bool
	cut      [2]raft.ServerID
	stats    struct{ msgs, drops, crashes, elections, reads, confChanges, asyncWrites, lostWrites int }

	tracing bool
	trace   []string
	err     error
}

func newSim(seed int64, tracing bool) *sim {
	rng := rand.New(rand.NewSource(seed))
	p := simParams{
		voters:     3 + 2*int(seed%2),
		loss:       []float64{0, 0.01, 0.05, 0.2}[rng.Intn(4)],
		dup:        []float64{0, 0.02, 0.1}[rng.Intn(3)],
		maxDelay:   rng.Intn(4),
		crash:      []float64{0, 0.005, 0.02}[rng.Intn(3)],
		partition:  []float64{0, 0.01, 0.03}[rng.Intn(3)],
		propose:    []float64{0.1, 0.3, 0.8}[rng.Intn(3)],
		read:       0.05,
		faultTicks: 150 + rng.Intn(150),
	}
	p.conflictTerm = rng.Intn(2) == 0
	p.confChange = []float64{0, 0, 0.02, 0.05}[rng.Intn(4)]
	if rng.Intn(4) == 0 {
		p.nonvoters = 1
	}
	p.cfg = Config{
		ElectionTick:     10,
		HeartbeatTick:    1 + rng.Intn(3),
		LeaseTick:        5 + rng.Intn(6),
		MaxAppendEntries: 1 + rng.Intn(8),
		MaxInflight:      1 + rng.Intn(4),
		MaxSizePerMsg:    uint64([]int{0, 8, 64}[rng.Intn(3)]),
		PreVote:          rng.Intn(3) != 0,
	}
	drawProtoParams(&p, rng)
	s := &sim{
		seed: seed, rng: rng, p: p, tracing: tracing,
		leaders:   map[uint64]raft.ServerID{},
		entries:   map[[2]uint64]entryID{},
		committed: map[uint64]committedEntry{},
		applied:   map[uint64]entryID{},
		proposer:  map[string]raft.ServerID{},
	}
	var conf raft.Configuration
	for i := 0; i < p.voters+p.nonvoters; i++ {
		id := raft.ServerID(fmt.Sprintf("n%d", i+1))
		suf := raft.Voter
		if i >= p.voters {
			suf = raft.Nonvoter
		}
		conf.Servers = append(conf.Servers, raft.Server{ID: id, Address: raft.ServerAddress(id), Suffrage: suf})
		s.nodes = append(s.nodes, &simNode{id: id, idx: i})
	}
	for _, n := range s.nodes {
		n.store = bootstrapStorage(conf)
		// Bootstrap entries agree everywhere.
		s.entries[[2]uint64{1, 1}] = entryID{typ: raft.LogConfiguration, data: string(n.store.ents[0].Data)}
	}
	s.addSpares()
	return s
}

func (s *sim) tracef(format string, args ...any) {
	if s.tracing {
		s.trace = append(s.trace, fmt.Sprintf("t=%d ", s.now)+fmt.Sprintf(format, args...))
	}
}

func (s *sim) tail(n int) string {
	if len(s.trace) > n {
		return strings.Join(s.trace[len(s.trace)-n:], "\n")
	}
	return strings.Join(s.trace, "\n")
}

func (s *sim) summary() string {
	return fmt.Sprintf("params=%+v ticks=%d msgs=%d drops=%d crashes=%d elections=%d proposals=%d reads=%d (lease fast path %d) conf-changes=%d async-writes=%d (lost %d) committed=%d",
		s.p, s.now, s.stats.msgs, s.stats.drops, s.stats.crashes, s.stats.elections, s.proposals, s.stats.reads, s.leaseHits, s.stats.confChanges, s.stats.asyncWrites, s.stats.lostWrites, s.maxCommit)
}

func (s *sim) failf(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("t=%d: "+format, append([]any{s.now}, args...)...)
		s.tracef("FAIL: %v", s.err)
	}
}

func (s *sim) start(n *simNode) {
	cfg := s.p.cfg
	cfg.ID = n.id
	cfg.Seed = s.seed*1000 + int64(n.incarnation)*10 + int64(n.idx)
	s.adoptReceived(n)
	c, err := New(cfg, n.store)
	if err != nil {
		s.failf("%s: New: %v", n.id, err)
		return
	}
	// NB: the driver restored the FSM from the snapshot: applied starts
	// there.
	n.core, n.lastApplied, n.prevCommit, n.reads = c, c.log.applied, c.log.committed, map[uint64]uint64{}
	n.readInfo, n.serving = map[uint64]simRead{}, nil
	n.incarnation++
	s.tracef("%s start term=%d vote=%q last=%d", n.id, n.store.hs.Term, n.store.hs.Vote, len(n.store.ents))
}

func (s *sim) crash(n *simNode, where string) {
	s.tracef("%s CRASH %s", n.id, where)
	n.core = nil
	s.stats.lostWrites += len(n.writing)
	n.writing = nil
	n.wCompleted = n.wSubmitted
	for _, h := range n.held {
		s.lostRPC(h.m)
	}
	n.held = nil
	s.stats.crashes++
}

func (s *sim) run() error {
	for _, n := range s.nodes {
		s.start(n)
	}
	for ; s.now < s.p.faultTicks && s.err == nil; s.now++ {
		s.faults()
		s.tick()
		s.clients()
		s.deliver()
	}
	if s.err != nil {
		return s.err
	}
	// Faults stop: heal, restart everyone, deliver reliably (still with
	// delay and reordering).
	s.group, s.cut = nil, [2]raft.ServerID{}
	s.p.loss, s.p.dup, s.p.crash = 0, 0, 0
	for _, n := range s.nodes {
		if n.core == nil {
			s.start(n)
			s.handleReady(n)
		}
	}
	s.tracef("HEAL")
	// The bound: elections settle within a few timeouts, then a follower
	// that is b entries behind needs about b/MaxAppendEntries round trips.
	var last uint64
	for _, n := range s.nodes {
		last = max(last, n.core.log.lastIndex())
	}
	bound := 40*s.p.cfg.ElectionTick + 2*(2*s.p.maxDelay+2)*(int(last)/s.p.cfg.MaxAppendEntries+1)
	deadline := s.now + bound
	marker := ""
	proposedAt := -1
	for ; s.now < deadline && s.err == nil; s.now++ {
		s.tick()
		s.deliver()
		if marker != "" && s.allApplied(marker) {
			return nil
		}
		if marker == "" || s.now-proposedAt > 3*s.p.cfg.ElectionTick {
			if l := s.leader(); l != nil {
				marker = fmt.Sprintf("marker-%d", s.now)
				proposedAt = s.now
				s.propose(l, marker)
			}
		}
	}
	if s.err != nil {
		return s.err
	}
	return fmt.Errorf("liveness: no proposal committed on every node within %d ticks of healing (leader %v)",
		bound, s.leader() != nil)
}

func (s *sim) allApplied(data string) bool {
	for _, n := range s.nodes {
		if !s.inLeaderConf(n) {
			continue
		}
		found := false
		for i := n.lastApplied; i > 0 && i+20 > n.lastApplied; i-- {
			if e, ok := s.applied[i]; ok && e.data == data {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (s *sim) leader() *simNode {
	for _, n := range s.nodes {
		if n.core != nil && n.core.role == roleLeader {
			return n
		}
	}
	return nil
}

func (s *sim) faults() {
	r := s.rng
	if r.Float64() < s.p.crash {
		n := s.nodes[r.Intn(len(s.nodes))]
		if n.core != nil {
			s.crash(n, "idle")
		}
	}
	for _, n := range s.nodes {
		if n.core == nil && r.Float64() < 0.05 {
			s.start(n)
			s.handleReady(n)
		}
	}
	if r.Float64() < s.p.partition {
		if s.group == nil {
			s.group = map[raft.ServerID]int{}
			for _, n := range s.nodes {
				s.group[n.id] = r.Intn(2)
			}
			s.oneWay = r.Intn(4) == 0
			s.tracef("PARTITION %v one-way=%v", s.group, s.oneWay)
		} else {
			s.group = nil
			s.tracef("HEAL partition")
		}
	}
	s.protoFaults()
}

func (s *sim) tick() {
	for _, n := range s.nodes {
		if n.core != nil && len(n.writing) > 0 && s.rng.Intn(3) == 0 {
			s.completeWrites(n, 1+s.rng.Intn(len(n.writing)))
		}
		if n.core != nil {
			n.core.Tick()
			s.handleReady(n)
		}
	}
}

func (s *sim) clients() {
	if s.rng.Float64() < s.p.propose {
		// Clients mostly find the leader; sometimes they ask anyone.
		n := s.nodes[s.rng.Intn(len(s.nodes))]
		if l := s.leader(); l != nil && s.rng.Intn(4) != 0 {
			n = l
		}
		if n.core != nil {
			s.proposals++
			s.propose(n, fmt.Sprintf("c%d", s.proposals))
		}
	}
	if s.rng.Float64() < s.p.confChange {
		if l := s.leader(); l != nil {
			s.changeMembership(l)
		}
	}
	s.protoClients()
	if s.rng.Float64() < 0.01 && !s.p.cfg.LeaseReads && s.p.proto.restore == 0 {
		// A leadership transfer's last step, out of the blue (a stale
		// MsgTimeoutNow): an election that skips pre-vote and stickiness.
		// NB: it would break leases, which rely on the leader knowing it
		// sent one.
		if l := s.leader(); l != nil {
			to := s.nodes[s.rng.Intn(len(s.nodes))]
			if to != l {
				s.send(Message{Type: MsgTimeoutNow, From: l.id, To: to.id, Term: l.core.term})
			}
		}
	}
	if s.rng.Float64() < s.p.read {
		n := s.nodes[s.rng.Intn(len(s.nodes))]
		if n.core != nil {
			s.read(n, -1)
		}
	}
}

func (s *sim) propose(n *simNode, data string) {
	k := 1 + s.rng.Intn(3)
	if strings.HasPrefix(data, "marker") {
		k = 1
	}
	var ents []*raft.Log
	for i := 0; i < k; i++ {
		ents = append(ents, &raft.Log{Type: raft.LogCommand, Data: []byte(fmt.Sprintf("%s.%d", data, i))})
	}
	if k == 1 {
		ents[0].Data = []byte(data)
	}
	for _, e := range ents {
		s.proposer[string(e.Data)] = n.id
	}
	first, last, err := n.core.Propose(ents)
	if err != nil {
		if !(errors.Is(err, raft.ErrNotLeader) && n.core.role != roleLeader) && !errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			s.failf("%s: Propose: %v", n.id, err)
		}
		return
	}
	if last-first+1 != uint64(k) {
		s.failf("%s: Propose returned [%d, %d] for %d entries", n.id, first, last, k)
	}
	s.tracef("%s propose %s -> [%d,%d]", n.id, data, first, last)
	s.handleReady(n)
}

// changeMembership has the leader flip one other server between Voter and
// Nonvoter, following hashicorp/raft's rule (issue 5 enforces it in the
// engine): only once the latest configuration is committed and the leader has
// committed an entry of its term, so at most one change is uncommitted.
func (s *sim) changeMembership(l *simNode) {
	st := l.core.Status()
	if st.LatestIndex > st.Commit || st.LastTerm != st.Term || !l.core.committedInTerm() {
		return
	}
	conf := st.Latest.Clone()
	i := s.rng.Intn(len(conf.Servers))
	if conf.Servers[i].ID == l.id {
		return
	}
	voters := 0
	for _, srv := range conf.Servers {
		if srv.Suffrage == raft.Voter {
			voters++
		}
	}
	switch {
	case conf.Servers[i].Suffrage == raft.Voter && voters > 2:
		conf.Servers[i].Suffrage = raft.Nonvoter
	case conf.Servers[i].Suffrage != raft.Voter:
		conf.Servers[i].Suffrage = raft.Voter
	default:
		return
	}
	first, _, err := l.core.Propose([]*raft.Log{{Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(conf)}})
	if err != nil {
		if !errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			s.failf("%s: proposing a configuration: %v", l.id, err)
		}
		return
	}
	s.stats.confChanges++
	s.tracef("%s propose configuration %v at %d", l.id, conf.Servers, first)
	s.handleReady(l)
}

// deliver hands out every message due now, in random order; messages sent
// meanwhile with no delay are delivered in the same tick.
func (s *sim) deliver() {
	for round := 0; round < 1000 && s.err == nil; round++ {
		var due []Message
		keep := s.net[:0]
		for _, f := range s.net {
			if f.at <= s.now {
				due = append(due, f.m)
			} else {
				keep = append(keep, f)
			}
		}
		s.net = keep
		if len(due) == 0 {
			return
		}
		// Reordering: what is due is delivered in random order.
		s.rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
		for _, m := range due {
			if s.err != nil {
				return
			}
			s.deliverOne(m)
		}
	}
}

func (s *sim) nodeByID(id raft.ServerID) *simNode {
	for _, n := range s.nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

func (s *sim) deliverOne(m Message) {
	if m.Type == MsgUnreachable {
		s.deliverUnreachable(m)
		return
	}
	to := s.nodeByID(m.To)
	if to == nil || to.core == nil {
		s.stats.drops++
		s.lostRPC(m)
		return
	}
	if s.linkCut(m) || s.group != nil && s.group[m.From] != s.group[m.To] && (!s.oneWay || s.group[m.From] == 0) {
		s.stats.drops++
		if _, _, ok := isRPC(m); ok {
			s.lostRPC(m)
			return
		}
		// The driver reports some failed requests (connection refused).
		if isRequest(m) && s.rng.Intn(3) == 0 {
			if from := s.nodeByID(m.From); from != nil && from.core != nil {
				s.tracef("%s unreachable %s", m.From, m.To)
				from.core.Step(Message{Type: MsgUnreachable, From: m.To, To: m.From})
				s.handleReady(from)
			}
		}
		return
	}
	if s.tracing {
		s.tracef("%s <- %s", m.To, fmtMsg(m))
	}
	if m.Type == MsgSnap {
		// The driver writes the streamed snapshot durably before stepping.
		snap := *m.Snapshot
		to.received = &snap
	}
	if err := to.core.Step(m); err != nil {
		s.failf("%s: Step(%s): %v", m.To, fmtMsg(m), err)
	}
	s.handleReady(to)
}

func (s *sim) send(m Message) {
	s.stats.msgs++
	copies := 1
	if s.rng.Float64() < s.p.dup {
		copies = 2
	}
	sent := 0
	for i := 0; i < copies; i++ {
		if s.rng.Float64() < s.p.loss {
			s.stats.drops++
			continue
		}
		sent++
		s.net = append(s.net, inflight{at: s.now + s.rng.Intn(s.p.maxDelay+1), m: wire(m, s.p.conflictTerm)})
	}
	if sent == 0 {
		s.lostRPC(m)
	}
}

// handleReady plays the driver: the Ready contract's steps in order, with a
// small chance of crashing between them.
func (s *sim) handleReady(n *simNode) {
	for n.core != nil && n.core.HasReady() && s.err == nil {
		c := n.core
		rd := c.Ready()
		s.checkReady(n, rd)
		if s.p.proto.asyncWrites && c.CanAdvanceAsync(rd) && s.rng.Intn(5) != 0 {
			s.handleReadyAsync(n, rd)
			continue
		}
		// A Ready done in place is written after the writes in flight.
		flushed := s.flushWrites(n, len(n.writing))
		crashAt := -1
		if s.rng.Float64() < s.p.crash {
			crashAt = 1 + s.rng.Intn(4)
		}
		// 1. Hard state.
		n.store.persistHard(rd)
		if crashAt == 1 {
			s.crashMidReady(n, rd, "after hard state")
			return
		}
		// 1b. A snapshot to install, before anything is sent.
		if rd.Snapshot != nil {
			s.installSnapshot(n, *rd.Snapshot)
		}
		// 2. Requests.
		for _, m := range rd.Messages {
			if isRequest(m) {
				s.send(m)
			}
		}
		if crashAt == 2 {
			s.crashMidReady(n, rd, "after requests")
			return
		}
		// 3. Entries.
		s.persistEntries(n, rd)
		if crashAt == 3 {
			s.crashMidReady(n, rd, "after entries")
			return
		}
		// 4. Responses, which acknowledge durable state.
		for _, m := range rd.Messages {
			if !isRequest(m) {
				s.checkDurable(n, m)
				s.send(m)
			}
		}
		if crashAt == 4 {
			s.crash(n, "after responses")
			return
		}
		// 5. Apply and answer reads.
		s.apply(n, rd)
		// 6. Advance.
		c.Advance(rd)
		s.reportWrites(n, flushed)
		s.checkCore(n)
	}
	if n.core != nil && s.err == nil {
		s.checkCore(n)
	}
}

func (s *sim) persistEntries(n *simNode, rd Ready) {
	if len(rd.Entries) == 0 {
		return
	}
	if n.core.role == roleLeader && rd.Entries[0].Index <= uint64(len(n.store.ents)) {
		s.failf("leader append-only: leader %s (term %d) rewrites its log from %d (stored last %d)",
			n.id, n.core.term, rd.Entries[0].Index, len(n.store.ents))
		return
	}
	if _, err := n.store.persistEntries(rd); err != nil {
		s.failf("%s: %v", n.id, err)
		return
	}
	// Log matching: an (index, term) pair names one entry and one
	// predecessor term everywhere, which by induction makes the prefixes
	// equal.
	for _, e := range rd.Entries {
		var prev uint64
		if e.Index > 1 {
			prev, _ = n.store.Term(e.Index - 1)
		}
		id := entryID{typ: e.Type, data: string(e.Data), prevTerm: prev}
		key := [2]uint64{e.Index, e.Term}
		if got, ok := s.entries[key]; ok && got != id {
			s.failf("log matching: %s has %+v at (index %d, term %d), another node %+v", n.id, id, e.Index, e.Term, got)
			return
		} else if !ok {
			s.entries[key] = id
		}
	}
}

// checkDurable checks that a response only acknowledges what is stored.
func (s *sim) checkDurable(n *simNode, m Message) {
	switch {
	case m.Type == MsgAppResp && m.Success && m.Index > uint64(len(n.store.ents)):
		s.failf("%s acknowledges index %d with %d entries stored", n.id, m.Index, len(n.store.ents))
	case m.Type == MsgSnapResp && m.Success && m.Index > max(uint64(len(n.store.ents)), n.store.snap.Index):
		s.failf("%s acknowledges a snapshot at %d, stored last %d, snapshot %d", n.id, m.Index, len(n.store.ents), n.store.snap.Index)
	case m.Type == MsgVoteResp && m.Granted && (n.store.hs.Term != m.Term || n.store.hs.Vote != m.To):
		s.failf("%s grants %s a vote in term %d, stored %+v", n.id, m.To, m.Term, n.store.hs)
	}
}

func (s *sim) apply(n *simNode, rd Ready) {
	for _, e := range rd.CommittedEntries {
		if !s.storedOrWriting(n, e) {
			s.failf("%s applies %d/%d, which is not stored", n.id, e.Index, e.Term)
			return
		}
		if e.Index != n.lastApplied+1 {
			s.failf("%s: applies %d after %d", n.id, e.Index, n.lastApplied)
			return
		}
		n.lastApplied = e.Index
		s.ackWrites(n, e)
		id := entryID{typ: e.Type, data: string(e.Data)}
		if got, ok := s.applied[e.Index]; ok && got != id {
			s.failf("state machine safety: %s applies %+v at %d, another node applied %+v", n.id, id, e.Index, got)
			return
		} else if !ok {
			s.applied[e.Index] = id
		}
	}
	for _, r := range rd.ReadStates {
		want, ok := n.reads[r.ID]
		if !ok {
			s.failf("%s: ReadState for unknown or answered read %d", n.id, r.ID)
			return
		}
		delete(n.reads, r.ID)
		if r.OK && r.Index < want {
			s.failf("linearizable read: %s confirmed read %d at index %d, but %d was committed before the call", n.id, r.ID, r.Index, want)
		}
	}
	s.readStatesDone(n, rd)
	s.serveReads(n)
}
