package logstore

import (
	"context"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	raft "github.com/pontoon-raft/raft"
	"go.etcd.io/bbolt"
)

// This file holds BoltStore's metrics: raft-boltdb/v2's raft.boltdb.* keys
// (same names, kinds and meanings, so its dashboards keep working) and the
// journal's raft.pontoon.journal.* timings. docs/metrics.md lists them.

// Metric keys, shared by every call (go-metrics copies a key before
// changing it).
var (
	keyGetLog        = []string{"raft", "boltdb", "getLog"}
	keyStoreLogs     = []string{"raft", "boltdb", "storeLogs"}
	keyLogSize       = []string{"raft", "boltdb", "logSize"}
	keyLogsPerBatch  = []string{"raft", "boltdb", "logsPerBatch"}
	keyLogBatchSize  = []string{"raft", "boltdb", "logBatchSize"}
	keyWriteCapacity = []string{"raft", "boltdb", "writeCapacity"}

	keyJournalWrite      = []string{"raft", "pontoon", "journal", "write"}
	keyJournalCheckpoint = []string{"raft", "pontoon", "journal", "checkpoint"}
	keyJournalCkptLogs   = []string{"raft", "pontoon", "journal", "checkpointLogs"}

	keyNumFreePages    = []string{"raft", "boltdb", "numFreePages"}
	keyNumPendingPages = []string{"raft", "boltdb", "numPendingPages"}
	keyFreePageBytes   = []string{"raft", "boltdb", "freePageBytes"}
	keyFreelistBytes   = []string{"raft", "boltdb", "freelistBytes"}
	keyTotalReadTxn    = []string{"raft", "boltdb", "totalReadTxn"}
	keyOpenReadTxn     = []string{"raft", "boltdb", "openReadTxn"}
	keyTxPageCount     = []string{"raft", "boltdb", "txstats", "pageCount"}
	keyTxPageAlloc     = []string{"raft", "boltdb", "txstats", "pageAlloc"}
	keyTxCursorCount   = []string{"raft", "boltdb", "txstats", "cursorCount"}
	keyTxNodeCount     = []string{"raft", "boltdb", "txstats", "nodeCount"}
	keyTxNodeDeref     = []string{"raft", "boltdb", "txstats", "nodeDeref"}
	keyTxRebalance     = []string{"raft", "boltdb", "txstats", "rebalance"}
	keyTxRebalanceTime = []string{"raft", "boltdb", "txstats", "rebalanceTime"}
	keyTxSplit         = []string{"raft", "boltdb", "txstats", "split"}
	keyTxSpill         = []string{"raft", "boltdb", "txstats", "spill"}
	keyTxSpillTime     = []string{"raft", "boltdb", "txstats", "spillTime"}
	keyTxWrite         = []string{"raft", "boltdb", "txstats", "write"}
	keyTxWriteTime     = []string{"raft", "boltdb", "txstats", "writeTime"}
)

// metricSink is where a store's metrics go: Options.Metrics, or when that is
// nil go-metrics' global instance, looked up at every call as raft-boltdb
// does. While the global instance is go-metrics' initial black hole,
// nothing is emitted (see raftimpl's metricSink).
type metricSink struct{ m *metrics.Metrics }

// initialGlobal is go-metrics' global instance before any NewGlobal.
var initialGlobal = metrics.Default()

// get returns the instance to emit to, nil if emitting is pointless.
func (s metricSink) get() *metrics.Metrics {
	if s.m != nil {
		return s.m
	}
	if g := metrics.Default(); g != initialGlobal || g.FilterDefault {
		return g
	}
	return nil
}

// noteGetLog records a GetLog that started at start.
func (s *BoltStore) noteGetLog(start time.Time) {
	if m := s.metrics.get(); m != nil {
		m.MeasureSince(keyGetLog, start)
	}
}

// noteStoreLogs records a successful StoreLogs of logs that started at
// start, as raft-boltdb does: the encoded size of each entry, the batch's
// length and bytes, its duration and the entries per second it achieved.
func (s *BoltStore) noteStoreLogs(logs []*raft.Log, start time.Time) {
	m := s.metrics.get()
	if m == nil {
		return
	}
	total := 0
	for _, l := range logs {
		n := encodedLogSize(l)
		total += n
		m.AddSample(keyLogSize, float32(n))
	}
	m.AddSample(keyLogsPerBatch, float32(len(logs)))
	m.AddSample(keyLogBatchSize, float32(total))
	took := time.Since(start)
	if took > 0 {
		m.AddSample(keyWriteCapacity, float32(len(logs))*float32(time.Second)/float32(took))
	}
	m.MeasureSince(keyStoreLogs, start)
}

// noteJournalWrite records one journal record's write and fdatasync.
func (s *BoltStore) noteJournalWrite(start time.Time) {
	if m := s.metrics.get(); m != nil {
		m.MeasureSince(keyJournalWrite, start)
	}
}

// noteCheckpoint records a checkpoint of n journal entries into bbolt.
func (s *BoltStore) noteCheckpoint(start time.Time, n int) {
	m := s.metrics.get()
	if m == nil {
		return
	}
	m.MeasureSince(keyJournalCheckpoint, start)
	m.AddSample(keyJournalCkptLogs, float32(n))
}

// encodedLogSize returns len(appendLog(nil, l)) without encoding l.
func encodedLogSize(l *raft.Log) int {
	var tb [16]byte
	t, _ := l.AppendedAt.AppendBinary(tb[:0])
	return 1 + len(keyAppendedAt) + 1 + len(t) +
		len(keyData) + rawSize(l.Data) + len(keyExtensions) + rawSize(l.Extensions) +
		len(keyIndex) + uintSize(l.Index) + len(keyTerm) + uintSize(l.Term) + len(keyType) + uintSize(uint64(l.Type))
}

// rawSize is the length of appendRaw's encoding of b.
func rawSize(b []byte) int {
	switch n := len(b); {
	case b == nil:
		return 1
	case n < 32:
		return 1 + n
	case n < 1<<16:
		return 3 + n
	default:
		return 5 + n
	}
}

// uintSize is the length of appendUint's encoding of v.
func uintSize(v uint64) int {
	switch {
	case v < 0x80:
		return 1
	case v <= 0xff:
		return 2
	case v <= 0xffff:
		return 3
	case v <= 0xffffffff:
		return 5
	default:
		return 9
	}
}

// defaultMetricsInterval is RunMetrics' interval when given 0 (as
// raft-boltdb).
const defaultMetricsInterval = 5 * time.Second

// RunMetrics emits bbolt's statistics every interval (0 means 5s) until ctx
// is done, under raft-boltdb/v2's names: gauges of the freelist and open
// read transactions, and counters (the change since the last emission) and
// samples of transaction statistics. Run it on its own goroutine.
func (s *BoltStore) RunMetrics(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = defaultMetricsInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	prev := s.emitStats(nil)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			prev = s.emitStats(prev)
		}
	}
}

// emitStats emits bbolt's statistics, counters as the change since prev
// (everything since open when prev is nil), and returns them.
func (s *BoltStore) emitStats(prev *bbolt.Stats) *bbolt.Stats {
	cur := s.db.Stats()
	m := s.metrics.get()
	if m == nil {
		return &cur
	}
	d := cur
	if prev != nil {
		d = cur.Sub(prev)
	}
	m.SetGauge(keyNumFreePages, float32(cur.FreePageN))
	m.SetGauge(keyNumPendingPages, float32(cur.PendingPageN))
	m.SetGauge(keyFreePageBytes, float32(cur.FreeAlloc))
	m.SetGauge(keyFreelistBytes, float32(cur.FreelistInuse))
	m.IncrCounter(keyTotalReadTxn, float32(d.TxN))
	m.SetGauge(keyOpenReadTxn, float32(cur.OpenTxN))
	m.SetGauge(keyTxPageCount, float32(cur.TxStats.GetPageCount()))
	m.SetGauge(keyTxPageAlloc, float32(cur.TxStats.GetPageAlloc()))
	m.IncrCounter(keyTxCursorCount, float32(d.TxStats.GetCursorCount()))
	m.IncrCounter(keyTxNodeCount, float32(d.TxStats.GetNodeCount()))
	m.IncrCounter(keyTxNodeDeref, float32(d.TxStats.GetNodeDeref()))
	m.IncrCounter(keyTxRebalance, float32(d.TxStats.GetRebalance()))
	m.AddSample(keyTxRebalanceTime, float32(d.TxStats.GetRebalanceTime().Nanoseconds())/1e6)
	m.IncrCounter(keyTxSplit, float32(d.TxStats.GetSplit()))
	m.IncrCounter(keyTxSpill, float32(d.TxStats.GetSpill()))
	m.AddSample(keyTxSpillTime, float32(d.TxStats.GetSpillTime().Nanoseconds())/1e6)
	m.IncrCounter(keyTxWrite, float32(d.TxStats.GetWrite()))
	m.AddSample(keyTxWriteTime, float32(d.TxStats.GetWriteTime().Nanoseconds())/1e6)
	return &cur
}

// afterStoreLogs records a StoreLogs of logs that started at start, if it
// succeeded (*err is its result).
func (s *BoltStore) afterStoreLogs(logs []*raft.Log, start time.Time, err *error) {
	if *err == nil {
		s.noteStoreLogs(logs, start)
	}
}
