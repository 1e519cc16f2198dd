package raftimpl

import (
	"time"

	"github.com/pontoon-raft/raft/raftimpl/internal/core"
	"github.com/pontoon-raft/raft/transport"
)

// hotChans are the inputs the loop stops reading under backpressure: while
// the disk is far behind they are nil, so proposals and AppendEntries wait.
type hotChans struct {
	propose  <-chan *logFuture
	consumer <-chan transport.RPC
	rpc      <-chan transport.RPC
}

// waitEvent blocks until any input has an event, handles it and reports
// whether the loop must stop.
func (d *driver) waitEvent(hot hotChans) (stop bool) {
	r := d.r
	select {
	case <-d.ticker.C:
		d.wake()
		// Late heartbeat answers count before the tick's quorum check.
		d.stepLateAnswers()
		return d.onTick()
	case res := <-d.writer.done:
		d.wake()
		return d.onWriteDone(res)
	case rpc := <-hot.consumer:
		d.wake()
		d.handleRPC(rpc)
		d.drainRPCs(hot.consumer)
	case rpc := <-hot.rpc:
		d.wake()
		d.handleRPC(rpc)
		d.drainRPCs(hot.consumer)
	case m := <-r.peerRespCh:
		d.wake()
		d.onPeerResponse(m, hot.propose)
	case f := <-hot.propose:
		d.wake()
		d.onPropose(f)
	case req := <-r.readCh:
		d.wake()
		d.startRead(req)
		// Reads queued together share one heartbeat round.
		for more := true; more; {
			select {
			case req := <-r.readCh:
				d.startRead(req)
			default:
				more = false
			}
		}
	case req := <-r.ctrlCh:
		d.wake()
		req.handle(d)
	case info := <-r.snapshotDoneCh:
		d.wake()
		d.snapshotTaken(info)
	case <-r.shutdownCh:
		return true
	}
	return false
}

// wake marks the loop busy and takes the heartbeat gate (heartbeat.go)
// before an event reaches the core.
func (d *driver) wake() {
	d.sat.working()
	d.holdGate()
}

// onTick advances the core's clock.
func (d *driver) onTick() (stop bool) {
	if d.r.stalled.Load() {
		// The watchdog saw the writer stall: step down now, so heartbeats
		// stop and the others elect a leader with a working disk, and
		// everything waiting on this leadership fails at once.
		d.handleStall()
	}
	d.tick()
	d.expireRPCs()
	if d.soft.Leader == "" {
		d.maybeWarnNotMember(time.Now())
	}
	d.writer.spaced.Store(d.core.FollowersFormQuorum())
	return false
}

// onWriteDone takes a completed log write.
func (d *driver) onWriteDone(res writeResult) (stop bool) {
	if err := d.finishWrites(res); err != nil {
		d.persistFailed(err)
		return true
	}
	d.reportPersisted()
	return false
}

// onPeerResponse steps m and every response already waiting.
func (d *driver) onPeerResponse(m core.Message, propose <-chan *logFuture) {
	d.step(m)
	d.drainPeerResponses()
	// Proposals waiting join this Ready: what the responses committed goes
	// to the apply loop before the new entries' write (processReady), and
	// the write is shared.
	select {
	case f := <-propose:
		d.proposeBatch(f)
	default:
	}
}

// onPropose takes f and the proposals queued behind it.
func (d *driver) onPropose(f *logFuture) {
	// Responses first: they may commit entries, which then reach the apply
	// loop before this batch's write, not after it.
	d.drainPeerResponses()
	d.proposeBatch(f)
}
