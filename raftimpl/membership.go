package raftimpl

import (
	"context"
	"errors"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
)

// ConfigurationChangeCommand is the kind of a membership change.
type ConfigurationChangeCommand uint8

const (
	// AddVoter adds a voter, or makes an existing server a voter (updating
	// its address).
	AddVoter ConfigurationChangeCommand = iota
	// AddNonvoter adds a server that receives the log but does not vote; an
	// existing server only has its address updated.
	AddNonvoter
	// DemoteVoter makes a voter a non-voter.
	DemoteVoter
	// RemoveServer removes a server.
	RemoveServer
	// AddStaging adds a server as a non-voter that the leader promotes to
	// voter automatically once it has caught up with the log (not in
	// hashicorp/raft).
	AddStaging
)

// ConfigurationChange is one membership change. PrevIndex, when non-zero,
// must equal the index of the latest configuration (see GetConfiguration),
// or the change fails with raft.ErrConfigurationChanged.
type ConfigurationChange struct {
	Command   ConfigurationChangeCommand
	ID        raft.ServerID
	Address   raft.ServerAddress
	PrevIndex uint64
}

// confChangeReq is a membership change waiting for the driver loop.
type confChangeReq struct {
	change ConfigurationChange
	future *opFuture
}

// ChangeConfiguration applies one membership change on the leader. The
// future resolves once the new configuration's entry has committed, with its
// index. Changes are serialized: one waits while another is uncommitted or
// while the leader has not yet committed an entry of its term.
func (r *Raft) ChangeConfiguration(ctx context.Context, change ConfigurationChange) IndexFuture {
	return r.changeConfiguration(change, contextWaiter(ctx))
}

// AddVoter adds id as a voter. The timeout covers the whole wait.
func (r *Raft) AddVoter(id raft.ServerID, address raft.ServerAddress, prevIndex uint64, timeout time.Duration) IndexFuture {
	return r.changeConfiguration(ConfigurationChange{Command: AddVoter, ID: id, Address: address, PrevIndex: prevIndex}, timeoutWaiter(timeout))
}

// AddNonvoter adds id as a non-voter.
func (r *Raft) AddNonvoter(id raft.ServerID, address raft.ServerAddress, prevIndex uint64, timeout time.Duration) IndexFuture {
	return r.changeConfiguration(ConfigurationChange{Command: AddNonvoter, ID: id, Address: address, PrevIndex: prevIndex}, timeoutWaiter(timeout))
}

// AddStaging adds id as a non-voter promoted to voter automatically once it
// has caught up, so a new server never counts toward the quorum before it
// can keep up.
func (r *Raft) AddStaging(id raft.ServerID, address raft.ServerAddress, prevIndex uint64, timeout time.Duration) IndexFuture {
	return r.changeConfiguration(ConfigurationChange{Command: AddStaging, ID: id, Address: address, PrevIndex: prevIndex}, timeoutWaiter(timeout))
}

// DemoteVoter makes id a non-voter.
func (r *Raft) DemoteVoter(id raft.ServerID, prevIndex uint64, timeout time.Duration) IndexFuture {
	return r.changeConfiguration(ConfigurationChange{Command: DemoteVoter, ID: id, PrevIndex: prevIndex}, timeoutWaiter(timeout))
}

// RemoveServer removes id from the cluster. A leader removing itself steps
// down once the change commits (and shuts down if ShutdownOnRemove).
func (r *Raft) RemoveServer(id raft.ServerID, prevIndex uint64, timeout time.Duration) IndexFuture {
	return r.changeConfiguration(ConfigurationChange{Command: RemoveServer, ID: id, PrevIndex: prevIndex}, timeoutWaiter(timeout))
}

func (r *Raft) changeConfiguration(change ConfigurationChange, w waiter) IndexFuture {
	f := newOpFuture(w, r.loopDone)
	if err := enqueue(r, r.confCh, confChangeReq{change: change, future: f}, w); err != nil {
		return errorFuture{err}
	}
	return f
}

func toCoreChange(c ConfigurationChange) core.ConfChange {
	cmd := map[ConfigurationChangeCommand]core.ConfChangeCommand{
		AddVoter:     core.AddVoter,
		AddNonvoter:  core.AddNonvoter,
		DemoteVoter:  core.DemoteVoter,
		RemoveServer: core.RemoveServer,
		AddStaging:   core.AddStaging,
	}[c.Command]
	return core.ConfChange{Command: cmd, ID: c.ID, Address: c.Address, PrevIndex: c.PrevIndex}
}

// proposeConfChanges offers the waiting changes to the core, in order; a
// change the core cannot take yet (another is uncommitted) waits for a later
// pass. Changes whose caller gave up are dropped.
func (d *driver) proposeConfChanges() {
	for len(d.confQueue) > 0 {
		req := d.confQueue[0]
		if req.future.settled() {
			d.confQueue = d.confQueue[1:]
			continue
		}
		idx, err := d.core.ProposeConfChange(toCoreChange(req.change))
		if errors.Is(err, core.ErrConfChangePending) {
			return
		}
		d.confQueue = d.confQueue[1:]
		if err != nil {
			req.future.respond(err, 0, nil)
			continue
		}
		req.future.markQueued()
		// Resolved when the entry is applied, like Apply.
		d.pending[idx] = &logFuture{opFuture: req.future, log: raft.Log{Index: idx, Term: d.core.Status().Term}}
	}
}
