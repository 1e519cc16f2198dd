package logstore_test

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/logstore/storetest"
)

// These tests close and reopen a SegmentStore and check that it comes
// back with exactly what was acknowledged, while small segments rotate,
// get compacted away and reused.

// segmentSeedEnv, if set, is the seed of TestSegmentReopenModel.
const segmentSeedEnv = "PONTOON_SEGMENT_SEED"

// openSegmentDir opens the SegmentStore in dir with segments of size
// bytes. The caller closes it.
func openSegmentDir(t testing.TB, dir string, size int64) *logstore.SegmentStore {
	t.Helper()
	s, err := logstore.NewSegmentStore(logstore.SegmentOptions{Dir: dir, SegmentSize: size})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	return s
}

// segmentFiles returns the paths of the segment files (*.seg) in dir,
// in sequence order.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	mustNoErr(t, err)
	sort.Strings(paths) // zero-padded sequence numbers
	return paths
}

// segmentFilesInUse returns the segment files the state file of the store
// in dir names, each checked to exist (the segment the store prepares
// ahead is not one of them).
func segmentFilesInUse(t testing.TB, dir string) []string {
	t.Helper()
	paths, err := logstore.SegmentFilesInUse(dir)
	mustNoErr(t, err)
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("segment in use: %v", err)
		}
	}
	return paths
}

// segmentSeq returns the sequence number of the segment file at path.
func segmentSeq(t testing.TB, path string) uint64 {
	t.Helper()
	seq, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), ".seg"), 10, 64)
	mustNoErr(t, err)
	return seq
}

// segmentLog returns entry index of generation gen with size bytes of
// data: entries rewritten under another generation differ in Term, Data
// and sometimes Extensions.
func segmentLog(index, gen uint64, size int) *raft.Log {
	l := storetest.MakeLog(index, size)
	l.Term = gen
	if size > 0 {
		l.Data[0] ^= byte(gen)
		l.Data[size-1] ^= byte(gen >> 8)
	}
	if gen%3 == 0 {
		l.Extensions = []byte(fmt.Sprintf("gen %d", gen))
	}
	if gen%5 == 0 {
		l.Type = raft.LogConfiguration
	}
	return l
}

// segModel is a SegmentStore and a model of the log it should hold.
type segModel struct {
	t    *testing.T
	dir  string
	size int64
	seed int64
	s    *logstore.SegmentStore
	logs map[uint64]*raft.Log
	gen  uint64
	top  uint64   // the highest index ever stored
	ops  []string // the operations so far, for failure messages
}

// fatalf fails the test with the seed and the last operations.
func (m *segModel) fatalf(format string, args ...any) {
	m.t.Helper()
	from := max(0, len(m.ops)-25)
	m.t.Fatalf("seed %d (%s=%d to rerun), segment size %d, after op %d: %s\nlast operations:\n  %s",
		m.seed, segmentSeedEnv, m.seed, m.size, len(m.ops), fmt.Sprintf(format, args...), strings.Join(m.ops[from:], "\n  "))
}

// bounds returns the model's first and last index (0, 0 if empty).
func (m *segModel) bounds() (first, last uint64) {
	for i := range m.logs {
		if first == 0 || i < first {
			first = i
		}
		last = max(last, i)
	}
	return first, last
}

// store stores logs in the store and the model.
func (m *segModel) store(what string, logs []*raft.Log) {
	m.t.Helper()
	idx := make([]string, len(logs))
	for i, l := range logs {
		idx[i] = strconv.FormatUint(l.Index, 10)
	}
	m.ops = append(m.ops, fmt.Sprintf("%s: StoreLogs [%s] gen %d", what, strings.Join(idx, " "), m.gen))
	if err := m.s.StoreLogs(logs); err != nil {
		m.fatalf("StoreLogs: %v", err)
	}
	for _, l := range logs {
		m.logs[l.Index] = l
		m.top = max(m.top, l.Index)
	}
}

// deleteRange deletes [lo, hi] in the store and the model.
func (m *segModel) deleteRange(what string, lo, hi uint64) {
	m.t.Helper()
	m.ops = append(m.ops, fmt.Sprintf("%s: DeleteRange(%d, %d)", what, lo, hi))
	if err := m.s.DeleteRange(lo, hi); err != nil {
		m.fatalf("DeleteRange(%d, %d): %v", lo, hi, err)
	}
	for i := range m.logs {
		if i >= lo && i <= hi {
			delete(m.logs, i)
		}
	}
}

// reopen closes the store and opens it again.
func (m *segModel) reopen() {
	m.t.Helper()
	m.ops = append(m.ops, "reopen")
	if err := m.s.Close(); err != nil {
		m.fatalf("Close: %v", err)
	}
	s, err := logstore.NewSegmentStore(logstore.SegmentOptions{Dir: m.dir, SegmentSize: m.size})
	if err != nil {
		m.fatalf("reopen: %v", err)
	}
	m.s = s
}

// checkBounds compares the store's bounds with the model's.
func (m *segModel) checkBounds() {
	m.t.Helper()
	first, last := m.bounds()
	gotFirst, err := m.s.FirstIndex()
	if err != nil {
		m.fatalf("FirstIndex: %v", err)
	}
	gotLast, err := m.s.LastIndex()
	if err != nil {
		m.fatalf("LastIndex: %v", err)
	}
	if gotFirst != first || gotLast != last {
		m.fatalf("bounds [%d, %d], want [%d, %d]", gotFirst, gotLast, first, last)
	}
}

// check compares the store with the model: bounds, and every index from
// one below the first to one above the last.
func (m *segModel) check() {
	m.t.Helper()
	m.checkBounds()
	first, last := m.bounds()
	lo, hi := max(first, 2)-1, last+1
	if first == 0 {
		lo, hi = max(m.top, 2)-1, m.top+1
	}
	for i := lo; i <= hi; i++ {
		var got raft.Log
		err := m.s.GetLog(i, &got)
		want, ok := m.logs[i]
		switch {
		case !ok:
			//nolint:errorlint // the identity is the contract: hashicorp/raft compares with ==.
			if err != raft.ErrLogNotFound {
				m.fatalf("GetLog(%d) = %v (entry term %d), want raft.ErrLogNotFound", i, err, got.Term)
			}
		case err != nil:
			m.fatalf("GetLog(%d): %v", i, err)
		default:
			if err := storetest.LogDiff(want, &got); err != nil {
				m.fatalf("%v", err)
			}
		}
	}
}

// segEntrySize returns a random entry size: mostly small, at times larger
// than a small segment.
func segEntrySize(r *rand.Rand, segSize int64) int {
	if r.Intn(40) == 0 {
		return int(segSize) + r.Intn(2000) // a segment of its own size
	}
	return r.Intn(450)
}

// step does one random operation.
func (m *segModel) step(r *rand.Rand) {
	m.t.Helper()
	first, last := m.bounds()
	m.gen++
	batch := func(from uint64, n int) []*raft.Log {
		logs := make([]*raft.Log, n)
		for i := range logs {
			logs[i] = segmentLog(from+uint64(i), m.gen, segEntrySize(r, m.size))
		}
		return logs
	}
	switch p := r.Intn(100); {
	case p < 52 || last == 0:
		// Append after the last entry (after the highest index ever
		// stored if the log is empty, as after a snapshot restore).
		from := last + 1
		if last == 0 {
			from = m.top + 1 + uint64(r.Intn(3))
		}
		m.store("append", batch(from, 1+r.Intn(8)))
	case p < 64:
		// A new leader overwrites the log from k on.
		k := first + uint64(r.Int63n(int64(last-first+1)))
		m.deleteRange("truncate", k, last)
		m.store("overwrite", batch(k, 1+r.Intn(6)))
	case p < 72:
		// Compaction after a snapshot: a prefix goes.
		k := first + uint64(r.Int63n(int64(max(1, (last-first)/2))))
		m.deleteRange("compact", first, k)
	case p < 82:
		// A batch with gaps, duplicates, out of order, over existing
		// entries.
		n := 1 + r.Intn(5)
		logs := make([]*raft.Log, n)
		lo := max(first, 6) - 5
		for i := range logs {
			idx := lo + uint64(r.Int63n(int64(last+12-lo)))
			logs[i] = segmentLog(idx, m.gen, segEntrySize(r, m.size))
		}
		m.store("gaps", logs)
	case p < 84:
		// Everything goes.
		if r.Intn(2) == 0 {
			m.deleteRange("delete all", first, last)
		} else {
			m.deleteRange("delete all wide", 0, math.MaxUint64)
		}
	case p < 90:
		// A hole in the middle.
		a := first + uint64(r.Int63n(int64(last-first+1)))
		b := a + uint64(r.Intn(6))
		m.deleteRange("hole", a, b)
	default:
		m.reopen()
		m.check()
	}
}

// TestSegmentReopenModel runs random appends, raft-style overwrites,
// prefix deletes, batches with gaps and full deletes against a
// SegmentStore with small segments and a model of the log, closing and
// reopening the store every few operations and comparing its bounds and
// every entry with the model's.
func TestSegmentReopenModel(t *testing.T) {
	seed := time.Now().UnixNano()
	if v := os.Getenv(segmentSeedEnv); v != "" {
		var err error
		seed, err = strconv.ParseInt(v, 10, 64)
		mustNoErr(t, err)
	}
	for _, tc := range []struct {
		size int64
		ops  int
	}{
		{logstore.MinJournalSize, 1000},
		{64 << 10, 700},
	} {
		t.Run(strconv.FormatInt(tc.size, 10), func(t *testing.T) {
			t.Logf("seed %d (%s=%d to rerun)", seed, segmentSeedEnv, seed)
			r := rand.New(rand.NewSource(seed))
			m := &segModel{t: t, dir: t.TempDir(), size: tc.size, seed: seed, logs: map[uint64]*raft.Log{}}
			m.s = openSegmentDir(t, m.dir, m.size)
			t.Cleanup(func() { mustNoErr(t, m.s.Close()) })
			maxSegs, reopens := 0, 0
			for i := 0; i < tc.ops; i++ {
				m.step(r)
				if m.ops[len(m.ops)-1] == "reopen" {
					reopens++
				}
				m.checkBounds()
				if i%10 == 9 {
					m.check()
				}
				maxSegs = max(maxSegs, len(segmentFiles(t, m.dir)))
			}
			m.check()
			// After a last reopen, the store takes writes, and they too
			// survive a reopen.
			m.reopen()
			m.check()
			_, last := m.bounds()
			m.gen++
			m.store("final append", []*raft.Log{segmentLog(max(last, m.top)+1, m.gen, 100), segmentLog(max(last, m.top)+2, m.gen, 5000)})
			m.check()
			m.reopen()
			m.check()
			first, last := m.bounds()
			t.Logf("%d operations, %d reopens, at most %d segment files; the log ends as [%d, %d] with %d entries",
				len(m.ops), reopens, maxSegs, first, last, len(m.logs))
			if reopens < 10 {
				t.Fatalf("only %d reopens", reopens)
			}
		})
	}
}

// TestSegmentCompactionRemovesFiles appends enough to small segments to
// make many of them, deletes all but the newest entries, and checks that
// the files of the segments emptied are gone and that the store reopens
// with the entries left; then does it again, so emptied segments' files
// are reused.
func TestSegmentCompactionRemovesFiles(t *testing.T) {
	dir := t.TempDir()
	s := openSegmentDir(t, dir, logstore.MinJournalSize)
	t.Cleanup(func() { mustNoErr(t, s.Close()) })
	const (
		size = 200
		keep = 40
	)
	next := uint64(1)
	appendN := func(n int) {
		t.Helper()
		for i := 0; i < n; i += 2 {
			mustNoErr(t, s.StoreLogs([]*raft.Log{storetest.MakeLog(next, size), storetest.MakeLog(next+1, size)}))
			next += 2
		}
	}
	reopen := func() {
		t.Helper()
		mustNoErr(t, s.Close())
		s = openSegmentDir(t, dir, logstore.MinJournalSize)
	}
	// Two records of ~250 bytes each fit in a record of ~510 bytes: 7
	// records, 14 entries, per 4 KiB segment. The keep newest entries
	// take 3 segments; the one holding the oldest of them and the active
	// one may be partly used.
	const maxKept = keep/14 + 2
	for round := 1; round <= 3; round++ {
		appendN(600)
		before := len(segmentFilesInUse(t, dir))
		if before < 600/14 {
			t.Fatalf("round %d: %d segment files for 600 entries", round, before)
		}
		first, err := s.FirstIndex()
		mustNoErr(t, err)
		mustNoErr(t, s.DeleteRange(first, next-1-keep))
		after := segmentFilesInUse(t, dir)
		t.Logf("round %d: %d segment files before compaction, %d after (%s..%s)", round, before, len(after),
			filepath.Base(after[0]), filepath.Base(after[len(after)-1]))
		if len(after) > maxKept {
			t.Fatalf("round %d: %d segment files left, want at most %d", round, len(after), maxKept)
		}
		if all := segmentFiles(t, dir); len(all) > len(after)+1 {
			t.Fatalf("round %d: %d segment files on disk, %d in use (and at most one prepared)", round, len(all), len(after))
		}
		reopen()
		if got := segmentFilesInUse(t, dir); len(got) != len(after) {
			t.Fatalf("round %d: %d segment files after reopen, %d before", round, len(got), len(after))
		}
		requireLogs(t, s, next-keep, next-1)
		segRequireMissing(t, s, next-keep-1)
	}
	// Everything deleted: only the active segment is left.
	mustNoErr(t, s.DeleteRange(1, next))
	if got := segmentFilesInUse(t, dir); len(got) != 1 {
		t.Fatalf("%d segment files left after deleting everything: %v", len(got), got)
	}
	reopen()
	if first, last := segLogBounds(t, s); first != 0 || last != 0 {
		t.Fatalf("log is [%d, %d] after deleting everything", first, last)
	}
	segRequireMissing(t, s, next-1)
	appendN(2)
	reopen()
	requireLogs(t, s, next-2, next-1)
}

// segLogBounds returns s's first and last index.
func segLogBounds(t testing.TB, s logstore.LogStore) (uint64, uint64) {
	t.Helper()
	first, err := s.FirstIndex()
	mustNoErr(t, err)
	last, err := s.LastIndex()
	mustNoErr(t, err)
	return first, last
}

// segRequireMissing checks that s has no entry at index.
func segRequireMissing(t testing.TB, s logstore.LogStore, index uint64) {
	t.Helper()
	var l raft.Log
	//nolint:errorlint // the identity is the contract: hashicorp/raft compares with ==.
	if err := s.GetLog(index, &l); err != raft.ErrLogNotFound {
		t.Fatalf("GetLog(%d) = %v, want raft.ErrLogNotFound", index, err)
	}
}

// TestSegmentStableStore checks that Set and SetUint64 values survive a
// close and reopen, and that the last value written wins.
func TestSegmentStableStore(t *testing.T) {
	dir := t.TempDir()
	s := openSegmentDir(t, dir, logstore.MinJournalSize)
	t.Cleanup(func() { mustNoErr(t, s.Close()) })
	mustNoErr(t, s.SetUint64([]byte("CurrentTerm"), 7))
	mustNoErr(t, s.SetUint64([]byte("CurrentTerm"), 9))
	mustNoErr(t, s.Set([]byte("LastVoteCand"), []byte("node-2")))
	mustNoErr(t, s.Set([]byte("empty"), nil))
	mustNoErr(t, s.StoreLogs([]*raft.Log{storetest.MakeLog(1, 10)}))
	for round := 0; round < 2; round++ {
		mustNoErr(t, s.Close())
		s = openSegmentDir(t, dir, logstore.MinJournalSize)
		if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 9+uint64(round) {
			t.Fatalf("round %d: CurrentTerm = %d, %v; want %d", round, v, err, 9+round)
		}
		if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-2" {
			t.Fatalf("round %d: LastVoteCand = %q, %v", round, v, err)
		}
		if v, err := s.Get([]byte("empty")); err != nil || len(v) != 0 {
			t.Fatalf("round %d: empty = %q, %v", round, v, err)
		}
		//nolint:errorlint // the identity is the contract.
		if _, err := s.Get([]byte("missing")); err != raft.ErrKeyNotFound {
			t.Fatalf("round %d: Get(missing) = %v, want raft.ErrKeyNotFound", round, err)
		}
		//nolint:errorlint // the identity is the contract.
		if _, err := s.GetUint64([]byte("missing")); err != raft.ErrKeyNotFound {
			t.Fatalf("round %d: GetUint64(missing) = %v, want raft.ErrKeyNotFound", round, err)
		}
		requireLogs(t, s, 1, 1)
		mustNoErr(t, s.SetUint64([]byte("CurrentTerm"), 10+uint64(round)))
	}
}
