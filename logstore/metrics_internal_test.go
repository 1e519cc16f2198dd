package logstore

import (
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// encodedLogSize, which raft.boltdb.logSize reports, is the length of the
// stored encoding.
func TestEncodedLogSize(t *testing.T) {
	east := time.FixedZone("odd", 3600+30) // an offset with seconds: 16-byte time
	var logs []*raft.Log
	for _, size := range []int{-1, 0, 1, 31, 32, 65535, 65536} {
		var data []byte
		if size >= 0 {
			data = make([]byte, size)
		}
		for _, idx := range []uint64{0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 1 << 40} {
			logs = append(logs,
				&raft.Log{Index: idx, Term: idx, Type: raft.LogCommand, Data: data, AppendedAt: time.Unix(1700000000, 5).UTC()},
				&raft.Log{Index: idx, Term: 3, Type: raft.LogConfiguration, Data: data, Extensions: data, AppendedAt: time.Unix(1, 0).In(east)},
				&raft.Log{Index: idx, Term: 3, Type: raft.LogBarrier})
		}
	}
	for _, l := range logs {
		enc, err := appendLog(nil, l)
		if err != nil {
			t.Fatal(err)
		}
		if got := encodedLogSize(l); got != len(enc) {
			t.Fatalf("encodedLogSize(index %d, %d data bytes, time %v) = %d, encoding has %d bytes",
				l.Index, len(l.Data), l.AppendedAt, got, len(enc))
		}
	}
}
