package logstore

import (
	"bytes"
	"errors"
	"testing"

	raft "github.com/pontoon-raft/raft"
)

// testJournalID is the journal id of the files buildJournal makes.
const testJournalID = 0x5eed

// testHeader is the header of a test file of generation gen.
func testHeader(gen uint64, size int64) []byte {
	return appendJournalHeader(nil, journalHeader{id: testJournalID, gen: gen, size: size})
}

// buildJournal returns a journal file of size bytes, generation gen,
// holding records of the given batch sizes from index first, as the store
// writes them (each followed by its end mark), and the records' offsets
// followed by the end offset.
func buildJournal(t testing.TB, size int64, gen uint64, first uint64, batches ...int) ([]byte, []int64) {
	t.Helper()
	b := make([]byte, size)
	copy(b, testHeader(gen, size))
	k := journalKey{testJournalID, gen}
	copy(b[journalDataStart:], appendEndMark(nil, k, journalDataStart))
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
		buf, err := finishRecord(buf, start, k, off, 1)
		if err != nil {
			t.Fatal(err)
		}
		if off+int64(len(buf)) > size {
			t.Fatal("journal too small")
		}
		offs = append(offs, off)
		copy(b[off:], buf)
		off += int64(len(buf)) - journalMarkLen
		first += uint64(n)
	}
	return b, append(offs, off)
}

func TestScanJournal(t *testing.T) {
	b, offs := buildJournal(t, 8192, 7, 10, 1, 3, 2)
	sc, err := scanJournal(b)
	if err != nil || !sc.valid || sc.hdr.gen != 7 || len(sc.recs) != 3 || sc.end != offs[3] || sc.endKind != endMark {
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
	copy(old, testHeader(8, 8192))
	if sc, err := scanJournal(old); err != nil || !sc.valid || len(sc.recs) != 0 {
		t.Fatalf("stale records: %+v, %v", sc, err)
	}

	// Stale records after the valid ones: a reused file.
	mixed := append([]byte(nil), old...)
	copy(mixed, b[:offs[1]])
	copy(mixed[offs[1]:], appendEndMark(nil, journalKey{testJournalID, 7}, offs[1]))
	copy(mixed, testHeader(7, 8192))
	if sc, err := scanJournal(mixed); err != nil || len(sc.recs) != 1 || sc.endKind != endMark {
		t.Fatalf("reused file: %d records, end %d, %v", len(sc.recs), sc.endKind, err)
	}

	// A torn last record (its header written, the rest of its write not)
	// ends the scan.
	torn := append([]byte(nil), b...)
	clear(torn[offs[2]+8 : offs[3]+journalMarkLen])
	if sc, err := scanJournal(torn); err != nil || len(sc.recs) != 2 || sc.endKind != endTorn {
		t.Fatalf("torn tail: %d records, end %d, %v", len(sc.recs), sc.endKind, err)
	}
	// A write that did not start leaves the end mark of the one before.
	unwritten := append([]byte(nil), b...)
	clear(unwritten[offs[2] : offs[3]+journalMarkLen])
	copy(unwritten[offs[2]:], appendEndMark(nil, journalKey{testJournalID, 7}, offs[2]))
	if sc, err := scanJournal(unwritten); err != nil || len(sc.recs) != 2 || sc.endKind != endMark {
		t.Fatalf("unwritten tail: %d records, end %d, %v", len(sc.recs), sc.endKind, err)
	}

	// The last record zeroed (or cut) from its start: no end mark, no
	// torn write: records are missing.
	for _, from := range []int64{offs[2], offs[1]} {
		zeroed := append([]byte(nil), b...)
		clear(zeroed[from:])
		if sc, err := scanJournal(zeroed); err != nil || sc.endKind != endNone || sc.end != from {
			t.Fatalf("zeroed from %d: end %d at %d, %v", from, sc.endKind, sc.end, err)
		}
	}

	// The last record's payload damaged though its end mark was written:
	// corruption, not a torn write.
	for _, at := range []int64{offs[2] + 8, offs[2] + journalRecHdrLen + 3, offs[2] + journalRecHdrLen + journalPayloadMin + 1} {
		bad := append([]byte(nil), b...)
		bad[at] ^= 0x04
		if _, err := scanJournal(bad); !errors.Is(err, raft.ErrCorrupt) {
			t.Fatalf("damage at %d in the last record: %v", at, err)
		}
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
	if sc, err := scanJournal(bad); err != nil || sc.valid || sc.magic || len(sc.recs) != 0 {
		t.Fatalf("bad header: %+v, %v", sc, err)
	}
	bad[3] ^= 1
	bad[20] ^= 1
	if sc, err := scanJournal(bad); err != nil || sc.valid || !sc.magic || len(sc.recs) != 0 {
		t.Fatalf("damaged header: %+v, %v", sc, err)
	}
}

func FuzzJournalScan(f *testing.F) {
	b, _ := buildJournal(f, 2048, 3, 1, 1, 2, 4)
	f.Add(b)
	f.Add(b[:journalDataStart+40])
	f.Add(testHeader(1, 2048))
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
			next, _, err := readRecord(b, sc.hdr.key(), r.off)
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
