package core

import (
	"errors"
	"fmt"

	raft "github.com/pontoon-raft/raft"
)

// Membership changes, hashicorp/raft style: one at a time, each a
// LogConfiguration entry holding the whole new configuration, in effect as
// soon as it is appended and committed by the new configuration's quorum
// (membership.go). Beyond hashicorp/raft: AddNonvoterPromoting, with
// automatic promotion once the new server has caught up.

// ProposeConfChange appends a configuration entry applying cc to the latest
// configuration and returns its index. The rules, in order:
//   - raft.ErrNotLeader on a non-leader;
//   - raft.ErrLeadershipTransferInProgress during a transfer;
//   - ErrConfChangePending while the latest configuration is uncommitted or
//     the leader has not yet committed an entry of its term (temporary: the
//     driver retries);
//   - raft.ErrConfigurationChanged if cc.PrevIndex is neither 0 nor the
//     latest configuration's index;
//   - an error wrapping raft.ErrInvalidConfig if the result is not a valid
//     configuration (for instance, no voter left), or cc names no server,
//     or an unknown command;
//   - an error wrapping raft.ErrUnknownServer for Promote of a server that
//     is not Staging.
//
// A leader that removes or demotes itself keeps leading until the entry
// commits, then steps down.
func (c *Core) ProposeConfChange(cc ConfChange) (index uint64, err error) {
	if c.role != roleLeader {
		return 0, raft.ErrNotLeader
	}
	if c.transfer != nil {
		return 0, raft.ErrLeadershipTransferInProgress
	}
	if !c.confChangeAllowed() {
		return 0, ErrConfChangePending
	}
	if cc.PrevIndex != 0 && cc.PrevIndex != c.conf.latestIndex() {
		return 0, fmt.Errorf("%w: prevIndex %d, latest configuration at %d",
			raft.ErrConfigurationChanged, cc.PrevIndex, c.conf.latestIndex())
	}
	next, err := applyConfChange(c.conf.latest(), cc)
	if err != nil {
		return 0, err
	}
	if err := raft.CheckConfiguration(next); err != nil {
		if !errors.Is(err, raft.ErrInvalidConfig) {
			err = fmt.Errorf("%w: %v", raft.ErrInvalidConfig, err)
		}
		return 0, err
	}
	return c.appendConf(next), nil
}

// confChangeAllowed reports whether a new configuration may be appended:
// the latest one is committed and so is an entry of the leader's term
// (before that, the commit index may lag the cluster's, and the latest
// configuration may not really be committed).
func (c *Core) confChangeAllowed() bool {
	return c.conf.latestIndex() <= c.log.committed && c.committedInTerm()
}

// appendConf appends conf as a LogConfiguration entry, replicates it and
// returns its index.
func (c *Core) appendConf(conf raft.Configuration) uint64 {
	e := &raft.Log{Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(conf)}
	c.appendLeader([]*raft.Log{e})
	c.bcastAppend()
	return e.Index
}

// applyConfChange returns the configuration cc makes of conf (fact sheet §1;
// AddNonvoterPromoting and Promote are Pontoon's).
func applyConfChange(conf raft.Configuration, cc ConfChange) (raft.Configuration, error) {
	if cc.ID == "" {
		return conf, fmt.Errorf("%w: empty server ID", raft.ErrInvalidConfig)
	}
	next := conf.Clone()
	i := -1
	for j, s := range next.Servers {
		if s.ID == cc.ID {
			i = j
			break
		}
	}
	add := func(suffrage raft.ServerSuffrage) {
		next.Servers = append(next.Servers, raft.Server{Suffrage: suffrage, ID: cc.ID, Address: cc.Address})
	}
	switch cc.Command {
	case AddVoter:
		if i < 0 {
			add(raft.Voter)
			break
		}
		next.Servers[i].Suffrage = raft.Voter
		next.Servers[i].Address = cc.Address
	case AddNonvoter:
		if i < 0 {
			add(raft.Nonvoter)
			break
		}
		// NB: an existing server keeps its suffrage (a voter keeps its
		// vote); only the address changes.
		next.Servers[i].Address = cc.Address
	case AddNonvoterPromoting:
		if i < 0 {
			add(raft.Staging)
			break
		}
		next.Servers[i].Address = cc.Address
	case DemoteVoter:
		if i >= 0 {
			next.Servers[i].Suffrage = raft.Nonvoter
		}
	case RemoveServer:
		if i >= 0 {
			next.Servers = append(next.Servers[:i], next.Servers[i+1:]...)
		}
	case Promote:
		if i < 0 || next.Servers[i].Suffrage != raft.Staging {
			return conf, fmt.Errorf("%w: %s is not a staging server", raft.ErrUnknownServer, cc.ID)
		}
		next.Servers[i].Suffrage = raft.Voter
	default:
		return conf, fmt.Errorf("%w: unknown configuration change %d", raft.ErrInvalidConfig, cc.Command)
	}
	return next, nil
}

// maybePromoteStaging proposes Promote for the first Staging server (in ID
// order) whose log has caught up: its Match reaches the leader's commit
// index. Only when a change may be proposed and no transfer runs.
func (c *Core) maybePromoteStaging() {
	// NB: runs on every response the leader gets: the in-memory checks come
	// before confChangeAllowed, which may read Storage.
	if c.role != roleLeader || c.transfer != nil || !hasStaging(c.conf.latest()) || !c.confChangeAllowed() {
		return
	}
	for _, id := range c.peers() {
		pr := c.prs[id]
		if pr.Match < c.log.committed || !isStaging(c.conf.latest(), id) {
			continue
		}
		next, err := applyConfChange(c.conf.latest(), ConfChange{Command: Promote, ID: id})
		if err != nil || raft.CheckConfiguration(next) != nil {
			return
		}
		c.appendConf(next)
		return
	}
}

func hasStaging(conf raft.Configuration) bool {
	for _, s := range conf.Servers {
		if s.Suffrage == raft.Staging {
			return true
		}
	}
	return false
}

func isStaging(conf raft.Configuration, id raft.ServerID) bool {
	for _, s := range conf.Servers {
		if s.ID == id {
			return s.Suffrage == raft.Staging
		}
	}
	return false
}

// maybeStepDownRemoved makes a leader whose vote the committed configuration
// took away (removed or demoted) a follower, once the followers were told
// the commit index. Removed entirely, it never campaigns again (it is not a
// voter); demoted, it stays a non-voter.
func (c *Core) maybeStepDownRemoved() bool {
	if c.role != roleLeader || c.conf.latestIndex() > c.log.committed || raft.HasVote(c.conf.committed, c.id) {
		return false
	}
	// NB: tell the followers the new commit index first, so the new
	// configuration's voters know it committed and can elect a leader
	// without waiting for another.
	c.bcastAppend()
	c.becomeFollower(c.term, "")
	return true
}
