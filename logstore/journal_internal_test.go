package logstore

import (
	"bytes"
	"errors"
	"testing"

	raft "github.com/pontoon-raft/raft"
)

// buildJournal returns a journal file of size bytes, generation gen,
// holding records of the given batch sizes from index first.
func buildJournal(t testing.TB, size int64, gen uint64, first uint64, batches ...int) ([]byte, []int64) {
	t.Helper()
	b := make([]byte, size)
	copy(b, appendJournalHeader(nil, gen))
	off := int64(journalDataStart)
	var offs []int64
	for _, n := range batches {
		buf, start := beginRecord(nil, first, n)
		for i := 0; i < n; i++ {
			var err error
			if buf, _, err = appendRecordEntry(buf, &raft.Log{Index: first + uint64(i), Term: 1, Data: bytes.Repeat([]byte{byte(i)}, i)}); err != nil {
				t.Fatal(err)
			}
		}
		buf, err := finishRecord(buf, start, gen, off)
		if err != nil {
			t.Fatal(err)
		}
		if off+int64(len(buf)) > size {
			t.Fatal("journal too small")
		}
		offs = append(offs, off)
		copy(b[off:], buf)
		off += int64(len(buf))
		first += uint64(n)
	}
	return b, append(offs, off)
}

func TestScanJournal(t *testing.T) {
	b, offs := buildJournal(t, 8192, 7, 10, 1, 3, 2)
	sc, err := scanJournal(b)
	if err != nil || !sc.valid || sc.gen != 7 || len(sc.recs) != 3 || sc.end != offs[3] {
		t.Fatalf("scan = %+v, %v", sc, err)
	}
	if r := sc.recs[1]; r.first != 11 || r.last() != 13 || r.off != offs[1] {
		t.Fatalf("record 1 = %+v", r)
	}
	for i, e := range sc.recs[1].ents {
		var l raft.Log
		if err := decodeLog(e, &l); err != nil || l.Index != 11+uint64(i) {
			t.Fatalf("entry %d: %+v, %v", i, l, err)
		}
	}

	// The same bytes under another generation: nothing valid.
	old, _ := buildJournal(t, 8192, 6, 10, 1, 3, 2)
	copy(old, appendJournalHeader(nil, 8))
	if sc, err := scanJournal(old); err != nil || !sc.valid || len(sc.recs) != 0 {
		t.Fatalf("stale records: %+v, %v", sc, err)
	}

	// Stale records after the valid ones: a reused file.
	mixed := append([]byte(nil), old...)
	copy(mixed, b[:offs[1]])
	copy(mixed, appendJournalHeader(nil, 7))
	if sc, err := scanJournal(mixed); err != nil || len(sc.recs) != 1 {
		t.Fatalf("reused file: %d records, %v", len(sc.recs), err)
	}

	// A torn last record ends the scan.
	torn := append([]byte(nil), b...)
	clear(torn[offs[2]+8 : offs[3]])
	if sc, err := scanJournal(torn); err != nil || len(sc.recs) != 2 {
		t.Fatalf("torn tail: %d records, %v", len(sc.recs), err)
	}

	// Damage before a valid record is corruption.
	for _, at := range []int64{offs[1], offs[1] + 2, offs[1] + 17, offs[1] + journalRecHdrLen + journalPayloadMin + 1} {
		bad := append([]byte(nil), b...)
		bad[at] ^= 0x80
		if _, err := scanJournal(bad); !errors.Is(err, raft.ErrCorrupt) {
			t.Fatalf("damage at %d: %v", at, err)
		}
	}

	// No header: no records, no error.
	bad := append([]byte(nil), b...)
	bad[3] ^= 1
	if sc, err := scanJournal(bad); err != nil || sc.valid || len(sc.recs) != 0 {
		t.Fatalf("bad header: %+v, %v", sc, err)
	}
}

func FuzzJournalScan(f *testing.F) {
	b, _ := buildJournal(f, 2048, 3, 1, 1, 2, 4)
	f.Add(b)
	f.Add(b[:journalDataStart+40])
	f.Add(appendJournalHeader(nil, 1))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := scanJournal(b)
		if err != nil {
			if !errors.Is(err, raft.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if !sc.valid && len(sc.recs) != 0 {
			t.Fatal("records without a header")
		}
		prev := int64(journalDataStart)
		for _, r := range sc.recs {
			if r.off != prev || len(r.ents) == 0 || r.first == 0 || r.last() < r.first {
				t.Fatalf("record %+v after offset %d", r, prev)
			}
			var l raft.Log
			for _, e := range r.ents {
				_ = decodeLog(e, &l)
			}
			next, _, err := readRecord(b, sc.gen, r.off)
			if err != nil || next.first != r.first {
				t.Fatalf("record at %d does not read again: %v", r.off, err)
			}
			prev = r.off + recordLen(int(binaryLen(b, r.off)))
		}
		if sc.valid && sc.end != prev {
			t.Fatalf("end %d, records end at %d", sc.end, prev)
		}
	})
}

// binaryLen is the payload length field of the record at off.
func binaryLen(b []byte, off int64) uint32 {
	return uint32(b[off]) | uint32(b[off+1])<<8 | uint32(b[off+2])<<16 | uint32(b[off+3])<<24
}
