package raftimpl

import (
	"testing"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// BenchmarkApplyMetrics measures Apply on a single in-memory node (where the
// engine's own costs, metrics included, weigh most) with Config.Metrics nil
// and go-metrics' global left alone ("off"), and with an in-memory sink.
func BenchmarkApplyMetrics(b *testing.B) {
	for _, mode := range []string{"off", "inmem"} {
		b.Run(mode, func(b *testing.B) {
			conf := DefaultConfig()
			conf.LocalID = "s"
			conf.LogLevel = "ERROR"
			if mode == "inmem" {
				mc := metrics.DefaultConfig("")
				mc.EnableHostname, mc.EnableRuntimeMetrics = false, false
				conf.Metrics, _ = metrics.New(mc, metrics.NewInmemSink(10*time.Second, time.Minute))
			}
			store := logstore.NewInmemStore()
			snaps := snapshot.NewInmemSnapshotStore()
			addr, trans := transport.NewInmemTransport("s")
			if err := BootstrapCluster(conf, store, store, snaps, trans,
				raft.Configuration{Servers: []raft.Server{{ID: "s", Address: addr}}}); err != nil {
				b.Fatal(err)
			}
			r, err := NewRaft(conf, &testFSM{}, store, store, snaps, trans)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { r.Shutdown().Error() }()
			for r.State() != raft.Leader {
				time.Sleep(time.Millisecond) // polling for the election, before the timer starts
			}
			data := []byte("0123456789abcdef")
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := r.Apply(data, 10*time.Second).Error(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
