package logstore_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/logstore/storetest"
	"go.etcd.io/bbolt"
)

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeStore creates a closed store file at path holding logs 1..n.
func writeStore(t testing.TB, path string, n uint64, size int) {
	t.Helper()
	s, err := logstore.New(logstore.Options{Path: path, NoSync: true})
	mustNoErr(t, err)
	var batch []*raft.Log
	for i := uint64(1); i <= n; i++ {
		batch = append(batch, storetest.MakeLog(i, size))
		if len(batch) == 100 || i == n {
			mustNoErr(t, s.StoreLogs(batch))
			batch = nil
		}
	}
	mustNoErr(t, s.SetUint64([]byte("CurrentTerm"), 7))
	mustNoErr(t, s.Close())
}

func fileHash(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	mustNoErr(t, err)
	return sha256.Sum256(b)
}

func TestBoltReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	writeStore(t, path, 500, 100)
	st, err := os.Stat(path)
	mustNoErr(t, err)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	s, err := logstore.NewBoltStore(path)
	mustNoErr(t, err)
	defer s.Close()
	for i := uint64(1); i <= 500; i++ {
		var l raft.Log
		mustNoErr(t, s.GetLog(i, &l))
		storetest.RequireLogEqual(t, storetest.MakeLog(i, 100), &l)
	}
	v, err := s.GetUint64([]byte("CurrentTerm"))
	if err != nil || v != 7 {
		t.Fatalf("CurrentTerm = %d, %v", v, err)
	}
	if !s.IsMonotonic() {
		t.Fatal("IsMonotonic = false")
	}
	if s.Stats().TxN == 0 && s.Stats().OpenTxN != 0 {
		t.Fatal("stats look wrong")
	}
	mustNoErr(t, s.Sync())
}

func TestBoltCloseTwiceAndUseAfterClose(t *testing.T) {
	s, err := logstore.NewBoltStore(filepath.Join(t.TempDir(), "raft.db"))
	mustNoErr(t, err)
	mustNoErr(t, s.Close())
	mustNoErr(t, s.Close())
	var l raft.Log
	if err := s.GetLog(1, &l); err == nil || errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog after Close = %v", err)
	}
	if err := s.StoreLog(storetest.MakeLog(1, 1)); err == nil {
		t.Fatal("StoreLog after Close succeeded")
	}
}

func TestBoltReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	writeStore(t, path, 10, 10)
	s, err := logstore.New(logstore.Options{Path: path, BoltOptions: &bbolt.Options{ReadOnly: true, Timeout: time.Second}})
	mustNoErr(t, err)
	defer s.Close()
	last, err := s.LastIndex()
	if err != nil || last != 10 {
		t.Fatalf("LastIndex = %d, %v", last, err)
	}
	if err := s.StoreLog(storetest.MakeLog(11, 1)); err == nil {
		t.Fatal("write to a read-only store succeeded")
	}
}

// TestBoltSecondOpenTimesOut: a second opener gets an error, not a hang.
func TestBoltSecondOpenTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := logstore.NewBoltStore(path)
	mustNoErr(t, err)
	defer s.Close()
	if _, err := logstore.New(logstore.Options{Path: path, BoltOptions: &bbolt.Options{Timeout: 50 * time.Millisecond}}); err == nil {
		t.Fatal("second open succeeded")
	}
}

func requireCorruptOpen(t *testing.T, path string) {
	t.Helper()
	before := fileHash(t, path)
	s, err := logstore.NewBoltStore(path)
	if err == nil {
		s.Close()
		t.Fatal("open succeeded")
	}
	if !errors.Is(err, raft.ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("open error %q: want raft.ErrCorrupt naming the file", err)
	}
	if fileHash(t, path) != before {
		t.Fatal("a failed open changed the file")
	}
}

func TestBoltGarbageFile(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string][]byte{
		"short":   []byte("hello"),
		"text":    bytes.Repeat([]byte("not a database\n"), 2000),
		"zeros":   make([]byte, 64<<10),
		"random":  randomBytes(1, 64<<10),
		"onepage": randomBytes(2, 4096),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			mustNoErr(t, os.WriteFile(path, content, 0o600))
			requireCorruptOpen(t, path)
		})
	}
}

func randomBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func TestBoltDirectoryPath(t *testing.T) {
	dir := t.TempDir()
	_, err := logstore.NewBoltStore(dir)
	if err == nil || errors.Is(err, raft.ErrCorrupt) || !strings.Contains(err.Error(), "directory") {
		t.Fatalf("open of a directory = %v", err)
	}
}

func TestBoltTruncatedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	writeStore(t, path, 3000, 200)
	st, err := os.Stat(path)
	mustNoErr(t, err)
	for _, size := range []int64{st.Size() / 2, st.Size() / 4, 3 * 4096, 4096, 100} {
		p := filepath.Join(t.TempDir(), "trunc.db")
		b, err := os.ReadFile(path)
		mustNoErr(t, err)
		mustNoErr(t, os.WriteFile(p, b[:size], 0o600))
		requireCorruptOpen(t, p)
	}
}

// TestBoltDamagedPages overwrites pages of a valid file with garbage. Open
// and reads may fail, but must neither panic nor report success with
// wrong data.
func TestBoltDamagedPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	writeStore(t, path, 2000, 100)
	orig, err := os.ReadFile(path)
	mustNoErr(t, err)
	const pageSize = 4096
	pages := len(orig) / pageSize
	for seed := int64(0); seed < 40; seed++ {
		rng := rand.New(rand.NewSource(seed))
		b := append([]byte(nil), orig...)
		pg := 2 + rng.Intn(pages-2)
		off := pg*pageSize + rng.Intn(pageSize-64)
		n := 1 + rng.Intn(64)
		if seed%4 == 0 {
			off, n = pg*pageSize, pageSize // the whole page
		}
		rng.Read(b[off : off+n])
		p := filepath.Join(t.TempDir(), "damaged.db")
		mustNoErr(t, os.WriteFile(p, b, 0o600))
		func() {
			s, err := logstore.New(logstore.Options{Path: p, NoSync: true, VerifyOnOpen: seed%2 == 1})
			if err != nil {
				if !errors.Is(err, raft.ErrCorrupt) && !strings.Contains(err.Error(), p) {
					t.Errorf("seed %d: open error %q neither wraps ErrCorrupt nor names the file", seed, err)
				}
				return
			}
			defer s.Close()
			for i := uint64(1); i <= 2000; i++ {
				var l raft.Log
				if err := s.GetLog(i, &l); err != nil {
					continue
				}
				if l.Index != i {
					// Damage inside a value can still decode; the index
					// field is the one thing it must not silently change
					// unnoticed when the key matched.
					t.Logf("seed %d: log %d decoded with index %d", seed, i, l.Index)
				}
			}
			_, _ = s.GetUint64([]byte("CurrentTerm"))
			_ = s.StoreLog(storetest.MakeLog(2001, 10))
			_ = s.DeleteRange(1, 10)
		}()
	}
}

// TestBoltBadValues stores values that do not decode, through bbolt.
func TestBoltBadValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	writeStore(t, path, 10, 10)
	db, err := bbolt.Open(path, 0o600, nil)
	mustNoErr(t, err)
	mustNoErr(t, db.Update(func(tx *bbolt.Tx) error {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], 5)
		if err := tx.Bucket([]byte("logs")).Put(k[:], []byte{0x86, 0xaa, 'x'}); err != nil {
			return err
		}
		return tx.Bucket([]byte("conf")).Put([]byte("CurrentTerm"), []byte{1, 2, 3})
	}))
	mustNoErr(t, db.Close())

	// VerifyOnOpen finds the bad value in the middle at open.
	before := fileHash(t, path)
	if _, err := logstore.New(logstore.Options{Path: path, VerifyOnOpen: true}); !errors.Is(err, raft.ErrCorrupt) ||
		!strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "log 5") {
		t.Fatalf("open with VerifyOnOpen = %v", err)
	}
	if fileHash(t, path) != before {
		t.Fatal("a failed open changed the file")
	}

	// Without it, the open succeeds and the read of that entry fails.
	s, err := logstore.NewBoltStore(path)
	mustNoErr(t, err)
	var l raft.Log
	err = s.GetLog(5, &l)
	if !errors.Is(err, raft.ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "5") {
		t.Fatalf("GetLog(bad value) = %v", err)
	}
	mustNoErr(t, s.GetLog(6, &l))
	if _, err := s.GetUint64([]byte("CurrentTerm")); !errors.Is(err, raft.ErrCorrupt) {
		t.Fatalf("GetUint64(3-byte value) = %v", err)
	}
	mustNoErr(t, s.Close())

	// A bad boundary entry fails the open.
	db, err = bbolt.Open(path, 0o600, nil)
	mustNoErr(t, err)
	mustNoErr(t, db.Update(func(tx *bbolt.Tx) error {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], 10)
		return tx.Bucket([]byte("logs")).Put(k[:], []byte("garbage"))
	}))
	mustNoErr(t, db.Close())
	requireCorruptOpen(t, path)
}

// TestBoltStoreLogsOneCommit: with NoJournal, a batch is one transaction.
// (TestJournalStoreLogsOneSync checks the journal.)
func TestBoltStoreLogsOneCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	writeStore(t, path, 10, 10)
	txid := func() int {
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
		mustNoErr(t, err)
		defer db.Close()
		tx, err := db.Begin(false)
		mustNoErr(t, err)
		defer tx.Rollback()
		return tx.ID()
	}
	before := txid()
	s, err := logstore.New(logstore.Options{Path: path, NoJournal: true})
	mustNoErr(t, err)
	var batch []*raft.Log
	for i := uint64(11); i <= 74; i++ {
		batch = append(batch, storetest.MakeLog(i, 16))
	}
	mustNoErr(t, s.StoreLogs(batch))
	mustNoErr(t, s.Close())
	if after := txid(); after != before+1 {
		t.Fatalf("StoreLogs of 64 entries took %d commits", after-before)
	}
}

func TestBoltStoreLogsAllocations(t *testing.T) {
	s, err := logstore.New(logstore.Options{Path: filepath.Join(t.TempDir(), "raft.db"), NoSync: true})
	mustNoErr(t, err)
	defer s.Close()
	next := uint64(1)
	batch := func(n int) []*raft.Log {
		var logs []*raft.Log
		for i := 0; i < n; i++ {
			logs = append(logs, storetest.MakeLog(next, 16))
			next++
		}
		return logs
	}
	b8, b64 := batch(8), batch(64)
	mustNoErr(t, s.StoreLogs(b8))
	mustNoErr(t, s.StoreLogs(b64))
	a8 := testing.AllocsPerRun(20, func() { _ = s.StoreLogs(b8) })
	a64 := testing.AllocsPerRun(20, func() { _ = s.StoreLogs(b64) })
	t.Logf("allocations per StoreLogs: %.0f for 8 entries, %.0f for 64", a8, a64)
	// bbolt allocates per Put (node inodes) but the encoding must not: the
	// difference per extra entry stays small.
	if per := (a64 - a8) / 56; per > 4 {
		t.Fatalf("%.1f allocations per extra entry", per)
	}
}
