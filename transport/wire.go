package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/internal/codec"
)

// RPC type bytes: the first byte of every request frame. A request is
// [type][one msgpack object]; a reply is [msgpack error string][msgpack
// response], with no length prefix (hashicorp/raft's NetworkTransport).
const (
	rpcAppendEntries   uint8 = 0
	rpcRequestVote     uint8 = 1
	rpcInstallSnapshot uint8 = 2
	rpcTimeoutNow      uint8 = 3
	rpcRequestPreVote  uint8 = 4

	// rpcReadIndex is Pontoon's extension (WithReadIndex). It sits far
	// from hashicorp's small sequential values so a future hashicorp type
	// cannot collide with it; a hashicorp node closes the connection on it.
	rpcReadIndex uint8 = 0xc8
)

// errFallback tells a fast decoder's caller that the input is valid-looking
// msgpack outside the fast subset; the general decoder must handle it.
var errFallback = errors.New("fast decode not applicable")

// readFrame reads n msgpack objects into buf under the limit, mapping the
// codec's errors to the root sentinels.
func readFrame(r codec.ByteReader, buf []byte, n int, limit int) ([]byte, error) {
	out, err := codec.ReadObjects(r, buf, n, limit)
	return out, frameErr(err, limit)
}

func frameErr(err error, limit int) error {
	if err != nil {
		switch {
		case errors.Is(err, codec.ErrObjectTooLarge):
			return fmt.Errorf("%w: frame over %d bytes", raft.ErrMessageTooLarge, limit)
		case errors.Is(err, codec.ErrMalformed):
			return fmt.Errorf("%w: %v", raft.ErrCorrupt, err)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("%w: truncated frame: %v", raft.ErrCorrupt, err)
		}
	}
	return err
}

// --- msgpack writing, byte-identical to go-msgpack's old-spec encoder ---

func appendMapLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n < 65536:
		return append(b, 0xde, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
	}
}

func appendArrayLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n < 65536:
		return append(b, 0xdc, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
	}
}

// appendRawLen writes an old-spec raw (str) header: fixstr, str16, str32.
func appendRawLen(b []byte, n int) []byte {
	switch {
	case n < 32:
		return append(b, 0xa0|byte(n))
	case n < 65536:
		return append(b, 0xda, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
}

// appendBytes writes p as a raw string, or nil for a nil slice.
func appendBytes(b []byte, p []byte) []byte {
	if p == nil {
		return append(b, 0xc0)
	}
	return append(appendRawLen(b, len(p)), p...)
}

func appendString(b []byte, s string) []byte {
	return append(appendRawLen(b, len(s)), s...)
}

func appendUint(b []byte, v uint64) []byte {
	switch {
	case v <= math.MaxInt8:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return append(b, 0xcd, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
	}
}

func appendInt(b []byte, v int64) []byte {
	switch {
	case v > math.MaxInt8:
		switch {
		case v <= math.MaxInt16:
			return append(b, 0xd1, byte(v>>8), byte(v))
		case v <= math.MaxInt32:
			return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
		default:
			return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
		}
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return append(b, 0xd1, byte(uint16(v)>>8), byte(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
	}
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// --- msgpack reading of the fast subset, from a complete frame ---

// reader walks a frame that codec.ReadObjects has already delimited. Any
// form outside the fast subset returns errFallback.
type reader struct {
	b []byte
	i int
}

func (r *reader) next() (byte, error) {
	if r.i >= len(r.b) {
		return 0, errFallback
	}
	c := r.b[r.i]
	r.i++
	return c, nil
}

func (r *reader) take(n int) ([]byte, error) {
	if n < 0 || len(r.b)-r.i < n {
		return nil, errFallback
	}
	p := r.b[r.i : r.i+n : r.i+n]
	r.i += n
	return p, nil
}

// uintN reads an n-byte big-endian unsigned integer.
func (r *reader) uintN(n int) (uint64, error) {
	p, err := r.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range p {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func (r *reader) mapLen() (int, error) {
	c, err := r.next()
	if err != nil {
		return 0, err
	}
	switch {
	case c >= 0x80 && c <= 0x8f:
		return int(c & 0x0f), nil
	case c == 0xde:
		v, err := r.uintN(2)
		return int(v), err
	}
	return 0, errFallback
}

// arrayLen reads an array header; nil reports -1.
func (r *reader) arrayLen() (int, error) {
	c, err := r.next()
	if err != nil {
		return 0, err
	}
	switch {
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f), nil
	case c == 0xc0:
		return -1, nil
	case c == 0xdc:
		v, err := r.uintN(2)
		return int(v), err
	case c == 0xdd:
		v, err := r.uintN(4)
		return int(v), err
	}
	return 0, errFallback
}

// raw reads a str or bin value, returning a view into the frame; nil for
// msgpack nil.
func (r *reader) raw() ([]byte, error) {
	c, err := r.next()
	if err != nil {
		return nil, err
	}
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c == 0xc0:
		return nil, nil
	case c == 0xc4 || c == 0xd9:
		n, err = r.uintN(1)
	case c == 0xc5 || c == 0xda:
		n, err = r.uintN(2)
	case c == 0xc6 || c == 0xdb:
		n, err = r.uintN(4)
	default:
		return nil, errFallback
	}
	if err != nil {
		return nil, err
	}
	p, err := r.take(int(n))
	if err != nil {
		return nil, err
	}
	return p, nil
}

// key reads a map key, which must be a string.
func (r *reader) key() ([]byte, error) {
	p, err := r.raw()
	if err == nil && p == nil {
		return nil, errFallback
	}
	return p, err
}

func (r *reader) uint() (uint64, error) {
	c, err := r.next()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return uint64(c), nil
	case c == 0xcc:
		return r.uintN(1)
	case c == 0xcd:
		return r.uintN(2)
	case c == 0xce:
		return r.uintN(4)
	case c == 0xcf:
		return r.uintN(8)
	}
	return 0, errFallback
}

// int reads a small signed integer (protocol and snapshot versions).
func (r *reader) int() (int64, error) {
	c, err := r.next()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c == 0xd0:
		v, err := r.uintN(1)
		return int64(int8(v)), err
	case c == 0xd1:
		v, err := r.uintN(2)
		return int64(int16(v)), err
	}
	return 0, errFallback
}

func (r *reader) bool() (bool, error) {
	c, err := r.next()
	if err != nil {
		return false, err
	}
	switch c {
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	}
	return false, errFallback
}

// done reports an error unless the frame was consumed exactly.
func (r *reader) done() error {
	if r.i != len(r.b) {
		return errFallback
	}
	return nil
}

// byteSlab copies many small views out of a reused frame buffer with one
// allocation. Empty non-nil views stay empty and non-nil, as go-msgpack
// decodes them.
type byteSlab struct {
	buf []byte
}

func (s *byteSlab) copy(p []byte) []byte {
	if p == nil {
		return nil
	}
	start := len(s.buf)
	s.buf = append(s.buf, p...)
	return s.buf[start:len(s.buf):len(s.buf)]
}
