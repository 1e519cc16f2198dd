package raftimpl

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// diskNode is a one-node cluster on a bbolt file and a FileSnapshotStore
// (retain 2) in dir, on an in-memory transport.
type diskNode struct {
	t     *testing.T
	dir   string
	conf  *Config
	store *logstore.BoltStore
	snaps *snapshot.FileSnapshotStore
	fsm   *testFSM
	r     *Raft
}

// openDiskNode opens the stores in dir and starts the node, bootstrapping it
// if the stores are new. It returns NewRaft's error instead of failing.
func openDiskNode(t *testing.T, dir string, conf *Config) (*diskNode, error) {
	t.Helper()
	n := &diskNode{t: t, dir: dir, conf: conf, fsm: &testFSM{}}
	var err error
	if n.store, err = logstore.NewBoltStore(filepath.Join(dir, "raft.db")); err != nil {
		t.Fatal(err)
	}
	if n.snaps, err = snapshot.NewFileSnapshotStoreWithOptions(snapshot.FileOptions{Base: dir, Retain: 2,
		Logger: conf.Logger}); err != nil {
		t.Fatal(err)
	}
	addr, trans := transport.NewInmemTransport("disk-node")
	if has, err := HasExistingState(n.store, n.store, n.snaps); err != nil {
		t.Fatal(err)
	} else if !has {
		if err := BootstrapCluster(conf, n.store, n.store, n.snaps, trans,
			raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: addr}}}); err != nil {
			t.Fatal(err)
		}
	}
	if n.r, err = NewRaft(conf, n.fsm, n.store, n.store, n.snaps, trans); err != nil {
		trans.Close()
		n.store.Close()
		return nil, err
	}
	return n, nil
}

func (n *diskNode) close() {
	n.t.Helper()
	if err := n.r.Shutdown().Error(); err != nil {
		n.t.Fatal(err)
	}
	if err := n.store.Close(); err != nil {
		n.t.Fatal(err)
	}
}

// writeWithSnapshots applies 300 commands on a new node in dir, with user
// snapshots after the 100th and the 200th, waits until the log has been
// compacted behind the second one (TrailingLogs permitting) and stops the
// node. It returns the IDs of the two snapshots, newest first.
func writeWithSnapshots(t *testing.T, dir string, trailing uint64) (newest, older string) {
	t.Helper()
	conf := testConfig(t, "d")
	conf.TrailingLogs = trailing
	n, err := openDiskNode(t, dir, conf)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the node to lead", func() bool { return n.r.State() == raft.Leader })
	var snapIndex uint64
	for i := 0; i < 300; i++ {
		if err := n.r.Apply(cmd(i), 5*time.Second).Error(); err != nil {
			t.Fatal(err)
		}
		if i == 99 || i == 199 {
			if err := n.r.Snapshot().Error(); err != nil {
				t.Fatal(err)
			}
			snapIndex = n.r.AppliedIndex()
		}
	}
	if snapIndex > trailing {
		waitFor(t, 10*time.Second, "compaction behind the snapshot", func() bool {
			first, err := n.store.FirstIndex()
			return err == nil && first > snapIndex-trailing-1
		})
	}
	list, err := n.snaps.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("List: %d snapshots, %v", len(list), err)
	}
	n.close()
	return list[0].ID, list[1].ID
}

// The newest snapshot damaged in each way a disk or an operator damages it:
// falling back to the older one would lose the entries between it and the
// log's start, so the node refuses to start, naming the snapshot and the gap.
func TestStartRefusesFallbackOverLogGap(t *testing.T) {
	damages := map[string]func(t *testing.T, snapDir string){
		"meta garbage": func(t *testing.T, d string) { writeFile(t, filepath.Join(d, "meta.json"), []byte("{garbage")) },
		"meta deleted": func(t *testing.T, d string) { removeFile(t, filepath.Join(d, "meta.json")) },
		"state truncated": func(t *testing.T, d string) {
			if err := os.Truncate(filepath.Join(d, "state.bin"), 10); err != nil {
				t.Fatal(err)
			}
		},
		"state deleted": func(t *testing.T, d string) { removeFile(t, filepath.Join(d, "state.bin")) },
		"crc mismatch": func(t *testing.T, d string) {
			p := filepath.Join(d, "state.bin")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x20
			writeFile(t, p, b)
		},
		"directory deleted": func(t *testing.T, d string) {
			if err := os.RemoveAll(d); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			newest, _ := writeWithSnapshots(t, dir, 10)
			damage(t, filepath.Join(dir, "snapshots", newest))
			n, err := openDiskNode(t, dir, testConfig(t, "d"))
			if err == nil {
				n.close()
				t.Fatalf("the node started on an older snapshot with a gap in the log (FSM holds %d commands)",
					len(n.fsm.commands()))
			}
			if !errors.Is(err, raft.ErrCorrupt) || !strings.Contains(err.Error(), "exist nowhere") {
				t.Fatalf("error does not report the gap: %v", err)
			}
			if name != "directory deleted" && !strings.Contains(err.Error(), newest) {
				t.Fatalf("error does not name snapshot %s: %v", newest, err)
			}
			if !strings.Contains(err.Error(), "wipe this node's data directory") {
				t.Fatalf("error does not say how to repair: %v", err)
			}
		})
	}
}

// When the log still covers everything after the older snapshot, falling
// back is safe: the node starts and holds every command.
func TestStartFallsBackWhenLogCovers(t *testing.T) {
	dir := t.TempDir()
	newest, older := writeWithSnapshots(t, dir, 10000)
	if err := os.Truncate(filepath.Join(dir, "snapshots", newest, "state.bin"), 10); err != nil {
		t.Fatal(err)
	}
	n, err := openDiskNode(t, dir, testConfig(t, "d"))
	if err != nil {
		t.Fatalf("NewRaft refused although the log covers the fallback from %s: %v", older, err)
	}
	defer n.close()
	waitFor(t, 10*time.Second, "all 300 commands applied", func() bool { return len(n.fsm.commands()) >= 300 })
	got := n.fsm.commands()
	for i := 0; i < 300; i++ {
		if string(got[i]) != string(cmd(i)) {
			t.Fatalf("command %d is %q", i, got[i])
		}
	}
}

// A raft.db replaced by an empty one while snapshots remain: the node would
// forget its term and vote, so it refuses to start.
func TestStartRefusesLostStableStore(t *testing.T) {
	dir := t.TempDir()
	writeWithSnapshots(t, dir, 10)
	for _, name := range []string{"raft.db", "raft.db.journal.0", "raft.db.journal.1"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	n, err := openDiskNode(t, dir, testConfig(t, "d"))
	if err == nil {
		n.close()
		t.Fatal("the node started with a new raft.db beside existing snapshots")
	}
	if !errors.Is(err, raft.ErrCorrupt) || !strings.Contains(err.Error(), "CurrentTerm") {
		t.Fatalf("error does not report the lost stable store: %v", err)
	}
}

// A snapshot the leader sends again (a retry) is stored once: with retain 2
// the older snapshot, kept for fallback, stays.
func TestIncomingSnapshotRetryStoredOnce(t *testing.T) {
	dir := t.TempDir()
	newest, older := writeWithSnapshots(t, dir, 10)
	n, err := openDiskNode(t, dir, testConfig(t, "d"))
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	meta, rc, err := n.snaps.Open(newest)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	req := &transport.InstallSnapshotRequest{SnapshotVersion: 1, Term: meta.Term, LastLogIndex: meta.Index,
		LastLogTerm: meta.Term, Configuration: raft.EncodeConfiguration(meta.Configuration),
		ConfigurationIndex: meta.ConfigurationIndex, Size: int64(len(data))}
	for i := 0; i < 3; i++ {
		id, _, err := n.r.storeIncomingSnapshot(strings.NewReader(string(data)), req)
		if err != nil {
			t.Fatal(err)
		}
		if id != newest {
			t.Fatalf("retry %d stored a new copy %s of snapshot %s", i, id, newest)
		}
	}
	list, err := n.snaps.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != newest || list[1].ID != older {
		var ids []string
		for _, m := range list {
			ids = append(ids, m.ID)
		}
		t.Fatalf("snapshots after the retries: %v, want [%s %s]", ids, newest, older)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
