package raftimpl

import (
	"fmt"
	"strconv"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// Stats returns hashicorp/raft's statistics keys. Numbers are base-10
// strings.
func (r *Raft) Stats() map[string]string {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	r.pub.RLock()
	latest := r.pub.latest.Clone()
	r.pub.RUnlock()
	numPeers := 0
	selfVoter := false
	for _, s := range latest.Servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		if s.ID == r.localID {
			selfVoter = true
		} else {
			numPeers++
		}
	}
	if !selfVoter {
		numPeers = 0
	}
	s := map[string]string{
		"state":                      r.State().String(),
		"term":                       u(r.CurrentTerm()),
		"last_log_index":             u(r.lastIndex.Load()),
		"last_log_term":              u(r.lastTerm.Load()),
		"commit_index":               u(r.CommitIndex()),
		"applied_index":              u(r.AppliedIndex()),
		"fsm_pending":                u(uint64(len(r.applyCh))),
		"last_snapshot_index":        u(r.lastSnapshotIndex.Load()),
		"last_snapshot_term":         u(r.lastSnapshotTerm.Load()),
		"protocol_version":           strconv.Itoa(int(r.conf.ProtocolVersion)),
		"protocol_version_min":       strconv.Itoa(int(raft.ProtocolVersionMin)),
		"protocol_version_max":       strconv.Itoa(int(raft.ProtocolVersionMax)),
		"snapshot_version_min":       strconv.Itoa(int(raft.SnapshotVersionMin)),
		"snapshot_version_max":       strconv.Itoa(int(raft.SnapshotVersionMax)),
		"latest_configuration_index": "0",
		"latest_configuration":       fmt.Sprintf("%+v", latest.Servers),
		"num_peers":                  strconv.Itoa(numPeers),
	}
	switch {
	case r.State() == raft.Leader:
		s["last_contact"] = "0"
	case r.lastContact.Load() == 0:
		s["last_contact"] = "never"
	default:
		s["last_contact"] = fmt.Sprintf("%v", time.Since(r.LastContact()))
	}
	return s
}
