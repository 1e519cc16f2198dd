package raftimpl

import (
	"io"
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
