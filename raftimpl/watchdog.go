package raftimpl

import (
	"time"

	raft "github.com/pontoon-raft/raft"
)

// runWatchdog watches the driver's store writes. A leader whose write has
// run longer than DiskStallTimeout reports itself a follower at once, so
// clients and LeaderCh readers stop treating it as the leader, and ends its
// leadership epoch: every operation waiting on it fails at once
// (raft.ErrLeadershipLost) and new ones get raft.ErrNotLeader, whether or not
// the loop is stuck in the write. The loop then steps the core down
// (handleStall), so its heartbeats stop and the others elect a new leader.
func (r *Raft) runWatchdog() {
	defer r.wg.Done()
	bound := r.conf.diskStallTimeout()
	t := time.NewTicker(r.conf.tickInterval())
	defer t.Stop()
	for {
		select {
		case <-t.C:
			started := r.writeStarted.Load()
			if started == 0 || time.Since(time.Unix(0, started)) < bound {
				continue
			}
			if r.State() != raft.Leader || r.stalled.Load() {
				continue
			}
			r.stalled.Store(true)
			// Everything waiting on this leadership fails now, even if
			// the loop is stuck in the write itself.
			r.epoch.Load().end()
			r.logger.Error("log store write stalled: stepping down", "stalled_for", time.Since(time.Unix(0, started)))
			r.metrics.IncrCounter(keyDiskStall, 1)
			r.state.Store(uint32(raft.Follower))
			r.pub.Lock()
			r.pub.leaderAddr, r.pub.leaderID = "", ""
			r.pub.Unlock()
			r.observe(raft.Follower)
			r.observe(LeaderObservation{})
			r.setLeaderCh(false)
		case <-r.shutdownCh:
			return
		}
	}
}
