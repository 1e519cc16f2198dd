package snapshot

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	raft "github.com/pontoon-raft/raft"
)

// FuzzParseMeta feeds arbitrary bytes to the meta.json parser: it must not
// panic, must wrap raft.ErrCorrupt when it fails, and what it accepts must
// survive a write and a re-read unchanged.
func FuzzParseMeta(f *testing.F) {
	seed := fileMeta{SnapshotMeta: raft.SnapshotMeta{
		Version: 1, ID: "3-10-1795607375173", Index: 10, Term: 3, Peers: []byte{0x91, 0xa1, 'a'},
		Configuration: raft.Configuration{Servers: []raft.Server{
			{Suffrage: raft.Voter, ID: "n1", Address: "127.0.0.1:7000"},
		}},
		ConfigurationIndex: 1, Size: 5,
	}, CRC: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	b, _ := marshalMeta(&seed)
	f.Add(b)
	seed.CRC = nil
	b, _ = marshalMeta(&seed)
	f.Add(b)
	f.Add([]byte(`{"Version":1,"ID":"x"}`))
	f.Add([]byte(`{"Size":-1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMeta(b)
		if err != nil {
			if !errors.Is(err, raft.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		_ = checkFinal(m)
		out, err := marshalMeta(m)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		m2, err := parseMeta(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if !reflect.DeepEqual(normalize(m), normalize(m2)) {
			t.Fatalf("round trip changed the meta:\n%+v\n%+v", m, m2)
		}
	})
}

// normalize makes nil and empty slices compare equal.
func normalize(m *fileMeta) fileMeta {
	c := *m
	if len(c.Peers) == 0 {
		c.Peers = nil
	}
	if len(c.CRC) == 0 {
		c.CRC = nil
	}
	if len(c.Configuration.Servers) == 0 {
		c.Configuration.Servers = nil
	}
	if bytes.Equal(c.Peers, nil) {
		c.Peers = nil
	}
	return c
}
