package raftimpl

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// singleNode starts a bootstrapped one-node cluster over the given stores
// and waits for it to lead.
func singleNode(t *testing.T, conf *Config, fsm raft.FSM, store *logstore.InmemStore, snaps snapshot.SnapshotStore) *Raft {
	t.Helper()
	addr, trans := transport.NewInmemTransport("single")
	if has, _ := HasExistingState(store, store, snaps); !has {
		if err := BootstrapCluster(conf, store, store, snaps, trans,
			raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: addr}}}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := NewRaft(conf, fsm, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the single node to lead", func() bool { return r.State() == raft.Leader })
	return r
}

func TestSnapshotUserRequestAndOpen(t *testing.T) {
	store := logstore.NewInmemStore()
	snaps := snapshot.NewInmemSnapshotStore()
	fsm := &testFSM{}
	r := singleNode(t, testConfig(t, "s"), fsm, store, snaps)
	defer func() { r.Shutdown().Error() }()

	for i := 0; i < 10; i++ {
		if err := r.Apply(cmd(i), 5*time.Second).Error(); err != nil {
			t.Fatal(err)
		}
	}
	f := r.Snapshot()
	if err := f.Error(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	meta, rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if meta.Index != r.AppliedIndex() || meta.Term != r.CurrentTerm() {
		t.Fatalf("snapshot at %d/%d, applied %d term %d", meta.Index, meta.Term, r.AppliedIndex(), r.CurrentTerm())
	}
	if len(meta.Configuration.Servers) != 1 || meta.ConfigurationIndex != 1 {
		t.Fatalf("snapshot configuration %+v at %d", meta.Configuration, meta.ConfigurationIndex)
	}
	var s testSnapshot
	if err := json.NewDecoder(rc).Decode(&s); err != nil || len(s.Data) != 10 {
		t.Fatalf("snapshot contents: %d commands, %v", len(s.Data), err)
	}
	// As hashicorp/raft: nothing new since the last snapshot still takes one.
	f2 := r.Snapshot()
	if err := f2.Error(); err != nil {
		t.Fatalf("second snapshot with nothing new: %v", err)
	}
	meta2, rc2, err := f2.Open()
	if err != nil {
		t.Fatal(err)
	}
	rc2.Close()
	if meta2.Index != meta.Index || meta2.ID == meta.ID {
		t.Fatalf("second snapshot %s at %d, first %s at %d", meta2.ID, meta2.Index, meta.ID, meta.Index)
	}
	if st := r.Stats(); st["last_snapshot_index"] != strconv.FormatUint(meta.Index, 10) {
		t.Fatalf("Stats last_snapshot_index %q, want %d", st["last_snapshot_index"], meta.Index)
	}
}

// On restart the FSM is restored from the newest snapshot and entries it
// covers are not applied again; a corrupt newest snapshot falls back to an
// older one.
func TestSnapshotRestoreOnStartWithFallback(t *testing.T) {
	dir := t.TempDir()
	store := logstore.NewInmemStore()
	snaps, err := snapshot.NewFileSnapshotStore(dir, 3, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	fsm := &testFSM{}
	conf := testConfig(t, "s")
	r := singleNode(t, conf, fsm, store, snaps)
	for round := 0; round < 2; round++ {
		for i := 0; i < 5; i++ {
			if err := r.Apply(cmd(round*5+i), 5*time.Second).Error(); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Snapshot().Error(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 10; i < 13; i++ {
		if err := r.Apply(cmd(i), 5*time.Second).Error(); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}

	restart := func() *testFSM {
		t.Helper()
		fsm := &testFSM{}
		r := singleNode(t, conf, fsm, store, snaps)
		defer func() { r.Shutdown().Error() }()
		if err := r.Barrier(5 * time.Second).Error(); err != nil {
			t.Fatal(err)
		}
		got := fsm.commands()
		if len(got) != 13 {
			t.Fatalf("after restart the FSM has %d commands, want 13", len(got))
		}
		for i := range got {
			if string(got[i]) != string(cmd(i)) {
				t.Fatalf("command %d is %q", i, got[i])
			}
		}
		return fsm
	}
	if fsm := restart(); fsm.restores != 1 {
		t.Fatalf("restores = %d, want 1", fsm.restores)
	}

	// Corrupt the newest snapshot's data: the restore falls back to the
	// older one and the log fills in the rest.
	list, err := snaps.List()
	if err != nil || len(list) < 2 {
		t.Fatalf("List: %d snapshots, %v", len(list), err)
	}
	state := filepath.Join(dir, "snapshots", list[0].ID, "state.bin")
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(state, b, 0o644); err != nil {
		t.Fatal(err)
	}
	restart()
}

func TestSnapshotAutomaticByThreshold(t *testing.T) {
	store := logstore.NewInmemStore()
	snaps := snapshot.NewInmemSnapshotStore()
	conf := testConfig(t, "s")
	conf.SnapshotInterval = 20 * time.Millisecond
	conf.SnapshotThreshold = 50
	r := singleNode(t, conf, &testFSM{}, store, snaps)
	defer func() { r.Shutdown().Error() }()
	for i := 0; i < 60; i++ {
		r.Apply(cmd(i), 0)
	}
	if err := r.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "an automatic snapshot", func() bool {
		l, _ := snaps.List()
		return len(l) == 1 && l[0].Index >= 50
	})
}

// Snapshot follows hashicorp/raft: the bare ErrNothingNewToSnapshot while
// nothing was applied since start (a bootstrapped node whose log holds only
// the configuration and the leader's no-op; a restarted node restored from a
// snapshot), a snapshot once something was.
func TestSnapshotNothingAppliedSinceStart(t *testing.T) {
	store := logstore.NewInmemStore()
	snaps := snapshot.NewInmemSnapshotStore()
	conf := testConfig(t, "s")
	r := singleNode(t, conf, &testFSM{}, store, snaps)
	waitFor(t, 5*time.Second, "the no-op to be applied", func() bool { return r.AppliedIndex() >= 2 })
	if err := r.Snapshot().Error(); err != raft.ErrNothingNewToSnapshot {
		t.Fatalf("fresh node: Snapshot() = %v, want the bare ErrNothingNewToSnapshot", err)
	}
	if err := r.Apply(cmd(1), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if err := r.Snapshot().Error(); err != nil {
		t.Fatalf("after an Apply: %v", err)
	}
	if err := r.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}

	r = singleNode(t, conf, &testFSM{}, store, snaps)
	defer func() { r.Shutdown().Error() }()
	if err := r.Snapshot().Error(); err != raft.ErrNothingNewToSnapshot {
		t.Fatalf("restarted node: Snapshot() = %v, want the bare ErrNothingNewToSnapshot", err)
	}
	if err := r.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if err := r.Snapshot().Error(); err != nil {
		t.Fatalf("restarted node after a Barrier: %v", err)
	}
}

// A snapshot right after a membership change is refused, with
// hashicorp/raft's text, until an entry behind the configuration entry has
// been applied (a plain FSM is not handed configuration entries).
func TestSnapshotRefusedRightAfterMembershipChange(t *testing.T) {
	store := logstore.NewInmemStore()
	snaps := snapshot.NewInmemSnapshotStore()
	fsm := &countingSnapshotFSM{}
	r := singleNode(t, testConfig(t, "s"), fsm, store, snaps)
	defer func() { r.Shutdown().Error() }()
	af := r.Apply(cmd(1), 5*time.Second)
	if err := af.Error(); err != nil {
		t.Fatal(err)
	}
	cf := r.AddNonvoter("x", "x-addr", 0, 5*time.Second)
	if err := cf.Error(); err != nil {
		t.Fatal(err)
	}
	err := r.Snapshot().Error()
	want := fmt.Sprintf("cannot take snapshot now, wait until the configuration entry at %d has been applied (have applied %d)", cf.Index(), af.Index())
	if err == nil || err.Error() != want {
		t.Fatalf("Snapshot() right after AddNonvoter = %v, want %q", err, want)
	}
	// As hashicorp/raft, the FSM was asked for a snapshot, which was then
	// released (rqlite's store tests count on it).
	if n, rel := fsm.counts(); n != 1 || rel != 1 {
		t.Fatalf("FSM.Snapshot called %d times, released %d, want 1 and 1", n, rel)
	}
	if err := r.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	f := r.Snapshot()
	if err := f.Error(); err != nil {
		t.Fatalf("after a Barrier: %v", err)
	}
	meta, rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if meta.ConfigurationIndex != cf.Index() || len(meta.Configuration.Servers) != 2 {
		t.Fatalf("snapshot configuration %+v at %d, want 2 servers at %d", meta.Configuration, meta.ConfigurationIndex, cf.Index())
	}
}

// countingSnapshotFSM counts its Snapshot calls and the releases of the
// snapshots it returned.
type countingSnapshotFSM struct {
	testFSM
	snaps, released atomic.Int32
}

func (f *countingSnapshotFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.snaps.Add(1)
	s, err := f.testFSM.Snapshot()
	if err != nil {
		return nil, err
	}
	return &releaseCounter{FSMSnapshot: s, n: &f.released}, nil
}

func (f *countingSnapshotFSM) counts() (int32, int32) { return f.snaps.Load(), f.released.Load() }

type releaseCounter struct {
	raft.FSMSnapshot
	n *atomic.Int32
}

func (r *releaseCounter) Release() { r.n.Add(1); r.FSMSnapshot.Release() }

// confStoreFSM is handed configuration entries (raft.ConfigurationStore).
type confStoreFSM struct {
	testFSM
}

func (f *confStoreFSM) StoreConfiguration(index uint64, c raft.Configuration) {}

// An FSM that stores configurations is handed the configuration entry, so,
// as in hashicorp/raft, a snapshot right after a membership change works.
func TestSnapshotAfterMembershipChangeConfigurationStore(t *testing.T) {
	store := logstore.NewInmemStore()
	snaps := snapshot.NewInmemSnapshotStore()
	r := singleNode(t, testConfig(t, "s"), &confStoreFSM{}, store, snaps)
	defer func() { r.Shutdown().Error() }()
	if err := r.Apply(cmd(1), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if err := r.AddNonvoter("x", "x-addr", 0, 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if err := r.Snapshot().Error(); err != nil {
		t.Fatalf("Snapshot() right after AddNonvoter with a ConfigurationStore: %v", err)
	}
}
