package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	hraft "github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"go.etcd.io/bbolt"
)

// crashCopy copies the files of the open Pontoon store at path (its bbolt
// file and journal) into a new directory, as a crash would leave them: the
// store has written fewer bytes than a checkpoint needs, so the bbolt file
// is not being written and the entries are in the journal only.
func crashCopy(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "raft.db")
	for _, suffix := range []string{"", ".journal.0", ".journal.1"} {
		b, err := os.ReadFile(path + suffix)
		must(t, err)
		must(t, os.WriteFile(dst+suffix, b, 0o600))
	}
	return dst
}

// TestJournalNotReplayedOntoRaftBoltDBWrites (issue 11, row 4): a data
// directory Pontoon left after a crash (acknowledged entries in its
// journal) is opened and written by raft-boltdb, as hashicorp/raft would
// (a new leader's entry at index 6, term 4), then opened by Pontoon again.
// Pontoon refuses rather than replay the stale journal on top (which would
// put index 7 at term 3 after index 6 at term 4); DiscardJournal keeps
// raft-boltdb's file. And a directory handed over the documented way
// (opened with logstore.BoltStore once and closed) is raft-boltdb's, whole.
func TestJournalNotReplayedOntoRaftBoltDBWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	p, err := logstore.NewBoltStore(path)
	must(t, err)
	defer p.Close()
	for i := uint64(1); i <= 20; i++ {
		must(t, p.StoreLog(&raft.Log{Index: i, Term: 3, Type: raft.LogCommand, Data: []byte("pontoon")}))
	}
	must(t, p.SetUint64([]byte("CurrentTerm"), 3))
	crashed := crashCopy(t, path)

	t.Run("raft-boltdb writes", func(t *testing.T) {
		dir := crashCopy(t, crashed)
		h, err := raftboltdb.NewBoltStore(dir)
		must(t, err)
		must(t, h.StoreLog(&hraft.Log{Index: 6, Term: 4, Type: hraft.LogCommand, Data: []byte("new leader")}))
		must(t, h.SetUint64([]byte("CurrentTerm"), 4))
		must(t, h.Close())

		s, err := logstore.NewBoltStore(dir)
		if err == nil {
			var l raft.Log
			_ = s.GetLog(7, &l)
			s.Close()
			t.Fatalf("Pontoon opened a file raft-boltdb changed and replayed its journal: index 7 at term %d", l.Term)
		}
		if !errors.Is(err, raft.ErrCorrupt) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "another program") {
			t.Fatalf("open error %q", err)
		}
		must(t, logstore.DiscardJournal(dir))
		s, err = logstore.NewBoltStore(dir)
		must(t, err)
		defer s.Close()
		var l raft.Log
		must(t, s.GetLog(6, &l))
		if last, err := s.LastIndex(); err != nil || last != 6 || l.Term != 4 {
			t.Fatalf("after DiscardJournal: last %d (%v), entry 6 term %d", last, err, l.Term)
		}
	})

	t.Run("handed over through BoltStore", func(t *testing.T) {
		dir := crashCopy(t, crashed)
		s, err := logstore.NewBoltStore(dir)
		must(t, err)
		must(t, s.Close())
		for _, suffix := range []string{".journal.0", ".journal.1"} {
			if _, err := os.Stat(dir + suffix); !os.IsNotExist(err) {
				t.Fatalf("journal file %s left after Close: %v", suffix, err)
			}
		}
		if names := bucketNames(t, dir); len(names) != 2 || names[0] != "conf" || names[1] != "logs" {
			t.Fatalf("buckets %v, want only conf and logs", names)
		}
		h, err := raftboltdb.NewBoltStore(dir)
		must(t, err)
		defer h.Close()
		last, err := h.LastIndex()
		must(t, err)
		if last != 20 {
			t.Fatalf("raft-boltdb reads last index %d, want 20", last)
		}
		if v, err := h.GetUint64([]byte("CurrentTerm")); err != nil || v != 3 {
			t.Fatalf("raft-boltdb CurrentTerm = %d, %v", v, err)
		}
	})
}

// bucketNames returns the names of the top-level buckets of the bbolt
// file at path, in order.
func bucketNames(t *testing.T, path string) []string {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	must(t, err)
	defer db.Close()
	var names []string
	must(t, db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			names = append(names, string(name))
			return nil
		})
	}))
	return names
}
