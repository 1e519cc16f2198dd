package codec

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"time"
)

// TestStreamReaderMatchesReadObjects reads the same stream of objects with
// both readers, through readers that return one byte or half the request
// at a time.
func TestStreamReaderMatchesReadObjects(t *testing.T) {
	var stream []byte
	objs := []interface{}{
		"x", 5, -3, nil, true, 1.5, []byte(nil), make([]byte, 70000),
		map[string]interface{}{"a": []interface{}{1, "b", nil}, "t": time.Unix(5, 6)},
		[]string{"p", "q"}, uint64(1) << 50,
	}
	for _, o := range objs {
		b, err := Encode(o)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, b...)
	}
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"whole": func(r io.Reader) io.Reader { return r },
		"one":   iotest.OneByteReader,
		"half":  iotest.HalfReader,
	} {
		t.Run(name, func(t *testing.T) {
			br := bufio.NewReader(bytes.NewReader(stream))
			sr := NewStreamReader(wrap(bytes.NewReader(stream)))
			var a, b []byte
			for i := range objs {
				var err1, err2 error
				a, err1 = ReadObjects(br, a, 1, 1<<20)
				if i%2 == 0 {
					b = nil // a fresh buffer, as the server does after a handoff
				}
				b, err2 = sr.ReadObjects(b, 1, 1<<20)
				if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
					t.Fatalf("object %d: %v %v\n%x\n%x", i, err1, err2, a, b)
				}
			}
			if _, err := sr.ReadObjects(b, 1, 100); err != io.EOF {
				t.Fatalf("at end: %v", err)
			}
		})
	}
}

func TestStreamReaderLimits(t *testing.T) {
	for _, in := range [][]byte{
		{0xdb, 0xff, 0xff, 0xff, 0xff},
		{0xdd, 0xff, 0xff, 0xff, 0xff},
		{0x91, 0xdb, 0x00, 0x01, 0x00, 0x01},
	} {
		sr := NewStreamReader(bytes.NewReader(in))
		if _, err := sr.ReadObjects(nil, 1, 64<<10); !errors.Is(err, ErrObjectTooLarge) {
			t.Fatalf("%x: %v", in, err)
		}
	}
	sr := NewStreamReader(bytes.NewReader([]byte{0x92, 0x01}))
	if _, err := sr.ReadObjects(nil, 1, 100); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated: %v", err)
	}
	sr = NewStreamReader(bytes.NewReader([]byte{0x91, 0xc1}))
	if _, err := sr.ReadObjects(nil, 1, 100); !errors.Is(err, ErrMalformed) {
		t.Fatalf("0xc1: %v", err)
	}
}

func TestStreamReaderFramePrefix(t *testing.T) {
	a, _ := Encode(map[string]interface{}{"k": make([]byte, 5000)})
	b, _ := Encode("x")
	stream := append(append(append([]byte{7}, a...), 9), b...)
	for _, wrap := range []func(io.Reader) io.Reader{iotest.OneByteReader, iotest.HalfReader} {
		sr := NewStreamReader(wrap(bytes.NewReader(stream)))
		calls := 0
		f, err := sr.ReadFrame(nil, 1, 1, len(a), func() { calls++ })
		if err != nil || f[0] != 7 || !bytes.Equal(f[1:], a) || calls != 1 {
			t.Fatalf("first frame: %v calls=%d", err, calls)
		}
		f, err = sr.ReadFrame(f, 1, 1, 10, func() { calls++ })
		if err != nil || f[0] != 9 || !bytes.Equal(f[1:], b) || calls != 2 {
			t.Fatalf("second frame: %v calls=%d %x", err, calls, f)
		}
		if _, err := sr.ReadFrame(f, 1, 1, 10, func() { calls++ }); err != io.EOF || calls != 2 {
			t.Fatalf("at end: %v calls=%d", err, calls)
		}
	}
}
