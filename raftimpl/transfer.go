package raftimpl

import (
	"context"
	"errors"
	"fmt"

	raft "github.com/pontoon-raft/raft"
)

// transferReq is a leadership transfer waiting for the driver loop.
type transferReq struct {
	id     raft.ServerID
	future *opFuture
}

// errTransferToSelf is hashicorp/raft's error text for a transfer to self.
var errTransferToSelf = errors.New("cannot transfer leadership to itself")

// noPeerError is a LeadershipTransfer with no other voter to take over:
// hashicorp/raft's text, matching raft.ErrUnknownServer.
type noPeerError struct{}

func (noPeerError) Error() string { return "cannot find peer" }
func (noPeerError) Unwrap() error { return raft.ErrUnknownServer }

// LeadershipTransfer hands leadership to the most up-to-date voter. The
// future resolves nil once this node has stepped down for the new leader,
// or fails with raft.ErrLeadershipTransferTimeout when the target is not
// caught up within an election timeout, or has not won within another
// election timeout after it was told to campaign (hashicorp/raft's budgets).
// While it runs, Apply and membership changes fail with
// raft.ErrLeadershipTransferInProgress.
func (r *Raft) LeadershipTransfer() Future {
	return r.transfer("", "")
}

// LeadershipTransferToServer hands leadership to the given voter, catching it
// up first if it lags.
func (r *Raft) LeadershipTransferToServer(id raft.ServerID, address raft.ServerAddress) Future {
	return r.transfer(id, address)
}

// LeadershipTransferContext is LeadershipTransferToServer bounded by ctx ("" id
// picks the most up-to-date voter).
func (r *Raft) LeadershipTransferContext(ctx context.Context, id raft.ServerID) Future {
	return r.transferWith(id, contextWaiter(ctx))
}

func (r *Raft) transfer(id raft.ServerID, address raft.ServerAddress) Future {
	if id != "" && id == r.localID {
		return errorFuture{errTransferToSelf}
	}
	return r.transferWith(id, waiter{})
}

func (r *Raft) transferWith(id raft.ServerID, w waiter) Future {
	f := newOpFuture(w, r.loopDone)
	if err := enqueue(r, r.ctrlCh, ctrlReq(transferReq{id: id, future: f}), w); err != nil {
		return errorFuture{err}
	}
	return f
}

// startTransfer runs on the loop.
func (d *driver) startTransfer(req transferReq) {
	if !req.future.claim(nil) {
		return // its caller gave up
	}
	if d.transfer != nil {
		req.future.respond(raft.ErrLeadershipTransferInProgress, 0, nil)
		return
	}
	if err := d.core.TransferLeadership(req.id); err != nil {
		// NB: hashicorp/raft's sentinels go back bare (services compare
		// them with ==); other errors say what failed.
		switch {
		case req.id == "" && errors.Is(err, raft.ErrUnknownServer):
			// No other voter: hashicorp/raft's text.
			err = noPeerError{}
		case !errors.Is(err, raft.ErrNotLeader) && !errors.Is(err, raft.ErrLeadershipTransferInProgress):
			err = fmt.Errorf("leadership transfer: %w", err)
		}
		req.future.respond(err, 0, nil)
		return
	}
	d.transfer = req.future
}

// finishTransfer resolves the running transfer.
func (d *driver) finishTransfer(ok bool) {
	if d.transfer == nil {
		return
	}
	if ok {
		d.transfer.respond(nil, 0, nil)
	} else {
		d.transfer.respond(raft.ErrLeadershipTransferTimeout, 0, nil)
	}
	d.transfer = nil
}
