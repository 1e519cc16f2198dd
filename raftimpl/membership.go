package raftimpl

import (
	"context"
	"errors"
	"fmt"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
)

// ConfigurationChangeCommand is the kind of a membership change. The values
// 0-4 and their String forms are hashicorp/raft's.
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
	// Promote turns a Staging server into a voter (as hashicorp/raft's
	// Promote). Deprecated: use AddVoter.
	Promote
	// AddNonvoterPromoting adds a server as a non-voter (Staging) that the
	// leader promotes to voter automatically once it has caught up with the
	// log. Pontoon's own: hashicorp/raft has no such command.
	AddNonvoterPromoting

	// AddStaging is hashicorp/raft's deprecated name for AddVoter (the
	// same value, 0); it adds a voter at once. Deprecated: use AddVoter,
	// or AddNonvoterPromoting for a server promoted once caught up.
	AddStaging = 0
)

// String returns hashicorp/raft's names: "AddVoter", "AddNonvoter",
// "DemoteVoter", "RemoveServer", "Promote", and "ConfigurationChangeCommand"
// for any other value; Pontoon's own command is "AddNonvoterPromoting".
func (c ConfigurationChangeCommand) String() string {
	switch c {
	case AddVoter:
		return "AddVoter"
	case AddNonvoter:
		return "AddNonvoter"
	case DemoteVoter:
		return "DemoteVoter"
	case RemoveServer:
		return "RemoveServer"
	case Promote:
		return "Promote"
	case AddNonvoterPromoting:
		return "AddNonvoterPromoting"
	}
	return "ConfigurationChangeCommand"
}

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

// AddNonvoterPromoting adds id as a non-voter promoted to voter
// automatically once it has caught up, so a new server never counts toward
// the quorum before it can keep up. Pontoon's own (hashicorp/raft's
// AddStaging command is AddVoter).
func (r *Raft) AddNonvoterPromoting(id raft.ServerID, address raft.ServerAddress, prevIndex uint64, timeout time.Duration) IndexFuture {
	return r.changeConfiguration(ConfigurationChange{Command: AddNonvoterPromoting, ID: id, Address: address, PrevIndex: prevIndex}, timeoutWaiter(timeout))
}

// AddPeer is hashicorp/raft's deprecated AddPeer, for protocol versions
// below 3. Pontoon speaks protocol 3 only, where hashicorp/raft refuses it:
// the future fails with the bare raft.ErrUnsupportedProtocol. Use AddVoter.
func (r *Raft) AddPeer(peer raft.ServerAddress) Future {
	return errorFuture{raft.ErrUnsupportedProtocol}
}

// RemovePeer is hashicorp/raft's deprecated RemovePeer; like AddPeer it
// fails with the bare raft.ErrUnsupportedProtocol. Use RemoveServer.
func (r *Raft) RemovePeer(peer raft.ServerAddress) Future {
	return errorFuture{raft.ErrUnsupportedProtocol}
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
	if err := enqueue(r, r.ctrlCh, ctrlReq(confChangeReq{change: change, future: f}), w); err != nil {
		return errorFuture{err}
	}
	return f
}

// coreCommands maps each command to the core's.
var coreCommands = map[ConfigurationChangeCommand]core.ConfChangeCommand{
	AddVoter:             core.AddVoter,
	AddNonvoter:          core.AddNonvoter,
	DemoteVoter:          core.DemoteVoter,
	RemoveServer:         core.RemoveServer,
	Promote:              core.Promote,
	AddNonvoterPromoting: core.AddNonvoterPromoting,
}

// toCoreChange converts c; an unknown command is an error (it must not fall
// back to the zero command, AddVoter).
func toCoreChange(c ConfigurationChange) (core.ConfChange, error) {
	cmd, ok := coreCommands[c.Command]
	if !ok {
		return core.ConfChange{}, fmt.Errorf("%w: unknown configuration change command %d", raft.ErrInvalidConfig, c.Command)
	}
	return core.ConfChange{Command: cmd, ID: c.ID, Address: c.Address, PrevIndex: c.PrevIndex}, nil
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
		cc, err := toCoreChange(req.change)
		if err != nil {
			d.confQueue = d.confQueue[1:]
			req.future.respond(err, 0, nil)
			continue
		}
		idx, err := d.core.ProposeConfChange(cc)
		if errors.Is(err, core.ErrConfChangePending) {
			return
		}
		d.confQueue = d.confQueue[1:]
		if errors.Is(err, raft.ErrConfigurationChanged) {
			err = &configChangedError{prev: req.change.PrevIndex, latest: d.pubLatestIdx}
		}
		if err != nil {
			req.future.respond(err, 0, nil)
			continue
		}
		req.future.markQueued()
		// Resolved when the entry is applied, like Apply.
		d.pending[idx] = &logFuture{opFuture: req.future, log: raft.Log{Index: idx, Term: d.core.Status().Term}}
	}
}

// configChangedError is a change refused for a stale prevIndex: its text is
// hashicorp/raft's, and it matches raft.ErrConfigurationChanged.
type configChangedError struct {
	prev, latest uint64
}

func (e *configChangedError) Error() string {
	return fmt.Sprintf("configuration changed since %v (latest is %v)", e.prev, e.latest)
}

func (e *configChangedError) Unwrap() error { return raft.ErrConfigurationChanged }
