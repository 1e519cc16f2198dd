package raft

import (
	"os"
	"testing"
)

// FileSnapTest returns a FileSnapshotStore in a new temporary directory,
// and the directory; the caller removes it.
func FileSnapTest(t *testing.T) (string, *FileSnapshotStore) {
	dir, err := os.MkdirTemp("", "snapshot")
	if err != nil {
		t.Fatalf("temporary directory: %v", err)
	}
	snaps, err := NewFileSnapshotStoreWithLogger(dir, 3, testLogger(t))
	if err != nil {
		t.Fatalf("file snapshot store: %v", err)
	}
	return dir, snaps
}
