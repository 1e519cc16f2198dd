package logstore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	raft "github.com/pontoon-raft/raft"
)

// A rotation that made the next segment but stopped before the state file
// named it leaves an empty segment above the newest: the open removes it
// and the log is whole. One holding a record there is refused.
func TestSegmentUnfinishedRotation(t *testing.T) {
	for _, withRecord := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "seg")
		s, err := NewSegmentStore(SegmentOptions{Dir: dir, SegmentSize: MinJournalSize})
		if err != nil {
			t.Fatal(err)
		}
		for i := uint64(1); i <= 20; i++ {
			if err := s.StoreLogs([]*raft.Log{{Index: i, Term: 1, Data: make([]byte, 300)}}); err != nil {
				t.Fatal(err)
			}
		}
		// The segment prepared ahead goes first: this test makes its own.
		s.wmu.Lock()
		s.dropNextLocked()
		s.wmu.Unlock()
		seg, err := s.newSegment(s.active.seq+1, s.segSz)
		if err != nil {
			t.Fatal(err)
		}
		if withRecord {
			// As if the state write had been skipped and a record written.
			s.wmu.Lock()
			s.mu.Lock()
			s.segs = append(s.segs, seg)
			s.mu.Unlock()
			s.active, s.tail = seg, journalDataStart
			s.wmu.Unlock()
			if err := s.StoreLogs([]*raft.Log{{Index: 21, Term: 1}}); err != nil {
				t.Fatal(err)
			}
		} else {
			_ = seg.f.Close()
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = NewSegmentStore(SegmentOptions{Dir: dir, SegmentSize: MinJournalSize})
		if withRecord {
			if err == nil {
				_ = s.Close()
				t.Fatal("opened with a segment the state file does not name holding a record")
			}
			if !errorsIsCorrupt(err) {
				t.Fatalf("open: %v, want raft.ErrCorrupt", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("open after an unfinished rotation: %v", err)
		}
		if _, err := os.Stat(seg.path); !os.IsNotExist(err) {
			t.Errorf("the unfinished segment %s is still there: %v", seg.path, err)
		}
		if first, _ := s.FirstIndex(); first != 1 {
			t.Errorf("first index %d, want 1", first)
		}
		if last, _ := s.LastIndex(); last != 20 {
			t.Errorf("last index %d, want 20", last)
		}
		if err := s.StoreLogs([]*raft.Log{{Index: 21, Term: 1}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func errorsIsCorrupt(err error) bool { return errors.Is(err, raft.ErrCorrupt) }

func TestSegmentReadOnlyOpen(t *testing.T) {
	// No store: refused, and nothing created.
	empty := t.TempDir()
	if s, err := NewSegmentStore(SegmentOptions{Dir: empty, ReadOnly: true}); err == nil {
		_ = s.Close()
		t.Fatal("read-only open of an empty directory succeeded")
	}
	if names, _ := os.ReadDir(empty); len(names) != 0 {
		t.Fatalf("read-only open created %d files", len(names))
	}
	missing := filepath.Join(t.TempDir(), "none")
	if _, err := NewSegmentStore(SegmentOptions{Dir: missing, ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a missing directory succeeded")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("read-only open created the directory: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "seg")
	s, err := NewSegmentStore(SegmentOptions{Dir: dir, SegmentSize: MinJournalSize})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 40; i++ {
		if err := s.StoreLogs([]*raft.Log{{Index: i, Term: 2, Data: make([]byte, 300)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteRange(1, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 2); err != nil {
		t.Fatal(err)
	}
	// While another holds it open read-write: refused (stable.db is
	// locked), not read mid-write.
	if ro, err := NewSegmentStore(SegmentOptions{Dir: dir, ReadOnly: true}); err == nil {
		_ = ro.Close()
		t.Fatal("read-only open of a store open read-write succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := NewSegmentStore(SegmentOptions{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	first, _ := ro.FirstIndex()
	last, _ := ro.LastIndex()
	if first != 11 || last != 40 {
		t.Fatalf("read-only store holds [%d, %d], want [11, 40]", first, last)
	}
	var l raft.Log
	if err := ro.GetLog(25, &l); err != nil || l.Index != 25 || l.Term != 2 || len(l.Data) != 300 {
		t.Fatalf("GetLog(25) = %+v, %v", l, err)
	}
	if v, err := ro.GetUint64([]byte("CurrentTerm")); err != nil || v != 2 {
		t.Fatalf("CurrentTerm = %d, %v; want 2", v, err)
	}
	if err := ro.StoreLogs([]*raft.Log{{Index: 41, Term: 2}}); !errors.Is(err, errSegReadOnly) {
		t.Fatalf("StoreLogs: %v, want errSegReadOnly", err)
	}
	if err := ro.DeleteRange(11, 12); !errors.Is(err, errSegReadOnly) {
		t.Fatalf("DeleteRange: %v, want errSegReadOnly", err)
	}
	if err := ro.Set([]byte("k"), []byte("v")); !errors.Is(err, errSegReadOnly) {
		t.Fatalf("Set: %v, want errSegReadOnly", err)
	}
}
