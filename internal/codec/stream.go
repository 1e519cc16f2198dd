package codec

import (
	"io"
)

// minFrameCap is the smallest buffer StreamReader reads into, so small
// messages take one read.
const minFrameCap = 4096

// readAhead bounds how far past the bytes it needs StreamReader reads: bytes
// read past the end of an object are copied once more into the next
// buffer, so the window is kept small, yet wide enough that a message of
// small fields takes few reads.
const readAhead = 16 * 1024

// StreamReader reads msgpack objects from a stream (a connection) straight
// into caller-supplied buffers, without an intermediate bufio copy: bytes
// arrive from the underlying reader into the spare capacity of the buffer
// being filled. Bytes read past the end of an object are kept and served
// first by the next call. It is not safe for concurrent use.
type StreamReader struct {
	r io.Reader
	// pend holds bytes read ahead and not yet consumed; it points into
	// spare or into the tail of the last buffer returned.
	pend  []byte
	spare []byte
	// lastLen is the size of the last objects read.
	lastLen int
}

// NewStreamReader returns a StreamReader over r.
func NewStreamReader(r io.Reader) *StreamReader {
	return &StreamReader{r: r}
}

// Read implements io.Reader: read-ahead bytes first, then the stream.
func (s *StreamReader) Read(p []byte) (int, error) {
	if len(s.pend) > 0 {
		n := copy(p, s.pend)
		s.pend = s.pend[n:]
		return n, nil
	}
	return s.r.Read(p)
}

// ReadObjects reads exactly n consecutive msgpack objects into dst[:0] and
// returns the buffer, with ReadObjects' (the function's) limits and errors.
// The buffer grows by doubling as bytes arrive, never past what the limit
// allows plus one read of slack; a buffer whose capacity is already right
// takes no allocation. The result's capacity past its length may hold
// read-ahead bytes, which StreamReader keeps a copy of.
func (s *StreamReader) ReadObjects(dst []byte, n int, limit int) ([]byte, error) {
	return s.ReadFrame(dst, 0, n, limit, nil)
}

// ReadFrame is ReadObjects for a frame that starts with prefix raw bytes
// (a type byte): it returns the prefix and the n objects after it in one
// buffer, so a whole frame can arrive in one read. limit bounds the
// objects, not the prefix. onFirst, if not nil, is called once the first
// byte of the frame is in (to switch from an idle deadline to a frame
// deadline). io.EOF means the stream ended before the first byte.
func (s *StreamReader) ReadFrame(dst []byte, prefix, n int, limit int, onFirst func()) ([]byte, error) {
	buf := append(dst[:0], s.pend...)
	s.pend = nil
	if onFirst != nil && len(buf) > 0 {
		onFirst()
		onFirst = nil
	}
	limit += prefix
	pos := 0
	pending := uint64(n)

	// need makes buf hold at least pos+k bytes, reading from the stream.
	need := func(k int) error {
		for len(buf) < pos+k {
			if len(buf) == cap(buf) {
				c := max(2*cap(buf), minFrameCap)
				c = min(c, max(limit, pos+k))
				if c <= cap(buf) {
					c = pos + k
				}
				nb := make([]byte, len(buf), c)
				copy(nb, buf)
				buf = nb
			}
			// Read what is needed plus the read-ahead window, or up to the
			// size of the previous message if that is further: messages of a
			// steady size then arrive in one read with little left over.
			m, err := s.r.Read(buf[len(buf):min(cap(buf), max(pos+k+readAhead, s.lastLen))])
			buf = buf[:len(buf)+m]
			if m > 0 && onFirst != nil {
				onFirst()
				onFirst = nil
			}
			if m == 0 {
				if err == nil {
					err = io.ErrNoProgress
				}
				if err == io.EOF && pos == 0 && len(buf) == 0 {
					return io.EOF
				}
				return unexpected(err)
			}
		}
		return nil
	}
	finish := func(err error) ([]byte, error) {
		s.lastLen = pos
		if len(buf) > pos {
			left := buf[pos:]
			if cap(s.spare) > 256<<10 && len(left) < cap(s.spare)/4 {
				s.spare = nil // do not keep a large buffer for a small tail
			}
			s.spare = append(s.spare[:0], left...)
			s.pend = s.spare
		}
		return buf[:pos], err
	}

	if prefix > 0 {
		if err := need(prefix); err != nil {
			return finish(err)
		}
		pos = prefix
	}
	for pending > 0 {
		if uint64(limit-pos) < pending {
			return finish(ErrObjectTooLarge)
		}
		if err := need(1); err != nil {
			return finish(err)
		}
		b := buf[pos]
		pos++
		pending--
		t, err := parseTag(b)
		if err != nil {
			return finish(err)
		}
		if t.lenSz > 0 {
			if limit-pos < t.lenSz {
				return finish(ErrObjectTooLarge)
			}
			if err := need(t.lenSz); err != nil {
				return finish(err)
			}
			t.apply(beUint(buf[pos : pos+t.lenSz]))
			pos += t.lenSz
		}
		pending += t.objects
		if t.skip > 0 {
			if uint64(limit-pos) < t.skip+pending {
				return finish(ErrObjectTooLarge)
			}
			if err := need(int(t.skip)); err != nil {
				return finish(err)
			}
			pos += int(t.skip)
		}
	}
	return finish(nil)
}
