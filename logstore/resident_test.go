package logstore_test

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
)

// mappedResident is the resident size of this process's mappings of path
// (/proc/self/smaps).
func mappedResident(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	mustNoErr(t, err)
	defer f.Close()
	var total int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && fields[len(fields)-1] == path
			continue
		}
		if in && fields[0] == "Rss:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			mustNoErr(t, err)
			total += kb << 10
		}
	}
	mustNoErr(t, sc.Err())
	return total
}

// churn appends entries of size bytes in batches for rounds rounds and,
// after each, compacts the log down to its newest keep entries and reads a
// few of the oldest, as a node between snapshots does. It returns the
// largest resident size of the file's mapping seen after a round, and the
// file's size after the first half of the rounds and at the end.
func churn(t *testing.T, s *logstore.BoltStore, rounds, perRound, keep, size int) (maxRes, midSize, endSize int64) {
	t.Helper()
	val := make([]byte, size)
	batch := make([]*raft.Log, 64)
	next := uint64(1)
	for r := 0; r < rounds; r++ {
		for n := 0; n < perRound; n += len(batch) {
			for i := range batch {
				batch[i] = &raft.Log{Index: next, Term: 1, Type: raft.LogCommand, Data: val}
				next++
			}
			mustNoErr(t, s.StoreLogs(batch))
		}
		mustNoErr(t, logstore.WaitCheckpoint(s))
		first, err := s.FirstIndex()
		mustNoErr(t, err)
		last := next - 1
		if last-first+1 > uint64(keep) {
			mustNoErr(t, s.DeleteRange(first, last-uint64(keep)))
			first = last - uint64(keep) + 1
		}
		var l raft.Log
		for i := uint64(0); i < 64; i++ {
			mustNoErr(t, s.GetLog(first+i, &l))
		}
		maxRes = max(maxRes, mappedResident(t, s.Path()))
		if r == rounds/2-1 {
			midSize = fileSize(t, s.Path())
		}
	}
	return maxRes, midSize, fileSize(t, s.Path())
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	mustNoErr(t, err)
	return fi.Size()
}

// TestBoltResidentBounded: a store that keeps 8 MiB of log while 3× that
// is written and compacted through it keeps at most about
// ResidentTrimBytes of its file resident in the process, and its file
// stops growing once compaction frees pages (bbolt reuses them). The same
// churn with trimming off shows that the bound is the trimming's doing.
func TestBoltResidentBounded(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("resident pages are released on Linux only")
	}
	const (
		size     = 4096
		keep     = 2 << 10 // entries: 8 MiB of values
		perRound = 512
		rounds   = 12 // 24 MiB written
		trim     = 1 << 20
	)
	run := func(t *testing.T, trimBytes int64) (maxRes, midSize, endSize int64, trims int64) {
		path := filepath.Join(t.TempDir(), "raft.db")
		s, err := logstore.New(logstore.Options{Path: path, NoSync: true, ResidentTrimBytes: trimBytes})
		mustNoErr(t, err)
		defer func() { mustNoErr(t, s.Close()) }()
		// smaps names the file by its absolute, symlink-free path.
		real, err := filepath.EvalSymlinks(path)
		mustNoErr(t, err)
		if real != path {
			t.Skipf("temp dir %s is behind a symlink", path)
		}
		maxRes, midSize, endSize = churn(t, s, rounds, perRound, keep, size)
		trims, failed := logstore.ResidentTrims(s)
		if failed != 0 {
			t.Fatalf("%d trims failed", failed)
		}
		return maxRes, midSize, endSize, trims
	}
	var offRes int64
	t.Run("off", func(t *testing.T) {
		var trims int64
		offRes, _, _, trims = run(t, -1)
		if trims != 0 {
			t.Fatalf("%d trims with trimming off", trims)
		}
		t.Logf("trimming off: resident up to %.1f MiB", float64(offRes)/(1<<20))
	})
	t.Run("on", func(t *testing.T) {
		maxRes, midSize, endSize, trims := run(t, trim)
		t.Logf("trimming every %d MiB: resident up to %.1f MiB (%d trims); file %.1f MiB at half-time, %.1f MiB at the end",
			trim>>20, float64(maxRes)/(1<<20), trims, float64(midSize)/(1<<20), float64(endSize)/(1<<20))
		// The bound: one trim interval of pages touched, plus the
		// branch pages and last leaf a transaction walks and the pages
		// of the file bbolt's open read (meta, freelist).
		if limit := int64(3 * trim); maxRes > limit {
			t.Errorf("resident mapping %d bytes, want <= %d", maxRes, limit)
		}
		if offRes > 0 && offRes < 2*int64(3*trim) {
			t.Errorf("without trimming only %d bytes resident: the churn does not exercise the bound", offRes)
		}
		if trims == 0 {
			t.Error("no trim")
		}
		// The retained log is 8 MiB; freed pages are reused, so the
		// file stops growing after the first rounds.
		if endSize > midSize+midSize/4 {
			t.Errorf("file grew from %d to %d bytes while the log stayed %d entries", midSize, endSize, keep)
		}
	})
}
