package raftimpl

import (
	raft "github.com/pontoon-raft/raft"
)

// The loop's rare inputs.
//
// Membership changes, leadership transfers, user restores, reloads,
// bootstraps and received snapshots reach the loop through one channel,
// r.ctrlCh, rather than one each: the loop waits in a select over all its
// inputs once per event, and a select's cost grows with its cases (every
// channel in it is locked, and queued on while it blocks), while these
// arrive a few times in a node's life. ctrlCh is unbuffered, like the
// channels it replaced bar one (membership changes had a queue of 16): a
// sender waits until the loop takes its request, as with hashicorp/raft's
// membership, restore and bootstrap channels.

// ctrlReq is one rare input of the driver loop.
type ctrlReq interface {
	// handle runs the request on the loop.
	handle(d *driver)
	// shutdown settles the request when r's loop exits without taking it.
	shutdown(r *Raft)
}

func (req confChangeReq) handle(d *driver) {
	// Dropped if its caller already gave up (a plain ErrEnqueueTimeout).
	if req.future.claim(d.boundEpoch()) {
		d.confQueue = append(d.confQueue, req)
	}
}

func (req confChangeReq) shutdown(*Raft) { req.future.respond(raft.ErrRaftShutdown, 0, nil) }

func (req transferReq) handle(d *driver) { d.startTransfer(req) }
func (req transferReq) shutdown(*Raft)   { req.future.respond(raft.ErrRaftShutdown, 0, nil) }

func (req userRestoreReq) handle(d *driver) { d.userRestore(req) }
func (req userRestoreReq) shutdown(*Raft)   { req.future.respond(raft.ErrRaftShutdown, 0, nil) }

func (req bootstrapReq) handle(d *driver) { req.respond(d.bootstrap(req.configuration)) }
func (req bootstrapReq) shutdown(*Raft)   { req.respond(raft.ErrRaftShutdown) }

func (ev snapshotRecv) handle(d *driver) { d.snapshotReceived(ev) }

func (ev snapshotRecv) shutdown(r *Raft) {
	<-r.recvSem
	ev.rpc.Respond(nil, raft.ErrRaftShutdown)
}

// reloadReq carries ReloadConfig's values to the loop.
type reloadReq struct{ rc ReloadableConfig }

func (req reloadReq) handle(d *driver) {
	// The tick stays HeartbeatTimeout/10 of the start-up value; the
	// timeouts are re-expressed in it.
	c := &d.r.conf
	if err := d.core.SetTimeouts(c.ticks(req.rc.HeartbeatTimeout, 2), c.ticks(c.LeaderLeaseTimeout, 1)); err != nil {
		d.r.logger.Warn("reloaded timeouts not applied", "error", err)
	}
}

// shutdown: nothing to settle (ReloadConfig already stored the values).
func (reloadReq) shutdown(*Raft) {}
