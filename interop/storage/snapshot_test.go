package storage

import (
	"bytes"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/snapshot"
)

var snapConfig = raft.Configuration{Servers: []raft.Server{
	{Suffrage: raft.Voter, ID: "n1", Address: "127.0.0.1:7000"},
	{Suffrage: raft.Nonvoter, ID: "n2", Address: "127.0.0.1:7001"},
	{Suffrage: raft.Voter, ID: "n3", Address: "127.0.0.1:7002"},
}}

func quietLogger() hclog.Logger { return hclog.New(&hclog.LoggerOptions{Output: io.Discard}) }

func snapData(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

func TestHashicorpSnapshotOpensInPontoon(t *testing.T) {
	base := t.TempDir()
	h, err := hraft.NewFileSnapshotStoreWithLogger(base, 3, quietLogger())
	must(t, err)
	_, trans := hraft.NewInmemTransport("127.0.0.1:7000")
	defer trans.Close()
	data := snapData(1 << 20)
	sink, err := h.Create(1, 42, 5, hashicorpConfiguration(snapConfig), 40, trans)
	must(t, err)
	_, err = sink.Write(data)
	must(t, err)
	must(t, sink.Close())
	hmeta, _, err := h.Open(sink.ID())
	must(t, err)

	p, err := snapshot.NewFileSnapshotStoreWithLogger(base, 3, quietLogger())
	must(t, err)
	list, err := p.List()
	must(t, err)
	if len(list) != 1 || list[0].ID != sink.ID() {
		t.Fatalf("Pontoon List = %+v", list)
	}
	meta, rc, err := p.Open(sink.ID())
	must(t, err)
	got, err := io.ReadAll(rc)
	must(t, err)
	must(t, rc.Close())
	if !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
	if meta.Index != 42 || meta.Term != 5 || meta.ConfigurationIndex != 40 || meta.Size != int64(len(data)) ||
		meta.Version != 1 || !bytes.Equal(meta.Peers, hmeta.Peers) ||
		!sameConfig(hashicorpConfiguration(meta.Configuration), hmeta.Configuration) {
		t.Fatalf("meta %+v\nhashicorp %+v", meta, hmeta)
	}

	// A corrupted hashicorp snapshot is refused by Pontoon too.
	state := filepath.Join(base, "snapshots", sink.ID(), "state.bin")
	b, err := os.ReadFile(state)
	must(t, err)
	b[100] ^= 0xff
	must(t, os.WriteFile(state, b, 0o644))
	_, rc, err = p.Open(sink.ID())
	if err == nil {
		_, err = io.ReadAll(rc)
		_ = rc.Close()
	}
	if err == nil {
		t.Fatal("Pontoon read a corrupted snapshot without error")
	}
}

func TestPontoonSnapshotOpensInHashicorp(t *testing.T) {
	base := t.TempDir()
	p, err := snapshot.NewFileSnapshotStoreWithLogger(base, 3, quietLogger())
	must(t, err)
	data := snapData(3<<20 + 5)
	sink, err := p.Create(1, 42, 5, snapConfig, 40, nil)
	must(t, err)
	_, err = sink.Write(data)
	must(t, err)
	must(t, sink.Close())

	h, err := hraft.NewFileSnapshotStoreWithLogger(base, 3, quietLogger())
	must(t, err)
	list, err := h.List()
	must(t, err)
	if len(list) != 1 || list[0].ID != sink.ID() {
		t.Fatalf("hashicorp List = %+v", list)
	}
	meta, rc, err := h.Open(sink.ID()) // hashicorp checks the CRC here
	must(t, err)
	got, err := io.ReadAll(rc)
	must(t, err)
	must(t, rc.Close())
	if !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
	// hashicorp's own encoding of the legacy peers for this configuration.
	_, trans := hraft.NewInmemTransport("127.0.0.1:7000")
	defer trans.Close()
	ref, err := h.Create(1, 1, 1, hashicorpConfiguration(snapConfig), 1, trans)
	must(t, err)
	must(t, ref.Close())
	refMeta, _, err := h.Open(ref.ID())
	must(t, err)
	if meta.Index != 42 || meta.Term != 5 || meta.ConfigurationIndex != 40 || meta.Size != int64(len(data)) ||
		!bytes.Equal(meta.Peers, refMeta.Peers) || !sameConfig(meta.Configuration, hashicorpConfiguration(snapConfig)) {
		t.Fatalf("hashicorp read meta %+v", meta)
	}
}

// TestMetaJSONBytes: for the same snapshot, both stores write the same
// meta.json bytes apart from the ID.
func TestMetaJSONBytes(t *testing.T) {
	hbase, pbase := t.TempDir(), t.TempDir()
	h, err := hraft.NewFileSnapshotStoreWithLogger(hbase, 3, quietLogger())
	must(t, err)
	p, err := snapshot.NewFileSnapshotStoreWithLogger(pbase, 3, quietLogger())
	must(t, err)
	_, trans := hraft.NewInmemTransport("127.0.0.1:7000")
	defer trans.Close()
	hs, err := h.Create(1, 10, 3, hashicorpConfiguration(snapConfig), 2, trans)
	must(t, err)
	ps, err := p.Create(1, 10, 3, snapConfig, 2, nil)
	must(t, err)
	for _, s := range []io.Writer{hs, ps} {
		_, err := s.Write([]byte("same data"))
		must(t, err)
	}
	must(t, hs.Close())
	must(t, ps.Close())
	hb, err := os.ReadFile(filepath.Join(hbase, "snapshots", hs.ID(), "meta.json"))
	must(t, err)
	pb, err := os.ReadFile(filepath.Join(pbase, "snapshots", ps.ID(), "meta.json"))
	must(t, err)
	hb = bytes.Replace(hb, []byte(hs.ID()), []byte("ID"), 1)
	pb = bytes.Replace(pb, []byte(ps.ID()), []byte("ID"), 1)
	if !bytes.Equal(hb, pb) {
		t.Fatalf("meta.json differs:\nhashicorp %s\n  pontoon %s", hb, pb)
	}
}

// TestMixedDirectory: both stores share a directory; each lists the
// other's snapshots in the same order.
func TestMixedDirectory(t *testing.T) {
	base := t.TempDir()
	h, err := hraft.NewFileSnapshotStoreWithLogger(base, 10, quietLogger())
	must(t, err)
	p, err := snapshot.NewFileSnapshotStoreWithLogger(base, 10, quietLogger())
	must(t, err)
	_, trans := hraft.NewInmemTransport("127.0.0.1:7000")
	defer trans.Close()
	for i := uint64(1); i <= 4; i++ {
		if i%2 == 0 {
			s, err := h.Create(1, i*10, i, hashicorpConfiguration(snapConfig), 1, trans)
			must(t, err)
			must(t, s.Close())
		} else {
			s, err := p.Create(1, i*10, i, snapConfig, 1, nil)
			must(t, err)
			must(t, s.Close())
		}
	}
	hl, err := h.List()
	must(t, err)
	pl, err := p.List()
	must(t, err)
	if len(hl) != 4 || len(pl) != 4 {
		t.Fatalf("hashicorp lists %d, Pontoon %d", len(hl), len(pl))
	}
	for i := range hl {
		if hl[i].ID != pl[i].ID {
			t.Fatalf("List[%d]: hashicorp %s, Pontoon %s", i, hl[i].ID, pl[i].ID)
		}
	}
}

func sameConfig(a, b hraft.Configuration) bool {
	if len(a.Servers) != len(b.Servers) {
		return false
	}
	for i := range a.Servers {
		if a.Servers[i] != b.Servers[i] {
			return false
		}
	}
	return true
}
