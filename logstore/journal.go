package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	raft "github.com/pontoon-raft/raft"
)

// This file holds the journal's file format: the header, the record
// encoding and the scanner that reads a file back. It does no I/O, so the
// scanner can be fuzzed on any bytes (FuzzJournalScan).
//
// A journal file is preallocated (written with zeros) to its full size and
// starts with a header:
//
//	off 0   magic "PNTNJRNL"                               8 bytes
//	off 8   format version (1)                             u32
//	off 12  flags (0)                                      u32
//	off 16  generation                                     u64
//	off 24  CRC-32C of bytes 0..23                         u32
//
// Records start at journalDataStart and follow each other, each padded to
// a multiple of 8 bytes:
//
//	off 0   payload length n                               u32
//	off 4   header CRC: CRC-32C(generation, offset, n)     u32
//	off 8   payload CRC: CRC-32C(generation, payload)      u32
//	off 12  zero                                           u32
//	off 16  payload: first index u64, count u32, then count entries,
//	        each a u32 length and the entry encoded by appendLog
//
// All integers are little-endian. Both CRCs cover the generation of the
// file's header, so records left in the file by an earlier activation
// (an older generation) never validate. The header CRC also covers the
// record's own offset and lets the scanner test any offset in O(1), which
// is how it tells a torn tail (nothing valid after the first invalid
// record) from damage in the middle (a valid record follows).

const (
	journalMagic      = "PNTNJRNL"
	journalVersion    = 1
	journalHeaderLen  = 28
	journalDataStart  = 512 // records start in their own sector
	journalRecHdrLen  = 16
	journalPayloadMin = 12 // first index + count
	journalAlign      = 8

	// DefaultJournalSize is the size of each of the two journal files
	// when Options.JournalSize is 0.
	DefaultJournalSize = 2 << 20
	// journalPageSize is the bbolt page size of a file created with the
	// journal on (see New).
	journalPageSize = 64 << 10
	// MinJournalSize is the smallest journal file; smaller
	// Options.JournalSize values are raised to it.
	MinJournalSize = 4096
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// appendJournalHeader appends the header of a file of generation gen.
func appendJournalHeader(dst []byte, gen uint64) []byte {
	start := len(dst)
	dst = append(dst, journalMagic...)
	dst = binary.LittleEndian.AppendUint32(dst, journalVersion)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint64(dst, gen)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], crcTable))
}

// parseJournalHeader returns the generation of a valid header.
func parseJournalHeader(b []byte) (gen uint64, ok bool) {
	if len(b) < journalHeaderLen || string(b[:8]) != journalMagic {
		return 0, false
	}
	if crc32.Checksum(b[:24], crcTable) != binary.LittleEndian.Uint32(b[24:]) {
		return 0, false
	}
	if binary.LittleEndian.Uint32(b[8:]) != journalVersion || binary.LittleEndian.Uint32(b[12:]) != 0 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[16:]), true
}

// recordHeaderCRC is the CRC of a record's header fields.
func recordHeaderCRC(gen uint64, off int64, n uint32) uint32 {
	var b [20]byte
	binary.LittleEndian.PutUint64(b[0:], gen)
	binary.LittleEndian.PutUint64(b[8:], uint64(off))
	binary.LittleEndian.PutUint32(b[16:], n)
	return crc32.Checksum(b[:], crcTable)
}

// payloadCRC is the CRC of a record's payload under generation gen.
func payloadCRC(gen uint64, payload []byte) uint32 {
	var g [8]byte
	binary.LittleEndian.PutUint64(g[:], gen)
	return crc32.Update(crc32.Checksum(g[:], crcTable), crcTable, payload)
}

// beginRecord appends the header space and payload prefix of a record
// holding count entries from first, and returns the buffer and the offset
// of the record in it. Entries are added with appendRecordEntry and the
// record is completed by finishRecord.
func beginRecord(dst []byte, first uint64, count int) ([]byte, int) {
	start := len(dst)
	dst = append(dst, make([]byte, journalRecHdrLen)...)
	dst = binary.LittleEndian.AppendUint64(dst, first)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(count))
	return dst, start
}

// appendRecordEntry appends one entry, length-prefixed, and returns the
// buffer and the entry's encoded bytes' offset in it.
func appendRecordEntry(dst []byte, l *raft.Log) ([]byte, int, error) {
	lenAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	var err error
	dst, err = appendLog(dst, l)
	if err != nil {
		return dst[:lenAt], 0, err
	}
	n := len(dst) - lenAt - 4
	if uint64(n) > 1<<32-1 {
		return dst[:lenAt], 0, fmt.Errorf("entry %d is %d bytes encoded", l.Index, n)
	}
	binary.LittleEndian.PutUint32(dst[lenAt:], uint32(n))
	return dst, lenAt + 4, nil
}

// finishRecord fills in the header of the record at rec[start:], to be
// written at file offset off under generation gen, and pads it to the
// alignment. It returns the buffer.
func finishRecord(dst []byte, start int, gen uint64, off int64) ([]byte, error) {
	n := len(dst) - start - journalRecHdrLen
	if uint64(n) > 1<<32-1 {
		return dst, fmt.Errorf("record of %d bytes", n)
	}
	h := dst[start : start+journalRecHdrLen]
	binary.LittleEndian.PutUint32(h[0:], uint32(n))
	binary.LittleEndian.PutUint32(h[4:], recordHeaderCRC(gen, off, uint32(n)))
	binary.LittleEndian.PutUint32(h[8:], payloadCRC(gen, dst[start+journalRecHdrLen:]))
	binary.LittleEndian.PutUint32(h[12:], 0)
	for (len(dst)-start)%journalAlign != 0 {
		dst = append(dst, 0)
	}
	return dst, nil
}

// recordLen is the length in the file of a record with a payload of n
// bytes, padding included.
func recordLen(n int) int64 {
	l := int64(journalRecHdrLen + n)
	return (l + journalAlign - 1) / journalAlign * journalAlign
}

// journalRecord is one valid record read back from a file.
type journalRecord struct {
	off   int64
	first uint64
	// ents[i] is the encoded entry first+i; it aliases the scanned bytes.
	ents [][]byte
}

// last returns the index of the record's last entry.
func (r *journalRecord) last() uint64 { return r.first + uint64(len(r.ents)) - 1 }

// errNoRecord ends a scan at an offset holding no valid record.
var errNoRecord = errors.New("no valid record")

// readRecord returns the valid record at off of a file of generation gen,
// or errNoRecord if there is none there (zeros, a torn write, an older
// generation, garbage). A record whose CRCs match but whose payload does
// not parse returns an error wrapping raft.ErrCorrupt. It never panics.
func readRecord(b []byte, gen uint64, off int64) (journalRecord, int64, error) {
	if off < 0 || off > int64(len(b)) || int64(len(b))-off < journalRecHdrLen {
		return journalRecord{}, 0, errNoRecord
	}
	h := b[off : off+journalRecHdrLen]
	n := binary.LittleEndian.Uint32(h[0:])
	if n < journalPayloadMin || binary.LittleEndian.Uint32(h[12:]) != 0 ||
		recordHeaderCRC(gen, off, n) != binary.LittleEndian.Uint32(h[4:]) {
		return journalRecord{}, 0, errNoRecord
	}
	size := recordLen(int(n))
	if size > int64(len(b))-off {
		return journalRecord{}, 0, errNoRecord
	}
	p := b[off+journalRecHdrLen : off+journalRecHdrLen+int64(n)]
	if payloadCRC(gen, p) != binary.LittleEndian.Uint32(h[8:]) {
		return journalRecord{}, 0, errNoRecord
	}
	rec, err := parsePayload(p)
	if err != nil {
		return journalRecord{}, 0, fmt.Errorf("%w: journal record at offset %d: %v", raft.ErrCorrupt, off, err)
	}
	rec.off = off
	return rec, size, nil
}

// parsePayload splits a record's payload into its entries.
func parsePayload(p []byte) (journalRecord, error) {
	if len(p) < journalPayloadMin {
		return journalRecord{}, errors.New("short payload")
	}
	first := binary.LittleEndian.Uint64(p)
	count := binary.LittleEndian.Uint32(p[8:])
	p = p[journalPayloadMin:]
	if count == 0 {
		return journalRecord{}, errors.New("no entries")
	}
	if first == 0 || first+uint64(count)-1 < first {
		return journalRecord{}, fmt.Errorf("index range %d+%d", first, count)
	}
	// Every entry takes at least its 4-byte length: bound the allocation
	// by the bytes present before trusting count.
	if uint64(count) > uint64(len(p))/4 {
		return journalRecord{}, fmt.Errorf("%d entries in %d bytes", count, len(p))
	}
	ents := make([][]byte, 0, count)
	for i := uint32(0); i < count; i++ {
		if len(p) < 4 {
			return journalRecord{}, fmt.Errorf("entry %d: truncated", i)
		}
		n := binary.LittleEndian.Uint32(p)
		p = p[4:]
		if uint64(n) > uint64(len(p)) {
			return journalRecord{}, fmt.Errorf("entry %d: %d bytes, %d left", i, n, len(p))
		}
		ents = append(ents, p[:n:n])
		p = p[n:]
	}
	if len(p) != 0 {
		return journalRecord{}, fmt.Errorf("%d bytes after the last entry", len(p))
	}
	return journalRecord{first: first, ents: ents}, nil
}

// journalScan is what a scan of one journal file found.
type journalScan struct {
	// gen is the header's generation; valid reports a valid header. A file
	// without one holds no valid records.
	gen   uint64
	valid bool
	// recs are the valid records, in file order.
	recs []journalRecord
	// end is the offset just past the last valid record: where the next
	// record would be written.
	end int64
}

// scanJournal reads the records of a journal file's bytes b. It stops at
// the first offset holding no valid record: that is the torn or unwritten
// tail. If a valid record of the same generation follows that point, the
// file is damaged in the middle and scanJournal returns an error wrapping
// raft.ErrCorrupt. It never panics, whatever b holds; the records alias b.
func scanJournal(b []byte) (journalScan, error) {
	gen, ok := parseJournalHeader(b)
	if !ok {
		return journalScan{}, nil
	}
	return scanRecords(b, gen)
}

// scanRecords is scanJournal for a file of generation gen, whatever its
// header says.
func scanRecords(b []byte, gen uint64) (journalScan, error) {
	sc := journalScan{gen: gen, valid: true, end: journalDataStart}
	off := int64(journalDataStart)
	for {
		rec, size, err := readRecord(b, gen, off)
		if errors.Is(err, errNoRecord) {
			break
		}
		if err != nil {
			return journalScan{}, err
		}
		sc.recs = append(sc.recs, rec)
		off += size
	}
	sc.end = off
	// NB: records are written one after another, each synced before the
	// next is written, so a torn write can only be the last one. A valid
	// record after an invalid one means damage to data that was
	// acknowledged.
	for p := off + journalAlign; p+journalRecHdrLen <= int64(len(b)); p += journalAlign {
		if _, _, err := readRecord(b, gen, p); !errors.Is(err, errNoRecord) {
			return journalScan{}, fmt.Errorf("%w: journal record at offset %d is damaged and a valid record follows at offset %d", raft.ErrCorrupt, off, p)
		}
	}
	return sc, nil
}
