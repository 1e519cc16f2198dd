package raftinspect

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/examples/raftinspect/inspect"
	"github.com/pontoon-raft/raft/logstore"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := inspect.Main(args, &out, &out)
	return code, out.String()
}

func mustContain(t *testing.T, what, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Fatalf("%s: output lacks %q:\n%s", what, s, out)
		}
	}
}

// TestInspectRaftBoltDBDir: a directory written by raft-boltdb/v2 and
// hashicorp's FileSnapshotStore, as a hashicorp/raft node leaves it.
func TestInspectRaftBoltDBDir(t *testing.T) {
	dir := t.TempDir()
	h, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	must(t, err)
	conf1 := hraft.Configuration{Servers: []hraft.Server{{ID: "h1", Address: "10.0.0.1:8300", Suffrage: hraft.Voter}}}
	conf2 := hraft.Configuration{Servers: append(conf1.Servers, hraft.Server{ID: "h2", Address: "10.0.0.2:8300", Suffrage: hraft.Voter})}
	var logs []*hraft.Log
	for i := uint64(51); i <= 120; i++ {
		l := &hraft.Log{Index: i, Term: 2 + i/100, Type: hraft.LogCommand, Data: []byte(fmt.Sprintf("cmd-%d", i))}
		if i == 80 {
			l.Type, l.Data = hraft.LogConfiguration, hraft.EncodeConfiguration(conf2)
		}
		logs = append(logs, l)
	}
	must(t, h.StoreLogs(logs))
	must(t, h.SetUint64([]byte("CurrentTerm"), 3))
	must(t, h.SetUint64([]byte("LastVoteTerm"), 3))
	must(t, h.Set([]byte("LastVoteCand"), []byte("h1")))
	must(t, h.Close())

	snaps, err := hraft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
	must(t, err)
	_, trans := hraft.NewInmemTransport("")
	defer trans.Close()
	sink, err := snaps.Create(hraft.SnapshotVersionMax, 60, 2, conf1, 1, trans)
	must(t, err)
	_, err = io.WriteString(sink, "state at 60")
	must(t, err)
	must(t, sink.Close())

	code, out := run(t, dir)
	if code != 0 {
		t.Fatalf("info: exit %d\n%s", code, out)
	}
	mustContain(t, "info", out,
		"journal:        none",
		"first index 51, last index 120 (70 entries)",
		"term 2: indexes 51..99", "term 3: indexes 100..120",
		"CurrentTerm   3", `LastVoteCand  "h1"`,
		"configurations: 1 in the log",
		"index 80 term 2: [Voter h1 10.0.0.1:8300, Voter h2 10.0.0.2:8300]",
		"snapshots:      1 in", "index 60 term 2 size 11",
		"configuration (index 1): [Voter h1 10.0.0.1:8300]")
	code, out = run(t, "dump", "-from", "80", "-to", "81", dir)
	if code != 0 {
		t.Fatalf("dump: exit %d\n%s", code, out)
	}
	mustContain(t, "dump", out, "80: term 2 LogConfiguration", `81: term 2 LogCommand appended - 6 bytes "cmd-81"`)
	code, out = run(t, "verify", dir)
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	mustContain(t, "verify", out, "ok: 70 entries (51..120)")

	// Entries 51..59 dropped: the log no longer meets the snapshot at 60.
	h, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	must(t, err)
	must(t, h.DeleteRange(51, 65))
	must(t, h.Close())
	code, out = run(t, "verify", dir)
	if code != 1 {
		t.Fatalf("verify with a gap after the snapshot: exit %d\n%s", code, out)
	}
	mustContain(t, "verify gap", out, "the log starts at index 66 but the newest usable snapshot", "entries 61..65 are nowhere")
}

// copyFiles copies every regular file of src into dst: with the store
// open and idle, this is the directory a SIGKILL at that moment leaves.
func copyFiles(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	must(t, err)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600))
	}
}

// TestCheckpointMakesCrashedStoreWholeForRaftBoltDB: a Pontoon store with
// its newest entries in the journal only, as a crash leaves it. raft-boltdb
// opening raft.db directly misses them; after raftinspect checkpoint it
// reads every entry.
func TestCheckpointMakesCrashedStoreWholeForRaftBoltDB(t *testing.T) {
	live := t.TempDir()
	path := filepath.Join(live, "raft.db")
	p, err := logstore.New(logstore.Options{Path: path, NoJournal: true})
	must(t, err)
	var want []*raft.Log
	for i := uint64(1); i <= 40; i++ {
		want = append(want, &raft.Log{Index: i, Term: 1, Data: []byte(fmt.Sprintf("v%d", i))})
	}
	must(t, p.StoreLogs(want[:20]))
	must(t, p.Close())
	p, err = logstore.New(logstore.Options{Path: path})
	must(t, err)
	for _, l := range want[20:] {
		must(t, p.StoreLog(l))
	}
	before, after := t.TempDir(), t.TempDir()
	copyFiles(t, live, before)
	copyFiles(t, live, after)
	must(t, p.Close())
	if _, err := os.Stat(filepath.Join(before, "raft.db.journal.0")); err != nil {
		t.Fatalf("the crash copy has no journal: %v", err)
	}

	// Without the checkpoint, raft-boltdb sees only what the journal has
	// not yet folded in.
	h, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(before, "raft.db")})
	must(t, err)
	last, err := h.LastIndex()
	must(t, err)
	must(t, h.Close())
	if last != 20 {
		t.Fatalf("raft-boltdb on the crash copy: last index %d, want 20 (the rest is in the journal)", last)
	}

	code, out := run(t, "checkpoint", after)
	if code != 0 {
		t.Fatalf("checkpoint: exit %d\n%s", code, out)
	}
	h, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(after, "raft.db")})
	must(t, err)
	defer h.Close()
	first, err := h.FirstIndex()
	must(t, err)
	last, err = h.LastIndex()
	must(t, err)
	if first != 1 || last != 40 {
		t.Fatalf("raft-boltdb after the checkpoint: %d..%d, want 1..40", first, last)
	}
	for _, w := range want {
		var l hraft.Log
		must(t, h.GetLog(w.Index, &l))
		if l.Term != w.Term || !bytes.Equal(l.Data, w.Data) {
			t.Fatalf("index %d: raft-boltdb reads %+v", w.Index, l)
		}
	}
}
