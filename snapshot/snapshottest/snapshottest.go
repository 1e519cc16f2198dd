// Package snapshottest is the conformance suite for snapshot.SnapshotStore
// implementations. Every store Pontoon ships runs it:
//
//	snapshottest.SnapshotStore(t, func(t *testing.T) snapshot.SnapshotStore { ... }, snapshottest.Options{Retain: 2})
//
// It checks that a snapshot becomes visible only when its sink closes, that
// cancelled snapshots vanish, that List is newest first and bounded, that
// meta and data survive exactly, and that sinks and readers behave after
// Close and under concurrent use (run it with -race).
package snapshottest

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"sync"
	"testing"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/snapshot"
)

// Options describes the store under test.
type Options struct {
	// Retain is the most snapshots List may return (1 for a store that
	// keeps only the latest).
	Retain int
}

// TestConfiguration is the configuration the suite stores.
var testConfiguration = raft.Configuration{Servers: []raft.Server{
	{Suffrage: raft.Voter, ID: "n1", Address: "127.0.0.1:7001"},
	{Suffrage: raft.Nonvoter, ID: "n2", Address: "127.0.0.1:7002"},
	{Suffrage: raft.Voter, ID: "n3", Address: "127.0.0.1:7003"},
}}

// SnapshotStore runs the suite. newStore returns a new, empty store for
// each subtest.
func SnapshotStore(t *testing.T, newStore func(t *testing.T) snapshot.SnapshotStore, opts Options) {
	if opts.Retain < 1 {
		t.Fatal("snapshottest: Options.Retain must be at least 1")
	}
	t.Run("Empty", func(t *testing.T) {
		s := newStore(t)
		l, err := s.List()
		if err != nil || len(l) != 0 {
			t.Fatalf("List = %v, %v; want empty", l, err)
		}
		if _, _, err := s.Open("1-1-1"); err == nil {
			t.Fatal("Open of a missing snapshot succeeded")
		}
	})
	t.Run("Versions", func(t *testing.T) {
		s := newStore(t)
		for _, v := range []raft.SnapshotVersion{0, 2, -1} {
			if sink, err := s.Create(v, 10, 3, testConfiguration, 2, nil); err == nil {
				_ = sink.Cancel()
				t.Fatalf("Create(version %d) succeeded", v)
			}
		}
	})
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore(t), 1000) })
	t.Run("RoundTripEmpty", func(t *testing.T) { testRoundTrip(t, newStore(t), 0) })
	t.Run("RoundTripLarge", func(t *testing.T) { testRoundTrip(t, newStore(t), 3<<20+17) })
	t.Run("InvisibleUntilClose", func(t *testing.T) { testInvisibleUntilClose(t, newStore(t)) })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, newStore(t)) })
	t.Run("AfterClose", func(t *testing.T) { testAfterClose(t, newStore(t)) })
	t.Run("NewestFirst", func(t *testing.T) { testNewestFirst(t, newStore(t), opts.Retain) })
	t.Run("UniqueIDs", func(t *testing.T) { testUniqueIDs(t, newStore(t)) })
	t.Run("ConcurrentReaders", func(t *testing.T) { testConcurrentReaders(t, newStore(t)) })
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// write creates a snapshot holding data, written in uneven chunks.
func write(t testing.TB, s snapshot.SnapshotStore, index, term uint64, data []byte) string {
	t.Helper()
	sink, err := s.Create(1, index, term, testConfiguration, index/2+1, nil)
	must(t, err)
	for rest, n := data, 1; len(rest) > 0; n = n*3 + 1 {
		if n > len(rest) {
			n = len(rest)
		}
		w, err := sink.Write(rest[:n])
		must(t, err)
		if w != n {
			t.Fatalf("Write wrote %d of %d", w, n)
		}
		rest = rest[n:]
	}
	must(t, sink.Close())
	return sink.ID()
}

func payload(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func readAll(t testing.TB, s snapshot.SnapshotStore, id string) (*raft.SnapshotMeta, []byte) {
	t.Helper()
	meta, rc, err := s.Open(id)
	must(t, err)
	defer func() { must(t, rc.Close()) }()
	b, err := io.ReadAll(rc)
	must(t, err)
	return meta, b
}

func requireMeta(t testing.TB, m *raft.SnapshotMeta, id string, index, term uint64, size int) {
	t.Helper()
	switch {
	case m.ID != id:
		t.Fatalf("meta ID %q, want %q", m.ID, id)
	case m.Version != 1:
		t.Fatalf("meta version %d", m.Version)
	case m.Index != index || m.Term != term:
		t.Fatalf("meta index/term %d/%d, want %d/%d", m.Index, m.Term, index, term)
	case m.ConfigurationIndex != index/2+1:
		t.Fatalf("meta configuration index %d, want %d", m.ConfigurationIndex, index/2+1)
	case m.Size != int64(size):
		t.Fatalf("meta size %d, want %d", m.Size, size)
	case len(m.Configuration.Servers) != len(testConfiguration.Servers):
		t.Fatalf("meta configuration %+v", m.Configuration)
	}
	for i, s := range m.Configuration.Servers {
		if s != testConfiguration.Servers[i] {
			t.Fatalf("meta configuration %+v, want %+v", m.Configuration, testConfiguration)
		}
	}
}

func testRoundTrip(t *testing.T, s snapshot.SnapshotStore, size int) {
	data := payload(int64(size), size)
	id := write(t, s, 100, 7, data)
	if id == "" {
		t.Fatal("empty sink ID")
	}
	list, err := s.List()
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("List has %d snapshots, want 1", len(list))
	}
	requireMeta(t, list[0], id, 100, 7, size)
	meta, got := readAll(t, s, id)
	requireMeta(t, meta, id, 100, 7, size)
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes that differ from the %d written", len(got), len(data))
	}
	// Changing what List returned does not change the store.
	list[0].Configuration.Servers[0].ID = "changed"
	again, err := s.List()
	must(t, err)
	requireMeta(t, again[0], id, 100, 7, size)
}

func testInvisibleUntilClose(t *testing.T, s snapshot.SnapshotStore) {
	sink, err := s.Create(1, 10, 2, testConfiguration, 1, nil)
	must(t, err)
	_, err = sink.Write([]byte("partial"))
	must(t, err)
	list, err := s.List()
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("List shows %d snapshots before Close", len(list))
	}
	if _, _, err := s.Open(sink.ID()); err == nil {
		t.Fatal("Open before Close succeeded")
	}
	must(t, sink.Close())
	_, got := readAll(t, s, sink.ID())
	if string(got) != "partial" {
		t.Fatalf("read %q", got)
	}
}

func testCancel(t *testing.T, s snapshot.SnapshotStore) {
	kept := write(t, s, 5, 1, []byte("kept"))
	sink, err := s.Create(1, 10, 2, testConfiguration, 1, nil)
	must(t, err)
	_, err = sink.Write([]byte("dropped"))
	must(t, err)
	must(t, sink.Cancel())
	must(t, sink.Cancel())
	if _, err := sink.Write([]byte("more")); err == nil {
		t.Fatal("Write after Cancel succeeded")
	}
	list, err := s.List()
	must(t, err)
	if len(list) != 1 || list[0].ID != kept {
		t.Fatalf("List after Cancel = %d snapshots, want only %s", len(list), kept)
	}
	if _, _, err := s.Open(sink.ID()); err == nil {
		t.Fatal("Open of a cancelled snapshot succeeded")
	}
}

func testAfterClose(t *testing.T, s snapshot.SnapshotStore) {
	sink, err := s.Create(1, 10, 2, testConfiguration, 1, nil)
	must(t, err)
	_, err = sink.Write([]byte("data"))
	must(t, err)
	must(t, sink.Close())
	must(t, sink.Close())
	if _, err := sink.Write([]byte("more")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	must(t, sink.Cancel()) // a no-op once closed
	_, got := readAll(t, s, sink.ID())
	if string(got) != "data" {
		t.Fatalf("read %q after Cancel of a closed sink", got)
	}
}

func testNewestFirst(t *testing.T, s snapshot.SnapshotStore, retain int) {
	// Written out of order; newest is (term 3, index 30).
	order := []struct{ index, term uint64 }{{20, 2}, {30, 3}, {10, 1}, {25, 3}, {40, 2}}
	ids := map[[2]uint64]string{}
	for _, o := range order {
		ids[[2]uint64{o.term, o.index}] = write(t, s, o.index, o.term, []byte{byte(o.index)})
	}
	list, err := s.List()
	must(t, err)
	if len(list) == 0 || len(list) > retain {
		t.Fatalf("List has %d snapshots, retain %d", len(list), retain)
	}
	want := [][2]uint64{{3, 30}, {3, 25}, {2, 40}, {2, 20}, {1, 10}}
	for i, m := range list {
		if m.Term != want[i][0] || m.Index != want[i][1] || m.ID != ids[want[i]] {
			t.Fatalf("List[%d] = term %d index %d, want %v", i, m.Term, m.Index, want[i])
		}
		_, got := readAll(t, s, m.ID)
		if !bytes.Equal(got, []byte{byte(m.Index)}) {
			t.Fatalf("snapshot %s holds %v", m.ID, got)
		}
	}
}

func testUniqueIDs(t *testing.T, s snapshot.SnapshotStore) {
	a, err := s.Create(1, 10, 2, testConfiguration, 1, nil)
	must(t, err)
	b, err := s.Create(1, 10, 2, testConfiguration, 1, nil)
	must(t, err)
	if a.ID() == b.ID() {
		t.Fatalf("two sinks share ID %s", a.ID())
	}
	_, _ = a.Write([]byte("a"))
	_, _ = b.Write([]byte("b"))
	must(t, a.Close())
	must(t, b.Close())
	list, err := s.List()
	must(t, err)
	_, got := readAll(t, s, list[0].ID)
	if want := map[string]string{a.ID(): "a", b.ID(): "b"}[list[0].ID]; string(got) != want {
		t.Fatalf("snapshot %s holds %q, want %q", list[0].ID, got, want)
	}
}

func testConcurrentReaders(t *testing.T, s snapshot.SnapshotStore) {
	data := payload(9, 1<<20)
	id := write(t, s, 50, 4, data)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, rc, err := s.Open(id)
			if err != nil {
				errs <- err
				return
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, data) {
				errs <- errors.New("concurrent reader saw different data")
			}
		}()
	}
	// A new snapshot being written meanwhile does not disturb the readers.
	sink, err := s.Create(1, 60, 4, testConfiguration, 1, nil)
	must(t, err)
	_, err = sink.Write([]byte("next"))
	must(t, err)
	wg.Wait()
	must(t, sink.Cancel())
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
