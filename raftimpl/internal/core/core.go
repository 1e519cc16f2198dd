package core

import (
	"fmt"
	"math/rand"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/tracker"
)

// role is the core's role. rolePreCandidate is reported as raft.Candidate.
type role uint8

const (
	roleFollower role = iota
	rolePreCandidate
	roleCandidate
	roleLeader
)

func (r role) raftState() raft.RaftState {
	switch r {
	case roleLeader:
		return raft.Leader
	case rolePreCandidate, roleCandidate:
		return raft.Candidate
	}
	return raft.Follower
}

func (r role) String() string {
	switch r {
	case roleFollower:
		return "follower"
	case rolePreCandidate:
		return "pre-candidate"
	case roleCandidate:
		return "candidate"
	case roleLeader:
		return "leader"
	}
	return "role(?)"
}

// Core is the protocol state machine of one server. It is not safe for
// concurrent use: the driver calls it from one goroutine.
type Core struct {
	id  raft.ServerID
	cfg Config
	// rng draws election jitter. It is private and seeded by cfg.Seed, so a
	// run is a pure function of its inputs.
	rng *rand.Rand

	// term and vote are the hard state. Invariant: every change reaches the
	// driver in Ready.HardState before any message that depends on it.
	term uint64
	vote raft.ServerID

	role role
	// lead is the leader known in term, "" if none.
	lead raft.ServerID

	log  *raftLog
	conf membership

	// electionElapsed counts ticks since the last reset of the election
	// timer (leader contact for a follower, campaign start for a candidate).
	electionElapsed int
	// electionTimeout is drawn from [ElectionTick, 2*ElectionTick) at every
	// reset.
	electionTimeout int
	// votes holds the answers to the running (pre-)campaign, keyed by voter.
	votes map[raft.ServerID]bool
	// transferCampaign is set while a campaign started by MsgTimeoutNow runs:
	// its MsgVote carry LeadershipTransfer.
	transferCampaign bool

	// Leader state. prs holds every server of the latest configuration, the
	// leader included; it is nil unless role == roleLeader.
	prs map[raft.ServerID]*tracker.Progress
	// peerIDs lists the keys of prs but this server, sorted (message order
	// must not depend on map iteration).
	peerIDs          []raft.ServerID
	heartbeatElapsed int
	leaseElapsed     int
	// round numbers heartbeat rounds for VerifyLeader. It only grows: a
	// response carrying round r acknowledges every round <= r.
	round uint64
	// roundSent is set once the current round's heartbeats are queued, until
	// the next Ready hands them to the driver.
	roundSent bool
	// pendingReads wait for a quorum to acknowledge their round.
	pendingReads []pendingRead
	// queuedReads wait for the leader's first commit in its term, before
	// which its commit index may lag the cluster's.
	queuedReads []pendingRead

	// transfer is the running leadership transfer (transfer.go), nil if
	// none; transferResult the outcome of the last one, for the next Ready.
	transfer       *transferState
	transferResult *TransferResult

	// Lease and follower reads (lease.go). leaderTicks counts the leader's
	// ticks in its term; roundTicks records when recent heartbeat rounds
	// started, oldest first. leaseBroken is set once this term's leader
	// sent MsgTimeoutNow: its lease no longer holds.
	leaderTicks int
	roundTicks  []roundTick
	leaseBroken bool
	// quietTicks > 0 while a server that has just started refuses votes
	// (Config.LeaseReads): it counts down on every tick.
	quietTicks int
	// remoteReads are this follower's ReadIndex calls waiting for the
	// leader's MsgReadIndexResp.
	remoteReads []remoteRead
	// remoteBatch numbers this follower's batches of remote reads, one
	// MsgReadIndex each (it only grows). remoteUnsent is set while batch
	// remoteBatch waits to be sent: new reads join it. remoteInflight is
	// the batch sent and not yet settled, 0 if none; remoteFresh is set
	// until the next Ready hands its MsgReadIndex out (new reads join it).
	remoteBatch    uint64
	remoteUnsent   bool
	remoteInflight uint64
	remoteFresh    bool

	// Output accumulated for the next Ready.
	msgs       []Message
	readStates []ReadState
	// spareMsgs and spareReads hold the buffers of the last two Readys'
	// Messages and ReadStates, oldest first, given back by Advance for
	// reuse (ready.go).
	spareMsgs  [][]Message
	spareReads [][]ReadState

	// prevSoft and prevHard are what the driver last got (or the initial
	// state), to report changes only.
	prevSoft SoftState
	prevHard HardState
}

type pendingRead struct {
	id    uint64
	index uint64
	round uint64
	// from is the follower whose MsgReadIndex this read answers; "" for a
	// local read.
	from raft.ServerID
}

// New validates cfg and returns a core over storage, starting as a follower
// with the persisted hard state and membership.
func New(cfg Config, storage Storage) (*Core, error) {
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	if storage == nil {
		return nil, fmt.Errorf("%w: nil storage", raft.ErrInvalidConfig)
	}
	hs, cs, err := storage.InitialState()
	if err != nil {
		return nil, fmt.Errorf("core: loading initial state: %w", err)
	}
	log, err := newRaftLog(storage)
	if err != nil {
		return nil, err
	}
	log.entryOverhead = cfg.EntryOverhead
	c := &Core{
		id:   cfg.ID,
		cfg:  cfg,
		rng:  rand.New(rand.NewSource(cfg.Seed)),
		term: hs.Term,
		vote: hs.Vote,
		log:  log,
	}
	c.conf.init(cs)
	c.prevHard = HardState{Term: c.term, Vote: c.vote}
	c.prevSoft = SoftState{Role: raft.Follower}
	c.becomeFollower(c.term, "")
	if cfg.LeaseReads {
		c.quietTicks = cfg.ElectionTick
	}
	return c, nil
}

func validate(cfg *Config) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{raft.ErrInvalidConfig}, args...)...)
	}
	switch {
	case cfg.ID == "":
		return bad("empty ID")
	case cfg.ElectionTick < 1:
		return bad("ElectionTick %d < 1", cfg.ElectionTick)
	case cfg.HeartbeatTick < 1:
		return bad("HeartbeatTick %d < 1", cfg.HeartbeatTick)
	case cfg.HeartbeatTick > cfg.ElectionTick:
		return bad("HeartbeatTick %d > ElectionTick %d", cfg.HeartbeatTick, cfg.ElectionTick)
	case cfg.LeaseTick < 1:
		return bad("LeaseTick %d < 1", cfg.LeaseTick)
	case cfg.MaxAppendEntries < 1:
		return bad("MaxAppendEntries %d < 1", cfg.MaxAppendEntries)
	case cfg.MaxInflight < 1:
		return bad("MaxInflight %d < 1", cfg.MaxInflight)
	}
	return nil
}

// Tick advances the core's clock by one tick.
func (c *Core) Tick() {
	c.tickReads()
	switch c.role {
	case roleLeader:
		c.tickLeader()
	default:
		c.tickElection()
	}
}

// send queues m for the next Ready, stamping From and, unless set, Term.
func (c *Core) send(m Message) {
	m.From = c.id
	if m.Term == 0 {
		m.Term = c.term
	}
	c.msgs = append(c.msgs, m)
}

// resetTerm moves to term (clearing the vote if the term changes) and resets
// the per-role state shared by every become* function.
func (c *Core) resetTerm(term uint64) {
	// NB: a transfer ends with any change of role; it succeeded if the term
	// moved on (the target, or someone, won an election).
	c.endTransfer(term > c.term)
	if term != c.term {
		c.term = term
		c.vote = ""
	}
	c.lead = ""
	c.electionElapsed = 0
	c.electionTimeout = c.cfg.ElectionTick + c.rng.Intn(c.cfg.ElectionTick)
	c.votes = nil
	c.transferCampaign = false
	c.heartbeatElapsed = 0
	c.leaseElapsed = 0
	c.prs, c.peerIDs = nil, nil
	c.leaseBroken = false
	c.leaderTicks = 0
	c.roundTicks = c.roundTicks[:0]
	c.failReads()
}

// failReads answers every VerifyLeader still waiting with OK=false.
func (c *Core) failReads() {
	for _, r := range c.queuedReads {
		c.answerRead(r, false)
	}
	for _, r := range c.pendingReads {
		c.answerRead(r, false)
	}
	c.queuedReads, c.pendingReads = nil, nil
	for _, r := range c.remoteReads {
		c.readStates = append(c.readStates, ReadState{ID: r.id})
	}
	c.remoteReads = nil
	c.remoteUnsent, c.remoteInflight, c.remoteFresh = false, 0, false
}

func (c *Core) becomeFollower(term uint64, lead raft.ServerID) {
	c.resetTerm(term)
	c.role = roleFollower
	c.lead = lead
}

// isVoter reports whether id votes in the latest configuration.
func (c *Core) isVoter(id raft.ServerID) bool {
	return raft.HasVote(c.conf.latest(), id)
}

// inLatest reports whether id is a member of the latest configuration.
func (c *Core) inLatest(id raft.ServerID) bool {
	for _, s := range c.conf.latest().Servers {
		if s.ID == id {
			return true
		}
	}
	return false
}

// SetTimeouts changes ElectionTick and LeaseTick (ReloadConfig). They apply
// from the next reset of the election timer and the next check-quorum pass.
func (c *Core) SetTimeouts(electionTick, leaseTick int) error {
	cfg := c.cfg
	cfg.ElectionTick, cfg.LeaseTick = electionTick, leaseTick
	if err := validate(&cfg); err != nil {
		return err
	}
	c.cfg = cfg
	return nil
}
