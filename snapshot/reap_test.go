package snapshot_test

import (
	"io"
	"os"
	"testing"

	"github.com/pontoon-raft/raft/snapshot"
)

// ReapSnapshots removes what lies beyond retain, as hashicorp/raft's: here
// a store reopened with a smaller retain over a directory of three.
func TestFileReapSnapshots(t *testing.T) {
	base := t.TempDir()
	s, err := snapshot.NewFileSnapshotStore(base, 3, io.Discard)
	must(t, err)
	var ids []string
	for i := uint64(1); i <= 3; i++ {
		ids = append(ids, writeSnap(t, s, i*10, 1, "x"))
	}
	s1, err := snapshot.NewFileSnapshotStore(base, 1, io.Discard)
	must(t, err)
	entries, err := os.ReadDir(s1.Path())
	must(t, err)
	if len(entries) != 3 {
		t.Fatalf("%d directories before reaping, want 3", len(entries))
	}
	must(t, s1.ReapSnapshots())
	entries, err = os.ReadDir(s1.Path())
	must(t, err)
	if len(entries) != 1 || entries[0].Name() != ids[2] {
		t.Fatalf("after ReapSnapshots: %v, want only %s", entries, ids[2])
	}
	must(t, s1.ReapSnapshots()) // nothing left to reap
}

// The sinks Create returns have hashicorp/raft's exported type names.
func TestExportedSinkTypes(t *testing.T) {
	fs, err := snapshot.NewFileSnapshotStore(t.TempDir(), 1, io.Discard)
	must(t, err)
	sink, err := fs.Create(1, 1, 1, cfg, 1, nil)
	must(t, err)
	if _, ok := sink.(*snapshot.FileSnapshotSink); !ok {
		t.Fatalf("FileSnapshotStore.Create returned %T", sink)
	}
	must(t, sink.Cancel())
	sink, err = snapshot.NewInmemSnapshotStore().Create(1, 1, 1, cfg, 1, nil)
	must(t, err)
	if _, ok := sink.(*snapshot.InmemSnapshotSink); !ok {
		t.Fatalf("InmemSnapshotStore.Create returned %T", sink)
	}
	sink, err = snapshot.NewDiscardSnapshotStore().Create(1, 1, 1, cfg, 1, nil)
	must(t, err)
	if _, ok := sink.(snapshot.DiscardSnapshotSink); !ok {
		t.Fatalf("DiscardSnapshotStore.Create returned %T", sink)
	}
}
