package raftimpl

import (
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/transport"
)

// Config configures a Raft node. Field names and defaults follow
// hashicorp/raft's Config.
type Config struct {
	// ProtocolVersion is the RPC protocol version spoken; Pontoon supports 3.
	ProtocolVersion raft.ProtocolVersion

	// HeartbeatTimeout is how long a follower goes without hearing from the
	// leader before it starts an election (randomized to [t, 2t)). The leader
	// heartbeats every HeartbeatTimeout/10, which is also the driver's tick.
	HeartbeatTimeout time.Duration
	// ElectionTimeout bounds a candidate's election round.
	ElectionTimeout time.Duration
	// CommitTimeout is kept for compatibility; Pontoon replicates as soon as
	// entries exist, so it only bounds how long a batch may wait.
	CommitTimeout time.Duration
	// MaxAppendEntries bounds the entries in one AppendEntries request (and
	// the transport's own bound, if it reports one through a
	// MaxAppendEntries() int method, is kept too).
	MaxAppendEntries int
	// BatchApplyCh is accepted for compatibility; Pontoon always batches.
	BatchApplyCh bool
	// ShutdownOnRemove shuts the node down when it is removed.
	ShutdownOnRemove bool
	// TrailingLogs, SnapshotInterval and SnapshotThreshold drive snapshots.
	TrailingLogs      uint64
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	// LeaderLeaseTimeout: a leader that has not heard from a quorum for this
	// long steps down (check-quorum).
	LeaderLeaseTimeout time.Duration
	// LocalID is this server's unique ID. Required.
	LocalID raft.ServerID
	// NotifyCh receives true when this node becomes leader and false when it
	// stops. Sends block (as hashicorp/raft); prefer LeaderCh.
	NotifyCh chan<- bool
	// LogOutput and LogLevel build the logger when Logger is nil.
	LogOutput io.Writer
	LogLevel  string
	// Logger is this node's logger.
	Logger hclog.Logger
	// NoSnapshotRestoreOnStart skips restoring the newest snapshot at start.
	NoSnapshotRestoreOnStart bool
	// PreVoteDisabled turns pre-vote off (it is also off when the transport
	// does not implement transport.WithPreVote).
	PreVoteDisabled bool
	// NoLegacyTelemetry drops metrics whose keys embed peer names.
	NoLegacyTelemetry bool
	// RestoreCommittedLogs, as hashicorp/raft's: at start, apply the
	// entries up to the commit index the log store recorded, without
	// waiting for a leader. It needs a logstore.CommitTrackingLogStore
	// (NewRaft fails with raft.ErrIncompatibleLogStore otherwise).
	RestoreCommittedLogs bool

	// Metrics receives this node's metrics (hashicorp/raft's keys, listed
	// with Pontoon's own in docs/metrics.md). Nil means go-metrics' global
	// instance, as hashicorp/raft: whatever metrics.NewGlobal installed,
	// before or after NewRaft; until then nothing is emitted.
	Metrics *metrics.Metrics

	// MaxInflightAppends bounds unacknowledged AppendEntries per follower.
	MaxInflightAppends int
	// MaxAppendBytes bounds the bytes of one AppendEntries' entries: their
	// Data and Extensions plus a small allowance per entry for its
	// encoding (at least one entry is always sent). 0 means no bound but the
	// transport's frame limit, which every request stays within whatever
	// this value.
	MaxAppendBytes uint64
	// MaxEntrySize bounds one log entry's Data plus Extensions, in bytes.
	// Apply refuses a larger entry at once, with an error wrapping
	// raft.ErrEntryTooLarge, and appends nothing: every entry must fit,
	// with the request's overhead, in one AppendEntries frame of the
	// transport. 0 means the largest such size: the transport's frame
	// limit (its MaxMessageSize() method if it has one, else
	// transport.DefaultMaxMessageSize) minus that overhead. NewRaft refuses
	// a larger value. Not in hashicorp/raft, which stores such an entry and
	// then cannot send it.
	MaxEntrySize uint64
	// Seed seeds the core's election jitter; 0 picks one at random.
	Seed int64

	// LeaseReads enables LeaseRead's fast path: a leader answers a read
	// without a round trip while a quorum acknowledged it within
	// LeaderLeaseTimeout - LeaseReadDrift. Set it on every server of the
	// cluster (a server that has just started then refuses votes for an
	// election timeout, so a restart cannot break a lease). Lease reads are
	// linearizable only if no server's clock runs faster than another's by
	// more than LeaseReadDrift over a LeaderLeaseTimeout. Off: LeaseRead
	// confirms leadership with a heartbeat round, like ReadIndex.
	LeaseReads bool
	// LeaseReadDrift is the clock-drift margin of lease reads. 0 means
	// LeaderLeaseTimeout/4.
	LeaseReadDrift time.Duration

	// DiskStallTimeout bounds how long a LogStore or StableStore write may
	// take on a leader: past it the node steps down and reports itself a
	// follower (State, LeaderCh, observers), every operation pending on its
	// leadership (Apply, Barrier, VerifyLeader, membership changes) fails
	// at once with raft.ErrLeadershipLost, and new ones fail at once with
	// raft.ErrNotLeader, whether or not the write ever completes. Its
	// heartbeats stop, so the rest of the cluster elects a new leader; it
	// rejoins as a follower once its disk works. 0 means 2·ElectionTimeout,
	// but at least 2s: an fsync under load can take hundreds of
	// milliseconds without anything being wrong.
	DiskStallTimeout time.Duration
}

// DefaultConfig returns hashicorp/raft's defaults plus Pontoon's own.
func DefaultConfig() *Config {
	return &Config{
		ProtocolVersion:    raft.ProtocolVersionMax,
		HeartbeatTimeout:   1000 * time.Millisecond,
		ElectionTimeout:    1000 * time.Millisecond,
		CommitTimeout:      50 * time.Millisecond,
		MaxAppendEntries:   64,
		ShutdownOnRemove:   true,
		TrailingLogs:       10240,
		SnapshotInterval:   120 * time.Second,
		SnapshotThreshold:  8192,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		LogLevel:           "DEBUG",
		MaxInflightAppends: 16,
		MaxAppendBytes:     4 << 20,
	}
}

// ValidateConfig checks conf by hashicorp/raft's rules. Errors wrap
// raft.ErrInvalidConfig.
func ValidateConfig(conf *Config) error {
	bad := func(format string, args ...interface{}) error {
		return fmt.Errorf("%w: "+format, append([]interface{}{raft.ErrInvalidConfig}, args...)...)
	}
	if conf == nil {
		return bad("nil config")
	}
	if conf.ProtocolVersion < 1 || conf.ProtocolVersion > raft.ProtocolVersionMax {
		return bad("ProtocolVersion %d must be >= 1 and <= %d", conf.ProtocolVersion, raft.ProtocolVersionMax)
	}
	if conf.ProtocolVersion < 3 {
		return bad("ProtocolVersion %d: Pontoon speaks protocol 3 only", conf.ProtocolVersion)
	}
	if conf.LocalID == "" {
		return bad("LocalID cannot be empty")
	}
	if conf.HeartbeatTimeout < 5*time.Millisecond {
		return bad("HeartbeatTimeout is too low")
	}
	if conf.ElectionTimeout < 5*time.Millisecond {
		return bad("ElectionTimeout is too low")
	}
	if conf.CommitTimeout < time.Millisecond {
		return bad("CommitTimeout is too low")
	}
	if conf.MaxAppendEntries <= 0 {
		return bad("MaxAppendEntries must be positive")
	}
	if conf.MaxAppendEntries > 1024 {
		return bad("MaxAppendEntries is too large")
	}
	if conf.SnapshotInterval < 5*time.Millisecond {
		return bad("SnapshotInterval is too low")
	}
	if conf.LeaderLeaseTimeout < 5*time.Millisecond {
		return bad("LeaderLeaseTimeout is too low")
	}
	if conf.LeaderLeaseTimeout > conf.HeartbeatTimeout {
		return bad("LeaderLeaseTimeout (%s) cannot be larger than heartbeat timeout (%s)", conf.LeaderLeaseTimeout, conf.HeartbeatTimeout)
	}
	if conf.ElectionTimeout < conf.HeartbeatTimeout {
		return bad("ElectionTimeout (%s) must be equal or greater than Heartbeat Timeout (%s)", conf.ElectionTimeout, conf.HeartbeatTimeout)
	}
	if conf.LeaseReadDrift < 0 {
		return bad("LeaseReadDrift cannot be negative")
	}
	if conf.DiskStallTimeout < 0 {
		return bad("DiskStallTimeout cannot be negative")
	}
	if conf.MaxInflightAppends < 0 {
		return bad("MaxInflightAppends cannot be negative")
	}
	return nil
}

// ReloadableConfig is the subset of Config that ReloadConfig can change.
type ReloadableConfig struct {
	TrailingLogs      uint64
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	HeartbeatTimeout  time.Duration
	ElectionTimeout   time.Duration
}

// diskStallTimeout returns the effective DiskStallTimeout.
func (c *Config) diskStallTimeout() time.Duration {
	if c.DiskStallTimeout > 0 {
		return c.DiskStallTimeout
	}
	return max(2*c.ElectionTimeout, 2*time.Second)
}

// leaseDriftTicks returns LeaseReadDrift in ticks, rounded up.
func (c *Config) leaseDriftTicks() int {
	d := c.LeaseReadDrift
	if d == 0 {
		d = c.LeaderLeaseTimeout / 4
	}
	t := c.tickInterval()
	return int((d + t - 1) / t)
}

// tickInterval is the driver's tick: the leader's heartbeat period.
func (c *Config) tickInterval() time.Duration {
	t := c.HeartbeatTimeout / 10
	if t < time.Millisecond {
		t = time.Millisecond
	}
	return t
}

// ticks converts d to whole ticks, at least min.
func (c *Config) ticks(d time.Duration, min int) int {
	n := int(d / c.tickInterval())
	if n < min {
		n = min
	}
	return n
}

func (c *Config) logger() hclog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	out := c.LogOutput
	return hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.LevelFromString(c.LogLevel),
		Output: out,
	})
}

// Room kept in an AppendEntries frame besides the entries' Data and
// Extensions. The msgpack encoding of one entry adds about 100 bytes (field
// names, index, term, type, AppendedAt, length prefixes); the request itself
// a few hundred (header, terms, indexes, the leader's address).
const (
	appendFrameReserve = 64 << 10
	entryOverhead      = 128
)

// frameLimit is the largest request the transport sends.
func frameLimit(trans transport.Transport) uint64 {
	if t, ok := trans.(interface{ MaxMessageSize() int }); ok && t.MaxMessageSize() > 0 {
		return uint64(t.MaxMessageSize())
	}
	return transport.DefaultMaxMessageSize
}

// appendEntriesLimit is the most entries one AppendEntries carries:
// MaxAppendEntries, or fewer if the transport accepts fewer (its
// MaxAppendEntries() method).
func (c *Config) appendEntriesLimit(trans transport.Transport) int {
	n := c.MaxAppendEntries
	if t, ok := trans.(interface{ MaxAppendEntries() int }); ok && t.MaxAppendEntries() > 0 && t.MaxAppendEntries() < n {
		n = t.MaxAppendEntries()
	}
	return n
}

// entryLimits returns the effective MaxEntrySize and the byte bound of one
// AppendEntries' entries (counted by core.EntrySize with entryOverhead), so
// that every request the leader builds fits in one frame of trans.
func (c *Config) entryLimits(trans transport.Transport) (maxEntry, perAppend uint64, err error) {
	frame := frameLimit(trans)
	if frame < 2*appendFrameReserve {
		return 0, 0, fmt.Errorf("%w: the transport's frame limit of %d bytes leaves no room for entries", raft.ErrInvalidConfig, frame)
	}
	perAppend = frame - appendFrameReserve
	largest := perAppend - entryOverhead
	maxEntry = c.MaxEntrySize
	if maxEntry == 0 {
		maxEntry = largest
	}
	if maxEntry > largest {
		return 0, 0, fmt.Errorf("%w: MaxEntrySize %d is larger than the %d bytes one AppendEntries frame of %d bytes can carry",
			raft.ErrInvalidConfig, maxEntry, largest, frame)
	}
	if c.MaxAppendBytes > 0 && c.MaxAppendBytes < perAppend {
		perAppend = c.MaxAppendBytes
	}
	return maxEntry, perAppend, nil
}
