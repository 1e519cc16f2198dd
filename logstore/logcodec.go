package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/internal/codec"
)

// This file holds the encoding of a log entry as a BoltStore value: the
// msgpack map internal/codec writes for a raft.Log (and raft-boltdb/v2 and
// hashicorp/raft with their default TimeNotBuiltin handle), produced and read
// by hand so the hot paths neither reflect nor allocate per entry.
//
// The canonical layout, keys in byte order:
//
//	86                                  fixmap(6)
//	aa "AppendedAt"  af <15 bytes>      time.MarshalBinary as a raw string
//	a4 "Data"        <raw or c0>        old-spec raw string, nil as c0
//	aa "Extensions"  <raw or c0>
//	a5 "Index"       <uint>             smallest msgpack uint form
//	a4 "Term"        <uint>
//	a4 "Type"        <uint>
//
// decodeLog reads that layout directly and hands anything else (other key
// orders, the new time format, bin types, unknown keys, values written by
// other encoders) to the generic msgpack decoder, so every value a
// hashicorp-compatible writer produces still decodes.

const (
	keyAppendedAt = "\xaaAppendedAt"
	keyData       = "\xa4Data"
	keyExtensions = "\xaaExtensions"
	keyIndex      = "\xa5Index"
	keyTerm       = "\xa4Term"
	keyType       = "\xa4Type"

	mpNil    = 0xc0
	mpFixMap = 0x80
	mpFixStr = 0xa0
	mpStr16  = 0xda
	mpStr32  = 0xdb
	mpUint8  = 0xcc
	mpUint16 = 0xcd
	mpUint32 = 0xce
	mpUint64 = 0xcf
)

// appendLog appends the canonical encoding of l to dst. It allocates only if
// dst must grow.
func appendLog(dst []byte, l *raft.Log) ([]byte, error) {
	dst = append(dst, mpFixMap|6)
	dst = append(dst, keyAppendedAt...)
	// time.MarshalBinary output is 15 or 16 bytes: always a fixstr. Reserve
	// the header byte and patch in the length once the time is appended.
	hdr := len(dst)
	dst = append(dst, mpFixStr)
	var err error
	dst, err = l.AppendedAt.AppendBinary(dst)
	if err != nil {
		return dst[:hdr], fmt.Errorf("encoding AppendedAt of log %d: %w", l.Index, err)
	}
	n := len(dst) - hdr - 1
	if n >= 32 {
		return dst[:hdr], fmt.Errorf("encoding AppendedAt of log %d: %d bytes", l.Index, n)
	}
	dst[hdr] = mpFixStr | byte(n)
	dst = append(dst, keyData...)
	dst = appendRaw(dst, l.Data)
	dst = append(dst, keyExtensions...)
	dst = appendRaw(dst, l.Extensions)
	dst = append(dst, keyIndex...)
	dst = appendUint(dst, l.Index)
	dst = append(dst, keyTerm...)
	dst = appendUint(dst, l.Term)
	dst = append(dst, keyType...)
	dst = appendUint(dst, uint64(l.Type))
	return dst, nil
}

// appendRaw appends b as an old-spec msgpack raw string, nil as c0.
func appendRaw(dst, b []byte) []byte {
	switch n := len(b); {
	case b == nil:
		return append(dst, mpNil)
	case n < 32:
		dst = append(dst, mpFixStr|byte(n))
	case n < 1<<16:
		dst = append(dst, mpStr16)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, mpStr32)
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	return append(dst, b...)
}

// appendUint appends v in the smallest msgpack unsigned form.
func appendUint(dst []byte, v uint64) []byte {
	switch {
	case v < 0x80:
		return append(dst, byte(v))
	case v <= 0xff:
		return append(dst, mpUint8, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, mpUint16), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(dst, mpUint32), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(dst, mpUint64), v)
	}
}

// errNotCanonical makes decodeLog fall back to the generic decoder.
var errNotCanonical = errors.New("not canonical")

// decodeLog decodes a stored value into out. It never panics. out is only
// written on success, and its slices never alias b (which may be bbolt's
// mmapped memory).
func decodeLog(b []byte, out *raft.Log) error {
	if err := decodeCanonical(b, out); err == nil {
		return nil
	}
	var l raft.Log
	if err := codec.Decode(b, &l); err != nil {
		return err
	}
	*out = l
	return nil
}

// decodeCanonical decodes the layout appendLog writes, and returns
// errNotCanonical for anything else. It allocates once, for Data and
// Extensions together.
func decodeCanonical(b []byte, out *raft.Log) error {
	r := reader{b: b}
	if r.byte() != mpFixMap|6 || !r.key(keyAppendedAt) {
		return errNotCanonical
	}
	var at time.Time
	tb := r.raw()
	if r.bad || (len(tb) != 15 && len(tb) != 16) || at.UnmarshalBinary(tb) != nil {
		return errNotCanonical
	}
	if !r.key(keyData) {
		return errNotCanonical
	}
	data, dataNil := r.rawOrNil()
	if !r.key(keyExtensions) {
		return errNotCanonical
	}
	ext, extNil := r.rawOrNil()
	if !r.key(keyIndex) {
		return errNotCanonical
	}
	index := r.uint()
	if !r.key(keyTerm) {
		return errNotCanonical
	}
	term := r.uint()
	if !r.key(keyType) {
		return errNotCanonical
	}
	typ := r.uint()
	if r.bad || typ > 0xff || len(r.b) != 0 {
		return errNotCanonical
	}
	var l raft.Log
	l.Index, l.Term, l.Type, l.AppendedAt = index, term, raft.LogType(typ), at
	// The generic decoder turns c0 into nil and an empty raw string into an
	// empty, non-nil slice; keep that distinction.
	buf := make([]byte, len(data)+len(ext))
	copy(buf, data)
	copy(buf[len(data):], ext)
	if !dataNil {
		l.Data = buf[:len(data):len(data)]
	}
	if !extNil {
		l.Extensions = buf[len(data):]
	}
	*out = l
	return nil
}

// reader walks a msgpack value. Any malformed or unexpected input sets bad
// and makes further reads return zero values.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) byte() byte {
	if r.bad || len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) take(n uint64) []byte {
	if r.bad || uint64(len(r.b)) < n {
		r.bad = true
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// key consumes k if the input starts with it.
func (r *reader) key(k string) bool {
	if r.bad || len(r.b) < len(k) || string(r.b[:len(k)]) != k {
		r.bad = true
		return false
	}
	r.b = r.b[len(k):]
	return true
}

// raw reads an old-spec raw string.
func (r *reader) raw() []byte {
	c := r.byte()
	switch {
	case c&0xe0 == mpFixStr:
		return r.take(uint64(c & 0x1f))
	case c == mpStr16:
		n := r.take(2)
		if r.bad {
			return nil
		}
		return r.take(uint64(binary.BigEndian.Uint16(n)))
	case c == mpStr32:
		n := r.take(4)
		if r.bad {
			return nil
		}
		return r.take(uint64(binary.BigEndian.Uint32(n)))
	}
	r.bad = true
	return nil
}

// rawOrNil reads a raw string or c0 (reported as isNil).
func (r *reader) rawOrNil() (p []byte, isNil bool) {
	if !r.bad && len(r.b) > 0 && r.b[0] == mpNil {
		r.b = r.b[1:]
		return nil, true
	}
	return r.raw(), false
}

// uint reads an unsigned integer in any of msgpack's unsigned forms.
func (r *reader) uint() uint64 {
	c := r.byte()
	switch {
	case c < 0x80:
		return uint64(c)
	case c == mpUint8:
		return uint64(r.byte())
	case c == mpUint16:
		if p := r.take(2); !r.bad {
			return uint64(binary.BigEndian.Uint16(p))
		}
	case c == mpUint32:
		if p := r.take(4); !r.bad {
			return uint64(binary.BigEndian.Uint32(p))
		}
	case c == mpUint64:
		if p := r.take(8); !r.bad {
			return binary.BigEndian.Uint64(p)
		}
	default:
		r.bad = true
	}
	return 0
}
