package storage

import (
	"bytes"
	"fmt"
	"math"
	"time"

	hraft "github.com/hashicorp/raft"
	raft "github.com/pontoon-raft/raft"
)

// sampleLogs returns entries that exercise every field and size class.
func sampleLogs() []*raft.Log {
	east := time.FixedZone("", 2*3600)
	return []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(raft.Configuration{
			Servers: []raft.Server{{Suffrage: raft.Voter, ID: "n1", Address: "127.0.0.1:7000"}}})},
		{Index: 2, Term: 2, Type: raft.LogNoop, AppendedAt: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)},
		{Index: 3, Term: 2, Type: raft.LogCommand, Data: []byte("x"), Extensions: []byte("ext"),
			AppendedAt: time.Date(2025, 6, 1, 12, 0, 0, 999, east)},
		{Index: 4, Term: 2, Type: raft.LogBarrier, Data: []byte{}, Extensions: []byte{}},
		{Index: 5, Term: 300, Type: raft.LogCommand, Data: bytes.Repeat([]byte("a"), 31)},
		{Index: 6, Term: 70000, Type: raft.LogCommand, Data: bytes.Repeat([]byte("b"), 32)},
		{Index: 7, Term: 1 << 33, Type: raft.LogCommand, Data: bytes.Repeat([]byte("c"), 65536)},
		{Index: 8, Term: math.MaxUint64, Type: raft.LogRemovePeerDeprecated, Data: []byte("peers")},
		{Index: 300, Term: 9, Type: raft.LogAddPeerDeprecated, AppendedAt: time.Unix(1700000000, 1).UTC()},
	}
}

func toHashicorp(l *raft.Log) *hraft.Log {
	return &hraft.Log{Index: l.Index, Term: l.Term, Type: hraft.LogType(l.Type), Data: l.Data,
		Extensions: l.Extensions, AppendedAt: l.AppendedAt}
}

func fromHashicorp(l *hraft.Log) *raft.Log {
	return &raft.Log{Index: l.Index, Term: l.Term, Type: raft.LogType(l.Type), Data: l.Data,
		Extensions: l.Extensions, AppendedAt: l.AppendedAt}
}

// logDiff compares entries: slices by content, times by instant and offset.
func logDiff(want, got *raft.Log) error {
	_, wo := want.AppendedAt.Zone()
	_, gotOff := got.AppendedAt.Zone()
	if want.Index != got.Index || want.Term != got.Term || want.Type != got.Type ||
		!bytes.Equal(want.Data, got.Data) || !bytes.Equal(want.Extensions, got.Extensions) ||
		!want.AppendedAt.Equal(got.AppendedAt) || wo != gotOff {
		return fmt.Errorf("log %d differs:\n got {%d %d %v %d bytes ext %q %v}\nwant {%d %d %v %d bytes ext %q %v}", want.Index,
			got.Index, got.Term, got.Type, len(got.Data), got.Extensions, got.AppendedAt,
			want.Index, want.Term, want.Type, len(want.Data), want.Extensions, want.AppendedAt)
	}
	return nil
}

func hashicorpConfiguration(c raft.Configuration) hraft.Configuration {
	var out hraft.Configuration
	for _, s := range c.Servers {
		out.Servers = append(out.Servers, hraft.Server{Suffrage: hraft.ServerSuffrage(s.Suffrage),
			ID: hraft.ServerID(s.ID), Address: hraft.ServerAddress(s.Address)})
	}
	return out
}
