package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// This file holds SegmentStore's file formats: the segment header, the
// payloads of its records and the state file. It does no I/O.
//
// A segment file is preallocated (fallocated, or a removed segment's file
// reused) and starts with a header:
//
//	off 0   magic "PNTNSEGM"                               8 bytes
//	off 8   format version (1)                             u32
//	off 12  flags (0)                                      u32
//	off 16  store id                                       u64
//	off 24  sequence number (the file's name)              u64
//	off 32  reserved (0)                                   u64
//	off 40  file size                                      u64
//	off 48  CRC-32C of bytes 0..47                         u32
//
// Records and end marks follow from journalDataStart exactly as in a
// journal file (journal.go), with the store id and the sequence number in
// place of the journal id and generation: the CRCs of every record and
// end mark cover them, so the bytes of a reused file never validate in its
// new life, and the scanner tells a torn tail from damage in the same way.
// The record's tx field is 0. A record's payload is one of:
//
//	entries   first index u64 (≥ 1), count u32 (≥ 1), then count entries,
//	          each a u32 length and the entry (appendLog): the journal's
//	          payload, for a batch of consecutive indexes
//	indexed   u64 0, u32 segIndexed, u32 count (≥ 1), then count entries,
//	          each index u64, length u32, the entry: a batch with gaps
//	delete    u64 0, u32 segDelete, min u64, max u64 (min ≤ max)
//
// each optionally followed by 8 zero bytes of sector padding. Replaying
// the records of the segments in order (by sequence number, then offset)
// rebuilds the log: a later entry replaces an earlier one of its index,
// a delete removes what is there. Every StoreLogs or DeleteRange is one
// record, written and fdatasynced in one write with its end mark, so each
// is atomic.
//
// The state file (segStateName) names the store, the oldest segment
// still needed and the newest one (written at each rotation, after the new
// segment and before its first record); it is replaced whole (written to a temporary
// name, fsynced, renamed, the directory fsynced):
//
//	off 0   magic "PNTNSSTA"                               8 bytes
//	off 8   format version (1)                             u32
//	off 12  store id                                       u64
//	off 20  lowest sequence number                         u64
//	off 28  highest sequence number                        u64
//	off 36  CRC-32C of bytes 0..35                         u32
//
// All integers are little-endian.

const (
	segMagic        = "PNTNSEGM"
	segVersion      = 1
	segStateMagic   = "PNTNSSTA"
	segStateVersion = 1
	segStateLen     = 40

	// segIndexed and segDelete are the kinds of a payload that starts
	// with a zero index.
	segIndexed = 2
	segDelete  = 1
)

// segHeader is the header of a segment file.
type segHeader struct {
	id, seq uint64
	size    int64
}

// key returns what the CRCs of the segment's records cover.
func (h segHeader) key() journalKey { return journalKey{h.id, h.seq} }

// appendSegHeader appends the header h: a journal file's layout with the
// segment magic.
func appendSegHeader(dst []byte, h segHeader) []byte {
	return appendFileHeader(dst, segMagic, segVersion, h.id, h.seq, 0, h.size)
}

// parseSegHeader returns the header at the start of b, or an error saying
// what is wrong with it.
func parseSegHeader(b []byte) (segHeader, error) {
	if len(b) < journalHeaderLen || string(b[:len(segMagic)]) != segMagic {
		return segHeader{}, errors.New("no segment header (magic missing)")
	}
	if crc32.Checksum(b[:48], crcTable) != binary.LittleEndian.Uint32(b[48:]) {
		return segHeader{}, errors.New("segment header checksum mismatch")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != segVersion || binary.LittleEndian.Uint32(b[12:]) != 0 {
		return segHeader{}, fmt.Errorf("segment format version %d, want %d", v, segVersion)
	}
	h := segHeader{
		id:   binary.LittleEndian.Uint64(b[16:]),
		seq:  binary.LittleEndian.Uint64(b[24:]),
		size: int64(binary.LittleEndian.Uint64(b[40:])),
	}
	if h.size < journalDataStart+journalMarkLen {
		return segHeader{}, fmt.Errorf("segment header says %d bytes", h.size)
	}
	return h, nil
}

// segEntry is one entry of a record: its index and where its encoded
// bytes are in the record's payload.
type segEntry struct {
	index    uint64
	off, len int
}

// segPayload is a parsed record payload: entries (ents) or a delete.
type segPayload struct {
	ents     []segEntry
	del      bool
	min, max uint64
}

// parseSegPayload parses a record payload into dst (reusing its ents). It
// never panics.
func parseSegPayload(p []byte, dst *segPayload) error {
	dst.ents, dst.del, dst.min, dst.max = dst.ents[:0], false, 0, 0
	if len(p) < journalPayloadMin {
		return errors.New("short payload")
	}
	first, kind := binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint32(p[8:])
	pos := journalPayloadMin
	if first != 0 {
		count := kind
		if count == 0 || first+uint64(count)-1 < first {
			return fmt.Errorf("index range %d+%d", first, count)
		}
		if uint64(count) > uint64(len(p)-pos)/4 {
			return fmt.Errorf("%d entries in %d bytes", count, len(p)-pos)
		}
		for i := uint32(0); i < count; i++ {
			n, err := segTake(p, &pos, 4)
			if err != nil {
				return fmt.Errorf("entry %d: %v", i, err)
			}
			at := pos
			if _, err := segTake(p, &pos, int(binary.LittleEndian.Uint32(n))); err != nil {
				return fmt.Errorf("entry %d: %v", i, err)
			}
			dst.ents = append(dst.ents, segEntry{index: first + uint64(i), off: at, len: pos - at})
		}
		return segPadding(p[pos:])
	}
	switch kind {
	case segDelete:
		b, err := segTake(p, &pos, 16)
		if err != nil {
			return fmt.Errorf("delete: %v", err)
		}
		dst.del, dst.min, dst.max = true, binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
		if dst.min > dst.max {
			return fmt.Errorf("delete of [%d, %d]", dst.min, dst.max)
		}
		return segPadding(p[pos:])
	case segIndexed:
		b, err := segTake(p, &pos, 4)
		if err != nil {
			return fmt.Errorf("indexed: %v", err)
		}
		count := binary.LittleEndian.Uint32(b)
		if count == 0 || uint64(count) > uint64(len(p)-pos)/12 {
			return fmt.Errorf("%d indexed entries in %d bytes", count, len(p)-pos)
		}
		for i := uint32(0); i < count; i++ {
			h, err := segTake(p, &pos, 12)
			if err != nil {
				return fmt.Errorf("entry %d: %v", i, err)
			}
			at := pos
			if _, err := segTake(p, &pos, int(binary.LittleEndian.Uint32(h[8:]))); err != nil {
				return fmt.Errorf("entry %d: %v", i, err)
			}
			dst.ents = append(dst.ents, segEntry{index: binary.LittleEndian.Uint64(h), off: at, len: pos - at})
		}
		return segPadding(p[pos:])
	}
	return fmt.Errorf("unknown record kind %d", kind)
}

// segTake returns the n bytes of p at *pos and advances *pos past them.
func segTake(p []byte, pos *int, n int) ([]byte, error) {
	if n < 0 || n > len(p)-*pos {
		return nil, fmt.Errorf("%d bytes wanted, %d left", n, len(p)-*pos)
	}
	b := p[*pos : *pos+n]
	*pos += n
	return b, nil
}

// segPadding checks what follows a payload's last field: nothing, or the
// sector padding.
func segPadding(rest []byte) error {
	if len(rest) == 0 || (len(rest) == journalSectorPad && string(rest) == string(make([]byte, journalSectorPad))) {
		return nil
	}
	return fmt.Errorf("%d bytes after the payload", len(rest))
}

// beginIndexedRecord starts a record of the indexed kind for count entries
// (each added with appendIndexedEntry), like beginRecord.
func beginIndexedRecord(dst []byte, count int) ([]byte, int) {
	start := len(dst)
	dst = append(dst, make([]byte, journalRecHdrLen)...)
	dst = binary.LittleEndian.AppendUint64(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, segIndexed)
	return binary.LittleEndian.AppendUint32(dst, uint32(count)), start
}

// appendIndexedEntry appends an encoded entry with its index; it returns
// the buffer and the offset of the entry's bytes in it.
func appendIndexedEntry(dst []byte, index uint64, enc []byte) ([]byte, int) {
	dst = binary.LittleEndian.AppendUint64(dst, index)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(enc)))
	return append(dst, enc...), len(dst)
}

// beginDeleteRecord appends a whole delete record's header space and
// payload, to be completed by finishRecord.
func beginDeleteRecord(dst []byte, min, max uint64) ([]byte, int) {
	start := len(dst)
	dst = append(dst, make([]byte, journalRecHdrLen)...)
	dst = binary.LittleEndian.AppendUint64(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, segDelete)
	dst = binary.LittleEndian.AppendUint64(dst, min)
	return binary.LittleEndian.AppendUint64(dst, max), start
}

// segState is the content of the state file.
type segState struct{ id, lowest, highest uint64 }

// encode returns the state file's bytes.
func (st segState) encode() []byte {
	b := make([]byte, 0, segStateLen)
	b = append(b, segStateMagic...)
	b = binary.LittleEndian.AppendUint32(b, segStateVersion)
	b = binary.LittleEndian.AppendUint64(b, st.id)
	b = binary.LittleEndian.AppendUint64(b, st.lowest)
	b = binary.LittleEndian.AppendUint64(b, st.highest)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

// parseSegState parses the state file's bytes.
func parseSegState(b []byte) (segState, error) {
	if len(b) != segStateLen || string(b[:len(segStateMagic)]) != segStateMagic {
		return segState{}, fmt.Errorf("not a segment state file (%d bytes)", len(b))
	}
	if crc32.Checksum(b[:36], crcTable) != binary.LittleEndian.Uint32(b[36:]) {
		return segState{}, errors.New("state checksum mismatch")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != segStateVersion {
		return segState{}, fmt.Errorf("state format version %d, want %d", v, segStateVersion)
	}
	st := segState{id: binary.LittleEndian.Uint64(b[12:]), lowest: binary.LittleEndian.Uint64(b[20:]),
		highest: binary.LittleEndian.Uint64(b[28:])}
	if st.id == 0 || st.lowest == 0 || st.highest < st.lowest {
		return segState{}, fmt.Errorf("state names store %d, segments %d to %d", st.id, st.lowest, st.highest)
	}
	return st, nil
}
