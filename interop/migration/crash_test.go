package migration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/pontoon-raft/raft/logstore"
)

const (
	childEnv    = "PONTOON_MIGRATION_CHILD_DIR"
	childAddr   = "n1-addr"
	ackPrefix   = "ack "
	killAfter   = 300 // acknowledged writes before the kill
	childTuning = 64  // snapshot threshold in the child: snapshots happen
)

// childTB ends the child process on a fatal error.
type childTB struct{}

func (childTB) Helper() {}
func (childTB) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, args...)
	os.Exit(2)
}
func (childTB) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}
func (childTB) Errorf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// runChild runs a one-server Pontoon cluster over the directory it is given
// and applies writes until it is killed, printing each acknowledged one.
func runChild() {
	dir := os.Getenv(childEnv)
	m := startPontoon(childTB{}, "n1", childAddr, dir, &state{}, tuning{snapThreshold: childTuning, trailing: 32},
		[]string{"n1=" + childAddr})
	for !m.isLeader() {
		time.Sleep(5 * time.Millisecond)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		c := fmt.Sprintf("k-%d", i)
		if err := m.apply(c, opTimeout); err != nil {
			fmt.Fprintln(os.Stderr, "apply:", err)
			os.Exit(3)
		}
		out.WriteString(ackPrefix + c + "\n")
		out.Flush() // the parent counts it acknowledged once it reads it
	}
}

// A Pontoon node killed with SIGKILL (its journal holding writes raft.db
// does not have yet) is handed to hashicorp/raft by the documented
// procedure: open the directory once with logstore.BoltStore and Close it,
// which folds the journal into raft.db. hashicorp/raft then holds every
// acknowledged write.
func TestSIGKILLedPontoonToHashicorp(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(stdout)
	killed := false
	for sc.Scan() {
		line := sc.Text()
		if c, ok := strings.CutPrefix(line, ackPrefix); ok {
			acked = append(acked, c)
		}
		if len(acked) == killAfter && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before %d writes: %v", killAfter, err)
	}
	t.Logf("child killed after %d acknowledged writes (%v)", len(acked), err)
	if _, err := os.Stat(filepath.Join(dir, "raft.db")); err != nil {
		t.Fatal(err)
	}

	// What raft-boltdb would see without the fold: a copy of raft.db alone.
	unfolded := lastIndexOf(t, filepath.Join(dir, "raft.db"))

	// The documented procedure: open once with Pontoon's store, close.
	s, err := logstore.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		t.Fatalf("opening the killed node's store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("closing it: %v", err)
	}

	if _, err := os.Stat(filepath.Join(dir, "raft.db.journal.0")); err == nil {
		t.Fatal("the journal is still there after Close")
	}
	folded := lastIndexOf(t, filepath.Join(dir, "raft.db"))
	t.Logf("raft.db read by raft-boltdb ends at %d without the fold, %d after it", unfolded, folded)
	if folded < unfolded {
		t.Fatalf("the fold lost entries: %d < %d", folded, unfolded)
	}

	h := startHashicorp(t, "n1", childAddr, dir, &state{}, tuning{}, nil)
	defer h.stop(t)
	leaderAmong(t, []*member{h})
	if err := h.barrier(); err != nil {
		t.Fatal(err)
	}
	checkHas(t, "hashicorp over the killed node's directory", h.st.commands(), acked)
	if err := h.apply("after", opTimeout); err != nil {
		t.Fatal(err)
	}
}

// lastIndexOf opens a copy of the bbolt file with raft-boltdb/v2 and returns
// its last index.
func lastIndexOf(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := raftboltdb.NewBoltStore(cp)
	if err != nil {
		t.Fatalf("raft-boltdb opening a copy of %s: %v", path, err)
	}
	defer s.Close()
	last, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	return last
}
