package logstore

import (
	"time"
)

// SegmentStore's metrics: raft-wal v0.4.0's counters and gauge, under the
// names Consul registers them with (raft.wal.<name>: the prefix raft-wal's
// go-metrics collector is given there), with the same meanings, so a
// dashboard built on raft-wal keeps working; and the time of each record's
// write and fdatasync, which raft-wal does not measure, under
// raft.pontoon.segment.*. docs/metrics.md lists them.

var (
	keyWALBytesWritten   = []string{"raft", "wal", "log_entry_bytes_written"}
	keyWALEntriesWritten = []string{"raft", "wal", "log_entries_written"}
	keyWALAppends        = []string{"raft", "wal", "log_appends"}
	keyWALBytesRead      = []string{"raft", "wal", "log_entry_bytes_read"}
	keyWALEntriesRead    = []string{"raft", "wal", "log_entries_read"}
	keyWALRotations      = []string{"raft", "wal", "segment_rotations"}
	keyWALHeadTrunc      = []string{"raft", "wal", "head_truncations"}
	keyWALTailTrunc      = []string{"raft", "wal", "tail_truncations"}
	keyWALStableGets     = []string{"raft", "wal", "stable_gets"}
	keyWALStableSets     = []string{"raft", "wal", "stable_sets"}
	keyWALLastSegAge     = []string{"raft", "wal", "last_segment_age_seconds"}

	keySegWrite = []string{"raft", "pontoon", "segment", "write"}
)

// noteAppend records one StoreLogs of n entries, bytes encoded bytes, whose
// record's write and fdatasync started at start.
func (s *SegmentStore) noteAppend(n, bytes int, start time.Time) {
	m := s.metrics.get()
	if m == nil {
		return
	}
	m.IncrCounter(keyWALAppends, 1)
	m.IncrCounter(keyWALEntriesWritten, float32(n))
	m.IncrCounter(keyWALBytesWritten, float32(bytes))
	m.MeasureSince(keySegWrite, start)
}

// noteRead records one GetLog that read bytes.
func (s *SegmentStore) noteRead(bytes int) {
	if m := s.metrics.get(); m != nil {
		m.IncrCounter(keyWALEntriesRead, 1)
		m.IncrCounter(keyWALBytesRead, float32(bytes))
	}
}

// noteRotation records a rotation that sealed a segment opened or created
// at since.
func (s *SegmentStore) noteRotation(since time.Time) {
	if m := s.metrics.get(); m != nil {
		m.IncrCounter(keyWALRotations, 1)
		m.SetGauge(keyWALLastSegAge, float32(time.Since(since).Seconds()))
	}
}

// noteTruncation records a DeleteRange of from..to on a log that held
// first..last: entries removed from its start count as head truncations,
// from its end as tail truncations (as raft-wal counts them).
func (s *SegmentStore) noteTruncation(from, to, first, last uint64) {
	m := s.metrics.get()
	if m == nil || first == 0 {
		return
	}
	lo, hi := max(from, first), min(to, last)
	if lo > hi {
		return
	}
	if lo == first {
		m.IncrCounter(keyWALHeadTrunc, float32(hi-lo+1))
	} else if hi == last {
		m.IncrCounter(keyWALTailTrunc, float32(hi-lo+1))
	}
}

// noteStable records a StableStore read (set false) or write.
func (s *SegmentStore) noteStable(set bool) {
	if m := s.metrics.get(); m != nil {
		if set {
			m.IncrCounter(keyWALStableSets, 1)
		} else {
			m.IncrCounter(keyWALStableGets, 1)
		}
	}
}
