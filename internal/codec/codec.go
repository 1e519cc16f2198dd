// Package codec holds the msgpack handles Pontoon shares with hashicorp/raft
// for the wire and the disk: old-spec msgpack (no bin, no str8), structs as
// maps keyed by field name, time.Time written through MarshalBinary
// (TimeNotBuiltin). Decoding uses a plain handle, which reads both the old and
// the new spec.
//
// Decoding never panics on malformed input: the msgpack library recovers its
// internal panics and returns them as errors, and Decode also guards against
// a panic escaping. Callers that decode untrusted input should bound the input
// size before decoding (the transport does).
package codec

import (
	"bytes"
	"fmt"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// MaxInitLen bounds the container preallocation a declared length may cause,
// so a tiny frame claiming a huge array cannot make the decoder allocate it up
// front.
const MaxInitLen = 64 * 1024

// NewEncodeHandle returns the handle used to encode structs for the wire and
// for the log store.
func NewEncodeHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.TimeNotBuiltin = true
	return h
}

// NewDecodeHandle returns the handle used to decode.
func NewDecodeHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.MaxInitLen = MaxInitLen
	return h
}

var (
	encHandle = NewEncodeHandle()
	decHandle = NewDecodeHandle()
)

// Encode returns the msgpack encoding of v.
func Encode(v interface{}) ([]byte, error) {
	var buf bytes.Buffer
	if err := codec.NewEncoder(&buf, encHandle).Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// EncodeTo writes the msgpack encoding of v to w.
func EncodeTo(w io.Writer, v interface{}) error {
	return codec.NewEncoder(w, encHandle).Encode(v)
}

// Decode decodes b into out (a pointer).
func Decode(b []byte, out interface{}) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("msgpack decode: %v", r)
		}
	}()
	return codec.NewDecoderBytes(b, decHandle).Decode(out)
}

// MaxObjectSize bounds the object DecodeFrom reads.
const MaxObjectSize = 64 << 20

// DecodeFrom decodes one object from r into out, reading exactly its bytes
// and at most MaxObjectSize of them (ErrObjectTooLarge beyond).
//
// NB: go-msgpack's stream decoder allocates a declared length before reading
// it (a 17-byte input claiming a 256 MiB time string allocates 256 MiB), so
// DecodeFrom delimits the object with ReadObjects first and decodes the
// bytes.
func DecodeFrom(r io.Reader, out interface{}) error {
	return DecodeFromLimited(r, out, MaxObjectSize)
}

// DecodeFromLimited is DecodeFrom with a size limit in bytes.
func DecodeFromLimited(r io.Reader, out interface{}, limit int) error {
	br, ok := r.(ByteReader)
	if !ok {
		br = exactReader{r}
	}
	b, err := ReadObjects(br, nil, 1, limit)
	if err != nil {
		return err
	}
	return Decode(b, out)
}

// exactReader reads byte by byte when asked for one, so it never consumes
// more of r than the object.
type exactReader struct{ io.Reader }

func (e exactReader) ReadByte() (byte, error) {
	var b [1]byte
	if _, err := io.ReadFull(e.Reader, b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}
