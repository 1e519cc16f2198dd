package logstore_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
)

// The crash test re-executes the test binary as a child that appends
// batches to a BoltStore, and SIGKILLs it at random moments. After every
// kill the parent reopens the file and checks that every batch the child
// reported (printed after StoreLogs returned) is there, and that no batch
// is there in part.

// crashChildEnv names the store file in the child's environment;
// crashJournalEnv its journal: "off" for NoJournal, "seg:<size>" for a
// SegmentStore (in <file>.seg) with that segment size, else the
// JournalSize.
const (
	crashChildEnv   = "PONTOON_LOGSTORE_CRASH_CHILD"
	crashJournalEnv = "PONTOON_LOGSTORE_CRASH_JOURNAL"
)

// crashOptions returns the store options a crash test mode names.
func crashOptions(path, mode string) logstore.Options {
	opts := logstore.Options{Path: path}
	if mode == "off" {
		opts.NoJournal = true
	} else if n, err := strconv.ParseInt(mode, 10, 64); err == nil {
		opts.JournalSize = n
	}
	return opts
}

// crashStore is what the crash test needs of a store.
type crashStore interface {
	logstore.LogStore
	Close() error
}

// openCrashStore opens the store a crash test mode names.
func openCrashStore(path, mode string) (crashStore, error) {
	if size, ok := strings.CutPrefix(mode, "seg:"); ok {
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil {
			return nil, err
		}
		return logstore.NewSegmentStore(logstore.SegmentOptions{Dir: path + ".seg", SegmentSize: n})
	}
	return logstore.New(crashOptions(path, mode))
}

// crashChild is the child's main: append forever, report each batch as
// "<first> <last>\n" on stdout; now and then delete a prefix of whole
// batches, as compaction after a snapshot does, and report the new first
// index as "P <first>\n". It exits when stdout breaks or after a
// minute, so it never outlives a dead parent for long.
func crashChild() {
	path := os.Getenv(crashChildEnv)
	s, err := openCrashStore(path, os.Getenv(crashJournalEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(2)
	}
	last, err := s.LastIndex()
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: last index:", err)
		os.Exit(2)
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		n := uint64(1 + rng.Intn(64))
		first := last + 1
		batch := make([]*raft.Log, 0, n)
		for i := first; i <= last+n; i++ {
			tag := fmt.Sprintf("%d %d ", first, last+n)
			data := append([]byte(tag), bytes.Repeat([]byte{'x'}, rng.Intn(3000))...)
			batch = append(batch, &raft.Log{Index: i, Term: 1, Data: data, AppendedAt: time.Now()})
		}
		if err := s.StoreLogs(batch); err != nil {
			fmt.Fprintln(os.Stderr, "child: store:", err)
			os.Exit(2)
		}
		last += n
		if _, err := fmt.Fprintf(os.Stdout, "%d %d\n", first, last); err != nil {
			os.Exit(3)
		}
		if rng.Intn(6) == 0 {
			crashCompact(s, rng, last)
		}
	}
	os.Exit(0)
}

// crashCompact deletes the log's prefix up to the end of a random batch
// other than the last, and reports the new first index.
func crashCompact(s crashStore, rng *rand.Rand, last uint64) {
	first, err := s.FirstIndex()
	if err != nil || first == 0 || first >= last {
		return
	}
	var l raft.Log
	if err := s.GetLog(first+uint64(rng.Int63n(int64(last-first))), &l); err != nil {
		fmt.Fprintln(os.Stderr, "child: get:", err)
		os.Exit(2)
	}
	var f, e uint64
	if _, err := fmt.Sscanf(string(l.Data), "%d %d ", &f, &e); err != nil || e >= last {
		return
	}
	if err := s.DeleteRange(first, e); err != nil {
		fmt.Fprintln(os.Stderr, "child: delete range:", err)
		os.Exit(2)
	}
	if _, err := fmt.Fprintf(os.Stdout, "P %d\n", e+1); err != nil {
		os.Exit(3)
	}
}

// TestCrashKill runs with the default journal, with a small one (so kills
// land during rotations and checkpoints: a batch averages ~100 KB),
// without one, and on a SegmentStore with 1 MiB and 128 KiB segments (kills
// during rotations and while the next segment is being prepared).
func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	for _, mode := range []string{"default", "131072", "off", "seg:1048576", "seg:131072"} {
		t.Run("journal="+mode, func(t *testing.T) { testCrashKill(t, mode) })
	}
}

func testCrashKill(t *testing.T, mode string) {
	path := filepath.Join(t.TempDir(), "raft.db")
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	reported := map[uint64]uint64{}  // first -> last of every reported batch
	var maxReported, minFirst uint64 // the last index and the first reported
	compactions := 0
	start := time.Now()
	const rounds = 40
	for round := 0; round < rounds; round++ {
		var stderr bytes.Buffer
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashJournalEnv+"="+mode)
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		mustNoErr(t, err)
		mustNoErr(t, cmd.Start())
		sc := bufio.NewScanner(out)
		record := func(line string) {
			var f, l uint64
			if _, err := fmt.Sscanf(line, "P %d", &f); err == nil {
				minFirst = max(minFirst, f)
				compactions++
				return
			}
			if _, err := fmt.Sscanf(line, "%d %d", &f, &l); err != nil {
				t.Fatalf("round %d: bad line %q", round, line)
			}
			reported[f] = l
			if l > maxReported {
				maxReported = l
			}
		}
		// Kill after a random number of reported batches, plus a random
		// sub-millisecond offset so the kill lands anywhere in a commit.
		want := 1 + rng.Intn(15)
		for got := 0; got < want; got++ {
			if !sc.Scan() {
				_ = cmd.Wait()
				t.Fatalf("round %d: child stopped early: %v\nstderr:\n%s", round, sc.Err(), stderr.String())
			}
			record(sc.Text())
		}
		time.Sleep(time.Duration(rng.Intn(1500)) * time.Microsecond) // fault timing, not synchronisation
		mustNoErr(t, cmd.Process.Signal(syscall.SIGKILL))
		for sc.Scan() {
			record(sc.Text())
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child was not killed: %v\nstderr:\n%s", round, err, stderr.String())
		}
		checkCrashFile(t, path, mode, reported, maxReported, minFirst, round)
	}
	t.Logf("%d kills, %d batches and %d prefix deletes reported, index range [%d, %d], in %v", rounds, len(reported), compactions, minFirst, maxReported, time.Since(start))
}

// logDigest reads every entry of s and returns its bounds and a hash of
// the entries' indexes, terms and data.
func logDigest(t *testing.T, s logstore.LogStore) (first, last uint64, sum [sha256.Size]byte) {
	t.Helper()
	first, err := s.FirstIndex()
	mustNoErr(t, err)
	last, err = s.LastIndex()
	mustNoErr(t, err)
	h := sha256.New()
	for i := first; i <= last && first > 0; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil {
			t.Fatalf("entry %d of [%d, %d]: %v", i, first, last, err)
		}
		fmt.Fprintf(h, "%d %d %d:", l.Index, l.Term, len(l.Data))
		h.Write(l.Data)
	}
	copy(sum[:], h.Sum(nil))
	return first, last, sum
}

// dirDigest hashes the names, sizes and contents of the files in dir.
func dirDigest(t *testing.T, dir string) [sha256.Size]byte {
	t.Helper()
	names, err := os.ReadDir(dir)
	mustNoErr(t, err)
	h := sha256.New()
	for _, e := range names {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		mustNoErr(t, err)
		fmt.Fprintf(h, "%s %d:", e.Name(), len(b))
		h.Write(b)
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// checkCrashReadOnly opens a killed SegmentStore read-only, as an
// inspection tool would, before the read-write open: it must read the
// same log that open then finds, and change nothing in the directory (the
// torn write and the crash's other leftovers are the read-write open's to
// deal with). It returns the log's digest.
func checkCrashReadOnly(t *testing.T, dir string, round int) (first, last uint64, sum [sha256.Size]byte) {
	t.Helper()
	before := dirDigest(t, dir)
	s, err := logstore.NewSegmentStore(logstore.SegmentOptions{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatalf("round %d: read-only open after kill: %v", round, err)
	}
	first, last, sum = logDigest(t, s)
	if err := s.StoreLogs([]*raft.Log{{Index: last + 1, Term: 1}}); err == nil {
		t.Fatalf("round %d: StoreLogs on a read-only store succeeded", round)
	}
	if err := s.SetUint64([]byte("k"), 1); err == nil {
		t.Fatalf("round %d: SetUint64 on a read-only store succeeded", round)
	}
	mustNoErr(t, s.Close())
	if dirDigest(t, dir) != before {
		t.Fatalf("round %d: a read-only open changed the store's directory", round)
	}
	return first, last, sum
}

// checkCrashFile opens the store after a kill and checks it.
func checkCrashFile(t *testing.T, path, mode string, reported map[uint64]uint64, maxReported, minFirst uint64, round int) {
	t.Helper()
	var roFirst, roLast uint64
	var roSum [sha256.Size]byte
	seg := strings.HasPrefix(mode, "seg:")
	if seg {
		roFirst, roLast, roSum = checkCrashReadOnly(t, path+".seg", round)
	}
	s, err := openCrashStore(path, mode)
	if err != nil {
		t.Fatalf("round %d: reopen after kill: %v", round, err)
	}
	defer func() { mustNoErr(t, s.Close()) }()
	if seg {
		if first, last, sum := logDigest(t, s); first != roFirst || last != roLast || sum != roSum {
			t.Fatalf("round %d: read-only open saw [%d, %d], read-write open [%d, %d] (digests equal: %v)", round, roFirst, roLast, first, last, sum == roSum)
		}
	}
	first, err := s.FirstIndex()
	mustNoErr(t, err)
	last, err := s.LastIndex()
	mustNoErr(t, err)
	if maxReported > 0 && (first < max(1, minFirst) || last < maxReported) {
		t.Fatalf("round %d: log is [%d, %d], but batches up to %d and a first index of %d were reported", round, first, last, maxReported, minFirst)
	}
	if first > 1 {
		var l raft.Log
		if err := s.GetLog(first-1, &l); err != raft.ErrLogNotFound { //nolint:errorlint // the contract: ErrLogNotFound itself
			t.Fatalf("round %d: entry %d below the first index %d: %v", round, first-1, first, err)
		}
	}
	// Walk the log: every entry names its batch, which must be whole.
	for i := first; i <= last && first > 0; {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil {
			t.Fatalf("round %d: entry %d of [1, %d]: %v", round, i, last, err)
		}
		var f, e uint64
		if _, err := fmt.Sscanf(string(l.Data), "%d %d ", &f, &e); err != nil || f != i || e > last {
			t.Fatalf("round %d: entry %d starts batch %q, log ends at %d", round, i, strings.SplitN(string(l.Data), " x", 2)[0], last)
		}
		if r, ok := reported[f]; ok && r != e {
			t.Fatalf("round %d: batch at %d ends at %d, reported %d", round, f, e, r)
		}
		for j := f + 1; j <= e; j++ {
			if err := s.GetLog(j, &l); err != nil {
				t.Fatalf("round %d: batch [%d, %d] is partial: entry %d: %v", round, f, e, j, err)
			}
			var f2, e2 uint64
			if _, err := fmt.Sscanf(string(l.Data), "%d %d ", &f2, &e2); err != nil || f2 != f || e2 != e {
				t.Fatalf("round %d: entry %d belongs to another batch", round, j)
			}
		}
		i = e + 1
	}
	for f, l := range reported {
		if f >= first && l > last {
			t.Fatalf("round %d: reported batch [%d, %d] missing", round, f, l)
		}
	}
}
