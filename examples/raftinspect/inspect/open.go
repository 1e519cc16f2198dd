package inspect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
)

// errDamaged is wrapped by every error that reports damage in the data
// directory (exit code 1).
var errDamaged = errors.New("damaged")

// errInUse reports a store locked by another process.
var errInUse = errors.New("is in use by another process (a running node?): stop it first, or inspect a copy")

// dataDir names the files of one node.
type dataDir struct {
	dir      string
	db       string // the bbolt file
	snapBase string // the snapshot store's base (snapshots in snapBase/snapshots)
}

// journalFiles returns the journal files next to the store that exist.
func (d dataDir) journalFiles() []string {
	var out []string
	for _, p := range []string{d.db + ".journal.0", d.db + ".journal.1"} {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// openStore opens the log store, read-only unless write. A crashed node's
// journal is replayed: read-only, into memory; read-write without a
// journal, into raft.db, and the journal is removed at Close. verifyAll
// decodes every record of raft.db at open.
func (d dataDir) openStore(write, verifyAll bool) (*logstore.BoltStore, error) {
	st, err := os.Stat(d.db)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%s: no log store here (use -db to name it)", d.db)
	case err != nil:
		return nil, err
	case st.IsDir():
		return nil, fmt.Errorf("%s is a directory, not a log store", d.db)
	}
	opts := logstore.Options{
		Path:         d.db,
		NoJournal:    write,
		VerifyOnOpen: verifyAll,
		BoltOptions:  &bbolt.Options{ReadOnly: !write, Timeout: openTimeout, FreelistType: bbolt.FreelistMapType},
		Logger:       hclog.New(&hclog.LoggerOptions{Name: "raftinspect", Output: os.Stderr, Level: hclog.Warn}),
	}
	s, err := logstore.New(opts)
	switch {
	case err == nil:
		return s, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%s %w", filepath.Base(d.db), errInUse)
	case errors.Is(err, raft.ErrCorrupt):
		return nil, fmt.Errorf("%w: %w", errDamaged, err)
	}
	return nil, err
}

// boltLastIndex returns the last index in raft.db's own "logs" bucket,
// without the journal: what a raft-boltdb reader would see. 0 if empty.
func (d dataDir) boltLastIndex() (uint64, error) {
	db, err := bbolt.Open(d.db, 0o600, &bbolt.Options{ReadOnly: true, Timeout: openTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return 0, fmt.Errorf("%s %w", filepath.Base(d.db), errInUse)
		}
		return 0, err
	}
	defer db.Close()
	var last uint64
	err = db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("logs"))
		if b == nil {
			return nil
		}
		if k, _ := b.Cursor().Last(); len(k) == 8 {
			last = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return last, err
}

// snapshotDir returns the directory holding the snapshots, and whether it
// exists.
func (d dataDir) snapshotDir() (string, bool) {
	p := filepath.Join(d.snapBase, "snapshots")
	st, err := os.Stat(p)
	return p, err == nil && st.IsDir()
}

// openSnapshots opens the snapshot store if its directory exists (nil, nil
// otherwise: opening would create it). Warnings about skipped snapshots go
// to warn.
func (d dataDir) openSnapshots(warn io.Writer) (*snapshot.FileSnapshotStore, error) {
	if _, ok := d.snapshotDir(); !ok {
		return nil, nil
	}
	return snapshot.NewFileSnapshotStoreWithOptions(snapshot.FileOptions{
		Base:     d.snapBase,
		Retain:   1 << 30, // List everything
		Logger:   hclog.New(&hclog.LoggerOptions{Name: "snapshots", Output: warn, Level: hclog.Warn}),
		ReadOnly: true, // nothing is written, not even a permission probe
	})
}
