package raftimpl

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
	"github.com/pontoon-raft/raft/transport"
)

// This file holds the log lines an operator acts on: leader and membership
// changes, followers catching up, snapshot transfers and restores with
// their sizes and durations. Each is logged once per event: a cluster in a
// steady state logs nothing above DEBUG (TestSteadyStateQuiet).

// noteSoftState logs a change of leader (after the role change, which
// changeSoftState logs) and resets the leader's bookkeeping when this
// node's role changes.
func (d *driver) noteSoftState(old, ss core.SoftState) {
	r := d.r
	if old.Role != ss.Role {
		r.mx.contact, r.mx.catchingUp = nil, nil
		if ss.Role == raft.Leader {
			r.pub.RLock()
			n := len(r.pub.latest.Servers)
			r.pub.RUnlock()
			r.metrics.SetGauge(keyPeers, float32(n))
		}
	}
	if ss.Leader == old.Leader {
		return
	}
	term := d.core.Term()
	if ss.Leader == "" {
		if old.Leader != "" && ss.Role != raft.Leader {
			r.logger.Info("no known leader", "previous-leader-id", old.Leader, "term", term)
		}
		return
	}
	r.logger.Info("new leader", "leader-id", ss.Leader, "leader-address", d.addrOf(ss.Leader), "term", term)
}

// noteConfiguration logs a change of the latest or committed configuration
// (publish calls it only when one of their indexes moved), sets raft.peers
// on a leader, and on a leader starts watching the servers just added until
// they have caught up. (A server missing from its own configuration is
// warned about by checkIdentity and maybeWarnNotMember.)
func (d *driver) noteConfiguration(st core.Status, prevLatest, prevCommitted uint64, first bool) {
	r := d.r
	if st.LatestIndex != prevLatest || first {
		switch {
		case first && len(st.Latest.Servers) == 0:
			r.logger.Info("no configuration yet: waiting for BootstrapCluster or for a leader to add this server")
		case first:
			r.logger.Info("configuration", "index", st.LatestIndex, "servers", formatServers(st.Latest),
				"committed", st.LatestIndex == st.CommittedIndex)
		default:
			r.logger.Info("configuration changed", "index", st.LatestIndex, "servers", formatServers(st.Latest),
				"committed", st.LatestIndex == st.CommittedIndex)
		}
		if st.Role == raft.Leader {
			r.metrics.SetGauge(keyPeers, float32(len(st.Latest.Servers)))
		}
		if st.Role == raft.Leader && !first {
			d.watchNewServers(st)
		}
	} else if st.CommittedIndex != prevCommitted {
		r.logger.Info("configuration committed", "index", st.CommittedIndex)
	}
}

// watchNewServers starts watching the servers of st.Latest that were not
// in the configuration published before, until they catch up.
func (d *driver) watchNewServers(st core.Status) {
	r := d.r
	for _, s := range st.Latest.Servers {
		if _, known := d.peers[s.ID]; s.ID == r.localID || known {
			continue
		}
		d.watchCatchUp(s.ID, st)
	}
}

// watchCatchUp watches id until its log reaches the commit index; it is
// logged then (checkCatchUp).
func (d *driver) watchCatchUp(id raft.ServerID, st core.Status) {
	r := d.r
	if r.mx.catchingUp == nil {
		r.mx.catchingUp = make(map[raft.ServerID]catchUp)
	}
	if _, ok := r.mx.catchingUp[id]; ok {
		return
	}
	r.mx.catchingUp[id] = catchUp{since: time.Now(), match: st.Progress[id].Match}
	r.logger.Info("replicating to new server", "peer", id, "leader-last-index", st.LastIndex)
}

// checkCatchUp logs the watched servers whose log reached the commit
// index. Called about once a second on a leader while any is watched.
func (d *driver) checkCatchUp() {
	r := d.r
	st := d.core.Status()
	for id, c := range r.mx.catchingUp {
		pr, ok := st.Progress[id]
		if !ok {
			delete(r.mx.catchingUp, id)
			continue
		}
		if pr.Match >= st.Commit && st.Commit > 0 {
			r.logger.Info("server caught up with the leader", "peer", id, "index", pr.Match,
				"entries", pr.Match-c.match, "duration", time.Since(c.since).Round(time.Millisecond))
			delete(r.mx.catchingUp, id)
		}
	}
}

// formatServers renders a configuration as "id (address, suffrage), ...".
func formatServers(c raft.Configuration) string {
	var b strings.Builder
	for i, s := range c.Servers {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%s, %s)", s.ID, s.Address, s.Suffrage)
	}
	return b.String()
}

// snapshotProgressInterval is how often a snapshot transfer or restore
// still running is logged.
var snapshotProgressInterval = 10 * time.Second

// progressReader counts the bytes read through it and logs the progress of
// a long transfer every snapshotProgressInterval, from the goroutine that
// reads (no timer of its own).
type progressReader struct {
	r      io.Reader
	logger hclog.Logger
	msg    string
	args   []interface{}
	total  int64
	start  time.Time
	// n is read by the caller after the transfer; atomic because a
	// transport may read from another goroutine than the one that reports.
	n        atomic.Int64
	nextLog  time.Time
	interval time.Duration
}

func newProgressReader(r io.Reader, logger hclog.Logger, total int64, msg string, args ...interface{}) *progressReader {
	now := time.Now()
	return &progressReader{r: r, logger: logger, msg: msg, args: args, total: total, start: now,
		nextLog: now.Add(snapshotProgressInterval), interval: snapshotProgressInterval}
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	done := p.n.Add(int64(n))
	if now := time.Now(); !now.Before(p.nextLog) {
		p.nextLog = now.Add(p.interval)
		args := append(append([]interface{}{}, p.args...), "bytes", done, "elapsed", now.Sub(p.start).Round(time.Second))
		if p.total > 0 {
			args = append(args, "size", p.total, "percent", fmt.Sprintf("%.1f", 100*float64(done)/float64(p.total)))
		}
		p.logger.Info(p.msg, args...)
	}
	return n, err
}

// bytesRead returns how many bytes went through.
func (p *progressReader) bytesRead() int64 { return p.n.Load() }

// sendingSnapshot logs the start of an InstallSnapshot to a follower and
// returns the snapshot's data wrapped to log the progress of a long one.
func (r *Raft) sendingSnapshot(peer raft.ServerID, meta *raft.SnapshotMeta, rc io.Reader) *progressReader {
	r.logger.Info("sending snapshot to follower", "peer", peer, "id", meta.ID, "index", meta.Index, "size", meta.Size)
	return newProgressReader(rc, r.logger, meta.Size, "sending snapshot to follower", "peer", peer, "id", meta.ID)
}

// snapshotSent logs the end of an InstallSnapshot to a follower.
func (r *Raft) snapshotSent(peer raft.ServerID, meta *raft.SnapshotMeta, body *progressReader, ok bool) {
	if !ok {
		r.logger.Warn("follower refused the snapshot", "peer", peer, "id", meta.ID, "index", meta.Index)
		return
	}
	r.logger.Info("snapshot sent to follower", "peer", peer, "id", meta.ID, "index", meta.Index,
		"bytes", body.bytesRead(), "duration", time.Since(body.start).Round(time.Millisecond))
}

// receivingSnapshot logs the start of a snapshot arriving from the leader
// and returns its data wrapped to log the progress of a long one.
func (r *Raft) receivingSnapshot(req *transport.InstallSnapshotRequest, data io.Reader) *progressReader {
	r.logger.Info("receiving snapshot from leader", "index", req.LastLogIndex, "term", req.LastLogTerm, "size", req.Size)
	return newProgressReader(data, r.logger, req.Size, "receiving snapshot from leader", "index", req.LastLogIndex)
}

// snapshotStored logs the end of a snapshot's arrival (it is durable; the
// FSM restore follows).
func (r *Raft) snapshotStored(id string, body *progressReader) {
	r.logger.Info("snapshot received from leader", "id", id, "bytes", body.bytesRead(),
		"duration", time.Since(body.start).Round(time.Millisecond))
}

// restoringSnapshot logs the start of an FSM restore and returns the
// snapshot's data wrapped to log the progress of a long one.
func (r *Raft) restoringSnapshot(meta *raft.SnapshotMeta, rc io.ReadCloser) io.ReadCloser {
	r.logger.Info("restoring FSM from snapshot", "id", meta.ID, "index", meta.Index, "size", meta.Size)
	return &progressReadCloser{
		progressReader: newProgressReader(rc, r.logger, meta.Size, "restoring FSM from snapshot", "id", meta.ID),
		c:              rc, id: meta.ID, index: meta.Index,
	}
}

// progressReadCloser is a progressReader that closes the underlying
// snapshot and remembers what it restores.
type progressReadCloser struct {
	*progressReader
	c     io.Closer
	id    string
	index uint64
}

func (p *progressReadCloser) Close() error { return p.c.Close() }

// noteRestored records and logs an FSM restore that started at start.
func (r *Raft) noteRestored(start time.Time, body io.ReadCloser) {
	d := time.Since(start)
	r.metrics.measure(keyFSMRestore, d)
	r.metrics.SetGauge(keyFSMLastRestore, float32(d.Milliseconds()))
	if p, ok := body.(*progressReadCloser); ok {
		r.logger.Info("FSM restored from snapshot", "id", p.id, "index", p.index, "bytes", p.bytesRead(),
			"duration", d.Round(time.Millisecond))
	}
}
