package codec

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"
)

func TestReadObjectsDelimits(t *testing.T) {
	type pair struct {
		A []byte
		B map[string]interface{}
		C []interface{}
		T time.Time
		F float64
		I int64
	}
	v := pair{A: make([]byte, 70000), B: map[string]interface{}{"x": 1, "y": "z"}, C: []interface{}{nil, true, -5, uint64(1) << 40}, T: time.Unix(1, 2), F: 1.5, I: -1 << 40}
	one, err := Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	two, _ := Encode("tail")
	stream := append(append([]byte{}, one...), two...)
	r := bufio.NewReader(bytes.NewReader(stream))
	got, err := ReadObjects(r, nil, 1, 1<<20)
	if err != nil || !bytes.Equal(got, one) {
		t.Fatalf("first object: %v (len %d, want %d)", err, len(got), len(one))
	}
	got, err = ReadObjects(r, got, 1, 1<<20)
	if err != nil || !bytes.Equal(got, two) {
		t.Fatalf("second object: %v %x", err, got)
	}
	if _, err := ReadObjects(r, got, 1, 1<<20); err != io.EOF {
		t.Fatalf("at end: %v, want io.EOF", err)
	}
}

// TestReadObjectsHugeClaims checks that tiny inputs claiming 4 GiB strings,
// arrays or maps fail at once and allocate almost nothing.
func TestReadObjectsHugeClaims(t *testing.T) {
	inputs := [][]byte{
		{0xdb, 0xff, 0xff, 0xff, 0xff},       // str32
		{0xc6, 0xff, 0xff, 0xff, 0xff},       // bin32
		{0xdd, 0xff, 0xff, 0xff, 0xff},       // array32
		{0xdf, 0xff, 0xff, 0xff, 0xff},       // map32
		{0xc9, 0xff, 0xff, 0xff, 0xff, 0x01}, // ext32
		{0x91, 0xdb, 0x00, 0x01, 0x00, 0x01}, // just over a 64 KiB limit, nested
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, in := range inputs {
		_, err := ReadObjects(bufio.NewReader(bytes.NewReader(in)), nil, 1, 64<<10)
		if !errors.Is(err, ErrObjectTooLarge) {
			t.Fatalf("%x: %v, want ErrObjectTooLarge", in, err)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("huge claims allocated %d bytes", grew)
	}
}

func TestReadObjectsMalformedAndTruncated(t *testing.T) {
	if _, err := ReadObjects(bufio.NewReader(bytes.NewReader([]byte{0x91, 0xc1})), nil, 1, 100); !errors.Is(err, ErrMalformed) {
		t.Fatalf("0xc1: %v", err)
	}
	if _, err := ReadObjects(bufio.NewReader(bytes.NewReader([]byte{0x92, 0x01})), nil, 1, 100); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated: %v", err)
	}
}

// TestBytesDecoderCopies checks that decoded []byte fields do not alias the
// input, which callers reuse.
func TestBytesDecoderCopies(t *testing.T) {
	type s struct{ B []byte }
	in, _ := Encode(s{B: []byte("hello")})
	var bd BytesDecoder
	var out s
	if err := bd.Decode(in, &out); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 0
	}
	if string(out.B) != "hello" {
		t.Fatalf("decoded bytes alias the input: %q", out.B)
	}
}

// TestDecodeFromBounded: a 17-byte stream claiming a 256 MiB time string
// must not make DecodeFrom allocate it (go-msgpack's stream decoder would).
func TestDecodeFromBounded(t *testing.T) {
	type L struct{ AppendedAt time.Time }
	in := []byte{0x81, 0xaa, 'A', 'p', 'p', 'e', 'n', 'd', 'e', 'd', 'A', 't', 0xdb, 0x10, 0x00, 0x00, 0x00}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var l L
	if err := DecodeFromLimited(bytes.NewReader(in), &l, 1<<20); !errors.Is(err, ErrObjectTooLarge) {
		t.Fatalf("err = %v, want ErrObjectTooLarge", err)
	}
	if err := DecodeFrom(bytes.NewReader(in), &l); err == nil {
		t.Fatal("truncated 256 MiB claim decoded")
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Fatalf("allocated %d MiB", grew>>20)
	}
	// A well-formed stream still decodes, object by object, reading no
	// further than each object.
	a, _ := Encode(L{AppendedAt: time.Unix(7, 0).UTC()})
	b, _ := Encode("next")
	r := bytes.NewReader(append(a, b...))
	var got L
	var s string
	if err := DecodeFrom(r, &got); err != nil || !got.AppendedAt.Equal(time.Unix(7, 0)) {
		t.Fatalf("first: %v %v", err, got)
	}
	if err := DecodeFrom(r, &s); err != nil || s != "next" {
		t.Fatalf("second: %v %q", err, s)
	}
}
