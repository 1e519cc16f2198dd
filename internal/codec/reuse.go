package codec

import (
	"fmt"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// BytesDecoder decodes msgpack from byte slices with one reusable decoder.
// It is not safe for concurrent use. The zero value is ready to use.
//
// Decoding copies every []byte field out of the input, and the decoder
// drops its reference to the input before returning, so the input buffer
// may be reused or freed once Decode returns.
type BytesDecoder struct {
	d *codec.Decoder
}

// Decode decodes one object from b into out (a pointer). It never panics.
func (bd *BytesDecoder) Decode(b []byte, out interface{}) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("msgpack decode: %v", r)
		}
	}()
	if bd.d == nil {
		bd.d = codec.NewDecoderBytes(b, decHandle)
	} else {
		bd.d.ResetBytes(b)
	}
	defer bd.d.ResetBytes(nil)
	return bd.d.Decode(out)
}

// DecodeMany decodes consecutive objects from b into outs, in order.
func (bd *BytesDecoder) DecodeMany(b []byte, outs ...interface{}) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("msgpack decode: %v", r)
		}
	}()
	if bd.d == nil {
		bd.d = codec.NewDecoderBytes(b, decHandle)
	} else {
		bd.d.ResetBytes(b)
	}
	defer bd.d.ResetBytes(nil)
	for _, out := range outs {
		if err := bd.d.Decode(out); err != nil {
			return err
		}
	}
	return nil
}

// NewStreamEncoder returns an encoder writing to w. With newTimeFormat
// false (the default everywhere) it is exactly Encode's format; with true,
// time.Time is written in the msgpack timestamp layout instead of
// MarshalBinary bytes (hashicorp's MsgpackUseNewTimeFormat).
func NewStreamEncoder(w io.Writer, newTimeFormat bool) *codec.Encoder {
	if !newTimeFormat {
		return codec.NewEncoder(w, encHandle)
	}
	return codec.NewEncoder(w, newTimeEncHandle)
}

var newTimeEncHandle = &codec.MsgpackHandle{}
