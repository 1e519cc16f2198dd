package raftimpl

import (
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
)

// The driver's side of the asynchronous log writes (writer.go runs them):
// Readys acknowledged with core.AdvanceAsync, completed writes reported to
// the core, acknowledgements held until the writes before them are done,
// and the waits that order in-place work after the writes in flight.

// writesInFlight is the number of batches handed to the writer and not yet
// reported done.
func (d *driver) writesInFlight() int { return int(d.writesSent - d.writesDone) }

// readyAsync does a Ready that at most appends to the log: the
// messages go out, what committed goes to the apply loop and the entries to
// the log writer, all without waiting for the disk (core.AdvanceAsync). It
// reports false when shutting down.
func (d *driver) readyAsync(rd core.Ready) bool {
	if len(rd.Entries) > 0 {
		d.writesSent++
		d.entriesInFlight += len(rd.Entries)
		// Never blocks: the loop takes no new work once writesInFlight()
		// reaches maxWritesInFlight, and one iteration adds a few writes
		// at most (the channel has room for them).
		d.writer.reqs <- rd.Entries
	}
	for i := range rd.Messages {
		m := &rd.Messages[i]
		switch {
		case !m.IsResponse():
			d.send(*m)
		case d.writesInFlight() > 0 && (m.Type == core.MsgAppResp || m.Type == core.MsgSnapResp):
			// It acknowledges entries as durable: it waits for the
			// writes handed out so far (this Ready's included).
			d.held = append(d.held, heldResponse{m: *m, after: d.writesSent})
		default:
			d.respond(*m)
		}
	}
	if len(rd.CommittedEntries) > 0 && !d.deliverCommitted(rd.CommittedEntries) {
		return false
	}
	d.finishReady(rd)
	d.core.AdvanceAsync(rd)
	d.publish()
	return true
}

// finishWrite records a completed write of the log writer; the core hears
// of it at the next reportPersisted.
func (d *driver) finishWrite(res writeResult) error {
	d.writesDone += uint64(res.batches)
	d.entriesInFlight -= len(res.entries)
	if res.err != nil {
		return res.err
	}
	d.storage.appended(res.entries)
	d.persisted = append(d.persisted, res.entries[len(res.entries)-1])
	i := 0
	for ; i < len(d.held) && d.held[i].after <= d.writesDone; i++ {
		d.respond(d.held[i].m)
	}
	d.held = append(d.held[:0], d.held[i:]...)
	d.noteWrite(res.took, len(res.entries))
	if d.r.stalled.Load() {
		d.stallEnded = true // acted on outside a Ready (reportPersisted)
	}
	return nil
}

// finishWrites records res and every other completed write already
// waiting.
func (d *driver) finishWrites(res writeResult) error {
	for {
		if err := d.finishWrite(res); err != nil {
			return err
		}
		select {
		case res = <-d.writer.done:
		default:
			return nil
		}
	}
}

// persistFailed stops the node after a store write failed: continuing could
// acknowledge what is not durable.
func (d *driver) persistFailed(err error) {
	d.r.logger.Error("stopping: failed to persist state", "error", err)
	go d.r.Shutdown()
}

// heldResponse is a response waiting for the log writes up to number after.
type heldResponse struct {
	m     core.Message
	after uint64
}

// flushWrites waits for every write in flight to complete.
func (d *driver) flushWrites() error {
	for d.writesInFlight() > 0 {
		select {
		case res := <-d.writer.done:
			if err := d.finishWrite(res); err != nil {
				return err
			}
		case <-d.r.shutdownCh:
			return raft.ErrRaftShutdown
		}
	}
	return nil
}

// reportPersisted tells the core which entries completed writes made
// durable (outside a Ready: it may commit and send).
func (d *driver) reportPersisted() {
	for _, e := range d.persisted {
		d.core.EntriesPersisted(e.Index, e.Term)
	}
	d.persisted = d.persisted[:0]
	if d.stallEnded {
		d.stallEnded = false
		d.recoverFromStall()
	}
}

// handleStall steps the core down once the watchdog reported a stalled
// store write: its heartbeats stop, so the others elect a leader with a
// working disk, and every operation waiting on this leadership fails with
// raft.ErrLeadershipLost (the watchdog already ended the leadership epoch,
// so their callers were told at once; this settles what the loop holds).
// The loop goes on as a follower while the write is in flight; what needs
// the disk waits for it (flushWrites).
func (d *driver) handleStall() {
	if d.stallHandled {
		return
	}
	d.stallHandled = true
	d.core.StepDown()
	d.leadershipLost()
}

// recoverFromStall runs when a write the watchdog reported as stalled has
// completed: if the loop was itself stuck in that write it steps down now,
// and the watchdog may report the next stall.
func (d *driver) recoverFromStall() {
	d.handleStall()
	d.stallHandled = false
	d.r.stalled.Store(false)
	d.r.logger.Warn("store write completed after a stall", "role", d.soft.Role)
}
