package logstore_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/internal/codec"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/logstore/storetest"
	"go.etcd.io/bbolt"
)

// These tests reproduce damage to a store's files on disk, the way disks
// and operators damage them, and check the rule: the open either refuses
// with an error that names the file, or holds every acknowledged write.
// The crash that leaves acknowledged entries in the journal only is real:
// a child process writes them and is killed with SIGKILL.

// damageChildEnv makes the test binary a child: "<mode> <path>".
const damageChildEnv = "PONTOON_LOGSTORE_DAMAGE_CHILD"

// damageEntries is how many entries the writing child acknowledges, one
// StoreLogs each, after setting CurrentTerm to damageTerm.
const (
	damageEntries = 300
	damageTerm    = 3
)

// damageChild is the child's main.
func damageChild() {
	mode, path, _ := strings.Cut(os.Getenv(damageChildEnv), " ")
	switch mode {
	case "write":
		s, err := logstore.New(logstore.Options{Path: path})
		if err != nil {
			fmt.Fprintln(os.Stderr, "child: open:", err)
			os.Exit(2)
		}
		if err := s.SetUint64([]byte("CurrentTerm"), damageTerm); err != nil {
			fmt.Fprintln(os.Stderr, "child: set:", err)
			os.Exit(2)
		}
		for i := uint64(1); i <= damageEntries; i++ {
			if err := s.StoreLogs([]*raft.Log{storetest.MakeLog(i, 100)}); err != nil {
				fmt.Fprintln(os.Stderr, "child: store:", err)
				os.Exit(2)
			}
		}
		fmt.Println("done")
		time.Sleep(time.Minute) // killed long before
		os.Exit(3)
	case "create-full-disk":
		// Writes past 16 KiB fail with EFBIG, as on a full disk.
		signal.Ignore(syscall.SIGXFSZ)
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 16 << 10, Max: 16 << 10}); err != nil {
			fmt.Fprintln(os.Stderr, "child: setrlimit:", err)
			os.Exit(2)
		}
		s, err := logstore.New(logstore.Options{Path: path})
		if err == nil {
			_ = s.Close()
			fmt.Println("opened")
			os.Exit(0)
		}
		fmt.Println("failed:", err)
		os.Exit(0)
	}
	os.Exit(2)
}

// runDamageChild runs a child in mode on path and returns its stdout. With
// kill, it waits for "done" and kills the child with SIGKILL.
func runDamageChild(t *testing.T, mode, path string, kill bool) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), damageChildEnv+"="+mode+" "+path)
	cmd.Stderr = &stderr
	if !kill {
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child %s: %v\nstderr:\n%s", mode, err, stderr.String())
		}
		return string(out)
	}
	out, err := cmd.StdoutPipe()
	mustNoErr(t, err)
	mustNoErr(t, cmd.Start())
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "done" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child %s: %q, %v\nstderr:\n%s", mode, sc.Text(), sc.Err(), stderr.String())
	}
	mustNoErr(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child %s was not killed\nstderr:\n%s", mode, stderr.String())
	}
	return ""
}

// crashedStores caches the stores crashedStore made, by name: each is
// copied before it is damaged. TestMain removes them.
var crashedStores struct {
	sync.Mutex
	dir   string
	paths map[string]string
}

// crashedStore returns the path of a store whose writer was killed right
// after its last acknowledged write: every entry is in the journal only.
// Stores of different names have different journals.
func crashedStore(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	c := &crashedStores
	c.Lock()
	defer c.Unlock()
	if p, ok := c.paths[name]; ok {
		return p
	}
	if c.dir == "" {
		dir, err := os.MkdirTemp("", "logstore-crashed-")
		mustNoErr(t, err)
		c.dir, c.paths = dir, map[string]string{}
	}
	path := filepath.Join(c.dir, name, "raft.db")
	mustNoErr(t, os.MkdirAll(filepath.Dir(path), 0o700))
	runDamageChild(t, "write", path, true)
	c.paths[name] = path
	return path
}

// removeCrashedStores removes what crashedStore made.
func removeCrashedStores() {
	if d := crashedStores.dir; d != "" {
		_ = os.RemoveAll(d)
	}
}

// copyStore copies the files of the store at path into a new directory.
func copyStore(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "raft.db")
	for i, src := range journalFiles(path) {
		b, err := os.ReadFile(src)
		if i > 0 && os.IsNotExist(err) {
			continue
		}
		mustNoErr(t, err)
		mustNoErr(t, os.WriteFile(journalFiles(dst)[i], b, 0o600))
	}
	return dst
}

// requireRefused checks that opening path fails with an error wrapping
// raft.ErrCorrupt that names file.
func requireRefused(t *testing.T, opts logstore.Options, file string) {
	t.Helper()
	s, err := logstore.New(opts)
	if err == nil {
		last, _ := s.LastIndex()
		term, terr := s.GetUint64([]byte("CurrentTerm"))
		s.Close()
		t.Fatalf("open succeeded: last index %d, CurrentTerm %d (%v)", last, term, terr)
	}
	if !errors.Is(err, raft.ErrCorrupt) || !strings.Contains(err.Error(), file) {
		t.Fatalf("open error %q: want raft.ErrCorrupt naming %s", err, file)
	}
	t.Logf("refused: %v", err)
}

// requireWhole checks that the store at path opens with every entry the
// writing child acknowledged and its term.
func requireWhole(t *testing.T, path string) {
	t.Helper()
	s := openOpts(t, logstore.Options{Path: path})
	defer func() { mustNoErr(t, s.Close()) }()
	requireLogs(t, s, 1, damageEntries)
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != damageTerm {
		t.Fatalf("CurrentTerm = %d, %v", v, err)
	}
}

// activeJournal returns the journal file of the crashed store at path that
// holds records, and their offsets (the last is the end).
func activeJournal(t *testing.T, path string) (string, []int64) {
	t.Helper()
	for _, f := range journalFiles(path)[1:] {
		offs, err := logstore.JournalRecordOffsets(f)
		mustNoErr(t, err)
		if len(offs) > 1 {
			return f, offs
		}
	}
	t.Fatal("no journal file holds records")
	return "", nil
}

// TestDamageRecordsMissing (issue 11, row 2): after a crash, the active
// journal's records cut (the file shortened) or wiped from a record on:
// not a torn tail (a crash tears only the last write, and leaves an end
// mark or the start of a record), so the open is refused.
func TestDamageRecordsMissing(t *testing.T) {
	crashed := crashedStore(t, "a")
	requireWhole(t, copyStore(t, crashed))
	for _, how := range []string{"truncate-half", "truncate-at-record", "zero-second-half", "zero-all-records", "zero-last-record"} {
		t.Run(how, func(t *testing.T) {
			path := copyStore(t, crashed)
			jf, offs := activeJournal(t, path)
			b, err := os.ReadFile(jf)
			mustNoErr(t, err)
			end := offs[len(offs)-1] + 8 // with the end mark
			mid := offs[len(offs)/2]
			switch how {
			case "truncate-half":
				b = b[:(offs[0]+end)/2]
			case "truncate-at-record":
				b = b[:mid]
			case "zero-second-half":
				clear(b[mid:end])
			case "zero-all-records":
				clear(b[offs[0]:end])
			case "zero-last-record":
				clear(b[offs[len(offs)-2]:end])
			}
			mustNoErr(t, os.WriteFile(jf, b, 0o600))
			requireRefused(t, logstore.Options{Path: path}, jf)
		})
	}
}

// TestDamageJournalMissingOrForeign (issue 11, row 3): after a crash, a
// journal file deleted, zeroed or replaced by another store's: raft.db
// records the journal in use, so the open is refused.
func TestDamageJournalMissingOrForeign(t *testing.T) {
	crashed := crashedStore(t, "a")
	other := crashedStore(t, "b") // same indexes, another journal
	for _, how := range []string{"delete-active", "delete-both", "delete-other", "zero-active", "zero-header", "empty-active", "foreign"} {
		t.Run(how, func(t *testing.T) {
			path := copyStore(t, crashed)
			jf, _ := activeJournal(t, path)
			otherFile := map[bool]string{true: path + ".journal.1", false: path + ".journal.0"}[strings.HasSuffix(jf, ".0")]
			named := jf
			switch how {
			case "delete-active":
				mustNoErr(t, os.Remove(jf))
			case "delete-both":
				mustNoErr(t, os.Remove(jf))
				mustNoErr(t, os.Remove(otherFile))
				named = path + ".journal.0"
			case "delete-other":
				mustNoErr(t, os.Remove(otherFile))
				named = otherFile
			case "zero-active", "zero-header":
				b, err := os.ReadFile(jf)
				mustNoErr(t, err)
				n := len(b)
				if how == "zero-header" {
					n = 512
				}
				clear(b[:n])
				mustNoErr(t, os.WriteFile(jf, b, 0o600))
			case "empty-active":
				mustNoErr(t, os.Truncate(jf, 0))
			case "foreign":
				ojf, _ := activeJournal(t, other)
				b, err := os.ReadFile(ojf)
				mustNoErr(t, err)
				mustNoErr(t, os.WriteFile(jf, b, 0o600))
			}
			requireRefused(t, logstore.Options{Path: path}, named)
		})
	}
}

// TestDamageOtherWriter (issue 11, row 4): after a crash, raft.db is
// opened by another writer (as raft-boltdb and hashicorp/raft do: their
// open commits a transaction) and possibly written (a new leader's entry
// at index 6, term 4). The journal is never replayed onto it: the open is
// refused, and DiscardJournal keeps the other writer's file.
func TestDamageOtherWriter(t *testing.T) {
	crashed := crashedStore(t, "a")
	for _, how := range []string{"open-only", "write"} {
		t.Run(how, func(t *testing.T) {
			path := copyStore(t, crashed)
			db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
			mustNoErr(t, err)
			mustNoErr(t, db.Update(func(tx *bbolt.Tx) error {
				logs, err := tx.CreateBucketIfNotExists([]byte("logs"))
				if err != nil {
					return err
				}
				conf, err := tx.CreateBucketIfNotExists([]byte("conf"))
				if err != nil || how != "write" {
					return err
				}
				for i := uint64(1); i <= 6; i++ {
					l := storetest.MakeLog(i, 10)
					l.Term = 4
					v, err := codec.Encode(l)
					if err != nil {
						return err
					}
					var k [8]byte
					binary.BigEndian.PutUint64(k[:], i)
					if err := logs.Put(k[:], v); err != nil {
						return err
					}
				}
				var term [8]byte
				binary.BigEndian.PutUint64(term[:], 4)
				return conf.Put([]byte("CurrentTerm"), term[:])
			}))
			mustNoErr(t, db.Close())
			requireRefused(t, logstore.Options{Path: path}, path)

			mustNoErr(t, logstore.DiscardJournal(path))
			requireOnlyBolt(t, path)
			s := openOpts(t, logstore.Options{Path: path})
			defer s.Close()
			last, err := s.LastIndex()
			mustNoErr(t, err)
			if want := map[string]uint64{"open-only": 0, "write": 6}[how]; last != want {
				t.Fatalf("after DiscardJournal: last index %d, want %d", last, want)
			}
		})
	}
}

// metaPages returns the page size of the bbolt file b and the txids of its
// two meta pages.
func metaPages(t *testing.T, b []byte) (ps int, txids [2]uint64) {
	t.Helper()
	ps = int(binary.NativeEndian.Uint32(b[16+8:]))
	for i := range txids {
		txids[i] = binary.NativeEndian.Uint64(b[i*ps+16+48:])
	}
	return ps, txids
}

// TestDamageNewestMetaPage (issue 11, row 5): the newest bbolt meta page
// overwritten. bbolt silently opens the previous transaction; Pontoon
// refuses, with the journal (clean close or crash) and without.
func TestDamageNewestMetaPage(t *testing.T) {
	for _, mode := range []string{"nojournal", "journal-closed", "journal-crashed"} {
		for _, with := range []string{"zeros", "garbage", "older-copy"} {
			t.Run(mode+"/"+with, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "raft.db")
				opts := logstore.Options{Path: path, NoJournal: mode == "nojournal"}
				s := openOpts(t, opts)
				mustNoErr(t, s.SetUint64([]byte("CurrentTerm"), 2))
				for i := uint64(1); i <= 50; i++ {
					mustNoErr(t, s.StoreLogs([]*raft.Log{storetest.MakeLog(i, 100)}))
				}
				if mode == "journal-crashed" {
					mustNoErr(t, s.SetUint64([]byte("CurrentTerm"), 3))
					mustNoErr(t, s.StoreLogs([]*raft.Log{storetest.MakeLog(51, 100)}))
					path = crashCopy(t, s)
					mustNoErr(t, s.Close())
				} else {
					mustNoErr(t, s.Close())
				}
				b, err := os.ReadFile(path)
				mustNoErr(t, err)
				ps, txids := metaPages(t, b)
				newest := 0
				if txids[1] > txids[0] {
					newest = 1
				}
				page := b[newest*ps : newest*ps+ps]
				switch with {
				case "zeros":
					clear(page)
				case "garbage":
					copy(page, randomBytes(int64(newest), ps))
				case "older-copy":
					// The other (older) meta page copied over the newest.
					copy(page, b[(1-newest)*ps:(2-newest)*ps])
				}
				mustNoErr(t, os.WriteFile(path, b, 0o600))
				opts.Path = path
				requireRefused(t, opts, path)
			})
		}
	}
}

// TestDamageLostBoltCommit (issue 11, row 5): the newest bbolt meta page
// reverts to a valid older one (a lost write, or an old copy of that page)
// after a crash: bbolt opens the previous transaction, which lacks the
// last vote. Journal records written after that transaction committed
// show it, and the open is refused.
func TestDamageLostBoltCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := openOpts(t, logstore.Options{Path: path})
	defer s.Close()
	for i := uint64(1); i <= 50; i++ {
		mustNoErr(t, s.StoreLogs([]*raft.Log{storetest.MakeLog(i, 100)}))
	}
	before := crashCopy(t, s)
	old, err := os.ReadFile(before)
	mustNoErr(t, err)
	mustNoErr(t, s.SetUint64([]byte("CurrentTerm"), 5))
	mustNoErr(t, s.SetUint64([]byte("LastVoteTerm"), 5)) // two commits: the newest meta is on the page old's newest was
	for i := uint64(51); i <= 60; i++ {
		mustNoErr(t, s.StoreLogs([]*raft.Log{storetest.MakeLog(i, 100)}))
	}
	cp := crashCopy(t, s)
	b, err := os.ReadFile(cp)
	mustNoErr(t, err)
	ps, txids := metaPages(t, b)
	_, oldTxids := metaPages(t, old)
	newest := 0
	if txids[1] > txids[0] {
		newest = 1
	}
	if oldTxids[newest]+2 != txids[newest] {
		t.Fatalf("meta txids %v before, %v after: want two commits", oldTxids, txids)
	}
	copy(b[newest*ps:newest*ps+ps], old[newest*ps:newest*ps+ps])
	mustNoErr(t, os.WriteFile(cp, b, 0o600))
	requireRefused(t, logstore.Options{Path: cp}, cp)
}

// TestDamageEmptyBolt (issue 11, row 6): raft.db empty (0 bytes), missing,
// or replaced by a new empty store while a journal exists: refused,
// rather than opened as a new store that forgot its term and vote.
func TestDamageEmptyBolt(t *testing.T) {
	t.Run("zero-length", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "raft.db")
		mustNoErr(t, os.WriteFile(path, nil, 0o600))
		requireRefused(t, logstore.Options{Path: path}, path)
	})
	crashed := crashedStore(t, "a")
	for _, how := range []string{"zero-length", "missing", "new-store"} {
		t.Run("crashed/"+how, func(t *testing.T) {
			path := copyStore(t, crashed)
			named := path
			switch how {
			case "zero-length":
				mustNoErr(t, os.Truncate(path, 0))
			case "missing":
				mustNoErr(t, os.Remove(path))
			case "new-store":
				mustNoErr(t, os.Remove(path))
				fresh := filepath.Join(t.TempDir(), "raft.db")
				c := openOpts(t, logstore.Options{Path: fresh})
				mustNoErr(t, c.Close())
				b, err := os.ReadFile(fresh)
				mustNoErr(t, err)
				mustNoErr(t, os.WriteFile(path, b, 0o600))
				named, _ = activeJournal(t, path)
			}
			requireRefused(t, logstore.Options{Path: path}, named)
		})
	}
}

// TestDamageFailedCreate (issue 11, row 6): creating a store on a full
// disk fails and leaves no file, so the next open does not take a
// half-made file for a store; it creates a new one.
func TestDamageFailedCreate(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "raft.db")
	out := runDamageChild(t, "create-full-disk", path, false)
	if !strings.HasPrefix(out, "failed:") {
		t.Fatalf("open on a full disk: %q", out)
	}
	ents, err := os.ReadDir(dir)
	mustNoErr(t, err)
	for _, e := range ents {
		t.Errorf("the failed open left %s", e.Name())
	}
	s := openOpts(t, logstore.Options{Path: path})
	mustNoErr(t, s.Close())
}
