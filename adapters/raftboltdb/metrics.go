package raftboltdb

import (
	"context"
	"time"

	"github.com/hashicorp/go-metrics"
	"go.etcd.io/bbolt"
)

// defaultMetricsInterval is RunMetrics' interval when it is given 0.
const defaultMetricsInterval = 5 * time.Second

// RunMetrics emits bbolt's statistics under raft-boltdb's metric names
// (raft.boltdb.numFreePages, raft.boltdb.txstats.pageCount, ...) every
// interval (5s if 0) until ctx ends. Run it on its own goroutine.
func (b *BoltStore) RunMetrics(ctx context.Context, interval time.Duration) {
	if interval == 0 {
		interval = defaultMetricsInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	prev := b.emitMetrics(nil)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			prev = b.emitMetrics(prev)
		}
	}
}

// emitMetrics sends the current statistics: gauges as they are, counters
// and samples as the change since prev (everything when prev is nil). It
// returns the current statistics.
func (b *BoltStore) emitMetrics(prev *bbolt.Stats) *bbolt.Stats {
	now := b.Stats()
	delta := now
	if prev != nil {
		delta = now.Sub(prev)
	}
	key := func(name ...string) []string { return append([]string{"raft", "boltdb"}, name...) }
	ms := func(d time.Duration) float32 { return float32(d.Nanoseconds()) / 1e6 }

	metrics.SetGauge(key("numFreePages"), float32(now.FreePageN))
	metrics.SetGauge(key("numPendingPages"), float32(now.PendingPageN))
	metrics.SetGauge(key("freePageBytes"), float32(now.FreeAlloc))
	metrics.SetGauge(key("freelistBytes"), float32(now.FreelistInuse))
	metrics.IncrCounter(key("totalReadTxn"), float32(delta.TxN))
	metrics.SetGauge(key("openReadTxn"), float32(now.OpenTxN))

	metrics.SetGauge(key("txstats", "pageCount"), float32(now.TxStats.GetPageCount()))
	metrics.SetGauge(key("txstats", "pageAlloc"), float32(now.TxStats.GetPageAlloc()))
	metrics.IncrCounter(key("txstats", "cursorCount"), float32(delta.TxStats.GetCursorCount()))
	metrics.IncrCounter(key("txstats", "nodeCount"), float32(delta.TxStats.GetNodeCount()))
	metrics.IncrCounter(key("txstats", "nodeDeref"), float32(delta.TxStats.GetNodeDeref()))
	metrics.IncrCounter(key("txstats", "rebalance"), float32(delta.TxStats.GetRebalance()))
	metrics.AddSample(key("txstats", "rebalanceTime"), ms(delta.TxStats.GetRebalanceTime()))
	metrics.IncrCounter(key("txstats", "split"), float32(delta.TxStats.GetSplit()))
	metrics.IncrCounter(key("txstats", "spill"), float32(delta.TxStats.GetSpill()))
	metrics.AddSample(key("txstats", "spillTime"), ms(delta.TxStats.GetSpillTime()))
	metrics.IncrCounter(key("txstats", "write"), float32(delta.TxStats.GetWrite()))
	metrics.AddSample(key("txstats", "writeTime"), ms(delta.TxStats.GetWriteTime()))
	return &now
}
