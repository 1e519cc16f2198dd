package logstore_test

import (
	"path/filepath"
	"testing"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/logstore/storetest"
)

// storeRun appends n entries of size bytes from next, in batches of per,
// and returns the next index.
func storeRun(t *testing.T, s *logstore.BoltStore, next uint64, n, per, size int) uint64 {
	t.Helper()
	for n > 0 {
		var batch []*raft.Log
		for k := min(per, n); k > 0; k-- {
			batch = append(batch, storetest.MakeLog(next, size))
			next++
			n--
		}
		mustNoErr(t, s.StoreLogs(batch))
	}
	return next
}

// TestCheckpointTriggerEntries: small entries start a checkpoint after
// CheckpointMaxEntries of them, long before an eighth of the journal file
// (the byte trigger) is written, so one checkpoint never holds more.
func TestCheckpointTriggerEntries(t *testing.T) {
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db"), JournalSize: 64 << 20, NoSync: true})
	defer s.Close()
	max := logstore.CheckpointMaxEntries
	next := storeRun(t, s, 1, max-1, 64, 16)
	mustNoErr(t, logstore.WaitCheckpoint(s))
	if n := logstore.PendingLen(s); n != max-1 {
		t.Fatalf("%d entries pending after %d appended, want all of them (no checkpoint yet)", n, max-1)
	}
	txid := logstore.BoltTxID(s)
	next = storeRun(t, s, next, 1, 1, 16)
	mustNoErr(t, logstore.WaitCheckpoint(s))
	if n := logstore.PendingLen(s); n != 0 {
		t.Fatalf("%d entries pending after %d appended, want 0 (a checkpoint of all)", n, max)
	}
	if d := logstore.BoltTxID(s) - txid; d != 1 {
		t.Fatalf("%d bbolt commits for the checkpoint, want 1", d)
	}
	// The count restarts with the checkpoint.
	storeRun(t, s, next, max-1, 100, 16)
	mustNoErr(t, logstore.WaitCheckpoint(s))
	if n := logstore.PendingLen(s); n != max-1 {
		t.Fatalf("%d entries pending, want %d", n, max-1)
	}
	requireLogs(t, s, 1, uint64(2*max-1))
}

// TestCheckpointTriggerBytes: large entries start a checkpoint once an
// eighth of a journal file has been appended, with far fewer entries than
// CheckpointMaxEntries.
func TestCheckpointTriggerBytes(t *testing.T) {
	const size = 1 << 20
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db"), JournalSize: size, NoSync: true})
	defer s.Close()
	// 4 KiB values: an eighth of the file is 32 of them, records
	// included; a batch of 4 is ~16.5 KiB.
	next := storeRun(t, s, 1, 28, 4, 4096)
	mustNoErr(t, logstore.WaitCheckpoint(s))
	if n := logstore.PendingLen(s); n != 28 {
		t.Fatalf("%d entries pending after 28 of 4 KiB, want 28 (no checkpoint yet)", n)
	}
	next = storeRun(t, s, next, 8, 4, 4096)
	mustNoErr(t, logstore.WaitCheckpoint(s))
	if n := logstore.PendingLen(s); n >= 28 {
		t.Fatalf("%d entries pending after %d KiB of records: no checkpoint", n, (next-1)*4)
	}
	requireLogs(t, s, 1, next-1)
}
