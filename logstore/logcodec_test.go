package logstore

import (
	"bytes"
	"math"
	"reflect"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/internal/codec"
)

func codecTestLogs() []*raft.Log {
	east := time.FixedZone("east", 5*3600+30*60)
	return []*raft.Log{
		{},
		{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte("x"),
			AppendedAt: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)},
		{Index: 127, Term: 128, Type: raft.LogConfiguration, Data: []byte{}, Extensions: []byte{},
			AppendedAt: time.Date(1999, 1, 1, 0, 0, 0, 1, east)},
		{Index: 255, Term: 256, Type: raft.LogBarrier, Data: bytes.Repeat([]byte("a"), 31), Extensions: []byte("e")},
		{Index: 65535, Term: 65536, Type: raft.LogType(255), Data: bytes.Repeat([]byte("b"), 32)},
		{Index: math.MaxUint32, Term: math.MaxUint32 + 1, Data: bytes.Repeat([]byte("c"), 65535)},
		{Index: math.MaxUint64, Term: math.MaxUint64, Data: bytes.Repeat([]byte("d"), 65536),
			AppendedAt: time.Unix(0, 0)},
	}
}

// TestAppendLogMatchesCodec checks the hand-written encoder against the
// shared msgpack handle byte for byte.
func TestAppendLogMatchesCodec(t *testing.T) {
	for _, l := range codecTestLogs() {
		want, err := codec.Encode(l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendLog(nil, l)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("log %d:\n got % x\nwant % x", l.Index, got, want)
		}
	}
}

// TestAppendLogFactSheetBytes pins the bytes from the reference capture.
func TestAppendLogFactSheetBytes(t *testing.T) {
	l := &raft.Log{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte("x"),
		AppendedAt: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)}
	want := []byte("\x86\xaaAppendedAt\xaf\x01\x00\x00\x00\x0e\xdd\x25\x74\x25\x00\x00\x00\x06\xff\xff" +
		"\xa4Data\xa1x\xaaExtensions\xc0\xa5Index\x02\xa4Term\x01\xa4Type\x00")
	got, err := appendLog(nil, l)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("\n got % x\nwant % x", got, want)
	}
}

// TestDecodeLogMatchesCodec checks the fast decoder against the generic one.
func TestDecodeLogMatchesCodec(t *testing.T) {
	for _, l := range codecTestLogs() {
		b, err := appendLog(nil, l)
		if err != nil {
			t.Fatal(err)
		}
		var fast raft.Log
		if err := decodeCanonical(b, &fast); err != nil {
			t.Fatalf("log %d: fast path refused canonical bytes: %v", l.Index, err)
		}
		var slow raft.Log
		if err := codec.Decode(b, &slow); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("log %d: fast %+v\nslow %+v", l.Index, fast, slow)
		}
	}
}

// TestDecodeLogFallback decodes encodings the fast path does not take.
func TestDecodeLogFallback(t *testing.T) {
	type reordered struct {
		Term  uint64
		Index uint64
		Data  []byte
	}
	b, err := codec.Encode(reordered{Term: 3, Index: 9, Data: []byte("hi")})
	if err != nil {
		t.Fatal(err)
	}
	l := raft.Log{Extensions: []byte("stale")}
	if err := decodeLog(b, &l); err != nil {
		t.Fatal(err)
	}
	if l.Index != 9 || l.Term != 3 || string(l.Data) != "hi" || l.Extensions != nil {
		t.Fatalf("got %+v", l)
	}
	for _, bad := range [][]byte{nil, {0x86}, {0xc1}, []byte("\x86\xaaAppendedAt\xaf")} {
		if err := decodeLog(bad, &l); err == nil {
			t.Fatalf("decodeLog(% x) succeeded", bad)
		}
	}
}

// TestStoreLogsAllocations checks the hot path allocates nothing per entry.
func TestStoreLogsEncodeAllocations(t *testing.T) {
	logs := codecTestLogs()[:5]
	buf := make([]byte, 0, 1<<20)
	allocs := testing.AllocsPerRun(100, func() {
		b := buf[:0]
		for _, l := range logs {
			b, _ = appendLog(b, l)
		}
	})
	if allocs != 0 {
		t.Fatalf("appendLog allocates %.1f times per batch", allocs)
	}
}

// FuzzDecodeLog feeds arbitrary values to the log decoder: it must never
// panic, the fast path must agree with the generic decoder whenever it
// accepts, and a decoded entry must survive a re-encode.
func FuzzDecodeLog(f *testing.F) {
	for _, l := range codecTestLogs() {
		b, _ := appendLog(nil, l)
		f.Add(b)
	}
	f.Add([]byte{0xc0})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var l raft.Log
		err := decodeLog(b, &l)
		var fast raft.Log
		if decodeCanonical(b, &fast) == nil {
			var slow raft.Log
			if err := codec.Decode(b, &slow); err != nil {
				t.Fatalf("fast path accepted what the codec refuses: %v", err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("fast %+v\nslow %+v", fast, slow)
			}
		}
		if err != nil {
			return
		}
		enc, err := appendLog(nil, &l)
		if err != nil {
			return // e.g. a time MarshalBinary cannot write
		}
		var again raft.Log
		if err := decodeLog(enc, &again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.Index != l.Index || again.Term != l.Term || again.Type != l.Type ||
			!bytes.Equal(again.Data, l.Data) || !bytes.Equal(again.Extensions, l.Extensions) ||
			!again.AppendedAt.Equal(l.AppendedAt) {
			t.Fatalf("round trip changed the entry: %+v vs %+v", l, again)
		}
	})
}
