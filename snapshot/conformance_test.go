package snapshot_test

import (
	"io"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/snapshot/snapshottest"
)

// newFileStore returns a FileSnapshotStore in a fresh directory.
func newFileStore(t testing.TB, retain int) *snapshot.FileSnapshotStore {
	t.Helper()
	s, err := snapshot.NewFileSnapshotStoreWithOptions(snapshot.FileOptions{
		Base:   t.TempDir(),
		Retain: retain,
		Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformanceInmem(t *testing.T) {
	snapshottest.SnapshotStore(t, func(t *testing.T) snapshot.SnapshotStore {
		return snapshot.NewInmemSnapshotStore()
	}, snapshottest.Options{Retain: 1})
}

func TestConformanceFile(t *testing.T) {
	for _, retain := range []int{1, 2, 10} {
		snapshottest.SnapshotStore(t, func(t *testing.T) snapshot.SnapshotStore {
			return newFileStore(t, retain)
		}, snapshottest.Options{Retain: retain})
	}
}
