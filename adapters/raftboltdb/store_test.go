package raftboltdb

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-metrics"
	pontoon "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/logstore/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newStore(t *testing.T) *BoltStore {
	t.Helper()
	s, err := NewBoltStore(filepath.Join(t.TempDir(), "raft.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The adapter's store passes Pontoon's StableStore conformance suite. (Its
// log methods are logstore.BoltStore's own, which runs the LogStore suite
// in its package; running it here again would cost 15 s under -race.)
func TestConformance(t *testing.T) {
	storetest.StableStore(t, func(t *testing.T) logstore.StableStore { return newStore(t) })
}

// The store has the interfaces a service's code asserts on raft-boltdb's.
func TestInterfaces(t *testing.T) {
	var s interface{} = newStore(t)
	if _, ok := s.(logstore.LogStore); !ok {
		t.Error("not a LogStore")
	}
	if _, ok := s.(logstore.StableStore); !ok {
		t.Error("not a StableStore")
	}
	if _, ok := s.(logstore.MonotonicLogStore); !ok {
		t.Error("not a MonotonicLogStore")
	}
}

// A missing key gives ErrKeyNotFound itself, as raft-boltdb's callers
// compare it with ==.
func TestErrKeyNotFound(t *testing.T) {
	s := newStore(t)
	if _, err := s.Get([]byte("nope")); err != ErrKeyNotFound || err.Error() != "not found" {
		t.Fatalf("Get missing: %v", err)
	}
	if _, err := s.GetUint64([]byte("nope")); err != ErrKeyNotFound {
		t.Fatalf("GetUint64 missing: %v", err)
	}
	if ErrKeyNotFound != pontoon.ErrKeyNotFound {
		t.Fatal("ErrKeyNotFound is not Pontoon's")
	}
}

// New passes NoSync and the path through, and a reopened store has the data.
func TestNewOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := New(Options{Path: path, NoSync: true, MsgpackUseNewTimeFormat: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs([]*pontoon.Log{storetest.MakeLog(1, 10), storetest.MakeLog(2, 10)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := mustOpen(t, path)
	if last, _ := s2.LastIndex(); last != 2 {
		t.Fatalf("LastIndex after reopen = %d, want 2", last)
	}
	if v, err := s2.GetUint64([]byte("CurrentTerm")); err != nil || v != 7 {
		t.Fatalf("CurrentTerm after reopen = %d, %v", v, err)
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("New with no path succeeded")
	}
}

func mustOpen(t *testing.T, path string) *BoltStore {
	t.Helper()
	s, err := NewBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// MigrateToV2 copies every log entry and key into a new file, and refuses an
// existing destination.
func TestMigrateToV2(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "v1.db")
	old, err := logstore.New(logstore.Options{Path: src, NoJournal: true})
	if err != nil {
		t.Fatal(err)
	}
	var logs []*pontoon.Log
	for i := uint64(5); i <= 40; i++ {
		logs = append(logs, storetest.MakeLog(i, int(i)))
	}
	if err := old.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := old.Set([]byte("LastVoteCand"), []byte("node-a")); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(dir, "v2.db")
	s, err := MigrateToV2(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if first != 5 || last != 40 {
		t.Fatalf("migrated range [%d, %d], want [5, 40]", first, last)
	}
	for _, want := range logs {
		var got pontoon.Log
		if err := s.GetLog(want.Index, &got); err != nil {
			t.Fatal(err)
		}
		storetest.RequireLogEqual(t, want, &got)
	}
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-a" {
		t.Fatalf("LastVoteCand = %q, %v", v, err)
	}

	if _, err := MigrateToV2(src, dst); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("migrating onto an existing file: %v", err)
	}
	if _, err := MigrateToV2(filepath.Join(dir, "missing.db"), filepath.Join(dir, "other.db")); err == nil {
		t.Fatal("migrating a missing source succeeded")
	}
}

// RunMetrics emits raft-boltdb's gauge names until its context ends.
func TestRunMetrics(t *testing.T) {
	sink := metrics.NewInmemSink(time.Hour, time.Hour)
	cfg := metrics.DefaultConfig("svc")
	cfg.EnableHostname = false
	cfg.EnableRuntimeMetrics = false
	if _, err := metrics.NewGlobal(cfg, sink); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cfg := metrics.DefaultConfig("")
		cfg.EnableRuntimeMetrics = false
		metrics.NewGlobal(cfg, &metrics.BlackholeSink{})
	})

	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.RunMetrics(ctx, time.Millisecond)
		close(done)
	}()
	want := []string{"svc.raft.boltdb.numFreePages", "svc.raft.boltdb.openReadTxn", "svc.raft.boltdb.txstats.pageCount"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		found := map[string]bool{}
		for _, iv := range sink.Data() {
			iv.RLock()
			for name := range iv.Gauges {
				found[name] = true
			}
			iv.RUnlock()
		}
		var missing []string
		for _, name := range want {
			if !found[name] {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gauges not emitted: %s", missing)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
}
