package inspect

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/raftimpl"
	"github.com/pontoon-raft/raft/snapshot"
	"github.com/pontoon-raft/raft/transport"
)

// run runs raftinspect in process and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut)
	return code, out.String() + errOut.String()
}

func mustContain(t *testing.T, what, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Fatalf("%s: output lacks %q:\n%s", what, s, out)
		}
	}
}

// kvFSM is a counting FSM that snapshots its count.
type kvFSM struct {
	mu sync.Mutex
	n  int
}

func (f *kvFSM) Apply(*raft.Log) interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return nil
}
func (f *kvFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return countSnap(f.n), nil
}
func (f *kvFSM) Restore(rc io.ReadCloser) error { return rc.Close() }

type countSnap int

func (c countSnap) Persist(s raft.SnapshotSink) error {
	if _, err := fmt.Fprintf(s, "count=%d", int(c)); err != nil {
		_ = s.Cancel()
		return err
	}
	return s.Close()
}
func (countSnap) Release() {}

// nodeStore is a node's log and stable store.
type nodeStore interface {
	logstore.LogStore
	logstore.StableStore
	Close() error
}

// writePontoonDir runs a real single-node Pontoon cluster on dir (BoltStore
// and FileSnapshotStore), with 40 commands, a snapshot, a configuration
// change and 10 more commands, then shuts it down cleanly.
func writePontoonDir(t *testing.T, dir string) {
	t.Helper()
	writePontoonDirOn(t, dir, func() (nodeStore, error) { return logstore.NewBoltStore(filepath.Join(dir, "raft.db")) })
}

// writePontoonDirOn is writePontoonDir on the store open returns.
func writePontoonDirOn(t *testing.T, dir string, open func() (nodeStore, error)) {
	t.Helper()
	store, err := open()
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := snapshot.NewFileSnapshotStoreWithOptions(snapshot.FileOptions{Base: dir, Retain: 2, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	addr, trans := transport.NewInmemTransport("n1")
	conf := raftimpl.DefaultConfig()
	conf.LocalID = "n1"
	conf.Logger = hclog.NewNullLogger()
	conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
	r, err := raftimpl.NewRaft(conf, &kvFSM{}, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			_ = r.Shutdown().Error()
			_ = store.Close()
			t.Fatal(err)
		}
	}
	must(r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: addr}}}).Error())
	deadline := time.Now().Add(10 * time.Second)
	for r.State() != raft.Leader {
		if time.Now().After(deadline) {
			must(fmt.Errorf("no leader"))
		}
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 40; i++ {
		must(r.Apply([]byte(fmt.Sprintf("cmd-%d", i)), 5*time.Second).Error())
	}
	must(r.Snapshot().Error())
	must(r.AddNonvoter("n2", "addr-n2", 0, 5*time.Second).Error())
	for i := 40; i < 50; i++ {
		must(r.Apply([]byte(fmt.Sprintf("cmd-%d", i)), 5*time.Second).Error())
	}
	must(r.Shutdown().Error())
	must(store.Close())
}

// TestInspectPontoonDir: a directory written by a cleanly stopped Pontoon
// node: info shows the log range, terms, stable keys, both configurations
// and the snapshot; dump prints entries by index; verify passes, and fails
// naming state.bin once a snapshot byte is flipped.
func TestInspectPontoonDir(t *testing.T) {
	dir := t.TempDir()
	writePontoonDir(t, dir)

	code, out := run(t, dir)
	if code != 0 {
		t.Fatalf("info: exit %d\n%s", code, out)
	}
	// 1 bootstrap configuration, 2 noop, 3..42 commands, 43 the
	// configuration adding n2, 44..53 commands.
	mustContain(t, "info", out,
		"first index 1, last index 53 (53 entries)",
		"LogCommand 50", "LogNoop 1", "LogConfiguration 2",
		"journal:        none",
		"CurrentTerm   ", "LastVoteCand  \"n1\"",
		"configurations: 2 in the log",
		"index 1 term 1: [Voter n1 n1]",
		"index 43 term 2: [Voter n1 n1, Nonvoter n2 addr-n2]",
		"snapshots:      1 in",
		"index 42 term 2 size 8",
		"configuration (index 1): [Voter n1 n1]",
	)

	code, out = run(t, "dump", "-from", "42", "-to", "44", dir)
	if code != 0 {
		t.Fatalf("dump: exit %d\n%s", code, out)
	}
	mustContain(t, "dump", out,
		"42: term 2 LogCommand", `"cmd-39"`,
		"43: term 2 LogConfiguration", "[Voter n1 n1, Nonvoter n2 addr-n2]",
		"44: term 2 LogCommand", `"cmd-40"`)
	if n := strings.Count(out, "\n"); n != 3 {
		t.Fatalf("dump 42..44 printed %d lines:\n%s", n, out)
	}

	code, out = run(t, "verify", dir)
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	mustContain(t, "verify", out, "ok: 53 entries (1..53)", "1 snapshot(s)")

	// Damage the snapshot's data.
	states, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*", "state.bin"))
	if len(states) != 1 {
		t.Fatalf("state.bin files: %v", states)
	}
	b, err := os.ReadFile(states[0])
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if err := os.WriteFile(states[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = run(t, "verify", dir)
	if code != exitDamaged {
		t.Fatalf("verify of a damaged snapshot: exit %d\n%s", code, out)
	}
	mustContain(t, "verify damaged", out, "CRC mismatch", states[0])
}

// TestInspectRefusesDirInUse: a store held open (as by a running node) is
// reported in use, politely and quickly, by every command.
func TestInspectRefusesDirInUse(t *testing.T) {
	defer func(d time.Duration) { openTimeout = d }(openTimeout)
	openTimeout = 200 * time.Millisecond
	dir := t.TempDir()
	s, err := logstore.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, cmd := range []string{"info", "dump", "verify", "checkpoint"} {
		start := time.Now()
		code, out := run(t, cmd, dir)
		if code != exitFailed {
			t.Fatalf("%s on a directory in use: exit %d\n%s", cmd, code, out)
		}
		if cmd != "checkpoint" { // no journal yet: checkpoint has nothing to do
			mustContain(t, cmd, out, "raft.db is in use by another process")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("%s took %v", cmd, d)
		}
	}
}

// TestInspectReadOnlyDir: info, dump and verify work on a data directory
// they may not write to (a mounted backup, another user's files), and write
// nothing there: the snapshot store is opened without its permission probe.
func TestInspectReadOnlyDir(t *testing.T) {
	dir := t.TempDir()
	writePontoonDir(t, dir)
	dirs := []string{dir, filepath.Join(dir, "snapshots")}
	mtimes := map[string]time.Time{}
	for _, d := range dirs {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		mtimes[d] = st.ModTime()
	}
	if os.Geteuid() != 0 {
		for _, d := range dirs {
			if err := os.Chmod(d, 0o555); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() {
			for _, d := range dirs {
				_ = os.Chmod(d, 0o755)
			}
		})
	}
	for _, args := range [][]string{{"info", dir}, {"dump", "-from", "50", dir}, {"verify", dir}} {
		if code, out := run(t, args...); code != 0 {
			t.Fatalf("%s on a read-only directory: exit %d\n%s", args[0], code, out)
		}
	}
	// NB: as root, the modes above do not stop writes: the directories'
	// modification times show whether anything was created or removed.
	for _, d := range dirs {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if !st.ModTime().Equal(mtimes[d]) {
			t.Errorf("%s was written to: mtime %v, was %v", d, st.ModTime(), mtimes[d])
		}
	}
}

// TestInspectMissingDir: a directory without raft.db gets a clear error.
func TestInspectMissingDir(t *testing.T) {
	code, out := run(t, t.TempDir())
	if code != exitFailed {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, "missing", out, "no log store here")
	if code, _ := run(t, "dump", "-from", "x", t.TempDir()); code != exitFailed {
		t.Fatalf("bad flag: exit %d", code)
	}
}

// crashChildEnv names the data directory a crash child writes to.
const crashChildEnv = "RAFTINSPECT_CRASH_CHILD"

// crashChild writes entries 1..20 into raft.db (no journal, closed), then
// reopens the store with its journal, writes 21..30 (journal only: far
// below a checkpoint), sets the stable keys, prints "ready" and waits to
// be killed.
func crashChild(dir string) {
	path := filepath.Join(dir, "raft.db")
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	s, err := logstore.New(logstore.Options{Path: path, NoJournal: true})
	if err != nil {
		fail(err)
	}
	conf := raft.EncodeConfiguration(raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: "a1"}}})
	logs := make([]*raft.Log, 0, 30)
	for i := uint64(1); i <= 30; i++ {
		l := &raft.Log{Index: i, Term: 1 + i/15, Type: raft.LogCommand, Data: []byte(fmt.Sprintf("v%d", i))}
		if i == 1 {
			l.Type, l.Data = raft.LogConfiguration, conf
		}
		logs = append(logs, l)
	}
	if err := s.StoreLogs(logs[:20]); err != nil {
		fail(err)
	}
	if err := s.Close(); err != nil {
		fail(err)
	}
	if s, err = logstore.New(logstore.Options{Path: path}); err != nil {
		fail(err)
	}
	for _, l := range logs[20:] {
		if err := s.StoreLog(l); err != nil {
			fail(err)
		}
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		fail(err)
	}
	fmt.Println("ready")
	select {}
}

// TestInspectCrashedPontoonDir: a Pontoon store SIGKILLed with entries in
// its journal only. While the child runs, the directory is refused as in
// use; after the kill, info shows the whole log and which entries only the
// journal holds, verify passes, and checkpoint folds the journal into
// raft.db so a plain bbolt reader (raft-boltdb's view) finds every entry.
func TestInspectCrashedPontoonDir(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	code, out := run(t, "info", dir)
	if code != exitFailed {
		t.Fatalf("info on a running node's directory: exit %d\n%s", code, out)
	}
	mustContain(t, "in use", out, "raft.db is in use by another process")

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true

	code, out = run(t, dir)
	if code != 0 {
		t.Fatalf("info: exit %d\n%s", code, out)
	}
	mustContain(t, "info after the crash", out,
		"first index 1, last index 30 (30 entries)",
		"entries 21..30 are in the journal only; raft.db alone ends at 20",
		"term 1: indexes 1..14", "term 3: indexes 30..30",
		"CurrentTerm   3",
		"index 1 term 1: [Voter n1 a1]")
	code, out = run(t, "dump", "-from", "29", dir)
	mustContain(t, "dump", out, `29: term 2 LogCommand appended - 3 bytes "v29"`, `30: term 3 LogCommand`)
	if code != 0 {
		t.Fatalf("dump: exit %d", code)
	}
	if code, out = run(t, "verify", dir); code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}

	d := dataDir{dir: dir, db: filepath.Join(dir, "raft.db"), snapBase: dir}
	if last, err := d.boltLastIndex(); err != nil || last != 20 {
		t.Fatalf("raft.db alone before the checkpoint ends at %d (%v), want 20", last, err)
	}
	code, out = run(t, "checkpoint", dir)
	if code != 0 {
		t.Fatalf("checkpoint: exit %d\n%s", code, out)
	}
	mustContain(t, "checkpoint", out, "raft.db ended at index 20, now at 30")
	if last, err := d.boltLastIndex(); err != nil || last != 30 {
		t.Fatalf("raft.db alone after the checkpoint ends at %d (%v), want 30", last, err)
	}
	if files := d.journalFiles(); len(files) != 0 {
		t.Fatalf("journal files left: %v", files)
	}
	code, out = run(t, dir)
	mustContain(t, "info after the checkpoint", out, "journal:        none", "last index 30")
	if code, out = run(t, "checkpoint", dir); code != 0 || !strings.Contains(out, "no journal") {
		t.Fatalf("second checkpoint: exit %d\n%s", code, out)
	}
}

// TestInspectShowOutput prints info's output for a Pontoon directory (run
// with -v to see it; docs/raftinspect.md shows the same).
func TestInspectShowOutput(t *testing.T) {
	if !testing.Verbose() {
		t.Skip("only with -v")
	}
	dir := t.TempDir()
	writePontoonDir(t, dir)
	_, out := run(t, dir)
	t.Log("\n" + out)
}

// segStoreDir writes a Pontoon data directory as the kvstore example does
// with -log-store segment: the SegmentStore in log/, snapshots beside it.
func segStoreDir(t *testing.T) (dir, segDir string) {
	t.Helper()
	dir = t.TempDir()
	segDir = filepath.Join(dir, "log")
	writePontoonDirOn(t, dir, func() (nodeStore, error) {
		return logstore.NewSegmentStore(logstore.SegmentOptions{Dir: segDir})
	})
	return dir, segDir
}

// treeDigest lists every file under dir with its size and a hash of its
// contents.
func treeDigest(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %x\n", p, len(data), sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestInspectSegmentStoreDir: a data directory whose log is a SegmentStore
// (in log/, as kvstore -log-store segment keeps it; or named with -db) is
// inspected like a BoltStore one — the same log, terms, stable keys,
// configurations and snapshot — read-only: nothing under it changes.
// checkpoint has nothing to do and says so; a damaged record fails verify
// naming the segment; a store open read-write elsewhere is reported in use.
func TestInspectSegmentStoreDir(t *testing.T) {
	defer func(d time.Duration) { openTimeout = d }(openTimeout)
	openTimeout = 200 * time.Millisecond
	dir, segDir := segStoreDir(t)
	before := treeDigest(t, dir)

	code, out := run(t, dir)
	if code != 0 {
		t.Fatalf("info: exit %d\n%s", code, out)
	}
	mustContain(t, "info", out,
		"log store:      "+segDir+" (SegmentStore: 1 segment files",
		"first index 1, last index 53 (53 entries)",
		"LogCommand 50", "LogNoop 1", "LogConfiguration 2",
		"CurrentTerm   ", "LastVoteCand  \"n1\"",
		"index 43 term 2: [Voter n1 n1, Nonvoter n2 addr-n2]",
		"snapshots:      1 in",
	)
	if strings.Contains(out, "journal:") {
		t.Fatalf("info of a SegmentStore reports a journal:\n%s", out)
	}
	code, out = run(t, "dump", "-from", "42", "-to", "44", "-db", segDir, dir)
	if code != 0 {
		t.Fatalf("dump -db: exit %d\n%s", code, out)
	}
	mustContain(t, "dump", out, "42: term 2 LogCommand", `"cmd-39"`, "43: term 2 LogConfiguration", "44: term 2 LogCommand")
	code, out = run(t, "verify", dir)
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	mustContain(t, "verify", out, "ok: 53 entries (1..53)", "1 snapshot(s)")
	code, out = run(t, "checkpoint", dir)
	if code != exitFailed {
		t.Fatalf("checkpoint of a SegmentStore: exit %d\n%s", code, out)
	}
	mustContain(t, "checkpoint", out, "a SegmentStore has no journal")
	if after := treeDigest(t, dir); after != before {
		t.Fatalf("inspecting changed the data directory:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// In use: a node holding the store open.
	s, err := logstore.NewSegmentStore(logstore.SegmentOptions{Dir: segDir})
	if err != nil {
		t.Fatal(err)
	}
	code, out = run(t, "info", dir)
	_ = s.Close()
	if code != exitFailed {
		t.Fatalf("info on a SegmentStore in use: exit %d\n%s", code, out)
	}
	mustContain(t, "in use", out, "is in use by another process")

	// Damage: one byte of the first record's payload.
	segs, _ := filepath.Glob(filepath.Join(segDir, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no segment files")
	}
	f, err := os.OpenFile(segs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var one [1]byte
	const off = 4096 + 40 // inside the first record, past the header sector
	if _, err := f.ReadAt(one[:], off); err != nil {
		t.Fatal(err)
	}
	one[0] ^= 0xff
	if _, err := f.WriteAt(one[:], off); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	code, out = run(t, "verify", dir)
	if code != exitDamaged {
		t.Fatalf("verify of a damaged segment: exit %d\n%s", code, out)
	}
	mustContain(t, "verify damaged", out, segs[0])
}
