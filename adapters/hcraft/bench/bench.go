// Package raftbench is hashicorp/raft/bench's API: benchmarks that any
// LogStore or StableStore can run from its own tests, e.g.
//
//	func BenchmarkStoreLogs(b *testing.B) { raftbench.StoreLogs(b, newStore(b)) }
//
// Each function times b.N operations of one kind on store.
package raftbench

import (
	"fmt"
	"testing"

	// Pontoon's packages, not the facade's path: under the replace this
	// package is github.com/hashicorp/raft/bench, and the facade's types
	// are these (aliases).
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
)

// entry returns the log entry the benchmarks store at index.
func entry(index uint64) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: []byte("data")}
}

// fill stores entries 1..n in batches.
func fill(b *testing.B, store logstore.LogStore, n uint64) {
	b.Helper()
	const batch = 256
	for start := uint64(1); start <= n; start += batch {
		var logs []*raft.Log
		for i := start; i < start+batch && i <= n; i++ {
			logs = append(logs, entry(i))
		}
		if err := store.StoreLogs(logs); err != nil {
			b.Fatalf("storing entries: %v", err)
		}
	}
}

// FirstIndex times FirstIndex on a store holding a few entries.
func FirstIndex(b *testing.B, store logstore.LogStore) {
	fill(b, store, 10)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := store.FirstIndex(); err != nil {
			b.Fatal(err)
		}
	}
}

// LastIndex times LastIndex on a store holding a few entries.
func LastIndex(b *testing.B, store logstore.LogStore) {
	fill(b, store, 10)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := store.LastIndex(); err != nil {
			b.Fatal(err)
		}
	}
}

// GetLog times reading entries of a store holding b.N entries.
func GetLog(b *testing.B, store logstore.LogStore) {
	n := uint64(b.N)
	fill(b, store, n)
	b.ResetTimer()
	var l raft.Log
	for i := uint64(1); i <= n; i++ {
		if err := store.GetLog(i, &l); err != nil {
			b.Fatal(err)
		}
	}
}

// StoreLog times storing one entry at a time.
func StoreLog(b *testing.B, store logstore.LogStore) {
	for i := uint64(1); i <= uint64(b.N); i++ {
		if err := store.StoreLog(entry(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// StoreLogs times storing entries ten at a time.
func StoreLogs(b *testing.B, store logstore.LogStore) {
	next := uint64(1)
	for i := 0; i < b.N; i++ {
		logs := make([]*raft.Log, 10)
		for j := range logs {
			logs[j] = entry(next)
			next++
		}
		if err := store.StoreLogs(logs); err != nil {
			b.Fatal(err)
		}
	}
}

// DeleteRange times deleting entries ten at a time from the front.
func DeleteRange(b *testing.B, store logstore.LogStore) {
	n := uint64(b.N) * 10
	fill(b, store, n)
	b.ResetTimer()
	for i := uint64(1); i <= n; i += 10 {
		if err := store.DeleteRange(i, i+9); err != nil {
			b.Fatal(err)
		}
	}
}

// Set times Set of distinct keys.
func Set(b *testing.B, store logstore.StableStore) {
	for i := 0; i < b.N; i++ {
		if err := store.Set([]byte(fmt.Sprintf("key%d", i)), []byte("value")); err != nil {
			b.Fatal(err)
		}
	}
}

// Get times Get of keys that exist.
func Get(b *testing.B, store logstore.StableStore) {
	for i := 0; i < 100; i++ {
		if err := store.Set([]byte(fmt.Sprintf("key%d", i)), []byte("value")); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := store.Get([]byte(fmt.Sprintf("key%d", i%100))); err != nil {
			b.Fatal(err)
		}
	}
}

// SetUint64 times SetUint64 of distinct keys.
func SetUint64(b *testing.B, store logstore.StableStore) {
	for i := 0; i < b.N; i++ {
		if err := store.SetUint64([]byte(fmt.Sprintf("key%d", i)), uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// GetUint64 times GetUint64 of keys that exist.
func GetUint64(b *testing.B, store logstore.StableStore) {
	for i := 0; i < 100; i++ {
		if err := store.SetUint64([]byte(fmt.Sprintf("key%d", i)), uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := store.GetUint64([]byte(fmt.Sprintf("key%d", i%100))); err != nil {
			b.Fatal(err)
		}
	}
}
