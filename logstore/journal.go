package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	raft "github.com/pontoon-raft/raft"
)

// This file holds the journal's file format: the header, the record
// encoding, the end mark and the scanner that reads a file back. It does
// no I/O, so the scanner can be fuzzed on any bytes (FuzzJournalScan).
//
// A journal file is preallocated (written with zeros) to its full size and
// starts with a header:
//
//	off 0   magic "PNTNJRNL"                               8 bytes
//	off 8   format version (2)                             u32
//	off 12  flags (0)                                      u32
//	off 16  journal id                                     u64
//	off 24  generation                                     u64
//	off 32  bbolt txid the store had reached (minTx)       u64
//	off 40  file size                                      u64
//	off 48  CRC-32C of bytes 0..47                         u32
//
// The id is chosen at random each time a store sets its journal up, and
// is recorded in the bbolt file (see journal_state.go): a file with another
// id belongs to another store or another run. minTx is the id of the
// store's last bbolt transaction when the file was activated: the bbolt
// file can never legitimately be older than that.
//
// Records start at journalDataStart and follow each other, each padded to
// a multiple of 8 bytes:
//
//	off 0   payload length n                               u32
//	off 4   header CRC: CRC-32C(id, generation, offset, n) u32
//	off 8   payload CRC: CRC-32C(id, generation, tx,       u32
//	        payload)
//	off 12  tx: low 32 bits of the store's last committed  u32
//	        bbolt txid when the record was written
//	off 16  payload: first index u64, count u32, then count entries,
//	        each a u32 length and the entry encoded by appendLog, and
//	        optionally 8 zero bytes of padding (see below)
//
// Every record is written together with an end mark right after it (in
// the same write; the next record overwrites it), and activating a file
// writes an end mark at journalDataStart before the header:
//
//	off 0   0xFFFFFFFF                                     u32
//	off 4   CRC-32C(id, generation, offset, "END.")        u32
//
// All integers are little-endian. The CRCs cover the id and generation of
// the file's header, so records left in the file by an earlier activation
// never validate. The header CRC also covers the record's own offset and
// lets the scanner test any offset in O(1), which is how it tells a torn
// tail (nothing valid after the first invalid record) from damage in the
// middle (a valid record or end mark follows).
//
// The end mark is what tells a torn tail from lost records. Records are
// written one at a time, each fdatasynced (with its end mark) before the
// next is written; 8 aligned bytes never straddle a disk sector (which a
// crash writes whole or not at all), and a record whose end mark would
// start a sector is padded, so the end mark always shares a sector with
// the record's last bytes. So where the valid records of a file end, a
// crash can leave only two things: the end mark of the last complete
// write (the next write did not reach the disk at its start), or the start
// of the write after it (a record header that validates, its payload torn,
// and no end mark after it). Anything else there (zeros, garbage, a record
// whose end mark was written but whose payload does not validate, a valid
// record or end mark further on) is damage to acknowledged records.

const (
	journalMagic      = "PNTNJRNL"
	journalVersion    = 2
	journalHeaderLen  = 52
	journalDataStart  = 512 // records start in their own sector
	journalRecHdrLen  = 16
	journalPayloadMin = 12 // first index + count
	journalAlign      = 8
	journalMarkLen    = 8
	journalMarkTag    = 0xFFFFFFFF
	journalSector     = 512
	journalSectorPad  = 8

	// DefaultJournalSize is the size of each of the two journal files
	// when Options.JournalSize is 0. A checkpoint starts every eighth of
	// a file (1 MiB) or ckptMaxEntries entries, whichever comes first.
	DefaultJournalSize = 8 << 20
	// journalPageSize is the bbolt page size of a file created with the
	// journal on (see New).
	journalPageSize = 64 << 10
	// MinJournalSize is the smallest journal file; smaller
	// Options.JournalSize values are raised to it.
	MinJournalSize = 4096
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// journalHeader is the header of a journal file.
type journalHeader struct {
	id, gen, minTx uint64
	size           int64
}

// key returns what every CRC of the file's records covers.
func (h journalHeader) key() journalKey { return journalKey{h.id, h.gen} }

// journalKey is the id and generation a record or end mark belongs to.
type journalKey struct{ id, gen uint64 }

// appendJournalHeader appends the header h.
func appendJournalHeader(dst []byte, h journalHeader) []byte {
	return appendFileHeader(dst, journalMagic, journalVersion, h.id, h.gen, h.minTx, h.size)
}

// appendFileHeader appends the 52-byte header journal and segment files
// share: magic, version, flags (0), three u64 fields, the file size, and
// the CRC-32C of the 48 bytes before it.
func appendFileHeader(dst []byte, magic string, version uint32, a, b, c uint64, size int64) []byte {
	start := len(dst)
	dst = append(dst, magic...)
	dst = binary.LittleEndian.AppendUint32(dst, version)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint64(dst, a)
	dst = binary.LittleEndian.AppendUint64(dst, b)
	dst = binary.LittleEndian.AppendUint64(dst, c)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(size))
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], crcTable))
}

// parseJournalHeader returns a valid header. magic reports whether b starts
// with the magic (a file of this format whose header is damaged, or of
// another version, rather than a new file not yet given a header).
func parseJournalHeader(b []byte) (h journalHeader, ok, magic bool) {
	if len(b) < len(journalMagic) || string(b[:len(journalMagic)]) != journalMagic {
		return h, false, false
	}
	if len(b) < journalHeaderLen || crc32.Checksum(b[:48], crcTable) != binary.LittleEndian.Uint32(b[48:]) {
		return h, false, true
	}
	if binary.LittleEndian.Uint32(b[8:]) != journalVersion || binary.LittleEndian.Uint32(b[12:]) != 0 {
		return h, false, true
	}
	h = journalHeader{
		id:    binary.LittleEndian.Uint64(b[16:]),
		gen:   binary.LittleEndian.Uint64(b[24:]),
		minTx: binary.LittleEndian.Uint64(b[32:]),
		size:  int64(binary.LittleEndian.Uint64(b[40:])),
	}
	if h.size < 0 {
		return journalHeader{}, false, true
	}
	return h, true, true
}

// crcSmall is crc32.Update(crc, crcTable, b) for a few bytes. Unlike
// crc32.Update it does not make b escape, so the small arrays the
// functions below hash stay on the stack: the write path allocates nothing
// for its CRCs.
func crcSmall(crc uint32, b []byte) uint32 {
	crc = ^crc
	for _, c := range b {
		crc = crcTable[byte(crc)^c] ^ (crc >> 8)
	}
	return ^crc
}

// keyCRC starts a CRC over k.
func keyCRC(k journalKey) uint32 {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], k.id)
	binary.LittleEndian.PutUint64(b[8:], k.gen)
	return crcSmall(0, b[:])
}

// recordHeaderCRC is the CRC of a record's header fields.
//
// NB: it covers the first 8 bytes of the record only, which never straddle
// a disk sector, so a torn write leaves them whole or not at all.
func recordHeaderCRC(k journalKey, off int64, n uint32) uint32 {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(off))
	binary.LittleEndian.PutUint32(b[8:], n)
	return crcSmall(keyCRC(k), b[:])
}

// payloadCRC is the CRC of a record's tx field and payload under k.
func payloadCRC(k journalKey, tx uint32, payload []byte) uint32 {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], tx)
	return crc32.Update(crcSmall(keyCRC(k), b[:]), crcTable, payload)
}

// appendEndMark appends the end mark for offset off under k.
func appendEndMark(dst []byte, k journalKey, off int64) []byte {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(off))
	copy(b[8:], "END.")
	dst = binary.LittleEndian.AppendUint32(dst, journalMarkTag)
	return binary.LittleEndian.AppendUint32(dst, crcSmall(keyCRC(k), b[:]))
}

// endMarkAt reports whether b holds a valid end mark under k at off.
func endMarkAt(b []byte, k journalKey, off int64) bool {
	if off < 0 || off > int64(len(b))-journalMarkLen || off%journalAlign != 0 {
		return false
	}
	// NB: the tag first, so the scan of a file's tail (scanRecords)
	// computes no CRC where there is no mark.
	if binary.LittleEndian.Uint32(b[off:]) != journalMarkTag {
		return false
	}
	var m [journalMarkLen]byte
	return string(appendEndMark(m[:0], k, off)) == string(b[off:off+journalMarkLen])
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

// finishRecord fills in the header of the record at dst[start:], to be
// written at file offset off under k with the bbolt txid tx, pads it to the alignment and appends
// the end mark that follows it. It returns the buffer; the record itself
// is recordLen of its payload long, the end mark the journalMarkLen bytes
// after it.
func finishRecord(dst []byte, start int, k journalKey, off int64, tx uint64) ([]byte, error) {
	n := len(dst) - start - journalRecHdrLen
	if uint64(n) > 1<<32-2 {
		return dst, fmt.Errorf("record of %d bytes", n)
	}
	h := dst[start : start+journalRecHdrLen]
	binary.LittleEndian.PutUint32(h[0:], uint32(n))
	binary.LittleEndian.PutUint32(h[4:], recordHeaderCRC(k, off, uint32(n)))
	binary.LittleEndian.PutUint32(h[8:], payloadCRC(k, uint32(tx), dst[start+journalRecHdrLen:]))
	binary.LittleEndian.PutUint32(h[12:], uint32(tx))
	for (len(dst)-start)%journalAlign != 0 {
		dst = append(dst, 0)
	}
	return appendEndMark(dst, k, off+int64(len(dst)-start)), nil
}

// recordLen is the length in the file of a record with a payload of n
// bytes, padding included.
func recordLen(n int) int64 {
	l := int64(journalRecHdrLen + n)
	return (l + journalAlign - 1) / journalAlign * journalAlign
}

// journalRecord is one valid record read back from a file.
type journalRecord struct {
	off int64
	// tx is the low 32 bits of the bbolt txid the store had committed
	// when the record was written.
	tx    uint32
	first uint64
	// ents[i] is the encoded entry first+i; it aliases the scanned bytes.
	ents [][]byte
}

// last returns the index of the record's last entry.
func (r *journalRecord) last() uint64 { return r.first + uint64(len(r.ents)) - 1 }

// errNoRecord ends a scan at an offset holding no valid record.
var errNoRecord = errors.New("no valid record")

// recordHeaderAt returns the payload length of a record header valid
// under k at off (its CRC matches; the payload is not checked), or false.
func recordHeaderAt(b []byte, k journalKey, off int64) (uint32, bool) {
	if off < 0 || off > int64(len(b)) || int64(len(b))-off < journalRecHdrLen {
		return 0, false
	}
	h := b[off : off+journalRecHdrLen]
	n := binary.LittleEndian.Uint32(h[0:])
	if !plausibleLen(n) || recordHeaderCRC(k, off, n) != binary.LittleEndian.Uint32(h[4:]) {
		return 0, false
	}
	return n, true
}

// plausibleLen reports whether n can be a record header's payload length:
// the checks that cost no CRC.
func plausibleLen(n uint32) bool { return n >= journalPayloadMin && n != journalMarkTag }

// readRecord returns the valid record at off of a file under k, or
// errNoRecord if there is none there (zeros, a torn write, an older
// generation, garbage). A record whose CRCs match but whose payload does
// not parse returns an error wrapping raft.ErrCorrupt. It never panics.
func readRecord(b []byte, k journalKey, off int64) (journalRecord, int64, error) {
	var rec journalRecord
	size, err := readRecordWith(b, k, off, func(p []byte, tx uint32) error {
		r, err := parsePayload(p)
		rec, rec.off, rec.tx = r, off, tx
		return err
	})
	if err != nil {
		return journalRecord{}, 0, err
	}
	return rec, size, nil
}

// payloadFunc receives the payload of a record whose CRCs match, and the
// record's tx field; p aliases the scanned bytes. An error means the
// payload does not parse.
type payloadFunc func(p []byte, tx uint32) error

// readRecordWith checks the record at off of a file under k and hands its
// payload to parse (nil: the CRCs alone decide). It returns the record's
// length in the file, errNoRecord if no valid record is there, or an
// error wrapping raft.ErrCorrupt if parse rejects the payload. It never
// panics.
func readRecordWith(b []byte, k journalKey, off int64, parse payloadFunc) (int64, error) {
	n, ok := recordHeaderAt(b, k, off)
	if !ok {
		return 0, errNoRecord
	}
	size := recordLen(int(n))
	if size > int64(len(b))-off {
		return 0, errNoRecord
	}
	p := b[off+journalRecHdrLen : off+journalRecHdrLen+int64(n)]
	tx := binary.LittleEndian.Uint32(b[off+12:])
	if payloadCRC(k, tx, p) != binary.LittleEndian.Uint32(b[off+8:]) {
		return 0, errNoRecord
	}
	if parse != nil {
		if err := parse(p, tx); err != nil {
			return 0, fmt.Errorf("%w: record at offset %d: %v", raft.ErrCorrupt, off, err)
		}
	}
	return size, nil
}

// parsePayload splits a record's payload into its entries: the entries
// payload of segment_format.go (a journal has no other kind).
func parsePayload(p []byte) (journalRecord, error) {
	if len(p) >= journalPayloadMin && binary.LittleEndian.Uint64(p) == 0 {
		return journalRecord{}, errors.New("first index 0")
	}
	var sp segPayload
	if err := parseSegPayload(p, &sp); err != nil {
		return journalRecord{}, err
	}
	ents := make([][]byte, len(sp.ents))
	for i, e := range sp.ents {
		ents[i] = p[e.off : e.off+e.len : e.off+e.len]
	}
	return journalRecord{first: sp.ents[0].index, ents: ents}, nil
}

// journalEnd says what a scan found where the valid records of a file end.
type journalEnd int

const (
	// endMark: the end mark of the last complete write: a clean end.
	endMark journalEnd = iota + 1
	// endTorn: a record whose write a crash interrupted: its header
	// validates, its payload does not, and its end mark is missing.
	endTorn
	// endNone: neither. Unless the file was being activated (see
	// journal_state.go), records are missing: the file was damaged.
	endNone
)

// journalScan is what a scan of one journal file found.
type journalScan struct {
	// hdr is the header; valid reports a valid header, and magic a file
	// that starts with the magic (see parseJournalHeader). A file without
	// a valid header holds no valid records.
	hdr   journalHeader
	valid bool
	magic bool
	// recs are the valid records, in file order.
	recs []journalRecord
	// end is the offset just past the last valid record: where the next
	// record would be written. endKind says what is there.
	end     int64
	endKind journalEnd
}

// scanJournal reads the records of a journal file's bytes b. It stops at
// the first offset holding no valid record and classifies what is there
// (journalEnd). If a valid record or end mark of the same id and
// generation follows that point, or if the record there was written whole
// (its end mark is there) but does not validate, the file is damaged and
// scanJournal returns an error wrapping raft.ErrCorrupt. It never panics,
// whatever b holds; the records alias b.
func scanJournal(b []byte) (journalScan, error) {
	h, ok, magic := parseJournalHeader(b)
	if !ok {
		return journalScan{magic: magic}, nil
	}
	sc, err := scanRecords(b, h.key())
	sc.hdr, sc.magic = h, true
	return sc, err
}

// scanRecords is scanJournal for a file under k, whatever its header says.
func scanRecords(b []byte, k journalKey) (journalScan, error) {
	var recs []journalRecord
	sc, err := scanRecordsWith(b, k, func(off int64) payloadFunc {
		return func(p []byte, tx uint32) error {
			r, err := parsePayload(p)
			r.off, r.tx = off, tx
			recs = append(recs, r)
			return err
		}
	})
	sc.recs = recs
	return sc, err
}

// scanRecordsWith reads the records of a file under k from
// journalDataStart on, handing each valid one's payload to the parser
// visit returns for its offset, and classifies where they end, as
// scanJournal. It leaves sc.recs empty.
func scanRecordsWith(b []byte, k journalKey, visit func(off int64) payloadFunc) (journalScan, error) {
	sc := journalScan{valid: true, end: journalDataStart}
	off := int64(journalDataStart)
	for {
		size, err := readRecordWith(b, k, off, visit(off))
		if errors.Is(err, errNoRecord) {
			break
		}
		if err != nil {
			return journalScan{}, err
		}
		off += size
	}
	sc.end = off
	next := off + journalAlign
	switch n, ok := recordHeaderAt(b, k, off); {
	case endMarkAt(b, k, off):
		sc.endKind = endMark
	case ok:
		end := off + recordLen(int(n))
		if endMarkAt(b, k, end) {
			return journalScan{}, fmt.Errorf("%w: record at offset %d was written whole (its end mark follows) but does not validate", raft.ErrCorrupt, off)
		}
		sc.endKind = endTorn
	default:
		sc.endKind = endNone
	}
	// NB: records are written one after another, each synced before the
	// next is written, so a torn write can only be the last one. A valid
	// record or end mark after an invalid one means damage to data that
	// was acknowledged.
	for p := next; p+journalMarkLen <= int64(len(b)); p += journalAlign {
		if endMarkAt(b, k, p) {
			return journalScan{}, fmt.Errorf("%w: record at offset %d is damaged and an end mark of a later write follows at offset %d", raft.ErrCorrupt, off, p)
		}
		// NB: what readRecord would reject before any CRC, or for a
		// length that cannot fit in the file, is skipped here: this
		// loop runs at every aligned offset of the rest of the file
		// (1M offsets in an 8 MiB file), mostly over zeros and stale
		// records' bytes.
		if int64(len(b))-p < journalRecHdrLen {
			continue
		}
		if n := binary.LittleEndian.Uint32(b[p:]); !plausibleLen(n) || recordLen(int(n)) > int64(len(b))-p {
			continue
		}
		if _, err := readRecordWith(b, k, p, nil); !errors.Is(err, errNoRecord) {
			return journalScan{}, fmt.Errorf("%w: record at offset %d is damaged and a valid record follows at offset %d", raft.ErrCorrupt, off, p)
		}
	}
	return sc, nil
}
