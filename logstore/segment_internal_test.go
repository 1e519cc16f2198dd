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
