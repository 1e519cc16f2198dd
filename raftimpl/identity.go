package raftimpl

import (
	"bytes"
	"fmt"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// The identity of the stored state. A data directory reopened with another
// Config.LocalID than the one that wrote it leaves a node outside its own
// configuration: it never campaigns and is never counted, a silent
// follower. hashicorp/raft only logs it ("not part of stable
// configuration"); Pontoon logs it at start and while it lasts, and refuses
// to start where the stored state proves the directory is another server's.
//
// What counts as proof (conservative: only what a server writes about
// itself):
//   - LocalID is not in the stored latest configuration, and
//   - that configuration lists another server, X, at this node's own
//     address (the transport's LocalAddr), and
//   - the stored vote (LastVoteCand, the candidate's encoded address, and
//     Pontoon's PontoonLastVoteCandID when present) is a vote for X at this
//     same address: the directory's owner voted for the candidate at its own
//     address, i.e. for itself, and the configuration calls it X.
//
// A node that never campaigned under X (or a directory whose vote was for
// another address) is only warned about: the same evidence could come from
// a configuration that is merely stale about addresses.

// checkIdentity runs when the node starts, with the stored state loaded.
func (d *driver) checkIdentity() error {
	r := d.r
	st := d.core.Status()
	latest := st.Latest
	if len(latest.Servers) == 0 || inConfiguration(latest, r.localID) {
		return nil
	}
	r.logger.Warn("local node is not part of the stable configuration: it will not campaign, and counts in no quorum, until a leader adds it",
		"local_id", r.localID, "local_address", r.localAddr, "configuration", latest.Servers)
	var owner *raft.Server
	for i, s := range latest.Servers {
		if s.Address == r.localAddr {
			owner = &latest.Servers[i]
		}
	}
	if owner == nil {
		return nil
	}
	voteAddr, err := r.stable.Get(keyLastVoteCand)
	if err != nil || len(voteAddr) == 0 || !bytes.Equal(voteAddr, r.trans.EncodePeer(owner.ID, r.localAddr)) {
		return nil
	}
	if id, err := r.stable.Get(keyLastVoteCandID); err == nil && len(id) > 0 && raft.ServerID(id) != owner.ID {
		return nil
	}
	return fmt.Errorf("%w: Config.LocalID is %q, but the stored state was written by server %q: the stored configuration %v lists %q, not %q, at this node's address %s, and the stored vote is %q's vote for itself there; start the node with LocalID %q, or wipe its data directory and add it to the cluster as a new server",
		raft.ErrServerIDMismatch, r.localID, owner.ID, latest.Servers, owner.ID, r.localID, r.localAddr, owner.ID, owner.ID)
}

func inConfiguration(c raft.Configuration, id raft.ServerID) bool {
	for _, s := range c.Servers {
		if s.ID == id {
			return true
		}
	}
	return false
}

// notMemberWarnEvery spaces the repeated warning of a node outside its
// configuration.
const notMemberWarnEvery = time.Minute

// maybeWarnNotMember repeats checkIdentity's warning, now and then, while
// this node knows no leader and is not in its latest configuration (as
// hashicorp/raft does at each heartbeat timeout, less often).
func (d *driver) maybeWarnNotMember(now time.Time) {
	if d.soft.Leader != "" || now.Before(d.nextNotMemberWarn) {
		return
	}
	d.nextNotMemberWarn = now.Add(notMemberWarnEvery)
	r := d.r
	r.pub.RLock()
	latest := r.pub.latest
	member := len(latest.Servers) == 0 || inConfiguration(latest, r.localID)
	r.pub.RUnlock()
	if !member {
		r.logger.Warn("not part of stable configuration, not triggering a leader election",
			"local_id", r.localID, "configuration", latest.Servers)
	}
}
