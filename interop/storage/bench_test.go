package storage

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
)

// Side-by-side benchmarks of Pontoon's BoltStore and raft-boltdb/v2, both
// with their default options (fsync on every commit). Every benchmark has
// the implementation as its last name element, so the two run back to back
// and benchratio.awk can pair them.
//
// go test's -count repeats each leaf benchmark in a row, which on a shared
// machine lets a change in load favour one side. Run whole rounds instead,
// alternating which side goes first (PONTOON_BENCH_REVERSE=1 runs
// raft-boltdb first):
//
//	go test -c -o storage.test ./storage/
//	for i in 1 2 3 4 5 6 7 8; do
//		PONTOON_BENCH_REVERSE=$((i % 2)) ./storage.test -test.run '^$' -test.bench . -test.benchtime 300ms
//	done | tee bench.txt
//	awk -f storage/benchratio.awk bench.txt

// benchImpl is one implementation under test, behind closures so the
// timed loops hold no conversion.
type benchImpl struct {
	name string
	open func(b *testing.B) benchStore
}

type benchStore struct {
	// appendN stores n entries of size bytes after the last index.
	appendN func(n, size int) error
	// storeBatch returns a function storing one batch of n entries of
	// size bytes after the last index, reusing the entries between calls.
	storeBatch func(n, size int) func() error
	get        func(index uint64) error
	deleteTo   func(min, max uint64) error
}

var impls = func() []benchImpl {
	i := []benchImpl{{"impl=pontoon", openPontoon}, {"impl=raftboltdb", openRaftBoltDB}}
	if os.Getenv("PONTOON_BENCH_REVERSE") == "1" {
		i[0], i[1] = i[1], i[0]
	}
	return i
}()

func payload(size int) []byte {
	b := make([]byte, size)
	rand.New(rand.NewSource(int64(size))).Read(b)
	return b
}

func openPontoon(b *testing.B) benchStore {
	s, err := logstore.NewBoltStore(filepath.Join(b.TempDir(), "raft.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	var next uint64 = 1
	batchOf := func(n, size int) []*raft.Log {
		data := payload(size)
		logs := make([]*raft.Log, n)
		for i := range logs {
			logs[i] = &raft.Log{Term: 1, Type: raft.LogCommand, Data: data, AppendedAt: time.Now()}
		}
		return logs
	}
	storeBatch := func(n, size int) func() error {
		logs := batchOf(n, size)
		return func() error {
			for _, l := range logs {
				l.Index = next
				next++
			}
			return s.StoreLogs(logs)
		}
	}
	var l raft.Log
	return benchStore{
		appendN:    func(n, size int) error { return storeBatch(n, size)() },
		storeBatch: storeBatch,
		get:        func(index uint64) error { return s.GetLog(index, &l) },
		deleteTo:   s.DeleteRange,
	}
}

func openRaftBoltDB(b *testing.B) benchStore {
	s, err := raftboltdb.NewBoltStore(filepath.Join(b.TempDir(), "raft.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	var next uint64 = 1
	batchOf := func(n, size int) []*hraft.Log {
		data := payload(size)
		logs := make([]*hraft.Log, n)
		for i := range logs {
			logs[i] = &hraft.Log{Term: 1, Type: hraft.LogCommand, Data: data, AppendedAt: time.Now()}
		}
		return logs
	}
	storeBatch := func(n, size int) func() error {
		logs := batchOf(n, size)
		return func() error {
			for _, l := range logs {
				l.Index = next
				next++
			}
			return s.StoreLogs(logs)
		}
	}
	var l hraft.Log
	return benchStore{
		appendN:    func(n, size int) error { return storeBatch(n, size)() },
		storeBatch: storeBatch,
		get:        func(index uint64) error { return s.GetLog(index, &l) },
		deleteTo:   s.DeleteRange,
	}
}

func BenchmarkStoreLogs(b *testing.B) {
	for _, batch := range []int{1, 64, 512} {
		for _, size := range []int{16, 1024} {
			for _, impl := range impls {
				b.Run(fmt.Sprintf("batch=%d/size=%d/%s", batch, size, impl.name), func(b *testing.B) {
					s := impl.open(b)
					store := s.storeBatch(batch, size)
					b.SetBytes(int64(batch * size))
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if err := store(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
				})
			}
		}
	}
}

func BenchmarkGetLog(b *testing.B) {
	const n = 10_000
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			s := impl.open(b)
			for i := 0; i < n; i += 1000 {
				if err := s.appendN(1000, 128); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.get(uint64(i%n) + 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDeleteRange deletes the oldest 10,000 of 20,000 entries of
// 128 bytes, as log compaction after a snapshot does.
func BenchmarkDeleteRange(b *testing.B) {
	const n = 10_000
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			s := impl.open(b)
			fill := func() {
				for i := 0; i < n; i += 1000 {
					if err := s.appendN(1000, 128); err != nil {
						b.Fatal(err)
					}
				}
			}
			fill()
			oldest := uint64(1)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				fill()
				b.StartTimer()
				if err := s.deleteTo(oldest, oldest+n-1); err != nil {
					b.Fatal(err)
				}
				oldest += n
			}
		})
	}
}
