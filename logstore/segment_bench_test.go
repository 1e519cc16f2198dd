package logstore

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
)

// BenchmarkStoreLogsBackends measures one StoreLogs of a batch (write and
// fdatasync) on BoltStore (journal and checkpoints) and on SegmentStore
// (16 MiB segments, fallocated), and reports the process's CPU time per
// batch (getrusage: the checkpoints' goroutine included).
func BenchmarkStoreLogsBackends(b *testing.B) {
	for _, batch := range []int{1, 32} {
		for _, kind := range []string{"bolt", "segment"} {
			b.Run(fmt.Sprintf("%s/batch=%d", kind, batch), func(b *testing.B) {
				var s interface {
					StoreLogs([]*raft.Log) error
					Close() error
				}
				var err error
				dir := b.TempDir()
				if kind == "bolt" {
					s, err = New(Options{Path: filepath.Join(dir, "raft.db"), Logger: hclog.NewNullLogger()})
				} else {
					s, err = NewSegmentStore(SegmentOptions{Dir: dir, SegmentSize: 16 << 20})
				}
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				data := make([]byte, 1024)
				logs := make([]*raft.Log, batch)
				next := uint64(1)
				cpu0 := cpuTime()
				b.SetBytes(int64(batch * len(data)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					for j := range logs {
						logs[j] = &raft.Log{Index: next, Term: 1, Type: raft.LogCommand, Data: data}
						next++
					}
					if err := s.StoreLogs(logs); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
