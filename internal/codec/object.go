package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrObjectTooLarge is returned by ReadObjects when the objects would exceed
// the limit. Callers wrap it with their own sentinel (raft.ErrMessageTooLarge).
var ErrObjectTooLarge = errors.New("msgpack object exceeds size limit")

// ErrMalformed is returned by ReadObjects for a byte that starts no msgpack
// value (0xc1). Callers wrap it with raft.ErrCorrupt.
var ErrMalformed = errors.New("malformed msgpack")

// ByteReader is what ReadObjects reads from; *bufio.Reader implements it.
type ByteReader interface {
	io.Reader
	io.ByteReader
}

// readChunk is how much ReadObjects grows its buffer at a time while copying
// a long string, so the memory it holds follows the bytes actually received,
// not the length a peer claims.
const readChunk = 64 * 1024

// ReadObjects reads exactly n consecutive msgpack objects from r, appending
// their bytes to dst[:0], and returns the filled buffer. It decodes nothing:
// it only walks the type tags to find where the objects end.
//
// It never lets the result grow beyond limit bytes: a declared length or
// element count that cannot fit in what remains of the limit fails at once
// with ErrObjectTooLarge, before anything is allocated for it. A byte that
// starts no msgpack value gives ErrMalformed. Read errors are returned as is
// (io.EOF only when r ends before the first byte; io.ErrUnexpectedEOF
// inside an object).
//
// The result is safe to hand to a bytes decoder (BytesDecoder): it holds
// complete objects whose lengths were checked against the data present.
func ReadObjects(r ByteReader, dst []byte, n int, limit int) ([]byte, error) {
	buf := dst[:0]
	// pending counts the objects still to read. Each needs at least one
	// byte, so pending can never usefully exceed the room left.
	pending := uint64(n)
	first := true
	for pending > 0 {
		if uint64(limit-len(buf)) < pending {
			return buf, ErrObjectTooLarge
		}
		b, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && !first {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
		first = false
		buf = append(buf, b)
		pending--

		var (
			skip  uint64 // raw bytes that follow the tag (after any length)
			lenSz int    // size of a big-endian length that follows the tag
			kind  byte   // 's' string-like payload, 'a' array, 'm' map, 'e' ext
		)
		switch {
		case b <= 0x7f, b >= 0xe0, b == 0xc0, b == 0xc2, b == 0xc3:
			// fixint, nil, bool: nothing follows.
		case b >= 0x80 && b <= 0x8f:
			pending += 2 * uint64(b&0x0f)
		case b >= 0x90 && b <= 0x9f:
			pending += uint64(b & 0x0f)
		case b >= 0xa0 && b <= 0xbf:
			skip = uint64(b & 0x1f)
		default:
			switch b {
			case 0xc4, 0xd9: // bin8, str8
				lenSz, kind = 1, 's'
			case 0xc5, 0xda: // bin16, str16
				lenSz, kind = 2, 's'
			case 0xc6, 0xdb: // bin32, str32
				lenSz, kind = 4, 's'
			case 0xc7: // ext8
				lenSz, kind = 1, 'e'
			case 0xc8: // ext16
				lenSz, kind = 2, 'e'
			case 0xc9: // ext32
				lenSz, kind = 4, 'e'
			case 0xca, 0xce, 0xd2: // float32, uint32, int32
				skip = 4
			case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
				skip = 8
			case 0xcc, 0xd0: // uint8, int8
				skip = 1
			case 0xcd, 0xd1: // uint16, int16
				skip = 2
			case 0xd4: // fixext1 (type byte + 1)
				skip = 2
			case 0xd5:
				skip = 3
			case 0xd6:
				skip = 5
			case 0xd7:
				skip = 9
			case 0xd8:
				skip = 17
			case 0xdc: // array16
				lenSz, kind = 2, 'a'
			case 0xdd: // array32
				lenSz, kind = 4, 'a'
			case 0xde: // map16
				lenSz, kind = 2, 'm'
			case 0xdf: // map32
				lenSz, kind = 4, 'm'
			default: // 0xc1, never used
				return buf, fmt.Errorf("%w: byte 0x%02x", ErrMalformed, b)
			}
		}
		if lenSz > 0 {
			if limit-len(buf) < lenSz {
				return buf, ErrObjectTooLarge
			}
			start := len(buf)
			buf = append(buf, make([]byte, lenSz)...)
			if _, err := io.ReadFull(r, buf[start:]); err != nil {
				return buf, unexpected(err)
			}
			var l uint64
			switch lenSz {
			case 1:
				l = uint64(buf[start])
			case 2:
				l = uint64(binary.BigEndian.Uint16(buf[start:]))
			case 4:
				l = uint64(binary.BigEndian.Uint32(buf[start:]))
			}
			switch kind {
			case 's':
				skip = l
			case 'e':
				skip = l + 1 // the ext type byte
			case 'a':
				pending += l
			case 'm':
				pending += 2 * l
			}
		}
		if skip > 0 {
			if uint64(limit-len(buf)) < skip+pending {
				return buf, ErrObjectTooLarge
			}
			for skip > 0 {
				c := skip
				if c > readChunk {
					c = readChunk
				}
				start := len(buf)
				buf = grow(buf, int(c))
				if _, err := io.ReadFull(r, buf[start:]); err != nil {
					return buf, unexpected(err)
				}
				skip -= c
			}
		}
	}
	return buf, nil
}

// grow extends b by n bytes, reallocating by doubling when needed.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, 2*cap(b)+n)
	copy(nb, b)
	return nb
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
