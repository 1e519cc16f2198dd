package raftimpl

import (
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// ConfigurationChangeCommand has hashicorp/raft's values and strings;
// AddStaging is hashicorp's deprecated alias of AddVoter, and Pontoon's
// auto-promoting command has a name of its own.
func TestConfigurationChangeCommandString(t *testing.T) {
	for c, want := range map[ConfigurationChangeCommand]string{
		AddVoter: "AddVoter", AddNonvoter: "AddNonvoter", DemoteVoter: "DemoteVoter",
		RemoveServer: "RemoveServer", Promote: "Promote", AddNonvoterPromoting: "AddNonvoterPromoting",
		200: "ConfigurationChangeCommand",
	} {
		if got := c.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", uint8(c), got, want)
		}
	}
	if AddStaging != AddVoter || AddVoter != 0 || Promote != 4 {
		t.Fatalf("values: AddStaging=%d AddVoter=%d Promote=%d, want 0 0 4", AddStaging, AddVoter, Promote)
	}
}

// AddPeer and RemovePeer are refused at protocol 3 with the bare sentinel,
// as hashicorp/raft does.
func TestAddPeerRemovePeerUnsupported(t *testing.T) {
	store := logstore.NewInmemStore()
	r := singleNode(t, testConfig(t, "s"), &testFSM{}, store, snapshot.NewInmemSnapshotStore())
	defer func() { r.Shutdown().Error() }()
	if err := r.AddPeer("x").Error(); err != raft.ErrUnsupportedProtocol {
		t.Fatalf("AddPeer: %v", err)
	}
	if err := r.RemovePeer("x").Error(); err != raft.ErrUnsupportedProtocol {
		t.Fatalf("RemovePeer: %v", err)
	}
}

// An unknown command is refused; it used to fall back to AddVoter (the
// zero value of the command map).
func TestChangeConfigurationUnknownCommand(t *testing.T) {
	store := logstore.NewInmemStore()
	r := singleNode(t, testConfig(t, "s"), &testFSM{}, store, snapshot.NewInmemSnapshotStore())
	defer func() { r.Shutdown().Error() }()
	err := r.changeConfiguration(ConfigurationChange{Command: 99, ID: "x", Address: "x"}, timeoutWaiter(5*time.Second)).Error()
	if err == nil {
		t.Fatal("unknown command accepted")
	}
	if n := len(r.GetConfiguration().Configuration().Servers); n != 1 {
		t.Fatalf("configuration has %d servers after a refused change", n)
	}
}

// readerCheckFSM records what its Restore reader offers.
type readerCheckFSM struct {
	testFSM
	counting, wrapper bool
	count             int64
}

func (f *readerCheckFSM) Restore(rc io.ReadCloser) error {
	cr, isCounting := rc.(CountingReader)
	_, f.wrapper = rc.(ReadCloserWrapper)
	f.counting = isCounting
	err := f.testFSM.Restore(rc)
	if isCounting {
		f.count = cr.Count()
	}
	return err
}

// FSM.Restore gets a reader that counts bytes and exposes the store's
// reader, as hashicorp/raft's does.
func TestRestoreReaderCountsAndWraps(t *testing.T) {
	store := logstore.NewInmemStore()
	snaps := snapshot.NewInmemSnapshotStore()
	conf := testConfig(t, "s")
	r := singleNode(t, conf, &testFSM{}, store, snaps)
	if err := r.Apply(cmd(1), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	f := r.Snapshot()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	meta, rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if err := r.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	fsm := &readerCheckFSM{}
	_, trans := transport.NewInmemTransport("")
	r, err = NewRaft(conf, fsm, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { r.Shutdown().Error() }()
	if !fsm.counting || !fsm.wrapper || fsm.count != meta.Size {
		t.Fatalf("restore reader: CountingReader %v (count %d of %d), ReadCloserWrapper %v", fsm.counting, fsm.count, meta.Size, fsm.wrapper)
	}
}

// trackingStore is an InmemStore that records the commit index staged with
// each StoreLogs (logstore.CommitTrackingLogStore).
type trackingStore struct {
	*logstore.InmemStore
	mu             sync.Mutex
	staged, commit uint64
	// beyond counts writes whose staged commit index passed their last
	// entry (the contract: never above LastIndex).
	beyond int
}

func (s *trackingStore) StageCommitIndex(idx uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.staged = idx
	return nil
}

func (s *trackingStore) GetCommitIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commit, nil
}

func (s *trackingStore) StoreLogs(logs []*raft.Log) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.InmemStore.StoreLogs(logs); err != nil {
		return err
	}
	if len(logs) > 0 && s.staged > logs[len(logs)-1].Index {
		s.beyond++
	}
	s.commit = s.staged
	return nil
}

func (s *trackingStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// RestoreCommittedLogs: refused without a CommitTrackingLogStore (the bare
// sentinel); with one, the engine records its commit index with its writes
// and NewRaft applies the committed entries before it returns, each once.
func TestRestoreCommittedLogs(t *testing.T) {
	conf := testConfig(t, "s")
	conf.RestoreCommittedLogs = true
	plain := logstore.NewInmemStore()
	_, trans := transport.NewInmemTransport("")
	if _, err := NewRaft(conf, &testFSM{}, plain, plain, snapshot.NewInmemSnapshotStore(), trans); err != raft.ErrIncompatibleLogStore {
		t.Fatalf("NewRaft over a plain store: %v, want the bare ErrIncompatibleLogStore", err)
	}
	trans.Close()

	store := &trackingStore{InmemStore: logstore.NewInmemStore()}
	snaps := snapshot.NewInmemSnapshotStore()
	addr, trans := transport.NewInmemTransport("")
	if err := BootstrapCluster(conf, store, store, snaps, trans,
		raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: addr}}}); err != nil {
		t.Fatal(err)
	}
	r, err := NewRaft(conf, &testFSM{}, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	if !r.RestoreCommittedLogs {
		t.Error("Raft.RestoreCommittedLogs does not reflect the Config")
	}
	waitFor(t, 10*time.Second, "the node to lead", func() bool { return r.State() == raft.Leader })
	var last uint64
	for i := 0; i < 10; i++ {
		f := r.Apply(cmd(i), 5*time.Second)
		if err := f.Error(); err != nil {
			t.Fatal(err)
		}
		last = f.Index()
	}
	// The barrier's write carries a commit index covering every command.
	if err := r.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	if c, _ := store.GetCommitIndex(); c < last {
		t.Fatalf("recorded commit index %d, want >= %d", c, last)
	}
	if store.beyond > 0 {
		t.Fatalf("%d writes staged a commit index beyond their last entry", store.beyond)
	}

	fsm := &testFSM{}
	_, trans = transport.NewInmemTransport(addr)
	r, err = NewRaft(conf, fsm, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { r.Shutdown().Error() }()
	// Applied before NewRaft returned: no leader needed.
	if got := len(fsm.commands()); got != 10 || r.AppliedIndex() < last {
		t.Fatalf("after NewRaft: %d commands applied, AppliedIndex %d; want 10 and >= %d", got, r.AppliedIndex(), last)
	}
	waitFor(t, 10*time.Second, "the node to lead", func() bool { return r.State() == raft.Leader })
	if err := r.Apply(cmd(10), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	got := fsm.commands()
	if len(got) != 11 {
		t.Fatalf("%d commands applied after one more Apply, want 11 (each once)", len(got))
	}
	for i, c := range got {
		if string(c) != string(cmd(i)) {
			t.Fatalf("command %d is %q, want %q", i, c, cmd(i))
		}
	}
}

// A stale prevIndex is refused with hashicorp/raft's text, still matching
// raft.ErrConfigurationChanged.
func TestStalePrevIndexText(t *testing.T) {
	store := logstore.NewInmemStore()
	r := singleNode(t, testConfig(t, "s"), &testFSM{}, store, snapshot.NewInmemSnapshotStore())
	defer func() { r.Shutdown().Error() }()
	err := r.AddVoter("x", "x-addr", 999, 5*time.Second).Error()
	if !errors.Is(err, raft.ErrConfigurationChanged) || err.Error() != "configuration changed since 999 (latest is 1)" {
		t.Fatalf("AddVoter with a stale prevIndex: %v", err)
	}
}

// LeadershipTransfer with no other voter fails with hashicorp/raft's text,
// still matching raft.ErrUnknownServer.
func TestTransferNoPeerText(t *testing.T) {
	store := logstore.NewInmemStore()
	r := singleNode(t, testConfig(t, "s"), &testFSM{}, store, snapshot.NewInmemSnapshotStore())
	defer func() { r.Shutdown().Error() }()
	err := r.LeadershipTransfer().Error()
	if !errors.Is(err, raft.ErrUnknownServer) || err.Error() != "cannot find peer" {
		t.Fatalf("LeadershipTransfer with no other voter: %v", err)
	}
}
