package logstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.etcd.io/bbolt"
)

// This file creates, opens and removes the store's files. Every creation,
// rename and removal is made durable (the parent directory fsynced) before
// anything that depends on it: a journal file is in place before raft.db
// records it in use, raft.db is whole before it exists under its name, and
// the journal files are gone before raft.db stops recording them.

// journalPaths returns the two journal files of the store at path.
func journalPaths(path string) [2]string {
	return [2]string{path + ".journal.0", path + ".journal.1"}
}

// createBoltFile creates a new, empty store file at path: bbolt
// initialises it and the buckets are created under a temporary name in the
// same directory, the file is fsynced, and only then does it take its name
// (and the directory is fsynced). A failure or a crash at any point leaves
// no file at path, so nothing is ever mistaken for a new store. If another
// process created path meanwhile, that file is kept.
func createBoltFile(path string, mode os.FileMode, bopts *bbolt.Options) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".new-*")
	if err != nil {
		return fmt.Errorf("log store %s: create: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
			err = fmt.Errorf("log store %s: create: %w", path, err)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	o := *bopts
	o.ReadOnly = false
	db, err := bbolt.Open(tmp, mode, &o)
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketLogs, bucketConf} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if f, err = os.OpenFile(tmp, os.O_RDWR, 0); err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// NB: a link, not a rename, so that a file another process created
	// at path meanwhile is never replaced; rename only where the file
	// system cannot link.
	switch lerr := os.Link(tmp, path); {
	case lerr == nil:
		if err := os.Remove(tmp); err != nil {
			return err
		}
	case errors.Is(lerr, os.ErrExist):
		_ = os.Remove(tmp)
	default: // no hard links here (EPERM, ENOTSUP, ENOSYS...)
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

// staleTempAge is how old a leftover temporary file of createBoltFile must
// be before removeStaleTemps takes it: a creation takes milliseconds, so
// one this old is not being written by a process racing this open.
const staleTempAge = time.Minute

// isCreateTemp reports whether name is one of createBoltFile's temporary
// names for a store named base: base + ".new-" and os.CreateTemp's decimal
// random part, nothing else.
func isCreateTemp(base, name string) bool {
	rest, ok := strings.CutPrefix(name, base+".new-")
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// removeStaleTemps removes what a crash inside createBoltFile left beside
// the store at path: files named by isCreateTemp, regular, last modified
// staleTempAge ago or more, and not locked by a bbolt in another process
// (tempInUse). The caller holds the store's own file lock, open for
// writing. Failures are logged, never returned: the store is usable
// without the cleanup.
func removeStaleTemps(path string, logger hclog.Logger) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		logger.Warn("cannot list the store's directory for leftover temporary files", "dir", dir, "error", err)
		return
	}
	removed := false
	for _, e := range ents {
		if !e.Type().IsRegular() || !isCreateTemp(base, e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < staleTempAge || tempInUse(p) {
			continue
		}
		if err := os.Remove(p); err != nil {
			logger.Warn("cannot remove a leftover temporary file", "file", p, "error", err)
			continue
		}
		removed = true
		logger.Info("removed a temporary file left by an interrupted store creation", "file", p)
	}
	if removed {
		if err := syncDir(dir); err != nil {
			logger.Warn("removed leftover temporary files, but the directory sync failed", "error", err)
		}
	}
}

// openJournalFile opens the journal file at path, creating it (written
// with zeros to size bytes and fsynced, then renamed into place and the
// directory fsynced) unless it exists with that size.
func openJournalFile(path string, size int64, mode os.FileMode) (*os.File, error) {
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() == size {
		return os.OpenFile(path, os.O_RDWR, 0)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	fail := func(err error) (*os.File, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	// NB: zeros written, not fallocated: blocks that were written are
	// overwritten in place later, so fdatasync has no metadata to write.
	zeros := make([]byte, min(size, 1<<20))
	for off := int64(0); off < size; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off); err != nil {
			return fail(err)
		}
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return f, nil
}

// removeJournal removes the journal files and fsyncs the directory.
func removeJournal(paths [2]string) error {
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("journal: %w", err)
		}
		_ = os.Remove(p + ".tmp")
	}
	return syncDir(filepath.Dir(paths[0]))
}

// syncDir fsyncs a directory, so creations, renames and removals in it
// are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
