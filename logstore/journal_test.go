package logstore_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/logstore/storetest"
	"go.etcd.io/bbolt"
)

// These tests simulate a crash by copying the store's files while it is
// open (after StoreLogs returned and with no checkpoint running, so the
// bbolt file is not being written), then opening the copy: bbolt's file
// lock forbids opening the same path twice in one process.

// journalFiles are the files of a store at path, bbolt file first.
func journalFiles(path string) []string {
	return []string{path, path + ".journal.0", path + ".journal.1"}
}

// crashCopy copies the files of the open store s into a new directory and
// returns the copy's path.
func crashCopy(t *testing.T, s *logstore.BoltStore) string {
	t.Helper()
	mustNoErr(t, logstore.WaitCheckpoint(s))
	dst := filepath.Join(t.TempDir(), "raft.db")
	for i, src := range journalFiles(s.Path()) {
		b, err := os.ReadFile(src)
		if i > 0 && os.IsNotExist(err) {
			continue
		}
		mustNoErr(t, err)
		mustNoErr(t, os.WriteFile(journalFiles(dst)[i], b, 0o600))
	}
	return dst
}

// appendBatches stores n batches of 1-8 entries from next (sizes vary)
// and returns the last index.
func appendBatches(t *testing.T, s logstore.LogStore, next uint64, n int, rng *rand.Rand) uint64 {
	t.Helper()
	for b := 0; b < n; b++ {
		var batch []*raft.Log
		for k := 1 + rng.Intn(8); k > 0; k-- {
			batch = append(batch, storetest.MakeLog(next, rng.Intn(300)))
			next++
		}
		mustNoErr(t, s.StoreLogs(batch))
	}
	return next - 1
}

// requireLogs checks that s holds exactly first..last as MakeLog made
// them (any data size).
func requireLogs(t *testing.T, s logstore.LogStore, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	mustNoErr(t, err)
	l, err := s.LastIndex()
	mustNoErr(t, err)
	if f != first || l != last {
		t.Fatalf("log is [%d, %d], want [%d, %d]", f, l, first, last)
	}
	for i := first; i <= last; i++ {
		var got raft.Log
		mustNoErr(t, s.GetLog(i, &got))
		want := storetest.MakeLog(i, len(got.Data))
		storetest.RequireLogEqual(t, want, &got)
	}
}

func openOpts(t *testing.T, opts logstore.Options) *logstore.BoltStore {
	t.Helper()
	s, err := logstore.New(opts)
	mustNoErr(t, err)
	return s
}

func TestJournalRecovery(t *testing.T) {
	for _, size := range []int64{0, 16 << 10, logstore.MinJournalSize} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			rng := rand.New(rand.NewSource(size))
			s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db"), JournalSize: size})
			defer s.Close()
			last := appendBatches(t, s, 1, 200, rng)
			cp := crashCopy(t, s)

			c := openOpts(t, logstore.Options{Path: cp, JournalSize: size})
			requireLogs(t, c, 1, last)
			if n := logstore.PendingLen(c); n != 0 {
				t.Fatalf("%d entries pending after open; want all in bbolt", n)
			}
			// The recovered store keeps working.
			last2 := appendBatches(t, c, last+1, 20, rng)
			mustNoErr(t, c.Close())
			requireOnlyBolt(t, cp)
			requireBoltHolds(t, cp, 1, last2)
		})
	}
}

// requireOnlyBolt checks that the directory of path holds the bbolt file
// only.
func requireOnlyBolt(t *testing.T, path string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(path))
	mustNoErr(t, err)
	if len(ents) != 1 || ents[0].Name() != filepath.Base(path) {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only %s", names, filepath.Base(path))
	}
}

// requireBoltHolds opens the bbolt file itself (as raft-boltdb would) and
// checks that bucket "logs" holds exactly first..last.
func requireBoltHolds(t *testing.T, path string, first, last uint64) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	mustNoErr(t, err)
	defer db.Close()
	mustNoErr(t, db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("logs"))
		if b == nil {
			return errors.New("no logs bucket")
		}
		if n := b.Stats().KeyN; uint64(n) != last-first+1 {
			return fmt.Errorf("bbolt holds %d entries, want %d", n, last-first+1)
		}
		k, _ := b.Cursor().First()
		if len(k) != 8 || binary.BigEndian.Uint64(k) != first {
			return fmt.Errorf("first key %x, want %d", k, first)
		}
		return nil
	}))
}

// TestJournalTornTail leaves the last write half done in every way a
// crash can (a write reaches the disk in whole 512-byte sectors, and a
// process killed during a write leaves a prefix of it): the open succeeds
// with every earlier entry, and with the last batch only if its write
// reached the disk whole.
func TestJournalTornTail(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db")})
	defer s.Close()
	before := appendBatches(t, s, 1, 30, rng)
	var big []*raft.Log
	for i := before + 1; i <= before+8; i++ {
		big = append(big, storetest.MakeLog(i, 700)) // several sectors
	}
	file, from := logstore.JournalTail(s)
	rel := strings.TrimPrefix(file, s.Path())
	old, err := os.ReadFile(file)
	mustNoErr(t, err)
	mustNoErr(t, s.StoreLogs(big))
	_, to := logstore.JournalTail(s)
	last := before + 8
	cp := crashCopy(t, s)
	written, err := os.ReadFile(cp + rel)
	mustNoErr(t, err)
	end := to + 8 // the end mark
	cuts := []int64{from}
	for c := (from/512 + 1) * 512; c < end; c += 512 {
		cuts = append(cuts, c)
	}
	cuts = append(cuts, end)
	for _, cut := range cuts {
		t.Run(fmt.Sprint(cut-from), func(t *testing.T) {
			b := append(append([]byte(nil), written[:cut]...), old[cut:]...)
			dir := filepath.Join(t.TempDir(), "raft.db")
			for _, f := range journalFiles("") {
				src, err := os.ReadFile(cp + f)
				mustNoErr(t, err)
				if f == rel {
					src = b
				}
				mustNoErr(t, os.WriteFile(dir+f, src, 0o600))
			}
			c := openOpts(t, logstore.Options{Path: dir})
			defer c.Close()
			if cut == end {
				requireLogs(t, c, 1, last)
			} else {
				requireLogs(t, c, 1, before)
			}
		})
	}
}

// TestJournalCorruptMiddle damages a record that a valid record follows:
// acknowledged data is damaged, and the open refuses the store.
func TestJournalCorruptMiddle(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db")})
	defer s.Close()
	last := appendBatches(t, s, 1, 3, rng)
	file, from := logstore.JournalTail(s)
	last = appendBatches(t, s, last+1, 1, rng)
	_, to := logstore.JournalTail(s)
	appendBatches(t, s, last+1, 3, rng)
	cp := crashCopy(t, s)
	jf := cp + strings.TrimPrefix(file, s.Path())
	b, err := os.ReadFile(jf)
	mustNoErr(t, err)
	b[from+rng.Int63n(to-from)] ^= 0x01
	mustNoErr(t, os.WriteFile(jf, b, 0o600))
	requireCorruptJournal(t, cp, jf)
}

// requireCorruptJournal checks that opening path fails with an error
// wrapping raft.ErrCorrupt that names the journal file jf.
func requireCorruptJournal(t *testing.T, path, jf string) {
	t.Helper()
	s, err := logstore.New(logstore.Options{Path: path})
	if err == nil {
		s.Close()
		t.Fatal("open succeeded")
	}
	if !errors.Is(err, raft.ErrCorrupt) || !strings.Contains(err.Error(), jf) {
		t.Fatalf("open error %q: want raft.ErrCorrupt naming %s", err, jf)
	}
}

// TestJournalGap: journal records that do not continue bbolt's log are
// refused.
func TestJournalGap(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "raft.db")
	writeStore(t, path, 10, 10)
	// A copy of the bbolt file with entries 1..5 only.
	short := filepath.Join(t.TempDir(), "raft.db")
	b, err := os.ReadFile(path)
	mustNoErr(t, err)
	mustNoErr(t, os.WriteFile(short, b, 0o600))
	ss := openOpts(t, logstore.Options{Path: short, NoJournal: true})
	mustNoErr(t, ss.DeleteRange(6, 10))
	mustNoErr(t, ss.Close())

	s := openOpts(t, logstore.Options{Path: path})
	defer s.Close()
	appendBatches(t, s, 11, 5, rand.New(rand.NewSource(3)))
	cp := crashCopy(t, s)
	b, err = os.ReadFile(short)
	mustNoErr(t, err)
	mustNoErr(t, os.WriteFile(cp, b, 0o600))
	requireCorruptJournal(t, cp, cp+".journal.0")
}

// TestJournalTruncationNotResurrected: entries deleted by a suffix
// truncation (or by deleting the whole log) do not come back from the
// journal after a crash.
func TestJournalTruncationNotResurrected(t *testing.T) {
	for _, size := range []int64{0, logstore.MinJournalSize} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			rng := rand.New(rand.NewSource(4))
			s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db"), JournalSize: size})
			defer s.Close()
			last := appendBatches(t, s, 1, 40, rng)
			mustNoErr(t, s.DeleteRange(last-10, last))
			newer := &raft.Log{Index: last - 10, Term: 99, Data: []byte("new leader")}
			mustNoErr(t, s.StoreLogs([]*raft.Log{newer}))
			cp := crashCopy(t, s)
			c := openOpts(t, logstore.Options{Path: cp})
			l, err := c.LastIndex()
			mustNoErr(t, err)
			var got raft.Log
			mustNoErr(t, c.GetLog(last-10, &got))
			if l != last-10 || got.Term != 99 {
				t.Fatalf("after truncation and crash: last %d (want %d), entry term %d (want 99)", l, last-10, got.Term)
			}
			mustNoErr(t, c.Close())

			// Delete everything, as installing a snapshot does, then
			// start the log further on.
			mustNoErr(t, s.DeleteRange(0, last))
			mustNoErr(t, s.StoreLogs([]*raft.Log{storetest.MakeLog(1000, 10), storetest.MakeLog(1001, 10)}))
			cp = crashCopy(t, s)
			c = openOpts(t, logstore.Options{Path: cp})
			defer c.Close()
			requireLogs(t, c, 1000, 1001)
		})
	}
}

// TestJournalStaleGenerations: after many rotations each file holds
// records of older generations behind the current ones; they are ignored
// and do not count as damage.
func TestJournalStaleGenerations(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db"), JournalSize: 8 << 10})
	defer s.Close()
	last := appendBatches(t, s, 1, 100, rng) // many rotations
	// A short record at the start of a file reused after longer ones:
	// the tail of the file is an older generation's records.
	for i := 0; i < 5; i++ {
		last++
		mustNoErr(t, s.StoreLog(storetest.MakeLog(last, 0)))
	}
	cp := crashCopy(t, s)
	c := openOpts(t, logstore.Options{Path: cp})
	defer c.Close()
	requireLogs(t, c, 1, last)
}

// TestJournalReadOnly: a read-only open replays the journal into memory
// and writes nothing.
func TestJournalReadOnly(t *testing.T) {
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db")})
	defer s.Close()
	last := appendBatches(t, s, 1, 20, rand.New(rand.NewSource(6)))
	cp := crashCopy(t, s)
	var hashes [][32]byte
	for _, f := range journalFiles(cp) {
		hashes = append(hashes, fileHash(t, f))
	}
	c := openOpts(t, logstore.Options{Path: cp, BoltOptions: &bbolt.Options{ReadOnly: true, Timeout: time.Second}})
	requireLogs(t, c, 1, last)
	if err := c.StoreLog(storetest.MakeLog(last+1, 1)); err == nil {
		t.Fatal("write to a read-only store succeeded")
	}
	mustNoErr(t, c.Close())
	for i, f := range journalFiles(cp) {
		if fileHash(t, f) != hashes[i] {
			t.Fatalf("read-only open changed %s", f)
		}
	}
}

// TestJournalReplayWithNoJournal: opening with NoJournal after a crash of
// a journaled store replays the journal and removes it.
func TestJournalReplayWithNoJournal(t *testing.T) {
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db")})
	defer s.Close()
	last := appendBatches(t, s, 1, 20, rand.New(rand.NewSource(7)))
	cp := crashCopy(t, s)
	c := openOpts(t, logstore.Options{Path: cp, NoJournal: true})
	requireOnlyBolt(t, cp)
	requireLogs(t, c, 1, last)
	mustNoErr(t, c.Close())
	requireBoltHolds(t, cp, 1, last)
}

// TestJournalCloseLeavesOnlyBolt: after Close the directory is
// raft-boltdb's: the bbolt file, holding every entry.
func TestJournalCloseLeavesOnlyBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openOpts(t, logstore.Options{Path: path, JournalSize: 16 << 10})
	last := appendBatches(t, s, 1, 50, rand.New(rand.NewSource(8)))
	if n := logstore.PendingLen(s); n == 0 {
		t.Fatal("no entry pending before Close: the test checks nothing")
	}
	mustNoErr(t, s.Close())
	requireOnlyBolt(t, path)
	requireBoltHolds(t, path, 1, last)
}

// TestJournalStoreLogsOneSync: with the journal, an appending StoreLogs is
// one fdatasync and no bbolt commit.
func TestJournalStoreLogsOneSync(t *testing.T) {
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db")})
	defer s.Close()
	mustNoErr(t, s.StoreLog(storetest.MakeLog(1, 16)))
	for _, n := range []uint64{1, 64} {
		first, _ := s.LastIndex()
		first++
		var batch []*raft.Log
		for i := first; i < first+n; i++ {
			batch = append(batch, storetest.MakeLog(i, 16))
		}
		syncs, txid := logstore.JournalSyncs(s), logstore.BoltTxID(s)
		mustNoErr(t, s.StoreLogs(batch))
		if d := logstore.JournalSyncs(s) - syncs; d != 1 {
			t.Fatalf("StoreLogs of %d entries: %d fdatasyncs", n, d)
		}
		if d := logstore.BoltTxID(s) - txid; d != 0 {
			t.Fatalf("StoreLogs of %d entries: %d bbolt commits", n, d)
		}
	}
}

// TestJournalBigBatch: a batch larger than a journal file goes to bbolt,
// after the pending entries, and the log stays right across a crash.
func TestJournalBigBatch(t *testing.T) {
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db"), JournalSize: logstore.MinJournalSize})
	defer s.Close()
	rng := rand.New(rand.NewSource(9))
	last := appendBatches(t, s, 1, 5, rng)
	var big []*raft.Log
	for i := last + 1; i <= last+20; i++ {
		big = append(big, storetest.MakeLog(i, 1000))
	}
	mustNoErr(t, s.StoreLogs(big))
	if n := logstore.PendingLen(s); n != 0 {
		t.Fatalf("%d entries pending after a batch straight to bbolt", n)
	}
	last = appendBatches(t, s, last+21, 5, rng)
	cp := crashCopy(t, s)
	c := openOpts(t, logstore.Options{Path: cp})
	defer c.Close()
	requireLogs(t, c, 1, last)
}

// TestJournalWriteFailure: after a failed journal write the store refuses
// further writes, keeps serving reads, and Close still puts every
// acknowledged entry into bbolt.
func TestJournalWriteFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openOpts(t, logstore.Options{Path: path})
	last := appendBatches(t, s, 1, 10, rand.New(rand.NewSource(10)))
	logstore.BreakJournal(s)
	if err := s.StoreLog(storetest.MakeLog(last+1, 1)); err == nil {
		t.Fatal("StoreLog with a broken journal succeeded")
	}
	if err := s.StoreLog(storetest.MakeLog(last+1, 1)); err == nil || !strings.Contains(err.Error(), "failed earlier") {
		t.Fatalf("second StoreLog after a journal failure = %v", err)
	}
	if err := s.DeleteRange(1, 2); err == nil {
		t.Fatal("DeleteRange after a journal failure succeeded")
	}
	requireLogs(t, s, 1, last)
	mustNoErr(t, s.Close())
	requireBoltHolds(t, path, 1, last)
}

// TestJournalConcurrentReaders reads the newest entries, which move from
// the journal into bbolt, while a writer appends through constant
// rotations and checkpoints.
func TestJournalConcurrentReaders(t *testing.T) {
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db"), JournalSize: logstore.MinJournalSize, NoSync: true})
	defer s.Close()
	mustNoErr(t, s.StoreLog(storetest.MakeLog(1, 10)))
	stop := make(chan struct{})
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			for {
				select {
				case <-stop:
					return
				default:
				}
				first, err1 := s.FirstIndex()
				last, err2 := s.LastIndex()
				if err := errors.Join(err1, err2); err != nil || first != 1 || last < first {
					errs <- fmt.Errorf("bounds [%d, %d]: %v", first, last, err)
					return
				}
				i := last - uint64(rng.Int63n(int64(min(last, 50))))
				var l raft.Log
				if err := s.GetLog(i, &l); err != nil {
					errs <- fmt.Errorf("GetLog(%d) with last %d: %w", i, last, err)
					return
				}
				if d := storetest.LogDiff(storetest.MakeLog(i, 10), &l); d != nil {
					errs <- d
					return
				}
			}
		}(int64(r))
	}
	for i := uint64(2); i <= 3000; i += 3 {
		mustNoErr(t, s.StoreLogs([]*raft.Log{storetest.MakeLog(i, 10), storetest.MakeLog(i+1, 10), storetest.MakeLog(i+2, 10)}))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkStoreLogs compares the journal with NoJournal (a bbolt commit
// per call) for batches of 1 and 64 entries of 16 bytes, fsync on.
func BenchmarkStoreLogs(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts logstore.Options
	}{{"journal", logstore.Options{}}, {"nojournal", logstore.Options{NoJournal: true}}} {
		for _, n := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/entries=%d", mode.name, n), func(b *testing.B) {
				opts := mode.opts
				opts.Path = filepath.Join(b.TempDir(), "raft.db")
				opts.Logger = nil
				s, err := logstore.New(opts)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				batch := make([]*raft.Log, n)
				for i := range batch {
					batch[i] = storetest.MakeLog(0, 16)
				}
				next := uint64(1)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					for _, l := range batch {
						l.Index = next
						next++
					}
					if err := s.StoreLogs(batch); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestJournalDamagedHeader: a header that does not validate is damage
// (a header is written whole or not at all), in the active file or in
// the other one: the open is refused, naming the file.
func TestJournalDamagedHeader(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db"), JournalSize: 8 << 10})
	defer s.Close()
	appendBatches(t, s, 1, 40, rng) // several rotations
	cp := crashCopy(t, s)
	for _, f := range journalFiles("")[1:] {
		dir := filepath.Join(t.TempDir(), "raft.db")
		for _, g := range journalFiles("") {
			b, err := os.ReadFile(cp + g)
			mustNoErr(t, err)
			if g == f {
				b[20] ^= 0x10 // in the id
			}
			mustNoErr(t, os.WriteFile(dir+g, b, 0o600))
		}
		requireCorruptJournal(t, dir, dir+f)
	}
}

// TestJournalSizeChange: reopening with another JournalSize replays the
// old files and recreates them at the new size.
func TestJournalSizeChange(t *testing.T) {
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db")})
	defer s.Close()
	last := appendBatches(t, s, 1, 30, rand.New(rand.NewSource(12)))
	cp := crashCopy(t, s)
	c := openOpts(t, logstore.Options{Path: cp, JournalSize: 64 << 10})
	defer c.Close()
	requireLogs(t, c, 1, last)
	for _, f := range journalFiles(cp)[1:] {
		st, err := os.Stat(f)
		mustNoErr(t, err)
		if st.Size() != 64<<10 {
			t.Fatalf("%s is %d bytes, want %d", f, st.Size(), 64<<10)
		}
	}
}

// TestJournalModelCrash runs seeded random writes (appends, overwrites,
// gaps, suffix and prefix deletes, deleting everything, batches larger
// than a journal file) against a small journal, and at random moments
// opens a crash copy and compares it with a model: after a crash the store
// holds exactly what was acknowledged.
func TestJournalModelCrash(t *testing.T) {
	seeds := 20
	if testing.Short() {
		seeds = 4
	}
	for seed := int64(0); seed < int64(seeds); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db"), JournalSize: logstore.MinJournalSize, NoSync: true})
			defer s.Close()
			model := map[uint64]*raft.Log{}
			bounds := func() (uint64, uint64) {
				var lo, hi uint64
				for i := range model {
					if lo == 0 || i < lo {
						lo = i
					}
					hi = max(hi, i)
				}
				return lo, hi
			}
			term := uint64(1)
			store := func(first uint64, n, size int) {
				var batch []*raft.Log
				for i := 0; i < n; i++ {
					l := storetest.MakeLog(first+uint64(i), size)
					l.Term = term
					batch = append(batch, l)
				}
				mustNoErr(t, s.StoreLogs(batch))
				for _, l := range batch {
					model[l.Index] = l
				}
			}
			for op := 0; op < 300; op++ {
				_, hi := bounds()
				switch r := rng.Intn(100); {
				case r < 60: // append
					store(hi+1, 1+rng.Intn(6), rng.Intn(200))
				case r < 65: // a batch larger than a journal file
					store(hi+1, 10, 600)
				case r < 72 && hi > 3: // overwrite some of the tail
					term++
					store(hi-uint64(rng.Intn(3)), 1+rng.Intn(5), rng.Intn(100))
				case r < 80 && hi > 3: // suffix truncation
					from := hi - uint64(rng.Intn(int(min(hi, 20))))
					mustNoErr(t, s.DeleteRange(from, hi))
					for i := from; i <= hi; i++ {
						delete(model, i)
					}
				case r < 88: // prefix compaction
					lo, hi := bounds()
					if hi > lo+5 {
						to := lo + uint64(rng.Intn(int(hi-lo-3)))
						mustNoErr(t, s.DeleteRange(lo, to))
						for i := lo; i <= to; i++ {
							delete(model, i)
						}
					}
				case r < 90: // everything, and the log restarts further on (a snapshot)
					mustNoErr(t, s.DeleteRange(0, hi+1))
					clear(model)
					store(hi+50, 1+rng.Intn(3), 10)
				case r < 92: // a gap
					store(hi+2+uint64(rng.Intn(3)), 1+rng.Intn(3), 10)
				default:
					cp := crashCopy(t, s)
					c := openOpts(t, logstore.Options{Path: cp, JournalSize: logstore.MinJournalSize, NoSync: true})
					lo, hi := bounds()
					f, err1 := c.FirstIndex()
					l, err2 := c.LastIndex()
					mustNoErr(t, errors.Join(err1, err2))
					if f != lo || l != hi {
						t.Fatalf("op %d: crash copy holds [%d, %d], want [%d, %d]", op, f, l, lo, hi)
					}
					for i := lo; i <= hi && lo != 0; i++ {
						var got raft.Log
						err := c.GetLog(i, &got)
						want, ok := model[i]
						switch {
						case !ok && !errors.Is(err, raft.ErrLogNotFound):
							t.Fatalf("op %d: entry %d should be missing: %v", op, i, err)
						case ok && err != nil:
							t.Fatalf("op %d: entry %d: %v", op, i, err)
						case ok:
							if d := storetest.LogDiff(want, &got); d != nil {
								t.Fatalf("op %d: %v", op, d)
							}
						}
					}
					mustNoErr(t, c.Close())
				}
			}
		})
	}
}

// TestJournalAppendsDuringCompaction: a DeleteRange at the head of the log
// (log compaction) does not hold up journal appends while its bbolt
// transaction waits or runs.
func TestJournalAppendsDuringCompaction(t *testing.T) {
	s, err := logstore.NewBoltStore(filepath.Join(t.TempDir(), "raft.db"))
	mustNoErr(t, err)
	defer s.Close()
	for i := uint64(1); i <= 100; i++ {
		mustNoErr(t, s.StoreLogs([]*raft.Log{{Index: i, Term: 1, Data: []byte("x")}}))
	}
	mustNoErr(t, s.Close()) // everything into bbolt
	s, err = logstore.NewBoltStore(s.Path())
	mustNoErr(t, err)
	defer s.Close()

	release, err := logstore.HoldBoltWriter(s)
	mustNoErr(t, err)
	deleted := make(chan error, 1)
	go func() { deleted <- s.DeleteRange(1, 50) }()
	waitForStack(t, "bbolt.(*DB).beginRWTx")

	appended := make(chan error, 1)
	go func() { appended <- s.StoreLogs([]*raft.Log{{Index: 101, Term: 1, Data: []byte("y")}}) }()
	select {
	case err := <-appended:
		mustNoErr(t, err)
	case <-time.After(10 * time.Second):
		release()
		t.Fatal("StoreLogs waited for a head DeleteRange stuck behind a bbolt writer")
	}
	select {
	case err := <-deleted:
		t.Fatalf("DeleteRange returned (%v) while a bbolt writer was held", err)
	default:
	}
	release()
	mustNoErr(t, <-deleted)
	first, err := s.FirstIndex()
	mustNoErr(t, err)
	last, err := s.LastIndex()
	mustNoErr(t, err)
	if first != 51 || last != 101 {
		t.Fatalf("log is %d-%d, want 51-101", first, last)
	}
}

// waitForStack polls the goroutine stacks until one contains frame.
func waitForStack(t *testing.T, frame string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if strings.Contains(string(buf[:runtime.Stack(buf, true)]), frame) {
			return
		}
	}
	t.Fatalf("no goroutine reached %s", frame)
}

// TestJournalCrashDuringActivation: a crash while a file is being
// activated (its end mark of the next generation written, its header not
// yet) leaves a file whose old records are cut at their start. That is
// not damage: the open succeeds with every entry.
func TestJournalCrashDuringActivation(t *testing.T) {
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db"), JournalSize: 8 << 10})
	defer s.Close()
	last := appendBatches(t, s, 1, 40, rand.New(rand.NewSource(13))) // several rotations
	cp := crashCopy(t, s)
	mustNoErr(t, logstore.MarkNextActivation(s, cp))
	c := openOpts(t, logstore.Options{Path: cp})
	defer c.Close()
	requireLogs(t, c, 1, last)
}

// TestJournalCrashDuringClose: a crash in Close after the journal was
// recorded not ready but before its files were removed: the files are
// ignored (every entry is in bbolt), the open succeeds with every entry.
func TestJournalCrashDuringClose(t *testing.T) {
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db")})
	defer s.Close()
	last := appendBatches(t, s, 1, 30, rand.New(rand.NewSource(14)))
	mustNoErr(t, logstore.BeginClose(s))
	cp := crashCopy(t, s)
	c := openOpts(t, logstore.Options{Path: cp})
	requireLogs(t, c, 1, last)
	mustNoErr(t, c.Close())
	requireOnlyBolt(t, cp)
}

// A prefix delete that empties bbolt while newer entries are only in the
// journal must stay deleted after a crash: the replay at open takes the
// journal's entries above bbolt's last index, and the deleted ones were
// still in valid journal records (checkpointed, not reset).
func TestPrefixDeleteEmptyingBoltSurvivesCrash(t *testing.T) {
	s := openOpts(t, logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db")})
	defer s.Close()
	var batch []*raft.Log
	for i := uint64(1); i <= 10; i++ {
		batch = append(batch, storetest.MakeLog(i, 20))
	}
	mustNoErr(t, s.StoreLogs(batch))
	mustNoErr(t, logstore.FlushPending(s)) // 1..10 in bbolt, their records still in the journal
	batch = batch[:0]
	for i := uint64(11); i <= 15; i++ {
		batch = append(batch, storetest.MakeLog(i, 20))
	}
	mustNoErr(t, s.StoreLogs(batch))
	if n := logstore.PendingLen(s); n == 0 {
		t.Fatalf("11..15 were checkpointed already; the test needs them pending")
	}
	mustNoErr(t, s.DeleteRange(1, 10))
	requireLogs(t, s, 11, 15)

	c := openOpts(t, logstore.Options{Path: crashCopy(t, s)})
	defer c.Close()
	requireLogs(t, c, 11, 15)
}
