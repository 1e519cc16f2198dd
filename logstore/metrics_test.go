package logstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/logstore/storetest"
	"go.etcd.io/bbolt"
)

// newInmemMetrics returns a metrics instance whose sink keeps everything
// in memory for the test to read.
func newInmemMetrics(t *testing.T) (*metrics.Metrics, *metrics.InmemSink) {
	t.Helper()
	sink := metrics.NewInmemSink(time.Hour, time.Hour)
	mc := metrics.DefaultConfig("")
	mc.EnableHostname = false
	mc.EnableRuntimeMetrics = false
	m, err := metrics.New(mc, sink)
	mustNoErr(t, err)
	return m, sink
}

// sinkNames returns the keys an in-memory sink received, by kind.
func sinkNames(sink *metrics.InmemSink) map[string]string {
	out := map[string]string{}
	for _, iv := range sink.Data() {
		iv.RLock()
		for _, g := range iv.Gauges {
			out[g.Name] = "gauge"
		}
		for _, c := range iv.Counters {
			out[c.Name] = "counter"
		}
		for _, s := range iv.Samples {
			out[s.Name] = "sample"
		}
		iv.RUnlock()
	}
	return out
}

// BoltStore emits raft-boltdb/v2's metrics (and the journal's) to
// Options.Metrics; raft.boltdb.logSize is each entry's encoded size.
func TestBoltMetrics(t *testing.T) {
	for _, noJournal := range []bool{false, true} {
		m, sink := newInmemMetrics(t)
		s, err := logstore.New(logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db"), NoSync: true,
			NoJournal: noJournal, Metrics: m})
		mustNoErr(t, err)
		mustNoErr(t, s.StoreLogs([]*raft.Log{storetest.MakeLog(1, 10), storetest.MakeLog(2, 10)}))
		var l raft.Log
		mustNoErr(t, s.GetLog(1, &l))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.RunMetrics(ctx, 0) // one emission, then it sees ctx done
		mustNoErr(t, s.Close())

		got := sinkNames(sink)
		want := map[string]string{
			"raft.boltdb.getLog": "sample", "raft.boltdb.storeLogs": "sample", "raft.boltdb.logSize": "sample",
			"raft.boltdb.logsPerBatch": "sample", "raft.boltdb.logBatchSize": "sample",
			"raft.boltdb.writeCapacity": "sample", "raft.boltdb.numFreePages": "gauge",
			"raft.boltdb.totalReadTxn": "counter", "raft.boltdb.txstats.write": "counter",
			"raft.boltdb.txstats.writeTime": "sample",
		}
		if !noJournal {
			want["raft.pontoon.journal.write"] = "sample"
			want["raft.pontoon.journal.checkpoint"] = "sample" // at Close
		}
		for k, kind := range want {
			if got[k] != kind {
				t.Errorf("NoJournal=%v: %s emitted as %q, want a %s", noJournal, k, got[k], kind)
			}
		}
		// Two entries of the same size (10 data bytes, 75 encoded), and a
		// batch of their sum.
		for _, iv := range sink.Data() {
			if v, ok := iv.Samples["raft.boltdb.logSize"]; ok {
				if b, ok := iv.Samples["raft.boltdb.logBatchSize"]; ok && b.Sum != v.Sum {
					t.Errorf("logBatchSize %v, want the sum of logSize %v", b.Sum, v.Sum)
				}
				if v.Count != 2 || v.Min != v.Max || v.Min < 60 || v.Min > 90 {
					t.Errorf("logSize: %d samples, %v to %v; want 2 of about 75 bytes", v.Count, v.Min, v.Max)
				}
			}
		}
	}
}

// A store whose file another process holds fails to open with an error
// that says so, naming the file, instead of bbolt's bare "timeout".
func TestBoltInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := logstore.New(logstore.Options{Path: path, NoSync: true})
	mustNoErr(t, err)
	defer s.Close()
	// NB: bbolt's lock is flock(2): a second open file description
	// conflicts with the first, in this process as in another.
	opts := *bbolt.DefaultOptions
	opts.Timeout = 50 * time.Millisecond
	_, err = logstore.New(logstore.Options{Path: path, BoltOptions: &opts})
	if err == nil {
		t.Fatal("a second open of a store in use succeeded")
	}
	if !errors.Is(err, raft.ErrStoreInUse) {
		t.Errorf("error %q does not wrap raft.ErrStoreInUse", err)
	}
	if !strings.Contains(err.Error(), "raft.db is in use by another process") {
		t.Errorf("error %q does not say the file is in use", err)
	}
	// The default options (a 1s lock timeout) say the same.
	if _, err := logstore.NewBoltStore(path); !errors.Is(err, raft.ErrStoreInUse) {
		t.Errorf("NewBoltStore: %v, want ErrStoreInUse", err)
	}
}

// sinkCounters returns the counters' sums and the gauges' values an
// in-memory sink received.
func sinkCounters(sink *metrics.InmemSink) map[string]float64 {
	out := map[string]float64{}
	for _, iv := range sink.Data() {
		iv.RLock()
		for _, c := range iv.Counters {
			out[c.Name] += c.Sum
		}
		for _, g := range iv.Gauges {
			out[g.Name] = float64(g.Value)
		}
		iv.RUnlock()
	}
	return out
}

// SegmentStore emits raft-wal's counters under its names (raft.wal.*),
// with its meanings: appends, entries and bytes written and read, rotations,
// head and tail truncations in entries, stable gets and sets, and the age of
// the last sealed segment.
func TestSegmentMetrics(t *testing.T) {
	m, sink := newInmemMetrics(t)
	s, err := logstore.NewSegmentStore(logstore.SegmentOptions{Dir: filepath.Join(t.TempDir(), "seg"),
		SegmentSize: logstore.MinJournalSize, Metrics: m})
	mustNoErr(t, err)
	defer s.Close()
	// 30 appends of 2 entries of 300 bytes: many 4 KiB segments.
	for i := uint64(1); i <= 60; i += 2 {
		mustNoErr(t, s.StoreLogs([]*raft.Log{storetest.MakeLog(i, 300), storetest.MakeLog(i+1, 300)}))
	}
	var l raft.Log
	for i := uint64(1); i <= 5; i++ {
		mustNoErr(t, s.GetLog(i, &l))
	}
	mustNoErr(t, s.DeleteRange(1, 10))  // head: 10 entries
	mustNoErr(t, s.DeleteRange(55, 60)) // tail: 6 entries
	mustNoErr(t, s.SetUint64([]byte("CurrentTerm"), 3))
	mustNoErr(t, s.Set([]byte("LastVoteCand"), []byte("n1")))
	if _, err := s.GetUint64([]byte("CurrentTerm")); err != nil {
		t.Fatal(err)
	}

	got := sinkCounters(sink)
	for name, want := range map[string]float64{
		"raft.wal.log_appends":         30,
		"raft.wal.log_entries_written": 60,
		"raft.wal.log_entries_read":    5,
		"raft.wal.head_truncations":    10,
		"raft.wal.tail_truncations":    6,
		"raft.wal.stable_sets":         2,
		"raft.wal.stable_gets":         1,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	// Encoded entries are a little larger than their 300-byte payloads.
	if b := got["raft.wal.log_entry_bytes_written"]; b < 60*300 || b > 60*400 {
		t.Errorf("raft.wal.log_entry_bytes_written = %v, want about 60 × 300", b)
	}
	if b := got["raft.wal.log_entry_bytes_read"]; b < 5*300 || b > 5*400 {
		t.Errorf("raft.wal.log_entry_bytes_read = %v, want about 5 × 300", b)
	}
	if got["raft.wal.segment_rotations"] < 1 {
		t.Errorf("raft.wal.segment_rotations = %v, want at least 1 (60 entries of 300 bytes in 4 KiB segments)", got["raft.wal.segment_rotations"])
	}
	if _, ok := got["raft.wal.last_segment_age_seconds"]; !ok {
		t.Error("raft.wal.last_segment_age_seconds not set after a rotation")
	}
	if names := sinkNames(sink); names["raft.pontoon.segment.write"] != "sample" {
		t.Errorf("raft.pontoon.segment.write: %q, want a timer sample", names["raft.pontoon.segment.write"])
	}
}
