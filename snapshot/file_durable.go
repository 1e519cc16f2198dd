package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// syncDir fsyncs a directory so the entries in it (names created, renamed or
// removed) are durable. Windows cannot sync directories and needs not.
func syncDir(dir string, noSync bool) error {
	if noSync || runtime.GOOS == "windows" {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("snapshot: syncing %s: %w", dir, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("snapshot: syncing %s: %w", dir, err)
	}
	return nil
}

// mkdirAllDurable creates path and any missing parents, and fsyncs the parent
// of every directory it created, so that after a power failure the
// directories exist whatever the file system kept in its cache. Without it a
// power cut can lose a new store's whole snapshots directory, with every
// snapshot later written into it.
func mkdirAllDurable(path string, noSync bool) error {
	// The directories that do not exist yet, deepest first.
	var missing []string
	for p := filepath.Clean(path); ; {
		if _, err := os.Stat(p); err == nil {
			break
		} else if !os.IsNotExist(err) {
			return err
		}
		missing = append(missing, p)
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	if err := os.MkdirAll(path, dirMode); err != nil {
		return err
	}
	// Sync from the outermost new directory's parent inwards; the directory
	// itself (path) needs no sync for its own existence. Its parent is
	// synced even when path existed: an older version may have created it
	// without.
	if len(missing) == 0 {
		return syncDir(filepath.Dir(filepath.Clean(path)), noSync)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := syncDir(filepath.Dir(missing[i]), noSync); err != nil {
			return err
		}
	}
	return nil
}
