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

// readChunk is how much a buffer grows at a time while a long string
// arrives, so the memory held follows the bytes actually received, not the
// length a peer claims.
const readChunk = 64 * 1024

// tag describes what follows a msgpack type byte.
type tag struct {
	// skip is the number of raw bytes after the tag (and after the length,
	// if lenSz > 0, in which case it is added to the decoded length).
	skip uint64
	// lenSz is the size of a big-endian length after the tag (0, 1, 2, 4).
	lenSz int
	// kind says how a decoded length counts: 's' bytes, 'a' array
	// elements, 'm' map pairs.
	kind byte
	// objects is the number of nested objects that follow (fixarray and
	// fixmap).
	objects uint64
}

// parseTag describes type byte b, or fails for 0xc1.
func parseTag(b byte) (tag, error) {
	switch {
	case b <= 0x7f, b >= 0xe0, b == 0xc0, b == 0xc2, b == 0xc3:
		return tag{}, nil
	case b >= 0x80 && b <= 0x8f:
		return tag{objects: 2 * uint64(b&0x0f)}, nil
	case b >= 0x90 && b <= 0x9f:
		return tag{objects: uint64(b & 0x0f)}, nil
	case b >= 0xa0 && b <= 0xbf:
		return tag{skip: uint64(b & 0x1f)}, nil
	}
	switch b {
	case 0xc4, 0xd9: // bin8, str8
		return tag{lenSz: 1, kind: 's'}, nil
	case 0xc5, 0xda: // bin16, str16
		return tag{lenSz: 2, kind: 's'}, nil
	case 0xc6, 0xdb: // bin32, str32
		return tag{lenSz: 4, kind: 's'}, nil
	case 0xc7: // ext8: length, then the ext type byte
		return tag{lenSz: 1, kind: 's', skip: 1}, nil
	case 0xc8:
		return tag{lenSz: 2, kind: 's', skip: 1}, nil
	case 0xc9:
		return tag{lenSz: 4, kind: 's', skip: 1}, nil
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return tag{skip: 4}, nil
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		return tag{skip: 8}, nil
	case 0xcc, 0xd0:
		return tag{skip: 1}, nil
	case 0xcd, 0xd1:
		return tag{skip: 2}, nil
	case 0xd4: // fixext: type byte + data
		return tag{skip: 2}, nil
	case 0xd5:
		return tag{skip: 3}, nil
	case 0xd6:
		return tag{skip: 5}, nil
	case 0xd7:
		return tag{skip: 9}, nil
	case 0xd8:
		return tag{skip: 17}, nil
	case 0xdc:
		return tag{lenSz: 2, kind: 'a'}, nil
	case 0xdd:
		return tag{lenSz: 4, kind: 'a'}, nil
	case 0xde:
		return tag{lenSz: 2, kind: 'm'}, nil
	case 0xdf:
		return tag{lenSz: 4, kind: 'm'}, nil
	}
	return tag{}, fmt.Errorf("%w: byte 0x%02x", ErrMalformed, b)
}

// apply adds a decoded length to the tag's counts.
func (t *tag) apply(l uint64) {
	switch t.kind {
	case 's':
		t.skip += l
	case 'a':
		t.objects += l
	case 'm':
		t.objects += 2 * l
	}
}

func beUint(p []byte) uint64 {
	switch len(p) {
	case 1:
		return uint64(p[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(p))
	default:
		return uint64(binary.BigEndian.Uint32(p))
	}
}

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
		t, err := parseTag(b)
		if err != nil {
			return buf, err
		}
		if t.lenSz > 0 {
			if limit-len(buf) < t.lenSz {
				return buf, ErrObjectTooLarge
			}
			start := len(buf)
			buf = append(buf, 0, 0, 0, 0)[:start+t.lenSz]
			if _, err := io.ReadFull(r, buf[start:]); err != nil {
				return buf, unexpected(err)
			}
			t.apply(beUint(buf[start:]))
		}
		pending += t.objects
		if t.skip > 0 {
			if uint64(limit-len(buf)) < t.skip+pending {
				return buf, ErrObjectTooLarge
			}
			for skip := t.skip; skip > 0; {
				c := min(skip, readChunk)
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
