package logstore_test

import (
	"path/filepath"
	"testing"

	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/logstore/storetest"
)

// openBolt opens a BoltStore with default options in a fresh directory,
// closed at cleanup.
func openBolt(t testing.TB) *logstore.BoltStore {
	t.Helper()
	return openBoltWith(t, logstore.Options{})
}

// openBoltWith opens a BoltStore with opts (Path set here) in a fresh
// directory, closed at cleanup.
func openBoltWith(t testing.TB, opts logstore.Options) *logstore.BoltStore {
	t.Helper()
	opts.Path = filepath.Join(t.TempDir(), "raft.db")
	s, err := logstore.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func newCache(t testing.TB, capacity int, store logstore.LogStore) *logstore.LogCache {
	t.Helper()
	c, err := logstore.NewLogCache(capacity, store)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConformanceInmem(t *testing.T) {
	storetest.LogStore(t, func(t *testing.T) logstore.LogStore { return logstore.NewInmemStore() })
	storetest.StableStore(t, func(t *testing.T) logstore.StableStore { return logstore.NewInmemStore() })
}

func TestConformanceBolt(t *testing.T) {
	storetest.LogStore(t, func(t *testing.T) logstore.LogStore { return openBolt(t) })
	storetest.StableStore(t, func(t *testing.T) logstore.StableStore { return openBolt(t) })
}

// TestConformanceBoltTinyJournal: 4 KiB journal files, so nearly every
// batch rotates the journal and starts a checkpoint, and large entries
// take the path straight to bbolt.
func TestConformanceBoltTinyJournal(t *testing.T) {
	open := func(t *testing.T) *logstore.BoltStore {
		return openBoltWith(t, logstore.Options{JournalSize: logstore.MinJournalSize})
	}
	storetest.LogStore(t, func(t *testing.T) logstore.LogStore { return open(t) })
	storetest.StableStore(t, func(t *testing.T) logstore.StableStore { return open(t) })
}

func TestConformanceBoltNoJournal(t *testing.T) {
	open := func(t *testing.T) *logstore.BoltStore { return openBoltWith(t, logstore.Options{NoJournal: true}) }
	storetest.LogStore(t, func(t *testing.T) logstore.LogStore { return open(t) })
	storetest.StableStore(t, func(t *testing.T) logstore.StableStore { return open(t) })
}

func TestConformanceLogCacheBolt(t *testing.T) {
	// A small capacity exercises eviction and wrap-around.
	storetest.LogStore(t, func(t *testing.T) logstore.LogStore { return newCache(t, 16, openBolt(t)) })
}

func TestConformanceLogCacheInmem(t *testing.T) {
	storetest.LogStore(t, func(t *testing.T) logstore.LogStore { return newCache(t, 1, logstore.NewInmemStore()) })
	storetest.LogStore(t, func(t *testing.T) logstore.LogStore { return newCache(t, 1000, logstore.NewInmemStore()) })
}

// openSegment opens a SegmentStore with opts (Dir set here) in a fresh
// directory, closed at cleanup.
func openSegment(t testing.TB, opts logstore.SegmentOptions) *logstore.SegmentStore {
	t.Helper()
	opts.Dir = filepath.Join(t.TempDir(), "seg")
	s, err := logstore.NewSegmentStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestConformanceSegment(t *testing.T) {
	open := func(t *testing.T) *logstore.SegmentStore { return openSegment(t, logstore.SegmentOptions{}) }
	storetest.LogStore(t, func(t *testing.T) logstore.LogStore { return open(t) })
	storetest.StableStore(t, func(t *testing.T) logstore.StableStore { return open(t) })
}

// TestConformanceSegmentTiny: 4 KiB segments, so batches rotate often,
// compaction removes and reuses files, and large entries get segments of
// their own size.
func TestConformanceSegmentTiny(t *testing.T) {
	open := func(t *testing.T) *logstore.SegmentStore {
		return openSegment(t, logstore.SegmentOptions{SegmentSize: logstore.MinJournalSize})
	}
	storetest.LogStore(t, func(t *testing.T) logstore.LogStore { return open(t) })
}

func TestConformanceLogCacheSegment(t *testing.T) {
	storetest.LogStore(t, func(t *testing.T) logstore.LogStore {
		return newCache(t, 16, openSegment(t, logstore.SegmentOptions{SegmentSize: logstore.MinJournalSize}))
	})
}
