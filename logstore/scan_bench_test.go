package logstore

import (
	"bytes"
	"testing"

	raft "github.com/pontoon-raft/raft"
)

// BenchmarkScanJournal scans a default-size journal file holding a few
// records of the current generation followed by records of an older one
// (what a reused file holds after a crash): the scan checks every aligned
// offset after the last record for a later write.
func BenchmarkScanJournal(b *testing.B) {
	size := int64(DefaultJournalSize)
	old, _ := buildJournal(b, size, 6, 1, 0)
	// Stale records of generation 6 across the whole file.
	k6 := journalKey{testJournalID, 6}
	off := int64(journalDataStart)
	for first := uint64(1); ; first += 4 {
		buf, start := beginRecord(nil, first, 4)
		for i := 0; i < 4; i++ {
			buf, _, _ = appendRecordEntry(buf, &raft.Log{Index: first + uint64(i), Term: 1, Data: bytes.Repeat([]byte{'x'}, 1000)})
		}
		buf, _ = finishRecord(buf, start, k6, off, 1)
		if off+int64(len(buf)) > size {
			break
		}
		copy(old[off:], buf)
		off += int64(len(buf)) - journalMarkLen
	}
	cur, _ := buildJournal(b, size, 7, 1, 3, 5)
	copy(cur[journalDataStart+4096:], old[journalDataStart+4096:])
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if sc, err := scanJournal(cur); err != nil || len(sc.recs) != 2 {
			b.Fatal(sc, err)
		}
	}
}
