package raft

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// DecodeConfiguration panics on bad input, as hashicorp/raft's does, and
// round-trips EncodeConfiguration.
func TestDecodeConfiguration(t *testing.T) {
	want := Configuration{Servers: []Server{
		{Suffrage: Voter, ID: "a", Address: "127.0.0.1:1"},
		{Suffrage: Nonvoter, ID: "b", Address: "127.0.0.1:2"},
	}}
	got := DecodeConfiguration(EncodeConfiguration(want))
	if len(got.Servers) != 2 || got.Servers[0] != want.Servers[0] || got.Servers[1] != want.Servers[1] {
		t.Fatalf("round trip: got %+v, want %+v", got, want)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("DecodeConfiguration of garbage did not panic")
		}
	}()
	DecodeConfiguration([]byte{0xc1, 0xff, 0x00})
}

// The untyped constants convert to any integer type, as hashicorp's do.
func TestUntypedConstants(t *testing.T) {
	var a int64 = ProtocolVersionMax
	var b uint8 = SnapshotVersionMax
	var c ProtocolVersion = ProtocolVersionMax
	var d SnapshotVersion = SnapshotVersionMax
	var e ConfigurationChangeCommand = AddStaging
	if a != 3 || b != 1 || c != 3 || d != 1 || e != AddVoter {
		t.Fatal("constants have the wrong values")
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "peers.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadPeersJSON(t *testing.T) {
	c, err := ReadPeersJSON(writeFile(t, `["127.0.0.1:1", "127.0.0.1:2"]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Servers) != 2 || c.Servers[1] != (Server{Suffrage: Voter, ID: "127.0.0.1:2", Address: "127.0.0.1:2"}) {
		t.Fatalf("got %+v", c)
	}
	if _, err := ReadPeersJSON(writeFile(t, `["127.0.0.1:1", "127.0.0.1:1"]`)); err == nil {
		t.Fatal("duplicate addresses accepted")
	}
	if _, err := ReadPeersJSON(writeFile(t, `{`)); err == nil {
		t.Fatal("bad JSON accepted")
	}
	if _, err := ReadPeersJSON(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestReadConfigJSON(t *testing.T) {
	c, err := ReadConfigJSON(writeFile(t, `[{"id": "a", "address": "127.0.0.1:1"}, {"id": "b", "address": "127.0.0.1:2", "non_voter": true}]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Server{{Suffrage: Voter, ID: "a", Address: "127.0.0.1:1"}, {Suffrage: Nonvoter, ID: "b", Address: "127.0.0.1:2"}}
	if len(c.Servers) != 2 || c.Servers[0] != want[0] || c.Servers[1] != want[1] {
		t.Fatalf("got %+v, want %+v", c.Servers, want)
	}
	if _, err := ReadConfigJSON(writeFile(t, `[{"id": "b", "address": "127.0.0.1:2", "non_voter": true}]`)); err == nil {
		t.Fatal("a configuration without voters accepted")
	}
	if _, err := ReadConfigJSON(writeFile(t, `[{"id": "", "address": "127.0.0.1:2"}]`)); err == nil {
		t.Fatal("an empty ID accepted")
	}
}

// MockFSM's snapshot restores into another MockFSM.
func TestMockFSMSnapshot(t *testing.T) {
	src := &MockFSM{}
	for _, d := range []string{"a", "b", "c"} {
		src.Apply(&Log{Data: []byte(d)})
	}
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	store := NewInmemSnapshotStore()
	sink, err := store.Create(SnapshotVersionMax, 3, 1, Configuration{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	_, rc, err := store.Open(sink.ID())
	if err != nil {
		t.Fatal(err)
	}
	dst := &MockFSM{}
	if err := dst.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if got := dst.Logs(); len(got) != 3 || string(got[2]) != "c" {
		t.Fatalf("restored %q", got)
	}
}

// NewInmemCommitTrackingStore is a working log and stable store.
func TestInmemCommitTrackingStore(t *testing.T) {
	s := NewInmemCommitTrackingStore()
	if err := s.StoreLogs([]*Log{{Index: 1, Term: 1}, {Index: 2, Term: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.StageCommitIndex(2); err != nil {
		t.Fatal(err)
	}
	if i, err := s.GetCommitIndex(); i != 2 || err != nil {
		t.Fatalf("GetCommitIndex = %d, %v", i, err)
	}
	if err := s.SetUint64([]byte("k"), 9); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetUint64([]byte("k")); v != 9 || err != nil {
		t.Fatalf("GetUint64 = %d, %v", v, err)
	}
}

// The cluster helpers run a 3-node cluster: a leader, replication to every
// MockFSM, a partition that elects a new leader, and a clean shutdown.
func TestMakeCluster(t *testing.T) {
	c := MakeCluster(3, t, nil)
	defer c.Close()
	leader := c.Leader()
	for i := 0; i < 10; i++ {
		if err := leader.Apply([]byte{byte(i)}, time.Second).Error(); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitForReplication(10)
	c.EnsureSame(t)
	c.EnsureSamePeers(t)
	if n := len(c.Followers()); n != 2 {
		t.Fatalf("%d followers", n)
	}
	if c.IndexOf(leader) < 0 {
		t.Fatal("IndexOf(leader) < 0")
	}

	// Cut the leader off: the other two elect a new one.
	addr, _ := leader.LeaderWithID()
	c.Disconnect(addr)
	var next *Raft
	deadline := time.Now().Add(10 * time.Second)
	for next == nil {
		for _, r := range c.rafts {
			if r != leader && r.State() == Leader {
				next = r
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no new leader after the partition")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := next.Apply([]byte("after"), time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	c.FullyConnect()
	c.WaitForReplication(11)
	c.EnsureSame(t)
}

// MakeClusterCustomWithErr returns a start failure when asked to.
func TestMakeClusterCustomWithErr(t *testing.T) {
	conf := DefaultConfig()
	conf.HeartbeatTimeout = time.Nanosecond // invalid
	if _, err := MakeClusterCustomWithErr(t, &MakeClusterOpts{Peers: 1, Conf: conf, PropagateError: true}); err == nil {
		t.Fatal("an invalid config started")
	}
}
