package logstore_test

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/pontoon-raft/raft/logstore"
	"go.etcd.io/bbolt"
)

// A crash while a new raft.db is being created leaves its temporary file
// (raft.db.new-<digits>). The next open for writing removes such files once
// they are old enough not to be a creation in progress and not locked by a
// bbolt; it keeps everything else, and a read-only open removes nothing.
func TestStaleCreateTempRemovedOnOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "raft.db")
	old := time.Now().Add(-2 * time.Hour)
	write := func(name string, mtime time.Time) string {
		t.Helper()
		p := filepath.Join(dir, name)
		mustNoErr(t, os.WriteFile(p, []byte("half-made bbolt file"), 0o600))
		mustNoErr(t, os.Chtimes(p, mtime, mtime))
		return p
	}
	write("raft.db.new-1234567890", old) // a crash's leftover: removed
	write("raft.db.new-42", old)         // also
	write("raft.db.new-777", time.Now()) // maybe a creation in progress: kept
	write("raft.db.new-12ab", old)       // not our pattern: kept
	write("other.db.new-1234", old)      // another store's: kept
	write("raft.db.new-", old)           // no random part: kept
	// Held by a bbolt in use (here, this process): kept.
	locked := write("raft.db.new-99", old)
	f, err := os.Open(locked)
	mustNoErr(t, err)
	defer f.Close()
	mustNoErr(t, syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB))

	names := func() []string {
		ents, err := os.ReadDir(dir)
		mustNoErr(t, err)
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	// Creating the store cleans up.
	s := openOpts(t, logstore.Options{Path: path})
	mustNoErr(t, s.Close())
	if got, want := names(), []string{"other.db.new-1234", "raft.db", "raft.db.new-", "raft.db.new-12ab", "raft.db.new-777", "raft.db.new-99"}; !slices.Equal(got, want) {
		t.Fatalf("after creating the store: %q, want %q", got, want)
	}

	// Read-only: nothing removed.
	mustNoErr(t, f.Close()) // the bbolt "using" raft.db.new-99 went away
	write("raft.db.new-5", old)
	ro := &bbolt.Options{ReadOnly: true, Timeout: time.Second}
	s = openOpts(t, logstore.Options{Path: path, BoltOptions: ro})
	mustNoErr(t, s.Close())
	if got := names(); !slices.Contains(got, "raft.db.new-5") || !slices.Contains(got, "raft.db.new-99") {
		t.Fatalf("a read-only open removed files: %q", got)
	}

	// Opening the existing store for writing cleans up too.
	s = openOpts(t, logstore.Options{Path: path})
	mustNoErr(t, s.Close())
	if got, want := names(), []string{"other.db.new-1234", "raft.db", "raft.db.new-", "raft.db.new-12ab", "raft.db.new-777"}; !slices.Equal(got, want) {
		t.Fatalf("after reopening the store: %q, want %q", got, want)
	}
}
